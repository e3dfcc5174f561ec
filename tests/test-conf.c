/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmd.conf parsing: good files, every kind of bad input, drop-in merging. */
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
#include <unistd.h>

#include "conf.h"
#include "dax-private.h"
#include "parse-util.h"
#include "strv.h"

static char tmpdir[64];

static void write_file(const char *name, const char *content) {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static const char *tpath(const char *name) {
        static char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        return path;
}

static int setup(void **state) {
        (void) state;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test-conf-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 16];
        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Parse one buffer plus the cross-section checks, as config_load() would. */
static int parse_str(const char *s, Config **ret, ConfDiags *d) {
        Config *c = config_new();
        int r, k;

        assert_non_null(c);
        r = config_parse_buffer(c, "test.conf", s, strlen(s), d);
        k = config_verify(c, d);
        if (r >= 0 && k < 0)
                r = k;
        *ret = c;
        return r;
}

/* The diagnostic at line, whose message contains needle, or NULL. */
static const ConfDiag *find_diag(const ConfDiags *d, unsigned line, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].line == line && strstr(d->items[i].message, needle))
                        return &d->items[i];
        return NULL;
}

static void test_defaults_without_file(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        assert_int_equal(config_load(tpath("does-not-exist.conf"), false, &c, &d), 0);
        assert_non_null(c);
        assert_int_equal(d.n, 0);
        assert_true(c->cpuset);
        assert_int_equal(c->observe, TRISTATE_AUTO);
        assert_int_equal(c->free_warn, 1000);
        assert_int_equal(c->free_critical, 500);
        assert_string_equal(c->state_directory, "/run/spmd");
        assert_int_equal(c->n_devices, 0);
        config_free(c);
}

static void test_missing_required_file(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        assert_int_equal(config_load(tpath("does-not-exist.conf"), true, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n_errors, 1);
        assert_non_null(strstr(d.items[0].message, "No such file"));
        conf_diags_clear(&d);

        /* a directory where a file should be */
        assert_int_equal(config_load(tmpdir, true, &c, &d), -EINVAL);
        assert_non_null(strstr(d.items[0].message, "is a directory"));
        conf_diags_clear(&d);
}

static const char good[] =
        "# a comment\n"
        "; another\n"
        "[Daemon]\n"
        "LogLevel=debug\n"
        "ShutdownPolicy=release\n"
        "\n"
        "[Enforcement]\n"
        "ViolationAction=kill\n"
        "CgroupGuard=yes\n"
        "TrustedExecutable=/usr/lib/systemd/systemd /usr/bin/spmctl\n"
        "TrustedExecutable=/usr/sbin/extra\n"
        "\n"
        "[Pressure]\n"
        "FreeWarn=20%\n"
        "FreeCritical=12.5%\n"
        "RatioWarn=2.0\n"
        "RatioCritical=1.5\n"
        "RecoverAfter=500ms\n"
        "\n"
        "[Reclaim]\n"
        "Swappiness=60\n"
        "Step=8M\n"
        "[Evacuation]\n"
        "TargetNodes=0,2\n"
        "BatchPages=512\n"
        "\n"
        "[Device]\n"
        "Name=cxl0\n"
        "    Match=serial:0x1234   ; indented, inline comment\n"
        "Zone=movable\r\n"
        "[Device]\n"
        "Match=dax1.0\n"
        "Zone=normal\n"
        "RequireDedicatedNode=no\n"
        "CompressionRatioPath=/sys/bus/dax/devices/dax1.0/compression_ratio\n"
        "\n"
        "[Access]\n"
        "Name=ml\n"
        "User=alice 1001\n"
        "Group=ml\n"
        "Unit=ml-*.service\n"
        "Nodes=1,3\n"
        "MaxBytes=4G\n"
        "AllowPersistent=yes\n"
        "[Access]\n"
        "Group=wheel\n"
        "[Grant]\n"
        "Name=inference\n"
        "Cgroup=/inference.slice\n"
        "[Grant]\n"
        "Cgroup=/system.slice/db.service\n"
        "Nodes=1\n";

static void test_good_file(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        assert_int_equal(parse_str(good, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(c->log_level, 7);
        assert_int_equal(c->shutdown_policy, SHUTDOWN_RELEASE);
        assert_int_equal(c->violation_action, VIOLATION_KILL);
        assert_int_equal(c->cgroup_guard, TRISTATE_YES);
        assert_int_equal(strv_length(c->trusted_executables), 3);
        assert_string_equal(c->trusted_executables[2], "/usr/sbin/extra");
        assert_int_equal(c->free_warn, 2000);
        assert_int_equal(c->free_critical, 1250);
        assert_true(c->ratio_warn == 2.0 && c->ratio_critical == 1.5);
        assert_true(c->recover_after_usec == 500000);
        assert_int_equal(c->swappiness, 60);
        assert_true(c->reclaim_step == 8u << 20);
        assert_true(c->evacuate_target_set);
        assert_true(nodemask_test(&c->evacuate_target, 0) && nodemask_test(&c->evacuate_target, 2));
        assert_false(nodemask_test(&c->evacuate_target, 1));
        assert_int_equal(c->evacuate_batch_pages, 512);

        assert_int_equal(c->n_devices, 2);
        assert_string_equal(c->devices[0]->name, "cxl0");
        assert_int_equal(c->devices[0]->match_kind, DEVICE_MATCH_SERIAL);
        assert_true(c->devices[0]->match_serial == 0x1234);
        assert_int_equal(c->devices[0]->source.line, 27);
        assert_true(c->devices[0]->require_dedicated_node);
        assert_int_equal(c->devices[1]->match_kind, DEVICE_MATCH_DAX);
        assert_int_equal(c->devices[1]->zone, MEM_ZONE_NORMAL);
        assert_false(c->devices[1]->require_dedicated_node);
        assert_string_equal(c->devices[1]->ratio_path, "/sys/bus/dax/devices/dax1.0/compression_ratio");

        assert_int_equal(c->n_access, 2);
        assert_string_equal(c->access[0]->name, "ml");
        assert_int_equal(strv_length(c->access[0]->users), 2);
        assert_string_equal(c->access[0]->users[1], "1001");
        assert_false(c->access[0]->all_nodes);
        assert_true(nodemask_test(&c->access[0]->nodes, 3));
        assert_true(c->access[0]->max_bytes == 4ull << 30);
        assert_true(c->access[0]->allow_persistent);
        assert_true(c->access[1]->all_nodes);             /* default */
        assert_true(c->access[1]->max_bytes == UINT64_MAX); /* default */

        assert_int_equal(c->n_grants, 2);
        assert_string_equal(c->grants[0]->name, "inference");
        assert_string_equal(c->grants[0]->cgroup, "/inference.slice");
        assert_true(c->grants[0]->all_nodes);
        assert_string_equal(c->grants[1]->cgroup, "/system.slice/db.service");
        assert_false(c->grants[1]->all_nodes);
        assert_true(nodemask_test(&c->grants[1]->nodes, 1));

        /* where keys were set, for diagnostics across keys */
        const ConfSource *o = config_origin(c, c->devices[0], "Match");
        assert_non_null(o);
        assert_int_equal(o->line, 29);
        config_free(c);
}

/* Each bad input: the line the error must name and a piece of its message. */
static void test_bad_values(void **state) {
        static const struct {
                const char *text;
                unsigned line;
                const char *needle;
        } cases[] = {
                { "[Daemon]\nLogLevel=chatty\n", 2, "LogLevel=chatty: expected a log level" },
                { "[Daemon]\nStateDirectory=relative/path\n", 2, "StateDirectory=relative/path: expected an absolute" },
                { "[Daemon]\nShutdownPolicy=explode\n", 2, "ShutdownPolicy=explode: expected keep or release" },
                { "[Enforcement]\nCpuset=maybe\n", 2, "Cpuset=maybe: expected a boolean" },
                { "[Enforcement]\nObserve=sometimes\n", 2, "Observe=sometimes: expected yes, no or auto" },
                { "[Enforcement]\nTrustedExecutable=/bin/ok rel/path\n", 2, "TrustedExecutable=" },
                { "[Pressure]\nFreeWarn=20\n", 2, "FreeWarn=20: expected a percentage" },
                { "[Pressure]\nFreeWarn=120%\n", 2, "out of range" },
                { "[Pressure]\nRatioWarn=0\n", 2, "RatioWarn=0: value out of range" },
                { "[Pressure]\nPsiWindow=forever\n", 2, "PsiWindow=forever: expected a duration" },
                { "[Pressure]\nRefuseGrantsAt=ok\n", 2, "RefuseGrantsAt=ok: expected warn, critical or never" },
                { "[Reclaim]\nSwappiness=201\n", 2, "Swappiness=201: value out of range" },
                { "[Reclaim]\nStep=12Q\n", 2, "Step=12Q: expected a size" },
                { "[Evacuation]\nTargetNodes=0-\n", 2, "TargetNodes=0-: expected a node list" },
                { "[Evacuation]\nBatchPages=0\n", 2, "BatchPages=0: value out of range" },
                { "[Device]\nMatch=dax0\n", 2, "Match=dax0: expected daxX.Y" },
                { "[Device]\nMatch=serial:\n", 2, "Match=serial:: expected" },
                { "[Device]\nMatch=serial:-5\n", 2, "Match=serial:-5" },
                { "[Device]\nMatch=region:reg1\n", 2, "Match=region:reg1" },
                { "[Device]\nMatch=dax0.0\nZone=sideways\n", 3, "Zone=sideways: expected movable or normal" },
                { "[Device]\nZone=movable\n", 1, "lacks Match=" },
                { "[Access]\nNodes=all\n", 1, "lacks User= and Group=" },
                { "[Access]\nUser=bob\nMaxGrants=0\n", 3, "MaxGrants=0: value out of range" },
                { "[Access]\nUser=bob\nNodes=everything\n", 3, "Nodes=everything" },
                { "LogLevel=info\n", 1, "before any [Section]" },
                { "[Daemon]\njust words\n", 2, "expected 'Key=value'" },
                { "[Daemon\nLogLevel=info\n", 1, "lacks its closing ']'" },
                { "[Daemon]\n=info\n", 2, "without a key name" },
                { "[Pressure]\nFreeWarn=5%\nFreeCritical=8%\n", 3, "FreeCritical=8% must be below FreeWarn=5%" },
                { "[Pressure]\nRatioWarn=1.5\nRatioCritical=2\n", 3, "RatioCritical=2 must be below RatioWarn=1.5" },
                { "[Pressure]\nPsiWarn=50%\n", 2, "PsiWarn=50% must be below PsiCritical=40%" },
                { "[Pressure]\nPsiWindow=20s\n", 2, "between 500ms and 10s" },
                { "[Device]\nMatch=dax0.0\n[Device]\nMatch=dax0.0\n", 4, "already names the [Device] at test.conf:1" },
                { "[Device]\nMatch=all-unclaimed\n[Device]\nMatch=all-unclaimed\n", 4, "more than once" },
                { "[Access]\nName=a\nUser=x\n[Access]\nName=a\nUser=y\n", 5, "Name=a is already used" },
                { "[Grant]\nNodes=1\n", 1, "[Grant] lacks Cgroup=" },
                { "[Grant]\nCgroup=relative.slice\n", 2, "Cgroup=relative.slice: expected a cgroup path" },
                { "[Grant]\nCgroup=/\n", 2, "Cgroup=/: expected a cgroup path" },
                { "[Grant]\nCgroup=/a/../b\n", 2, "Cgroup=/a/../b" },
                { "[Grant]\nCgroup=/a/\n", 2, "Cgroup=/a/" },
                { "[Grant]\nCgroup=/a//b\n", 2, "Cgroup=/a//b" },
                { "[Grant]\nCgroup=/a\nNodes=one\n", 3, "Nodes=one" },
                { "[Grant]\nCgroup=/a\n[Grant]\nCgroup=/a\n", 4, "Cgroup=/a is already granted by the [Grant] at test.conf:1" },
                { "[Grant]\nName=g\nCgroup=/a\n[Grant]\nName=g\nCgroup=/b\n", 5, "[Grant] Name=g is already used" },
                { "[Device]\nMatch=dax0.0\nPrivate=sometimes\n", 3, "Private=sometimes: expected yes, no or auto" },
                { "[Device]\nMatch=dax0.0\nPrivateServices=user_numa swap\n", 3, "PrivateServices=user_numa swap: expected services" },
                { "[Device]\nMatch=dax0.0\nPrivateServices=user_numa demotion\n", 3,
                  "PrivateServices=user_numa demotion names demotion without reclaim" },
                { "[Device]\nMatch=dax0.0\nPrivate=no\nPrivateServices=reclaim\n", 4, "Private=no" },
        };

        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Config *c = NULL;
                ConfDiags d = {};
                int r = parse_str(cases[i].text, &c, &d);

                if (r != -EINVAL || !find_diag(&d, cases[i].line, cases[i].needle)) {
                        print_error("case %zu: %s\n  want line %u with '%s', got r=%d:\n", i, cases[i].text,
                                    cases[i].line, cases[i].needle, r);
                        for (size_t k = 0; k < d.n; k++)
                                print_error("  %u: %s\n", d.items[k].line, d.items[k].message);
                        fail();
                }
                assert_int_equal(d.items[0].level, CONF_DIAG_ERROR);
                conf_diags_clear(&d);
                config_free(c);
        }
}

/* PrivateServices=: what a [Device] asks of a private node, written or spmd's own needs. */
static void test_private_services(void **state) {
        static const struct {
                const char *text;
                uint32_t want;
        } cases[] = {
                { "[Device]\nMatch=dax0.0\n", PRIVATE_USER_NUMA | PRIVATE_RECLAIM | PRIVATE_HOTUNPLUG },
                { "[Demotion]\nEnable=yes\n[Device]\nMatch=dax0.0\n",
                  PRIVATE_USER_NUMA | PRIVATE_RECLAIM | PRIVATE_HOTUNPLUG | PRIVATE_DEMOTION },
                { "[Device]\nMatch=dax0.0\nPrivateServices=reclaim demotion ltpin\n",
                  PRIVATE_RECLAIM | PRIVATE_DEMOTION | PRIVATE_LTPIN },
                { "[Device]\nMatch=dax0.0\nPrivateServices=none\n", 0 },
                /* an empty assignment gives the default back */
                { "[Device]\nMatch=dax0.0\nPrivateServices=ltpin\nPrivateServices=\n",
                  PRIVATE_USER_NUMA | PRIVATE_RECLAIM | PRIVATE_HOTUNPLUG },
                { "[Device]\nMatch=dax0.0\nPrivateServices=user_numa dax_file numa_balancing\n",
                  PRIVATE_USER_NUMA | PRIVATE_DAX_FILE | PRIVATE_NUMA_BALANCING },
        };

        (void) state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Config *c = NULL;
                ConfDiags d = {};
                char buf[128];

                assert_int_equal(parse_str(cases[i].text, &c, &d), 0);
                assert_int_equal(c->n_devices, 1);
                assert_int_equal(c->devices[0]->private_node, TRISTATE_AUTO);
                if (device_private_services(c, c->devices[0]) != cases[i].want) {
                        print_error("case %zu: %s: got %s\n", i, cases[i].text,
                                    private_services_format(device_private_services(c, c->devices[0]), buf,
                                                            sizeof buf));
                        fail();
                }
                conf_diags_clear(&d);
                config_free(c);
        }
}

static void test_one_error_per_mistake(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        /* an invalid Match= is one mistake: not also "lacks Match=" */
        assert_int_equal(parse_str("[Device]\nMatch=serial:0x12g4\n", &c, &d), -EINVAL);
        assert_int_equal(d.n_errors, 1);
        assert_non_null(find_diag(&d, 2, "Match=serial:0x12g4"));
        conf_diags_clear(&d);
        config_free(c);
}

static void test_warnings_only(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        assert_int_equal(parse_str("[Daemon]\nloglevel=debug\nNoSuchKey=1\n[Future]\nX=1\n", &c, &d), 0);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n, 3);
        assert_non_null(find_diag(&d, 2, "did you mean 'LogLevel'"));
        assert_non_null(find_diag(&d, 3, "unknown key 'NoSuchKey'"));
        assert_non_null(find_diag(&d, 4, "unknown section [Future]"));
        assert_int_equal(d.items[0].level, CONF_DIAG_WARNING);
        assert_int_equal(c->log_level, -1); /* the misspelt key did nothing */
        conf_diags_clear(&d);
        config_free(c);
}

static void test_three_planted_mistakes(void **state) {
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        write_file("planted.conf", "[Daemon]\n"
                                   "LogLevel=loud\n"
                                   "[Device]\n"
                                   "Match=serial:0x1234\n"
                                   "Zone=fast\n"
                                   "[Access]\n"
                                   "User=alice\n"
                                   "MaxBytes=lots\n");
        assert_int_equal(config_load(tpath("planted.conf"), true, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n_errors, 3);
        assert_non_null(find_diag(&d, 2, "LogLevel=loud"));
        assert_non_null(find_diag(&d, 5, "Zone=fast"));
        assert_non_null(find_diag(&d, 8, "MaxBytes=lots"));
        for (size_t i = 0; i < d.n; i++)
                assert_string_equal(d.items[i].file, tpath("planted.conf"));
        conf_diags_clear(&d);
}

static void test_lines_too_long_and_nul(void **state) {
        char text[600];
        Config *c = NULL;
        ConfDiags d = {};

        (void) state;
        memset(text, 0, sizeof text);
        strcpy(text, "[Daemon]\nStateDirectory=/");
        memset(text + strlen(text), 'a', 400);
        strcat(text, "\nLogLevel=debug\n");
        assert_int_equal(parse_str(text, &c, &d), -EINVAL);
        assert_non_null(find_diag(&d, 2, "characters long"));
        assert_int_equal(c->log_level, 7); /* the line after it is still read */
        conf_diags_clear(&d);
        config_free(c);

        static const char with_nul[] = "[Daemon]\nLogLevel=de\0bug\nShutdownPolicy=release\n";
        c = config_new();
        assert_int_equal(config_parse_buffer(c, "nul.conf", with_nul, sizeof with_nul - 1, &d), -EINVAL);
        assert_non_null(find_diag(&d, 2, "NUL byte"));
        assert_int_equal(c->shutdown_policy, SHUTDOWN_RELEASE);
        conf_diags_clear(&d);
        config_free(c);
}

static void test_dropins(void **state) {
        Config *c = NULL;
        ConfDiags d = {};
        char dir[PATH_MAX];

        (void) state;
        write_file("main.conf", "[Daemon]\nLogLevel=info\n"
                                "[Enforcement]\nTrustedExecutable=/usr/bin/a\n"
                                "[Pressure]\nFreeWarn=30%\n"
                                "[Device]\nMatch=dax0.0\n");
        snprintf(dir, sizeof dir, "%s/main.conf.d", tmpdir);
        assert_int_equal(mkdir(dir, 0755), 0);
        /* lexical order: 10-b before 9-a; later wins */
        write_file("main.conf.d/9-a.conf", "[Daemon]\nLogLevel=err\n[Pressure]\nFreeCritical=20%\n");
        write_file("main.conf.d/10-b.conf", "[Daemon]\nLogLevel=debug\n"
                                            "[Enforcement]\nTrustedExecutable=/usr/bin/b\n"
                                            "[Device]\nMatch=dax1.0\n"
                                            "[Access]\nUser=root\n");
        write_file("main.conf.d/20-reset.conf", "[Enforcement]\nTrustedExecutable=\nTrustedExecutable=/usr/bin/c\n");
        write_file("main.conf.d/ignored.conf.bak", "[Daemon]\nLogLevel=garbage\n");
        write_file("main.conf.d/.hidden.conf", "[Daemon]\nLogLevel=garbage\n");

        assert_int_equal(config_load(tpath("main.conf"), true, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(c->n_files, 4);
        assert_non_null(strstr(c->files[1], "10-b.conf"));
        assert_non_null(strstr(c->files[3], "9-a.conf"));
        assert_int_equal(c->log_level, 3); /* 9-a.conf is read last */
        assert_int_equal(c->free_warn, 3000);
        assert_int_equal(c->free_critical, 2000);
        assert_int_equal(strv_length(c->trusted_executables), 1);
        assert_string_equal(c->trusted_executables[0], "/usr/bin/c");
        assert_int_equal(c->n_devices, 2);
        assert_string_equal(c->devices[1]->match, "dax1.0");
        assert_non_null(strstr(c->devices[1]->source.file, "10-b.conf"));
        assert_int_equal(c->n_access, 1);
        config_free(c);
        c = NULL;

        /* an error in a drop-in names the drop-in, and the whole load fails */
        write_file("main.conf.d/30-bad.conf", "[Reclaim]\nAt=sometimes\n");
        assert_int_equal(config_load(tpath("main.conf"), true, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n_errors, 1);
        assert_non_null(strstr(d.items[0].file, "30-bad.conf"));
        assert_int_equal(d.items[0].line, 2);
        conf_diags_clear(&d);

        /* a drop-in conflicting with the main file across keys: the error points at the later one */
        write_file("main.conf.d/30-bad.conf", "[Pressure]\nFreeWarn=10%\n");
        assert_int_equal(config_load(tpath("main.conf"), true, &c, &d), -EINVAL);
        assert_non_null(strstr(d.items[0].file, "9-a.conf"));
        assert_int_equal(d.items[0].line, 4);
        assert_non_null(strstr(d.items[0].message, "FreeCritical=20% must be below FreeWarn=10%"));
        conf_diags_clear(&d);
}

static void test_dump_round_trip(void **state) {
        Config *a = NULL, *b = NULL;
        ConfDiags d = {};
        char *text1 = NULL, *text2 = NULL;
        size_t n1 = 0, n2 = 0;
        FILE *f;

        (void) state;
        assert_int_equal(parse_str(good, &a, &d), 0);
        f = open_memstream(&text1, &n1);
        config_dump(a, f);
        fclose(f);

        assert_int_equal(parse_str(text1, &b, &d), 0);
        assert_int_equal(d.n, 0);
        f = open_memstream(&text2, &n2);
        config_dump(b, f);
        fclose(f);

        /* identical but for the "# from FILE:LINE" comments, which name the dump itself */
        assert_int_equal(b->n_devices, a->n_devices);
        assert_int_equal(b->n_access, a->n_access);
        assert_int_equal(b->n_grants, a->n_grants);
        assert_string_equal(b->grants[1]->cgroup, a->grants[1]->cgroup);
        assert_true(nodemask_same(&b->grants[1]->nodes, &a->grants[1]->nodes));
        assert_int_equal(b->free_critical, a->free_critical);
        assert_true(b->recover_after_usec == a->recover_after_usec);
        assert_true(b->access[0]->max_bytes == a->access[0]->max_bytes);
        assert_true(nodemask_same(&b->access[0]->nodes, &a->access[0]->nodes));
        assert_int_equal(strv_length(b->trusted_executables), 3);
        char *p1 = strstr(text1, "[Reclaim]"), *p2 = strstr(text2, "[Reclaim]");
        assert_non_null(p1);
        assert_non_null(p2);
        assert_true(strncmp(p1, p2, (size_t) (strstr(p1, "[Device]") - p1)) == 0);
        free(text1);
        free(text2);
        config_free(a);
        config_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_without_file),
                cmocka_unit_test(test_missing_required_file),
                cmocka_unit_test(test_good_file),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_one_error_per_mistake),
                cmocka_unit_test(test_private_services),
                cmocka_unit_test(test_warnings_only),
                cmocka_unit_test(test_three_planted_mistakes),
                cmocka_unit_test(test_lines_too_long_and_nul),
                cmocka_unit_test(test_dropins),
                cmocka_unit_test(test_dump_round_trip),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
