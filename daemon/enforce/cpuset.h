/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cpuset wall: every cgroup that holds no grant has the SPM nodes outside
 * its cpuset.mems; granted cgroups have them inside.
 *
 * cgroup v2 makes a cgroup's effective mems its own cpuset.mems intersected
 * with its parent's effective mems, so the wall only has to be written where
 * a parent still lets SPM nodes through: on the children of the root cgroup,
 * and on the other children of every cgroup above a grant. Everything below a
 * walled cgroup is walled by the kernel, whatever it writes into its own
 * cpuset.mems (a delegated subtree cannot widen it).
 *
 * cpuset-plan.c (policy/) decides, pure and unit-tested; cpuset.c reads and
 * writes cgroupfs and follows new cgroups with inotify.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "cpuset-plan.h"

/* ---- applying it ---- */

typedef struct CpusetWall CpusetWall;

typedef struct CpusetStats {
        unsigned walled;           /* cgroups holding the wall: below a cgroup SPM nodes reach, without a grant */
        unsigned granted;          /* grant cgroups present with their nodes */
        unsigned pending_grants;   /* grant cgroups that do not exist (yet) */
        unsigned errors;           /* writes that failed in the last pass */
        unsigned shut;             /* cgroups on a grant's path shut, as something below could not be walled */
        unsigned through_manager;  /* of the walls, those held by the service manager (systemd units) */
        unsigned new_cgroups;      /* cgroups handled as they appeared, since start */
        unsigned root_procs;       /* processes in the root cgroup: outside every wall */
        unsigned root_kthreads;    /* ... of which kernel threads */
} CpusetStats;

/* Called when a cgroup a grant names, or a new gateway, has appeared (to tell other layers its id). */
typedef void (*CpusetGrantAppeared)(const char *path, void *userdata);

/* Fails with a reason (unavailable) when root is not a cgroup2 mount with the cpuset controller. */
int cpuset_wall_new(sd_event *event, const char *root, CpusetWall **ret, char **ret_reason);
CpusetWall *cpuset_wall_free(CpusetWall *w);
static inline void cpuset_wall_freep(CpusetWall **w) {
        if (*w)
                *w = cpuset_wall_free(*w);
}

/*
 * Take new inputs (copied) and bring the whole tree in line with them: walls
 * first, bottom-up, then openings, so no cgroup sees an SPM node it should not
 * for even a moment. Returns the number of failed writes (each logged).
 */
int cpuset_wall_apply(CpusetWall *w, const CpusetInput *in);
/*
 * The same in slices: the pass starts here and goes on in a defer source at PRIORITY, a slice of
 * about 2 ms a dispatch, so the loop serves other work between them (a full pass over 400 cgroups
 * is tens of ms under emulation). Each cgroup is decided from the inputs of its moment: grants that
 * come or go meanwhile (cpuset_wall_apply_changed()) are in the rest of it. DONE(errors, USERDATA)
 * when it ends, also when a whole pass (cpuset_wall_apply()) replaced it; not when the wall is freed.
 * One caller at a time: a new call restarts the pass for the same caller. Returns 1 (DONE follows),
 * or the failed writes when it ran here at once (no event source), or <0.
 */
typedef void (*CpusetPassDone)(int errors, void *userdata);
int cpuset_wall_apply_sliced(CpusetWall *w, const CpusetInput *in, int64_t priority, CpusetPassDone done,
                             void *userdata);
/*
 * The same after grants on the cgroups in changed (paths) came or went, the
 * SPM nodes unchanged (otherwise it is cpuset_wall_apply()): only what those
 * grants can affect is read and written. The cgroup counts in the stats stay
 * those of the last full pass.
 */
int cpuset_wall_apply_changed(CpusetWall *w, const CpusetInput *in, const char *const *changed, size_t n_changed);
/* The stats of the last pass, and the processes in the root cgroup now. */
void cpuset_wall_stats(CpusetWall *w, CpusetStats *ret);
/* The SPM nodes the wall was last given (cpuset_wall_apply()); none for a wall that has not been. */
NodeMask cpuset_wall_spm(const CpusetWall *w);
void cpuset_wall_on_grant_appeared(CpusetWall *w, CpusetGrantAppeared cb, void *userdata);

/*
 * Writes that take SPM nodes from a cgroup migrate its pages inside the write, so while the loop
 * runs they go to a thread of the wall's own, in the order decided, with the writes that must
 * follow them (cpuset-plan.h); the others, and those of a new cgroup, are written at once.
 * cpuset_wall_writing(): the last write queued, 0 when none waits. After each batch, CB gets the
 * write up to which all are done (or dropped: one that would have opened a cgroup above a failed
 * one), and the cgroups whose writes failed or were not run, with those shut because of them (NULL:
 * none): a cgroup at, above or below one of them is not as decided.
 */
typedef void (*CpusetWritten)(uint64_t done, char *const *failed, void *userdata);
void cpuset_wall_on_written(CpusetWall *w, CpusetWritten cb, void *userdata);
uint64_t cpuset_wall_writing(const CpusetWall *w);
/* Are all writes up to SEQ done (or dropped)? */
bool cpuset_wall_written(const CpusetWall *w, uint64_t seq);
/* The last write queued to PATH, above it or below it (what decides what PATH reaches); 0: none waits. */
uint64_t cpuset_wall_writing_for(const CpusetWall *w, const char *path);

/*
 * A service manager that owns part of the tree (systemd): the cpuset.mems of a cgroup that is one of
 * its units (cgroup_systemd_unit()) is written at once, so the wall holds before its gateway opens,
 * and the same value is asked of the manager through set_mems, which would otherwise undo it the
 * next time it applies the unit's settings. set_mems only sends the request (the loop never waits
 * for the manager); its answer is the caller's to report. NULL set_mems: cgroupfs only.
 */
typedef int (*CpusetSetUnitMems)(const char *unit, const NodeMask *mems, void *userdata);
void cpuset_wall_set_manager(CpusetWall *w, CpusetSetUnitMems set_mems, void *userdata);
