/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's core and its pressure subsystem in one process, as spmd runs them (manager.c,
 * pressure/): a reload that fails keeps the running configuration; the pressure subsystem reads
 * the manager's current config and grants through its inputs, also after a reload replaced them;
 * which granted cgroups reclaim and evacuation act on. Every enforcement layer is off in the
 * configurations used, so nothing of the machine is written; the system bus is pointed at a
 * socket that does not exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"
#include "broker.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "strv.h"
#include "watch.h"

static char dir[] = "/tmp/test-manager-XXXXXX";
static char conf_path[64];

#define CONF_BASE                         \
        "[Daemon]\n"                      \
        "StateDirectory=%s/state\n"       \
        "[Enforcement]\n"                 \
        "Cpuset=no\n"                     \
        "Observe=no\n"                    \
        "CgroupGuard=no\n"                \
        "StructOps=no\n"                  \
        "NativeSpm=no\n"

static void write_conf(const char *extra) {
        FILE *f = fopen(conf_path, "we");

        assert_non_null(f);
        fprintf(f, CONF_BASE, dir);
        fputs(extra, f);
        assert_int_equal(fclose(f), 0);
}

/* Run the loop until the reload's steps are done; returns how many dispatches they took. */
static unsigned settle(Manager *m) {
        unsigned n = 0;

        while (manager_reloading(m)) {
                assert_true(sd_event_run(m->event, 10 * 1000 * 1000) >= 0);
                assert_true(++n < 1000);
        }
        return n;
}

static Manager *start(const char *extra) {
        Manager *m = NULL;

        write_conf(extra);
        assert_int_equal(manager_new(conf_path, true, LOG_ERR, &m), 0);
        assert_int_equal(manager_load_config(m), 0);
        return m;
}

static void test_bad_reload_keeps_config(void **state) {
        _cleanup_free_ char *error = NULL;
        Manager *m;
        Config *before;

        (void) state;
        m = start("[Grant]\nName=a\nCgroup=/a.slice\nNodes=1\n");
        before = m->config;
        assert_non_null(before);
        assert_int_equal(before->n_grants, 1);

        write_conf("[Grant]\nName=a\nCgroup=/a.slice\nNodes=1\n[Pressure]\nFreeWarn=eleven\n");
        assert_int_equal(manager_reload(m, &error), -EINVAL);
        assert_non_null(error);
        print_message("reload refused: %s\n", error);
        assert_non_null(strstr(error, "FreeWarn"));
        assert_ptr_equal(m->config, before);          /* the running one, untouched */
        assert_int_equal(m->config->n_grants, 1);
        assert_int_equal(m->n_failed_reloads, 1);
        assert_int_equal(m->n_reloads, 0);
        /* the pressure subsystem still reads it */
        assert_ptr_equal(pr_config(m->pressure), before);
        manager_free(m);
}

static void test_reload_reaches_pressure(void **state) {
        Manager *m;

        (void) state;
        m = start("[Grant]\nName=a\nCgroup=/a.slice\nNodes=1\n");
        assert_int_equal(manager_reload(m, NULL), 0);
        (void) settle(m);
        write_conf("[Grant]\nName=a\nCgroup=/a.slice\nNodes=1\n[Grant]\nName=b\nCgroup=/b.slice\nNodes=2\n");
        assert_int_equal(manager_reload(m, NULL), 0);
        /* the new configuration is in force before the steps that follow it run */
        assert_true(manager_reloading(m));
        assert_int_equal(pr_config(m->pressure)->n_grants, 2);
        (void) settle(m);
        assert_int_equal(m->n_reloads, 2);
        /* the inputs point at the manager's fields, not at what they held when wired */
        assert_ptr_equal(pr_config(m->pressure), m->config);
        assert_int_equal(pr_config(m->pressure)->n_grants, 2);
        assert_ptr_equal(pr_topology(m->pressure), m->topology);
        manager_free(m);
}

static int on_other(sd_event_source *s, void *userdata) {
        (void) s;
        (*(unsigned *) userdata)++;
        return 0;
}

/* One dispatch of the loop; the reload step it ran, or -1. */
static int run_once(Manager *m, unsigned *restarts) {
        unsigned before = m->reload_step;

        assert_true(sd_event_run(m->event, 10 * 1000 * 1000) >= 0);
        if (!manager_reloading(m) || m->reload_step == before)
                return -1;
        if (m->reload_step < before) {
                (*restarts)++;
                return -1;
        }
        assert_int_equal(m->reload_step, before + 1); /* never two steps in one dispatch */
        return (int) before;
}

static void test_reload_in_steps(void **state) {
        sd_event_source *other = NULL;
        unsigned steps = 0, others = 0, restarts = 0;
        Manager *m;

        (void) state;
        m = start("[Grant]\nName=a\nCgroup=/a.slice\nNodes=1\n");
        assert_int_equal(sd_event_add_defer(m->event, &other, on_other, &others), 0);
        assert_int_equal(sd_event_source_set_enabled(other, SD_EVENT_OFF), 0);

        /* one step a dispatch, and whatever else is pending (a client's call) goes first */
        assert_int_equal(manager_reload(m, NULL), 0);
        while (manager_reloading(m)) {
                if (m->reload_step == 3) {
                        unsigned at = m->reload_step;

                        assert_int_equal(sd_event_source_set_enabled(other, SD_EVENT_ONESHOT), 0);
                        assert_int_equal(run_once(m, &restarts), -1);
                        assert_int_equal(others, 1);
                        assert_int_equal(m->reload_step, at);
                }
                if (run_once(m, &restarts) >= 0)
                        steps++;
        }
        print_message("the reload took %u dispatches of the loop\n", steps);
        assert_true(steps >= 9);
        assert_int_equal(restarts, 0);

        /* a reload while one runs: the new configuration is in at once, and the steps done run again */
        assert_int_equal(manager_reload(m, NULL), 0);
        while (m->reload_step < 6)
                (void) run_once(m, &restarts);
        write_conf("[Grant]\nName=b\nCgroup=/b.slice\nNodes=2\n[Grant]\nName=c\nCgroup=/c.slice\nNodes=2\n");
        assert_int_equal(manager_reload(m, NULL), 0);
        assert_int_equal(m->config->n_grants, 2);
        while (manager_reloading(m))
                (void) run_once(m, &restarts);
        assert_int_equal(restarts, 1);
        assert_int_equal(m->n_reloads, 3);
        assert_false(m->reload_again);
        sd_event_source_disable_unref(other);
        manager_free(m);
}

/* Who manager_read_topology() answered, in order, with which topology. */
typedef struct Reads {
        int r[4];
        const void *topology[4];
        unsigned n;
} Reads;

static void on_read(Manager *m, int r, void *userdata) {
        Reads *reads = userdata;

        assert_true(reads->n < ELEMENTSOF(reads->r));
        reads->r[reads->n] = r;
        reads->topology[reads->n] = m->topology;
        reads->n++;
}

static void test_topology_reads(void **state) {
        Reads reads = {};
        Manager *m;

        (void) state;
        m = start("");
        /* the first read runs in the thread; who asks meanwhile gets one more that starts after */
        assert_int_equal(manager_read_topology(m, on_read, &reads), 1);
        assert_int_equal(manager_read_topology(m, on_read, &reads), 1);
        assert_int_equal(manager_read_topology(m, on_read, &reads), 1);
        assert_int_equal(reads.n, 0); /* nothing read on the loop */
        while (reads.n < 3)
                assert_true(sd_event_run(m->event, 10 * 1000 * 1000) >= 0);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(reads.r[i], 0);
        assert_non_null(reads.topology[0]);
        assert_ptr_not_equal(reads.topology[1], reads.topology[0]); /* a second read, not the first's */
        assert_ptr_equal(reads.topology[2], reads.topology[1]);     /* ... shared by both who waited */
        assert_int_equal(m->n_topology_waiters + m->n_topology_next, 0);

        /* stopping with a read under way: its waiter hears so */
        reads = (Reads){};
        assert_int_equal(manager_read_topology(m, on_read, &reads), 1);
        manager_free(m);
        assert_int_equal(reads.n, 1);
        assert_int_equal(reads.r[0], -ECANCELED);
}

static Grant *grant(const char *cgroup, unsigned node) {
        Grant *g = calloc(1, sizeof *g);

        assert_non_null(g);
        g->cgroup = strdup(cgroup);
        assert_non_null(g->cgroup);
        nodemask_set(&g->nodes, node);
        return g;
}

static void test_node_cgroups(void **state) {
        static const struct {
                const char *what;
                const char *conf;           /* [Grant]s */
                const char *broker[6];      /* grants over the bus, on node 1 */
                unsigned node;
                const char *want;           /* space-separated, in order */
        } t[] = {
                { "none", "", { NULL }, 1, "" },
                { "a configured grant on the node", "[Grant]\nCgroup=/a.slice\nNodes=1\n", { NULL }, 1,
                  "/sys/fs/cgroup/a.slice" },
                { "a configured grant on another node", "[Grant]\nCgroup=/a.slice\nNodes=2\n", { NULL }, 1, "" },
                { "Nodes=all covers every node", "[Grant]\nCgroup=/a.slice\nNodes=all\n", { NULL }, 3,
                  "/sys/fs/cgroup/a.slice" },
                { "a bus grant inside a configured one: the outer only",
                  "[Grant]\nCgroup=/a.slice\nNodes=1\n", { "/a.slice/job.scope", NULL }, 1, "/sys/fs/cgroup/a.slice" },
                { "a configured grant inside a bus grant: the outer only",
                  "[Grant]\nCgroup=/a.slice/x.service\nNodes=1\n", { "/a.slice", NULL }, 1, "/sys/fs/cgroup/a.slice" },
                { "the same cgroup twice: once", "[Grant]\nCgroup=/a.slice\nNodes=1\n", { "/a.slice", NULL }, 1,
                  "/sys/fs/cgroup/a.slice" },
                { "siblings and a prefix that is not a parent",
                  "", { "/a.slice", "/ab.slice", "/a.slice/in.scope", NULL }, 1,
                  "/sys/fs/cgroup/a.slice /sys/fs/cgroup/ab.slice" },
                { "bus grants on node 1 do not reach node 2", "", { "/a.slice", NULL }, 2, "" },
                { "'-' sorts before '/': a sibling between a cgroup and its child does not hide the cover",
                  "", { "/a", "/a-c", "/a/b", NULL }, 1, "/sys/fs/cgroup/a /sys/fs/cgroup/a-c" },
                { "in the order the grants came, each outer one once",
                  "[Grant]\nCgroup=/z.slice/in\nNodes=1\n", { "/b.slice", "/a.slice/x", "/a-c.slice/y", "/a.slice", "/z.slice", NULL }, 1,
                  "/sys/fs/cgroup/b.slice /sys/fs/cgroup/a-c.slice/y /sys/fs/cgroup/a.slice /sys/fs/cgroup/z.slice" },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(strv_freep) char **want = strv_split_whitespace(t[i].want);
                _cleanup_(strv_freep) char **got = NULL;
                Manager *m = start(t[i].conf);

                print_message("%s\n", t[i].what);
                for (size_t k = 0; t[i].broker[k]; k++) {
                        Grant **n = realloc(m->broker->grants, (m->broker->n_grants + 1) * sizeof *n);
                        assert_non_null(n);
                        m->broker->grants = n;
                        m->broker->grants[m->broker->n_grants++] = grant(t[i].broker[k], 1);
                }
                got = pressure_node_cgroups(m->pressure, t[i].node);
                assert_int_equal(strv_length(got), strv_length(want));
                for (size_t k = 0; want && want[k]; k++)
                        assert_string_equal(got[k], want[k]);
                manager_free(m);
        }
}

static int setup(void **state) {
        (void) state;
        if (!mkdtemp(dir))
                return -1;
        snprintf(conf_path, sizeof conf_path, "%s/spmd.conf", dir);
        /* the broker finds no bus, at once and always the same way */
        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/spmd-test-bus", 1);
        log_set_max_level(LOG_ERR);
        return 0;
}

static int teardown(void **state) {
        char cmd[128];

        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_reload_keeps_config),
                cmocka_unit_test(test_reload_reaches_pressure),
                cmocka_unit_test(test_reload_in_steps),
                cmocka_unit_test(test_topology_reads),
                cmocka_unit_test(test_node_cgroups),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
