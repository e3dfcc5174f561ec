/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the cpuset wall should look like, from paths and grants only (pure, unit-tested); cpuset.c
 * (enforce/) writes it. Why the wall is written where it is: cpuset.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup-util.h"
#include "nodemask.h"

typedef struct CpusetGrant {
        char *cgroup;  /* "/inference.slice", relative to the cgroup2 mount */
        NodeMask nodes;
        char *label;   /* for logs: "[Grant] inference" */
} CpusetGrant;

typedef struct CpusetInput {
        NodeMask sysram;    /* memory nodes every cgroup keeps: public nodes with memory that are not SPM */
        NodeMask spm;       /* SPM nodes: online, or about to be onlined */
        NodeMask usable;    /* nodes with memory now: cpuset.mems can only name these */
        NodeMask private_nodes; /* nodes the kernel calls private (SPM or not): a cpuset.mems of only these
                                 * is refused, so every set written keeps a public node */
        const CpusetGrant *grants;
        size_t n_grants;
} CpusetInput;

/* SPM nodes cgroup path must let through: grants on it, above it and below it. */
NodeMask cpuset_need(const CpusetInput *in, const char *path);
/* SPM nodes the children of path may see unless walled: all of them at the root. */
NodeMask cpuset_open_for_children(const CpusetInput *in, const char *path);
/* Does path sit above a grant that does not cover it, so its other children need walls? */
bool cpuset_is_gateway(const CpusetInput *in, const char *path);
/*
 * What cpuset.mems of path should be, given its current value (empty =
 * inherits its parent's) and what its parent lets through. Returns true and
 * sets *ret when it must be written.
 */
bool cpuset_want(const CpusetInput *in, const char *path, const NodeMask *current, const NodeMask *parent_open,
                 NodeMask *ret);
/* The same for a cgroup that needs NEED (empty: shut to every SPM node, as one without a grant is). */
bool cpuset_want_need(const CpusetInput *in, NodeMask need, const NodeMask *current, const NodeMask *parent_open,
                      NodeMask *ret);
