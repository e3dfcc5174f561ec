/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spmctl: the operator's tool for spmd. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-config.h"
#include "config.h"
#include "log.h"
#include "topology.h"

static bool arg_json = false;
static bool arg_dump = false;

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Inspect and control spmd, the specific-purpose memory daemon.\n\n"
               "Commands:\n"
               "  check-config [PATH]   Validate PATH (default " SPMD_CONF_PATH ")\n"
               "                        and its drop-ins; exit 1 on errors\n"
               "  nodes                 NUMA nodes: CPUs, size, free, memory tier, backing\n"
               "  devices               CXL memory devices and dax devices\n\n"
               "Options:\n"
               "  -h --help             Show this help\n"
               "     --version          Show package version\n"
               "     --json             Machine-readable output (nodes, devices)\n"
               "     --dump             check-config: print the effective configuration\n\n"
               "nodes and devices read the machine directly; the D-Bus commands\n"
               "(status, grants, request, release, ...) arrive with the broker.\n",
               program_invocation_short_name);
}

static int verb_check_config(int argc, char *argv[]) {
        if (argc > 2) {
                fprintf(stderr, "check-config takes at most one PATH.\n");
                return 2;
        }
        return check_config_and_report(argc == 2 ? argv[1] : SPMD_CONF_PATH, argc == 2, arg_dump);
}

static int verb_topology(bool devices) {
        _cleanup_(topology_freep) Topology *t = NULL;
        int r;

        r = topology_discover(&t);
        if (r < 0) {
                log_error_errno(r, "Failed to read the memory topology: %m");
                return 1;
        }
        if (arg_json)
                topology_print_json(t, stdout);
        else if (devices)
                topology_print_devices(t, stdout);
        else
                topology_print_nodes(t, stdout);
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_DUMP };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "dump", no_argument, NULL, ARG_DUMP },
                {}
        };
        int c;

        log_set_ident("spmctl");
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_WARNING);

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("spmctl %s\n", SPMD_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
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
        fprintf(stderr, "Unknown command '%s'. See '%s --help'.\n", argv[0], program_invocation_short_name);
        return 2;
}
