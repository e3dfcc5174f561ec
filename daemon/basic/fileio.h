/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* root + the path fmt formats, in buf (returned): the live tree when root is "" or NULL, a recorded
 * one (a test's) otherwise. Asserts that it fits: the paths are sysfs's and cgroupfs's, a few dozen
 * bytes; only a root of hundreds of bytes (a caller's mistake) would not. */
char *rooted(char *buf, size_t len, const char *root, const char *fmt, ...) _printf_(4, 5);
char *rootedv(char *buf, size_t len, const char *root, const char *fmt, va_list ap) _printf_(4, 0);

/* The first line of the file at path, without its newline, in buf, from one read() (cut at len - 1
 * bytes: the sysfs and cgroupfs values read this way are short). 0, or a negative errno (-ENODATA:
 * the file is empty). */
int read_one_line(const char *path, char *buf, size_t len);

typedef enum WriteFlags {
        WRITE_TRUNCATE = 1 << 0, /* O_TRUNC: a plain file (a test's tree) then holds the value alone */
} WriteFlags;

/* Write value to the file at path in one write(), as sysfs and cgroupfs take a value per write
 * (the file must exist). 0, or a negative errno: the write's (what the kernel refused), -EIO when
 * it took less than the whole value. */
int write_one_value(const char *path, const char *value, WriteFlags flags);

/*
 * A kernel file read again and again (a node's meminfo, a PSI file, a sysfs switch sampled each
 * second): held open and read from its start with pread(), which makes sysfs, procfs and cgroupfs
 * format it anew, so that a sample costs one system call instead of open, read and close, and no
 * path walk (each walk runs the LSM's inode hooks on every component). A zeroed HeldFile holds
 * nothing. Not for files that are replaced by a rename (an operator's file): the held one would be
 * the old one.
 */
typedef struct HeldFile {
        char *path; /* NULL: nothing held */
        int fd;
} HeldFile;

/* path's contents from its start in buf (NUL-terminated, cut at len - 1 bytes): the bytes read, or
 * a negative errno. h (may be NULL: opened and closed for this read) keeps the file open for the
 * next read; a held file that fails to read (-ENODEV: it was removed, a node or cgroup that went)
 * is opened again once, and a path that differs from the held one is opened in its place. */
ssize_t held_file_read(HeldFile *h, const char *path, char *buf, size_t len);

/* Close what h holds; h holds nothing after. */
void held_file_close(HeldFile *h);
