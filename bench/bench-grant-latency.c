/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-grant-latency: how long a client waits for a grant that is in force.
 *
 * RequestAccess replies once the cpuset wall and the BPF maps carry the
 * grant, so its round trip is the time to a grant in force; each reply is
 * checked against the cgroup's cpuset.mems.effective (outside the timing).
 * The baseline, measured in the same run on the same bus, is the floor of a
 * round trip to spmd: org.freedesktop.DBus.Peer.Ping, which sd-bus answers
 * without spmd's code. Then a load phase: many clients, each on its own
 * connection, request and release for a bounded time; afterwards no grant
 * may be left and spmd's RSS is compared with its RSS before.
 *
 * Needs a running spmd with an SPM node on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS), and root; says so and exits 0 otherwise.
 * usage: bench-grant-latency [N-GRANTS [CLIENTS [SECONDS]]]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-bus.h"
#include "fileio.h"

#define CG "/sys/fs/cgroup"
#define BENCH_CG "/spmd-bench"

/* Does cgroup's cpuset.mems.effective name node? */
static int effective_has(const char *cgroup, unsigned node) {
        char p[512], buf[256];

        snprintf(p, sizeof p, CG "%s/cpuset.mems.effective", cgroup);
        if (read_one_line(p, buf, sizeof buf) < 0)
                return -1;
        /* "0-1", "0,2", "1": good enough for small node numbers */
        for (char *t = strtok(buf, ",\n"); t; t = strtok(NULL, ",\n")) {
                unsigned a, b;
                int n = sscanf(t, "%u-%u", &a, &b);
                if ((n == 2 && node >= a && node <= b) || (n == 1 && node == a))
                        return 1;
        }
        return 0;
}

/* A line of /proc/PID/status in kB: VmRSS (all of it), RssAnon (what spmd allocated; RssFile also
 * counts the library code a load touches for the first time). */
static uint64_t status_kb(pid_t pid, const char *key) {
        char p[64], line[256];
        size_t n = strlen(key);
        uint64_t kb = 0;
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, key, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%" SCNu64, &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

static unsigned n_grants(sd_bus *bus) {
        sd_bus_message *reply = NULL;
        uint32_t n = UINT32_MAX;

        if (sd_bus_get_property(bus, "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "NGrants", NULL, &reply, "u") >= 0)
                (void) sd_bus_message_read(reply, "u", &n);
        sd_bus_message_unref(reply);
        return n;
}

/* One timed round: Ping (the floor), RequestAccess, a look at the cgroup, ReleaseAccess. */
static int timed_grant(sd_bus *bus, unsigned node, uint64_t *floor, uint64_t *req, uint64_t *rel,
                       unsigned *not_in_force) {
        char path[128];
        uint64_t t0 = now_ns();

        if (ping(bus) < 0)
                return -1;
        uint64_t t1 = now_ns();
        if (request(bus, BENCH_CG "/one", path, sizeof path) < 0)
                return -1;
        uint64_t t2 = now_ns();
        if (effective_has(BENCH_CG "/one", node) != 1)
                (*not_in_force)++;
        uint64_t t3 = now_ns();
        if (release(bus, path) < 0)
                return -1;
        *floor = t1 - t0;
        *req = t2 - t1;
        *rel = now_ns() - t3;
        return 0;
}

/* One client of the load phase: request and release on its own cgroup until the deadline. */
static void load_client(unsigned i, uint64_t deadline, unsigned *ok, unsigned *failed) {
        sd_bus *bus = NULL;
        char cg[128], path[128];

        snprintf(cg, sizeof cg, BENCH_CG "/load-%u", i);
        if (sd_bus_open_system(&bus) < 0) {
                (*failed)++;
                return;
        }
        while (now_ns() < deadline) {
                if (request(bus, cg, path, sizeof path) < 0 || release(bus, path) < 0)
                        (*failed)++;
                else
                        (*ok)++;
        }
        sd_bus_flush_close_unref(bus);
}

int main(int argc, char *argv[]) {
        unsigned n = argc > 1 ? (unsigned) atoi(argv[1]) : 1000;
        unsigned clients = argc > 2 ? (unsigned) atoi(argv[2]) : 200;
        unsigned seconds = argc > 3 ? (unsigned) atoi(argv[3]) : 10;
        uint64_t *req, *rel, *floor;
        sd_bus *bus = NULL;
        unsigned node, not_in_force = 0; /* counted over every timed grant */
        uint32_t spmd_pid = 0;
        char path[128];
        int r;

        if (geteuid() != 0) {
                printf("bench/grant-latency: skipped: needs root (it creates cgroups)\n");
                return 0;
        }
        if (n < 10 || clients < 1 || seconds < 1) {
                fprintf(stderr, "usage: %s [N-GRANTS>=10 [CLIENTS [SECONDS]]]\n", argv[0]);
                return 2;
        }
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = spm_node(bus, &node);
        if (r < 0) {
                printf("bench/grant-latency: skipped: needs spmd with an SPM node on the system bus (%s); "
                       "scripts/bench runs it in the test guest\n",
                       strerror(-r));
                return 0;
        }
        {
                sd_bus_message *reply = NULL;
                if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetConnectionUnixProcessID", NULL, &reply, "s", "org.spmd1") >= 0)
                        (void) sd_bus_message_read(reply, "u", &spmd_pid);
                sd_bus_message_unref(reply);
        }
        if (mkdir(CG BENCH_CG, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "mkdir " CG BENCH_CG ": %m\n");
                return 1;
        }
        (void) mkdir(CG BENCH_CG "/one", 0755);

        req = calloc(n, sizeof *req);
        rel = calloc(n, sizeof *rel);
        floor = calloc(n, sizeof *floor);
        if (!req || !rel || !floor)
                return 1;
        for (unsigned i = 0; i < 50; i++) /* warm up both paths */
                if (ping(bus) < 0 || request(bus, BENCH_CG "/one", path, sizeof path) < 0 || release(bus, path) < 0)
                        return 1;
        /* interleaved, so drift hits both alike */
        for (unsigned i = 0; i < n; i++)
                if (timed_grant(bus, node, &floor[i], &req[i], &rel[i], &not_in_force) < 0)
                        return 1;
        qsort(floor, n, sizeof *floor, cmp_u64);
        qsort(req, n, sizeof *req, cmp_u64);
        qsort(rel, n, sizeof *rel, cmp_u64);
        uint64_t f50 = pct(floor, n, 0.5), f99 = pct(floor, n, 0.99);
        printf("bench/grant-latency: RequestAccess until in force (one client, %u grants), p50 = %.2fx bus round trip "
               "(%.0f us vs %.0f us Ping), p99 = %.2fx (%.0f us vs %.0f us; target <= 3x); %u of %u grants "
               "not in force at the reply\n",
               n, (double) pct(req, n, 0.5) / (double) f50, pct(req, n, 0.5) / 1e3, f50 / 1e3,
               (double) pct(req, n, 0.99) / (double) f99, pct(req, n, 0.99) / 1e3, f99 / 1e3, not_in_force, n);
        printf("bench/grant-latency: ReleaseAccess, p50 = %.2fx bus round trip (%.0f us), p99 = %.2fx (%.0f us)\n",
               (double) pct(rel, n, 0.5) / (double) f50, pct(rel, n, 0.5) / 1e3,
               (double) pct(rel, n, 0.99) / (double) f99, pct(rel, n, 0.99) / 1e3);

        /* ---- a client's first request: a new connection each time (spmd asks the bus who it is) ---- */
        unsigned n_cold = n / 10;
        for (unsigned i = 0; i < n_cold; i++) {
                sd_bus *fresh = NULL;
                if (sd_bus_open_system(&fresh) < 0 || ping(fresh) < 0) /* connected, Hello done */
                        return 1;
                if (timed_grant(fresh, node, &floor[i], &req[i], &rel[i], &not_in_force) < 0)
                        return 1;
                sd_bus_flush_close_unref(fresh);
        }
        qsort(floor, n_cold, sizeof *floor, cmp_u64);
        qsort(req, n_cold, sizeof *req, cmp_u64);
        f50 = pct(floor, n_cold, 0.5);
        f99 = pct(floor, n_cold, 0.99);
        printf("bench/grant-latency: first RequestAccess of a new client (%u), p50 = %.2fx bus round trip (%.0f us vs "
               "%.0f us), p99 = %.2fx (%.0f us vs %.0f us)\n",
               n_cold, (double) pct(req, n_cold, 0.5) / (double) f50, pct(req, n_cold, 0.5) / 1e3, f50 / 1e3,
               (double) pct(req, n_cold, 0.99) / (double) f99, pct(req, n_cold, 0.99) / 1e3, f99 / 1e3);

        /* ---- load: many clients at once ---- */
        uint64_t rss0 = spmd_pid ? status_kb((pid_t) spmd_pid, "VmRSS") : 0;
        uint64_t anon0 = spmd_pid ? status_kb((pid_t) spmd_pid, "RssAnon") : 0;
        unsigned *counts = mmap(NULL, 2 * clients * sizeof *counts, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counts == MAP_FAILED)
                return 1;
        memset(counts, 0, 2 * clients * sizeof *counts);
        for (unsigned i = 0; i < clients; i++) {
                char cg[128];
                snprintf(cg, sizeof cg, CG BENCH_CG "/load-%u", i);
                (void) mkdir(cg, 0755);
        }
        /* two rounds: what the first leaves is what a peak of clients costs (tables sized for them,
         * library code touched); the second must not add to it, or spmd leaks */
        uint64_t anon_first = 0;
        unsigned failed_total = 0, left = 0;
        for (unsigned round = 1; round <= 2; round++) {
                uint64_t deadline = now_ns() + (uint64_t) seconds * 1000000000u;
                for (unsigned i = 0; i < clients; i++) {
                        pid_t pid = fork();
                        if (pid == 0) {
                                load_client(i, deadline, &counts[2 * i], &counts[2 * i + 1]);
                                _exit(0);
                        }
                        if (pid < 0)
                                counts[2 * i + 1]++;
                }
                while (wait(NULL) > 0)
                        ;
                unsigned done = 0, failed = 0;
                for (unsigned i = 0; i < clients; i++) {
                        done += counts[2 * i];
                        failed += counts[2 * i + 1];
                }
                usleep(1500000); /* disconnects processed, and spmd has given back what the burst freed (1 s after) */
                left = n_grants(bus);
                failed_total += failed;
                uint64_t rss1 = spmd_pid ? status_kb((pid_t) spmd_pid, "VmRSS") : 0;
                uint64_t anon1 = spmd_pid ? status_kb((pid_t) spmd_pid, "RssAnon") : 0;
                if (round == 1) {
                        anon_first = anon1;
                        printf("bench/grant-latency: load of %u clients for %u s: %u grants requested and released (%.0f/s), "
                               "%u failure(s), %u grant(s) left; spmd's anonymous memory %.2fx before (%" PRIu64 " kB -> %" PRIu64
                               " kB), RSS %.2fx (%" PRIu64 " kB -> %" PRIu64 " kB)\n",
                               clients, seconds, done, done / (double) seconds, failed, left,
                               anon0 ? (double) anon1 / (double) anon0 : 0, anon0, anon1,
                               rss0 ? (double) rss1 / (double) rss0 : 0, rss0, rss1);
                } else
                        printf("bench/grant-latency: the same load again: %u grants, %u failure(s), %u left; spmd's anonymous "
                               "memory %.2fx after the first round (%" PRIu64 " kB -> %" PRIu64 " kB; target <= 1.10x: %s)\n",
                               done, failed, left, anon_first ? (double) anon1 / (double) anon_first : 0, anon_first, anon1,
                               anon_first && anon1 * 10 <= anon_first * 11 ? "met" : "MISSED");

                memset(counts, 0, 2 * clients * sizeof *counts);
        }
        for (unsigned i = 0; i < clients; i++) {
                char cg[128];
                snprintf(cg, sizeof cg, CG BENCH_CG "/load-%u", i);
                (void) rmdir(cg);
        }
        (void) rmdir(CG BENCH_CG "/one");
        (void) rmdir(CG BENCH_CG);
        sd_bus_flush_close_unref(bus);
        return failed_total || left || not_in_force ? 1 : 0;
}
