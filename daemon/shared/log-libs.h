/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Route libbpf, libcxl, libdaxctl and libnuma diagnostics into spmd's logger (log.h). Here, not in
 * daemon/basic/, so that what links only the logger (spmctl) does not link the libraries. The
 * file also replaces libnuma's numa_error() and numa_warn(), which print to stderr and may exit:
 * it is linked into whatever reads the topology.
 */
#include "log.h"

struct cxl_ctx;
struct daxctl_ctx;
void log_hook_libbpf(void);
void log_hook_cxl(struct cxl_ctx *ctx);
void log_hook_daxctl(struct daxctl_ctx *ctx);
