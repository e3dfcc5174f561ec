/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>

#include "act-plan.h"
#include "macro.h"

bool act_wanted(PressureLevel at, PressureLevel held, PressureLevel now) {
        return at != PRESSURE_NEVER && held >= at && now >= at;
}

ActPhase act_phase(bool wanted, bool running, bool in_flight) {
        if (wanted)
                return running ? ACT_STEP : ACT_START;
        if (!running)
                return ACT_IDLE;
        return in_flight ? ACT_DRAIN : ACT_STOP;
}

ReclaimChoice reclaim_choose(const ReclaimPace *p, uint64_t now, uint64_t min_interval, unsigned psi_warn,
                             uint64_t *ret_due) {
        assert(p);
        assert(ret_due);

        if (p->last_usec && now - p->last_usec < min_interval) {
                *ret_due = p->last_usec + min_interval;
                return RECLAIM_NOT_YET;
        }
        *ret_due = now + min_interval;
        if (p->psi_valid && psi_warn > 0 && p->psi_share >= psi_warn)
                return RECLAIM_BACK_OFF;
        return RECLAIM_NOW;
}

int evacuate_choose_target(const NodeFree *c, size_t n, unsigned free_critical) {
        uint64_t best_free = 0;
        int best = -1;

        assert(c || n == 0);
        for (size_t i = 0; i < n; i++) {
                if (c[i].size == 0 || c[i].free > c[i].size)
                        continue; /* unreadable, or a torn read */
                if (c[i].free * 10000 / c[i].size < free_critical)
                        continue;
                if (best < 0 || c[i].free > best_free) {
                        best = (int) c[i].node;
                        best_free = c[i].free;
                }
        }
        return best;
}

uint64_t evacuate_need_pages(uint64_t need_bytes, uint64_t page_size) {
        assert(page_size > 0);
        return need_bytes == UINT64_MAX ? UINT64_MAX : need_bytes / page_size + 1;
}

uint64_t rate_bucket_fill(RateBucket *b, uint64_t now, uint64_t rate, uint64_t page_size) {
        double per_sec, cap;

        assert(b);
        assert(page_size > 0);
        if (rate == UINT64_MAX)
                return 0;
        assert(rate > 0); /* config_verify refuses MaxRate=0 */
        per_sec = (double) rate / (double) page_size;
        cap = MAX(per_sec, 1.0);
        if (b->usec == 0)
                b->tokens = cap;
        else if (now > b->usec)
                b->tokens += (double) (now - b->usec) * per_sec / 1e6;
        if (b->tokens > cap)
                b->tokens = cap;
        b->usec = now;
        if (b->tokens >= 1)
                return 0;
        return (uint64_t) ((1 - b->tokens) * 1e6 / per_sec) + 1;
}

uint64_t evacuate_budget(uint64_t need_pages, uint64_t moved, uint32_t batch, uint64_t rate, const RateBucket *b) {
        uint64_t budget;

        if (need_pages == UINT64_MAX)
                budget = batch;
        else if (moved >= need_pages)
                return 0;
        else
                budget = MIN(need_pages - moved, (uint64_t) WHOLE_MAX_PAGES);
        if (rate != UINT64_MAX && b)
                budget = MIN(budget, b->tokens > 0 ? (uint64_t) b->tokens : 0);
        return budget;
}
