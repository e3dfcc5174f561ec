/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the cpuset wall should look like, from paths and grants only. */
#include <string.h>

#include "cpuset.h"

bool cgroup_path_covers(const char *a, const char *b) {
        size_t n = strlen(a);

        return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

static bool has_suffix(const char *s, size_t len, const char *suffix) {
        size_t n = strlen(suffix);
        return len > n && memcmp(s + len - n, suffix, n) == 0;
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

NodeMask cpuset_need(const CpusetInput *in, const char *path) {
        NodeMask need = {};

        for (size_t i = 0; i < in->n_grants; i++) {
                const CpusetGrant *g = &in->grants[i];
                if (cgroup_path_covers(g->cgroup, path) || cgroup_path_covers(path, g->cgroup))
                        need = nodemask_or(&need, &g->nodes);
        }
        return nodemask_and(&need, &in->spm);
}

/* Nodes granted to path itself, through a grant on it or above it. */
static NodeMask covered(const CpusetInput *in, const char *path) {
        NodeMask m = {};

        for (size_t i = 0; i < in->n_grants; i++)
                if (cgroup_path_covers(in->grants[i].cgroup, path))
                        m = nodemask_or(&m, &in->grants[i].nodes);
        return nodemask_and(&m, &in->spm);
}

NodeMask cpuset_open_for_children(const CpusetInput *in, const char *path) {
        if (path[0] == '\0')
                return in->spm; /* the root cgroup has no cpuset.mems: everything is open */
        return cpuset_need(in, path);
}

bool cpuset_is_gateway(const CpusetInput *in, const char *path) {
        NodeMask open = cpuset_open_for_children(in, path), cov = covered(in, path);

        /* Children inherit what is open here; those not on a grant's path must not see more than cov. */
        return !nodemask_subset(&open, &cov);
}

bool cpuset_want(const CpusetInput *in, const char *path, const NodeMask *current, const NodeMask *parent_open,
                 NodeMask *ret) {
        return cpuset_want_need(in, cpuset_need(in, path), current, parent_open, ret);
}

bool cpuset_want_need(const CpusetInput *in, NodeMask need, const NodeMask *current, const NodeMask *parent_open,
                      NodeMask *ret) {
        NodeMask base, want;

        if (nodemask_empty(current) && nodemask_subset(parent_open, &need))
                return false; /* inheriting gives exactly what it needs */

        /* Keep an explicit choice of ordinary nodes; drop SPM nodes it is not granted. */
        base = nodemask_empty(current) ? in->sysram : nodemask_andnot(current, &in->spm);
        if (nodemask_empty(&base))
                base = in->sysram;
        else if (nodemask_subset(&base, &in->private_nodes))
                base = nodemask_or(&base, &in->sysram); /* the kernel keeps a public node in every set */
        need = nodemask_and(&need, &in->usable); /* the kernel refuses nodes without memory */
        want = nodemask_or(&base, &need);
        if (nodemask_same(&want, current))
                return false;
        *ret = want;
        return true;
}
