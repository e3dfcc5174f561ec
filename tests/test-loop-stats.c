/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event loop's dispatch times over the last minute: bins, the window, max and p99. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "loop-stats.h"

#define SEC 1000000ull

/* Every time falls in the bin whose bounds hold it, and the bins rise by about 19% each. */
static void test_bins(void **state) {
        static const uint64_t times[] = { 0, 1, 2, 3, 5, 99, 100, 101, 1000, 4095, 4096, 4097, 1000000, 30 * SEC };

        (void) state;
        for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
                unsigned b = loop_stats_bin(times[i]);
                assert_true(loop_stats_bin_upper(b) >= times[i]);
                if (b > 0)
                        assert_true(loop_stats_bin_upper(b - 1) < times[i]);
        }
        for (unsigned b = 40; b + 1 < LOOP_STATS_BINS; b++) { /* from 1 ms: whole microseconds round below */
                double step = (double) loop_stats_bin_upper(b + 1) / (double) loop_stats_bin_upper(b);
                assert_true(step > 1.15 && step < 1.23);
        }
        /* beyond the last bin: the last bin */
        assert_int_equal(loop_stats_bin(UINT64_MAX / 2), LOOP_STATS_BINS - 1);
}

typedef struct Case {
        const char *what;
        unsigned n_fast;     /* dispatches of fast_usec */
        uint64_t fast_usec;
        unsigned n_slow;     /* then dispatches of slow_usec */
        uint64_t slow_usec;
        uint64_t max_usec;   /* expected */
        uint64_t p99_lo, p99_hi; /* expected p99 range (the bin's width) */
} Case;

static const Case cases[] = {
        { "nothing", 0, 0, 0, 0, 0, 0, 0 },
        { "one dispatch: p99 is it", 1, 500, 0, 0, 500, 500, 500 },
        { "all alike", 1000, 200, 0, 0, 200, 200, 240 },
        /* 1% slow of 1000: the 990th is fast, so p99 is the fast bin's */
        { "1% slow: p99 stays fast", 990, 100, 10, 250000, 250000, 100, 120 },
        /* 2% slow: the 990th is slow */
        { "2% slow: p99 is slow", 980, 100, 20, 250000, 250000, 250000, 250000 },
        /* a reload of 0.21 s among 200 pings of 1 ms */
        { "one long reload", 200, 1000, 1, 210000, 210000, 1000, 1200 },
};

static void test_table(void **state) {
        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                const Case *c = &cases[i];
                LoopStats *s = calloc(1, sizeof *s);
                uint64_t t = 100 * SEC;
                LoopLatency l;

                assert_non_null(s);
                for (unsigned k = 0; k < c->n_fast; k++)
                        loop_stats_add(s, t + k, c->fast_usec);
                for (unsigned k = 0; k < c->n_slow; k++)
                        loop_stats_add(s, t + SEC / 2 + k, c->slow_usec);
                l = loop_stats_get(s, t + SEC);
                print_message("%s: %llu dispatches, max %llu, p99 %llu\n", c->what, (unsigned long long) l.dispatches,
                              (unsigned long long) l.max_usec, (unsigned long long) l.p99_usec);
                assert_int_equal(l.dispatches, c->n_fast + c->n_slow);
                assert_int_equal(l.max_usec, c->max_usec);
                assert_in_range(l.p99_usec, c->p99_lo, c->p99_hi);
                free(s);
        }
}

/* A slow dispatch counts for a minute, then leaves the window; slots are reused second by second. */
static void test_window(void **state) {
        LoopStats *s = calloc(1, sizeof *s);
        LoopLatency l;

        (void) state;
        assert_non_null(s);
        loop_stats_add(s, 10 * SEC, 300000);
        for (uint64_t sec = 10; sec < 70; sec++)
                loop_stats_add(s, sec * SEC + 1, 50);
        l = loop_stats_get(s, 69 * SEC + 2);
        assert_int_equal(l.max_usec, 300000); /* 10 s is within the minute up to 69 s */
        assert_int_equal(l.dispatches, 60 + 1);
        /* at 70 s the second 10 has left the window, and its slot takes second 70 */
        l = loop_stats_get(s, 70 * SEC);
        assert_int_equal(l.max_usec, 50);
        assert_int_equal(l.dispatches, 59);
        loop_stats_add(s, 70 * SEC + 1, 70);
        l = loop_stats_get(s, 70 * SEC + 2);
        assert_int_equal(l.max_usec, 70);
        assert_int_equal(l.dispatches, 60);
        /* read long after: nothing in the window */
        l = loop_stats_get(s, 1000 * SEC);
        assert_int_equal(l.dispatches, 0);
        assert_int_equal(l.max_usec, 0);
        assert_int_equal(l.p99_usec, 0);
        /* a clock before the slots' seconds (it cannot go back, but nothing may count twice) */
        l = loop_stats_get(s, 5 * SEC);
        assert_int_equal(l.dispatches, 0);
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bins),
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_window),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
