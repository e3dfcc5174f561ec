/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Evacuation's job for a Worker (worker.h): one migrate_evacuate() call, off the event loop (one
 * move_pages(2) call can wait in the kernel for seconds: a process mapping and unmapping while its
 * pages move, 2.2 s for 11 pages in the test guest). The job carries copies of everything it reads
 * (cursor, cold ranges).
 */
#include <stdbool.h>
#include <stdint.h>

#include "damon.h"
#include "migrate.h"
#include "nodemask.h"
#include "worker.h"

typedef struct MigrateJob {
        WorkerJob base;      /* first: a WorkerJob * is a MigrateJob * */
        unsigned node;       /* the SPM node it serves, to find its state again */
        MigrateCursor cursor;
        MigrateCold cold;    /* cursor.cold points here while the job runs on cold pages only */
        DamonRange *ranges;  /* cold.ranges, owned */
        NodeMask from;
        int to;
        uint32_t batch;
        uint64_t budget;
        MigrateStats stats;  /* what this job did, from zero */
        bool cold_pass;      /* moves only the pages in ranges */
        int64_t result;      /* migrate_evacuate()'s */
} MigrateJob;

/* A zeroed job that runs migrate_evacuate() on its fields (NULL: out of memory). */
MigrateJob *migrate_job_new(void);
void migrate_job_free(MigrateJob *job);
void migrate_stats_add(MigrateStats *to, const MigrateStats *d);
