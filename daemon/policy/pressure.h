/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pressure level of an SPM node (ok, warn, critical) from its metrics,
 * with hysteresis and a recovery delay so that a noisy source does not make
 * it flap. Pure: the caller reads the metrics and keeps the clock.
 *
 * Thresholds come from [Pressure]: the level rises to warn/critical when free
 * memory falls below FreeWarn=/FreeCritical= of the node's size, or when the
 * compression ratio falls to RatioWarn=/RatioCritical= or below. It rises at
 * once. To step down, every metric must clear the threshold by Hysteresis=
 * (percentage points of the node for free memory, per cent of the threshold
 * for the ratio) and the lower level must hold for RecoverAfter=.
 *
 * A compressed node with a known physical capacity (PhysicalCapacity=) and a
 * ratio has a second free-memory metric: the media left, capacity minus the
 * memory in use divided by the ratio, against the same FreeWarn=/FreeCritical=.
 * It is the one that moves when spmd reclaims or evacuates the node; the ratio
 * thresholds alone do not.
 *
 * A node whose MemTotal shrinks (a compressed device behind the private-node patches' CRAM: the
 * kernel inflates a balloon on the node as the device's physical capacity falls) has a third: free
 * memory as a share of the node's capacity before the balloon (the most MemTotal plus balloon
 * pages seen, see pressure_nominal_size()). The capacity lost counts as used.
 *
 * The health of the CXL memory devices behind the node (libcxl
 * GET_HEALTH_INFO) raises it too: media not normal to critical, 90% of the
 * device's life used to warn; it holds there while the device says so.
 *
 * Memory PSI of the granted cgroups that hold the node raises the level at
 * PsiWarn=/PsiCritical= of stall time over PsiWindow=; to step down it must
 * fall below the threshold by Hysteresis= (percentage points).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

typedef struct PressureSample {
        uint64_t size;  /* bytes of memory on the node; 0 = unknown */
        uint64_t free;  /* bytes free */
        double ratio;   /* compression ratio; 0 = the node has no ratio source */
        uint64_t physical; /* bytes of physical media behind a compressed node; 0 = unknown */
        uint64_t nominal;  /* bytes the node had before a balloon took any (pressure_nominal_size());
                            * 0 = unknown; above size when capacity was lost */
        PressureLevel health; /* what the CXL device's health calls for (media not normal: critical,
                               * life used >= 90%: warn); ok when healthy or unknown */
        const char *health_why; /* e.g. "CXL mem0: media not normal" (the caller's storage) */
        bool psi_valid;    /* a granted cgroup holds the node and its memory.pressure reads */
        uint32_t psi;      /* the highest "some" stall share of those cgroups over PsiWindow=, permyriad */
} PressureSample;

typedef struct PressureState {
        PressureLevel level;
        PressureLevel lower;       /* a lower level the metrics call for, waiting out RecoverAfter= */
        uint64_t lower_since_usec; /* 0 = none waiting */
} PressureState;

/* The level the sample calls for on its own, given the level now (for the hysteresis). *ret_why
 * (may be NULL) names the metric that decided, e.g. "free 4.2% < FreeCritical=5%". */
PressureLevel pressure_level_for(const Config *c, const PressureSample *s, PressureLevel now, char *why,
                                 size_t why_len);

/* Whether the node's free memory must count the pages in its per-CPU free lists (which MemFree leaves
 * out, and which a large migration off the node fills for seconds): while it is above ok (HELD), while
 * reclaim or evacuation acts on it (ACTING), or when the sample without them would call for more than
 * ok. Each of these decides how much to move, or whether to move at all; at ok the cost of reading
 * /proc/zoneinfo each second buys nothing. */
bool pressure_counts_pcp(const Config *c, const PressureSample *s, PressureLevel held, bool acting);

/* Feed one sample taken at now_usec (monotonic). Returns true when st->level changed. */
bool pressure_step(PressureState *st, const Config *c, const PressureSample *s, uint64_t now_usec, char *why,
                   size_t why_len);

/* The node's free share (permyriad) as the free-memory thresholds see it: free memory, or the
 * physical media left when that is lower. 0 when the size is unknown. */
uint32_t pressure_free_permyriad(const PressureSample *s);

/*
 * The node's capacity before the balloon: the largest of seen (the value so far, 0 at first) and
 * MemTotal plus the balloon's pages (balloon 0 where the kernel does not count them). A MemTotal
 * that falls below it is capacity lost.
 */
uint64_t pressure_nominal_size(uint64_t seen, uint64_t total, uint64_t balloon);

/* Bytes that must leave the node for its free-memory metrics to clear level l's threshold by the
 * hysteresis (what reclaim or evacuation has to do): 0 when they have; UINT64_MAX when a ratio
 * threshold holds the level, which moving pages does not change. */
uint64_t pressure_bytes_to_clear(const Config *c, const PressureSample *s, PressureLevel l);
