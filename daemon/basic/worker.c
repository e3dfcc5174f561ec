/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#define WORKER_STACK_SIZE (512u * 1024u)

struct Worker {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        WorkerJob *job;  /* handed over, not started yet or running */
        WorkerJob *done; /* finished, for the loop to take */
        bool running;    /* a job is submitted and its result not taken yet (the loop's only) */
        bool stop;
        int efd;
        sd_event_source *source;
        WorkerDone done_cb;
        void *userdata;
};

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void worker_job_free(WorkerJob *job) {
        if (!job)
                return;
        if (job->free)
                job->free(job);
        else
                free(job);
}

static void *worker_main(void *arg) {
        Worker *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->job && !w->stop)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (!w->job)
                        break; /* stop, nothing left to run */
                WorkerJob *job = w->job;
                pthread_mutex_unlock(&w->lock);

                uint64_t t0 = mono_usec();
                job->run(job);
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
        Worker *w = userdata;
        WorkerJob *job;
        eventfd_t v;

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
        w->done_cb(job, w->userdata);
        worker_job_free(job);
        return 0;
}

int worker_new(sd_event *event, WorkerDone done, void *userdata, Worker **ret) {
        Worker *w;
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
        /* A small stack: an 8 MiB default holds 2 MiB-aligned ranges that khugepaged
         * backs with a huge page once one page in each is touched (THP "always"),
         * which put 2 MiB on the daemon's RSS for a thread that needs kilobytes. */
        pthread_attr_t attr;
        r = -pthread_attr_init(&attr);
        if (r == 0) {
                r = -pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
                if (r == 0) {
                        /* The thread takes no signal: the loop's signalfd takes them, and one the
                         * loop has not blocked yet (SIGHUP, when the thread is made early) would
                         * otherwise hit its default action in this thread and end spmd. */
                        sigset_t all, old;

                        sigfillset(&all);
                        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
                        r = -pthread_create(&w->thread, &attr, worker_main, w);
                        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
                }
                pthread_attr_destroy(&attr);
        }
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

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        (void) pthread_join(w->thread, NULL);
        worker_job_free(w->job);
        worker_job_free(w->done);
        sd_event_source_disable_unref(w->source);
        close(w->efd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
}

int worker_submit(Worker *w, WorkerJob *job) {
        assert(w);
        assert(job);
        assert(job->run);
        if (w->running)
                return -EBUSY;
        pthread_mutex_lock(&w->lock);
        w->job = job;
        w->running = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

bool worker_busy(const Worker *w) {
        return w && w->running;
}
