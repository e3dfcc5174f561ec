/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "bpf-guard.h"
#include "bpf-observe.h"
#include "conf.h"
#include "cpuset.h"
#include "devices.h"
#include "topology.h"

/* At most a burst of log lines a second for one kind of event; the rest are counted. */
typedef struct LogRateLimit {
        uint64_t window_start_usec;
        unsigned in_window, suppressed;
} LogRateLimit;

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
} Manager;

int manager_new(const char *config_path, bool config_required, int cmdline_log_level, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                *m = manager_free(*m);
}

/* Load the configuration for the first time: errors are fatal here. */
int manager_load_config(Manager *m);
/* Re-read the configuration; with errors the running one stays. Returns 0 or -EINVAL. */
int manager_reload(Manager *m);
int manager_startup(Manager *m);
int manager_run(Manager *m);
/* Bring the cpuset wall and the BPF maps in line with the SPM nodes and grants;
 * spm: SPM nodes, or NULL for the current ones. */
int manager_apply_enforcement(Manager *m, const NodeMask *spm);
/* Load, reload or drop the syscall observer to match Observe= and ViolationAction=. */
int manager_setup_observer(Manager *m);
/* Load, reload or drop the BPF-LSM guard to match CgroupGuard=, TaskMoveMemory=, TrustedExecutable=. */
int manager_setup_guard(Manager *m);
/* Claim and online the configured devices; release those no longer claimed. */
int manager_apply_devices(Manager *m);
