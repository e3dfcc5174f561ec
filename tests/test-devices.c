/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which dax device each [Device] claims (device_plan_build), on topologies
 * recorded from the test guests: the CXL guest (mem0 serial 0x1234 ->
 * region0 -> dax0.0 on node 1), the same with a second memdev without a
 * region, and the NVDIMM guest (dax0.0 with no CXL region).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "devices.h"
#include "strv.h"

static NodeInfo nodes[] = {
        { .id = 0, .n_cpus = 2, .cpulist = "0-1", .size = 2ull << 30, .memory_tier = 4 },
        { .id = 1, .n_cpus = 0, .cpulist = "", .size = 1ull << 30, .memory_tier = 22 },
};
static CxlMemdevInfo memdevs[] = {
        { .name = "mem0", .host = "0000:0d:00.0", .serial = 0x1234, .ram_size = 1ull << 30 },
        { .name = "mem1", .host = "0000:0e:00.0", .serial = 0x5678, .ram_size = 1ull << 30 },
};
static CxlRegionInfo regions[] = {
        { .name = "region0", .size = 1ull << 30, .n_targets = 1, .memdev = { "mem0" }, .serial = { 0x1234 } },
};
static DaxDevInfo daxdevs[] = {
        { .name = "dax0.0", .region = "dax_region0", .cxl_region = "region0", .size = 1ull << 30, .target_node = 1,
          .system_ram = true, .blocks_online = 8, .blocks_total = 8, .movable = 1, .block_size = 128 << 20 },
        { .name = "dax1.0", .region = "region1", .cxl_region = "", .size = 1ull << 30, .target_node = 2,
          .blocks_online = -1, .blocks_total = -1, .movable = -1 },
};

static Topology topo(size_t n_memdevs, size_t n_regions, size_t n_dax) {
        return (Topology){ .nodes = nodes, .n_nodes = 2, .memdevs = memdevs, .n_memdevs = n_memdevs,
                           .regions = regions, .n_regions = n_regions, .daxdevs = daxdevs, .n_daxdevs = n_dax };
}

static Config *parse(const char *text) {
        Config *c = config_new();
        ConfDiags d = {};

        assert_non_null(c);
        assert_int_equal(config_parse_buffer(c, "t.conf", text, strlen(text), &d), 0);
        assert_int_equal(config_verify(c, &d), 0);
        conf_diags_clear(&d);
        return c;
}

static void plan(const char *conf, const Topology *t, DevicePlan *p, Config **ret_c) {
        *ret_c = parse(conf);
        assert_int_equal(device_plan_build(*ret_c, t, p), 0);
}

static void test_match_kinds(void **state) {
        static const char *const confs[] = {
                "[Device]\nMatch=serial:0x1234\n", "[Device]\nMatch=serial:4660\n", "[Device]\nMatch=memdev:mem0\n",
                "[Device]\nMatch=region:region0\n", "[Device]\nMatch=dax0.0\n",
        };
        Topology t = topo(1, 1, 1);
        (void) state;

        for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
                DevicePlan p;
                Config *c;

                plan(confs[i], &t, &p, &c);
                assert_int_equal(p.n_claims, 1);
                assert_string_equal(p.claims[0].dax, "dax0.0");
                assert_int_equal(p.claims[0].node, 1);
                assert_true(strv_isempty(p.problems));
                device_plan_clear(&p);
                config_free(c);
        }
}

static void test_problems_name_what_is_missing(void **state) {
        static const struct {
                const char *conf;
                const char *needle;
        } cases[] = {
                { "[Device]\nMatch=serial:0x9999\n", "Match=serial:0x9999: no CXL memory device has this serial" },
                { "[Device]\nMatch=memdev:mem7\n", "Match=memdev:mem7: no CXL memory device named mem7" },
                { "[Device]\nMatch=memdev:mem1\n", "mem1 (serial 0x5678) is in no committed CXL region" },
                { "[Device]\nMatch=serial:0x5678\n", "mem1 (serial 0x5678) is in no committed CXL region" },
                { "[Device]\nMatch=region:region4\n", "Match=region:region4: no CXL region named region4" },
                { "[Device]\nMatch=dax9.0\n", "Match=dax9.0: no dax device named dax9.0" },
                { "[Device]\nMatch=dax0.0\n[Device]\nMatch=serial:0x1234\n",
                  "[Device] at t.conf:3 Match=serial:0x1234: dax0.0 is already claimed by the [Device] at t.conf:1" },
        };
        Topology t = topo(2, 1, 2);
        (void) state;

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                DevicePlan p;
                Config *c;

                plan(cases[i].conf, &t, &p, &c);
                if (strv_length(p.problems) != 1 || !strstr(p.problems[0], cases[i].needle)) {
                        print_error("case %zu: want '%s', got '%s'\n", i, cases[i].needle,
                                    p.problems ? p.problems[0] : "(none)");
                        fail();
                }
                device_plan_clear(&p);
                config_free(c);
        }

        /* no CXL at all */
        Topology none = topo(0, 0, 0);
        DevicePlan p;
        Config *c;
        plan("[Device]\nMatch=serial:0x1234\n", &none, &p, &c);
        assert_non_null(strstr(p.problems[0], "(no CXL memory devices at all)"));
        assert_int_equal(p.n_claims, 0);
        device_plan_clear(&p);
        config_free(c);
}

/* A reload replaces the Config while the plan made from it is still in use (the reload's later steps,
 * ListDevices, ReleaseDevice): the plan keeps it. spmd crashed in pressure_follow() reading a claim's
 * RatioPath= from a Config a second reload had freed (found by the loop-latency bench, core dump). */
static void test_plan_keeps_its_config(void **state) {
        Topology t = topo(1, 1, 2);
        DevicePlan p;
        Config *c;

        (void) state;
        plan("[Device]\nName=nv\nMatch=dax0.0\nCompressionRatioPath=/tmp/ratio\n", &t, &p, &c);
        assert_int_equal(p.n_claims, 1);
        assert_ptr_equal(p.config, c);
        assert_int_equal(c->n_ref, 2); /* the caller's and the plan's */
        config_free(c);                /* the reload's config_free(m->config) */
        assert_int_equal(p.config->n_ref, 1);
        assert_string_equal(p.claims[0].conf->name, "nv");
        assert_string_equal(p.claims[0].conf->ratio_path, "/tmp/ratio");
        assert_ptr_equal(device_plan_find(&p, "nv"), &p.claims[0]);
        device_plan_clear(&p); /* the last reference */
        assert_null(p.config);
}

static void test_all_unclaimed_takes_the_rest(void **state) {
        Topology t = topo(1, 1, 2);
        DevicePlan p;
        Config *c;
        (void) state;

        /* all-unclaimed first in the file still leaves dax0.0 to its explicit owner */
        plan("[Device]\nName=rest\nMatch=all-unclaimed\n[Device]\nName=cxl\nMatch=serial:0x1234\n", &t, &p, &c);
        assert_int_equal(p.n_claims, 2);
        assert_true(strv_isempty(p.problems));
        const DeviceClaim *a = device_plan_find(&p, "dax0.0"), *b = device_plan_find(&p, "dax1.0");
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a->conf->name, "cxl");
        assert_string_equal(b->conf->name, "rest");
        assert_ptr_equal(device_plan_find(&p, "rest"), b); /* by Name= too */
        assert_null(device_plan_find(&p, "dax5.0"));
        device_plan_clear(&p);
        config_free(c);
}

static void test_spm_nodes_are_online_claims(void **state) {
        Topology t = topo(1, 1, 2);
        DevicePlan p;
        NodeMask m;
        Config *c;
        (void) state;

        plan("[Device]\nMatch=all-unclaimed\n", &t, &p, &c);
        assert_int_equal(p.n_claims, 2);
        device_plan_spm_nodes(&p, &t, &m);
        assert_true(nodemask_test(&m, 1));  /* dax0.0: system-ram, blocks online */
        assert_false(nodemask_test(&m, 2)); /* dax1.0: devdax, not (yet) an SPM node */
        assert_false(nodemask_test(&m, 0));
        device_plan_clear(&p);
        config_free(c);
}

static void test_dedicated_node_policy(void **state) {
        Topology t = topo(1, 1, 1);
        DevicePlan p;
        Config *c;
        char *msg = NULL;
        (void) state;

        /* a target node with CPUs is refused before the device is touched */
        nodes[1].n_cpus = 1;
        snprintf(nodes[1].cpulist, sizeof nodes[1].cpulist, "2");
        plan("[Device]\nMatch=dax0.0\n", &t, &p, &c);
        assert_int_equal(device_online(&p.claims[0], &t, &msg), -EBUSY);
        assert_non_null(strstr(msg, "dax0.0: target node 1 has CPUs (2); an SPM node must be CPU-less"));
        free(msg);
        msg = NULL;
        nodes[1].n_cpus = 0;
        nodes[1].cpulist[0] = '\0';

        /* other memory on the node: 1 GiB beyond the device's own 8 online blocks of 128 MiB */
        nodes[1].size = 2ull << 30;
        assert_int_equal(device_online(&p.claims[0], &t, &msg), -EBUSY);
        assert_non_null(strstr(msg, "dax0.0: target node 1 already holds 1.0G of other memory"));
        free(msg);
        msg = NULL;
        device_plan_clear(&p);
        config_free(c);

        /* RequireDedicatedNode=no lets it through: the topology says it is online as asked, so that
         * is the answer, without a libdaxctl context */
        plan("[Device]\nMatch=dax0.0\nRequireDedicatedNode=no\n", &t, &p, &c);
        assert_int_equal(device_online(&p.claims[0], &t, &msg), DEVICE_ALREADY_ONLINE);
        assert_non_null(strstr(msg, "dax0.0: already online as movable system RAM on node 1 (8 memory blocks"));
        free(msg);
        msg = NULL;
        /* one block offline, or online in the other zone: to the device itself (absent here: ENODEV) */
        daxdevs[0].blocks_online = 7;
        assert_int_equal(device_online(&p.claims[0], &t, &msg), -ENODEV);
        assert_non_null(strstr(msg, "gone"));
        free(msg);
        msg = NULL;
        daxdevs[0].blocks_online = 8;
        daxdevs[0].movable = 0;
        assert_int_equal(device_online(&p.claims[0], &t, &msg), -ENODEV);
        free(msg);
        daxdevs[0].movable = 1;
        nodes[1].size = 1ull << 30;
        device_plan_clear(&p);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_match_kinds),
                cmocka_unit_test(test_problems_name_what_is_missing),
                cmocka_unit_test(test_all_unclaimed_takes_the_rest),
                cmocka_unit_test(test_plan_keeps_its_config),
                cmocka_unit_test(test_spm_nodes_are_online_claims),
                cmocka_unit_test(test_dedicated_node_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
