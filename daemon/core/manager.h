/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bpf-guard.h"
#include "bpf-observe.h"
#include "conf.h"
#include "cpuset.h"
#include "devices.h"
#include "grant.h"
#include "loop-stats.h"
#include "topology.h"
#include "watch.h"
#include "worker.h"

typedef struct Manager {
        sd_event *event;
        sd_event_source *sigterm_source, *sigint_source, *sighup_source;

        char *config_path;
        bool config_required; /* --config given: a missing file is an error */
        Config *config;
        unsigned n_reloads;
        unsigned n_failed_reloads;

        int cmdline_log_level; /* --log-level; wins over [Daemon] LogLevel= */
        Topology *topology;
        DevicePlan plan;
        char **onlined;          /* dax devices spmd holds online as SPM nodes */
        unsigned n_device_problems;

        CpusetWall *wall;   /* NULL when Cpuset=no or unavailable */
        char *wall_reason;  /* why the cpuset layer is unavailable */
        bool wall_through_systemd; /* the walls on systemd's units go through it (cpuset-systemd.c) */
        int kernel_demotion_said;  /* the last state of the kernel's demotion route logged (manager.c) */
        HeldFile demotion_file;    /* /sys/kernel/mm/numa/demotion_enabled, read each second */
        sd_bus *systemd_bus;            /* to systemd, for its units' AllowedMemoryNodes= */

        BpfObserver *observer;          /* NULL when Observe=no or unavailable */
        char *observer_reason;
        bool observer_kills;            /* loaded with ViolationAction=kill */
        sd_event_source *observer_source;
        uint64_t n_violations;          /* events received since start */
        LogRateLimit violation_log;

        BpfGuard *guard;                /* NULL when off or unavailable */
        char *guard_reason;
        bool guard_cgroup, guard_movememory; /* which programs it was loaded with */
        sd_event_source *guard_source;
        uint64_t n_denials;
        LogRateLimit denial_log;

        char *struct_ops_state, *struct_ops_detail;   /* as last reported */
        /* the kernel BTF's answer, read once: it cannot change until the next boot, and reading
         * it takes 150-200 ms in the test guest, too long for every reload on the loop */
        int struct_ops_probe;           /* bpf_struct_ops_probe()'s result; 0 with no name = not read yet */
        char *struct_ops_name, *struct_ops_reason;
        char *native_spm_state, *native_spm_detail;

        int lock_fd;                    /* StateDirectory=/spmd.lock, held while spmd runs; -1 */

        struct Broker *broker;          /* the access broker (broker/); from manager_new() on */
        sd_bus *bus;                    /* the system bus (manager-bus.c); NULL when not on it */
        char *bus_reason;               /* why not (NULL: on it, or not tried yet) */
        sd_event_source *bus_retry;     /* the next attempt to (re)connect */
        uint64_t bus_retry_usec;        /* ... its delay, doubling to 30 s */

        Pressure *pressure;             /* the pressure subsystem (pressure/): sampling, reclaim,
                                         * evacuation, demotion */
        sd_event_source *trim_source;   /* manager_trim_memory_later() */

        /* A reload's work after the new configuration is in (manager.c): one step a dispatch, the
         * topology read in a thread, so the loop answers clients between the steps. */
        sd_event_source *reload_source; /* the next step, while a reload runs */
        unsigned reload_step;
        bool reload_again;              /* another reload came while this one ran: once more at its end */
        bool reload_devices_changed;    /* a device came or went in this reload */
        Worker *topology_worker;        /* reads the topology (manager_read_topology()) */
        struct TopologyWaiter *topology_waiters, *topology_next; /* for the read running, the next */
        size_t n_topology_waiters, n_topology_next;
        sd_bus_message **reload_callers; /* Reload calls, answered when the work is done */
        size_t n_reload_callers;
        uint64_t reload_wall_seq;       /* the reload's last wall write, which its end waits for */
        uint64_t reload_pass_usec;      /* when the reload's pass over the walls began */

        uint64_t start_usec;            /* CLOCK_MONOTONIC */
        LoopStats loop_stats;           /* time spent per dispatch, for GetStatus */
} Manager;

/* One enforcement layer as spmctl status and GetStatus show it. */
typedef struct LayerState {
        const char *name;       /* cpuset, observe, guard, struct_ops, native-spm, broker */
        const char *state;      /* active, off, unavailable */
        char detail[512];       /* what it does now, or why it is off or unavailable */
} LayerState;

#define MANAGER_N_LAYERS 6
void manager_layers(Manager *m, LayerState out[static MANAGER_N_LAYERS]);
int manager_refresh_topology(Manager *m);
/* Read the topology again in a thread, done(m, r, userdata) on the loop once it is in m->topology
 * (r < 0: it could not be read, the old one stays; -ECANCELED: spmd is stopping). A read that runs
 * already is followed by one more for who asks meanwhile. 1: done comes later; 0: there was no
 * thread, it was read here and done was called; -ENOMEM. */
typedef void (*TopologyReadDone)(Manager *m, int r, void *userdata);
typedef struct TopologyWaiter {
        TopologyReadDone done;
        void *userdata;
} TopologyWaiter;
int manager_read_topology(Manager *m, TopologyReadDone done, void *userdata);
/* Release dax device dev (or the device of [Device] Name=dev); -ENOENT when there is none. */
int manager_release_device(Manager *m, const char *dev, char **ret_message);
/* The SPM nodes now (online and claimed). */
void manager_spm_nodes(Manager *m, NodeMask *ret);
/* Keep the kernel's own demotion off while it reaches an SPM node (KernelDemotion=no); once a second
 * and whenever the SPM nodes change. */
void manager_check_kernel_demotion(Manager *m);
/* SPM nodes userspace cannot name: private nodes without user_numa (not in has_user_memory). */
void manager_unplaceable_nodes(Manager *m, NodeMask *ret);

int manager_new(const char *config_path, bool config_required, int cmdline_log_level, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                *m = manager_free(*m);
}

/* Load the configuration for the first time: errors are fatal here. */
int manager_load_config(Manager *m);
/* One spmd per host: take StateDirectory=/spmd.lock; -EBUSY (logged, naming the holder) when another
 * spmd holds it. */
int manager_take_lock(Manager *m);
/* Re-read the configuration; with errors the running one stays. Returns 0 or -EINVAL;
 * ret_error (may be NULL) gets the errors, one a line. On success the new configuration is in
 * force at once (what clients ask is judged by it); bringing the walls, BPF layers, devices and
 * grants in line follows in steps on the loop, and "Configuration reloaded" is logged and sent
 * to systemd (READY=1) when they are done. */
int manager_reload(Manager *m, char **ret_error);
/* The reload's steps run when nothing of the bus's (or any other source's) priority waits. */
#define MANAGER_RELOAD_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
/* A reload's steps are still running. */
bool manager_reloading(const Manager *m);
/* Answer the D-Bus call msg (a Reload) when the running reload's steps are done: at once when none
 * runs. */
int manager_reply_when_reloaded(Manager *m, sd_bus_message *msg);
int manager_startup(Manager *m);
/* Return memory malloc holds but does not use (after start-up and reloads), */
void manager_trim_memory(void);
/* ... or a second from now, once (after grants end: a burst of clients leaves freed memory behind). */
#define TRIM_DELAY_USEC (1000 * 1000)
void manager_trim_memory_later(Manager *m);
int manager_run(Manager *m);
/* Bring the cpuset wall and the BPF maps in line with the SPM nodes and grants;
 * spm: SPM nodes, or NULL for the current ones. */
int manager_apply_enforcement(Manager *m, const NodeMask *spm);
/* The same after a grant on cgroup changed came or went (NULL: several): quietly (the broker logs
 * the grant), without the census of the root cgroup, touching only what that grant affects. */
int manager_apply_grants(Manager *m, const char *changed);
/* Load, reload or drop the syscall observer to match Observe= and ViolationAction=. */
int manager_setup_observer(Manager *m);
/* Load, reload or drop the BPF-LSM guard to match CgroupGuard=, TaskMoveMemory=, TrustedExecutable=. */
int manager_setup_guard(Manager *m);
/* Claim and online the configured devices; release those no longer claimed. */
int manager_apply_devices(Manager *m);
