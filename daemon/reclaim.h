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
#include <stdint.h>

/* Write to cgroup_dir/memory.reclaim; swappiness < 0: the kernel's own. 0, -EAGAIN, -errno. */
int reclaim_cgroup(const char *cgroup_dir, uint64_t bytes, int swappiness);

/* Does this kernel reclaim node by node (nodeN/reclaim)? */
bool reclaim_node_supported(unsigned node);
/* Write to /sys/devices/system/node/nodeN/reclaim. 0, -EAGAIN, -errno. */
int reclaim_node(unsigned node, uint64_t bytes, int swappiness);
