/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

int parse_uint64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        /* strtoull() accepts leading blanks and a sign; neither is a number here. */
        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

/* A decimal number "12", "12.5"; no exponent, no sign, no hex. Independent of locale. */
static int parse_decimal(const char *s, const char **end, double *ret) {
        double v = 0, scale = 1;
        const char *p = s;
        bool digits = false;

        for (; isdigit((unsigned char) *p); p++, digits = true) {
                v = v * 10 + (*p - '0');
                if (v > 1e18)
                        return -ERANGE;
        }
        if (*p == '.') {
                p++;
                for (; isdigit((unsigned char) *p); p++, digits = true) {
                        scale /= 10;
                        v += (*p - '0') * scale;
                }
        }
        if (!digits)
                return -EINVAL;
        *end = p;
        *ret = v;
        return 0;
}

int parse_double(const char *s, double *ret) {
        const char *end;
        double v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_decimal(s, &end, &v);
        if (r < 0)
                return r;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "",  1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 }, { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 }, { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 }, { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 }, { "TiB", UINT64_C(1) << 40 },
        };
        const char *end;
        double v;
        int r;

        if (!s)
                return -EINVAL;
        if (strcmp(s, "infinity") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        r = parse_decimal(s, &end, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (strcmp(end, table[i].suffix) != 0)
                        continue;
                /* Fractions only make sense with a unit: "1.5" bytes is a mistake. */
                if (table[i].factor == 1 && v != floor(v))
                        return -EINVAL;
                long double bytes = (long double) v * table[i].factor;
                if (bytes >= (long double) UINT64_MAX)
                        return -ERANGE;
                *ret = (uint64_t) bytes;
                return 0;
        }
        return -EINVAL;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } table[] = {
                { "",    USEC_PER_SEC },
                { "us",  1 },
                { "ms",  USEC_PER_MSEC },
                { "s",   USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m",   60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h",   3600 * USEC_PER_SEC },
        };
        const char *end;
        double v;
        int r;

        if (!s)
                return -EINVAL;
        if (strcmp(s, "infinity") == 0) {
                *ret_usec = USEC_INFINITY;
                return 0;
        }
        r = parse_decimal(s, &end, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (strcmp(end, table[i].suffix) != 0)
                        continue;
                long double usec = (long double) v * table[i].usec;
                if (usec >= (long double) USEC_INFINITY)
                        return -ERANGE;
                *ret_usec = (uint64_t) usec;
                return 0;
        }
        return -EINVAL;
}

int parse_permyriad(const char *s, uint32_t *ret) {
        const char *end;
        double v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_decimal(s, &end, &v);
        if (r < 0)
                return r;
        if (strcmp(end, "%") != 0)
                return -EINVAL;
        if (v > 100.0)
                return -ERANGE;
        *ret = (uint32_t) lround(v * 100.0);
        return 0;
}

int parse_nodemask(const char *s, NodeMask *ret) {
        NodeMask m = {};
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        for (;;) {
                uint64_t a, b;
                char *end;

                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                a = strtoull(p, &end, 10);
                b = a;
                p = end;
                if (*p == '-') {
                        p++;
                        if (!isdigit((unsigned char) *p))
                                return -EINVAL;
                        b = strtoull(p, &end, 10);
                        p = end;
                }
                if (a > b)
                        return -EINVAL;
                if (b >= SPMD_MAX_NODES)
                        return -ERANGE;
                for (uint64_t n = a; n <= b; n++)
                        nodemask_set(&m, (unsigned) n);
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
        *ret = m;
        return 0;
}

char *nodemask_format(const NodeMask *m, char *buf, size_t len) {
        (void) nodemask_format_checked(m, buf, len);
        return buf;
}

int nodemask_format_checked(const NodeMask *m, char *buf, size_t len) {
        size_t off = 0;
        int first = 1;

        if (len == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        for (unsigned n = nodemask_next(m, 0); n < SPMD_MAX_NODES; n = nodemask_next(m, n + 1)) {
                unsigned end = nodemask_run_end(m, n);
                int k = end == n ? snprintf(buf + off, len - off, "%s%u", first ? "" : ",", n)
                                 : snprintf(buf + off, len - off, "%s%u-%u", first ? "" : ",", n, end);
                if (k < 0 || (size_t) k >= len - off) {
                        buf[off] = '\0'; /* whole ranges only, but not all of them: not a value to write */
                        return -ENOBUFS;
                }
                off += (size_t) k;
                first = 0;
                n = end;
        }
        return 0;
}

const char *format_size(char *buf, size_t len, uint64_t bytes) {
        static const char units[] = "KMGTPE";
        double v = (double) bytes;
        int u = -1;

        if (bytes == UINT64_MAX) {
                snprintf(buf, len, "infinity");
                return buf;
        }
        while (v >= 1024.0 && u < (int) sizeof units - 2) {
                v /= 1024.0;
                u++;
        }
        if (u < 0)
                snprintf(buf, len, "%" PRIu64 "B", bytes);
        else
                snprintf(buf, len, "%.1f%c", v, units[u]);
        return buf;
}

bool cgroup_path_is_valid(const char *p) {
        size_t n = strlen(p);

        if (p[0] != '/' || n < 2 || n >= 4096 || p[n - 1] == '/')
                return false;
        for (const char *c = p; *c;) {
                const char *e;
                size_t len;

                c++; /* skip '/' */
                e = strchrnul(c, '/');
                len = (size_t) (e - c);
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                for (const char *x = c; x < e; x++)
                        if ((unsigned char) *x < 0x20 || *x == 0x7f)
                                return false;
                c = e;
        }
        return true;
}

unsigned cgroup_path_depth(const char *p) {
        unsigned n = 0;

        for (; *p; p++)
                n += *p == '/';
        return n;
}

int parse_proc_stat_starttime(const char *line, uint64_t *ret) {
        const char *p = strrchr(line, ')'); /* comm may hold spaces and parentheses */
        unsigned long long start;

        /* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
         * cutime cstime priority nice num_threads itrealvalue starttime(22) */
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &start) != 1)
                return -EINVAL;
        *ret = start;
        return 0;
}

/* The comm of pid, for the log: "" if it cannot be read. */
int proc_cgroup_parse(FILE *f, char *buf, size_t len) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t n;

        buf[0] = '\0';
        while ((n = getline(&line, &size, f)) >= 0) {
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (strncmp(line, "0::", 3) != 0)
                        continue;
                if ((size_t) n - 3 >= len)
                        return -ENAMETOOLONG;
                memcpy(buf, line + 3, (size_t) n - 3 + 1);
                return 0;
        }
        return -ENODATA;
}

void proc_comm(pid_t pid, char *buf, size_t len) {
        char p[64];
        FILE *f;

        buf[0] = '\0';
        snprintf(p, sizeof p, "/proc/%d/comm", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return;
        if (fgets(buf, (int) len, f))
                buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
}

