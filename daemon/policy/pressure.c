/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "macro.h"
#include "parse-util.h"

#include "pressure.h"

typedef enum FreeSource {
        FREE_NODE,     /* free memory of the node */
        FREE_PHYSICAL, /* the physical media left (PhysicalCapacity= and a ratio) */
        FREE_NOMINAL,  /* free memory of the capacity before the balloon */
} FreeSource;

uint64_t pressure_nominal_size(uint64_t seen, uint64_t total, uint64_t balloon) {
        uint64_t now = total + balloon;
        return now > seen ? now : seen;
}

/* Free memory as a share of the node (permyriad); the physical media left of a compressed node
 * with a known physical capacity, or free memory as a share of the capacity before the balloon,
 * when that is lower. *ret_source says which. */
static uint64_t free_permyriad(const PressureSample *s, FreeSource *ret_source) {
        uint64_t pm = s->free >= s->size ? 10000 : s->free * 10000 / s->size;

        *ret_source = FREE_NODE;
        if (s->nominal > s->size) {
                uint64_t npm = MIN(s->free, s->nominal) * 10000 / s->nominal;
                if (npm < pm) {
                        pm = npm;
                        *ret_source = FREE_NOMINAL;
                }
        }
        if (s->physical > 0 && s->ratio > 0) {
                double used = (double) (s->size - MIN(s->free, s->size)) / s->ratio;
                double left = used >= (double) s->physical ? 0 : (double) s->physical - used;
                uint64_t ppm = (uint64_t) (left * 10000 / (double) s->physical);

                if (ppm < pm) {
                        pm = ppm;
                        *ret_source = FREE_PHYSICAL;
                }
        }
        return pm;
}

uint32_t pressure_free_permyriad(const PressureSample *s) {
        FreeSource src;

        return s->size ? (uint32_t) free_permyriad(s, &src) : 0;
}

static const char *free_label(const PressureSample *s, FreeSource src, char *buf, size_t len) {
        char a[32], b[32];

        switch (src) {
        case FREE_PHYSICAL:
                return "physical free";
        case FREE_NOMINAL:
                snprintf(buf, len, "free of the %s before the balloon (%s lost)", format_size(a, sizeof a, s->nominal),
                         format_size(b, sizeof b, s->nominal - s->size));
                return buf;
        default:
                return "free";
        }
}

/* Is a metric bad enough for level l? On the way up the threshold itself counts; at or below the
 * level now the metric must clear the threshold by the hysteresis to count as good. */
static bool free_bad(const Config *c, const PressureSample *s, PressureLevel l, PressureLevel now,
                     uint64_t *ret_pm, uint32_t *ret_threshold, FreeSource *ret_source) {
        uint32_t t = l == PRESSURE_CRITICAL ? c->free_critical : c->free_warn;
        uint64_t pm;

        if (s->size == 0 || t == 0)
                return false;
        pm = free_permyriad(s, ret_source);
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

static bool psi_bad(const Config *c, const PressureSample *s, PressureLevel l, PressureLevel now,
                    uint32_t *ret_threshold) {
        uint32_t t = l == PRESSURE_CRITICAL ? c->psi_critical : c->psi_warn;
        uint32_t h = l <= now ? c->hysteresis : 0;

        if (!s->psi_valid || t == 0)
                return false;
        *ret_threshold = t;
        return s->psi >= (t > h ? t - h : 0);
}

PressureLevel pressure_level_for(const Config *c, const PressureSample *s, PressureLevel now, char *why,
                                 size_t why_len) {
        for (PressureLevel l = PRESSURE_CRITICAL; l > PRESSURE_OK; l--) {
                const char *name = l == PRESSURE_CRITICAL ? "Critical" : "Warn";
                uint64_t pm = 0;
                uint32_t ft = 0;
                double rt = 0;
                FreeSource src = FREE_NODE;
                char label[96];

                if (free_bad(c, s, l, now, &pm, &ft, &src)) {
                        if (why)
                                snprintf(why, why_len, "%s %.1f%% %s Free%s=%.1f%%",
                                         free_label(s, src, label, sizeof label), pm / 100.0,
                                         l <= now ? "has not cleared" : "<", name, ft / 100.0);
                        return l;
                }
                if (ratio_bad(c, s, l, now, &rt)) {
                        if (why)
                                snprintf(why, why_len, "compression ratio %.2f %s Ratio%s=%.2f", s->ratio,
                                         l <= now ? "has not cleared" : "<=", name, rt);
                        return l;
                }
                if (s->health >= l && s->health < PRESSURE_NEVER) {
                        if (why)
                                snprintf(why, why_len, "%s", s->health_why ? s->health_why : "CXL device health");
                        return l;
                }
                if (psi_bad(c, s, l, now, &ft)) {
                        if (why)
                                snprintf(why, why_len, "memory PSI %.1f%% %s Psi%s=%.1f%%", s->psi / 100.0,
                                         l <= now ? "has not cleared" : ">=", name, ft / 100.0);
                        return l;
                }
        }
        if (why) {
                FreeSource src = FREE_NODE;
                uint64_t pm = s->size ? free_permyriad(s, &src) : 0;
                char label[96];

                if (src == FREE_NOMINAL)
                        snprintf(why, why_len, "%s %.1f%%", free_label(s, src, label, sizeof label), pm / 100.0);
                else if (src == FREE_PHYSICAL)
                        snprintf(why, why_len, "physical free %.1f%%, compression ratio %.2f", pm / 100.0, s->ratio);
                else if (s->ratio > 0)
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

bool pressure_counts_pcp(const Config *c, const PressureSample *s, PressureLevel held, bool acting) {
        assert(c);
        assert(s);
        return held > PRESSURE_OK || acting || pressure_level_for(c, s, held, NULL, 0) > PRESSURE_OK;
}

uint64_t pressure_bytes_to_clear(const Config *c, const PressureSample *s, PressureLevel l) {
        uint32_t t;
        double want, need = 0, rt;

        if (l <= PRESSURE_OK || l >= PRESSURE_NEVER)
                return 0;
        if (ratio_bad(c, s, l, l, &rt) || psi_bad(c, s, l, l, &t) || (s->health >= l && s->health < PRESSURE_NEVER))
                return UINT64_MAX; /* the ratio, PSI or the device's health holds the level: no byte count clears it */
        t = l == PRESSURE_CRITICAL ? c->free_critical : c->free_warn;
        want = (double) (t + c->hysteresis) / 10000.0;
        if (s->size == 0 || t == 0)
                return 0;
        if ((double) s->free < want * (double) s->size)
                need = want * (double) s->size - (double) s->free;
        if (s->nominal > s->size && (double) s->free < want * (double) s->nominal &&
            want * (double) s->nominal - (double) s->free > need)
                need = want * (double) s->nominal - (double) s->free; /* the capacity lost counts as used */
        if (s->physical > 0 && s->ratio > 0) {
                /* negative when the media is overcommitted: that much more must go */
                double left = (double) s->physical - (double) (s->size - MIN(s->free, s->size)) / s->ratio;
                double want_left = want * (double) s->physical;

                if (left < want_left && (want_left - left) * s->ratio > need)
                        need = (want_left - left) * s->ratio;
        }
        return (uint64_t) need;
}
