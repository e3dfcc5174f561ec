/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Evacuation off the event loop. One move_pages(2) call can wait in the kernel for seconds (a
 * process mapping and unmapping while its pages move: 2.2 s for 11 pages in the test guest), and
 * the loop must go on answering clients meanwhile. A worker thread runs one migrate_evacuate() job
 * at a time; the job carries copies of everything it reads (cursor, cold ranges), so the loop's
 * own state may change (a reload, the node going) while it runs. When it ends, the loop is told
 * through an eventfd and the done callback gets the job on the loop, to fold its results in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "damon.h"
#include "migrate.h"
#include "nodemask.h"

typedef struct MigrateJob {
        unsigned node;       /* the SPM node it serves, to find its state again */
        MigrateCursor cursor;
        MigrateCold cold;    /* cursor.cold points here when the job moves cold pages only */
        DamonRange *ranges;  /* cold.ranges, owned */
        NodeMask from;
        int to;
        uint32_t batch;
        uint64_t budget;
        MigrateStats stats;  /* what this job did, from zero */
        bool cold_pass;      /* moves only the pages in ranges */
        int64_t result;      /* migrate_evacuate()'s */
        uint64_t usec;       /* how long it ran */
} MigrateJob;

typedef struct MigrateWorker MigrateWorker;
typedef void (*MigrateDone)(MigrateJob *job, void *userdata);

int migrate_worker_new(sd_event *event, MigrateDone done, void *userdata, MigrateWorker **ret);
/* Waits for a running job to end (its result is dropped), then stops the thread. */
MigrateWorker *migrate_worker_free(MigrateWorker *w);

/* Hands JOB (allocated with malloc, its ranges too) to the worker, which owns it from then on;
 * -EBUSY while another runs (JOB stays the caller's). */
int migrate_worker_submit(MigrateWorker *w, MigrateJob *job);
bool migrate_worker_busy(const MigrateWorker *w);

void migrate_job_free(MigrateJob *job);
void migrate_stats_add(MigrateStats *to, const MigrateStats *d);
