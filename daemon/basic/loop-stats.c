/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "loop-stats.h"

#define USEC_PER_SEC 1000000ull

unsigned loop_stats_bin(uint64_t usec) {
        unsigned b;

        if (usec <= 1)
                return 0;
        /* the smallest b with 2^(b/4) >= usec: bin b holds (2^((b-1)/4), 2^(b/4)] */
        b = (unsigned) fmin(ceil(4.0 * log2((double) usec)), LOOP_STATS_BINS - 1);
        /* floating point may land one off at exact powers: settle on the integer bounds */
        while (b > 0 && loop_stats_bin_upper(b - 1) >= usec)
                b--;
        while (b < LOOP_STATS_BINS - 1 && loop_stats_bin_upper(b) < usec)
                b++;
        return b;
}

uint64_t loop_stats_bin_upper(unsigned bin) {
        assert(bin < LOOP_STATS_BINS);
        return (uint64_t) ceil(exp2(bin / 4.0));
}

void loop_stats_add(LoopStats *s, uint64_t now_usec, uint64_t usec) {
        uint64_t sec = now_usec / USEC_PER_SEC;
        LoopSecond *x;

        assert(s);
        x = &s->s[sec % LOOP_STATS_WINDOW_SEC];
        if (x->sec != sec || x->n == 0) {
                memset(x, 0, sizeof *x);
                x->sec = sec;
        }
        x->n++;
        if (usec > x->max_usec)
                x->max_usec = usec;
        x->bins[loop_stats_bin(usec)]++;
}

LoopLatency loop_stats_get(const LoopStats *s, uint64_t now_usec) {
        uint64_t sec = now_usec / USEC_PER_SEC, bins[LOOP_STATS_BINS] = {}, seen = 0, rank;
        LoopLatency l = {};

        assert(s);
        for (unsigned i = 0; i < LOOP_STATS_WINDOW_SEC; i++) {
                const LoopSecond *x = &s->s[i];

                /* a slot from more than a window ago (or from the future: a clock that jumped) */
                if (x->n == 0 || x->sec > sec || sec - x->sec >= LOOP_STATS_WINDOW_SEC)
                        continue;
                l.dispatches += x->n;
                if (x->max_usec > l.max_usec)
                        l.max_usec = x->max_usec;
                for (unsigned b = 0; b < LOOP_STATS_BINS; b++)
                        bins[b] += x->bins[b];
        }
        if (l.dispatches == 0)
                return l;
        /* the smallest time at or under which 99% of the dispatches fall (nearest rank) */
        rank = (l.dispatches * 99 + 99) / 100;
        for (unsigned b = 0; b < LOOP_STATS_BINS; b++) {
                seen += bins[b];
                if (seen >= rank) {
                        l.p99_usec = loop_stats_bin_upper(b);
                        break;
                }
        }
        /* the bin's bound may lie above what was seen */
        if (l.p99_usec > l.max_usec)
                l.p99_usec = l.max_usec;
        return l;
}
