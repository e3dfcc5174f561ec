/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "demote-plan.h"
#include "macro.h"

uint64_t demote_grant_room(uint64_t used, uint64_t max_bytes) {
        if (max_bytes == UINT64_MAX)
                return UINT64_MAX;
        if (used == UINT64_MAX || used >= max_bytes || max_bytes - used <= LIMIT_MARGIN)
                return 0;
        return max_bytes - used - LIMIT_MARGIN;
}

LimitMode demote_limit_mode(uint64_t room, uint64_t dram) {
        if (room == UINT64_MAX)
                return LIMIT_NONE;
        if (room < QUOTA_MIN)
                return LIMIT_FULL;
        return dram != UINT64_MAX && dram <= room ? LIMIT_DAMON : LIMIT_SPMD;
}

uint64_t demote_quota_share(uint64_t max_rate, size_t n) {
        if (max_rate == UINT64_MAX || n == 0)
                return 0;
        return MAX(max_rate / n, (uint64_t) QUOTA_MIN);
}

uint32_t demote_cold_age(uint64_t cold_age_usec) {
        return (uint32_t) MIN(MAX(cold_age_usec / DEMOTE_AGGR_US, 1), UINT32_MAX);
}

DamonScheme demote_scheme(const char *cgroup, unsigned node, uint32_t cold_age, uint64_t share, LimitMode mode) {
        return (DamonScheme){
                .action = "migrate_cold",
                .target_nid = node,
                .memcg_path = cgroup,
                .anon_only = true,
                .young = 0,
                .min_accesses = 0,
                .max_accesses = 0,
                .min_age = mode == LIMIT_SPMD || mode == LIMIT_FULL ? UINT32_MAX : cold_age,
                .quota_bytes = share,
        };
}
