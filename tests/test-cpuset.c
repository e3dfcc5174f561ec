/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cpuset wall's decisions (cpuset-plan.c): which cgroups get which
 * cpuset.mems for given SPM nodes and grants. The writes themselves run
 * against a real cgroup2 tree in the VM (tests/vm/TEST-07-cpuset.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cpuset.h"
#include "parse-util.h"

static NodeMask mask(const char *s) {
        NodeMask m = {};
        if (*s)
                assert_int_equal(parse_nodemask(s, &m), 0);
        return m;
}

/* want as a string, or "-" when nothing must be written */
static const char *want(const CpusetInput *in, const char *path, const char *cur, const char *parent_open) {
        static char buf[128];
        NodeMask c = mask(cur), p = mask(parent_open), w;

        if (!cpuset_want(in, path, &c, &p, &w))
                return "-";
        return nodemask_format(&w, buf, sizeof buf);
}

/* DRAM node 0, SPM node 1 */
static CpusetInput input(const CpusetGrant *g, size_t n) {
        return (CpusetInput){ .sysram = mask("0"), .spm = mask("1"), .usable = mask("0-1"), .grants = g,
                              .n_grants = n };
}

static void test_covers(void **state) {
        (void) state;
        assert_true(cgroup_path_covers("/a", "/a"));
        assert_true(cgroup_path_covers("/a", "/a/b"));
        assert_true(cgroup_path_covers("", "/a/b"));
        assert_false(cgroup_path_covers("/a", "/ab"));
        assert_false(cgroup_path_covers("/a/b", "/a"));
}

static void test_systemd_unit(void **state) {
        (void) state;
        assert_string_equal(cgroup_systemd_unit("/system.slice"), "system.slice");
        assert_string_equal(cgroup_systemd_unit("/init.scope"), "init.scope");
        assert_string_equal(cgroup_systemd_unit("/system.slice/db.service"), "db.service");
        assert_string_equal(cgroup_systemd_unit("/user.slice/user-1000.slice/session-2.scope"), "session-2.scope");
        assert_string_equal(cgroup_systemd_unit("/sys-fs-fuse-connections.mount"), "sys-fs-fuse-connections.mount");
        /* below a unit: whoever it was delegated to owns it */
        assert_null(cgroup_systemd_unit("/user.slice/user-1000.slice/user@1000.service/app.slice"));
        assert_null(cgroup_systemd_unit("/system.slice/docker-1.scope/inner"));
        /* made by hand, or not a unit name at all */
        assert_null(cgroup_systemd_unit("/jobs"));
        assert_null(cgroup_systemd_unit("/jobs/a.service"));
        assert_null(cgroup_systemd_unit("/.slice"));
        assert_null(cgroup_systemd_unit("/system.slice/"));
        assert_null(cgroup_systemd_unit("/system.slice//db.service"));
        assert_null(cgroup_systemd_unit(""));
        assert_null(cgroup_systemd_unit("/"));
        assert_null(cgroup_systemd_unit("system.slice"));
}

static void test_no_grants_walls_everything(void **state) {
        CpusetInput in = input(NULL, 0);
        (void) state;

        assert_string_equal(want(&in, "/system.slice", "", "1"), "0");   /* inherited: wall it */
        assert_string_equal(want(&in, "/system.slice", "0", "1"), "-");  /* already walled */
        assert_string_equal(want(&in, "/system.slice", "0-1", "1"), "0"); /* explicitly open: close it */
        assert_string_equal(want(&in, "/system.slice", "1", "1"), "0");  /* only SPM: falls back to DRAM */
        /* below a walled parent: nothing to do unless it names SPM nodes itself */
        assert_string_equal(want(&in, "/system.slice/x", "", ""), "-");
        assert_string_equal(want(&in, "/system.slice/x", "0-1", ""), "0");
        assert_false(cpuset_is_gateway(&in, "/system.slice"));
        assert_true(cpuset_is_gateway(&in, ""));
}

static void test_keeps_operator_choice_of_ordinary_nodes(void **state) {
        CpusetInput in = input(NULL, 0);
        (void) state;

        in.sysram = mask("0,2");
        in.usable = mask("0-2");
        assert_string_equal(want(&in, "/a", "", "1"), "0,2");
        assert_string_equal(want(&in, "/a", "2", "1"), "-");    /* the admin pinned it to node 2 */
        assert_string_equal(want(&in, "/a", "1-2", "1"), "2");
}

/* Private nodes (the private-node patches): the kernel refuses a cpuset.mems of private nodes only,
 * so every set spmd writes keeps a public one. DRAM node 0, SPM node 1 private, node 2 private and
 * not spmd's. */
static void test_private_nodes_keep_a_public_node(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/inference.slice", .nodes = mask("1") } };
        CpusetInput in = input(g, 1);
        (void) state;

        in.usable = mask("0-2");
        in.private_nodes = mask("1-2");
        assert_string_equal(want(&in, "/inference.slice", "0", "1-2"), "0-1");
        assert_string_equal(want(&in, "/inference.slice", "1", "1-2"), "0-1");  /* only the SPM node: + DRAM */
        assert_string_equal(want(&in, "/inference.slice", "1-2", "1-2"), "0-2"); /* private only: + DRAM */
        assert_string_equal(want(&in, "/system.slice", "2", "1-2"), "0,2");     /* the operator's private node 2 */
        assert_string_equal(want(&in, "/system.slice", "0,2", "1-2"), "-");
        assert_string_equal(want(&in, "/system.slice", "1", "1-2"), "0");
}

static void test_top_level_grant(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/inference.slice", .nodes = mask("1") } };
        CpusetInput in = input(g, 1);
        (void) state;

        /* granted: inheriting from the root already gives node 1 */
        assert_string_equal(want(&in, "/inference.slice", "", "1"), "-");
        assert_string_equal(want(&in, "/inference.slice", "0", "1"), "0-1"); /* was walled: open it */
        assert_string_equal(want(&in, "/inference.slice/job.scope", "", "1"), "-");
        assert_string_equal(want(&in, "/system.slice", "", "1"), "0");
        assert_false(cpuset_is_gateway(&in, "/inference.slice"));
}

static void test_nested_grant_makes_gateways(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/system.slice/db.service", .nodes = mask("1") } };
        CpusetInput in = input(g, 1);
        NodeMask open = cpuset_open_for_children(&in, "/system.slice");
        char s[32];
        (void) state;

        assert_true(cpuset_is_gateway(&in, ""));
        assert_true(cpuset_is_gateway(&in, "/system.slice"));
        assert_false(cpuset_is_gateway(&in, "/system.slice/db.service"));
        assert_false(cpuset_is_gateway(&in, "/system.slice/other.service"));
        assert_string_equal(nodemask_format(&open, s, sizeof s), "1");
        /* the slice opens, its other children are walled, the granted service inherits */
        assert_string_equal(want(&in, "/system.slice", "0", "1"), "0-1");
        assert_string_equal(want(&in, "/system.slice/other.service", "", "1"), "0");
        assert_string_equal(want(&in, "/system.slice/db.service", "", "1"), "-");
        assert_string_equal(want(&in, "/user.slice", "", "1"), "0");
}

static void test_partial_grant(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/g", .nodes = mask("1") } };
        CpusetInput in = input(g, 1);
        (void) state;

        in.spm = mask("1-2");
        in.usable = mask("0-2");
        /* the root lets 1 and 2 through: /g must name 1 and not 2 */
        assert_string_equal(want(&in, "/g", "", "1-2"), "0-1");
        assert_string_equal(want(&in, "/g", "0-2", "1-2"), "0-1");
        assert_false(cpuset_is_gateway(&in, "/g"));
}

static void test_grants_overlap(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/a", .nodes = mask("1") },
                            { .cgroup = (char *) "/a/b", .nodes = mask("2") } };
        CpusetInput in = input(g, 2);
        NodeMask need;
        char s[32];
        (void) state;

        in.spm = mask("1-2");
        in.usable = mask("0-2");
        need = cpuset_need(&in, "/a");
        assert_string_equal(nodemask_format(&need, s, sizeof s), "1-2");
        need = cpuset_need(&in, "/a/b");
        assert_string_equal(nodemask_format(&need, s, sizeof s), "1-2"); /* its own and /a's */
        assert_true(cpuset_is_gateway(&in, "/a"));                       /* lets 2 through for /a/b only */
        assert_string_equal(want(&in, "/a/c", "", "1-2"), "0-1");
        assert_string_equal(want(&in, "/a/b", "", "1-2"), "-");
}

static void test_nodes_without_memory_are_not_written(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/g", .nodes = mask("1") } };
        CpusetInput in = input(g, 1);
        (void) state;

        /* node 1 is about to be onlined: walls go up, grants wait for the memory */
        in.usable = mask("0");
        assert_string_equal(want(&in, "/other", "", "1"), "0");
        assert_string_equal(want(&in, "/g", "0", "1"), "-");
}

static void test_grant_nodes_outside_spm_ignored(void **state) {
        CpusetGrant g[] = { { .cgroup = (char *) "/g", .nodes = mask("0-1") } };
        CpusetInput in = input(g, 1);
        NodeMask need = cpuset_need(&in, "/g");
        char s[32];
        (void) state;

        assert_string_equal(nodemask_format(&need, s, sizeof s), "1");
}

static void test_revoked_grant_is_closed(void **state) {
        CpusetInput in = input(NULL, 0);
        (void) state;

        /* the grant on /g/x is gone: /g is walled again, and so is the stale value below it */
        assert_string_equal(want(&in, "/g", "0-1", "1"), "0");
        assert_string_equal(want(&in, "/g/x", "0-1", "1"), "0");
}

/* Which writes take SPM nodes away (the slow ones, for the wall's writer) and which give them. DRAM
 * node 0, SPM nodes 1 and 2. */
static void test_write_narrows_widens(void **state) {
        static const struct {
                const char *cur, *parent_open, *want;
                bool narrows, widens;
        } t[] = {
                { "0-1", "1", "0", true, false },     /* a grant revoked: its pages migrate */
                { "", "1", "0", true, false },        /* inherited node 1 from an open parent: walled */
                { "", "", "0", false, false },        /* below a walled parent it reached nothing */
                { "0", "1", "0-1", false, true },     /* a grant: opened */
                { "", "1-2", "0-1", true, false },    /* one of two SPM nodes taken */
                { "0-1", "1-2", "0,2", true, true },  /* one taken, one given: both */
                { "1", "1", "0-1", false, false },    /* only DRAM added: no SPM node changes */
                { "0,2", "2", "0", true, false },
        };
        (void) state;

        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                CpusetInput in = input(NULL, 0);
                NodeMask c = mask(t[i].cur), p = mask(t[i].parent_open), w = mask(t[i].want);

                in.spm = mask("1-2");
                in.usable = mask("0-2");
                if (cpuset_write_narrows(&in, &c, &p, &w) != t[i].narrows ||
                    cpuset_write_widens(&in, &c, &p, &w) != t[i].widens)
                        fail_msg("row %zu: cur %s, parent open %s, want %s: narrows %d widens %d, expected %d %d", i,
                                 t[i].cur, t[i].parent_open, t[i].want, cpuset_write_narrows(&in, &c, &p, &w),
                                 cpuset_write_widens(&in, &c, &p, &w), t[i].narrows, t[i].widens);
        }
}

/* The order of queued writes: what must wait for a pending one, and what a failure cancels. */
static void test_write_order(void **state) {
        static const struct {
                const char *path, *pending;
                bool follows;
        } f[] = {
                { "/a", "/a", true },         /* the same cgroup: the last decided is the last written */
                { "/a", "/a/b", true },       /* a wall below holds before /a opens */
                { "/a", "/a/b/c", true },
                { "", "/a", true },           /* the root covers everything */
                { "/a/b", "/a", false },      /* below: may overtake (walled sooner, or opened below an open parent) */
                { "/a", "/ab", false },       /* a sibling whose name starts alike */
                { "/a", "/b", false },
        };
        static const struct {
                const char *path;
                bool widens;
                const char *failed;
                bool cancelled;
        } c[] = {
                { "/a", true, "/a/b", true },    /* opening the parent of a cgroup that could not be walled */
                { "/a", true, "/a/b/c", true },
                { "/a", false, "/a/b", false },  /* walling it is always right */
                { "/a/b", true, "/a/b", false }, /* the failed cgroup's own later write still runs */
                { "/a/b", true, "/a", false },   /* below the failed one */
                { "/ab", true, "/a/b", false },
        };
        (void) state;

        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
                if (cpuset_write_must_follow(f[i].path, f[i].pending) != f[i].follows)
                        fail_msg("row %zu: a write to '%s' with '%s' pending: follows %d, expected %d", i, f[i].path,
                                 f[i].pending, !f[i].follows, f[i].follows);
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
                if (cpuset_write_cancelled_by(c[i].path, c[i].widens, c[i].failed) != c[i].cancelled)
                        fail_msg("row %zu: '%s' (widens %d) after '%s' failed: cancelled %d, expected %d", i,
                                 c[i].path, c[i].widens, c[i].failed, !c[i].cancelled, c[i].cancelled);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_covers),
                cmocka_unit_test(test_systemd_unit),
                cmocka_unit_test(test_no_grants_walls_everything),
                cmocka_unit_test(test_keeps_operator_choice_of_ordinary_nodes),
                cmocka_unit_test(test_top_level_grant),
                cmocka_unit_test(test_private_nodes_keep_a_public_node),
                cmocka_unit_test(test_nested_grant_makes_gateways),
                cmocka_unit_test(test_partial_grant),
                cmocka_unit_test(test_grants_overlap),
                cmocka_unit_test(test_nodes_without_memory_are_not_written),
                cmocka_unit_test(test_grant_nodes_outside_spm_ignored),
                cmocka_unit_test(test_revoked_grant_is_closed),
                cmocka_unit_test(test_write_narrows_widens),
                cmocka_unit_test(test_write_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
