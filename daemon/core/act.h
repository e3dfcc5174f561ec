/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Acting on an SPM node's pressure, as [Reclaim] and [Evacuation] say:
 *
 * - reclaim: from Reclaim At= on, Step= bytes per write, at most one write per
 *   MinInterval= to each cgroup: the node itself where the kernel reclaims
 *   node by node (nodeN/reclaim), else memory.reclaim of every granted cgroup
 *   that holds the node;
 * - evacuation: from Evacuation At= on, the granted processes' pages on the
 *   node are moved (migrate.c) to the target node with the most free memory,
 *   in slices of at most SLICE_USEC so that the event loop (D-Bus, the wall)
 *   keeps answering, within MaxRate=.
 *
 * Each acts while both the node's level and what its latest sample calls for
 * (with the hysteresis) are at or above its At=: it stops as soon as the
 * metrics have cleared, without waiting out RecoverAfter=. Every start and
 * stop is logged with what was done.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct Manager Manager;
typedef struct NodePressure NodePressure;

/* The granted cgroups (directories under the cgroup2 mount) that hold node, outermost only: a grant
 * inside another grant's subtree is covered by it. NULL when there are none. */
char **manager_node_cgroups(Manager *m, unsigned node);
/* The processes of the cgroup at dir (a directory under the cgroup2 mount) and of its subtree, depth
 * levels down, appended to *pids (at most 65536 in all). */
#define CGROUP_PROCS_DEPTH 16
void cgroup_collect_procs(const char *dir, unsigned depth, pid_t **pids, size_t *n);
/* A sample was taken: start, go on with or stop acting. */
void manager_act_kick(Manager *m);
void manager_act_free(Manager *m);
/* The node stopped being followed (device released, reload): drop its pass. */
void node_activity_clear(NodePressure *np);
