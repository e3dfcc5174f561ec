/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The decide half of demotion (demote-plan.c): a grant's room, the mode, MaxRate= shares, the scheme. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "demote-plan.h"
#include "macro.h"

#define MiB (1ull << 20)

static void test_room_and_mode(void **state) {
        static const struct {
                const char *what;
                uint64_t used, max_bytes, dram;
                uint64_t room;
                LimitMode mode;
        } t[] = {
                { "no MaxBytes=", 100 * MiB, UINT64_MAX, 500 * MiB, UINT64_MAX, LIMIT_NONE },
                { "all it holds in DRAM fits: DAMON", 10 * MiB, 100 * MiB, 50 * MiB, 88 * MiB, LIMIT_DAMON },
                { "exactly fits: DAMON", 10 * MiB, 100 * MiB, 88 * MiB, 88 * MiB, LIMIT_DAMON },
                { "more in DRAM than the room: spmd moves it", 10 * MiB, 100 * MiB, 88 * MiB + 1, 88 * MiB,
                  LIMIT_SPMD },
                { "DRAM use unknown: spmd, to be safe", 10 * MiB, 100 * MiB, UINT64_MAX, 88 * MiB, LIMIT_SPMD },
                /* a grant whose cgroup crossed MaxBytes= between two samples (its own allocations):
                 * no room, nothing moves */
                { "the limit crossed within one sample", 120 * MiB, 100 * MiB, 1 * MiB, 0, LIMIT_FULL },
                { "at the limit", 100 * MiB, 100 * MiB, 0, 0, LIMIT_FULL },
                { "within the margin of it", 98 * MiB, 100 * MiB, 0, 0, LIMIT_FULL },
                { "less room than DAMON's smallest region", 98 * MiB - 4095, 100 * MiB, 0,
                  4095, LIMIT_FULL },
                { "exactly DAMON's smallest region", 98 * MiB - 4096, 100 * MiB, 4096, 4096, LIMIT_DAMON },
                { "usage unreadable: no room", UINT64_MAX, 100 * MiB, 0, 0, LIMIT_FULL },
                { "a MaxBytes= smaller than the margin", 0, 1 * MiB, 0, 0, LIMIT_FULL },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t room = demote_grant_room(t[i].used, t[i].max_bytes);
                LimitMode mode = demote_limit_mode(room, t[i].dram);

                print_message("%s: room %llu, mode %d\n", t[i].what, (unsigned long long) room, (int) mode);
                assert_int_equal(room, t[i].room);
                assert_int_equal(mode, t[i].mode);
        }
}

static void test_share_and_age(void **state) {
        (void) state;
        assert_int_equal(demote_quota_share(UINT64_MAX, 3), 0);  /* no limit */
        assert_int_equal(demote_quota_share(32 * MiB, 0), 0);    /* no scheme */
        assert_int_equal(demote_quota_share(32 * MiB, 4), 8 * MiB);
        assert_int_equal(demote_quota_share(10000, 4), QUOTA_MIN); /* never below DAMON's smallest region */
        assert_int_equal(demote_cold_age(0), 1);                 /* at least one interval */
        assert_int_equal(demote_cold_age(5 * 1000000), 50);
        assert_int_equal(demote_cold_age(150000), 1);
        assert_int_equal(demote_cold_age(UINT64_MAX), UINT32_MAX);
}

static void test_scheme(void **state) {
        static const struct {
                LimitMode mode;
                uint32_t min_age;
        } t[] = {
                { LIMIT_NONE, 50 },
                { LIMIT_DAMON, 50 },
                { LIMIT_SPMD, UINT32_MAX }, /* in place, matching no region */
                { LIMIT_FULL, UINT32_MAX },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                DamonScheme s = demote_scheme("/jobs/a", 2, 50, 8 * MiB, t[i].mode);

                assert_string_equal(s.action, "migrate_cold");
                assert_int_equal(s.target_nid, 2);
                assert_string_equal(s.memcg_path, "/jobs/a");
                assert_true(s.anon_only);
                assert_int_equal(s.young, 0); /* only pages not accessed since DAMON last looked */
                assert_int_equal(s.quota_bytes, 8 * MiB);
                assert_int_equal(s.min_age, t[i].min_age);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_room_and_mode),
                cmocka_unit_test(test_share_and_age),
                cmocka_unit_test(test_scheme),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
