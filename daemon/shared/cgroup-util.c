/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-util.h"
#include "macro.h"

bool cgroup_path_covers(const char *a, const char *b) {
        size_t n = strlen(a);

        return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* Whether the LEN bytes at s end in suffix, with something before it (".slice" alone is no slice). */
static bool has_suffix(const char *s, size_t len, const char *suffix) {
        size_t n = strlen(suffix);
        return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/* A directory entry of a cgroup below it: the searches here skip "." and ".." and hidden names alike. */
static bool is_visible_dir(const struct dirent *de) {
        return de->d_type == DT_DIR && de->d_name[0] != '.';
}

const char *cgroup_systemd_unit(const char *path) {
        static const char *const unit_types[] = { ".slice", ".scope", ".service", ".socket", ".mount", ".swap" };
        const char *last;

        if (path[0] != '/' || path[1] == '\0')
                return NULL;
        for (const char *c = path + 1;; c = last + 1) {
                const char *end = strchr(c, '/');
                size_t len = end ? (size_t) (end - c) : strlen(c);

                last = c + len;
                if (len == 0)
                        return NULL;
                if (end) {
                        if (!has_suffix(c, len, ".slice"))
                                return NULL; /* a unit's own subtree, or not systemd's */
                        continue;
                }
                for (size_t i = 0; i < sizeof unit_types / sizeof unit_types[0]; i++)
                        if (has_suffix(c, len, unit_types[i]))
                                return c;
                return NULL;
        }
}

const char *cgroup_path_unit(const char *path) {
        const char *b = strrchr(path, '/');

        b = b ? b + 1 : path;
        for (const char *const *s = (const char *const[]){ ".service", ".scope", ".slice", NULL }; *s; s++)
                if (has_suffix(b, strlen(b), *s))
                        return b;
        return NULL;
}

/* Depth-first below root + rel through *.slice directories only; counts matches, keeps the first. */
static int find_unit_below(const char *root, const char *rel, unsigned depth, const char *unit, char *buf,
                           size_t len, unsigned *n_found) {
        _cleanup_free_ char *dir = NULL;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (depth > 16)
                return 0;
        if (asprintf(&dir, "%s%s", root, rel) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return depth == 0 ? -errno : 0; /* a slice gone meanwhile */
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *path = NULL;

                if (!is_visible_dir(de))
                        continue;
                if (asprintf(&path, "%s/%s", rel, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (strcmp(de->d_name, unit) == 0) {
                        if ((*n_found)++ == 0 && snprintf(buf, len, "%s", path) >= (int) len)
                                r = -ENAMETOOLONG;
                } else if (has_suffix(de->d_name, strlen(de->d_name), ".slice"))
                        r = find_unit_below(root, path, depth + 1, unit, buf, len, n_found);
        }
        closedir(d);
        return r;
}

int cgroup_find_unit(const char *root, const char *unit, char *buf, size_t len) {
        unsigned n = 0;
        int r;

        if (!cgroup_path_unit(unit) || strchr(unit, '/'))
                return -EINVAL;
        r = find_unit_below(root, "", 0, unit, buf, len, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        return n == 1 ? 0 : -ENOTUNIQ;
}

static bool tree_find(const char *dir, const char *rel, unsigned depth, unsigned max_depth, CgroupMatch match,
                      const void *userdata, char *buf, size_t len) {
        struct dirent *de;
        bool found = false;
        DIR *d;

        if (depth > max_depth || !(d = opendir(dir)))
                return false;
        while (!found && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *r = NULL;

                if (!is_visible_dir(de))
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0 || asprintf(&r, "%s/%s", rel, de->d_name) < 0)
                        break;
                if (match(de, userdata) && strlen(r) < len) {
                        memcpy(buf, r, strlen(r) + 1);
                        found = true;
                } else
                        found = tree_find(p, r, depth + 1, max_depth, match, userdata, buf, len);
        }
        closedir(d);
        return found;
}

bool cgroup_tree_find(const char *root, unsigned max_depth, CgroupMatch match, const void *userdata, char *buf,
                      size_t len) {
        return tree_find(root, "", 0, max_depth, match, userdata, buf, len);
}

void cgroup_collect_procs(const char *dir, unsigned depth, pid_t **pids, size_t *n) {
        _cleanup_free_ char *p = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        DIR *d;
        int pid;

        if (asprintf(&p, "%s/cgroup.procs", dir) < 0)
                return;
        f = fopen(p, "re");
        while (f && *n < CGROUP_PROCS_MAX && fscanf(f, "%d", &pid) == 1) {
                pid_t *np = realloc(*pids, (*n + 1) * sizeof *np);
                if (!np)
                        return;
                *pids = np;
                (*pids)[(*n)++] = pid;
        }
        if (depth == 0 || !(d = opendir(dir)))
                return;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *sub = NULL;
                if (!is_visible_dir(de))
                        continue;
                if (asprintf(&sub, "%s/%s", dir, de->d_name) >= 0)
                        cgroup_collect_procs(sub, depth - 1, pids, n);
        }
        closedir(d);
}
