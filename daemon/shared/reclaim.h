/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Proactive reclaim: asking the kernel to reclaim memory of a cgroup
 * (memory.reclaim, cgroup v2) or of one NUMA node
 * (/sys/devices/system/node/nodeN/reclaim, kernel >= 6.17), optionally with
 * swappiness= (a kernel that does not take it answers EINVAL; the caller
 * falls back and remembers).
 *
 * Both files take "BYTES [swappiness=N]" and answer the write with success
 * once that much was reclaimed, or EAGAIN when less was reclaimable.
 * No logging above debug level.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* Write to cgroup_dir/memory.reclaim; swappiness < 0: the kernel's own. 0, -EAGAIN, -errno. */
int reclaim_cgroup(const char *cgroup_dir, uint64_t bytes, int swappiness);

/* Does this kernel reclaim node by node (nodeN/reclaim)? */
bool reclaim_node_supported(unsigned node);
/* Write to /sys/devices/system/node/nodeN/reclaim. 0, -EAGAIN, -errno. */
int reclaim_node(unsigned node, uint64_t bytes, int swappiness);

/* ---- the writes, off the event loop (a write returns once the kernel reclaimed) ---- */

typedef struct ReclaimTarget {
        char *cgroup_dir; /* NULL: the node's own nodeN/reclaim */
        int result;       /* 0, -EAGAIN (less was reclaimable), -errno */
} ReclaimTarget;

typedef struct ReclaimJob {
        WorkerJob base;          /* first: a WorkerJob * is a ReclaimJob * */
        unsigned node;           /* the SPM node it serves (and the one nodeN/reclaim is) */
        uint64_t bytes;          /* each write asks for this much */
        int swappiness;          /* < 0: the kernel's own */
        bool swappiness_refused; /* the kernel answered EINVAL to swappiness=: written without it */
        size_t n;
        ReclaimTarget targets[];
} ReclaimJob;

/* A job of one write to each of CGROUP_DIRS (copied; NULL: one write to NODE's nodeN/reclaim). NULL:
 * out of memory. A write refused for swappiness= is made again without it, and so are the rest. */
ReclaimJob *reclaim_job_new(unsigned node, uint64_t bytes, int swappiness, char *const *cgroup_dirs);
void reclaim_job_free(ReclaimJob *job);
