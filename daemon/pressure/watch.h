/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "act-plan.h"
#include "conf.h"
#include "devices.h"
#include "grant.h"
#include "migrate.h"
#include "pressure.h"
#include "psi.h"
#include "topology.h"

/*
 * The pressure subsystem: watch.c samples the SPM nodes (free memory, compression ratio, CXL health,
 * PSI) into levels, act.c reclaims and evacuates, demote.c runs DAMON demotion and promotion. It
 * owns its state (Pressure); what it needs of the daemon it reads through PressureInputs, pointers
 * to the manager's current config, topology, device plan and grants (always the current ones,
 * across reloads), and what it has to say goes up through PressureOps, which the manager wires.
 */
typedef struct Pressure Pressure;

typedef struct PressureInputs {
        Config *const *config;
        Topology *const *topology;   /* may point to NULL: no topology read yet */
        const DevicePlan *plan;
        Grant **const *grants;       /* the broker's grants */
        const size_t *n_grants;
} PressureInputs;

typedef struct PressureOps {
        /* a node's level changed (before: its old level) */
        void (*level_changed)(void *userdata, unsigned node, PressureLevel level, PressureLevel before,
                              const char *why);
        /* every node was sampled (once a second while SPM nodes are followed) */
        void (*sampled)(void *userdata);
} PressureOps;

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
        bool pass_listed;               /* the pass's processes just came in from the evacuation
                                         * thread (none: nothing to evacuate) */
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
        HeldFile meminfo;       /* its nodeN/meminfo, read each second */
        char *ratio_path;       /* CompressionRatioPath= of the [Device] behind it, or NULL */
        uint64_t physical;      /* PhysicalCapacity= of that [Device]; 0 = not compressed / unknown */
        uint64_t nominal;       /* its capacity before a balloon took any (pressure_nominal_size()) */
        uint64_t balloon;       /* bytes its balloon holds (nodeN/vmstat), 0 where not counted */
        int balloon_counted;    /* the kernel counts it: 1, 0 not known yet, -1 no (vmstat not read again) */
        sd_event_source *ratio_watch; /* inotify (sd-event's) on ratio_path's directory */
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
        HeldFile file;          /* path, when read on the loop (psi_read_now()) */
        sd_event_source *trigger; /* EPOLLPRI on the trigger's fd; NULL when the kernel refused one */
        PsiHistory history;
        uint32_t share;         /* "some" stall over PsiWindow=, permyriad */
        bool valid;             /* the last read worked */
        bool arming;            /* its trigger is being opened in the thread */
        bool arm_failed;        /* the kernel refused one: it is read on every sample only */
        NodeMask nodes;         /* the SPM nodes it is a granted cgroup of (empty: no longer wanted) */
} PsiWatch;

struct ReclaimMark;
struct Demotion;
struct Worker;

struct Pressure {
        sd_event *event;
        PressureInputs in;
        PressureOps ops;
        void *userdata;

        NodePressure *nodes;            /* one per SPM node followed */
        size_t n_nodes;
        sd_event_source *pressure_source;
        PsiWatch *psi;                  /* memory PSI of the granted cgroups holding SPM nodes */
        size_t n_psi;
        PsiWatch *system_psi;           /* /proc/pressure/memory; NULL without PSI */
        char *psi_reason;               /* why PSI is not followed, NULL when it is */
        bool psi_armed;                 /* the triggers were made with these (PsiWarn=, PsiWindow=): */
        uint32_t psi_armed_warn;
        uint64_t psi_armed_window;
        struct Worker *psi_worker;      /* reads the memory.pressure files (watch.c); NULL until the first */
        struct Worker *psi_triggers;    /* opens and closes triggers (the kernel waits); NULL until the first */
        int *psi_closing;               /* dropped triggers' fds, for its next batch */
        size_t n_psi_closing;
        unsigned psi_gen;               /* one up when all watches are dropped (new PsiWarn=, PsiWindow=) */

        /* reclaim and evacuation (act.c) */
        sd_event_source *act_source;
        struct ReclaimMark *reclaim_marks; /* when each cgroup was last asked to reclaim */
        size_t n_reclaim_marks;
        bool swappiness_refused;        /* the kernel answered EINVAL to swappiness= */
        struct Worker *evac_worker;     /* evacuation's thread; NULL until the first job */
        struct Worker *reclaim_worker;  /* reclaim's writes' thread; NULL until the first job */

        struct Demotion *demotion;      /* [Demotion] through DAMON (demote.c); NULL until wanted */
};

static inline const Config *pr_config(const Pressure *pr) {
        return *pr->in.config;
}
static inline const Topology *pr_topology(const Pressure *pr) {
        return *pr->in.topology;
}
static inline Grant *const *pr_grants(const Pressure *pr) {
        return *pr->in.grants;
}
static inline size_t pr_n_grants(const Pressure *pr) {
        return *pr->in.n_grants;
}

int pressure_new(sd_event *event, const PressureInputs *in, const PressureOps *ops, void *userdata,
                 Pressure **ret);
/* Stops reclaim, evacuation (their threads) and demotion (gives DAMON back), then frees it all. */
Pressure *pressure_free(Pressure *pr);

/* The SPM nodes: those of the device plan on the current topology. */
void pressure_spm_nodes(const Pressure *pr, NodeMask *ret);

/* The PSI watch of a granted cgroup directory, or NULL. */
const PsiWatch *pressure_psi_watch(const Pressure *pr, const char *cgroup);

/* Follow the SPM nodes now (after start, reload, device changes), keeping the levels of those that stay. */
void pressure_follow(Pressure *pr);
/* MemTotal and MemFree of a node (its meminfo), bytes; -errno, -EBADMSG when they are not there. */
int read_node_meminfo(unsigned node, uint64_t *size, uint64_t *free_bytes);
/* Sample every SPM node now: levels, their logs and signals. */
void pressure_sample(Pressure *pr);
/* The node's pressure, or NULL when it is not an SPM node spmd follows. */
NodePressure *pressure_node(Pressure *pr, unsigned node);
