/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Evacuation's job for a Worker (worker.h): one migrate_evacuate() call, off the event loop (one
 * move_pages(2) call can wait in the kernel for seconds: a process mapping and unmapping while its
 * pages move, 2.2 s for 11 pages in the test guest). The job carries copies of everything it reads
 * (cursor, cold ranges). A pass starts with a job that only lists the processes of the granted
 * cgroups (migrate_list_job_new()): a cgroup.procs read per cgroup and level, 200 granted cgroups
 * in all, is too long for the loop.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
        char **list;         /* set: the job lists these cgroup directories' processes (to
                              * CGROUP_PROCS_DEPTH) into pids, and moves nothing */
        pid_t *pids;         /* ... what it found, owned */
        size_t n_pids;
} MigrateJob;

/* A zeroed job that runs migrate_evacuate() on its fields (NULL: out of memory). */
MigrateJob *migrate_job_new(void);
/* A job that lists the processes of CGROUP_DIRS (taken: freed with the job; NULL: out of memory). */
MigrateJob *migrate_list_job_new(char **cgroup_dirs);
void migrate_job_free(MigrateJob *job);
void migrate_stats_add(MigrateStats *to, const MigrateStats *d);
