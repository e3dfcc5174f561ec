/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmctl top, and the per-node activity spmctl status shows: GetStatus's NodeActivity. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "spmd/bus.h"
#include "parse-util.h"
#include "spmctl-bus.h"
#include "spmctl-json.h"
#include "time-util.h"

static int read_entry(sd_bus_message *m, NodeAct *a) {
        const char *key, *contents;
        char type;
        int r;

        if ((r = sd_bus_message_read(m, "s", &key)) < 0 || (r = sd_bus_message_peek_type(m, &type, &contents)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'v', contents)) < 0)
                return r;
        struct {
                const char *key;
                uint64_t *t;
        } tk[] = {
                { SPMD_NODE_SIZE, &a->size },
                { SPMD_NODE_FREE, &a->free },
                { SPMD_NODE_PHYSICAL, &a->physical },
                { SPMD_NODE_PHYSICAL_FREE, &a->physical_free },
                { SPMD_NODE_CAPACITY_LOST, &a->capacity_lost },
                { SPMD_NODE_BALLOON, &a->balloon },
                { SPMD_NODE_RECLAIM_WRITES, &a->reclaim_writes },
                { SPMD_NODE_RECLAIM_SHORT, &a->reclaim_short },
                { SPMD_NODE_RECLAIM_FAILED, &a->reclaim_failed },
                { SPMD_NODE_RECLAIM_BYTES, &a->reclaim_bytes },
                { SPMD_NODE_RECLAIM_BACKOFFS, &a->reclaim_backoffs },
                { SPMD_NODE_EVACUATED_PAGES, &a->evacuated_pages },
                { SPMD_NODE_EVACUATE_BUSY, &a->evacuate_busy },
                { SPMD_NODE_EVACUATE_NO_MEMORY, &a->evacuate_no_memory },
                { SPMD_NODE_EVACUATE_FAILED, &a->evacuate_failed },
                { SPMD_NODE_EVACUATION_PASSES, &a->evacuation_passes },
                { SPMD_NODE_EVACUATED_COLD_PAGES, &a->evacuated_cold_pages },
                { SPMD_NODE_DEMOTED_BYTES, &a->demoted_bytes },
        };
        r = 0;
        if (strcmp(contents, "t") == 0) {
                uint64_t v;
                r = sd_bus_message_read(m, "t", &v);
                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(tk); i++)
                        if (strcmp(key, tk[i].key) == 0)
                                *tk[i].t = v;
        } else if (strcmp(contents, "s") == 0) {
                const char *v;
                r = sd_bus_message_read(m, "s", &v);
                if (r >= 0 && strcmp(key, SPMD_NODE_LEVEL) == 0)
                        str_copy_cut(a->level, sizeof a->level, v);
                else if (r >= 0 && strcmp(key, SPMD_NODE_ACTING) == 0)
                        str_copy_cut(a->acting, sizeof a->acting, v);
                else if (r >= 0 && strcmp(key, SPMD_NODE_REASON) == 0)
                        str_copy_cut(a->reason, sizeof a->reason, v);
        } else if (strcmp(contents, "u") == 0 && strcmp(key, SPMD_NODE_NODE) == 0)
                r = sd_bus_message_read(m, "u", &a->node);
        else if (strcmp(contents, "d") == 0 && strcmp(key, SPMD_NODE_RATIO) == 0)
                r = sd_bus_message_read(m, "d", &a->ratio);
        else if (strcmp(contents, "d") == 0 && strcmp(key, SPMD_NODE_PSI) == 0)
                r = sd_bus_message_read(m, "d", &a->psi);
        else if (strcmp(contents, "i") == 0 && strcmp(key, SPMD_NODE_EVACUATION_TARGET) == 0)
                r = sd_bus_message_read(m, "i", &a->evacuation_target);
        else
                r = sd_bus_message_skip(m, contents); /* a key this spmctl does not know */
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int spmctl_read_activity(sd_bus_message *m, NodeAct **ret, size_t *ret_n) {
        _cleanup_free_ NodeAct *out = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                NodeAct *na = realloc(out, (n + 1) * sizeof *na);
                if (!na)
                        return -ENOMEM;
                out = na;
                out[n] = (NodeAct){ .evacuation_target = -1, .psi = -1 };
                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        r = read_entry(m, &out[n]);
                        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                }
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                n++;
        }
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        *ret_n = n;
        return 0;
}

json_object *spmctl_activity_json(const NodeAct *a, size_t n) {
        json_object *l = json_object_new_array();

        for (size_t i = 0; l && i < n; i++) {
                json_object *o = json_object_new_object();
#define U(key, v) json_add(o, key, json_object_new_uint64(v))
                U("node", a[i].node);
                json_add(o, "level", json_object_new_string(a[i].level));
                json_add(o, "acting", json_object_new_string(a[i].acting));
                U("size", a[i].size);
                U("free", a[i].free);
                json_add(o, "ratio", json_object_new_double(a[i].ratio));
                json_add(o, "psi", json_object_new_double(a[i].psi));
                U("physical", a[i].physical);
                U("physical_free", a[i].physical_free);
                U("capacity_lost", a[i].capacity_lost);
                U("balloon", a[i].balloon);
                U("reclaim_writes", a[i].reclaim_writes);
                U("reclaim_short", a[i].reclaim_short);
                U("reclaim_failed", a[i].reclaim_failed);
                U("reclaim_bytes", a[i].reclaim_bytes);
                U("reclaim_backoffs", a[i].reclaim_backoffs);
                U("evacuated_pages", a[i].evacuated_pages);
                U("evacuate_busy", a[i].evacuate_busy);
                U("evacuate_no_memory", a[i].evacuate_no_memory);
                U("evacuate_failed", a[i].evacuate_failed);
                U("evacuation_passes", a[i].evacuation_passes);
                json_add(o, "evacuation_target", json_object_new_int(a[i].evacuation_target));
                U("evacuated_cold_pages", a[i].evacuated_cold_pages);
                U("demoted_bytes", a[i].demoted_bytes);
#undef U
                json_object_array_add(l, o);
        }
        return l;
}

void spmctl_print_activity(FILE *f, const NodeAct *a, size_t n) {
        char b1[32], b2[32];

        if (n == 0)
                fprintf(f, "-\n");
        for (size_t i = 0; i < n; i++)
                fprintf(f,
                        "%snode %" PRIu32 ": %s; reclaim %" PRIu64 " write(s), %s asked, %" PRIu64 " short, %" PRIu64
                        " failed, %" PRIu64 " backed off; evacuated %" PRIu64 " page(s), stayed %" PRIu64 " busy, %" PRIu64 " no memory, %" PRIu64
                        " other; demoted %s\n",
                        i ? "                " : "", a[i].node, a[i].acting[0] ? a[i].acting : "idle",
                        a[i].reclaim_writes, format_size(b1, sizeof b1, a[i].reclaim_bytes), a[i].reclaim_short,
                        a[i].reclaim_failed, a[i].reclaim_backoffs, a[i].evacuated_pages, a[i].evacuate_busy, a[i].evacuate_no_memory,
                        a[i].evacuate_failed, format_size(b2, sizeof b2, a[i].demoted_bytes));
}

/* ---- top ---- */

static int fetch(sd_bus *bus, NodeAct **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key;
        int r;

        r = spmctl_call(bus, "GetStatus", &reply, NULL);
        if (r)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                if ((r = sd_bus_message_read(reply, "s", &key)) < 0)
                        break;
                if (strcmp(key, SPMD_STATUS_NODE_ACTIVITY) == 0) {
                        if ((r = sd_bus_message_enter_container(reply, 'v', "aa{sv}")) < 0 ||
                            (r = spmctl_read_activity(reply, ret, ret_n)) < 0)
                                break;
                        return 0;
                }
                if ((r = sd_bus_message_skip(reply, "v")) < 0 || (r = sd_bus_message_exit_container(reply)) < 0)
                        break;
        }
        if (r >= 0) {
                fprintf(stderr, "GetStatus: this spmd does not report NodeActivity (too old?).\n");
                return 1;
        }
        return spmctl_bad_reply("GetStatus", r);
}

static const NodeAct *find(const NodeAct *a, size_t n, uint32_t node) {
        for (size_t i = 0; i < n; i++)
                if (a[i].node == node)
                        return &a[i];
        return NULL;
}

static void print_top(const NodeAct *a, size_t n, const NodeAct *prev, size_t n_prev, double dt) {
        long page = sysconf(_SC_PAGESIZE);
        char s1[32], s2[32], s3[32], s4[32], s5[32];

        printf("NODE LEVEL     SIZE   FREE   LOST   RATIO  PHYS-FREE    PSI  RECLAIM/s  MIGRATE/s  ACTING\n");
        for (size_t i = 0; i < n; i++) {
                const NodeAct *p = find(prev, n_prev, a[i].node);
                char rec[32] = "-", mig[32] = "-", ratio[16] = "-", phys[32] = "-", psi[16] = "-", lost[32] = "-";

                if (p && dt > 0) {
                        double rb = (double) (a[i].reclaim_bytes - p->reclaim_bytes) / dt;
                        double mb = (double) (a[i].evacuated_pages - p->evacuated_pages) * (double) page / dt;

                        snprintf(rec, sizeof rec, "%s", format_size(s3, sizeof s3, (uint64_t) rb));
                        snprintf(mig, sizeof mig, "%s", format_size(s4, sizeof s4, (uint64_t) mb));
                }
                if (a[i].ratio > 0)
                        snprintf(ratio, sizeof ratio, "%.2f", a[i].ratio);
                if (a[i].physical > 0)
                        snprintf(phys, sizeof phys, "%s", format_size(s5, sizeof s5, a[i].physical_free));
                if (a[i].psi >= 0)
                        snprintf(psi, sizeof psi, "%.1f%%", a[i].psi);
                if (a[i].capacity_lost > 0)
                        format_size(lost, sizeof lost, a[i].capacity_lost);
                printf("%-4" PRIu32 " %-8s %6s %6s %6s %7s %10s %6s %10s %10s  %s\n", a[i].node, a[i].level,
                       format_size(s1, sizeof s1, a[i].size), format_size(s2, sizeof s2, a[i].free), lost, ratio, phys,
                       psi, rec, mig,
                       a[i].acting[0] ? a[i].acting : "-");
        }
        if (n == 0)
                printf("(no SPM node)\n");
        fflush(stdout);
}

int spmctl_top(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "iterations", required_argument, NULL, 'n' },
                { "delay", required_argument, NULL, 'd' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ NodeAct *prev = NULL;
        size_t n_prev = 0;
        uint64_t iterations = 0, delay = 1000000, prev_t = 0;
        bool clear = isatty(STDOUT_FILENO) && !spmctl_json;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+n:d:", opts, NULL)) >= 0)
                switch (c) {
                case 'j':
                        spmctl_json = true;
                        break;
                case 'n':
                        if (parse_uint64(optarg, &iterations) < 0 || iterations == 0) {
                                fprintf(stderr, "top: --iterations takes a positive number, not '%s'.\n", optarg);
                                return 2;
                        }
                        break;
                case 'd':
                        if (parse_duration(optarg, &delay) < 0 || delay < 100000) {
                                fprintf(stderr, "top: --delay takes a duration of at least 100ms (e.g. 2s, 500ms), not '%s'.\n",
                                        optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "top takes no arguments but its options.\n");
                return 2;
        }
        if ((r = spmctl_connect_bus(&bus)))
                return r;
        for (uint64_t i = 0; iterations == 0 || i < iterations; i++) {
                _cleanup_free_ NodeAct *a = NULL;
                size_t n = 0;
                uint64_t t;

                if (i > 0)
                        usleep((useconds_t) delay);
                r = fetch(bus, &a, &n);
                if (r)
                        return r;
                t = now_usec(CLOCK_MONOTONIC);
                if (spmctl_json) {
                        json_object *o = json_object_new_object();
                        if (o) {
                                json_add(o, "usec", json_object_new_uint64(t));
                                json_add(o, "nodes", spmctl_activity_json(a, n));
                        }
                        if (json_print(o, stdout) < 0)
                                return spmctl_oom();
                        fflush(stdout);
                } else {
                        if (clear)
                                printf("\033[H\033[2J");
                        print_top(a, n, prev, n_prev, prev_t ? (double) (t - prev_t) / 1e6 : 0);
                        if (!clear)
                                printf("\n");
                }
                free(prev);
                prev = TAKE_PTR(a);
                n_prev = n;
                prev_t = t;
        }
        return 0;
}
