/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodemask.h"
#include "spmd/observe.h"

typedef struct BpfObserver BpfObserver;
typedef void (*ViolationHandler)(const struct spmd_violation_event *e, void *userdata);

/*
 * Load and attach the syscall observer (bpf/observe.bpf.c). On failure
 * returns a negative errno and, in *ret_reason, why the layer is unavailable
 * (for "unavailable: <reason>" in status). handler is called for each event
 * from bpf_observer_consume().
 */
int bpf_observer_new(bool kill_on_violation, ViolationHandler handler, void *userdata, BpfObserver **ret,
                     char **ret_reason);
/*
 * The same, pinned in pin_dir (a directory on bpffs) so that it outlives the
 * process: maps already pinned there are reused (*ret_adopted = true), links
 * of an earlier spmd are replaced once the new ones are attached. Where fentry
 * is refused, the syscall tracepoints are used only with allow_tracepoints:
 * enabling any of them puts every syscall on the machine on the tracing slow
 * path (bpf_observer_new() allows them).
 */
int bpf_observer_new_pinned(bool kill_on_violation, const char *pin_dir, bool allow_tracepoints,
                            ViolationHandler handler, void *userdata, BpfObserver **ret, bool *ret_adopted,
                            char **ret_reason);
BpfObserver *bpf_observer_free(BpfObserver *o);
/* How it is attached: "fentry", or "syscall tracepoints" (then why not fentry). */
const char *bpf_observer_via(const BpfObserver *o, const char **ret_fentry_reason);
static inline void bpf_observer_freep(BpfObserver **o) {
        if (*o)
                *o = bpf_observer_free(*o);
}

int bpf_observer_set_spm_nodes(BpfObserver *o, const NodeMask *m);
/* The observer's maps and links (see bpf_skeleton_object_ids()), for the guard to protect. */
size_t bpf_observer_object_ids(BpfObserver *o, uint64_t *ids, size_t max);
int bpf_observer_set_granted(BpfObserver *o, uint64_t cgroup_id, bool granted);
/* Make the granted set exactly ids[0..n). */
int bpf_observer_sync_granted(BpfObserver *o, const uint64_t *ids, size_t n);
/* An fd that polls readable when events wait; then call bpf_observer_consume(). */
int bpf_observer_fd(BpfObserver *o);
int bpf_observer_consume(BpfObserver *o);
/* Attempts counted per enum spmd_syscall, summed over CPUs. */
int bpf_observer_counts(BpfObserver *o, uint64_t counts[SPMD_SYS_MAX]);

const char *spmd_syscall_to_string(unsigned sc);
