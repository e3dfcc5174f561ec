/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DAMON's sysfs interface (/sys/kernel/mm/damon/admin, CONFIG_DAMON_SYSFS) as
 * spmd drives it for demotion: physical-address monitoring (paddr) of given
 * ranges, with DAMOS schemes that migrate cold (or hot) pages to a node
 * (migrate_cold/migrate_hot and target_nid, Linux 6.11+), filtered to one
 * memory cgroup's anonymous pages, and page by page on whether the page was
 * accessed (the "young" filter): a region's pattern comes from sampling, so a
 * region called cold may still hold pages in use.
 *
 * The interface has one set of kdamonds for every user: writing nr_kdamonds
 * replaces them all. spmd takes them only when there are none (or when they
 * are the ones it left behind, which its state file records), and gives them
 * back (nr_kdamonds 0) when it is done.
 *
 * Every path is under root (NULL or "" = the real /), so that a test can lay
 * out memory blocks in a directory of its own.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAMON_ADMIN "/sys/kernel/mm/damon/admin"

typedef struct DamonRange {
        uint64_t start, end; /* physical addresses, [start, end) */
} DamonRange;

/* qsort(3) order of ranges: by start address. */
int damon_range_cmp(const void *a, const void *b);

/* The physical address ranges of node's online memory blocks, adjacent blocks merged, ascending. */
int damon_node_ranges(const char *root, unsigned node, DamonRange **ret, size_t *ret_n);

typedef struct DamonScheme {
        const char *action;        /* "migrate_cold" or "migrate_hot" */
        unsigned target_nid;
        const char *memcg_path;    /* only pages charged to this cgroup (path from the cgroup2 root); NULL = any */
        bool anon_only;            /* only anonymous pages */
        int young;                 /* 0: only pages not accessed since DAMON last looked, 1: only those
                                    * accessed, -1: either (the region's pattern alone decides) */
        uint32_t min_accesses, max_accesses; /* samples that saw an access, per aggregation interval */
        uint32_t min_age;          /* aggregation intervals the pattern held */
        uint64_t quota_bytes;      /* most bytes per second; 0 = no limit */
} DamonScheme;

typedef struct DamonSetup {
        const DamonRange *ranges;  /* what to monitor */
        size_t n_ranges;
        const DamonScheme *schemes;
        size_t n_schemes;
        uint64_t sample_us, aggr_us;
} DamonSetup;

/* 0 when DAMON's sysfs interface is there and takes paddr and migrate_cold; else a negative errno
 * and why in why. Touches no kdamond. */
int damon_probe(const char *root, char *why, size_t why_len);

/* Take n kdamonds: 0 when done (there were none, or state_file says these are spmd's and they are
 * off); -EBUSY with why when someone else's are there. */
int damon_claim(const char *root, unsigned n, const char *state_file, char *why, size_t why_len);
/* Stop every kdamond and give them back (nr_kdamonds 0), forget state_file. */
void damon_release(const char *root, const char *state_file);

/* Write s into kdamond k and start it, or commit it when it runs. A setup without schemes stops
 * it. 0 or a negative errno with what failed in err. */
int damon_apply(const char *root, unsigned k, const DamonSetup *s, char *err, size_t err_len);
int damon_stop(const char *root, unsigned k);
bool damon_running(const char *root, unsigned k);
/* The kdamond's thread, 0 when it does not run. */
int damon_pid(const char *root, unsigned k);

/* The regions scheme i of kdamond k matched at its last apply (refreshed with
 * update_schemes_tried_regions), ascending. -ENODATA when it has not run yet. */
int damon_tried_regions(const char *root, unsigned k, size_t i, DamonRange **ret, size_t *ret_n);

/* Bytes each of the first n schemes of kdamond k has applied its action to since it started
 * (refreshed with update_schemes_stats). */
int damon_scheme_applied(const char *root, unsigned k, size_t n, uint64_t *ret_bytes);
