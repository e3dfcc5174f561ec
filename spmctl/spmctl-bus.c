/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmctl's commands that talk to a running spmd over the system bus (org.spmd1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <numaif.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "conf.h"
#include "grant.h"
#include "instance-lock.h"
#include "macro.h"
#include "node-lists.h"
#include "nodemask.h"
#include "parse-util.h"
#include "spmctl-bus.h"
#include "spmctl-json.h"
#include "spmd/bus.h"

/* Exit codes, as documented in spmctl(1). */
enum {
        EXIT_FAILED = 1,   /* spmd refused or failed (the message says why) */
        EXIT_USAGE = 2,    /* wrong command line */
        EXIT_NO_SPMD = 3,  /* spmd is not on the bus */
        EXIT_DENIED = 4,   /* the policy does not allow it */
};


static int exit_code_for(const sd_bus_error *e, int r) {
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
                return EXIT_DENIED;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) || r == -ENOENT || r == -ECONNREFUSED)
                return EXIT_NO_SPMD;
        return EXIT_FAILED;
}

/* spmd is not on the bus: does it run all the same (its lock under StateDirectory= is held)? */
static void say_not_on_bus(const char *what, const char *why) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfDiags d = {};
        pid_t pid;

        (void) config_load(arg_config, arg_config_given, &c, &d);
        conf_diags_clear(&d);
        pid = instance_lock_holder(c && c->state_directory ? c->state_directory : "/run/spmd");
        if (pid > 0 || pid == -1) {
                char p[32] = "";
                if (pid > 0)
                        snprintf(p, sizeof p, " (pid %d)", (int) pid);
                fprintf(stderr,
                        "%s: spmd runs%s but is not on the system bus (%s); it connects again by itself when the "
                        "bus is back (see its log: journalctl -u spmd).\n",
                        what, p, why);
        } else
                fprintf(stderr, "%s: spmd is not running (%s). Start it: systemctl start spmd\n", what, why);
}

static int report(const char *what, const sd_bus_error *e, int r) {
        int code = exit_code_for(e, r);

        if (code == EXIT_NO_SPMD)
                say_not_on_bus(what, e && e->message ? e->message : strerror(-r));
        else
                fprintf(stderr, "%s: %s\n", what, e && e->message ? e->message : strerror(-r));
        return code;
}

int spmctl_connect_bus(sd_bus **ret) {
        int r = sd_bus_open_system(ret);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof why, "cannot connect to the system bus: %s", strerror(-r));
                say_not_on_bus("spmctl", why);
                return EXIT_NO_SPMD;
        }
        return 0;
}

int spmctl_call(sd_bus *bus, const char *method, sd_bus_message **reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0)
                return report(method, NULL, r);
        r = sd_bus_call(bus, m, 0, &e, reply);
        if (r < 0) {
                int code = report(method, &e, r);
                sd_bus_error_free(&e);
                return code;
        }
        return 0;
}

static int read_nodes(sd_bus_message *m, char *buf, size_t len) {
        const uint32_t *v;
        size_t size;
        NodeMask mask = {};
        int r = sd_bus_message_read_array(m, 'u', (const void **) &v, &size);

        if (r < 0)
                return r;
        for (size_t i = 0; i < size / sizeof *v; i++)
                nodemask_set(&mask, v[i]);
        if (nodemask_empty(&mask))
                snprintf(buf, len, "-");
        else
                nodemask_format(&mask, buf, len);
        return 0;
}

int spmctl_bad_reply(const char *what, int r) {
        fprintf(stderr, "%s: unexpected reply from spmd: %s\n", what, strerror(-r));
        return EXIT_FAILED;
}

/* ---- status ---- */


/* "3 min 12 s", "2 h 5 min", "4 d 3 h" */
static const char *format_uptime(uint64_t usec, char *buf, size_t len) {
        uint64_t s = usec / 1000000;

        if (s < 60)
                snprintf(buf, len, "%" PRIu64 " s", s);
        else if (s < 3600)
                snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, len, "%" PRIu64 " d %" PRIu64 " h", s / 86400, s % 86400 / 3600);
        return buf;
}

void spmctl_status_done(StatusInfo *s) {
        free(s->acts);
        *s = (StatusInfo){};
}

int spmctl_status_parse(sd_bus_message *reply, StatusInfo *ret) {
        StatusInfo s = { .version = "?", .config = "?", .psi = "-", .demotion = "-" };
        const char *key, *contents;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                char type;

                if ((r = sd_bus_message_read(reply, "s", &key)) < 0 ||
                    (r = sd_bus_message_peek_type(reply, &type, &contents)) < 0 ||
                    (r = sd_bus_message_enter_container(reply, 'v', contents)) < 0)
                        break;
                struct {
                        const char *key;
                        uint32_t *u;
                } uk[] = { { SPMD_STATUS_RELOADS, &s.reloads },         { SPMD_STATUS_FAILED_RELOADS, &s.failed_reloads },
                           { SPMD_STATUS_DEVICES_ONLINE, &s.devices },   { SPMD_STATUS_DEVICE_PROBLEMS, &s.device_problems },
                           { SPMD_STATUS_GRANTS, &s.grants },           { SPMD_STATUS_STANDING_GRANTS, &s.standing_grants },
                           { SPMD_STATUS_WALLED_CGROUPS, &s.walled },    { SPMD_STATUS_ROOT_CGROUP_PROCESSES, &s.root_procs },
                           { SPMD_STATUS_ROOT_CGROUP_KERNEL_THREADS, &s.root_kthreads } };
                struct {
                        const char *key;
                        uint64_t *t;
                } tk[] = { { SPMD_STATUS_UPTIME_USEC, &s.uptime_usec },
                           { SPMD_STATUS_VIOLATIONS, &s.violations },
                           { SPMD_STATUS_DENIALS, &s.denials },
                           { SPMD_STATUS_LOOP_DISPATCHES, &s.loop_dispatches },
                           { SPMD_STATUS_LOOP_LATENCY_MAX_USEC, &s.loop_max_usec },
                           { SPMD_STATUS_LOOP_LATENCY_P99_USEC, &s.loop_p99_usec } };
                struct {
                        const char *key;
                        const char **p;
                } sk[] = { { SPMD_STATUS_VERSION, &s.version }, { SPMD_STATUS_CONFIG_PATH, &s.config }, { SPMD_STATUS_MEMORY_PSI, &s.psi } };
                bool done = false;

                for (size_t i = 0; !done && i < ELEMENTSOF(uk); i++)
                        if (strcmp(key, uk[i].key) == 0 && strcmp(contents, "u") == 0)
                                r = sd_bus_message_read(reply, "u", uk[i].u), done = true;
                for (size_t i = 0; !done && i < ELEMENTSOF(tk); i++)
                        if (strcmp(key, tk[i].key) == 0 && strcmp(contents, "t") == 0)
                                r = sd_bus_message_read(reply, "t", tk[i].t), done = true;
                for (size_t i = 0; !done && i < ELEMENTSOF(sk); i++)
                        if (strcmp(key, sk[i].key) == 0 && strcmp(contents, "s") == 0)
                                r = sd_bus_message_read(reply, "s", sk[i].p), done = true;
                if (done)
                        ;
                else if (strcmp(key, SPMD_STATUS_SPM_NODES) == 0 && strcmp(contents, "au") == 0) {
                        const uint32_t *v;
                        size_t size;
                        r = sd_bus_message_read_array(reply, 'u', (const void **) &v, &size);
                        for (size_t i = 0; r >= 0 && i < size / sizeof *v && s.n_spm_nodes < ELEMENTSOF(s.spm_nodes); i++)
                                s.spm_nodes[s.n_spm_nodes++] = v[i];
                } else if (strcmp(key, SPMD_STATUS_DEMOTION) == 0 && strcmp(contents, "(st)") == 0)
                        r = sd_bus_message_read(reply, "(st)", &s.demotion, &s.promoted);
                else if ((strcmp(key, SPMD_STATUS_VIOLATIONS_BY_SYSCALL) == 0 || strcmp(key, SPMD_STATUS_DENIALS_BY_KIND) == 0) &&
                         strcmp(contents, "a{st}") == 0) {
                        bool v = key[0] == 'V';
                        StatusCount *to = v ? s.by_syscall : s.by_kind;
                        size_t *k = v ? &s.n_by_syscall : &s.n_by_kind;
                        const char *name;
                        uint64_t n;

                        r = sd_bus_message_enter_container(reply, 'a', "{st}");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "{st}", &name, &n)) > 0)
                                if (*k < ELEMENTSOF(s.by_syscall))
                                        to[(*k)++] = (StatusCount){ name, n };
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                }
                else if (strcmp(key, SPMD_STATUS_NODE_ACTIVITY) == 0 && strcmp(contents, "aa{sv}") == 0)
                        r = spmctl_read_activity(reply, &s.acts, &s.n_acts);
                else if (strcmp(key, SPMD_STATUS_ENFORCEMENT_LAYERS) == 0 && strcmp(contents, "a(sss)") == 0) {
                        const char *name, *state, *detail;

                        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &name, &state, &detail)) > 0)
                                if (s.n_layers < STATUS_MAX_LAYERS) {
                                        s.layers[s.n_layers].name = name;
                                        s.layers[s.n_layers].state = state;
                                        s.layers[s.n_layers++].detail = detail;
                                }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else
                        r = sd_bus_message_skip(reply, contents); /* NodePressure (in NodeActivity), or new */
                if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
                    (r = sd_bus_message_exit_container(reply)) < 0)
                        break;
        }
        if (r < 0) {
                spmctl_status_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* GetStatus as a person reads it, like systemctl status: a header line, then labelled values. */
static int print_status_text(sd_bus_message *reply) {
        StatusInfo s;
        char up[64], size[32], spm[256] = "-";
        NodeMask mask = {};
        int r = spmctl_status_parse(reply, &s);

        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n_spm_nodes; i++)
                nodemask_set(&mask, s.spm_nodes[i]);
        if (!nodemask_empty(&mask))
                nodemask_format(&mask, spm, sizeof spm);
        printf("● spmd %s: running for %s\n", s.version, format_uptime(s.uptime_usec, up, sizeof up));
        printf("        Config: %s (%" PRIu32 " reload(s), %" PRIu32 " failed)\n", s.config, s.reloads,
               s.failed_reloads);
        printf("     SPM nodes: %s (%" PRIu32 " device(s) online, %" PRIu32 " device problem(s))\n", spm, s.devices,
               s.device_problems);
        printf("        Grants: %" PRIu32 " over D-Bus, %" PRIu32 " standing ([Grant])\n", s.grants, s.standing_grants);
        printf("         Walls: %" PRIu32 " cgroup(s) walled; root cgroup: %" PRIu32 " process(es), %" PRIu32
               " kernel thread(s)\n",
               s.walled, s.root_procs, s.root_kthreads);
        printf("    Violations: %" PRIu64 " seen by the observer, %" PRIu64 " denied by the guard\n", s.violations,
               s.denials);
        printf("      Pressure: ");
        for (size_t i = 0; i < s.n_acts; i++)
                printf("%snode %" PRIu32 " %s (%s)\n", i ? "                " : "", s.acts[i].node, s.acts[i].level,
                       s.acts[i].reason);
        if (s.n_acts == 0)
                printf("-\n");
        printf("    Memory PSI: %s\n", s.psi);
        printf("      Demotion: %s; %s promoted\n", s.demotion, format_size(size, sizeof size, s.promoted));
        printf("      Activity: ");
        spmctl_print_activity(stdout, s.acts, s.n_acts);
        printf("    Event loop: longest dispatch %.1f ms, p99 %.1f ms over the last minute (%" PRIu64
               " dispatch(es))\n",
               s.loop_max_usec / 1e3, s.loop_p99_usec / 1e3, s.loop_dispatches);
        printf("\nENFORCEMENT LAYER  STATE        DETAIL\n");
        for (size_t i = 0; i < s.n_layers; i++)
                printf("%-18s %-12s %s\n", s.layers[i].name, s.layers[i].state, s.layers[i].detail);
        spmctl_status_done(&s);
        return 0;
}

int spmctl_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key, *contents;
        int r;

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "status takes no arguments.\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)) || (r = spmctl_call(bus, "GetStatus", &reply, NULL)))
                return r;
        if (!spmctl_json) {
                r = print_status_text(reply);
                return r < 0 ? spmctl_bad_reply("GetStatus", r) : 0;
        }
        /* --json: every value as JSON, Demotion's, the layers' and the nodes' with named fields */
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return spmctl_oom();
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return spmctl_bad_reply("GetStatus", r);
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                json_object *v = NULL;
                char type;

                if ((r = sd_bus_message_read(reply, "s", &key)) < 0 ||
                    (r = sd_bus_message_peek_type(reply, &type, &contents)) < 0 ||
                    (r = sd_bus_message_enter_container(reply, 'v', contents)) < 0)
                        return spmctl_bad_reply("GetStatus", r);
                if (strcmp(contents, "(st)") == 0) {
                        /* Demotion: its state, the bytes promoted */
                        const char *st;
                        uint64_t t;
                        r = sd_bus_message_read(reply, "(st)", &st, &t);
                        if (r >= 0) {
                                v = json_object_new_object();
                                json_add(v, "state", json_object_new_string(st));
                                json_add(v, "promoted_bytes", json_object_new_uint64(t));
                        }
                } else if (strcmp(contents, "a(sss)") == 0) {
                        const char *name, *state, *detail;
                        v = json_object_new_array();
                        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &name, &state, &detail)) > 0) {
                                json_object *l = json_object_new_object();
                                json_add(l, "name", json_object_new_string(name));
                                json_add(l, "state", json_object_new_string(state));
                                json_add(l, "detail", json_object_new_string(detail));
                                json_object_array_add(v, l);
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else if (strcmp(contents, "a(uss)") == 0) {
                        const char *level, *why;
                        uint32_t node;
                        v = json_object_new_array();
                        r = sd_bus_message_enter_container(reply, 'a', "(uss)");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "(uss)", &node, &level, &why)) > 0) {
                                json_object *l = json_object_new_object();
                                json_add(l, "node", json_object_new_uint64(node));
                                json_add(l, "level", json_object_new_string(level));
                                json_add(l, "reason", json_object_new_string(why));
                                json_object_array_add(v, l);
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else if (strcmp(contents, "aa{sv}") == 0 && strcmp(key, SPMD_STATUS_NODE_ACTIVITY) == 0) {
                        _cleanup_free_ NodeAct *acts = NULL;
                        size_t n_acts = 0;
                        r = spmctl_read_activity(reply, &acts, &n_acts);
                        if (r >= 0)
                                v = spmctl_activity_json(acts, n_acts);
                } else
                        r = json_from_bus(reply, &v); /* any other value, as JSON */
                json_add(o, key, v);
                if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
                    (r = sd_bus_message_exit_container(reply)) < 0)
                        return spmctl_bad_reply("GetStatus", r);
        }
        if (r < 0)
                return spmctl_bad_reply("GetStatus", r);
        return json_print(TAKE_PTR(o), stdout) < 0 ? spmctl_oom() : 0;
}

/* ---- grants ---- */

int spmctl_grants(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r;

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "grants takes no arguments.\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)) || (r = spmctl_call(bus, "ListGrants", &reply, NULL)))
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ousauuutbsst)");
        if (r < 0)
                return spmctl_bad_reply("ListGrants", r);
        _cleanup_(json_object_putp) json_object *list = spmctl_json ? json_object_new_array() : NULL;
        if (spmctl_json && !list)
                return spmctl_oom();
        if (!spmctl_json)
                printf("%-4s %-36s %-6s %-6s %-7s %-8s %-8s %-10s %-14s %s\n", "ID", "CGROUP", "NODES", "UID", "PID",
                       "USED", "LIMIT", "LIFETIME", "RULE", "OWNER");
        while ((r = sd_bus_message_enter_container(reply, 'r', "ousauuutbsst")) > 0) {
                const char *path, *cgroup, *rule, *owner;
                uint32_t id, uid, pid;
                uint64_t max, used;
                int persistent;
                char nodes[1024], lim[32], use[32];

                if ((r = sd_bus_message_read(reply, "ous", &path, &id, &cgroup)) < 0 ||
                    (r = read_nodes(reply, nodes, sizeof nodes)) < 0 ||
                    (r = sd_bus_message_read(reply, "uutbsst", &uid, &pid, &max, &persistent, &rule, &owner, &used)) < 0 ||
                    (r = sd_bus_message_exit_container(reply)) < 0)
                        return spmctl_bad_reply("ListGrants", r);
                if (spmctl_json) {
                        json_object *g = json_object_new_object();
                        json_add(g, "id", json_object_new_uint64(id));
                        json_add(g, "path", json_object_new_string(path));
                        json_add(g, "cgroup", json_object_new_string(cgroup));
                        json_add(g, "nodes", json_object_new_string(strcmp(nodes, "-") == 0 ? "" : nodes));
                        json_add(g, "uid", json_object_new_uint64(uid));
                        json_add(g, "pid", json_object_new_uint64(pid));
                        json_add(g, "max_bytes", json_u64_or_null(max));
                        json_add(g, "usage_bytes", json_u64_or_null(used));
                        json_add(g, "persistent", json_object_new_boolean(persistent));
                        json_add(g, "rule", json_object_new_string(rule));
                        json_add(g, "owner", json_object_new_string(owner));
                        json_object_array_add(list, g);
                } else
                        printf("%-4" PRIu32 " %-36s %-6s %-6" PRIu32 " %-7" PRIu32 " %-8s %-8s %-10s %-14s %s\n", id,
                               cgroup, nodes, uid, pid, used == UINT64_MAX ? "-" : format_size(use, sizeof use, used),
                               max == UINT64_MAX ? "-" : format_size(lim, sizeof lim, max),
                               persistent ? "persistent" : "client", rule, owner[0] ? owner : "-");
                n++;
        }
        if (r < 0)
                return spmctl_bad_reply("ListGrants", r);
        if (spmctl_json)
                return json_print(TAKE_PTR(list), stdout) < 0 ? spmctl_oom() : 0;
        printf("\n%u grant(s).\n", n);
        return 0;
}

/* ---- request, release, reload ---- */

typedef struct RequestArgs {
        const char *target;
        NodeMask nodes;
        uint64_t max_bytes;
        bool persistent;
} RequestArgs;

static int append_request(sd_bus_message *m, const RequestArgs *a) {
        int r = sd_bus_message_append(m, "s", a->target ? a->target : "");

        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "u");
        for (unsigned i = 0; r >= 0 && i < SPMD_MAX_NODES; i++)
                if (nodemask_test(&a->nodes, i))
                        r = sd_bus_message_append(m, "u", i);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "t", a->max_bytes);
        if (r >= 0 && a->persistent)
                r = sd_bus_message_append(m, "a{sv}", 1, "persistent", "b", 1);
        else if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        return r;
}

static int request_grant(sd_bus *bus, const RequestArgs *a, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE,
                                           "RequestAccess");
        if (r >= 0)
                r = append_request(m, a);
        if (r < 0)
                return report("RequestAccess", NULL, r);
        r = sd_bus_call(bus, m, 0, &e, &reply);
        if (r < 0) {
                int code = report("RequestAccess", &e, r);
                sd_bus_error_free(&e);
                return code;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return spmctl_bad_reply("RequestAccess", r);
        *ret_path = strdup(path);
        return *ret_path ? 0 : EXIT_FAILED;
}

static int release_grant(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        return spmctl_call(bus, "ReleaseAccess", &reply, "o", path);
}

/* The policy for a command run on grant path (grant_run_bind): 1 with *ret set, 0 for none. */
static int run_bind(sd_bus *bus, const char *path, NodeMask *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        NodeMask granted = {}, private_nodes;
        NodeLists lists;
        uint32_t node;
        int r;

        r = sd_bus_get_property(bus, SPMD_BUS_NAME, path, SPMD_BUS_GRANT_INTERFACE, "Nodes", &e, &reply, "au");
        if (r < 0 || sd_bus_message_enter_container(reply, 'a', "u") < 0) {
                fprintf(stderr, "run: cannot read the nodes of grant %s (%s); the command runs with the kernel's "
                                "default memory policy\n",
                        path, e.message ?: strerror(r < 0 ? -r : EBADMSG));
                sd_bus_error_free(&e);
                return 0;
        }
        while (sd_bus_message_read(reply, "u", &node) > 0)
                nodemask_set(&granted, node);
        node_lists_read("", &lists);
        private_nodes = node_lists_private_nodes(&lists);
        return grant_run_bind(&granted, &private_nodes, ret) ? 1 : 0;
}

/* Options shared by request and run; returns the index of the first non-option, or -exit code. */
static int parse_request_args(int argc, char *argv[], RequestArgs *a, bool run) {
        enum { ARG_MAX_BYTES = 0x100, ARG_PERSISTENT, ARG_CGROUP, ARG_UNIT };
        static const struct option options[] = {
                { "node", required_argument, NULL, 'n' },
                { "max-bytes", required_argument, NULL, ARG_MAX_BYTES },
                { "persistent", no_argument, NULL, ARG_PERSISTENT },
                { "cgroup", required_argument, NULL, ARG_CGROUP },
                { "unit", required_argument, NULL, ARG_UNIT },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, run ? "+n:" : "n:", options, NULL)) >= 0)
                switch (c) {
                case 'n': {
                        NodeMask more;
                        int k = parse_nodemask(optarg, &more);
                        if (k == -ERANGE) {
                                fprintf(stderr, "--node=%s: a node number is out of range (nodes are 0 to %d)\n",
                                        optarg, SPMD_MAX_NODES - 1);
                                return -EXIT_USAGE;
                        }
                        if (k < 0) {
                                fprintf(stderr, "--node=%s: expected a node list such as 1 or 1,3\n", optarg);
                                return -EXIT_USAGE;
                        }
                        a->nodes = nodemask_or(&a->nodes, &more);
                        break;
                }
                case ARG_MAX_BYTES:
                        if (parse_size(optarg, &a->max_bytes) < 0 || a->max_bytes == 0) {
                                fprintf(stderr, "--max-bytes=%s: expected a size such as 4G\n", optarg);
                                return -EXIT_USAGE;
                        }
                        if (a->max_bytes == UINT64_MAX)
                                a->max_bytes = 0;
                        break;
                case ARG_PERSISTENT:
                        if (run) {
                                fprintf(stderr, "run: a grant for a command ends with it; --persistent does not "
                                                "apply\n");
                                return -EXIT_USAGE;
                        }
                        a->persistent = true;
                        break;
                case ARG_CGROUP:
                case ARG_UNIT:
                        if (run) {
                                fprintf(stderr, "run: the command gets a cgroup of its own; --cgroup/--unit do not "
                                                "apply\n");
                                return -EXIT_USAGE;
                        }
                        if (a->target) {
                                fprintf(stderr, "request: --cgroup and --unit name the same thing, the grant's "
                                                "target: give one of them, once\n");
                                return -EXIT_USAGE;
                        }
                        a->target = optarg;
                        break;
                default:
                        return -EXIT_USAGE;
                }
        return optind;
}

static volatile sig_atomic_t got_signal = 0;

static void on_signal(int sig) {
        got_signal = sig;
}

static int match_grant_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *path, *cgroup, *reason;
        uint32_t id;
        char **watched = userdata;

        (void) error;
        if (!*watched)
                return 0; /* not granted yet: not ours */
        if (sd_bus_message_read(m, "ouss", &path, &id, &cgroup, &reason) >= 0 && strcmp(path, *watched) == 0) {
                fprintf(stderr, "Grant %s ended: %s.\n", path, reason);
                free(*watched);
                *watched = NULL;
        }
        return 0;
}

int spmctl_request(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        RequestArgs a = {};
        int r, first;

        first = parse_request_args(argc, argv, &a, false);
        if (first < 0)
                return -first;
        if (first < argc) {
                fprintf(stderr, "request: unexpected argument '%s'\n", argv[first]);
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)))
                return r;
        r = sd_bus_match_signal(bus, NULL, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GrantRemoved",
                                match_grant_removed, &path);
        if (r < 0)
                return report("request", NULL, r);
        if ((r = request_grant(bus, &a, &path)))
                return r;
        printf("%s\n", path);
        fflush(stdout);
        if (a.persistent) {
                fprintf(stderr, "Granted, persistent: it stays until 'spmctl release %s'.\n", path);
                return 0;
        }
        /* The grant lives as long as this connection: hold it until told to stop. */
        fprintf(stderr, "Granted; holding it until interrupted (Ctrl-C, SIGTERM) or it is revoked.\n");
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        while (!got_signal && path) {
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "Lost the bus: %s; the grant ended with it.\n", strerror(-r));
                        return EXIT_FAILED;
                }
                if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
                        break;
        }
        if (!path)
                return EXIT_FAILED; /* revoked by spmd: says why above */
        r = release_grant(bus, path);
        if (r == 0)
                fprintf(stderr, "Released %s.\n", path);
        return r;
}

static int grant_arg_path(const char *arg, char *buf, size_t len) {
        uint32_t id;

        if (arg[0] == '/')
                snprintf(buf, len, "%s", arg);
        else if (parse_uint32(arg, &id) >= 0 && id > 0)
                snprintf(buf, len, SPMD_BUS_GRANT_PATH_PREFIX "%" PRIu32, id);
        else {
                fprintf(stderr, "'%s' is not a grant id or path; see 'spmctl grants'\n", arg);
                return -1;
        }
        return 0;
}

int spmctl_release(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r, ret = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: spmctl release GRANT...  (an id or object path from 'spmctl grants')\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)))
                return r;
        for (int i = 1; i < argc; i++) {
                char path[256];

                if (grant_arg_path(argv[i], path, sizeof path) < 0)
                        return EXIT_USAGE;
                r = release_grant(bus, path);
                if (r)
                        ret = r;
                else
                        printf("released %s\n", path);
        }
        return ret;
}

int spmctl_reload(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "reload takes no arguments.\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)) || (r = spmctl_call(bus, "Reload", &reply, NULL)))
                return r;
        printf("spmd reloaded its configuration.\n");
        return 0;
}

/* ---- monitor ---- */

/* A signal's JSON object, {"signal": NAME, ...}: the caller adds its values and prints it. */
static json_object *signal_object(const char *name) {
        json_object *o = json_object_new_object();

        if (o)
                json_add(o, "signal", json_object_new_string(name));
        return o;
}

static json_object *str(const char *s) {
        return json_object_new_string(s);
}

static json_object *u32(uint32_t u) {
        return json_object_new_uint64(u);
}

static int on_any_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m);
        const char *s1, *s2, *s3, *s4;
        uint32_t u1, u2;
        int b, r = 0;
        char nodes[1024] = "";

        (void) userdata, (void) error;
        if (!member)
                return 0;
        if (strcmp(member, "GrantAdded") == 0) {
                r = sd_bus_message_read(m, "ousu", &s1, &u1, &s2, &u2);
                if (r >= 0)
                        r = read_nodes(m, nodes, sizeof nodes);
                if (r >= 0 && spmctl_json) {
                        json_object *o = signal_object(member);
                        json_add(o, "grant", str(s1));
                        json_add(o, "id", u32(u1));
                        json_add(o, "cgroup", str(s2));
                        json_add(o, "uid", u32(u2));
                        json_add(o, "nodes", str(nodes));
                        r = json_print(o, stdout);
                } else if (r >= 0)
                        printf("GrantAdded     grant %" PRIu32 ": %s may use node(s) %s (uid %" PRIu32 ")\n", u1, s2,
                               nodes, u2);
        } else if (strcmp(member, "GrantRemoved") == 0) {
                r = sd_bus_message_read(m, "ouss", &s1, &u1, &s2, &s3);
                if (r >= 0 && spmctl_json) {
                        json_object *o = signal_object(member);
                        json_add(o, "grant", str(s1));
                        json_add(o, "id", u32(u1));
                        json_add(o, "cgroup", str(s2));
                        json_add(o, "reason", str(s3));
                        r = json_print(o, stdout);
                } else if (r >= 0)
                        printf("GrantRemoved   grant %" PRIu32 " of %s: %s\n", u1, s2, s3);
        } else if (strcmp(member, "Violation") == 0) {
                r = sd_bus_message_read(m, "suuss", &s1, &u1, &u2, &s2, &s3);
                if (r >= 0)
                        r = read_nodes(m, nodes, sizeof nodes);
                if (r >= 0)
                        r = sd_bus_message_read(m, "b", &b);
                if (r >= 0 && spmctl_json) {
                        json_object *o = signal_object(member);
                        json_add(o, "syscall", str(s1));
                        json_add(o, "pid", u32(u1));
                        json_add(o, "uid", u32(u2));
                        json_add(o, "comm", str(s2));
                        json_add(o, "cgroup", str(s3));
                        json_add(o, "nodes", str(nodes));
                        json_add(o, "killed", json_object_new_boolean(b));
                        r = json_print(o, stdout);
                } else if (r >= 0)
                        printf("Violation      %s (pid %" PRIu32 ", uid %" PRIu32 ") in %s: %s naming node(s) %s%s\n",
                               s2, u1, u2, s3, s1, nodes, b ? "; killed" : "");
        } else if (strcmp(member, "Denial") == 0) {
                r = sd_bus_message_read(m, "suusss", &s1, &u1, &u2, &s2, &s3, &s4);
                if (r >= 0 && spmctl_json) {
                        json_object *o = signal_object(member);
                        json_add(o, "what", str(s1));
                        json_add(o, "pid", u32(u1));
                        json_add(o, "uid", u32(u2));
                        json_add(o, "comm", str(s2));
                        json_add(o, "cgroup", str(s3));
                        json_add(o, "target_cgroup", str(s4));
                        r = json_print(o, stdout);
                } else if (r >= 0)
                        printf("Denial         %s (pid %" PRIu32 ", uid %" PRIu32 ") in %s: %s of %s\n", s2, u1, u2,
                               s3, s1, s4);
        } else if (strcmp(member, "PressureChanged") == 0) {
                r = sd_bus_message_read(m, "usss", &u1, &s1, &s2, &s3);
                if (r >= 0 && spmctl_json) {
                        json_object *o = signal_object(member);
                        json_add(o, "node", u32(u1));
                        json_add(o, "level", str(s1));
                        json_add(o, "previous", str(s2));
                        json_add(o, "reason", str(s3));
                        r = json_print(o, stdout);
                } else if (r >= 0)
                        printf("PressureChanged node %" PRIu32 ": %s -> %s (%s)\n", u1, s2, s1, s3);
        } else if (strcmp(member, "PropertiesChanged") == 0) {
                /* interface, changed properties with their values, invalidated names */
                json_object *o = signal_object(member), *changed = NULL, *invalidated = NULL;

                if (!o)
                        return -ENOMEM;
                r = sd_bus_message_read(m, "s", &s1);
                if (r >= 0)
                        r = json_from_bus(m, &changed);
                if (r >= 0)
                        r = json_from_bus(m, &invalidated);
                json_add(o, "interface", str(r >= 0 ? s1 : ""));
                json_add(o, "changed", changed);
                json_add(o, "invalidated", invalidated);
                if (r >= 0 && spmctl_json)
                        r = json_print(TAKE_PTR(o), stdout);
                else if (r >= 0) /* the same, for a person: what changed, as JSON */
                        printf("PropertiesChanged %s\n", json_text(o));
                if (o)
                        json_object_put(o);
        }
        if (r < 0)
                fprintf(stderr, "Cannot read a %s signal: %s\n", member, strerror(-r));
        fflush(stdout);
        return 0;
}

int spmctl_monitor(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "monitor takes no arguments.\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)))
                return r;
        r = sd_bus_match_signal(bus, NULL, SPMD_BUS_NAME, NULL, NULL, NULL, on_any_signal, NULL);
        if (r < 0)
                return report("monitor", NULL, r);
        /* fail early and clearly when spmd is not there */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                if ((r = spmctl_call(bus, "ListGrants", &reply, NULL)))
                        return r;
        }
        /* on stderr in both modes: the JSON stream stays clean, and a script can tell when it is subscribed */
        fprintf(stderr, "Following spmd's signals; Ctrl-C ends.\n");
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!got_signal) {
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "Lost the bus: %s\n", strerror(-r));
                        return EXIT_FAILED;
                }
                if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
                        break;
        }
        return 0;
}

/* ---- run ---- */

typedef struct JobWait {
        const char *job;  /* the job StartTransientUnit queued */
        char result[32];  /* JobRemoved's result once it came: "done", "failed", ... */
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobWait *w = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        (void) error;
        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && w->job && strcmp(job, w->job) == 0)
                snprintf(w->result, sizeof w->result, "%s", result);
        return 0;
}

/*
 * On a systemd host: put pid in a transient scope unit in spmd-run.slice, as systemd-run --scope
 * does (StartTransientUnit with PIDs=), and wait until systemd has started it. The scope goes when
 * its processes do. Returns 0, or an exit code with the reason printed.
 */
static int run_scope(sd_bus *bus, pid_t pid, const char *unit, const char *description) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        JobWait w = {};
        int r;

        r = sd_bus_match_signal(bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &w);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                   "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 4, "PIDs", "au", 1, (uint32_t) pid, "Slice", "s",
                                          "spmd-run.slice", "Description", "s", description, "CollectMode", "s",
                                          "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0) {
                fprintf(stderr, "run: cannot ask systemd for a scope: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        r = sd_bus_call(bus, m, 0, &e, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &w.job);
        if (r < 0) {
                fprintf(stderr, "run: systemd did not start the scope %s: %s\n", unit, e.message ?: strerror(-r));
                sd_bus_error_free(&e);
                return EXIT_FAILED;
        }
        for (int i = 0; i < 200 && !w.result[0]; i++) { /* 10 s */
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0)
                        (void) sd_bus_wait(bus, 50 * 1000);
        }
        if (strcmp(w.result, "done") != 0) {
                fprintf(stderr, "run: systemd's job for the scope %s ended %s\n", unit,
                        w.result[0] ? w.result : "without an answer in 10 s");
                return EXIT_FAILED;
        }
        return 0;
}

/* A cgroup directory of our own under CGROUP_ROOT, on a host where systemd does not own the tree.
 * Returns 0, or an exit code with the reason printed; *ret_made_slice says whether the slice
 * directory was made here (to be removed again when empty). */
static int run_cgroup(pid_t pid, const char *dir, bool *ret_made_slice) {
        char procs[300];
        struct statfs sf;
        bool moved = false;
        int fd;

        *ret_made_slice = false;
        if (statfs(CGROUP_ROOT, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
                fprintf(stderr, "run: %s is not a cgroup v2 mount: grants need the unified hierarchy\n", CGROUP_ROOT);
                return EXIT_FAILED;
        }
        if (mkdir(CGROUP_ROOT "/spmd-run.slice", 0755) == 0)
                *ret_made_slice = true;
        else if (errno != EEXIST)
                goto fail_mkdir;
        if (mkdir(dir, 0755) < 0)
                goto fail_mkdir;
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        /* Until spmd has walled the new cgroup (milliseconds), the SPM nodes reach it, and spmd's guard
         * keeps untrusted tasks like this one out: try again for up to two seconds. */
        for (int i = 0; i < 200 && !moved; i++) {
                fd = open(procs, O_WRONLY | O_CLOEXEC); /* never O_CREAT: only the kernel's file */
                moved = fd >= 0 && dprintf(fd, "%d\n", (int) pid) > 0;
                if (fd >= 0 && close(fd) < 0)
                        moved = false;
                if (moved || errno != EPERM)
                        break;
                usleep(10000);
        }
        if (!moved) {
                fprintf(stderr, "run: cannot move the command into %s: %s\n", dir, strerror(errno));
                return EXIT_FAILED;
        }
        return 0;

fail_mkdir:
        fprintf(stderr, "run: cannot create cgroup %s: %s%s\n", dir, strerror(errno),
                errno == EACCES || errno == EPERM
                        ? " (run needs root; otherwise ask with 'spmctl request' from a cgroup of your own)"
                        : "");
        return EXIT_FAILED;
}

static void run_cgroup_remove(const char *dir, bool made_slice) {
        for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
                usleep(20000); /* the cgroup empties a moment after the last task is reaped */
        if (made_slice)
                (void) rmdir(CGROUP_ROOT "/spmd-run.slice"); /* only if empty: another run may use it */
}

/*
 * Run CMD in a cgroup of its own with a grant: a transient scope through systemd where it owns
 * the cgroup tree, else a directory of our own. The child is placed there before the grant (the
 * guard keeps untrusted tasks from moving into granted cgroups), then spmctl asks for the grant,
 * lets the child exec, and releases the grant when it exits. If spmctl dies, its bus connection
 * goes and spmd ends the grant itself. A failure leaves nothing behind.
 */
int spmctl_run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        char cg_dir[256], target[128], desc[256];
        bool systemd = sd_booted() > 0, made_slice = false, made_dir = false;
        RequestArgs a = {};
        int pipefd[2], status, r, first, ret;
        pid_t pid;

        first = parse_request_args(argc, argv, &a, true);
        if (first < 0)
                return -first;
        if (first < argc && strcmp(argv[first], "--") == 0)
                first++;
        if (first >= argc) {
                fprintf(stderr, "usage: spmctl run [--node N] [--max-bytes SIZE] -- COMMAND [ARG...]\n");
                return EXIT_USAGE;
        }
        if ((r = spmctl_connect_bus(&bus)))
                return r;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return EXIT_FAILED;
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return EXIT_FAILED;
        }
        if (pid == 0) {
                NodeMask bind;
                close(pipefd[1]);
                if (read(pipefd[0], &bind, sizeof bind) != (ssize_t) sizeof bind)
                        _exit(127); /* the parent gave up: no grant */
                if (!nodemask_empty(&bind) &&
                    syscall(SYS_set_mempolicy, MPOL_BIND, bind.bits, (unsigned long) SPMD_MAX_NODES + 1) < 0) {
                        fprintf(stderr, "run: cannot bind the command's memory to its nodes (MPOL_BIND): %s\n",
                                strerror(errno));
                        _exit(127);
                }
                execvp(argv[first], argv + first);
                fprintf(stderr, "run: cannot execute %s: %s\n", argv[first], strerror(errno));
                _exit(127);
        }
        close(pipefd[0]);

        if (systemd) {
                snprintf(target, sizeof target, "spmctl-run-%d.scope", (int) pid);
                snprintf(desc, sizeof desc, "spmctl run %s", argv[first]);
                ret = run_scope(bus, pid, target, desc);
                snprintf(cg_dir, sizeof cg_dir, "%s", target);
        } else {
                snprintf(target, sizeof target, "/spmd-run.slice/run-%d.scope", (int) pid);
                snprintf(cg_dir, sizeof cg_dir, CGROUP_ROOT "%s", target);
                ret = run_cgroup(pid, cg_dir, &made_slice);
                made_dir = ret == 0 || access(cg_dir, F_OK) == 0;
        }
        a.target = target;
        if (ret == 0)
                ret = request_grant(bus, &a, &path);
        if (ret) {
                close(pipefd[1]); /* the child exits without running the command; a scope goes with it */
                (void) waitpid(pid, NULL, 0);
                if (made_dir || made_slice)
                        run_cgroup_remove(cg_dir, made_slice);
                return ret;
        }

        NodeMask bind = {};
        char nodes[256];
        if (run_bind(bus, path, &bind) > 0)
                fprintf(stderr, "Running %s in %s with grant %s, its memory bound to node(s) %s (MPOL_BIND: a "
                                "private node takes memory only from a bound policy).\n",
                        argv[first], target, path, nodemask_format(&bind, nodes, sizeof nodes));
        else
                fprintf(stderr, "Running %s in %s with grant %s.\n", argv[first], target, path);
        if (write(pipefd[1], &bind, sizeof bind) != (ssize_t) sizeof bind)
                fprintf(stderr, "run: cannot start the command: %s\n", strerror(errno));
        close(pipefd[1]);

        /* forward the usual stop signals to the command; keep serving the bus meanwhile */
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (got_signal) {
                        (void) kill(pid, got_signal);
                        got_signal = 0;
                }
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        (void) sd_bus_wait(bus, 100 * 1000);
        }
        r = release_grant(bus, path);
        if (r)
                fprintf(stderr, "run: could not release %s; spmd ends it when this connection closes.\n", path);
        if (!systemd)
                run_cgroup_remove(cg_dir, made_slice);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}
