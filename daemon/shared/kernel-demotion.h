/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel's own demotion. With /sys/kernel/mm/numa/demotion_enabled set, reclaim moves the pages
 * of any cgroup from a node to the nodes of a lower memory tier, and the kernels spmd runs on ignore
 * the cgroup's cpuset.mems in doing so (demote_folio_list(): "Demotion ignores all cpuset and
 * mempolicy settings"; a fix was posted to linux-mm in December 2025). An SPM node in a lower tier
 * than another node with memory, as dax kmem places device memory, would receive walled cgroups'
 * pages: a way onto it that the cpuset wall does not close.
 */
#include <stdbool.h>

#include "fileio.h"
#include "nodemask.h"
#include "topology.h"

/* The first SPM node that some node with memory outside SPM demotes to: in a lower memory tier
 * (a larger memory_tierN) than one of them, in no known tier (the kernel's older demotion follows
 * distances), or not in T at all (onlined since T was read). -1: none. */
int demotion_target_spm(const Topology *t, const NodeMask *spm);

/* ROOT prefixes /sys (tests); "" for the machine's. -ENOENT without the attribute (no demotion).
 * held (may be NULL) keeps the attribute open between reads (fileio.h): it is read each second. */
int kernel_demotion_get(const char *root, HeldFile *held, bool *ret);
int kernel_demotion_set(const char *root, bool on);
