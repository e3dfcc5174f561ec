/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "nodemask.h"

/*
 * For BPF loaders: store why a layer is unavailable in *ret_reason (if not
 * NULL) and return r, so that "return unavailable(ret_reason, r, ...)" both
 * fails and explains.
 */
int unavailable(char **ret_reason, int r, const char *fmt, ...) _printf_(3, 4);

struct bpf_map;
struct bpf_object_skeleton;

/* A hash map used as a set of u64 keys (cgroup ids): make it hold exactly ids[0..n). */
int bpf_map_sync_u64_set(struct bpf_map *map, const uint64_t *ids, size_t n);

/* What a set map was last made to hold, so that the next sync writes only the difference. */
typedef struct BpfU64Set {
        uint64_t *ids; /* sorted */
        size_t n;
        bool valid;    /* false: the map's content is unknown (new, or a write failed) */
} BpfU64Set;
void bpf_u64_set_clear(BpfU64Set *s);
/* As bpf_map_sync_u64_set(), but against what last says the map holds: a grant costs one write,
 * not one per grant. The first call (or one after a failure) does the full sync. */
int bpf_map_sync_u64_set_cached(struct bpf_map *map, BpfU64Set *last, const uint64_t *ids, size_t n);
/* What a node-mask map was last made to hold (valid false: unknown, as when new or a write failed). */
typedef struct BpfNodeMask {
        NodeMask mask;
        bool valid;
} BpfNodeMask;
/* An array map of SPMD_BPF_MASK_WORDS u64 words: make it hold the node mask m, writing only the
 * words that differ from what last says it holds (every word when last is NULL or not valid): a
 * grant, which changes no SPM node, costs no write instead of one per word. */
int bpf_map_set_node_mask(struct bpf_map *map, BpfNodeMask *last, const NodeMask *m);
/* A hash map used as a set of fixed-size keys (value: one byte): make it hold exactly keys[0..n). */
int bpf_map_sync_key_set(struct bpf_map *map, const void *keys, size_t n, size_t key_size);
/* The ids of a loaded skeleton's maps (internal ones included) and attached links, as
 * enum spmd_bpf_kind << 32 | id, at most max of them; returns how many. */
size_t bpf_skeleton_object_ids(struct bpf_object_skeleton *s, uint64_t *ids, size_t max);
/* The (kernel dev, inode) of dir, of every entry in it, and (ino 0) of its filesystem, appended to
 * keys[*n..max) as struct spmd_exe_key; -ENOENT if dir does not exist. */
int bpf_pin_dir_inode_keys(const char *dir, void *keys, size_t *n, size_t max);
/* A per-CPU array of u64 counters: counts[k] summed over CPUs, for k < n. */
int bpf_map_percpu_sums(struct bpf_map *map, uint64_t *counts, uint32_t n);


/*
 * Pinning, so that enforcement outlives spmd (a restart, a crash). Each BPF
 * object gets its own directory (e.g. /sys/fs/bpf/spmd/guard, mode 0700)
 * holding its maps by name and one link per attached program
 * ("link_<program>_<pid of the spmd that attached it>"; bpffs refuses dots, mode 0600).
 */

/* Create dir (and its parent) on a bpffs mount. Fails with a reason otherwise. */
int bpf_pin_dir_prepare(const char *dir, char **ret_reason);
/* Before load: maps pinned in dir are reused (their contents survive), the others get pinned there. */
int bpf_pin_maps_before_load(struct bpf_object_skeleton *s, const char *dir);
/* After attach: pin each attached program's link, then drop the pins of earlier links (theirs
 * detach only once ours are in place, so enforcement has no gap). Returns how many old links went. */
int bpf_pin_links_after_attach(struct bpf_object_skeleton *s, const char *dir);
/* Remove dir and every pin in it: the programs detach once spmd lets go of them too. */
int bpf_pin_remove(const char *dir);
/* Were maps there to reuse? (a pinned map file exists in dir) */
bool bpf_pin_dir_has_pins(const char *dir);
