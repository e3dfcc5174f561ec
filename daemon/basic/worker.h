/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Work the event loop must not wait for, in a thread of its own: a move_pages(2) call that waits
 * seconds for a busy process, a write to memory.reclaim that returns once the kernel reclaimed.
 * A Worker runs one job at a time; a job carries copies of everything it reads, so the loop's
 * state may change (a reload, a node going) while it runs. A job reports through its result, not
 * the log; what the code it calls logs (reading the topology: libcxl's and libdaxctl's warnings)
 * goes through log.c, which keeps no state a message changes. When it ends, the loop is told
 * through an eventfd and the done callback gets the job on the loop, to fold its results in; the
 * job is freed after that.
 */
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct WorkerJob WorkerJob;
struct WorkerJob {
        void (*run)(WorkerJob *job);  /* in the worker's thread */
        void (*free)(WorkerJob *job); /* NULL: free() */
        uint64_t usec;                /* how long run took */
};

typedef struct Worker Worker;
typedef void (*WorkerDone)(WorkerJob *job, void *userdata);

int worker_new(sd_event *event, WorkerDone done, void *userdata, Worker **ret);
/* Waits for a running job to end (its result is dropped, the job freed), then stops the thread. */
Worker *worker_free(Worker *w);

/* Hands JOB to the worker, which owns it from then on; -EBUSY while another runs (JOB stays the
 * caller's). */
int worker_submit(Worker *w, WorkerJob *job);
bool worker_busy(const Worker *w);

void worker_job_free(WorkerJob *job);
