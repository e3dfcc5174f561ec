/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reclaim's writes as a job of a worker thread (reclaim.c, worker.c): each target written once, in
 * the thread, the results back on the loop; the thread takes no signal. Plain files stand in for memory.reclaim (this machine's
 * cgroup v1 has none); the kernel's answers are TEST-12's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reclaim.h"
#include "worker.h"

typedef struct Seen {
        int results[4];
        size_t n;
        uint64_t bytes;
        bool refused;
        bool done;
} Seen;

static void on_done(WorkerJob *j, void *userdata) {
        const ReclaimJob *job = (const ReclaimJob *) j;
        Seen *s = userdata;

        s->n = job->n;
        for (size_t i = 0; i < job->n && i < 4; i++)
                s->results[i] = job->targets[i].result;
        s->bytes = job->bytes;
        s->refused = job->swappiness_refused;
        s->done = true;
}

static char *slurp(const char *dir) {
        static char buf[128];
        char p[PATH_MAX];
        ssize_t n;
        int fd;

        snprintf(p, sizeof p, "%s/memory.reclaim", dir);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
        return buf;
}

static void test_job(void **state) {
        char tmpl[] = "/tmp/test-reclaim-XXXXXX", a[64], b[64], gone[64], p[PATH_MAX];
        char *dirs[4] = {};
        Worker *w = NULL;
        ReclaimJob *job;
        sd_event *e = NULL;
        Seen seen = {};

        (void) state;
        assert_non_null(mkdtemp(tmpl));
        snprintf(a, sizeof a, "%s/a", tmpl);
        snprintf(b, sizeof b, "%s/b", tmpl);
        snprintf(gone, sizeof gone, "%s/gone", tmpl);
        assert_int_equal(mkdir(a, 0700), 0);
        assert_int_equal(mkdir(b, 0700), 0);
        snprintf(p, sizeof p, "%s/memory.reclaim", a);
        close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        snprintf(p, sizeof p, "%s/memory.reclaim", b);
        close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        dirs[0] = a;
        dirs[1] = gone;
        dirs[2] = b;

        job = reclaim_job_new(3, 4 << 20, 10, dirs);
        assert_non_null(job);
        assert_int_equal(job->n, 3);
        dirs[0] = NULL; /* copied: the caller's list may go */
        assert_string_equal(job->targets[0].cgroup_dir, a);

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, on_done, &seen, &w), 0);
        assert_int_equal(worker_submit(w, &job->base), 0);
        assert_true(worker_busy(w));
        while (!seen.done)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_false(worker_busy(w));

        /* every target written once, the one that is gone failing alone */
        assert_int_equal(seen.n, 3);
        assert_int_equal(seen.results[0], 0);
        assert_int_equal(seen.results[1], -ENOENT);
        assert_int_equal(seen.results[2], 0);
        assert_false(seen.refused);
        assert_string_equal(slurp(a), "4194304 swappiness=10");
        assert_string_equal(slurp(b), "4194304 swappiness=10");

        /* the kernel's own swappiness (the file emptied first: a plain file keeps what was past the write) */
        snprintf(p, sizeof p, "%s/memory.reclaim", a);
        assert_int_equal(truncate(p, 0), 0);
        dirs[0] = a;
        dirs[1] = NULL;
        job = reclaim_job_new(3, 8192, -1, dirs);
        assert_non_null(job);
        seen = (Seen){};
        assert_int_equal(worker_submit(w, &job->base), 0);
        while (!seen.done)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_int_equal(seen.results[0], 0);
        assert_string_equal(slurp(a), "8192");

        /* no cgroups: one write to the node's own nodeN/reclaim (no node 4095 here) */
        job = reclaim_job_new(4095, 4096, -1, NULL);
        assert_non_null(job);
        assert_int_equal(job->n, 1);
        assert_null(job->targets[0].cgroup_dir);
        seen = (Seen){};
        assert_int_equal(worker_submit(w, &job->base), 0);
        while (!seen.done)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_int_equal(seen.results[0], -ENOENT);

        w = worker_free(w);
        sd_event_unref(e);
        snprintf(p, sizeof p, "rm -rf '%s'", tmpl);
        assert_int_equal(system(p), 0);
}

/* A worker made before the loop blocks its signals (the broker's state writer is) must not take
 * one: SIGHUP's default action in that thread ended spmd at its first reload. */
typedef struct MaskJob {
        WorkerJob base;
        bool hup_blocked, term_blocked, done;
} MaskJob;

static void mask_job_run(WorkerJob *j) {
        MaskJob *m = (MaskJob *) j;
        sigset_t cur;

        assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
        m->hup_blocked = sigismember(&cur, SIGHUP) == 1;
        m->term_blocked = sigismember(&cur, SIGTERM) == 1;
}

static void on_mask_done(WorkerJob *j, void *userdata) {
        MaskJob *m = (MaskJob *) j, *out = userdata;

        *out = *m;
        out->done = true;
}

static void test_worker_takes_no_signal(void **state) {
        sigset_t none, cur;
        MaskJob *job, seen = {};
        Worker *w = NULL;
        sd_event *e = NULL;

        (void) state;
        sigemptyset(&none);
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &none, NULL), 0); /* as spmd before it blocks them */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, on_mask_done, &seen, &w), 0);
        /* the caller's mask is as it was */
        assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
        assert_int_equal(sigismember(&cur, SIGHUP), 0);
        job = calloc(1, sizeof *job);
        assert_non_null(job);
        job->base.run = mask_job_run;
        assert_int_equal(worker_submit(w, &job->base), 0);
        while (!seen.done)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_true(seen.hup_blocked);
        assert_true(seen.term_blocked);
        w = worker_free(w);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_job),
                cmocka_unit_test(test_worker_takes_no_signal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
