/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodemask.h"
#include "spmd/guard.h"

typedef struct BpfGuard BpfGuard;
typedef void (*GuardHandler)(const struct spmd_guard_event *e, void *userdata);

/*
 * Load and attach bpf/guard.bpf.c: the cgroupfs guard (lsm/file_open)
 * and/or the migration guard (lsm/task_movememory). On failure returns a
 * negative errno and in *ret_reason why the layer is unavailable.
 */
int bpf_guard_new(bool cgroup_guard, bool task_movememory, GuardHandler handler, void *userdata, BpfGuard **ret,
                  char **ret_reason);
/* The same, pinned in pin_dir: see bpf_observer_new_pinned(). */
int bpf_guard_new_pinned(bool cgroup_guard, bool task_movememory, const char *pin_dir, GuardHandler handler,
                         void *userdata, BpfGuard **ret, bool *ret_adopted, char **ret_reason);
BpfGuard *bpf_guard_free(BpfGuard *g);
static inline void bpf_guard_freep(BpfGuard **g) {
        if (*g)
                *g = bpf_guard_free(*g);
}

/* Make the granted set exactly these cgroup ids, and the SPM nodes spm. */
int bpf_guard_sync(BpfGuard *g, const uint64_t *granted, size_t n_granted, const NodeMask *spm);
/* Protect exactly these bpffs inodes (spmd's pins; ino 0: their filesystem) and BPF objects
 * (enum spmd_bpf_kind << 32 | id) from untrusted tasks. */
int bpf_guard_protect(BpfGuard *g, const struct spmd_exe_key *inodes, size_t n_inodes, const uint64_t *ids,
                      size_t n_ids);
/* The guard's own maps and links (see bpf_skeleton_object_ids()). */
size_t bpf_guard_object_ids(BpfGuard *g, uint64_t *ids, size_t max);
/* What enum spmd_guard_pin_op op did to the pins, for messages. */
const char *spmd_guard_pin_op_to_string(int op);
/* Trust these executables (absolute paths); each path that cannot be found is logged and skipped. */
int bpf_guard_set_trusted(BpfGuard *g, char *const *paths);
int bpf_guard_fd(BpfGuard *g);
int bpf_guard_consume(BpfGuard *g);
int bpf_guard_counts(BpfGuard *g, uint64_t counts[SPMD_GUARD_MAX]);

const char *spmd_guard_what_to_string(unsigned what);
