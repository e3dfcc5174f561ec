/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pressure level of an SPM node: thresholds, hysteresis, recovery delay, no flapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "pressure.h"
#include "topology.h"

#define S 1000000ull
#define GIB (1ull << 30)

static Config *cfg(void) {
        Config *c = config_new();
        const char *t = "[Pressure]\nFreeWarn=10%\nFreeCritical=5%\nRatioWarn=2.0\nRatioCritical=1.5\n"
                        "Hysteresis=2%\nRecoverAfter=10s\n";
        ConfDiags d = {};

        assert_non_null(c);
        assert_int_equal(config_parse_buffer(c, "t.conf", t, strlen(t), &d), 0);
        conf_diags_clear(&d);
        return c;
}

static PressureSample freepct(double pct) {
        return (PressureSample){ .size = 100 * GIB, .free = (uint64_t) (pct * GIB) };
}

static void test_levels(void **state) {
        Config *c = cfg();
        PressureSample s;
        char why[128];

        (void) state;
        s = freepct(50);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        s = freepct(9.9);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "free 9.9% < FreeWarn=10.0%");
        s = freepct(4);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        /* the ratio alone, plenty free */
        s = (PressureSample){ .size = 100 * GIB, .free = 80 * GIB, .ratio = 1.9 };
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "compression ratio 1.90 <= RatioWarn=2.00");
        s.ratio = 1.5;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        /* hysteresis: at warn, 11% free is not yet good (10% + 2); 12.5% is */
        s = freepct(11);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_WARN, why, sizeof why), PRESSURE_WARN);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        s = freepct(12.5);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_WARN, why, sizeof why), PRESSURE_OK);
        /* no source, no level: size unknown */
        s = (PressureSample){};
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        config_free(c);
}

static void test_rise_at_once_recover_after_delay(void **state) {
        Config *c = cfg();
        PressureState st = {};
        PressureSample s;

        (void) state;
        s = freepct(3);
        assert_true(pressure_step(&st, c, &s, 1 * S, NULL, 0));
        assert_int_equal(st.level, PRESSURE_CRITICAL);
        s = freepct(50);
        assert_false(pressure_step(&st, c, &s, 2 * S, NULL, 0));   /* better, waiting */
        assert_false(pressure_step(&st, c, &s, 11 * S, NULL, 0));  /* 9 s */
        assert_true(pressure_step(&st, c, &s, 12 * S, NULL, 0));   /* 10 s */
        assert_int_equal(st.level, PRESSURE_OK);
        config_free(c);
}

static void test_steps_down_only_as_far_as_the_worst_seen(void **state) {
        Config *c = cfg();
        PressureState st = {};
        PressureSample ok = freepct(50), warn = freepct(8), crit = freepct(2);

        (void) state;
        assert_true(pressure_step(&st, c, &crit, 0, NULL, 0));
        assert_false(pressure_step(&st, c, &ok, 1 * S, NULL, 0));
        assert_false(pressure_step(&st, c, &warn, 5 * S, NULL, 0));
        assert_false(pressure_step(&st, c, &ok, 9 * S, NULL, 0));
        assert_true(pressure_step(&st, c, &ok, 11 * S, NULL, 0));
        assert_int_equal(st.level, PRESSURE_WARN); /* warn was seen within the window */
        assert_false(pressure_step(&st, c, &ok, 12 * S, NULL, 0));
        assert_true(pressure_step(&st, c, &ok, 22 * S, NULL, 0));
        assert_int_equal(st.level, PRESSURE_OK);
        config_free(c);
}

/* A source that jitters around a threshold changes the level once, not on every sample. */
static void test_no_flapping(void **state) {
        Config *c = cfg();
        PressureState st = {};
        unsigned changes = 0;

        (void) state;
        for (unsigned i = 0; i < 600; i++) { /* ten minutes, a sample a second: 9.5% .. 11.5% free */
                PressureSample s = freepct(i % 2 ? 9.5 : 11.5);
                changes += pressure_step(&st, c, &s, (uint64_t) i * S, NULL, 0);
        }
        assert_int_equal(changes, 1);
        assert_int_equal(st.level, PRESSURE_WARN);
        /* the ratio, jittering 1.98 .. 2.03 around RatioWarn=2.0 (2% hysteresis: 2.04 clears it) */
        st = (PressureState){};
        changes = 0;
        for (unsigned i = 0; i < 600; i++) {
                PressureSample s = { .size = GIB, .free = GIB / 2, .ratio = i % 2 ? 1.98 : 2.03 };
                changes += pressure_step(&st, c, &s, (uint64_t) i * S, NULL, 0);
        }
        assert_int_equal(changes, 1);
        config_free(c);
}

/* A compressed node with a known physical capacity: the media left is a free-memory metric of its own,
 * and it is the one evacuation and reclaim can move. */
static void test_physical_capacity(void **state) {
        Config *c = config_new();
        const char *t = "[Pressure]\nFreeWarn=40%\nFreeCritical=20%\nHysteresis=2%\n";
        ConfDiags d = {};
        char why[128];
        /* 1 GiB node, 600 MiB in use, 512 MiB of media */
        PressureSample s = { .size = GIB, .free = GIB - 600 * (GIB >> 10), .physical = 512 * (GIB >> 10) };

        (void) state;
        assert_non_null(c);
        assert_int_equal(config_parse_buffer(c, "t.conf", t, strlen(t), &d), 0);
        conf_diags_clear(&d);
        /* ratio 3: 200 MiB of media used, 60.9% left: more than the 41.4% logical free, which decides */
        s.ratio = 3.0;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        assert_string_equal(why, "free 41.4%, compression ratio 3.00");
        /* ratio 1.6: 375 MiB of media used, 26.75% left: lower than logical free, so it decides */
        s.ratio = 1.6;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "physical free 26.8% < FreeWarn=40.0%");
        s.ratio = 1.0; /* more in use than the media holds: nothing left */
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        assert_string_equal(why, "physical free 0.0% < FreeCritical=20.0%");
        /* evacuating 300 MiB at ratio 1.6: 300 MiB in use, 187.5 MiB of media, 63.4% left */
        s.free = GIB - 300 * (GIB >> 10);
        s.ratio = 1.6;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_CRITICAL, why, sizeof why), PRESSURE_OK);
        assert_string_equal(why, "physical free 63.4%, compression ratio 1.60");
        /* ... at ratio 1.0 the same 300 MiB leave 41.4%: below FreeWarn= + Hysteresis= at warn, not at ok */
        s.ratio = 1.0;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_WARN, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "physical free 41.4% has not cleared FreeWarn=40.0%");
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        /* what evacuation must move to bring it below critical (20% + 2% of the media left): at ratio 1.0
         * 300 MiB in use leave 212 MiB, more than the 112.6 MiB wanted: nothing; at 600 MiB in use the
         * media is overcommitted: 600 - (512 - 112.64) = 200.64 MiB */
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL), 0);
        s.free = GIB - 600 * (GIB >> 10);
        assert_true(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL) / (GIB >> 10) == 200);
        /* ... and below warn (42%): 600 - (512 - 215.04) = 303 MiB */
        assert_true(pressure_bytes_to_clear(c, &s, PRESSURE_WARN) / (GIB >> 10) == 303);
        /* without a ratio the capacity says nothing */
        s.ratio = 0;
        s.free = GIB / 10;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        assert_string_equal(why, "free 10.0% < FreeCritical=20.0%");
        /* logical: 10% free, 22% wanted: 12% of 1 GiB, 122.9 MiB */
        assert_true(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL) / (GIB >> 10) == 122);
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_OK), 0);
        config_free(c);
}

/* A level the ratio holds cannot be cleared by moving pages. */
static void test_bytes_to_clear_ratio(void **state) {
        Config *c = cfg();
        PressureSample s = { .size = 100 * GIB, .free = 80 * GIB, .ratio = 1.4 };

        (void) state;
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL), UINT64_MAX);
        s.ratio = 1.8; /* critical cleared by the ratio, free is plenty */
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL), 0);
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_WARN), UINT64_MAX);
        config_free(c);
}

/* Memory PSI of the granted cgroups: a level of its own, with the hysteresis below the threshold. */
static void test_psi(void **state) {
        Config *c = config_new();
        const char *t = "[Pressure]\nFreeWarn=10%\nFreeCritical=5%\nPsiWarn=10%\nPsiCritical=40%\nHysteresis=2%\n";
        ConfDiags d = {};
        char why[128];
        PressureSample s = { .size = GIB, .free = GIB / 2, .psi_valid = true, .psi = 1200 };

        (void) state;
        assert_int_equal(config_parse_buffer(c, "t.conf", t, strlen(t), &d), 0);
        conf_diags_clear(&d);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "memory PSI 12.0% >= PsiWarn=10.0%");
        s.psi = 4000;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        /* at warn, 9% has not cleared 10% - 2%; 7.9% has */
        s.psi = 900;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_WARN, why, sizeof why), PRESSURE_WARN);
        assert_string_equal(why, "memory PSI 9.0% has not cleared PsiWarn=10.0%");
        s.psi = 790;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_WARN, why, sizeof why), PRESSURE_OK);
        /* no granted cgroup: no PSI, whatever the number says */
        s.psi_valid = false;
        s.psi = 9000;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);
        /* a level PSI holds: no byte count clears it */
        s.psi_valid = true;
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL), UINT64_MAX);
        config_free(c);
}

/* The CXL device's health: media not normal holds the node at critical, whatever else says. */
static void test_health(void **state) {
        Config *c = cfg();
        char why[128];
        PressureSample s = { .size = GIB, .free = GIB / 2, .health = PRESSURE_CRITICAL,
                             .health_why = "CXL mem0: media not normal" };
        PressureState st = {};

        (void) state;
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_CRITICAL);
        assert_string_equal(why, "CXL mem0: media not normal");
        assert_int_equal(pressure_bytes_to_clear(c, &s, PRESSURE_CRITICAL), UINT64_MAX);
        s.health = PRESSURE_WARN;
        s.health_why = "CXL mem0: 93% of its life used";
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        assert_true(pressure_step(&st, c, &s, 0, why, sizeof why));
        s.health = PRESSURE_OK;
        assert_false(pressure_step(&st, c, &s, 1 * S, why, sizeof why)); /* RecoverAfter= still applies */
        assert_true(pressure_step(&st, c, &s, 11 * S, why, sizeof why));
        assert_int_equal(st.level, PRESSURE_OK);
        config_free(c);
}

/* A CRAM node (tests/fixtures/cram): its MemTotal shrinks as the kernel's balloon grows; the
 * capacity lost counts as used. */
static PressureSample cram_sample(const char *tree, bool use_balloon, uint64_t *nominal) {
        const char *fixtures = getenv("SPMD_FIXTURES");
        char root[PATH_MAX];
        PressureSample s = {};
        uint64_t balloon = 0;

        assert_non_null(fixtures);
        snprintf(root, sizeof root, "%s/cram/%s", fixtures, tree);
        /* 1: the kernel counts the balloon (spmd reads vmstat again), 0: it does not (never again) */
        assert_int_equal(topology_node_memory_at(root, 1, NULL, &s.size, &s.free, &balloon),
                         strncmp(tree, "no-counter", 10) == 0 ? 0 : 1);
        *nominal = pressure_nominal_size(*nominal, s.size, use_balloon ? balloon : 0);
        s.nominal = *nominal;
        return s;
}

static void test_cram_capacity_lost(void **state) {
        Config *c = cfg();
        PressureSample s;
        uint64_t nominal = 0;
        char why[160];

        (void) state;
        /* the counters as read */
        s = cram_sample("balloon-6G", true, &nominal);
        assert_int_equal(s.size, 10 * GIB);
        assert_int_equal(nominal, 16 * GIB);
        assert_int_equal(topology_node_memory_at("/nonexistent", 1, NULL, &s.size, &s.free, NULL), -ENOENT);

        /* a fresh reading at each balloon size, the kernel counting the balloon's pages */
        const struct {
                const char *tree;
                PressureLevel want;
                const char *why;
        } cases[] = {
                { "balloon-0", PRESSURE_OK, "free 50.0%" },
                { "balloon-6G", PRESSURE_WARN, "free of the 16.0G before the balloon (6.0G lost) 7.5% < FreeWarn=10.0%" },
                { "balloon-9G", PRESSURE_CRITICAL,
                  "free of the 16.0G before the balloon (9.0G lost) 3.8% < FreeCritical=5.0%" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                nominal = 0;
                s = cram_sample(cases[i].tree, true, &nominal);
                assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), cases[i].want);
                if (!strstr(why, cases[i].why))
                        fail_msg("%s: '%s', want '%s'", cases[i].tree, why, cases[i].why);
        }

        /* without a balloon counter: the most MemTotal seen since the node came is the capacity */
        nominal = 0;
        (void) cram_sample("balloon-0", false, &nominal);
        s = cram_sample("no-counter-6G", true, &nominal);
        assert_int_equal(nominal, 16 * GIB);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_WARN);
        /* ... and none seen before: MemTotal is all it knows (free 12% of it) */
        nominal = 0;
        s = cram_sample("no-counter-6G", true, &nominal);
        assert_int_equal(pressure_level_for(c, &s, PRESSURE_OK, why, sizeof why), PRESSURE_OK);

        /* what must leave the node to clear warn by the hysteresis: 12% of 16G, less what is free */
        nominal = 0;
        s = cram_sample("balloon-6G", true, &nominal);
        uint64_t need = pressure_bytes_to_clear(c, &s, PRESSURE_WARN);
        uint64_t want = (uint64_t) (0.12 * (double) (16 * GIB)) - s.free;
        assert_true(need + 4096 >= want && need <= want + 4096);
        config_free(c);
}

/* The per-CPU free lists: read from zoneinfo, counted only where they decide something. */
static void test_pcp_pages(void **state) {
        const char *fixtures = getenv("SPMD_FIXTURES");
        char root[PATH_MAX];
        uint64_t pcp = 1;

        (void) state;
        assert_non_null(fixtures);
        snprintf(root, sizeof root, "%s/zoneinfo", fixtures);
        assert_int_equal(topology_node_pcp_pages(root, 0, &pcp), 0);
        assert_int_equal(pcp, 5079 + 5736); /* Normal's two CPUs; DMA's and DMA32's are empty */
        assert_int_equal(topology_node_pcp_pages(root, 1, &pcp), 0);
        assert_int_equal(pcp, 2 + 4928);    /* the CPU-less node's Movable zone */
        assert_int_equal(topology_node_pcp_pages(root, 2, &pcp), 0);
        assert_int_equal(pcp, 0);           /* no such node: no zones */
        assert_int_equal(topology_node_pcp_pages("/nonexistent", 0, &pcp), -ENOENT);
}

static void test_counts_pcp(void **state) {
        Config *c = cfg();
        const struct {
                double free_pct;
                PressureLevel held;
                bool acting;
                bool want;
        } cases[] = {
                { 50, PRESSURE_OK, false, false },      /* at ok, nothing to decide: zoneinfo not read */
                { 12.1, PRESSURE_OK, false, false },    /* just above FreeWarn= + Hysteresis= */
                { 9, PRESSURE_OK, false, true },        /* MemFree alone would raise the level */
                { 4, PRESSURE_OK, false, true },
                { 50, PRESSURE_WARN, false, true },     /* held above ok: its recovery is decided */
                { 50, PRESSURE_CRITICAL, false, true },
                { 50, PRESSURE_OK, true, true },        /* an action still running: how much to move */
        };

        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                PressureSample s = freepct(cases[i].free_pct);
                if (pressure_counts_pcp(c, &s, cases[i].held, cases[i].acting) != cases[i].want)
                        fail_msg("case %zu: free %.1f%%, held %s, acting %d: want %d", i, cases[i].free_pct,
                                 pressure_level_to_string(cases[i].held), cases[i].acting, cases[i].want);
        }
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_rise_at_once_recover_after_delay),
                cmocka_unit_test(test_steps_down_only_as_far_as_the_worst_seen),
                cmocka_unit_test(test_no_flapping),
                cmocka_unit_test(test_physical_capacity),
                cmocka_unit_test(test_bytes_to_clear_ratio),
                cmocka_unit_test(test_psi),
                cmocka_unit_test(test_health),
                cmocka_unit_test(test_cram_capacity_lost),
                cmocka_unit_test(test_pcp_pages),
                cmocka_unit_test(test_counts_pcp),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
