/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "reclaim.h"

static int write_reclaim(const char *path, uint64_t bytes, int swappiness) {
        char buf[64]; /* a 20-digit count and " swappiness=" with an int fit */

        if (swappiness >= 0)
                snprintf(buf, sizeof buf, "%" PRIu64 " swappiness=%d", bytes, swappiness);
        else
                snprintf(buf, sizeof buf, "%" PRIu64, bytes);
        return write_one_value(path, buf, 0);
}

int reclaim_cgroup(const char *cgroup_dir, uint64_t bytes, int swappiness) {
        char path[4096];

        if ((size_t) snprintf(path, sizeof path, "%s/memory.reclaim", cgroup_dir) >= sizeof path)
                return -ENAMETOOLONG;
        return write_reclaim(path, bytes, swappiness);
}

bool reclaim_node_supported(unsigned node) {
        char path[96];

        snprintf(path, sizeof path, "/sys/devices/system/node/node%u/reclaim", node);
        return access(path, W_OK) == 0;
}

int reclaim_node(unsigned node, uint64_t bytes, int swappiness) {
        char path[96];

        snprintf(path, sizeof path, "/sys/devices/system/node/node%u/reclaim", node);
        return write_reclaim(path, bytes, swappiness);
}

void reclaim_job_free(ReclaimJob *job) {
        if (!job)
                return;
        for (size_t i = 0; i < job->n; i++)
                free(job->targets[i].cgroup_dir);
        free(job);
}

static void job_free(WorkerJob *j) {
        reclaim_job_free((ReclaimJob *) j);
}

static void job_run(WorkerJob *j) {
        ReclaimJob *job = (ReclaimJob *) j;
        int sw = job->swappiness;

        for (size_t i = 0; i < job->n; i++) {
                ReclaimTarget *t = &job->targets[i];
                int r = t->cgroup_dir ? reclaim_cgroup(t->cgroup_dir, job->bytes, sw)
                                      : reclaim_node(job->node, job->bytes, sw);

                if (r == -EINVAL && sw >= 0) {
                        job->swappiness_refused = true;
                        sw = -1;
                        r = t->cgroup_dir ? reclaim_cgroup(t->cgroup_dir, job->bytes, sw)
                                          : reclaim_node(job->node, job->bytes, sw);
                }
                t->result = r;
        }
}

ReclaimJob *reclaim_job_new(unsigned node, uint64_t bytes, int swappiness, char *const *cgroup_dirs) {
        size_t n = 0;
        ReclaimJob *job;

        if (cgroup_dirs)
                while (cgroup_dirs[n])
                        n++;
        job = calloc(1, sizeof *job + (n ? n : 1) * sizeof job->targets[0]);
        if (!job)
                return NULL;
        job->base = (WorkerJob){ .run = job_run, .free = job_free };
        job->node = node;
        job->bytes = bytes;
        job->swappiness = swappiness;
        if (!cgroup_dirs) {
                job->n = 1; /* the node itself */
                return job;
        }
        for (size_t i = 0; i < n; i++) {
                job->targets[i].cgroup_dir = strdup(cgroup_dirs[i]);
                if (!job->targets[i].cgroup_dir) {
                        reclaim_job_free(job);
                        return NULL;
                }
                job->n++;
        }
        return job;
}
