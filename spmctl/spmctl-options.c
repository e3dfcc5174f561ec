/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "spmctl-options.h"

bool spmctl_json = false;
bool arg_dump = false;
const char *arg_config = SPMD_CONF_PATH;
bool arg_config_given = false;

int spmctl_parse_options(int argc, char *argv[], void (*help)(void)) {
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
        optind = 1;
        while ((c = getopt_long(argc, argv, optstring, options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                case 'h':
                        help();
                        return -1;
                case ARG_VERSION:
                        printf("spmctl %s\n", SPMD_VERSION);
                        return -1;
                case ARG_JSON:
                        spmctl_json = true;
                        break;
                case ARG_DUMP:
                        arg_dump = true;
                        break;
                default:
                        return -2;
                }
        if (optind >= argc) {
                fprintf(stderr, "No command given. See '%s --help'.\n", program_invocation_short_name);
                return -2;
        }
        return optind;
}

const char *spmctl_sibling(const char *rel, const char *installed, char *buf, size_t len) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        char *slash;

        if (n <= 0)
                return installed;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (!slash)
                return installed;
        *slash = '\0';
        if ((size_t) snprintf(buf, len, "%s/%s", self, rel) < len && access(buf, X_OK) == 0)
                return buf;
        return installed;
}
