/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Moving a process's pages off SPM nodes: the evacuation engine.
 *
 * move_pages(2) in batches: the process's mappings are walked from
 * /proc/PID/maps, each batch of addresses is first asked where its pages are
 * (nodes == NULL: nothing moves, nothing is faulted in), and only the pages
 * found on the source nodes are moved, with MPOL_MF_MOVE_ALL so that pages
 * shared with other processes move too. A cursor lets the caller stop after
 * a budget of pages and go on later from the same address. Pages the kernel
 * could not move are counted by reason and retried by the next pass over the
 * process; nothing is ever dropped: a page that stays is still the
 * process's, only on the node it was on.
 *
 * migrate_pages(2) per process is there too (the whole process in one call,
 * no budget); the bench compares both with numactl's migratepages.
 *
 * No logging above debug level: the caller decides what to report.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "damon.h"
#include "nodemask.h"

typedef struct MigrateStats {
        uint64_t scanned;       /* pages asked about */
        uint64_t found;         /* of them on a source node */
        uint64_t moved;         /* pages now on a target node */
        uint64_t busy;          /* -EBUSY/-EAGAIN: in use at the moment, retried on a later pass */
        uint64_t no_memory;     /* -ENOMEM: the target node had no room */
        uint64_t failed;        /* any other per-page error (-EACCES, -EFAULT, ...) */
        uint64_t calls;         /* move_pages() calls */
        int last_error;         /* the last per-page error, negative errno; 0 = none */
} MigrateStats;

/* Coldest first: only pages whose physical address is in one of ranges (DAMON's cold regions,
 * ascending) are moved; the process's page frames come from /proc/PID/pagemap (CAP_SYS_ADMIN). */
typedef struct MigrateCold {
        const DamonRange *ranges;
        size_t n;
        uint64_t not_cold;      /* pages on a source node left for not being in a cold range */
        bool no_pfn;            /* pagemap gave no page frame numbers (no CAP_SYS_ADMIN): no filtering */
} MigrateCold;

/* Where a pass over one process stands. Zero-initialise for the start. */
typedef struct MigrateCursor {
        pid_t pid;
        uint64_t next_addr;     /* first address not looked at yet */
        uint64_t end_addr;      /* walk only below this address; 0 = the whole address space */
        bool done;              /* the whole address space has been walked */
        bool sized;             /* on_from is known */
        uint64_t on_from;       /* the process's pages on the source nodes when the pass began */
        MigrateCold *cold;      /* non-NULL: move only cold pages (and always by move_pages(2) batches) */
        bool private_anon;      /* only anonymous mappings ([heap], [stack], no file), and of them only
                                 * the pages no other process maps (MPOL_MF_MOVE, not _MOVE_ALL) */
        bool whole_huge_pages;  /* with cold: a transparent huge page counts as all its pages, once */
} MigrateCursor;

/*
 * Move up to max_pages (0 = no limit) of cur->pid's pages that are on a node
 * in from to node to, batch addresses per call (at least 1). Walks on from
 * cur->next_addr, only through mappings numa_maps shows pages on from in,
 * and asks about at most MIGRATE_SCAN_MAX addresses a call (a sparse
 * mapping of terabytes is walked over many calls, not in one); sets
 * cur->done at the end of the address space (or cur->end_addr). Adds to *st.
 * Each address moved counts as one page, though a transparent huge page
 * moves whole; with cur->whole_huge_pages (and cur->cold, /proc/kpageflags
 * readable) a huge page counts as all its pages, once, in the budget and in
 * what is returned, and one larger than what is left of the budget stays.
 * Returns the pages moved, or -ESRCH when the process is gone, or another
 * negative errno when its mappings cannot be read.
 */
#define MIGRATE_SCAN_MAX (1u << 18) /* 1 GiB of 4 KiB pages */
int64_t migrate_move_pages(MigrateCursor *cur, const NodeMask *from, int to, uint32_t batch, uint64_t max_pages,
                           MigrateStats *st);

/*
 * The engine: move up to max_pages (0 = all) of cur->pid's pages on from to node to. When all
 * the process has on from fits the budget, one migrate_pages(2) call moves it (the kernel walks
 * the page tables once, no per-page lookups); otherwise move_pages(2) in batches from the cursor.
 * Returns the pages moved or a negative errno as migrate_move_pages(); pages migrate_pages(2)
 * could not move count as busy (the next pass retries them).
 */
int64_t migrate_evacuate(MigrateCursor *cur, const NodeMask *from, int to, uint32_t batch, uint64_t max_pages,
                         MigrateStats *st);

/* migrate_pages(2): every page of pid on from to to in one call. Returns the pages that could not be
 * moved (>= 0) or a negative errno. */
long migrate_whole_process(pid_t pid, const NodeMask *from, const NodeMask *to);

/* Bytes of pid's resident pages on the nodes in mask (from /proc/PID/numa_maps), or -errno. */
int64_t migrate_bytes_on_nodes(pid_t pid, const NodeMask *mask);
