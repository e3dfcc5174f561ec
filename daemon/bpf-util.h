/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/*
 * For BPF loaders: store why a layer is unavailable in *ret_reason (if not
 * NULL) and return r, so that "return unavailable(ret_reason, r, ...)" both
 * fails and explains.
 */
int unavailable(char **ret_reason, int r, const char *fmt, ...) _printf_(3, 4);
