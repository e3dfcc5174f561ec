/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmd's D-Bus names, shared by the daemon, spmctl and the tests: the bus
 * name, paths and interfaces, and the keys of GetStatus and of each
 * NodeActivity dictionary, so that the two sides cannot spell them
 * differently. The API itself is documented in docs/dbus-api.md.
 */
#ifndef SPMD_BUS_H
#define SPMD_BUS_H

#define SPMD_BUS_NAME              "org.spmd1"
#define SPMD_BUS_PATH              "/org/spmd1"
#define SPMD_BUS_MANAGER_INTERFACE "org.spmd1.Manager"
#define SPMD_BUS_GRANT_INTERFACE   "org.spmd1.Grant"
#define SPMD_BUS_GRANT_PATH_PREFIX "/org/spmd1/grant/"

/* GetStatus() a{sv} keys */
#define SPMD_STATUS_VERSION                    "Version"
#define SPMD_STATUS_CONFIG_PATH                "ConfigPath"
#define SPMD_STATUS_RELOADS                    "Reloads"
#define SPMD_STATUS_FAILED_RELOADS             "FailedReloads"
#define SPMD_STATUS_UPTIME_USEC                "UptimeUSec"
#define SPMD_STATUS_DEVICES_ONLINE             "DevicesOnline"
#define SPMD_STATUS_DEVICE_PROBLEMS            "DeviceProblems"
#define SPMD_STATUS_GRANTS                     "Grants"
#define SPMD_STATUS_STANDING_GRANTS            "StandingGrants"
#define SPMD_STATUS_VIOLATIONS                 "Violations"
#define SPMD_STATUS_DENIALS                    "Denials"
#define SPMD_STATUS_WALLED_CGROUPS             "WalledCgroups"
#define SPMD_STATUS_ROOT_CGROUP_PROCESSES      "RootCgroupProcesses"
#define SPMD_STATUS_ROOT_CGROUP_KERNEL_THREADS "RootCgroupKernelThreads"
#define SPMD_STATUS_LOOP_DISPATCHES            "LoopDispatches"
#define SPMD_STATUS_LOOP_LATENCY_MAX_USEC      "LoopLatencyMaxUSec"
#define SPMD_STATUS_LOOP_LATENCY_P99_USEC      "LoopLatencyP99USec"
#define SPMD_STATUS_SPM_NODES                  "SpmNodes"
#define SPMD_STATUS_NODE_PRESSURE              "NodePressure"
#define SPMD_STATUS_NODE_ACTIVITY              "NodeActivity"
#define SPMD_STATUS_VIOLATIONS_BY_SYSCALL      "ViolationsBySyscall"
#define SPMD_STATUS_DENIALS_BY_KIND            "DenialsByKind"
#define SPMD_STATUS_MEMORY_PSI                 "MemoryPSI"
#define SPMD_STATUS_DEMOTION                   "Demotion"
#define SPMD_STATUS_ENFORCEMENT_LAYERS         "EnforcementLayers"

/* NodeActivity: one a{sv} per SPM node */
#define SPMD_NODE_NODE                         "node"
#define SPMD_NODE_LEVEL                        "level"
#define SPMD_NODE_REASON                       "reason"
#define SPMD_NODE_SIZE                         "size"
#define SPMD_NODE_FREE                         "free"
#define SPMD_NODE_RATIO                        "ratio"
#define SPMD_NODE_PHYSICAL                     "physical"
#define SPMD_NODE_PHYSICAL_FREE                "physical_free"
#define SPMD_NODE_CAPACITY_LOST                "capacity_lost"
#define SPMD_NODE_BALLOON                      "balloon"
#define SPMD_NODE_HEALTH                       "health"
#define SPMD_NODE_PSI                          "psi"
#define SPMD_NODE_ACTING                       "acting"
#define SPMD_NODE_RECLAIM_WRITES               "reclaim_writes"
#define SPMD_NODE_RECLAIM_SHORT                "reclaim_short"
#define SPMD_NODE_RECLAIM_FAILED               "reclaim_failed"
#define SPMD_NODE_RECLAIM_BYTES                "reclaim_bytes"
#define SPMD_NODE_RECLAIM_BACKOFFS             "reclaim_backoffs"
#define SPMD_NODE_EVACUATED_PAGES              "evacuated_pages"
#define SPMD_NODE_EVACUATE_BUSY                "evacuate_busy"
#define SPMD_NODE_EVACUATE_NO_MEMORY           "evacuate_no_memory"
#define SPMD_NODE_EVACUATE_FAILED              "evacuate_failed"
#define SPMD_NODE_EVACUATION_PASSES            "evacuation_passes"
#define SPMD_NODE_EVACUATION_TARGET            "evacuation_target"
#define SPMD_NODE_EVACUATED_COLD_PAGES         "evacuated_cold_pages"
#define SPMD_NODE_DEMOTED_BYTES                "demoted_bytes"

#endif
