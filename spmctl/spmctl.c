/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmctl: the operator's tool for spmd. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-util.h"
#include "check-config.h"
#include "config.h"
#include "devices.h"
#include "log.h"
#include "spmctl-bus.h"
#include "spmctl-json.h"
#include "strv.h"
#include "topology.h"

static bool arg_dump = false;
const char *arg_config = SPMD_CONF_PATH;
bool arg_config_given = false;

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Inspect and control spmd, the specific-purpose memory daemon.\n\n"
               "Commands that ask the running spmd (over the system bus, org.spmd1):\n"
               "  status                Enforcement layers and their state, SPM nodes,\n"
               "                        grants, violations, reloads\n"
               "  grants                The grants in force\n"
               "  request [OPTIONS]     Ask for a grant for your own cgroup (or --cgroup/\n"
               "                        --unit); holds it until interrupted, or returns\n"
               "                        at once with --persistent\n"
               "  release GRANT...      End grants (id or object path)\n"
               "  reload                Re-read the policy (errors keep the running one)\n"
               "  monitor               Follow grants, violations and denials live\n"
               "  top [-n N] [-d DELAY] Per SPM node, refreshed: size, free, compression\n"
               "                        ratio, physical media left, pressure level, reclaim\n"
               "                        and migration rates, what spmd is doing about it\n"
               "  run [OPTIONS] -- CMD  Run CMD in a cgroup of its own with a grant; the\n"
               "                        grant ends when CMD exits (needs root)\n"
               "  metrics [--output F]  Status, nodes, layers and grants as Prometheus text\n"
               "                        (F: written atomically, for node_exporter)\n\n"
               "Commands that read or change the machine directly:\n"
               "  check-config [PATH]   Validate PATH (default " SPMD_CONF_PATH ")\n"
               "                        and its drop-ins; exit 1 on errors\n"
               "  nodes                 NUMA nodes: kind (spm/sysram), CPUs, size, free,\n"
               "                        memory tier, zone, backing device\n"
               "  devices               CXL memory devices, regions and dax devices, and\n"
               "                        which [Device] claims each\n"
               "  device release DEV    Take DEV (daxX.Y or a [Device] Name=) back: offline\n"
               "                        its memory (pages migrate off) and return it to devdax\n"
               "  detach-bpf            Remove the BPF programs and maps spmd pinned under\n"
               "                        BpfPinDirectory= (observer, guard): they stop\n"
               "                        unless a running spmd still holds them\n\n"
               "Options:\n"
               "  -h --help             Show this help\n"
               "     --version          Show package version\n"
               "     --json             Machine-readable output (status, grants, monitor,\n"
               "                        top, nodes, devices)\n"
               "     --dump             check-config: print the effective configuration\n"
               "  -c --config=PATH      Policy to read (default " SPMD_CONF_PATH ")\n\n"
               "request and run options:\n"
               "  -n --node=LIST        SPM nodes (default: every one the policy allows)\n"
               "     --max-bytes=SIZE   Ask for a limit below the rule's MaxBytes=\n"
               "     --persistent       request: outlive this command (needs AllowPersistent=)\n"
               "     --cgroup=PATH      request: grant this cgroup instead of your own\n"
               "     --unit=UNIT        request: grant this unit's cgroup\n\n"
               "Exit status: 0 success, 1 spmd refused or failed, 2 usage error, 3 spmd\n"
               "not running, 4 denied by the policy; run: the command's own status.\n"
               "A released device that spmd.conf still claims is onlined again by spmd on\n"
               "its next reload or restart.\n",
               program_invocation_short_name);
}

static int verb_check_config(int argc, char *argv[]) {
        if (argc > 2) {
                fprintf(stderr, "check-config takes at most one PATH.\n");
                return 2;
        }
        if (argc == 2)
                return check_config_and_report(argv[1], true, arg_dump);
        return check_config_and_report(arg_config, arg_config_given, arg_dump);
}

/* The topology and, if the policy can be read, which devices it claims. */
static int load_machine(Topology **ret_t, Config **ret_c, DevicePlan *ret_plan) {
        _cleanup_(topology_freep) Topology *t = NULL;
        ConfDiags d = {};
        Config *c = NULL;
        int r;

        r = topology_discover(&t);
        if (r < 0) {
                log_error_errno(r, "Failed to read the memory topology: %m");
                return r;
        }
        *ret_plan = (DevicePlan){};
        r = config_load(arg_config, arg_config_given, &c, &d);
        if (r < 0) {
                conf_diags_print(&d, stderr);
                fprintf(stderr, "warning: cannot read the policy in %s; node kinds and claims are not shown\n",
                        arg_config);
        } else if (device_plan_build(c, t, ret_plan) < 0) {
                c = config_free(c);
        }
        conf_diags_clear(&d);
        *ret_c = c;
        *ret_t = TAKE_PTR(t);
        return 0;
}

static int verb_topology(bool devices) {
        _cleanup_(topology_freep) Topology *t = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        DevicePlan plan = {};
        NodeMask spm = {};

        if (load_machine(&t, &c, &plan) < 0)
                return 1;
        device_plan_spm_nodes(&plan, t, &spm);
        if (spmctl_json) {
                if (json_print(json_topology(t, c ? &spm : NULL), stdout) < 0) {
                        device_plan_clear(&plan);
                        fprintf(stderr, "Out of memory.\n");
                        return 1;
                }
        } else if (devices) {
                topology_print_devices(t, stdout);
                if (c) {
                        printf("claimed by %s:\n", arg_config);
                        if (plan.n_claims == 0 && strv_isempty(plan.problems))
                                printf("  nothing ([Device] sections: %zu)\n", c->n_devices);
                        for (size_t i = 0; i < plan.n_claims; i++)
                                printf("  %-8s [Device]%s%s at %s:%u Match=%s\n", plan.claims[i].dax,
                                       plan.claims[i].conf->name ? " Name=" : "", strempty(plan.claims[i].conf->name),
                                       plan.claims[i].conf->source.file, plan.claims[i].conf->source.line,
                                       plan.claims[i].conf->match);
                        for (char **p = plan.problems; p && *p; p++)
                                printf("  problem: %s\n", *p);
                }
        } else
                topology_print_nodes(t, c ? &spm : NULL, stdout);
        device_plan_clear(&plan);
        return 0;
}

static int verb_device(int argc, char *argv[]) {
        _cleanup_(topology_freep) Topology *t = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL;
        DevicePlan plan = {};
        const char *dax;
        int r;

        if (argc != 3 || strcmp(argv[1], "release") != 0) {
                fprintf(stderr, "usage: spmctl device release DEV  (DEV: daxX.Y or a [Device] Name=)\n");
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "device release needs root: it offlines the device's memory and rebinds its "
                                "driver (uid %u)\n",
                        (unsigned) geteuid());
                return 4;
        }
        if (load_machine(&t, &c, &plan) < 0)
                return 1;
        const DeviceClaim *claim = device_plan_find(&plan, argv[2]);
        dax = claim ? claim->dax : argv[2];
        if (!topology_dax(t, dax)) {
                fprintf(stderr, "%s: no such dax device and no [Device] with that Name=; see 'spmctl devices'\n",
                        argv[2]);
                device_plan_clear(&plan);
                return 1;
        }
        r = device_release(dax, &msg);
        device_plan_clear(&plan);
        if (r < 0) {
                fprintf(stderr, "%s\n", msg ? msg : strerror(-r));
                return 1;
        }
        printf("%s\n", msg);
        if (claim)
                printf("note: %s still claims it; spmd onlines it again on its next reload or restart\n",
                       arg_config);
        return 0;
}

/*
 * Uninstalling enforcement is explicit: spmd itself leaves its pins when it
 * stops, and the guard refuses to let anything but spmd's own executable
 * remove them, so this runs "spmd --detach-bpf": the spmd of the build tree
 * this spmctl belongs to (BUILD/spmctl/spmctl beside BUILD/daemon/core/spmd),
 * else the installed one.
 */
static int verb_detach_bpf(int argc, char *argv[]) {
        char self[PATH_MAX], sibling[PATH_MAX + 32];
        const char *spmd = SPMD_EXECUTABLE;
        ssize_t n;

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "detach-bpf takes no arguments.\n");
                return 2;
        }
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        if ((size_t) snprintf(sibling, sizeof sibling, "%s/../daemon/core/spmd", self) < sizeof sibling &&
                            access(sibling, X_OK) == 0)
                                spmd = sibling;
                }
        }
        fflush(stdout);
        if (arg_config_given)
                execl(spmd, spmd, "--detach-bpf", "-c", arg_config, (char *) NULL);
        else
                execl(spmd, spmd, "--detach-bpf", (char *) NULL);
        fprintf(stderr, "Cannot run %s --detach-bpf: %s\n", spmd, strerror(errno));
        return 1;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_DUMP };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "config", required_argument, NULL, 'c' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "dump", no_argument, NULL, ARG_DUMP },
                {}
        };
        int c;

        log_set_ident("spmctl");
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_WARNING);

        /* Options may follow the command ("spmctl nodes --json"), except for the commands with options of
         * their own ("request --node 1", "run -- CMD"): theirs belong to them. */
        const char *optstring = "hc:";
        for (int i = 1; i < argc; i++) {
                if (argv[i][0] != '-') {
                        if (strcmp(argv[i], "request") == 0 || strcmp(argv[i], "run") == 0 ||
                            strcmp(argv[i], "top") == 0 || strcmp(argv[i], "metrics") == 0)
                                optstring = "+hc:";
                        break;
                }
                if (strcmp(argv[i], "--") == 0)
                        break;
                if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
                        i++;
        }
        while ((c = getopt_long(argc, argv, optstring, options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("spmctl %s\n", SPMD_VERSION);
                        return 0;
                case ARG_JSON:
                        spmctl_json = true;
                        break;
                case ARG_DUMP:
                        arg_dump = true;
                        break;
                default:
                        return 2;
                }

        if (optind >= argc) {
                fprintf(stderr, "No command given. See '%s --help'.\n", program_invocation_short_name);
                return 2;
        }
        argc -= optind;
        argv += optind;
        if (strcmp(argv[0], "check-config") == 0)
                return verb_check_config(argc, argv);
        if (strcmp(argv[0], "nodes") == 0 || strcmp(argv[0], "devices") == 0) {
                if (argc > 1) {
                        fprintf(stderr, "%s takes no arguments.\n", argv[0]);
                        return 2;
                }
                return verb_topology(strcmp(argv[0], "devices") == 0);
        }
        if (strcmp(argv[0], "device") == 0)
                return verb_device(argc, argv);
        if (strcmp(argv[0], "detach-bpf") == 0)
                return verb_detach_bpf(argc, argv);
        static const struct {
                const char *name;
                int (*fn)(int argc, char *argv[]);
        } bus_verbs[] = {
                { "status", spmctl_status },   { "grants", spmctl_grants },   { "request", spmctl_request },
                { "release", spmctl_release }, { "reload", spmctl_reload },   { "monitor", spmctl_monitor },
                { "run", spmctl_run },         { "top", spmctl_top },         { "metrics", spmctl_metrics },
        };
        for (size_t i = 0; i < ELEMENTSOF(bus_verbs); i++)
                if (strcmp(argv[0], bus_verbs[i].name) == 0)
                        return bus_verbs[i].fn(argc, argv);
        fprintf(stderr, "Unknown command '%s'. See '%s --help'.\n", argv[0], program_invocation_short_name);
        return 2;
}
