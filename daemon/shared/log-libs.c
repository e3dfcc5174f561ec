/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libbpf's, libcxl's, libdaxctl's and libnuma's messages through spmd's logger (log.h). */
#include <bpf/libbpf.h>
#include <cxl/libcxl.h>
#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <stdarg.h>

#include "log-libs.h"
#include "macro.h"

_printf_(2, 0) static int libbpf_print(enum libbpf_print_level lvl, const char *format, va_list args) {
        /* libbpf's INFO is chatty (every object and map it creates): keep it for --log-level=debug. */
        int level = lvl == LIBBPF_WARN ? LOG_WARNING : LOG_DEBUG;

        log_prefixedv(level, "libbpf", "libbpf", 0, NULL, format, args);
        return 0;
}

void log_hook_libbpf(void) {
        libbpf_set_print(libbpf_print);
}

/* ndctl's libraries log their housekeeping ("context released") at info: that is our debug. */
static int ndctl_priority(int priority) {
        return priority >= LOG_NOTICE ? LOG_DEBUG : priority;
}

_printf_(6, 0) static void cxl_log(struct cxl_ctx *ctx _unused_, int priority, const char *file, int line, const char *fn,
                    const char *format, va_list args) {
        log_prefixedv(ndctl_priority(priority), "libcxl", file, line, fn, format, args);
}

void log_hook_cxl(struct cxl_ctx *ctx) {
        cxl_set_log_fn(ctx, cxl_log);
        cxl_set_log_priority(ctx, log_get_max_level());
}

_printf_(6, 0) static void daxctl_log(struct daxctl_ctx *ctx _unused_, int priority, const char *file, int line,
                       const char *fn, const char *format, va_list args) {
        log_prefixedv(ndctl_priority(priority), "libdaxctl", file, line, fn, format, args);
}

void log_hook_daxctl(struct daxctl_ctx *ctx) {
        daxctl_set_log_fn(ctx, daxctl_log);
        daxctl_set_log_priority(ctx, log_get_max_level());
}

/*
 * libnuma's numa_error() and numa_warn() are weak symbols that print to
 * stderr (and numa_exit_on_error/warn may exit). A daemon must never exit
 * from inside a library: these strong definitions replace them.
 */
void numa_error(char *where);
void numa_warn(int num, char *fmt, ...) _printf_(2, 3);

void numa_error(char *where) {
        log_error_errno(errno, "libnuma: %s: %m", where);
}

void numa_warn(int num, char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_prefixedv(LOG_WARNING, "libnuma", "libnuma", num, NULL, fmt, ap);
        va_end(ap);
}
