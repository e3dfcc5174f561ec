/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How fast spmd's evacuation engine moves a process's pages off an SPM node:
 * GiB/s for N MiB from a CPU-less node to node 0, in the same run, against
 *   - numactl's migratepages(8) (migrate_pages(2) in one call, as an
 *     operator would do it by hand), and
 *   - a naive loop of one move_pages(2) call per page.
 * spmd's engine (migrate_evacuate(), migrate.c) moves a process whose pages
 * on the node fit its budget with one migrate_pages(2) call, as here where
 * the whole buffer goes; "engine, batches" is its path for a budget smaller
 * than the process: walk the mappings, ask where each batch of BatchPages=
 * pages is, move the ones on the node (move_pages(2)). Each round starts a fresh child that binds
 * to the SPM node and fills the buffer with a pattern; after the move the
 * child checks the pattern, and the pages left on the SPM node are counted:
 * a method that loses data or leaves pages behind fails the run.
 *
 * Targets (issue 7): >= 1.0x migratepages, >= 3x the naive loop.
 * Needs root and a CPU-less node with memory: elsewhere it says so.
 */
#include <errno.h>
#include <inttypes.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

#define ROUNDS 5
#define BATCH 4096 /* [Evacuation] BatchPages= default */

enum { M_ENGINE, M_ENGINE_BATCHES, M_MIGRATEPAGES, M_NAIVE, N_METHODS };
static const char *const names[N_METHODS] = { "engine", "engine, batches", "migratepages(8)", "naive move_pages loop" };

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

typedef struct Child {
        pid_t pid;
        int cmd, ans; /* pipes: we write cmd, read ans */
        uintptr_t base;
} Child;

/* A child bound to node spm with mib MiB filled; it answers 'c' (check) with 'y' or 'n'. */
static int child_start(int spm, size_t mib, Child *c) {
        int to[2], from[2];

        if (pipe(to) < 0 || pipe(from) < 0)
                return -errno;
        c->pid = fork();
        if (c->pid < 0)
                return -errno;
        if (c->pid == 0) {
                unsigned long mask = 1ul << spm;
                size_t size = mib << 20;
                char *buf, x;

                close(to[1]);
                close(from[0]);
                if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64) < 0)
                        _exit(2);
                buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (buf == MAP_FAILED)
                        _exit(3);
                for (size_t i = 0; i < size; i += sizeof(uint64_t))
                        *(uint64_t *) (buf + i) = i * 0x9E3779B97F4A7C15ull;
                uintptr_t base = (uintptr_t) buf;
                if (write(from[1], &base, sizeof base) != sizeof base)
                        _exit(4);
                while (read(to[0], &x, 1) == 1) {
                        char ok = 'y';
                        for (size_t i = 0; i < size; i += sizeof(uint64_t))
                                if (*(uint64_t *) (buf + i) != i * 0x9E3779B97F4A7C15ull) {
                                        ok = 'n';
                                        break;
                                }
                        if (write(from[1], &ok, 1) != 1)
                                _exit(5);
                }
                _exit(0);
        }
        close(to[0]);
        close(from[1]);
        c->cmd = to[1];
        c->ans = from[0];
        if (read(c->ans, &c->base, sizeof c->base) != sizeof c->base) {
                waitpid(c->pid, NULL, 0);
                return -EIO;
        }
        return 0;
}

static bool child_intact(Child *c) {
        char ok = 0;
        return write(c->cmd, "c", 1) == 1 && read(c->ans, &ok, 1) == 1 && ok == 'y';
}

static void child_stop(Child *c) {
        close(c->cmd);
        close(c->ans);
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
}

static int run_migratepages(pid_t pid, int from, int to) {
        char p[16], f[16], t[16];
        int status;
        pid_t k;

        snprintf(p, sizeof p, "%d", (int) pid);
        snprintf(f, sizeof f, "%d", from);
        snprintf(t, sizeof t, "%d", to);
        k = fork();
        if (k == 0) {
                execlp("migratepages", "migratepages", p, f, t, (char *) NULL);
                _exit(127);
        }
        if (k < 0 || waitpid(k, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int naive(Child *c, size_t mib, int to) {
        size_t n = (mib << 20) / 4096;

        for (size_t i = 0; i < n; i++) {
                void *page = (void *) (c->base + i * 4096);
                int node = to, status;
                if (syscall(SYS_move_pages, c->pid, 1ul, &page, &node, &status, MPOL_MF_MOVE_ALL) < 0)
                        return -errno;
        }
        return 0;
}

static int move(int method, Child *c, size_t mib, int spm, int to) {
        NodeMask from = {};
        MigrateCursor cur = { .pid = c->pid };
        MigrateStats st = {};

        nodemask_set(&from, (unsigned) spm);
        switch (method) {
        case M_ENGINE:
        case M_ENGINE_BATCHES:
                /* all of it, or a budget of a batch at a time */
                while (!cur.done) {
                        int64_t r = migrate_evacuate(&cur, &from, to, BATCH, method == M_ENGINE ? 0 : BATCH, &st);
                        if (r < 0)
                                return (int) r;
                }
                return st.moved > 0 ? 0 : -ENODATA;
        case M_MIGRATEPAGES:
                return run_migratepages(c->pid, spm, to);
        default:
                return naive(c, mib, to);
        }
}

static int find_spm_node(void) {
        for (int n = 1; n < 64; n++) {
                char p[96], buf[64] = "";
                FILE *f;

                snprintf(p, sizeof p, "/sys/devices/system/node/node%d/cpulist", n);
                f = fopen(p, "re");
                if (!f)
                        continue;
                if (!fgets(buf, sizeof buf, f))
                        buf[0] = '\0';
                fclose(f);
                if (buf[0] == '\n' || buf[0] == '\0')
                        return n;
        }
        return -1;
}

int main(int argc, char *argv[]) {
        size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 128;
        double gibs[N_METHODS][ROUNDS], med[N_METHODS];
        int spm = find_spm_node(), rc = 0;

        if (geteuid() != 0) {
                printf("bench/evacuate: needs root (move_pages on another process); not measured\n");
                return 0;
        }
        if (spm < 0) {
                printf("bench/evacuate: needs a CPU-less NUMA node with memory (this machine has none); not measured\n");
                return 0;
        }
        printf("# %zu MiB from node %d to node 0, %d rounds, methods interleaved; median GiB/s\n", mib, spm, ROUNDS);
        for (int r = 0; r < ROUNDS; r++)
                for (int m = 0; m < N_METHODS; m++) {
                        NodeMask on = {};
                        Child c;
                        uint64_t t0, t1;
                        int64_t left;

                        if (child_start(spm, mib, &c) < 0) {
                                printf("bench/evacuate: cannot start a child bound to node %d\n", spm);
                                return 1;
                        }
                        nodemask_set(&on, (unsigned) spm);
                        t0 = now_ns();
                        int e = move(m, &c, mib, spm, 0);
                        t1 = now_ns();
                        left = migrate_bytes_on_nodes(c.pid, &on);
                        if (e < 0 || !child_intact(&c) || left > (int64_t) (mib << 20) / 100) {
                                printf("bench/evacuate: %s FAILED: %s, %" PRId64 " bytes left on node %d\n", names[m],
                                       e < 0 ? strerror(-e) : "data or pages wrong", left, spm);
                                rc = 1;
                        }
                        gibs[m][r] = (double) (mib << 20) / (1 << 30) / ((double) (t1 - t0) / 1e9);
                        child_stop(&c);
                }
        for (int m = 0; m < N_METHODS; m++) {
                qsort(gibs[m], ROUNDS, sizeof(double), cmp_double);
                med[m] = gibs[m][ROUNDS / 2];
        }
        printf("bench/evacuate: engine = %.2fx migratepages (%.3f GiB/s vs %.3f GiB/s); target >= 1.0x: %s\n",
               med[M_ENGINE] / med[M_MIGRATEPAGES], med[M_ENGINE], med[M_MIGRATEPAGES],
               med[M_ENGINE] >= med[M_MIGRATEPAGES] ? "met" : "MISSED");
        printf("bench/evacuate: engine = %.2fx naive move_pages loop (%.3f GiB/s vs %.3f GiB/s); target >= 3x: %s\n",
               med[M_ENGINE] / med[M_NAIVE], med[M_ENGINE], med[M_NAIVE], med[M_ENGINE] >= 3 * med[M_NAIVE] ? "met" : "MISSED");
        printf("bench/evacuate: engine, batches of %d pages = %.2fx migratepages (%.3f GiB/s)\n", BATCH,
               med[M_ENGINE_BATCHES] / med[M_MIGRATEPAGES], med[M_ENGINE_BATCHES]);
        return rc;
}
