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

typedef struct Pressure Pressure;
typedef struct NodePressure NodePressure;

/* The granted cgroups (directories under the cgroup2 mount) that hold node, outermost only: a grant
 * inside another grant's subtree is covered by it. NULL when there are none. */
char **pressure_node_cgroups(Pressure *pr, unsigned node);
/* A sample was taken: start, go on with or stop acting. */
void act_kick(Pressure *pr);
void act_free(Pressure *pr);
/* The node stopped being followed (device released, reload): drop its pass. */
void node_activity_clear(NodePressure *np);
