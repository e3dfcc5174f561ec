/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Demotion ([Demotion]): the granted workloads' cold anonymous pages move from
 * DRAM to their SPM node, and with Promote=yes pages on an SPM node that turn
 * hot move back to DRAM. The kernel does the watching and the moving (DAMON,
 * damon.c): kdamond 0 monitors the physical memory of the nodes that are not
 * SPM nodes, with one migrate_cold scheme per granted cgroup (its memcg and
 * anonymous pages only: nothing of another workload is ever moved onto an SPM
 * node); kdamond 1 monitors the SPM nodes with one migrate_hot scheme.
 *
 * spmd decides which schemes are in force: a node's schemes are in while the
 * node is at ok with room to spare (its free share at least FreeWarn= plus
 * four times Hysteresis=; they come out below FreeWarn= plus twice
 * Hysteresis=), so that demotion never pushes an SPM node into warn. The
 * schemes are rebuilt when the grants or a node's state change; the kernel's
 * per-scheme counters give the bytes demoted per node and promoted.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct Pressure Pressure;

/* Called with every pressure sample and grant change: bring the schemes in line. */
void demotion_kick(Pressure *pr);
/* Stop the kdamonds and give DAMON back. */
void demotion_free(Pressure *pr);
/* "active", "off" or "unavailable", with what it does or why into detail. */
const char *demotion_state(Pressure *pr, char *detail, size_t len);
/* The physical ranges on the SPM nodes DAMON has seen untouched for a second or more, ascending, for
 * evacuation to move first. -ENODATA with why when DAMON is not spmd's or does not watch them. */
struct DamonRange;
int demotion_cold_ranges(Pressure *pr, struct DamonRange **ret, size_t *ret_n, const char **ret_why);
/* Bytes promoted off the SPM nodes since start. */
uint64_t demotion_promoted_bytes(const Pressure *pr);
