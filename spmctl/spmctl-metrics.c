/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmctl metrics: what GetStatus and ListGrants say, as a Prometheus text exposition (format
 * 0.0.4), for node_exporter's textfile collector or any scraper that runs a command. spmd opens no
 * network port. When spmd cannot be reached the exposition says spmd_up 0 and the command exits 0,
 * so that a textfile stays valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "spmctl-bus.h"
#include "spmd/bus.h"

static void label_value(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fprintf(f, "\\%c", *s);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void node_sample(FILE *f, const char *name, uint32_t node, double v) {
        fprintf(f, "%s{node=\"%" PRIu32 "\"} %.17g\n", name, node, v);
}

/* A counter family with one label, a sample per count; nothing when there are none. */
static void counts_family(FILE *f, const char *name, const char *label, const char *help, const StatusCount *c,
                          size_t n) {
        if (n > 0)
                family(f, name, "counter", help);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s{%s=", name, label);
                label_value(f, c[i].name);
                fprintf(f, "} %" PRIu64 "\n", c[i].n);
        }
}

static const char *const layer_states[] = { "active", "off", "unavailable" };
static const char *const levels[] = { "ok", "warn", "critical" };

static void write_status(FILE *f, const StatusInfo *s) {
        long page = sysconf(_SC_PAGESIZE);

        family(f, "spmd_info", "gauge", "spmd's version (always 1).");
        fprintf(f, "spmd_info{version=");
        label_value(f, s->version);
        fprintf(f, "} 1\n");
        family(f, "spmd_uptime_seconds", "gauge", "How long spmd has run.");
        fprintf(f, "spmd_uptime_seconds %.3f\n", s->uptime_usec / 1e6);
        family(f, "spmd_reloads_total", "counter", "Configuration reloads that took effect.");
        fprintf(f, "spmd_reloads_total %" PRIu32 "\n", s->reloads);
        family(f, "spmd_reload_failures_total", "counter", "Reloads refused for errors (the running one stayed).");
        fprintf(f, "spmd_reload_failures_total %" PRIu32 "\n", s->failed_reloads);
        family(f, "spmd_devices_online", "gauge", "Devices online as SPM nodes.");
        fprintf(f, "spmd_devices_online %" PRIu32 "\n", s->devices);
        family(f, "spmd_device_problems", "gauge", "[Device] sections that claimed nothing or failed.");
        fprintf(f, "spmd_device_problems %" PRIu32 "\n", s->device_problems);
        family(f, "spmd_spm_nodes", "gauge", "SPM nodes.");
        fprintf(f, "spmd_spm_nodes %zu\n", s->n_spm_nodes);
        family(f, "spmd_grants", "gauge", "Grants in force, by where they come from.");
        fprintf(f, "spmd_grants{source=\"dbus\"} %" PRIu32 "\nspmd_grants{source=\"config\"} %" PRIu32 "\n", s->grants,
                s->standing_grants);
        family(f, "spmd_walled_cgroups", "gauge", "Cgroups the cpuset wall keeps off the SPM nodes.");
        fprintf(f, "spmd_walled_cgroups %" PRIu32 "\n", s->walled);
        family(f, "spmd_violations_total", "counter", "Memory placement calls on SPM nodes the observer saw.");
        fprintf(f, "spmd_violations_total %" PRIu64 "\n", s->violations);
        family(f, "spmd_denials_total", "counter", "Calls the BPF-LSM guard refused.");
        fprintf(f, "spmd_denials_total %" PRIu64 "\n", s->denials);
        family(f, "spmd_loop_dispatches", "gauge", "Event loop dispatches over the last minute.");
        fprintf(f, "spmd_loop_dispatches %" PRIu64 "\n", s->loop_dispatches);
        family(f, "spmd_loop_dispatch_max_seconds", "gauge",
               "The longest event loop dispatch over the last minute (a client's answer waits that long).");
        fprintf(f, "spmd_loop_dispatch_max_seconds %.6f\n", s->loop_max_usec / 1e6);
        family(f, "spmd_loop_dispatch_p99_seconds", "gauge",
               "The 99th percentile of event loop dispatch times over the last minute (upper bound, 19% bins).");
        fprintf(f, "spmd_loop_dispatch_p99_seconds %.6f\n", s->loop_p99_usec / 1e6);

        counts_family(f, "spmd_violations_by_syscall_total", "syscall",
                      "The observer's counts in the kernel, by syscall (they outlive spmd's restarts).", s->by_syscall,
                      s->n_by_syscall);
        counts_family(f, "spmd_denials_by_kind_total", "kind",
                      "The guard's counts in the kernel, by what it refused (they outlive spmd's restarts).",
                      s->by_kind, s->n_by_kind);

        family(f, "spmd_layer_state", "gauge", "Each enforcement layer's state: 1 for the one it is in.");
        for (size_t i = 0; i < s->n_layers; i++)
                for (size_t k = 0; k < ELEMENTSOF(layer_states); k++) {
                        fprintf(f, "spmd_layer_state{layer=");
                        label_value(f, s->layers[i].name);
                        fprintf(f, ",state=\"%s\"} %d\n", layer_states[k],
                                strcmp(s->layers[i].state, layer_states[k]) == 0);
                }

        if (s->n_acts == 0)
                return;
        family(f, "spmd_node_pressure_level", "gauge", "Each SPM node's pressure level: 1 for the one it is at.");
        for (size_t i = 0; i < s->n_acts; i++)
                for (size_t k = 0; k < ELEMENTSOF(levels); k++)
                        fprintf(f, "spmd_node_pressure_level{node=\"%" PRIu32 "\",level=\"%s\"} %d\n", s->acts[i].node,
                                levels[k], strcmp(s->acts[i].level, levels[k]) == 0);
#define NODE_FAMILY(name, type, help, expr, cond)                               \
        do {                                                                    \
                bool any = false;                                               \
                for (size_t i = 0; i < s->n_acts; i++) {                        \
                        const NodeAct *a = &s->acts[i];                         \
                        if (!(cond))                                            \
                                continue;                                       \
                        if (!any)                                               \
                                family(f, name, type, help);                    \
                        any = true;                                             \
                        node_sample(f, name, a->node, (double) (expr));         \
                }                                                               \
        } while (0)
        NODE_FAMILY("spmd_node_size_bytes", "gauge", "Memory of the node (MemTotal).", a->size, true);
        NODE_FAMILY("spmd_node_free_bytes", "gauge", "Free memory of the node.", a->free, true);
        NODE_FAMILY("spmd_node_capacity_lost_bytes", "gauge",
                    "How far MemTotal fell below the most it had with its balloon (a compressed node).",
                    a->capacity_lost, true);
        NODE_FAMILY("spmd_node_compression_ratio", "gauge", "The device's compression ratio, where it has one.",
                    a->ratio, a->ratio > 0);
        NODE_FAMILY("spmd_node_physical_free_bytes", "gauge",
                    "Physical media left behind a compressed node (PhysicalCapacity=).", a->physical_free,
                    a->physical > 0);
        NODE_FAMILY("spmd_node_memory_stall_ratio", "gauge",
                    "Memory PSI (some) of the granted cgroups that hold the node, over PsiWindow=.", a->psi / 100.0,
                    a->psi >= 0);
        NODE_FAMILY("spmd_node_reclaim_writes_total", "counter", "Writes to memory.reclaim or nodeN/reclaim.",
                    a->reclaim_writes, true);
        NODE_FAMILY("spmd_node_reclaim_requested_bytes_total", "counter",
                    "Bytes asked for by the reclaim writes that succeeded.", a->reclaim_bytes, true);
        NODE_FAMILY("spmd_node_evacuated_bytes_total", "counter", "Bytes moved off the node by evacuation.",
                    (double) a->evacuated_pages * (double) page, true);
        NODE_FAMILY("spmd_node_demoted_bytes_total", "counter", "Bytes moved onto the node by demotion.",
                    a->demoted_bytes, true);
#undef NODE_FAMILY
}

static int write_grants(FILE *f, sd_bus_message *reply) {
        bool usage = false, limit = false;
        int r;

        for (int pass = 0; pass < 2; pass++) {
                r = sd_bus_message_rewind(reply, true);
                if (r >= 0)
                        r = sd_bus_message_enter_container(reply, 'a', "(ousauuutbsst)");
                while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "ousauuutbsst")) > 0) {
                        const char *path, *cgroup, *rule, *owner;
                        uint32_t id, uid, pid;
                        uint64_t max, used;
                        int persistent;

                        if ((r = sd_bus_message_read(reply, "ous", &path, &id, &cgroup)) < 0 ||
                            (r = sd_bus_message_skip(reply, "au")) < 0 ||
                            (r = sd_bus_message_read(reply, "uutbsst", &uid, &pid, &max, &persistent, &rule, &owner,
                                                     &used)) < 0 ||
                            (r = sd_bus_message_exit_container(reply)) < 0)
                                return r;
                        uint64_t v = pass == 0 ? used : max;
                        const char *name = pass == 0 ? "spmd_grant_usage_bytes" : "spmd_grant_limit_bytes";
                        bool *said = pass == 0 ? &usage : &limit;

                        if (v == UINT64_MAX)
                                continue; /* not known (no memory controller) / no limit */
                        if (!*said)
                                family(f, name,
                                       "gauge", pass == 0 ? "What the granted cgroup holds on its SPM nodes."
                                                          : "The grant's byte limit (MaxBytes=), where it has one.");
                        *said = true;
                        fprintf(f, "%s{grant=\"%" PRIu32 "\",cgroup=", name, id);
                        label_value(f, cgroup);
                        fprintf(f, ",uid=\"%" PRIu32 "\",rule=", uid);
                        label_value(f, rule);
                        fprintf(f, "} %" PRIu64 "\n", v);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Write text to path atomically: a temporary file beside it, renamed over it. */
static int write_atomically(const char *path, const char *text, size_t len) {
        char tmp[PATH_MAX];
        int fd, r = 0;

        if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid()) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len || fsync(fd) < 0)
                r = -errno ?: -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int spmctl_metrics(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *status = NULL, *grants = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        const char *output = NULL, *why = NULL;
        StatusInfo s = {};
        size_t len = 0;
        FILE *f;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+o:", opts, NULL)) >= 0)
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "metrics takes no arguments but --output FILE.\n");
                return 2;
        }

        /* spmd down is a value, not an error: the exposition stays valid */
        r = sd_bus_open_system(&bus);
        if (r < 0)
                why = "cannot connect to the system bus";
        if (r >= 0) {
                r = sd_bus_call_method(bus, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GetStatus", &e,
                                       &status, NULL);
                if (r >= 0)
                        r = spmctl_status_parse(status, &s);
                if (r >= 0)
                        r = sd_bus_call_method(bus, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE,
                                               "ListGrants", &e, &grants, NULL);
                if (r < 0)
                        why = e.message ?: strerror(-r);
        }

        f = open_memstream(&text, &len);
        if (!f) {
                spmctl_status_done(&s);
                sd_bus_error_free(&e);
                return 1;
        }
        family(f, "spmd_up", "gauge", "Whether spmctl reached spmd over the system bus.");
        fprintf(f, "spmd_up %d\n", why ? 0 : 1);
        if (!why) {
                write_status(f, &s);
                r = write_grants(f, grants);
                if (r < 0)
                        fprintf(stderr, "metrics: unexpected ListGrants reply: %s; grants left out\n", strerror(-r));
        } else
                fprintf(stderr, "metrics: spmd not reached (%s); spmd_up 0\n", why);
        fclose(f);
        spmctl_status_done(&s);
        sd_bus_error_free(&e);

        if (!output) {
                fputs(text, stdout);
                return fflush(stdout) == 0 ? 0 : 1;
        }
        r = write_atomically(output, text, len);
        if (r < 0) {
                fprintf(stderr, "metrics: cannot write %s: %s\n", output, strerror(-r));
                return 1;
        }
        return 0;
}
