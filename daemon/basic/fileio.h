/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* The first line of the file at path, without its newline, in buf (cut at len - 1 bytes: the
 * sysfs values read this way are short). 0, or a negative errno (-ENODATA: the file is empty). */
int read_one_line(const char *path, char *buf, size_t len);
