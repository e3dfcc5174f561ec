/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Shared by "spmd --check-config" and "spmctl check-config": prints every
 * diagnostic as FILE:LINE: error|warning: MESSAGE and a summary to stderr.
 * Returns the process exit status: 0 valid (warnings allowed), 1 errors. */
int check_config_and_report(const char *path, bool required, bool dump);
