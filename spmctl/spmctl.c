/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmctl: the operator's tool for spmd. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "spmctl-bus.h"
#include "spmctl-options.h"


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

/*
 * Uninstalling enforcement is explicit: spmd itself leaves its pins when it
 * stops, and the guard refuses to let anything but spmd's own executable
 * remove them, so this runs "spmd --detach-bpf": the spmd of the build tree
 * this spmctl belongs to (BUILD/spmctl/spmctl beside BUILD/daemon/core/spmd),
 * else the installed one.
 */
static int verb_detach_bpf(int argc, char *argv[]) {
        char sibling[PATH_MAX + 32];
        const char *spmd = spmctl_sibling("../daemon/core/spmd", SPMD_EXECUTABLE, sibling, sizeof sibling);

        (void) argv;
        if (argc > 1) {
                fprintf(stderr, "detach-bpf takes no arguments.\n");
                return 2;
        }
        fflush(stdout);
        if (arg_config_given)
                execl(spmd, spmd, "--detach-bpf", "-c", arg_config, (char *) NULL);
        else
                execl(spmd, spmd, "--detach-bpf", (char *) NULL);
        fprintf(stderr, "Cannot run %s --detach-bpf: %s\n", spmd, strerror(errno));
        return 1;
}

/* The local commands run in spmctl-local, which links the libraries they need: BUILD/spmctl/
 * spmctl-local beside this spmctl, else the installed one. It gets spmctl's own arguments. */
static int run_local(char *argv[]) {
        char sibling[PATH_MAX + 32];
        const char *helper = spmctl_sibling("spmctl-local", SPMCTL_LOCAL_EXECUTABLE, sibling, sizeof sibling);

        fflush(stdout);
        execv(helper, argv);
        fprintf(stderr, "Cannot run %s: %s\n", helper, strerror(errno));
        return 1;
}

int main(int argc, char *argv[]) {
        char **all = argv;
        int i;

        i = spmctl_parse_options(argc, argv, help);
        if (i < 0)
                return i == -1 ? 0 : 2;
        argc -= i;
        argv += i;
        if (strcmp(argv[0], "check-config") == 0 || strcmp(argv[0], "nodes") == 0 ||
            strcmp(argv[0], "devices") == 0 || strcmp(argv[0], "device") == 0)
                return run_local(all);
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
        for (size_t k = 0; k < ELEMENTSOF(bus_verbs); k++)
                if (strcmp(argv[0], bus_verbs[k].name) == 0)
                        return bus_verbs[k].fn(argc, argv);
        fprintf(stderr, "Unknown command '%s'. See '%s --help'.\n", argv[0], program_invocation_short_name);
        return 2;
}
