/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "bpf-util.h"

int unavailable(char **ret_reason, int r, const char *fmt, ...) {
        va_list ap;

        if (!ret_reason)
                return r;
        va_start(ap, fmt);
        if (vasprintf(ret_reason, fmt, ap) < 0)
                *ret_reason = NULL;
        va_end(ap);
        return r;
}
