/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-loop-latency: how long a client waits for spmd while spmd is busy.
 *
 * A round trip to spmd (org.freedesktop.DBus.Peer.Ping, answered by sd-bus on spmd's event loop
 * without spmd's code) waits for whatever the loop is doing when it arrives. First its p99 with
 * spmd idle, then under a mixed load, all at once: CLIENTS clients requesting and releasing
 * grants, a SIGHUP reload every second, and an evacuation (a granted process allocating on the
 * SPM node over and over while the node's compression ratio, written to RATIO-FILE as a driver's
 * attribute would be, says the media is full). The figure: p99 Ping under load as a ratio to p99
 * Ping idle (target <= 3x), beside spmd's own account (GetStatus LoopLatencyMaxUSec and P99).
 *
 * The same round trips go to dbus-daemon itself (GetId, which its driver answers), idle and under the
 * load, side by side with spmd's: what a round trip costs on that machine with that load running
 * whatever spmd does (the load's processes, the bus daemon's own queue and the CPUs they share).
 * It is printed beside the figure, as spmd's p99 over the bus's under the same load.
 *
 * Needs root and a running spmd with an SPM node on the system bus, configured with
 * CompressionRatioPath=RATIO-FILE, PhysicalCapacity= and RefuseGrantsAt=never (tests/vm/bench.sh);
 * says so and exits 0 otherwise.
 * usage: bench-loop-latency RATIO-FILE [CLIENTS [SECONDS [HOLD-MS]]]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-bus.h"
#include "spmd/bus.h"

#define CG "/sys/fs/cgroup"
#define BENCH_CG "/spmd-bench-mixed"
#define MPOL_BIND 2
#define CHURN_BYTES (16u << 20)
#define MAX_OUTSTANDING 100

typedef struct Status {
        uint64_t loop_max_usec, loop_p99_usec, loop_dispatches, evacuated_pages;
        uint32_t reloads;
} Status;

/* The figures this bench reports from GetStatus: the loop's, the reload count, node's evacuated pages. */
static int get_status(sd_bus *bus, unsigned node, Status *ret) {
        sd_bus_message *reply = NULL;
        const char *key, *contents;
        Status s = {};
        int r;

        r = sd_bus_call_method(bus, "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "GetStatus", NULL, &reply, "");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                char type;

                if ((r = sd_bus_message_read(reply, "s", &key)) < 0 ||
                    (r = sd_bus_message_peek_type(reply, &type, &contents)) < 0 ||
                    (r = sd_bus_message_enter_container(reply, 'v', contents)) < 0)
                        break;
                if (strcmp(key, SPMD_STATUS_LOOP_LATENCY_MAX_USEC) == 0)
                        r = sd_bus_message_read(reply, "t", &s.loop_max_usec);
                else if (strcmp(key, SPMD_STATUS_LOOP_LATENCY_P99_USEC) == 0)
                        r = sd_bus_message_read(reply, "t", &s.loop_p99_usec);
                else if (strcmp(key, SPMD_STATUS_LOOP_DISPATCHES) == 0)
                        r = sd_bus_message_read(reply, "t", &s.loop_dispatches);
                else if (strcmp(key, SPMD_STATUS_RELOADS) == 0)
                        r = sd_bus_message_read(reply, "u", &s.reloads);
                else if (strcmp(key, SPMD_STATUS_NODE_ACTIVITY) == 0) {
                        r = sd_bus_message_enter_container(reply, 'a', "a{sv}");
                        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'a', "{sv}")) > 0) {
                                uint32_t n = UINT32_MAX;
                                uint64_t pages = 0;
                                while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                                        const char *k, *c;
                                        char t;
                                        if ((r = sd_bus_message_read(reply, "s", &k)) < 0 ||
                                            (r = sd_bus_message_peek_type(reply, &t, &c)) < 0)
                                                break;
                                        if (strcmp(k, SPMD_NODE_NODE) == 0 && strcmp(c, "u") == 0)
                                                r = sd_bus_message_read(reply, "v", "u", &n);
                                        else if (strcmp(k, SPMD_NODE_EVACUATED_PAGES) == 0 && strcmp(c, "t") == 0)
                                                r = sd_bus_message_read(reply, "v", "t", &pages);
                                        else
                                                r = sd_bus_message_skip(reply, "v");
                                        if (r >= 0)
                                                r = sd_bus_message_exit_container(reply);
                                }
                                if (r >= 0)
                                        r = sd_bus_message_exit_container(reply);
                                if (n == node)
                                        s.evacuated_pages = pages;
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else
                        r = sd_bus_message_skip(reply, contents);
                if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
                    (r = sd_bus_message_exit_container(reply)) < 0)
                        break;
        }
        sd_bus_message_unref(reply);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

static int write_ratio(const char *path, const char *value) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.new", path);
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "%s\n", value);
        if (fclose(f) != 0)
                return -errno;
        return rename(tmp, path) < 0 ? -errno : 0;
}

/* Allocate CHURN_BYTES on node, touch it, give it back, until the deadline: the node keeps filling
 * and spmd keeps evacuating. Waits on go (a pipe) for the grant first. */
static void churn(unsigned node, int go, uint64_t deadline) {
        unsigned long mask = 1ul << node;
        char c;

        if (read(go, &c, 1) != 1)
                _exit(1);
        if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, sizeof mask * 8) < 0)
                _exit(2);
        while (now_ns() < deadline) {
                char *p = mmap(NULL, CHURN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(3);
                for (size_t off = 0; off < CHURN_BYTES; off += 4096)
                        p[off] = 1;
                usleep(50000); /* long enough for spmd to find the pages on the node */
                munmap(p, CHURN_BYTES);
        }
        _exit(0);
}

/* One client: holds a grant for a while (HOLD_MS, 0.5x to 1.5x at random), gives it back, asks
 * again; its first request at a random moment of the first HOLD_MS. An open load that a broker
 * keeps up with, so that what Ping measures is the loop's own stalls, not a queue of requests. */
typedef struct PingLog {
        uint64_t *sent, *lat; /* when each Ping went; the answered ones' round trips */
        size_t cap, n_sent, n_lat;
        unsigned n_done;
} PingLog;

/* Pings are answered in order on one connection: the n-th reply is the n-th Ping's. */
static int on_ping(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        PingLog *pl = userdata;

        (void) error;
        if (!sd_bus_message_is_method_error(m, NULL) && pl->n_done < pl->n_sent)
                pl->lat[pl->n_lat++] = now_ns() - pl->sent[pl->n_done];
        pl->n_done++;
        return 0;
}

static int ping_bus(sd_bus *bus) {
        return sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                  "GetId", NULL, NULL, NULL);
}

static void load_client(unsigned i, uint64_t deadline, unsigned hold_ms, unsigned *ok) {
        sd_bus *bus = NULL;
        char cg[128], path[128];
        unsigned seed = i * 2654435761u;

        snprintf(cg, sizeof cg, BENCH_CG "/load-%u", i);
        if (sd_bus_open_system(&bus) < 0)
                return;
        usleep((useconds_t) (rand_r(&seed) % hold_ms) * 1000);
        while (now_ns() < deadline) {
                if (request(bus, cg, path, sizeof path) < 0)
                        break;
                usleep((useconds_t) (hold_ms / 2 + (unsigned) rand_r(&seed) % hold_ms) * 1000);
                if (release(bus, path) < 0)
                        break;
                (*ok)++;
        }
        sd_bus_flush_close_unref(bus);
}

int main(int argc, char *argv[]) {
        const char *ratio = argc > 1 ? argv[1] : NULL;
        unsigned clients = argc > 2 ? (unsigned) atoi(argv[2]) : 200;
        unsigned seconds = argc > 3 ? (unsigned) atoi(argv[3]) : 20;
        unsigned hold_ms = argc > 4 ? (unsigned) atoi(argv[4]) : 20000;
        enum { N_IDLE = 1000 };
        uint64_t idle[N_IDLE], bus_idle[N_IDLE], *busy, *bus_busy;
        size_t n_busy = 0, cap;
        uint32_t spmd_pid = 0;
        Status st0, st1;
        sd_bus *bus = NULL;
        unsigned node, *counts;
        char path[128], cg[160];
        int go[2], r;

        if (!ratio || clients < 1 || seconds < 1 || hold_ms < 1) {
                fprintf(stderr, "usage: %s RATIO-FILE [CLIENTS [SECONDS [HOLD-MS]]]\n", argv[0]);
                return 2;
        }
        if (geteuid() != 0) {
                printf("bench/loop-latency: skipped: needs root (it creates cgroups)\n");
                return 0;
        }
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = spm_node(bus, &node);
        if (r < 0) {
                printf("bench/loop-latency: skipped: needs spmd with an SPM node on the system bus (%s); "
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
        if (spmd_pid == 0 || write_ratio(ratio, "3.00") < 0) {
                fprintf(stderr, "bench/loop-latency: cannot find spmd's pid or write %s\n", ratio);
                return 1;
        }

        /* ---- idle: spmd has nothing else to do ---- */
        sleep(2); /* the ratio read back, nothing acting */
        for (unsigned i = 0; i < 50; i++)
                (void) ping(bus);
        for (unsigned i = 0; i < N_IDLE; i++) {
                uint64_t t = now_ns();
                if (ping(bus) < 0)
                        return 1;
                idle[i] = now_ns() - t;
                t = now_ns();
                if (ping_bus(bus) < 0) {
                        fprintf(stderr, "bench/loop-latency: dbus-daemon does not answer GetId\n");
                        return 1;
                }
                bus_idle[i] = now_ns() - t;
                usleep(2000);
        }
        qsort(idle, N_IDLE, sizeof *idle, cmp_u64);
        qsort(bus_idle, N_IDLE, sizeof *bus_idle, cmp_u64);

        /* ---- the mixed load ---- */
        if (mkdir(CG BENCH_CG, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "mkdir " CG BENCH_CG ": %m\n");
                return 1;
        }
        (void) mkdir(CG BENCH_CG "/churn", 0755);
        for (unsigned i = 0; i < clients; i++) {
                snprintf(cg, sizeof cg, CG BENCH_CG "/load-%u", i);
                (void) mkdir(cg, 0755);
        }
        counts = mmap(NULL, clients * sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cap = (size_t) seconds * 1000;
        busy = calloc(cap, sizeof *busy);
        bus_busy = calloc(cap, sizeof *bus_busy);
        if (counts == MAP_FAILED || !busy || !bus_busy || pipe(go) < 0)
                return 1;
        memset(counts, 0, clients * sizeof *counts);
        (void) get_status(bus, node, &st0);

        uint64_t deadline = now_ns() + (uint64_t) seconds * 1000000000u + 500000000u;
        pid_t churner = fork();
        if (churner == 0) {
                FILE *f = fopen(CG BENCH_CG "/churn/cgroup.procs", "we");
                /* into its cgroup before the grant: spmd's guard keeps untrusted tasks out of granted ones */
                if (!f || fprintf(f, "%d\n", (int) getpid()) < 0 || fclose(f) != 0)
                        _exit(4);
                close(go[1]);
                churn(node, go[0], deadline);
        }
        close(go[0]);
        usleep(100000);
        if (request(bus, BENCH_CG "/churn", path, sizeof path) < 0 || write(go[1], "g", 1) != 1)
                return 1;
        close(go[1]);
        usleep(300000); /* the churn on the node */
        if (write_ratio(ratio, "0.05") < 0) /* the media reads full: critical, evacuation */
                return 1;
        deadline = now_ns() + (uint64_t) seconds * 1000000000u;
        pid_t reloader = fork();
        if (reloader == 0) {
                while (now_ns() + 1000000000u < deadline) {
                        sleep(1);
                        (void) kill((pid_t) spmd_pid, SIGHUP);
                }
                _exit(0);
        }
        for (unsigned i = 0; i < clients; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        load_client(i, deadline, hold_ms, &counts[i]);
                        _exit(0);
                }
        }
        /* a Ping every 10 ms whether or not the last was answered (waiting for each answer would
         * send fewer while spmd stalls, and hide the stalls) */
        unsigned held_back = 0;
        PingLog pl = { .sent = calloc(cap, sizeof(uint64_t)), .lat = busy, .cap = cap };
        PingLog bl = { .sent = calloc(cap, sizeof(uint64_t)), .lat = bus_busy, .cap = cap };
        if (!pl.sent || !bl.sent)
                return 1;
        for (uint64_t next = now_ns(); now_ns() < deadline && pl.n_sent < cap;) {
                if (now_ns() >= next && pl.n_sent - pl.n_done >= MAX_OUTSTANDING) {
                        /* the system bus allows 128 calls awaiting an answer per connection */
                        held_back++;
                        next += 10000000u;
                } else if (now_ns() >= next) {
                        r = sd_bus_call_method_async(bus, NULL, "org.spmd1", "/org/spmd1", "org.freedesktop.DBus.Peer",
                                                     "Ping", on_ping, &pl, NULL);
                        if (r < 0)
                                return 1;
                        pl.sent[pl.n_sent++] = now_ns();
                        if (bl.n_sent - bl.n_done < MAX_OUTSTANDING &&
                            sd_bus_call_method_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                     "org.freedesktop.DBus", "GetId", on_ping, &bl, NULL) >= 0)
                                bl.sent[bl.n_sent++] = now_ns();
                        next += 10000000u;
                }
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        (void) sd_bus_wait(bus, 1000);
        }
        /* the answers still on their way count too */
        for (uint64_t end = now_ns() + 60000000000u;
             (pl.n_done < pl.n_sent || bl.n_done < bl.n_sent) && now_ns() < end;) {
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        (void) sd_bus_wait(bus, 100000);
        }
        n_busy = pl.n_lat;
        unsigned ping_failed = pl.n_done - (unsigned) pl.n_lat + (unsigned) (pl.n_sent - pl.n_done);
        while (wait(NULL) > 0)
                ;
        (void) get_status(bus, node, &st1);
        (void) write_ratio(ratio, "3.00");
        (void) release(bus, path);
        unsigned done = 0;
        for (unsigned i = 0; i < clients; i++) {
                done += counts[i];
                snprintf(cg, sizeof cg, CG BENCH_CG "/load-%u", i);
                (void) rmdir(cg);
        }
        usleep(200000);
        (void) rmdir(CG BENCH_CG "/churn");
        (void) rmdir(CG BENCH_CG);
        if (n_busy < 100 || ping_failed > 0) {
                fprintf(stderr, "bench/loop-latency: %zu Ping(s) answered under load, %u failed or unanswered\n",
                        n_busy, ping_failed);
                return 1;
        }
        qsort(busy, n_busy, sizeof *busy, cmp_u64);
        qsort(bus_busy, bl.n_lat, sizeof *bus_busy, cmp_u64);

        uint64_t i99 = pct(idle, N_IDLE, 0.99), b99 = pct(busy, n_busy, 0.99);
        double ratio99 = (double) b99 / (double) i99;
        printf("bench/loop-latency: Ping p99 under a mixed load = %.2fx idle p99 (%.2f ms vs %.2f ms; target <= 3x: %s); "
               "p50 %.2fx (%.2f ms vs %.2f ms), %zu Pings 10 ms apart (%u more held back while %d awaited an answer); the load: %u clients each holding a grant ~%u ms at a time, %u grants "
               "released, %" PRIu32 " reload(s), %" PRIu64 " page(s) evacuated, for %u s\n",
               ratio99, b99 / 1e6, i99 / 1e6, ratio99 <= 3.0 ? "met" : "MISSED",
               (double) pct(busy, n_busy, 0.5) / (double) pct(idle, N_IDLE, 0.5), pct(busy, n_busy, 0.5) / 1e6,
               pct(idle, N_IDLE, 0.5) / 1e6, n_busy, held_back, MAX_OUTSTANDING, clients, hold_ms, done, st1.reloads - st0.reloads,
               st1.evacuated_pages - st0.evacuated_pages, seconds);
        if (bl.n_lat >= 100) {
                uint64_t bi99 = pct(bus_idle, N_IDLE, 0.99), bb99 = pct(bus_busy, bl.n_lat, 0.99);
                printf("bench/loop-latency: the same round trips to dbus-daemon (GetId): p99 under the load = %.2fx idle (%.2f ms vs "
                       "%.2f ms; %zu answered); spmd's p99 under the load = %.2fx dbus-daemon's under the same load\n",
                       (double) bb99 / (double) bi99, bb99 / 1e6, bi99 / 1e6, bl.n_lat, (double) b99 / (double) bb99);
        } else
                printf("bench/loop-latency: the same round trips to dbus-daemon (GetId): only %zu answered under the load\n", bl.n_lat);
        printf("bench/loop-latency: spmd's own account over the last minute: longest dispatch %.1f ms, p99 %.1f ms "
               "(%" PRIu64 " dispatches)\n",
               st1.loop_max_usec / 1e3, st1.loop_p99_usec / 1e3, st1.loop_dispatches);
        sd_bus_flush_close_unref(bus);
        return 0;
}
