/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "pressure.h"

/* Is a metric bad enough for level l? On the way up the threshold itself counts; at or below the
 * level now the metric must clear the threshold by the hysteresis to count as good. */
static bool free_bad(const Config *c, const PressureSample *s, PressureLevel l, PressureLevel now,
                     uint64_t *ret_pm, uint32_t *ret_threshold) {
        uint32_t t = l == PRESSURE_CRITICAL ? c->free_critical : c->free_warn;
        uint64_t pm;

        if (s->size == 0 || t == 0)
                return false;
        pm = s->free >= s->size ? 10000 : s->free * 10000 / s->size;
        *ret_pm = pm;
        *ret_threshold = t;
        return pm < (uint64_t) t + (l <= now ? c->hysteresis : 0);
}

static bool ratio_bad(const Config *c, const PressureSample *s, PressureLevel l, PressureLevel now,
                      double *ret_threshold) {
        double t = l == PRESSURE_CRITICAL ? c->ratio_critical : c->ratio_warn;

        if (s->ratio <= 0 || t <= 0)
                return false;
        *ret_threshold = t;
        return s->ratio <= t * (1.0 + (l <= now ? c->hysteresis / 10000.0 : 0));
}

PressureLevel pressure_level_for(const Config *c, const PressureSample *s, PressureLevel now, char *why,
                                 size_t why_len) {
        for (PressureLevel l = PRESSURE_CRITICAL; l > PRESSURE_OK; l--) {
                const char *name = l == PRESSURE_CRITICAL ? "Critical" : "Warn";
                uint64_t pm = 0;
                uint32_t ft = 0;
                double rt = 0;

                if (free_bad(c, s, l, now, &pm, &ft)) {
                        if (why)
                                snprintf(why, why_len, "free %.1f%% %s Free%s=%.1f%%", pm / 100.0,
                                         l <= now ? "has not cleared" : "<", name, ft / 100.0);
                        return l;
                }
                if (ratio_bad(c, s, l, now, &rt)) {
                        if (why)
                                snprintf(why, why_len, "compression ratio %.2f %s Ratio%s=%.2f", s->ratio,
                                         l <= now ? "has not cleared" : "<=", name, rt);
                        return l;
                }
        }
        if (why) {
                if (s->ratio > 0)
                        snprintf(why, why_len, "free %.1f%%, compression ratio %.2f",
                                 s->size ? (s->free >= s->size ? 100.0 : s->free * 100.0 / s->size) : 0.0,
                                 s->ratio);
                else
                        snprintf(why, why_len, "free %.1f%%",
                                 s->size ? (s->free >= s->size ? 100.0 : s->free * 100.0 / s->size) : 0.0);
        }
        return PRESSURE_OK;
}

bool pressure_step(PressureState *st, const Config *c, const PressureSample *s, uint64_t now_usec, char *why,
                   size_t why_len) {
        PressureLevel want = pressure_level_for(c, s, st->level, why, why_len);

        if (want > st->level) { /* worse: at once */
                st->level = want;
                st->lower_since_usec = 0;
                return true;
        }
        if (want == st->level) {
                st->lower_since_usec = 0;
                return false;
        }
        /* better: only once it has held for RecoverAfter=, and only as far down as the worst level seen
         * meanwhile */
        if (st->lower_since_usec == 0) {
                st->lower_since_usec = now_usec ? now_usec : 1;
                st->lower = want;
        } else if (want > st->lower)
                st->lower = want;
        if (now_usec - st->lower_since_usec < c->recover_after_usec)
                return false;
        st->level = st->lower;
        st->lower_since_usec = 0;
        return true;
}
