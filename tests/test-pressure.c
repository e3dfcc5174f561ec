/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pressure level of an SPM node: thresholds, hysteresis, recovery delay, no flapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "conf.h"
#include "pressure.h"

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_rise_at_once_recover_after_delay),
                cmocka_unit_test(test_steps_down_only_as_far_as_the_worst_seen),
                cmocka_unit_test(test_no_flapping),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
