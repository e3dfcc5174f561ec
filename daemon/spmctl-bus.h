/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* --json: machine-readable output */
extern bool spmctl_json;

/* Each takes the verb's argv (argv[0] = the verb) and returns the exit code. */
int spmctl_status(int argc, char *argv[]);
int spmctl_grants(int argc, char *argv[]);
int spmctl_request(int argc, char *argv[]);
int spmctl_release(int argc, char *argv[]);
int spmctl_reload(int argc, char *argv[]);
int spmctl_monitor(int argc, char *argv[]);
int spmctl_run(int argc, char *argv[]);
