/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "cgroup-util.h"
#include "migrate-worker.h"
#include "strv.h"

void migrate_job_free(MigrateJob *job) {
        if (!job)
                return;
        free(job->ranges);
        strv_free(job->list);
        free(job->pids);
        free(job);
}

static void job_free(WorkerJob *j) {
        migrate_job_free((MigrateJob *) j);
}

static void job_run(WorkerJob *j) {
        MigrateJob *job = (MigrateJob *) j;

        if (job->list) {
                for (char **c = job->list; *c; c++)
                        cgroup_collect_procs(*c, CGROUP_PROCS_DEPTH, &job->pids, &job->n_pids);
                return;
        }
        job->cursor.cold = job->cold_pass ? &job->cold : NULL;
        job->cold.ranges = job->ranges;
        job->result = migrate_evacuate(&job->cursor, &job->from, job->to, job->batch, job->budget, &job->stats);
        job->cursor.cold = NULL; /* pointed into the job: the loop's state has its own */
        job->cold.ranges = NULL;
}

MigrateJob *migrate_job_new(void) {
        MigrateJob *job = calloc(1, sizeof *job);

        if (job)
                job->base = (WorkerJob){ .run = job_run, .free = job_free };
        return job;
}

MigrateJob *migrate_list_job_new(char **cgroup_dirs) {
        MigrateJob *job = migrate_job_new();

        if (!job) {
                strv_free(cgroup_dirs);
                return NULL;
        }
        job->list = cgroup_dirs ? cgroup_dirs : calloc(1, sizeof(char *)); /* none: an empty list */
        if (!job->list) {
                migrate_job_free(job);
                return NULL;
        }
        return job;
}

void migrate_stats_add(MigrateStats *to, const MigrateStats *d) {
        to->scanned += d->scanned;
        to->found += d->found;
        to->moved += d->moved;
        to->busy += d->busy;
        to->no_memory += d->no_memory;
        to->failed += d->failed;
        to->calls += d->calls;
        if (d->last_error)
                to->last_error = d->last_error;
}
