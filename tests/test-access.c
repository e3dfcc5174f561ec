/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* [Access] rules against callers and requests, and the grant records of the state file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cgroup-util.h"
#include "conf.h"
#include "grant.h"
#include "parse-util.h"

static Config *load(const char *text) {
        Config *c = config_new();
        ConfDiags d = {};

        assert_non_null(c);
        assert_int_equal(config_parse_buffer(c, "test.conf", text, strlen(text), &d), 0);
        assert_int_equal(config_verify(c, &d), 0);
        conf_diags_clear(&d);
        return c;
}

static NodeMask mask(const char *s) {
        NodeMask m = {};
        if (s && *s)
                assert_int_equal(parse_nodemask(s, &m), 0);
        return m;
}

static unsigned held_n;
static unsigned count(const AccessConf *rule, uid_t uid, void *userdata) {
        (void) rule, (void) uid, (void) userdata;
        return held_n;
}

static const gid_t gids_1000[] = { 1000, 27 };
static const AccessCaller alice = { .uid = 1000, .user = "alice", .gids = gids_1000, .n_gids = 2,
                                    .cgroup = "/user.slice/user-1000.slice/session-3.scope" };

static int check(const Config *c, const char *spm, const AccessCaller *caller, const char *cgroup, const char *nodes,
                 uint64_t max_bytes, bool persistent, AccessDecision *d, char **err) {
        NodeMask s = mask(spm);
        AccessRequest req = { .cgroup = cgroup, .nodes = mask(nodes), .max_bytes = max_bytes, .persistent = persistent };
        free(*err);
        *err = NULL;
        return access_check(c, &s, caller, &req, count, NULL, d, err);
}

static void test_no_rule(void **state) {
        Config *c = load("[Access]\nName=ops\nUser=bob\nGroup=4242\n");
        AccessDecision d;
        char *err = NULL;

        (void) state;
        assert_int_equal(check(c, "1", &alice, alice.cgroup, NULL, 0, false, &d, &err), -EACCES);
        assert_non_null(strstr(err, "no [Access] rule admits uid 1000 (alice)"));
        free(err);
        assert_int_equal(access_admitted(c, &alice, &err), -EACCES);
        assert_non_null(strstr(err, "no [Access] rule admits uid 1000 (alice)"));
        free(err);
        config_free(c);
}

static void test_own_cgroup_only_without_patterns(void **state) {
        Config *c = load("[Access]\nName=users\nUser=alice\n");
        AccessDecision d;
        char *err = NULL;

        (void) state;
        /* the caller's own cgroup and below */
        assert_int_equal(check(c, "1,2", &alice, alice.cgroup, NULL, 0, false, &d, &err), 0);
        assert_ptr_equal(d.rule, c->access[0]);
        assert_true(nodemask_same(&d.nodes, &(NodeMask){ .bits = { 6 } }));
        assert_int_equal(d.max_bytes, UINT64_MAX);
        assert_int_equal(check(c, "1", &alice, "/user.slice/user-1000.slice/session-3.scope/job", NULL, 0, false, &d,
                               &err),
                         0);
        /* a sibling, or a cgroup whose name merely starts the same */
        assert_int_equal(check(c, "1", &alice, "/user.slice/user-1000.slice/session-30.scope", NULL, 0, false, &d,
                               &err),
                         -EACCES);
        assert_non_null(strstr(err, "[Access] users (test.conf:1) refuses"));
        assert_non_null(strstr(err, "not the caller's own cgroup"));
        /* fails closed: a caller in the root cgroup, or one whose cgroup is unknown, gets no cgroup at all */
        for (int k = 0; k < 3; k++) {
                AccessCaller who = alice;
                who.cgroup = k == 0 ? "/" : k == 1 ? NULL : "";
                assert_int_equal(check(c, "1", &who, "/anything", NULL, 0, false, &d, &err), -EACCES);
                assert_non_null(strstr(err, "admits only the caller's own cgroup"));
                assert_int_equal(check(c, "1", &who, alice.cgroup, NULL, 0, false, &d, &err), -EACCES);
        }
        free(err);
        config_free(c);
}

/* A tree under a temporary directory: mkdir -p of each path. */
static void make_tree(const char *root, const char *const *paths) {
        for (const char *const *p = paths; *p; p++) {
                char cmd[1024];
                snprintf(cmd, sizeof cmd, "mkdir -p '%s%s'", root, *p);
                assert_int_equal(system(cmd), 0);
        }
}

/* Units are found through the slices only: a planted name inside a delegated subtree never stands for one. */
static void test_find_unit_through_slices(void **state) {
        char root[] = "/tmp/test-units-XXXXXX", buf[256], cmd[300];
        (void) state;

        assert_non_null(mkdtemp(root));
        make_tree(root, (const char *const[]){ "/system.slice/foo.service", "/system.slice/bar.service/foo.service",
                                               "/user.slice/user-1000.slice/user@1000.service/app.slice/baz.service",
                                               "/machine.slice/ctr.scope/system.slice/baz.service",
                                               "/init.scope", "/deleg.service/qux.service", NULL });
        assert_int_equal(cgroup_find_unit(root, "foo.service", buf, sizeof buf), 0);
        assert_string_equal(buf, "/system.slice/foo.service");
        assert_int_equal(cgroup_find_unit(root, "init.scope", buf, sizeof buf), 0);
        assert_string_equal(buf, "/init.scope");
        assert_int_equal(cgroup_find_unit(root, "user-1000.slice", buf, sizeof buf), 0);
        assert_string_equal(buf, "/user.slice/user-1000.slice");
        /* only inside a service or scope (a user's manager, a container, a delegated service) */
        assert_int_equal(cgroup_find_unit(root, "baz.service", buf, sizeof buf), -ENOENT);
        assert_int_equal(cgroup_find_unit(root, "qux.service", buf, sizeof buf), -ENOENT);
        /* two of the same name below the slices: ambiguous, never the first found */
        make_tree(root, (const char *const[]){ "/other.slice/foo.service", NULL });
        assert_int_equal(cgroup_find_unit(root, "foo.service", buf, sizeof buf), -ENOTUNIQ);
        assert_int_equal(cgroup_find_unit(root, "not/a.service", buf, sizeof buf), -EINVAL);
        assert_int_equal(cgroup_find_unit(root, "plain", buf, sizeof buf), -EINVAL);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

static void test_patterns_nodes_bytes_persistence_count(void **state) {
        Config *c = load("[Access]\nName=batch\nGroup=27\nCgroup=/jobs/*\nUnit=ml-*.service\nNodes=2\n"
                         "MaxBytes=1G\nMaxGrants=2\n");
        AccessDecision d;
        char *err = NULL;

        (void) state;
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", NULL, 0, false, &d, &err), 0);
        assert_true(nodemask_same(&d.nodes, &(NodeMask){ .bits = { 4 } })); /* only what the rule covers */
        assert_int_equal(d.max_bytes, 1ull << 30);
        assert_int_equal(check(c, "1,2", &alice, "/system.slice/ml-train.service", NULL, 512ull << 20, false, &d, &err),
                         0);
        assert_int_equal(d.max_bytes, 512ull << 20);
        /* own cgroup is not enough once the rule names patterns */
        assert_int_equal(check(c, "1,2", &alice, alice.cgroup, NULL, 0, false, &d, &err), -EACCES);
        assert_non_null(strstr(err, "matches none of its Unit= and Cgroup= patterns"));
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", "1", 0, false, &d, &err), -EACCES);
        assert_non_null(strstr(err, "Nodes=2 does not cover node(s) 1"));
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", NULL, 2ull << 30, false, &d, &err), -EACCES);
        assert_non_null(strstr(err, "MaxBytes=1.0G is less than the 2.0G asked for"));
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", NULL, 0, true, &d, &err), -EACCES);
        assert_non_null(strstr(err, "AllowPersistent=no"));
        held_n = 2;
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", NULL, 0, false, &d, &err), -EACCES);
        assert_non_null(strstr(err, "MaxGrants=2 reached"));
        held_n = 0;
        /* the request names a node that is no SPM node at all: the request is wrong, not the caller */
        assert_int_equal(check(c, "1,2", &alice, "/jobs/a", "0", 0, false, &d, &err), -EINVAL);
        assert_non_null(strstr(err, "node(s) 0 are not SPM nodes (SPM nodes: 1-2)"));
        assert_int_equal(check(c, "", &alice, "/jobs/a", NULL, 0, false, &d, &err), -EINVAL);
        assert_non_null(strstr(err, "no SPM nodes"));
        free(err);
        config_free(c);
}

static void test_second_rule_and_all_refusals_named(void **state) {
        Config *c = load("[Access]\nName=small\nUser=1000\nMaxBytes=1M\n[Access]\nName=big\nUser=alice\n");
        AccessDecision d;
        char *err = NULL;

        (void) state;
        assert_int_equal(check(c, "1", &alice, alice.cgroup, NULL, 1ull << 30, false, &d, &err), 0);
        assert_ptr_equal(d.rule, c->access[1]);
        assert_int_equal(check(c, "1", &alice, alice.cgroup, NULL, 0, true, &d, &err), -EACCES);
        assert_non_null(strstr(err, "[Access] small (test.conf:1) refuses"));
        assert_non_null(strstr(err, "; [Access] big (test.conf:5) refuses"));
        free(err);
        config_free(c);
}

static void test_root(void **state) {
        Config *c = load("");
        AccessCaller root = { .uid = 0, .user = "root", .cgroup = "/" };
        AccessDecision d;
        char *err = NULL;

        (void) state;
        assert_int_equal(check(c, "1,3", &root, "/anything", NULL, 0, true, &d, &err), 0);
        assert_null(d.rule);
        assert_true(nodemask_same(&d.nodes, &(NodeMask){ .bits = { 10 } }));
        assert_int_equal(check(c, "1,3", &root, "/anything", "2", 0, false, &d, &err), -EINVAL);
        free(err);
        config_free(c);
}

/* A private node without user_numa cannot be named by userspace: never granted, and said why. */
static void test_private_node_without_user_numa(void **state) {
        Config *c = load("[Access]\nUser=alice\nCgroup=/work.slice\nNodes=all\n");
        NodeMask unplaceable = mask("3");
        AccessRequest req = { .cgroup = "/work.slice", .nodes = mask("3") };
        AccessDecision d;
        char *err = NULL;

        (void) state;
        /* named: refused, naming the node and the way out */
        assert_int_equal(check(c, "1,3", &alice, "/work.slice", "3", 0, false, &d, &err), 0);
        assert_int_equal(access_placeable(&req, &unplaceable, &d, &err), -EINVAL);
        assert_non_null(strstr(err, "node(s) asked for: 3: private node(s) without user_numa"));
        assert_non_null(strstr(err, "user_numa in PrivateServices="));
        free(err);
        err = NULL;

        /* all nodes: the placeable ones are granted, the other left out */
        req.nodes = (NodeMask){};
        assert_int_equal(check(c, "1,3", &alice, "/work.slice", NULL, 0, false, &d, &err), 0);
        assert_int_equal(access_placeable(&req, &unplaceable, &d, &err), 0);
        assert_true(nodemask_same(&d.nodes, &(NodeMask){ .bits = { 2 } }));

        /* all nodes, none placeable: refused */
        unplaceable = mask("1,3");
        assert_int_equal(check(c, "1,3", &alice, "/work.slice", NULL, 0, false, &d, &err), 0);
        assert_int_equal(access_placeable(&req, &unplaceable, &d, &err), -EINVAL);
        assert_non_null(strstr(err, "every SPM node the grant would cover is in 1,3"));
        free(err);

        /* no private node: nothing changes */
        unplaceable = (NodeMask){};
        err = NULL;
        assert_int_equal(check(c, "1,3", &alice, "/work.slice", NULL, 0, false, &d, &err), 0);
        assert_int_equal(access_placeable(&req, &unplaceable, &d, &err), 0);
        assert_true(nodemask_same(&d.nodes, &(NodeMask){ .bits = { 10 } }));
        free(err);
        config_free(c);
}

/* spmctl run binds a command's memory only where a private node is in its grant. */
static void test_run_bind(void **state) {
        NodeMask granted = mask("1,3"), bind = {};

        (void) state;
        assert_false(grant_run_bind(&granted, &(NodeMask){}, &bind));
        assert_true(nodemask_empty(&bind));
        NodeMask priv = mask("3");
        assert_true(grant_run_bind(&granted, &priv, &bind));
        assert_true(nodemask_same(&bind, &granted));
        priv = mask("2");
        assert_false(grant_run_bind(&granted, &priv, &bind));
}

static void test_unit_of_cgroup(void **state) {
        (void) state;
        assert_string_equal(cgroup_path_unit("/system.slice/foo.service"), "foo.service");
        assert_string_equal(cgroup_path_unit("/a.slice"), "a.slice");
        assert_null(cgroup_path_unit("/jobs/a"));
        assert_null(cgroup_path_unit("/x/.service"));
}

static void test_grant_records(void **state) {
        Grant g = { .id = 7, .cgroup = (char *) "/jobs/a b", .nodes = mask("1,3"), .max_bytes = UINT64_MAX,
                    .persistent = true, .rule = (char *) "batch", .owner = (char *) ":1.42", .uid = 65534,
                    .pid = 99, .caller_cgroup = (char *) "/", .created_usec = 123 };
        char *buf = NULL, *err = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        Grant *p = NULL;

        (void) state;
        assert_int_equal(grant_serialize(&g, f), 0);
        fclose(f);
        assert_int_equal(grant_parse(buf, &p, &err), 0);
        assert_int_equal(p->id, 7);
        assert_string_equal(p->cgroup, "/jobs/a b");
        assert_true(nodemask_same(&p->nodes, &g.nodes));
        assert_int_equal(p->max_bytes, UINT64_MAX);
        assert_true(p->persistent);
        assert_string_equal(p->rule, "batch");
        assert_string_equal(p->owner, ":1.42");
        assert_int_equal(p->uid, 65534);
        assert_int_equal(p->pid, 99);
        assert_int_equal(p->created_usec, 123);
        /* the state file's line, formatted once and kept: the same text, the same buffer again */
        const char *line = grant_line(p);
        assert_non_null(line);
        assert_string_equal(line, buf);
        assert_ptr_equal(grant_line(p), line);
        grant_free(p);
        free(buf);

        /* damage of every kind is named */
        static const struct {
                const char *line, *why;
        } bad[] = {
                { "cgroup=/a\tnodes=1\n", "lacks id=" },
                { "id=1\tnodes=1\n", "lacks cgroup=" },
                { "id=1\tcgroup=/a\n", "lacks nodes=" },
                { "id=0\tcgroup=/a\tnodes=1\n", "id=0 is not a grant id" },
                { "id=x\tcgroup=/a\tnodes=1\n", "id=x is not a number" },
                { "id=1\tcgroup=a\tnodes=1\n", "cgroup=a is not a cgroup path" },
                { "id=1\tcgroup=/a/../b\tnodes=1\n", "is not a cgroup path" },
                { "id=1\tcgroup=/a\tnodes=one\n", "nodes=one is not a node list" },
                { "id=1\tcgroup=/a\tnodes=1\tpersistent=2\n", "persistent=2 is not a number up to 1" },
                { "id=1\tcgroup=/a\tnodes=1\tjunk\n", "field 'junk' is not key=value" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                p = NULL;
                assert_int_equal(grant_parse(bad[i].line, &p, &err), -EINVAL);
                assert_null(p);
                if (!strstr(err, bad[i].why))
                        fail_msg("%s: got '%s', want '%s'", bad[i].line, err, bad[i].why);
                free(err);
        }
        /* a newer spmd's fields are ignored */
        assert_int_equal(grant_parse("id=2\tcgroup=/a\tnodes=1\tfuture=x\n", &p, &err), 0);
        grant_free(p);
        /* what cannot be stored is refused, not written half */
        g.cgroup = (char *) "/a\tb";
        f = open_memstream(&buf, &len);
        assert_int_equal(grant_serialize(&g, f), -EINVAL);
        fclose(f);
        free(buf);
        assert_null(grant_line(&g));
        assert_null(g.line);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_rule),
                cmocka_unit_test(test_own_cgroup_only_without_patterns),
                cmocka_unit_test(test_find_unit_through_slices),
                cmocka_unit_test(test_patterns_nodes_bytes_persistence_count),
                cmocka_unit_test(test_second_rule_and_all_refusals_named),
                cmocka_unit_test(test_root),
                cmocka_unit_test(test_unit_of_cgroup),
                cmocka_unit_test(test_private_node_without_user_numa),
                cmocka_unit_test(test_run_bind),
                cmocka_unit_test(test_grant_records),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
