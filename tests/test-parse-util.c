/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"

static void test_boolean(void **state) {
        (void) state;
        assert_int_equal(parse_boolean("yes"), 1);
        assert_int_equal(parse_boolean("TRUE"), 1);
        assert_int_equal(parse_boolean("on"), 1);
        assert_int_equal(parse_boolean("0"), 0);
        assert_int_equal(parse_boolean("Off"), 0);
        assert_int_equal(parse_boolean(""), -EINVAL);
        assert_int_equal(parse_boolean("yess"), -EINVAL);
        assert_int_equal(parse_boolean("2"), -EINVAL);
}

static void test_uint(void **state) {
        uint64_t v = 7;
        uint32_t u = 7;

        (void) state;
        assert_int_equal(parse_uint64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_uint64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_uint64("-1", &v), -EINVAL);
        assert_int_equal(parse_uint64(" 1", &v), -EINVAL);
        assert_int_equal(parse_uint64("1x", &v), -EINVAL);
        assert_int_equal(parse_uint32("4294967296", &u), -ERANGE);
        assert_int_equal(u, 7); /* untouched on error */
        assert_int_equal(parse_uint32("42", &u), 0);
        assert_int_equal(u, 42);
}

static void test_size(void **state) {
        uint64_t v = 0;

        (void) state;
        assert_int_equal(parse_size("4096", &v), 0);
        assert_true(v == 4096);
        assert_int_equal(parse_size("16M", &v), 0);
        assert_true(v == 16ull << 20);
        assert_int_equal(parse_size("1.5G", &v), 0);
        assert_true(v == 3ull << 29);
        assert_int_equal(parse_size("2TiB", &v), 0);
        assert_true(v == 2ull << 40);
        assert_int_equal(parse_size("512K", &v), 0);
        assert_true(v == 512ull << 10);
        assert_int_equal(parse_size("infinity", &v), 0);
        assert_true(v == UINT64_MAX);
        v = 3;
        assert_int_equal(parse_size("1.5", &v), -EINVAL); /* fractional bytes */
        assert_int_equal(parse_size("12Q", &v), -EINVAL);
        assert_int_equal(parse_size("", &v), -EINVAL);
        assert_int_equal(parse_size("-1G", &v), -EINVAL);
        assert_int_equal(parse_size("M", &v), -EINVAL);
        assert_int_equal(parse_size("99999999999T", &v), -ERANGE);
        assert_true(v == 3);
}

static void test_duration(void **state) {
        uint64_t v = 0;

        (void) state;
        assert_int_equal(parse_duration("5", &v), 0);
        assert_true(v == 5 * USEC_PER_SEC);
        assert_int_equal(parse_duration("100ms", &v), 0);
        assert_true(v == 100 * USEC_PER_MSEC);
        assert_int_equal(parse_duration("2min", &v), 0);
        assert_true(v == 120 * USEC_PER_SEC);
        assert_int_equal(parse_duration("1.5s", &v), 0);
        assert_true(v == 1500000);
        assert_int_equal(parse_duration("250us", &v), 0);
        assert_true(v == 250);
        assert_int_equal(parse_duration("1h", &v), 0);
        assert_true(v == 3600 * USEC_PER_SEC);
        assert_int_equal(parse_duration("5 s", &v), -EINVAL);
        assert_int_equal(parse_duration("5d", &v), -EINVAL);
        assert_int_equal(parse_duration("", &v), -EINVAL);
}

static void test_permyriad(void **state) {
        uint32_t v = 0;

        (void) state;
        assert_int_equal(parse_permyriad("20%", &v), 0);
        assert_int_equal(v, 2000);
        assert_int_equal(parse_permyriad("12.5%", &v), 0);
        assert_int_equal(v, 1250);
        assert_int_equal(parse_permyriad("0%", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_permyriad("100%", &v), 0);
        assert_int_equal(v, 10000);
        assert_int_equal(parse_permyriad("101%", &v), -ERANGE);
        assert_int_equal(parse_permyriad("20", &v), -EINVAL);
        assert_int_equal(parse_permyriad("%", &v), -EINVAL);
}

static void test_nodemask(void **state) {
        NodeMask m = {};
        char buf[64];

        (void) state;
        assert_int_equal(parse_nodemask("1", &m), 0);
        assert_true(nodemask_test(&m, 1));
        assert_false(nodemask_test(&m, 0));
        assert_int_equal(parse_nodemask("0,2-4,70", &m), 0);
        assert_string_equal(nodemask_format(&m, buf, sizeof buf), "0,2-4,70");
        assert_int_equal(parse_nodemask("1023", &m), 0);
        assert_true(nodemask_test(&m, 1023));
        assert_int_equal(parse_nodemask("1024", &m), -ERANGE);
        assert_int_equal(parse_nodemask("3-1", &m), -EINVAL);
        assert_int_equal(parse_nodemask("1,", &m), -EINVAL);
        assert_int_equal(parse_nodemask("", &m), -EINVAL);
        assert_int_equal(parse_nodemask("a", &m), -EINVAL);
        assert_int_equal(parse_nodemask("1 2", &m), -EINVAL);
        /* m is untouched by the failures above */
        assert_string_equal(nodemask_format(&m, buf, sizeof buf), "1023");

        /* a value for the kernel is all or nothing: every other node of 1024 needs 2,5 KiB */
        char big[NODEMASK_FORMAT_MAX], small[256];
        NodeMask every_other = {};
        for (unsigned n = 0; n < SPMD_MAX_NODES; n += 2)
                nodemask_set(&every_other, n);
        assert_int_equal(nodemask_format_checked(&every_other, big, sizeof big), 0);
        assert_int_equal(parse_nodemask(big, &m), 0);
        assert_true(nodemask_same(&m, &every_other));
        assert_int_equal(nodemask_format_checked(&every_other, small, sizeof small), -ENOBUFS);
        assert_int_equal(nodemask_format_checked(&every_other, small, 0), -ENOBUFS);
}

static void test_proc_stat_starttime(void **state) {
        uint64_t t = 0;

        (void) state;
        assert_int_equal(parse_proc_stat_starttime("4242 (sleep) S 1 4242 4242 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 1 0 "
                                                   "198187 5476352 128 18446744073709551615\n",
                                                   &t),
                         0);
        assert_int_equal(t, 198187);
        /* a comm with spaces and parentheses of its own */
        assert_int_equal(parse_proc_stat_starttime("7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n", &t), 0);
        assert_int_equal(t, 55);
        assert_int_equal(parse_proc_stat_starttime("7 (cut", &t), -EINVAL);
        assert_int_equal(parse_proc_stat_starttime("7 (x) R 1 2", &t), -EINVAL);
}

/* Word-at-a-time scans against a bit-by-bit reference: edges of words, the last node, runs across
 * words, and pseudo-random masks dense and sparse. */
static unsigned next_ref(const NodeMask *m, unsigned from) {
        while (from < SPMD_MAX_NODES && !nodemask_test(m, from))
                from++;
        return from < SPMD_MAX_NODES ? from : SPMD_MAX_NODES;
}

static void check_scans(const NodeMask *m) {
        unsigned seen = 0;

        for (unsigned from = 0; from <= SPMD_MAX_NODES + 1; from++)
                assert_int_equal(nodemask_next(m, from), next_ref(m, from));
        for (unsigned n = 0; n < SPMD_MAX_NODES; n++) {
                unsigned end = n;

                if (!nodemask_test(m, n))
                        continue;
                while (end + 1 < SPMD_MAX_NODES && nodemask_test(m, end + 1))
                        end++;
                assert_int_equal(nodemask_run_end(m, n), end);
        }
        NODEMASK_FOREACH(n, m) {
                assert_true(nodemask_test(m, n));
                seen++;
        }
        for (unsigned n = 0; n < SPMD_MAX_NODES; n++)
                seen -= nodemask_test(m, n);
        assert_int_equal(seen, 0);
}

static void test_nodemask_scans(void **state) {
        static const char *const masks[] = {
                "0", "63", "64", "1023", "0-1023", "62-65", "63-64", "0-63", "64-127", "1000-1023",
                "1,3,5,127-129,500-700,1022", "127", "128", "5-5",
        };
        char buf[NODEMASK_FORMAT_MAX];
        uint64_t seed = 0x9e3779b97f4a7c15u;
        NodeMask m = {};

        (void) state;
        check_scans(&m); /* empty */
        assert_string_equal(nodemask_format(&m, buf, sizeof buf), "");
        for (size_t i = 0; i < sizeof masks / sizeof *masks; i++) {
                assert_int_equal(parse_nodemask(masks[i], &m), 0);
                check_scans(&m);
                /* the kernel's form back: the same string, "5-5" being "5" */
                assert_string_equal(nodemask_format(&m, buf, sizeof buf), i == 13 ? "5" : masks[i]);
        }
        for (unsigned round = 0; round < 64; round++) {
                NodeMask back;

                for (unsigned w = 0; w < NODEMASK_WORDS; w++) {
                        seed = seed * 6364136223846793005u + 1442695040888963407u;
                        /* dense, sparse and empty words */
                        m.bits[w] = round % 3 == 0 ? seed : round % 3 == 1 ? seed & (seed >> 17) & (seed >> 31) : 0;
                        if (w == round % NODEMASK_WORDS)
                                m.bits[w] = ~UINT64_C(0);
                }
                check_scans(&m);
                assert_int_equal(nodemask_format_checked(&m, buf, sizeof buf), 0);
                assert_int_equal(parse_nodemask(buf, &back), 0);
                assert_true(nodemask_same(&m, &back));
        }
}

static void test_format_size(void **state) {
        char buf[32];

        (void) state;
        assert_string_equal(format_size(buf, sizeof buf, 512), "512B");
        assert_string_equal(format_size(buf, sizeof buf, 1536), "1.5K");
        assert_string_equal(format_size(buf, sizeof buf, 1ull << 30), "1.0G");
        assert_string_equal(format_size(buf, sizeof buf, UINT64_MAX), "infinity");
}

static FILE *text_file(const char *text) {
        FILE *f = tmpfile();

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        rewind(f);
        return f;
}

static void test_proc_cgroup_parse(void **state) {
        char buf[4096], *text;
        size_t head;
        FILE *f;

        (void) state;
        f = text_file("0::/user.slice/user-1000.slice/a.scope\n");
        assert_int_equal(proc_cgroup_parse(f, buf, sizeof buf), 0);
        assert_string_equal(buf, "/user.slice/user-1000.slice/a.scope");
        fclose(f);

        /* a hybrid host: the v1 lines first */
        f = text_file("12:cpuset:/\n1:name=systemd:/user.slice/x.scope\n0::/user.slice/x.scope\n");
        assert_int_equal(proc_cgroup_parse(f, buf, sizeof buf), 0);
        assert_string_equal(buf, "/user.slice/x.scope");
        fclose(f);

        /* a v1 line whose tail, past the 4,103 characters a line buffer of PATH_MAX + 8 held, reads
         * "0::/victim": a caller naming its own v1 cgroup so must not be taken to be in /victim */
        head = 4103;
        text = malloc(head + 64);
        assert_non_null(text);
        memcpy(text, "1:name=spmd:/", 13);
        memset(text + 13, 'a', head - 13);
        strcpy(text + head, "0::/victim\n0::/mine\n");
        f = text_file(text);
        assert_int_equal(proc_cgroup_parse(f, buf, sizeof buf), 0);
        assert_string_equal(buf, "/mine");
        fclose(f);
        free(text);

        /* no cgroup2 line: unknown */
        f = text_file("12:cpuset:/\n");
        assert_int_equal(proc_cgroup_parse(f, buf, sizeof buf), -ENODATA);
        assert_string_equal(buf, "");
        fclose(f);

        /* longer than the buffer: refused, never cut to a path that names another cgroup */
        f = text_file("0::/jobs/abcdef\n");
        assert_int_equal(proc_cgroup_parse(f, buf, 10), -ENAMETOOLONG);
        assert_string_equal(buf, "");
        fclose(f);
        f = text_file("0::/jobs/abcd\n");
        assert_int_equal(proc_cgroup_parse(f, buf, 11), 0);
        assert_string_equal(buf, "/jobs/abcd");
        fclose(f);
}

static void test_cgroup_path_depth(void **state) {
        (void) state;
        assert_int_equal(cgroup_path_depth("/a"), 1);
        assert_int_equal(cgroup_path_depth("/a.slice/b.service"), 2);
        assert_int_equal(cgroup_path_depth("/a/b/c/d"), 4);
        assert_true(cgroup_path_is_valid("/a/b/c/d"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_boolean),    cmocka_unit_test(test_uint),
                cmocka_unit_test(test_size),       cmocka_unit_test(test_duration),
                cmocka_unit_test(test_permyriad),  cmocka_unit_test(test_nodemask),
                cmocka_unit_test(test_nodemask_scans),
                cmocka_unit_test(test_format_size), cmocka_unit_test(test_proc_stat_starttime),
                cmocka_unit_test(test_cgroup_path_depth), cmocka_unit_test(test_proc_cgroup_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
