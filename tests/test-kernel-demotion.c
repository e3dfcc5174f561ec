/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's own demotion as a way onto an SPM node (kernel-demotion.c): which SPM node it reaches
 * from the memory tiers, and the demotion_enabled file read and written under a test root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel-demotion.h"
#include "macro.h"

#define GIB (1ull << 30)

static NodeMask mask_of(int node) {
        NodeMask m = {};
        if (node >= 0)
                nodemask_set(&m, (unsigned) node);
        return m;
}

static void test_target(void **state) {
        static const struct {
                const char *what;
                int tier0, tier1;     /* memory tiers of node 0 (DRAM) and node 1 */
                uint64_t size0, size1;
                int spm;              /* the SPM node, -1: none */
                int want;
        } t[] = {
                { "dax kmem: the SPM node a tier below DRAM", 4, 450, GIB, GIB, 1, 1 },
                { "the SPM node in DRAM's tier: no demotion to it", 4, 4, GIB, GIB, 1, -1 },
                { "no tiers known: taken to be a target", -1, -1, GIB, GIB, 1, 1 },
                { "the SPM node's tier unknown", 4, -1, GIB, GIB, 1, 1 },
                { "no SPM node", 4, 450, GIB, GIB, -1, -1 },
                { "the only other node has no memory: nothing demotes", 4, 450, 0, GIB, 1, -1 },
                { "DRAM below the SPM node: demotes from it, not to it", 450, 4, GIB, GIB, 1, -1 },
                { "an SPM node topology has not read yet (onlined since)", 4, 450, GIB, GIB, 7, 7 },
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                NodeInfo nodes[2] = {
                        { .id = 0, .size = t[i].size0, .memory_tier = t[i].tier0 },
                        { .id = 1, .size = t[i].size1, .memory_tier = t[i].tier1 },
                };
                Topology topo = { .nodes = nodes, .n_nodes = 2 };
                NodeMask spm = mask_of(t[i].spm);

                print_message("%s\n", t[i].what);
                assert_int_equal(demotion_target_spm(&topo, &spm), t[i].want);
        }
}

static void test_fixture(void **state) {
        _cleanup_(topology_freep) Topology *t = NULL;
        char root[PATH_MAX];
        const char *fixtures = getenv("SPMD_FIXTURES");
        NodeMask spm = mask_of(1);
        bool on = true;

        (void) state;
        assert_non_null(fixtures);
        /* the NVDIMM guest's sysfs: node 1 (dax kmem) in memory_tier450, node 0 in memory_tier4 */
        snprintf(root, sizeof root, "%s/sysfs/nvdimm-hmat-6.12", fixtures);
        assert_int_equal(topology_discover_nodes_at(root, &t), 0);
        assert_int_equal(demotion_target_spm(t, &spm), 1);
        assert_int_equal(kernel_demotion_get(root, NULL, &on), 0);
        assert_false(on);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_get_set(void **state) {
        char dir[] = "/tmp/test-kernel-demotion-XXXXXX", p[PATH_MAX], cmd[PATH_MAX + 16];
        bool on = false;

        (void) state;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(kernel_demotion_get(dir, NULL, &on), -ENOENT); /* a kernel without demotion */
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/sys/kernel/mm/numa'", dir);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof p, "%s/sys/kernel/mm/numa/demotion_enabled", dir);

        write_file(p, "true\n");
        assert_int_equal(kernel_demotion_get(dir, NULL, &on), 0);
        assert_true(on);
        assert_int_equal(kernel_demotion_set(dir, false), 0);
        assert_int_equal(kernel_demotion_get(dir, NULL, &on), 0);
        assert_false(on);

        write_file(p, "1\n"); /* older kernels */
        assert_int_equal(kernel_demotion_get(dir, NULL, &on), 0);
        assert_true(on);
        write_file(p, "maybe\n");
        assert_int_equal(kernel_demotion_get(dir, NULL, &on), -EBADMSG);

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_target),
                cmocka_unit_test(test_fixture),
                cmocka_unit_test(test_get_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
