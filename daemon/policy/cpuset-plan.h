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
        const char *cgroup; /* "/inference.slice", relative to the cgroup2 mount */
        NodeMask nodes;
        const char *label;  /* for logs: "[Grant] inference" */
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

/*
 * The order of writes. Writing cpuset.mems so that a cgroup reaches fewer SPM nodes is slow: the
 * kernel migrates the cgroup's pages off them inside the write (cpuset_write_resmask() waits for
 * cpuset_migrate_mm_wq), seconds for a large cgroup. Such writes go to a thread of their own, in
 * the order they were decided; the rules below keep the walls and grants what the order decided.
 */
/* Does writing WANT over CURRENT (empty: it inherits PARENT_OPEN) take SPM nodes from what the cgroup
 * reaches? */
bool cpuset_write_narrows(const CpusetInput *in, const NodeMask *current, const NodeMask *parent_open,
                          const NodeMask *want);
/* Does it give the cgroup SPM nodes it does not reach now? */
bool cpuset_write_widens(const CpusetInput *in, const NodeMask *current, const NodeMask *parent_open,
                         const NodeMask *want);
/*
 * Must a write to PATH follow a write to PENDING still waiting? When PENDING is PATH or below it: a
 * wall below must hold before PATH opens, and the last value written to a cgroup must be the last one
 * decided. Others may overtake it: writes to cgroups side by side, and to one below (which only walls
 * it sooner, or opens it below a parent that is open now).
 */
bool cpuset_write_must_follow(const char *path, const char *pending);
/* A write to FAILED failed: a later write that widens a cgroup above it (PATH) must not run, as
 * opening it would let FAILED's cgroup reach the SPM nodes (its ancestor is shut instead). */
bool cpuset_write_cancelled_by(const char *path, bool widens, const char *failed);
