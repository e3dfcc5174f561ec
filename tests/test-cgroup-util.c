/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup-util.c on a directory tree made to look like cgroupfs: collecting a subtree's processes
 * down to a depth, and finding a cgroup whose path fits the caller's buffer or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup-util.h"
#include "macro.h"

static char root[] = "/tmp/test-cgroup-util-XXXXXX";

static void make(const char *rel, const char *procs) {
        char p[512];
        FILE *f;

        snprintf(p, sizeof p, "%s%s", root, rel);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s%s/cgroup.procs", root, rel);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(procs, f);
        assert_int_equal(fclose(f), 0);
}

static int cmp_pid(const void *a, const void *b) {
        return *(const pid_t *) a - *(const pid_t *) b;
}

static void test_collect_procs(void **state) {
        static const struct {
                unsigned depth;
                size_t n;
                pid_t want[6];
        } t[] = {
                { 0, 2, { 1, 2 } },
                { 1, 4, { 1, 2, 10, 20 } },
                { 2, 5, { 1, 2, 10, 20, 100 } },
                { 16, 5, { 1, 2, 10, 20, 100 } },
        };
        char dir[512];

        (void) state;
        snprintf(dir, sizeof dir, "%s/a.slice", root);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;

                cgroup_collect_procs(dir, t[i].depth, &pids, &n);
                print_message("depth %u: %zu process(es)\n", t[i].depth, n);
                assert_int_equal(n, t[i].n);
                qsort(pids, n, sizeof *pids, cmp_pid);
                for (size_t k = 0; k < n; k++)
                        assert_int_equal(pids[k], t[i].want[k]);
        }
}

static bool named(const struct dirent *de, const void *userdata) {
        return strcmp(de->d_name, userdata) == 0;
}

static void test_tree_find(void **state) {
        char buf[64], small[8];

        (void) state;
        assert_true(cgroup_tree_find(root, 4, named, "deep.scope", buf, sizeof buf));
        assert_string_equal(buf, "/a.slice/b.service/deep.scope");
        /* a path that does not fit is not a match, not a cut one */
        assert_false(cgroup_tree_find(root, 4, named, "deep.scope", small, sizeof small));
        /* nor beyond the depth asked */
        assert_false(cgroup_tree_find(root, 1, named, "deep.scope", buf, sizeof buf));
        assert_false(cgroup_tree_find(root, 4, named, "none.scope", buf, sizeof buf));
}

static int setup(void **state) {
        (void) state;
        if (!mkdtemp(root))
                return -1;
        make("/a.slice", "1\n2\n");
        make("/a.slice/b.service", "10\n");
        make("/a.slice/c.scope", "20\n");
        make("/a.slice/b.service/deep.scope", "100\n");
        make("/other.slice", "7\n");
        return 0;
}

static int teardown(void **state) {
        char cmd[128];

        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_collect_procs),
                cmocka_unit_test(test_tree_find),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
