/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The decide half of acting on a pressured SPM node: when a cgroup is asked to reclaim, where
 * evacuated pages go, how many pages one call may move and at what rate. Pure functions over
 * plain inputs (times in CLOCK_MONOTONIC microseconds, shares in basis points); act.c reads the
 * kernel's state, asks these, and carries out the answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define WHOLE_MAX_PAGES 65536 /* most pages one call may move: 256 MiB of 4 KiB pages */

/* ---- when ---- */

/* Whether an action set to start AT (Reclaim At=, Evacuation At=) runs: the node's level, as held
 * with hysteresis and RecoverAfter= (HELD), is at AT or above, and so is the level its latest
 * sample alone gives (NOW: an action stops as soon as the metrics clear AT, without waiting for the
 * held level to step down). */
bool act_wanted(PressureLevel at, PressureLevel held, PressureLevel now);

/* Where a node's reclaim or evacuation stands, from whether it is WANTED (act_wanted), RUNNING
 * (started and not stopped) and has a job IN_FLIGHT in its thread. One whose metrics clear while its
 * job still runs drains: it submits nothing more, and stops when the job's results are in (what that
 * job moved is what cleared the metrics; stopping before would count none of it). */
typedef enum ActPhase {
        ACT_IDLE,  /* not wanted, not running */
        ACT_START, /* wanted, not running: begins, and takes its first step */
        ACT_STEP,  /* wanted and running: the next step */
        ACT_DRAIN, /* not wanted, a job in flight: no new step, still running */
        ACT_STOP,  /* not wanted, nothing in flight: ends (and says what it did) */
} ActPhase;

ActPhase act_phase(bool wanted, bool running, bool in_flight);
/* Running from this phase on: started, stepping or draining. */
static inline bool act_phase_running(ActPhase p) {
        return p == ACT_START || p == ACT_STEP || p == ACT_DRAIN;
}

/* ---- reclaim pacing, one granted cgroup at a time ---- */

typedef enum ReclaimChoice {
        RECLAIM_NOT_YET,  /* asked less than MinInterval= ago */
        RECLAIM_BACK_OFF, /* its memory PSI is at PsiWarn= or above: reclaiming would stall it more */
        RECLAIM_NOW,
} ReclaimChoice;

typedef struct ReclaimPace {
        uint64_t last_usec;  /* when it was last asked (or left alone); 0: never */
        bool psi_valid;      /* its PSI share is known */
        unsigned psi_share;  /* basis points of the PSI window stalled */
} ReclaimPace;

/* What to do with one cgroup at NOW; *ret_due: when to look at it next. psi_warn 0: PSI not used. */
ReclaimChoice reclaim_choose(const ReclaimPace *p, uint64_t now, uint64_t min_interval, unsigned psi_warn,
                             uint64_t *ret_due);

/* ---- evacuation ---- */

typedef struct NodeFree {
        unsigned node;
        uint64_t size, free; /* bytes; size 0: unreadable, never chosen */
} NodeFree;

/* The candidate with the most free memory that is not itself below FREE_CRITICAL (basis points of
 * its size); ties go to the first. -1: none. */
int evacuate_choose_target(const NodeFree *c, size_t n, unsigned free_critical);

/* Pages that clear the level, from the bytes the pressure metrics still need (UINT64_MAX: the level
 * does not depend on what is on the node, such as a compression ratio alone: all of them). */
uint64_t evacuate_need_pages(uint64_t need_bytes, uint64_t page_size);

/* MaxRate=: a bucket of pages, filled at RATE bytes a second, holding one second's worth and never
 * less than one page (a rate below a page a second still moves a page now and then). */
typedef struct RateBucket {
        double tokens;
        uint64_t usec; /* when last filled; 0: never (starts full) */
} RateBucket;

/* Fill the bucket up to NOW. Returns 0 when a page may move now, else the microseconds until one may.
 * RATE UINT64_MAX: no limit (always 0). */
uint64_t rate_bucket_fill(RateBucket *b, uint64_t now, uint64_t rate, uint64_t page_size);

/* Pages the next call may move: what is still needed (need_pages - moved), at most WHOLE_MAX_PAGES
 * (BATCH when all are needed), within the bucket when there is a rate. 0: none now. */
uint64_t evacuate_budget(uint64_t need_pages, uint64_t moved, uint32_t batch, uint64_t rate, const RateBucket *b);
