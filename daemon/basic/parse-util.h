/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include <stdbool.h>
#include <stdint.h>

#include <sys/types.h>

#include "nodemask.h"

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* All return 0 or a negative errno (-EINVAL bad syntax, -ERANGE out of range); *ret untouched on error. */
int parse_boolean(const char *s);                         /* 1, 0 or -EINVAL */
int parse_uint64(const char *s, uint64_t *ret);
/* Field 22 of a /proc/PID/stat line: the process's start, in clock ticks since boot. */
int parse_proc_stat_starttime(const char *line, uint64_t *ret);
/* The comm of pid, for the log: "" if it cannot be read. */
void proc_comm(pid_t pid, char *buf, size_t len);
/* The cgroup2 path in a /proc/PID/cgroup file F: the line that is "0::PATH" as a whole (lines are read
 * whole, so a cgroup v1 line's tail is never taken for one). -ENODATA without one, -ENAMETOOLONG
 * when it does not fit LEN (never cut short: a cut path names another cgroup). */
int proc_cgroup_parse(FILE *f, char *buf, size_t len);
int parse_uint32(const char *s, uint32_t *ret);
int parse_double(const char *s, double *ret);             /* finite, locale independent */
int parse_size(const char *s, uint64_t *ret);             /* bytes: 4096, 512K, 16M, 1.5G, 2T, "infinity" */
int parse_duration(const char *s, uint64_t *ret_usec);    /* 100ms, 5s, 2min, 1h, "infinity"; bare = seconds */
int parse_permyriad(const char *s, uint32_t *ret);        /* "12.5%" -> 1250 (0..10000) */
int parse_nodemask(const char *s, NodeMask *ret);         /* "1", "1,3-5"; not empty */
/* "/a.slice/b": absolute, no empty, "." or ".." components, no trailing '/', not "/" itself */
bool cgroup_path_is_valid(const char *p);
/* The cpuset wall walks this many levels below the root at most; a cgroup on a grant's path
 * deeper than that is shut to the SPM nodes (and the broker refuses grants that deep). */
#define CGROUP_DEPTH_MAX 128
/* Levels below the root of a valid cgroup path: "/a" 1, "/a/b" 2. */
unsigned cgroup_path_depth(const char *p);

const char *format_size(char *buf, size_t len, uint64_t bytes);
