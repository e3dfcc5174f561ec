/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmd: keeps CXL and other device memory as specific-purpose memory nodes. */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bpf-util.h"
#include "check-config.h"
#include "conf.h"
#include "config.h"
#include "log-libs.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"

static const char *arg_config = SPMD_CONF_PATH;
static bool arg_config_given = false;
static bool arg_check_config = false;
static bool arg_dump_config = false;
static bool arg_detach_bpf = false;
static int arg_log_level = -1;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Keep CXL and other device memory as specific-purpose memory (SPM) NUMA nodes.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "  -c --config=PATH          Read PATH and PATH.d/*.conf instead of\n"
               "                            " SPMD_CONF_PATH "\n"
               "     --check-config [PATH]  Validate the configuration and exit:\n"
               "                            0 when valid, 1 on errors\n"
               "     --detach-bpf           Remove the BPF programs and maps spmd pinned\n"
               "                            (what spmctl detach-bpf runs) and exit\n"
               "     --dump-config          With --check-config: print the effective\n"
               "                            configuration\n"
               "     --log-level=LEVEL      debug, info, notice, warning, err\n"
               "                            (overrides [Daemon] LogLevel=)\n"
               "     --log-target=TARGET    auto, console or journal\n\n"
               "Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT stop.\n"
               "See spmd(8) and spmd.conf(5).\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CHECK_CONFIG,
                ARG_DUMP_CONFIG,
                ARG_DETACH_BPF,
                ARG_LOG_LEVEL,
                ARG_LOG_TARGET,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "check-config", optional_argument, NULL, ARG_CHECK_CONFIG },
                { "dump-config", no_argument, NULL, ARG_DUMP_CONFIG },
                { "detach-bpf", no_argument, NULL, ARG_DETACH_BPF },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("spmd %s\n", SPMD_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        if (optarg) {
                                arg_config = optarg;
                                arg_config_given = true;
                        }
                        break;
                case ARG_DUMP_CONFIG:
                        arg_dump_config = true;
                        break;
                case ARG_DETACH_BPF:
                        arg_detach_bpf = true;
                        break;
                case ARG_LOG_LEVEL:
                        arg_log_level = log_level_from_string(optarg);
                        if (arg_log_level < 0) {
                                log_error("Invalid --log-level='%s': expected debug, info, notice, warning or err.",
                                          optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(arg_log_level);
                        break;
                case ARG_LOG_TARGET: {
                        LogTarget t = log_target_from_string(optarg);
                        if (t < 0) {
                                log_error("Invalid --log-target='%s': expected auto, console or journal.", optarg);
                                return -EINVAL;
                        }
                        log_set_target(t);
                        break;
                }
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }

        /* "--check-config PATH", as well as "--check-config=PATH". */
        if (arg_check_config && optind < argc) {
                arg_config = argv[optind++];
                arg_config_given = true;
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s'. See --help.", argv[optind]);
                return -EINVAL;
        }
        if (arg_dump_config && !arg_check_config) {
                log_error("--dump-config goes with --check-config.");
                return -EINVAL;
        }
        return 1;
}

/*
 * Uninstall enforcement on purpose: remove both layers' pins, so the programs
 * detach (at once, or when a running spmd lets go of them). Only spmd's own
 * executable (or PID 1 or a TrustedExecutable=) gets past the guard's
 * protection of the pins, which is why spmctl detach-bpf runs this. Logged
 * with who asked.
 */
static int detach_bpf(void) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfDiags d = {};
        char by[64] = "", msg[512], f_uid[32], f_ppid[32];
        const char *fields[] = { "SPMD_EVENT=detach-bpf", f_uid, f_ppid, NULL };
        int r, ret = 0;

        r = config_load(arg_config, arg_config_given, &c, &d);
        conf_diags_print(&d, stderr);
        conf_diags_clear(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s, so BpfPinDirectory= is unknown: %m", arg_config);
        proc_comm(getppid(), by, sizeof by);
        snprintf(msg, sizeof msg, "Detaching spmd's BPF enforcement on request: uid %u, from pid %d (%s); removing "
                                  "the pins under %s.",
                 (unsigned) getuid(), (int) getppid(), by[0] ? by : "?", c->bpf_pin_directory);
        snprintf(f_uid, sizeof f_uid, "SPMD_UID=%u", (unsigned) getuid());
        snprintf(f_ppid, sizeof f_ppid, "SPMD_PID=%d", (int) getppid());
        log_struct_internal(LOG_NOTICE, __FILE__, __LINE__, __func__, msg, fields);
        for (const char *const *layer = (const char *const[]){ "observe", "guard", NULL }; *layer; layer++) {
                _cleanup_free_ char *dir = NULL;

                if (asprintf(&dir, "%s/%s", c->bpf_pin_directory, *layer) < 0)
                        return log_oom();
                if (access(dir, F_OK) < 0) {
                        printf("%s: nothing pinned\n", dir);
                        continue;
                }
                r = bpf_pin_remove(dir);
                if (r < 0) {
                        log_error_errno(r, "Cannot remove the pins in %s: %m", dir);
                        fprintf(stdout, "%s: %s\n", dir, strerror(-r));
                        ret = r;
                } else
                        printf("%s: removed\n", dir);
        }
        (void) rmdir(c->bpf_pin_directory);
        return ret;
}

/* spmd holds a descriptor per granted cgroup's PSI trigger and a pidfd per connected client
 * (bus-util.c): the soft RLIMIT_NOFILE (1024 by default) goes up to the hard one, as systemd's own
 * daemons do; spmd waits with epoll, never select(), so descriptors above 1023 are fine. */
static void bump_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(-errno, "Cannot raise the soft RLIMIT_NOFILE to the hard one: %m");
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        if (arg_check_config)
                return check_config_and_report(arg_config, arg_config_given, arg_dump_config) == 0 ? 0 : -EINVAL;
        if (arg_detach_bpf)
                return detach_bpf();

        log_hook_libbpf();
        bump_nofile();

        r = manager_new(arg_config, arg_config_given, arg_log_level, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        r = manager_load_config(m);
        if (r < 0)
                return r;
        r = manager_take_lock(m);
        if (r < 0)
                return r;
        r = manager_startup(m);
        if (r < 0)
                return r;
        r = manager_run(m);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("spmd stopped.");
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        /* Fixed thresholds instead of glibc's sliding ones (which grow to 32 MiB after a large free,
         * such as libbpf's parsed BTF): big blocks come from mmap and go back when freed, and free
         * memory at the top of the heap is returned, so a daemon that runs for months keeps the
         * footprint of what it holds. */
        (void) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 512 * 1024);
        /* One arena for every thread: the workers run one job at a time and allocate little (the
         * topology a reload reads is freed on the loop), so an arena of their own would only add a
         * heap that the trim threshold above does not keep small; there is no contention to spread.
         * (The 2 MiB step in RSS a reload once caused was the worker's stack: see worker.c.) */
        (void) mallopt(M_ARENA_MAX, 1);
        r = run(argc, argv);

        if (r < 0)
                (void) sd_notifyf(false, "ERRNO=%d", -r);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
