/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmctl's global options, parsed the same way by spmctl and by spmctl-local, the helper that
 * runs its local commands with the libraries they need (spmctl-local.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

extern bool spmctl_json;         /* --json: machine-readable output */
extern bool arg_dump;            /* --dump: check-config prints the effective configuration */
extern const char *arg_config;   /* -c/--config: the policy (default SPMD_CONF_PATH) */
extern bool arg_config_given;

/* Set up the logger (console, warnings and worse, as "spmctl") and parse argv: the index of the
 * command; -1 when help or the version was printed (exit 0), -2 on a usage error (said; exit 2).
 * help prints the help text. */
int spmctl_parse_options(int argc, char *argv[], void (*help)(void));

/* The program beside this one's executable at rel (a build tree: "spmctl-local",
 * "../daemon/core/spmd"), else installed; in buf when it is the build tree's. */
const char *spmctl_sibling(const char *rel, const char *installed, char *buf, size_t len);
