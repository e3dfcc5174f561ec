/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the cpuset wall should look like, from paths and grants only. */
#include <string.h>

#include "cpuset-plan.h"

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

/* The SPM nodes a cgroup reaches with cpuset.mems CURRENT below a parent letting PARENT_OPEN through. */
static NodeMask reaches(const CpusetInput *in, const NodeMask *current, const NodeMask *parent_open) {
        return nodemask_and(nodemask_empty(current) ? parent_open : current, &in->spm);
}

bool cpuset_write_narrows(const CpusetInput *in, const NodeMask *current, const NodeMask *parent_open,
                          const NodeMask *want) {
        NodeMask before = reaches(in, current, parent_open);

        return !nodemask_subset(&before, want);
}

bool cpuset_write_widens(const CpusetInput *in, const NodeMask *current, const NodeMask *parent_open,
                         const NodeMask *want) {
        NodeMask before = reaches(in, current, parent_open), after = nodemask_and(want, &in->spm);

        return !nodemask_subset(&after, &before);
}

bool cpuset_write_must_follow(const char *path, const char *pending) {
        return cgroup_path_covers(path, pending);
}

bool cpuset_write_cancelled_by(const char *path, bool widens, const char *failed) {
        return widens && strcmp(path, failed) != 0 && cgroup_path_covers(path, failed);
}
