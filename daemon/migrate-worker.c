/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "migrate-worker.h"

struct MigrateWorker {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        MigrateJob *job;  /* handed over, not started yet or running */
        MigrateJob *done; /* finished, for the loop to take */
        bool running;     /* a job is submitted and its result not taken yet */
        bool stop;
        int efd;
        sd_event_source *source;
        MigrateDone done_cb;
        void *userdata;
};

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void migrate_job_free(MigrateJob *job) {
        if (!job)
                return;
        free(job->ranges);
        free(job);
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

static void *worker_main(void *arg) {
        MigrateWorker *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->job && !w->stop)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (!w->job)
                        break; /* stop, nothing left to run */
                MigrateJob *job = w->job;
                pthread_mutex_unlock(&w->lock);

                uint64_t t0 = mono_usec();
                job->cursor.cold = job->cold_pass ? &job->cold : NULL;
                job->cold.ranges = job->ranges;
                job->result = migrate_evacuate(&job->cursor, &job->from, job->to, job->batch, job->budget, &job->stats);
                job->usec = mono_usec() - t0;

                pthread_mutex_lock(&w->lock);
                w->job = NULL;
                w->done = job;
                (void) eventfd_write(w->efd, 1);
                if (w->stop)
                        break;
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MigrateWorker *w = userdata;
        eventfd_t v;
        MigrateJob *job;

        (void) s;
        (void) revents;
        (void) eventfd_read(fd, &v);
        pthread_mutex_lock(&w->lock);
        job = w->done;
        w->done = NULL;
        pthread_mutex_unlock(&w->lock);
        if (!job)
                return 0;
        w->running = false;
        job->cursor.cold = NULL; /* pointed into the job: the caller's state has its own */
        job->cold.ranges = NULL;
        w->done_cb(job, w->userdata);
        migrate_job_free(job);
        return 0;
}

int migrate_worker_new(sd_event *event, MigrateDone done, void *userdata, MigrateWorker **ret) {
        MigrateWorker *w;
        int r;

        assert(event);
        assert(done);
        assert(ret);
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->done_cb = done;
        w->userdata = userdata;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                r = -errno;
                free(w);
                return r;
        }
        r = sd_event_add_io(event, &w->source, w->efd, EPOLLIN, on_done, w);
        if (r < 0) {
                close(w->efd);
                free(w);
                return r;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        r = -pthread_create(&w->thread, NULL, worker_main, w);
        if (r < 0) {
                sd_event_source_disable_unref(w->source);
                close(w->efd);
                pthread_mutex_destroy(&w->lock);
                pthread_cond_destroy(&w->cond);
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

MigrateWorker *migrate_worker_free(MigrateWorker *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        (void) pthread_join(w->thread, NULL);
        migrate_job_free(w->job);
        migrate_job_free(w->done);
        sd_event_source_disable_unref(w->source);
        close(w->efd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
}

int migrate_worker_submit(MigrateWorker *w, MigrateJob *job) {
        assert(w);
        assert(job);
        if (w->running)
                return -EBUSY;
        pthread_mutex_lock(&w->lock);
        w->job = job;
        w->running = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

bool migrate_worker_busy(const MigrateWorker *w) {
        return w && w->running;
}
