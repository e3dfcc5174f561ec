/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The decide half of reclaim and evacuation (act-plan.c): tables of inputs and the decision each must get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act-plan.h"
#include "macro.h"

#define MS 1000ull
#define SEC (1000 * MS)
#define PAGE 4096ull

static void test_wanted(void **state) {
        static const struct {
                PressureLevel at, held, now;
                bool want;
        } t[] = {
                { PRESSURE_WARN, PRESSURE_OK, PRESSURE_OK, false },
                { PRESSURE_WARN, PRESSURE_WARN, PRESSURE_WARN, true },
                { PRESSURE_WARN, PRESSURE_CRITICAL, PRESSURE_WARN, true },
                /* the metrics cleared warn; the held level waits for RecoverAfter=: the action stops now */
                { PRESSURE_WARN, PRESSURE_WARN, PRESSURE_OK, false },
                /* a sample above the level before it is held (hysteresis): not yet */
                { PRESSURE_CRITICAL, PRESSURE_WARN, PRESSURE_CRITICAL, false },
                { PRESSURE_CRITICAL, PRESSURE_CRITICAL, PRESSURE_CRITICAL, true },
                { PRESSURE_NEVER, PRESSURE_CRITICAL, PRESSURE_CRITICAL, false },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(act_wanted(t[i].at, t[i].held, t[i].now), t[i].want);
}

static void test_act_phase(void **state) {
        static const struct {
                bool wanted, running, in_flight;
                ActPhase want;
        } t[] = {
                { false, false, false, ACT_IDLE },
                { true, false, false, ACT_START },
                { true, true, false, ACT_STEP },
                { true, true, true, ACT_STEP },   /* the step itself waits for the thread */
                { false, true, false, ACT_STOP },
                /* the metrics cleared while the job that cleared them runs: not stopped yet */
                { false, true, true, ACT_DRAIN },
                /* a job left from before a reload cleared the node's state: a new evacuation starts */
                { true, false, true, ACT_START },
                { false, false, true, ACT_IDLE },
        };
        bool running;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(act_phase(t[i].wanted, t[i].running, t[i].in_flight), t[i].want);

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(act_phase_running(t[i].want), t[i].want != ACT_IDLE && t[i].want != ACT_STOP);

        /* the round that TEST-12 saw stop with 0 pages moved: a job in flight, the pages it moves clear
         * the metrics, the loop samples them before the job's results are in. The stop waits for them. */
        running = true;
        assert_int_equal(act_phase(true, running, true), ACT_STEP);
        assert_int_equal(act_phase(false, running, true), ACT_DRAIN);
        running = true; /* act.c keeps it running while it drains */
        assert_int_equal(act_phase(false, running, false), ACT_STOP);
        /* and wanted again before the job ends: it goes on, with no second start */
        assert_int_equal(act_phase(true, running, true), ACT_STEP);
}

static void test_reclaim_choose(void **state) {
        static const struct {
                const char *what;
                ReclaimPace pace;
                uint64_t now;
                unsigned psi_warn;
                ReclaimChoice want;
                uint64_t due;
        } t[] = {
                { "never asked", { 0 }, 5 * SEC, 0, RECLAIM_NOW, 5 * SEC + 100 * MS },
                { "asked 50 ms ago", { .last_usec = 5 * SEC - 50 * MS }, 5 * SEC, 0, RECLAIM_NOT_YET, 5 * SEC + 50 * MS },
                { "asked exactly MinInterval= ago", { .last_usec = 5 * SEC - 100 * MS }, 5 * SEC, 0, RECLAIM_NOW,
                  5 * SEC + 100 * MS },
                { "stalling at PsiWarn=", { .psi_valid = true, .psi_share = 1000 }, 5 * SEC, 1000, RECLAIM_BACK_OFF,
                  5 * SEC + 100 * MS },
                { "stalling just under PsiWarn=", { .psi_valid = true, .psi_share = 999 }, 5 * SEC, 1000, RECLAIM_NOW,
                  5 * SEC + 100 * MS },
                { "stalling, but PSI not used", { .psi_valid = true, .psi_share = 9000 }, 5 * SEC, 0, RECLAIM_NOW,
                  5 * SEC + 100 * MS },
                { "a PSI share not known yet", { .psi_valid = false, .psi_share = 9000 }, 5 * SEC, 1000, RECLAIM_NOW,
                  5 * SEC + 100 * MS },
                { "stalling but too soon: the interval first", { .last_usec = 5 * SEC - 10 * MS, .psi_valid = true,
                  .psi_share = 9000 }, 5 * SEC, 1000, RECLAIM_NOT_YET, 5 * SEC + 90 * MS },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t due = 0;
                ReclaimChoice c = reclaim_choose(&t[i].pace, t[i].now, 100 * MS, t[i].psi_warn, &due);

                print_message("%s: choice %d, due %llu\n", t[i].what, (int) c, (unsigned long long) due);
                assert_int_equal(c, t[i].want);
                assert_int_equal(due, t[i].due);
        }
}

static void test_choose_target(void **state) {
        static const struct {
                const char *what;
                NodeFree c[4];
                size_t n;
                int want;
        } t[] = {
                { "none", { { 0 } }, 0, -1 },
                { "the one with the most free", { { 0, 8ull << 30, 2ull << 30 }, { 2, 8ull << 30, 3ull << 30 } }, 2, 2 },
                /* a node that emptied while the round ran: below FreeCritical=10% it is not chosen */
                { "the freest is under FreeCritical=", { { 0, 8ull << 30, 700ull << 20 }, { 2, 1ull << 30, 500ull << 20 } }, 2,
                  2 },
                { "every one under FreeCritical=", { { 0, 8ull << 30, 100ull << 20 }, { 2, 8ull << 30, 0 } }, 2, -1 },
                { "exactly at FreeCritical=", { { 3, 1000 * PAGE, 100 * PAGE } }, 1, 3 },
                { "an unreadable node is skipped", { { 0, 0, 0 }, { 1, 8ull << 30, 1ull << 30 } }, 2, 1 },
                { "a torn read (free above size) is skipped", { { 0, 1ull << 30, 2ull << 30 }, { 1, 8ull << 30, 1ull << 30 } }, 2,
                  1 },
                { "a tie goes to the first", { { 4, 8ull << 30, 1ull << 30 }, { 5, 8ull << 30, 1ull << 30 } }, 2, 4 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                int got = evacuate_choose_target(t[i].c, t[i].n, 1000);
                print_message("%s: node %d\n", t[i].what, got);
                assert_int_equal(got, t[i].want);
        }
}

static void test_need_and_budget(void **state) {
        static const struct {
                const char *what;
                uint64_t need_bytes, moved;
                uint32_t batch;
                uint64_t rate;
                double tokens;
                uint64_t want;
        } t[] = {
                /* the ratio alone holds the level: a batch at a time until it clears */
                { "all needed: a batch", UINT64_MAX, 0, 1024, UINT64_MAX, 0, 1024 },
                { "all needed, within MaxRate=", UINT64_MAX, 0, 1024, 1ull << 20, 100.5, 100 },
                /* less than one 2 MiB huge page still to clear: exactly that many base pages
                 * (migrate.c counts a huge page whole, and may overshoot by the rest of one) */
                { "a budget smaller than one huge page", 300 * PAGE, 0, 1024, UINT64_MAX, 0, 301 },
                { "what is left of the need", 4096 * PAGE, 4000, 1024, UINT64_MAX, 0, 97 },
                { "the need met", 4096 * PAGE, 4097, 1024, UINT64_MAX, 0, 0 },
                { "a need beyond one call: WHOLE_MAX_PAGES", 1ull << 40, 0, 1024, UINT64_MAX, 0, WHOLE_MAX_PAGES },
                { "an empty bucket", 4096 * PAGE, 0, 1024, 1ull << 20, 0.7, 0 },
                { "a bucket smaller than the need", 4096 * PAGE, 0, 1024, 1ull << 20, 12.9, 12 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                RateBucket b = { .tokens = t[i].tokens, .usec = 1 };
                uint64_t need = evacuate_need_pages(t[i].need_bytes, PAGE);
                uint64_t got = evacuate_budget(need, t[i].moved, t[i].batch, t[i].rate, &b);

                print_message("%s: %llu page(s)\n", t[i].what, (unsigned long long) got);
                assert_int_equal(got, t[i].want);
        }
}

/* MaxRate= as a bucket: filled at the rate, a second's worth at most, the wait until the next page. */
static void test_rate_bucket(void **state) {
        RateBucket b = { .usec = 10 * SEC }; /* empty, as evacuation starts */
        uint64_t wait;

        (void) state;
        /* 1 MiB/s = 256 pages a second: the first page after 1/256 s */
        wait = rate_bucket_fill(&b, 10 * SEC, 1ull << 20, PAGE);
        assert_int_equal(wait, 3907);
        assert_int_equal(rate_bucket_fill(&b, 10 * SEC + 3907, 1ull << 20, PAGE), 0);
        /* after a long quiet spell it holds one second's worth, no more */
        assert_int_equal(rate_bucket_fill(&b, 100 * SEC, 1ull << 20, PAGE), 0);
        assert_true(b.tokens == 256.0);
        /* no limit: never a wait, the bucket untouched */
        b = (RateBucket){};
        assert_int_equal(rate_bucket_fill(&b, 5 * SEC, UINT64_MAX, PAGE), 0);
        /* never filled: full */
        assert_int_equal(rate_bucket_fill(&b, 5 * SEC, 1ull << 20, PAGE), 0);
        assert_true(b.tokens == 256.0);

        /* MaxRate= below a page a second (1K: a page every 4 s) still moves pages: the bucket
         * holds at least one page, so it can ever reach one */
        b = (RateBucket){ .usec = 10 * SEC };
        wait = rate_bucket_fill(&b, 10 * SEC, 1024, PAGE);
        assert_int_equal(wait, 4 * SEC + 1);
        assert_int_equal(rate_bucket_fill(&b, 14 * SEC + 1, 1024, PAGE), 0);
        assert_int_equal(evacuate_budget(UINT64_MAX, 0, 1024, 1024, &b), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wanted),
                cmocka_unit_test(test_act_phase),
                cmocka_unit_test(test_reclaim_choose),
                cmocka_unit_test(test_choose_target),
                cmocka_unit_test(test_need_and_budget),
                cmocka_unit_test(test_rate_bucket),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
