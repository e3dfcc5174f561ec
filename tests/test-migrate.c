/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The evacuation engine's walk on this machine's kernel, with real move_pages(2) calls on a child
 * process: budgets, the cursor, counting, sparse mappings, a process that goes away; a pass's first
 * job, which lists the granted cgroups' processes in the thread. The walks are
 * bounded to the child's own buffers (end_addr): under ASan every process also has terabytes of
 * sparse shadow mappings. The build machine has one NUMA
 * node, so pages "move" from node 0 to node 0 (the kernel reports them on the target, as for a page
 * that moved); moving between nodes for real is TEST-12 in the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "migrate-worker.h"
#include "migrate.h"

#define MIB (1u << 20)
#define SIZE (32 * MIB)

static pid_t child;
static uint64_t buf_addr, sparse_addr; /* in the child */
#define SPARSE (8ull << 30)

static int start_child(void **state) {
        int p[2];

        (void) state;
        assert_int_equal(pipe(p), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                char *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (buf == MAP_FAILED)
                        _exit(1);
                (void) madvise(buf, SIZE, MADV_NOHUGEPAGE); /* 4 KiB pages: the counts below are in them */
                /* a sparse reservation, as a JVM's heap or a sanitizer's shadow: 8 GiB, one page touched */
                char *sparse = mmap(NULL, SPARSE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                    -1, 0);
                if (sparse == MAP_FAILED)
                        _exit(1);
                sparse[12345 * 4096] = 1;
                for (size_t i = 0; i < SIZE; i += 4096)
                        buf[i] = (char) i;
                uint64_t addrs[2] = { (uint64_t) (uintptr_t) buf, (uint64_t) (uintptr_t) sparse };
                (void) !write(p[1], addrs, sizeof addrs);
                pause();
                _exit(0);
        }
        close(p[1]);
        uint64_t addrs[2];
        assert_int_equal(read(p[0], addrs, sizeof addrs), (ssize_t) sizeof addrs);
        buf_addr = addrs[0];
        sparse_addr = addrs[1];
        close(p[0]);
        return 0;
}

static int stop_child(void **state) {
        (void) state;
        if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
        }
        child = 0;
        return 0;
}

static NodeMask node0(void) {
        NodeMask m = {};
        nodemask_set(&m, 0);
        return m;
}

static void test_numa_maps_sees_the_buffer(void **state) {
        NodeMask m = node0();

        (void) state;
        assert_true(migrate_bytes_on_nodes(child, &m) >= (int64_t) SIZE);
}

/* Budgeted passes: each call moves at most its budget and resumes where the last stopped; the calls
 * together move every resident page exactly once. */
static void test_budget_and_cursor(void **state) {
        NodeMask from = node0();
        MigrateCursor cur = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE };
        MigrateStats st = {};
        int64_t total = 0;
        unsigned calls = 0;

        (void) state;
        while (!cur.done) {
                int64_t r = migrate_move_pages(&cur, &from, 0, 512, 1000, &st);
                assert_true(r >= 0);
                assert_true(r <= 1000);
                total += r;
                calls++;
                assert_true(calls < 100000);
        }
        assert_true(calls >= SIZE / 4096 / 1000);
        assert_int_equal(st.moved, (uint64_t) total);
        assert_int_equal(st.found, st.moved + st.busy + st.no_memory + st.failed);
        /* the buffer, all of it, once */
        assert_int_equal(total, SIZE / 4096);
        assert_true(st.scanned >= st.found);
        /* a finished cursor does nothing */
        assert_int_equal(migrate_move_pages(&cur, &from, 0, 512, 0, &st), 0);
}

/* Coldest first: with "cold" physical ranges (here: the frames of every other MiB of the buffer, as
 * the child's pagemap gives them) only pages in them move; the others are counted as not cold. Where
 * pagemap shows no frames (no CAP_SYS_ADMIN), the filter says so and lets every page through. */
static void test_cold_filter(void **state) {
        NodeMask from = node0();
        MigrateStats st = {};
        size_t pages = SIZE / 4096, n = 0;
        DamonRange *ranges = calloc(pages, sizeof *ranges);
        char path[64];
        bool have_pfn = true;
        int fd;

        (void) state;
        assert_non_null(ranges);
        snprintf(path, sizeof path, "/proc/%d/pagemap", (int) child);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (size_t i = 0; i < pages; i++) {
                uint64_t e, pfn;
                assert_int_equal(pread(fd, &e, sizeof e, (off_t) ((buf_addr / 4096 + i) * sizeof e)), (ssize_t) sizeof e);
                assert_true(e >> 63 & 1); /* present: the child touched every page */
                pfn = e & ((UINT64_C(1) << 55) - 1);
                if (pfn == 0)
                        have_pfn = false;
                if ((i / 256) % 2 == 0)
                        ranges[n++] = (DamonRange) { pfn * 4096, pfn * 4096 + 4096 };
        }
        close(fd);
        qsort(ranges, n, sizeof *ranges, damon_range_cmp);
        MigrateCold cold = { .ranges = ranges, .n = n };
        MigrateCursor cur = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE, .cold = &cold };
        int64_t r = migrate_move_pages(&cur, &from, 0, 1024, 0, &st);
        if (have_pfn) {
                assert_int_equal(r, (int64_t) pages / 2);
                assert_int_equal(cold.not_cold, pages / 2);
                assert_false(cold.no_pfn);
                /* the engine takes the same path for a cold pass, even for a process that fits */
                MigrateCursor again = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE, .cold = &cold };
                cold.not_cold = 0;
                assert_int_equal(migrate_evacuate(&again, &from, 0, 1024, 0, &st), (int64_t) pages / 2);
                assert_int_equal(cold.not_cold, pages / 2);
        } else {
                print_message("pagemap shows no page frames here (no CAP_SYS_ADMIN): the fallback is checked\n");
                assert_true(cold.no_pfn);
                assert_int_equal(r, (int64_t) pages);
        }
        assert_true(cur.done);
        free(ranges);
}

/* Unlimited: one call walks the buffer whole. */
static void test_unlimited(void **state) {
        NodeMask from = node0();
        MigrateCursor cur = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE };
        MigrateStats st = {};

        (void) state;
        assert_int_equal(migrate_move_pages(&cur, &from, 0, 4096, 0, &st), SIZE / 4096);
        assert_true(cur.done);
        assert_int_equal(st.scanned, SIZE / 4096);
}

/* A sparse mapping with a page on the node is walked, but in calls of at most MIGRATE_SCAN_MAX
 * addresses: a terabyte reservation cannot hold one call (and spmd's event loop) for minutes. */
static void test_sparse_is_walked_in_steps(void **state) {
        NodeMask from = node0();
        MigrateCursor cur = { .pid = child, .next_addr = sparse_addr, .end_addr = sparse_addr + SPARSE };
        MigrateStats st = {};
        int64_t moved = 0;
        unsigned calls = 0;

        (void) state;
        while (!cur.done) {
                uint64_t before = st.scanned;
                int64_t r = migrate_move_pages(&cur, &from, 0, 4096, 0, &st);
                assert_true(r >= 0);
                moved += r;
                assert_true(st.scanned - before <= MIGRATE_SCAN_MAX);
                calls++;
        }
        assert_int_equal(moved, 1);
        /* one a GiB (and one more that finds the end) */
        assert_true(calls >= SPARSE / 4096 / MIGRATE_SCAN_MAX && calls <= SPARSE / 4096 / MIGRATE_SCAN_MAX + 1);
}

/* Nothing on the source nodes: nothing found, nothing moved, the walk still ends. */
static void test_nothing_on_source(void **state) {
        NodeMask from = {};
        MigrateCursor cur = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE };
        MigrateStats st = {};

        (void) state;
        nodemask_set(&from, 7);
        assert_int_equal(migrate_move_pages(&cur, &from, 0, 4096, 100, &st), 0);
        assert_true(cur.done);
        assert_int_equal(st.found, 0);
        assert_int_equal(st.scanned, 0); /* numa_maps says nothing is there: nothing is walked */
}

static void test_whole_process(void **state) {
        NodeMask m = node0();

        (void) state;
        assert_int_equal(migrate_whole_process(child, &m, &m), 0);
}

typedef struct WorkerRun {
        MigrateCursor cursor;
        MigrateStats stats;
        int64_t total;
        unsigned jobs;
        bool done;
} WorkerRun;

static void on_job(WorkerJob *j, void *userdata) {
        MigrateJob *job = (MigrateJob *) j;
        WorkerRun *w = userdata;

        assert_true(job->result >= 0);
        assert_true(job->result <= (int64_t) job->budget);
        assert_int_equal(job->stats.moved, (uint64_t) job->result);
        assert_null(job->cursor.cold);
        migrate_stats_add(&w->stats, &job->stats);
        w->total += job->result;
        w->cursor = job->cursor; /* carried to the next job, as act.c does */
        w->jobs++;
        w->done = true;
}

/* The evacuation thread: jobs run off the loop, one at a time (a second is refused while one runs),
 * and the loop gets each job back with its results; the cursor carried from job to job walks the
 * buffer once, as the synchronous calls do. Freeing the worker with a job running waits for it. */
static void test_worker(void **state) {
        NodeMask from = node0();
        WorkerRun run = { .cursor = { .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE } };
        Worker *w = NULL;
        sd_event *e = NULL;

        (void) state;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, on_job, &run, &w), 0);
        assert_false(worker_busy(w));
        while (!run.cursor.done) {
                MigrateJob *job = migrate_job_new(), *second = migrate_job_new();

                assert_non_null(job);
                assert_non_null(second);
                job->cursor = run.cursor;
                job->from = from;
                job->batch = 512;
                job->budget = 1000;
                assert_int_equal(worker_submit(w, &job->base), 0);
                assert_true(worker_busy(w));
                assert_int_equal(worker_submit(w, &second->base), -EBUSY);
                migrate_job_free(second);
                run.done = false;
                while (!run.done)
                        assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
                assert_false(worker_busy(w));
                assert_true(run.jobs < 100000);
        }
        assert_int_equal(run.total, SIZE / 4096);
        assert_int_equal(run.stats.moved, (uint64_t) run.total);

        /* a job still in the kernel when spmd stops: free waits, nothing leaks (ASan) */
        MigrateJob *job = migrate_job_new();
        assert_non_null(job);
        job->cursor = (MigrateCursor){ .pid = child, .next_addr = buf_addr, .end_addr = buf_addr + SIZE };
        job->from = from;
        job->batch = 512;
        job->budget = UINT64_MAX;
        assert_int_equal(worker_submit(w, &job->base), 0);
        w = worker_free(w);
        assert_null(w);
        sd_event_unref(e);
}

/* A pass's first job lists the granted cgroups' processes in the thread (cgroup.procs of each and
 * of its subtree; plain files stand in for cgroupfs here); it moves nothing. */
static void on_list(WorkerJob *j, void *userdata) {
        MigrateJob *job = (MigrateJob *) j, *out = userdata;

        out->n_pids = job->n_pids;
        out->pids = job->pids;
        job->pids = NULL; /* taken */
        out->result = job->result;
        out->stats = job->stats;
        out->node = 1; /* done */
}

static void put(const char *dir, const char *name, const char *text) {
        char p[512];
        FILE *f;

        snprintf(p, sizeof p, "%s/%s", dir, name);
        assert_int_equal(mkdir(dir, 0700) < 0 && errno != EEXIST, 0);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int cmp_pid(const void *a, const void *b) {
        return *(const pid_t *) a - *(const pid_t *) b;
}

static void test_list_job(void **state) {
        char tmpl[] = "/tmp/test-migrate-XXXXXX", a[64], sub[80], b[64], cmd[128];
        MigrateJob *job, out = {};
        char **dirs;
        Worker *w = NULL;
        sd_event *e = NULL;
        static const pid_t want[] = { 1, 2, 10, 20 };

        (void) state;
        assert_non_null(mkdtemp(tmpl));
        snprintf(a, sizeof a, "%s/a", tmpl);
        snprintf(sub, sizeof sub, "%s/a/sub", tmpl);
        snprintf(b, sizeof b, "%s/b", tmpl);
        put(a, "cgroup.procs", "1\n2\n");
        put(sub, "cgroup.procs", "10\n");
        put(b, "cgroup.procs", "20\n");
        dirs = calloc(3, sizeof *dirs);
        assert_non_null(dirs);
        dirs[0] = strdup(a); /* and its subtree */
        dirs[1] = strdup(b);
        assert_non_null(dirs[0]);
        assert_non_null(dirs[1]);
        job = migrate_list_job_new(dirs);
        assert_non_null(job);

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, on_list, &out, &w), 0);
        assert_int_equal(worker_submit(w, &job->base), 0);
        while (!out.node)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_int_equal(out.n_pids, ELEMENTSOF(want));
        qsort(out.pids, out.n_pids, sizeof *out.pids, cmp_pid);
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                assert_int_equal(out.pids[i], want[i]);
        assert_int_equal(out.result, 0);
        assert_int_equal(out.stats.scanned + out.stats.moved + out.stats.calls, 0); /* nothing moved */
        free(out.pids);

        /* no cgroups at all: an empty list, not a failure */
        job = migrate_list_job_new(NULL);
        assert_non_null(job);
        out = (MigrateJob){};
        assert_int_equal(worker_submit(w, &job->base), 0);
        while (!out.node)
                assert_true(sd_event_run(e, 10 * 1000 * 1000) >= 0);
        assert_int_equal(out.n_pids, 0);

        w = worker_free(w);
        sd_event_unref(e);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        assert_int_equal(system(cmd), 0);
}

static void test_gone(void **state) {
        NodeMask m = node0();
        MigrateCursor cur = {};
        MigrateStats st = {};

        (void) state;
        stop_child(state);
        cur.pid = child ? child : 0x7ffffff0;
        assert_int_equal(migrate_move_pages(&cur, &m, 0, 16, 0, &st), -ESRCH);
        assert_int_equal(migrate_bytes_on_nodes(cur.pid, &m), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_numa_maps_sees_the_buffer, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_budget_and_cursor, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_unlimited, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_cold_filter, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_sparse_is_walked_in_steps, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_nothing_on_source, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_whole_process, start_child, stop_child),
                cmocka_unit_test_setup_teardown(test_worker, start_child, stop_child),
                cmocka_unit_test(test_gone),
                cmocka_unit_test(test_list_job),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
