/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * How long the event loop spends in one dispatch, over the last minute: the longest and the 99th
 * percentile, for GetStatus. A client waits at least that long for an answer while the loop is busy
 * elsewhere. Pure: the caller passes the clock.
 *
 * Each second of the window has a histogram of dispatch times in bins a quarter of an octave
 * wide (each bin's upper bound is 2^(1/4), about 19%, above its lower), plus its exact longest
 * dispatch: the maximum is exact, the p99 is the upper bound of its bin (never an underestimate).
 */
#include <stdint.h>

#define LOOP_STATS_WINDOW_SEC 60
#define LOOP_STATS_BINS 112 /* 1 us * 2^(111/4) is about 224 s: beyond any watchdog */

typedef struct LoopSecond {
        uint64_t sec; /* which second (usec / 1e6) this slot holds; 0 with n == 0: unused */
        uint32_t n;
        uint64_t max_usec;
        uint32_t bins[LOOP_STATS_BINS];
} LoopSecond;

typedef struct LoopStats {
        LoopSecond s[LOOP_STATS_WINDOW_SEC];
} LoopStats;

typedef struct LoopLatency {
        uint64_t dispatches; /* in the window */
        uint64_t max_usec;
        uint64_t p99_usec;
} LoopLatency;

/* Record one dispatch that took USEC, ending at monotonic time NOW_USEC. */
void loop_stats_add(LoopStats *s, uint64_t now_usec, uint64_t usec);

/* The dispatches of the LOOP_STATS_WINDOW_SEC seconds up to NOW_USEC; all zero without any. */
LoopLatency loop_stats_get(const LoopStats *s, uint64_t now_usec);

/* The bin USEC falls in, and the largest time that bin holds (for tests and the p99). */
unsigned loop_stats_bin(uint64_t usec);
uint64_t loop_stats_bin_upper(unsigned bin);
