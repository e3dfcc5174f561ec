/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "act-plan.h"
#include "migrate.h"
#include "pressure.h"
#include "psi.h"

typedef struct Manager Manager;

/* What spmd did about one SPM node's pressure (act.c). Counters since spmd started following it. */
typedef struct NodeActivity {
        uint64_t reclaim_writes;        /* writes to memory.reclaim or nodeN/reclaim */
        uint64_t reclaim_short;         /* ... answered EAGAIN: less than asked was reclaimable */
        uint64_t reclaim_failed;        /* ... failed otherwise */
        uint64_t reclaim_bytes;         /* bytes asked for by the writes that succeeded */
        uint64_t reclaim_backoffs;      /* turns a cgroup was left alone for its memory PSI */
        uint64_t last_node_reclaim_usec;
        MigrateStats evacuated;         /* pages moved off the node, and those that stayed, by reason */
        uint64_t passes;                /* evacuation passes over the granted processes completed */
        uint64_t demoted_bytes;         /* moved onto the node by demotion (DAMON's count) */
        bool reclaiming, evacuating;    /* acting now (evacuating: also while its last job drains) */
        bool evac_in_flight;            /* a job for this node is with the evacuation thread */
        bool reclaim_in_flight;         /* ... with reclaim's thread */
        uint64_t reclaim_since_usec, evac_since_usec; /* when the current reclaim/evacuation began */
        uint64_t reclaim_writes_at_start, reclaim_bytes_at_start, reclaim_short_at_start;
        MigrateStats evac_at_start;     /* the counters when the current evacuation began */

        /* the evacuation pass under way */
        pid_t *pids;
        size_t n_pids, pid_index;
        MigrateCursor cursor;
        uint64_t pass_found;            /* pages found on the node in this pass */
        bool cold_pass;                 /* this pass moves only what DAMON saw cold; the next one the rest */
        DamonRange *cold_ranges;        /* ... those regions (owned; cold.ranges points here) */
        MigrateCold cold;
        uint64_t cold_moved;            /* pages moved by cold passes */
        uint64_t cold_at_start;         /* ... when the current evacuation began */
        bool order_logged;              /* how this evacuation orders its pages was said */
        uint64_t idle_until_usec;       /* the last pass found nothing: look again from then */
        RateBucket bucket;              /* MaxRate= budget, pages */
        int target;                     /* the node pages go to, -1 = none chosen */
        bool no_target_logged, no_source_logged, no_reclaim_source_logged; /* said once, until it changes */
} NodeActivity;

/* One SPM node's pressure as spmd follows it. */
typedef struct NodePressure {
        unsigned node;
        char *ratio_path;       /* CompressionRatioPath= of the [Device] behind it, or NULL */
        uint64_t physical;      /* PhysicalCapacity= of that [Device]; 0 = not compressed / unknown */
        uint64_t nominal;       /* its capacity before a balloon took any (pressure_nominal_size()) */
        uint64_t balloon;       /* bytes its balloon holds (nodeN/vmstat), 0 where not counted */
        int ratio_watch;        /* inotify watch of ratio_path's directory, -1 */
        char memdevs[4][32];    /* the CXL memdevs behind the node's dax device (region targets) */
        unsigned n_memdevs;
        uint64_t health_usec;   /* when their health was last read; 0 = never */
        PressureLevel health;   /* what it calls for */
        char health_why[256];   /* the reason, or what the devices report */
        sd_event_source *ratio_source; /* POLLPRI on a sysfs ratio_path (sysfs_notify) */
        bool ratio_failing;     /* the last read of ratio_path failed (logged once) */
        PressureState state;
        PressureSample last;
        char why[160];          /* what the last sample said */
        NodeActivity act;
} NodePressure;

/* Memory PSI of one granted cgroup (or of the system), with a kernel trigger at PsiWarn=. */
typedef struct PsiWatch {
        char *cgroup;           /* the cgroup directory; NULL for the system (/proc/pressure/memory) */
        char *path;             /* its memory.pressure */
        sd_event_source *trigger; /* EPOLLPRI on the trigger's fd; NULL when the kernel refused one */
        PsiHistory history;
        uint32_t share;         /* "some" stall over PsiWindow=, permyriad */
        bool valid;             /* the last read worked */
        NodeMask nodes;         /* the SPM nodes it is a granted cgroup of (empty: no longer wanted) */
} PsiWatch;

/* The PSI watch of a granted cgroup directory, or NULL. */
const PsiWatch *manager_psi_watch(const Manager *m, const char *cgroup);

/* Follow the SPM nodes now (after start, reload, device changes), keeping the levels of those that stay. */
void manager_setup_pressure(Manager *m);
void manager_free_pressure(Manager *m);
/* MemTotal and MemFree of a node (its meminfo), bytes; -errno, -EBADMSG when they are not there. */
int read_node_meminfo(unsigned node, uint64_t *size, uint64_t *free_bytes);
/* Sample every SPM node now: levels, their logs and signals. */
void manager_sample_pressure(Manager *m);
/* The node's pressure, or NULL when it is not an SPM node spmd follows. */
const NodePressure *manager_node_pressure(const Manager *m, unsigned node);
