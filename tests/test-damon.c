/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * damon.c's own decisions, on a directory laid out as sysfs would be: the
 * ranges it monitors from a node's memory blocks, when it takes DAMON's
 * kdamonds and when it must leave them alone, and what a scheme turns into.
 * The kernel's side (DAMON migrating pages) is TEST-14-demote in the VM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "damon.h"

static char root[64];

static void mkdirs(const char *rel) {
        char path[512], *p;

        snprintf(path, sizeof path, "%s/%s", root, rel);
        for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = 0;
                (void) mkdir(path, 0755);
                *p = '/';
        }
        (void) mkdir(path, 0755);
}

static void put(const char *rel, const char *value) {
        char path[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", root, rel);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(value, f);
        fclose(f);
}

static char *get(const char *rel) {
        static char buf[256];
        char path[512];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", root, rel);
        f = fopen(path, "r");
        if (!f)
                return NULL;
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
        return buf;
}

static int setup(void **state) {
        (void) state;
        snprintf(root, sizeof root, "/tmp/test-damon.XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown(void **state) {
        char cmd[128];

        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void block(unsigned node, unsigned id, bool online) {
        char rel[128];

        snprintf(rel, sizeof rel, "sys/devices/system/node/node%u/memory%u", node, id);
        mkdirs(rel);
        strcat(rel, "/online");
        put(rel, online ? "1\n" : "0\n");
}

static void test_ranges(void **state) {
        DamonRange *r = NULL;
        size_t n = 0;

        (void) state;
        mkdirs("sys/devices/system/memory");
        put("sys/devices/system/memory/block_size_bytes", "8000000\n"); /* 128 MiB, in hex as sysfs has it */
        /* out of order as readdir gives them, a hole at 3, an offline block at 9 */
        block(0, 5, true);
        block(0, 0, true);
        block(0, 2, true);
        block(0, 1, true);
        block(0, 4, true);
        block(0, 9, false);
        block(0, 32, true);
        mkdirs("sys/devices/system/node/node0/cpu0"); /* not a memory block */
        assert_int_equal(damon_node_ranges(root, 0, &r, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(r[0].start, 0);
        assert_int_equal(r[0].end, 3 * 0x8000000ull);
        assert_int_equal(r[1].start, 4 * 0x8000000ull);
        assert_int_equal(r[1].end, 6 * 0x8000000ull);
        assert_int_equal(r[2].start, 32 * 0x8000000ull);
        assert_int_equal(r[2].end, 33 * 0x8000000ull);
        free(r);
        /* a node without memory blocks: no ranges, no error */
        mkdirs("sys/devices/system/node/node1");
        assert_int_equal(damon_node_ranges(root, 1, &r, &n), 0);
        assert_int_equal(n, 0);
        free(r);
        /* no such node */
        assert_int_equal(damon_node_ranges(root, 7, &r, &n), -ENOENT);
        /* garbage block size */
        put("sys/devices/system/memory/block_size_bytes", "zz\n");
        assert_int_equal(damon_node_ranges(root, 0, &r, &n), -EINVAL);
}

static void test_probe(void **state) {
        char why[512];

        (void) state;
        assert_int_equal(damon_probe(root, why, sizeof why), -ENOENT);
        assert_non_null(strstr(why, "no DAMON sysfs interface"));
        assert_non_null(strstr(why, "CONFIG_DAMON_SYSFS"));
        mkdirs("sys/kernel/mm/damon/admin/kdamonds");
        put("sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds", "0\n");
        assert_int_equal(damon_probe(root, why, sizeof why), 0);
}

#define KD "sys/kernel/mm/damon/admin/kdamonds"

static void test_claim_leaves_others_alone(void **state) {
        char why[512], state_file[128];

        (void) state;
        snprintf(state_file, sizeof state_file, "%s/damon-state", root);
        mkdirs(KD "/0");
        put(KD "/nr_kdamonds", "1\n");
        put(KD "/0/state", "on\n");
        /* someone else's kdamond: refused, and nothing written */
        assert_int_equal(damon_claim(root, 2, state_file, why, sizeof why), -EBUSY);
        assert_non_null(strstr(why, "DAMON is in use: 1 kdamond(s)"));
        assert_string_equal(get(KD "/nr_kdamonds"), "1");
        assert_string_equal(get(KD "/0/state"), "on");
        assert_int_equal(access(state_file, F_OK), -1);
        /* a record of two kdamonds does not make one kdamond spmd's */
        put("damon-state", "kdamonds=2\n");
        assert_int_equal(damon_claim(root, 2, state_file, why, sizeof why), -EBUSY);
        assert_string_equal(get(KD "/0/state"), "on");
        /* unreadable count */
        put(KD "/nr_kdamonds", "many\n");
        assert_int_equal(damon_claim(root, 2, state_file, why, sizeof why), -EINVAL);
}

static void test_claim_takes_back_its_own(void **state) {
        char why[512], state_file[128];

        (void) state;
        snprintf(state_file, sizeof state_file, "%s/damon-state", root);
        mkdirs(KD "/0/contexts/0/schemes/0");
        mkdirs(KD "/1");
        put(KD "/nr_kdamonds", "2\n");
        put(KD "/0/state", "on\n");
        put(KD "/1/state", "off\n");
        put(KD "/0/contexts/nr_contexts", "0\n");
        put(KD "/0/contexts/0/schemes/nr_schemes", "0\n");
        put(KD "/0/contexts/0/schemes/0/target_nid", "-1\n");
        put(KD "/0/contexts/0/schemes/0/action", "stat\n");
        put(KD "/0/contexts/0/operations", "vaddr\n");
        put("damon-state", "kdamonds=2\n");
        /* what an spmd that died left: stopped and reused as they are */
        assert_int_equal(damon_claim(root, 2, state_file, why, sizeof why), 0);
        assert_string_equal(get(KD "/0/state"), "off");
        assert_string_equal(get(KD "/nr_kdamonds"), "2");
        /* released: all stopped, none left, the record gone */
        put(KD "/0/state", "on\n");
        damon_release(root, state_file);
        assert_string_equal(get(KD "/0/state"), "off");
        assert_string_equal(get(KD "/nr_kdamonds"), "0");
        assert_int_equal(access(state_file, F_OK), -1);
}

static void test_claim_fresh_without_target_nid(void **state) {
        char why[512], state_file[128];

        (void) state;
        snprintf(state_file, sizeof state_file, "%s/damon-state", root);
        mkdirs(KD "/0/contexts/0/schemes/0");
        put(KD "/nr_kdamonds", "0\n");
        put(KD "/0/contexts/nr_contexts", "0\n");
        put(KD "/0/contexts/0/schemes/nr_schemes", "0\n");
        /* a 6.10-like tree: schemes have no target_nid */
        assert_int_equal(damon_claim(root, 2, state_file, why, sizeof why), -EOPNOTSUPP);
        assert_non_null(strstr(why, "cannot migrate pages to a node"));
        /* given back at once */
        assert_string_equal(get(KD "/nr_kdamonds"), "0");
        assert_int_equal(access(state_file, F_OK), -1);
}

static void assert_scheme_file(const char *scheme, const char *leaf, const char *want) {
        char rel[256];

        snprintf(rel, sizeof rel, "%s/%s", scheme, leaf);
        assert_non_null(get(rel));
        assert_string_equal(get(rel), want);
}

static void test_apply_writes_scheme(void **state) {
        const char *s = KD "/0/contexts/0/schemes/0";
        char why[512], rel[256];
        DamonRange ranges[] = { { 0, 0x80000000ull }, { 0x100000000ull, 0x180000000ull } };
        DamonScheme sc = { .action = "migrate_cold", .target_nid = 1, .memcg_path = "/jobs/a", .anon_only = true,
                           .young = 0, .min_age = 300, .quota_bytes = 32 << 20 };
        DamonSetup setup = { .ranges = ranges, .n_ranges = 2, .schemes = &sc, .n_schemes = 1, .sample_us = 5000,
                             .aggr_us = 100000 };
        const char *dirs[] = { "access_pattern/sz", "access_pattern/nr_accesses", "access_pattern/age", "quotas",
                               "watermarks", "filters/0", "filters/1", "filters/2" };
        /* under kdamond 0; '@' = under the scheme */
        const char *files[] = {
                "contexts/nr_contexts", "contexts/0/operations", "contexts/0/monitoring_attrs/intervals/sample_us",
                "contexts/0/monitoring_attrs/intervals/aggr_us", "contexts/0/monitoring_attrs/intervals/update_us",
                "contexts/0/targets/nr_targets", "contexts/0/targets/0/regions/nr_regions",
                "contexts/0/targets/0/regions/0/start", "contexts/0/targets/0/regions/0/end",
                "contexts/0/targets/0/regions/1/start", "contexts/0/targets/0/regions/1/end",
                "contexts/0/schemes/nr_schemes", "@action", "@target_nid", "@access_pattern/sz/min",
                "@access_pattern/sz/max", "@access_pattern/nr_accesses/min", "@access_pattern/nr_accesses/max",
                "@access_pattern/age/min", "@access_pattern/age/max", "@quotas/ms", "@quotas/bytes",
                "@quotas/reset_interval_ms", "@watermarks/metric", "@filters/nr_filters", "@filters/0/type",
                "@filters/0/memcg_path", "@filters/0/matching", "@filters/1/type", "@filters/1/matching",
                "@filters/2/type", "@filters/2/matching",
        };

        (void) state;
        /* the files the kernel makes on the nr_* writes, laid out beforehand (damon.c creates none) */
        mkdirs(KD "/0/contexts/0/monitoring_attrs/intervals");
        mkdirs(KD "/0/contexts/0/targets/0/regions/0");
        mkdirs(KD "/0/contexts/0/targets/0/regions/1");
        for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
                snprintf(rel, sizeof rel, "%s/%s", s, dirs[i]);
                mkdirs(rel);
        }
        for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
                snprintf(rel, sizeof rel, "%s/%s", files[i][0] == '@' ? s : KD "/0", files[i] + (files[i][0] == '@'));
                put(rel, "");
        }
        put(KD "/0/state", "off\n");
        assert_int_equal(damon_apply(root, 0, &setup, why, sizeof why), 0);
        assert_string_equal(get(KD "/0/state"), "on");
        assert_string_equal(get(KD "/0/contexts/0/operations"), "paddr");
        assert_string_equal(get(KD "/0/contexts/0/targets/0/regions/nr_regions"), "2");
        assert_string_equal(get(KD "/0/contexts/0/targets/0/regions/1/start"), "4294967296");
        assert_string_equal(get(KD "/0/contexts/0/targets/0/regions/1/end"), "6442450944");
        assert_scheme_file(s, "action", "migrate_cold");
        assert_scheme_file(s, "target_nid", "1");
        assert_scheme_file(s, "access_pattern/age/min", "300");
        assert_scheme_file(s, "access_pattern/nr_accesses/max", "0");
        assert_scheme_file(s, "quotas/bytes", "33554432");
        /* memcg, anon, young: each excluding what the scheme must not touch */
        assert_scheme_file(s, "filters/nr_filters", "3");
        assert_scheme_file(s, "filters/0/memcg_path", "/jobs/a");
        assert_scheme_file(s, "filters/0/matching", "N");
        assert_scheme_file(s, "filters/1/type", "anon");
        assert_scheme_file(s, "filters/2/type", "young");
        assert_scheme_file(s, "filters/2/matching", "Y");
        /* running: a new setup is committed, not restarted */
        sc.young = 1;
        assert_int_equal(damon_apply(root, 0, &setup, why, sizeof why), 0);
        assert_string_equal(get(KD "/0/state"), "commit");
        assert_scheme_file(s, "filters/2/matching", "N");
        /* a file the kernel would have made is not there: the error names it */
        put(KD "/0/state", "on\n");
        snprintf(rel, sizeof rel, "%s/%s", root, KD "/0/contexts/0/targets/0/regions/1/end");
        assert_int_equal(unlink(rel), 0);
        assert_int_equal(damon_apply(root, 0, &setup, why, sizeof why), -ENOENT);
        assert_non_null(strstr(why, "to /" KD "/0/contexts/0/targets/0/regions/1/end: No such file or directory"));
        assert_string_equal(get(KD "/0/state"), "on"); /* not committed half-written */
        /* no schemes: stopped */
        setup.n_schemes = 0;
        assert_int_equal(damon_apply(root, 0, &setup, why, sizeof why), 0);
        assert_string_equal(get(KD "/0/state"), "off");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_leaves_others_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_takes_back_its_own, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_fresh_without_target_nid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_writes_scheme, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
