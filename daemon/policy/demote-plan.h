/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The decide half of demotion (demote.c carries it out through DAMON and move_pages): how a
 * granted cgroup with a MaxBytes= is demoted, the room its grant leaves, each scheme's share of
 * MaxRate=, and the scheme DAMON gets. Pure functions over plain inputs.
 */
#include <stddef.h>
#include <stdint.h>

#include "damon.h"

#define DEMOTE_AGGR_US 100000 /* DAMON's aggregation interval: ages count these */
/* A grant's MaxBytes= less this is what demotion fills: memory.numa_stat may lag by up to about a
 * MiB of counts the kernel has not flushed yet, and where /proc/kpageflags cannot be read a
 * transparent huge page (x86-64: 2 MiB) moves whole on a budget that counted one page of it. */
#define LIMIT_MARGIN (2ULL << 20)
#define QUOTA_MIN 4096 /* DAMON's smallest region; less room than this is none */

/*
 * How a cgroup whose D-Bus grant has a MaxBytes= is demoted. DAMON's quota counts the memory a
 * scheme goes over, everyone's, not the pages it moves, so it cannot hold one cgroup to a byte
 * count: while everything the cgroup holds in DRAM fits in the room its grant leaves, DAMON moves
 * its pages as for any cgroup; once it does not, the scheme stays in place without matching a
 * region, and spmd moves the cgroup's cold anonymous pages itself (move_pages(2), pages in the
 * regions a stat scheme of kdamond 0 sees cold), counting them against the room.
 */
typedef enum LimitMode {
        LIMIT_NONE,  /* no grant limits it */
        LIMIT_DAMON, /* all it holds in DRAM fits: DAMON's scheme */
        LIMIT_SPMD,  /* spmd moves its cold pages, within the room */
        LIMIT_FULL,  /* no room: nothing moves */
} LimitMode;

/* Bytes a grant of MAX_BYTES leaves for demotion when its cgroup holds USED on the grant's nodes
 * (UINT64_MAX: unknown, so none). MAX_BYTES UINT64_MAX: no limit (UINT64_MAX). */
uint64_t demote_grant_room(uint64_t used, uint64_t max_bytes);

/* The mode for a cgroup with ROOM left and DRAM bytes in DRAM (UINT64_MAX: unknown). */
LimitMode demote_limit_mode(uint64_t room, uint64_t dram);

/* Each of N schemes' share of MAX_RATE bytes a second (0: no limit; never below QUOTA_MIN). */
uint64_t demote_quota_share(uint64_t max_rate, size_t n);

/* ColdAge= in DAMON's aggregation intervals, at least one. */
uint32_t demote_cold_age(uint64_t cold_age_usec);

/* The scheme that demotes the anonymous pages of CGROUP (path from the cgroup2 root) untouched for
 * COLD_AGE intervals to NODE. A cgroup spmd moves itself or that has no room keeps its place
 * matching no region (DAMON matches schemes by position when it takes a new setup). */
DamonScheme demote_scheme(const char *cgroup, unsigned node, uint32_t cold_age, uint64_t share, LimitMode mode);
