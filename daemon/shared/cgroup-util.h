/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup v2 paths ("/a/b", relative to the cgroup2 mount; "" is the root) and finding cgroups in
 * the tree: what the wall, the broker and spmctl all need.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where the cgroup2 hierarchy spmd works on is mounted. */
#define CGROUP_ROOT "/sys/fs/cgroup"

/* true if a is b or an ancestor of b ("/a" of "/a/b", not of "/ab"). "" is the root. */
bool cgroup_path_covers(const char *a, const char *b);

/*
 * The systemd unit whose cgroup path is, when the service manager owns it: systemd puts every unit
 * directly below a slice, so each component but the last is a slice and the last a unit
 * ("/system.slice/db.service" -> "db.service", "/init.scope" -> "init.scope"). NULL otherwise: a
 * cgroup someone made by hand ("/jobs"), or anything below a unit (a delegated subtree belongs to
 * whoever it was delegated to, "/user.slice/user-1000.slice/user@1000.service/app.slice").
 */
const char *cgroup_systemd_unit(const char *path);

/* The unit a cgroup path stands for: its last component if that ends in .service, .scope or .slice. */
const char *cgroup_path_unit(const char *path);

/*
 * The cgroup of a unit where systemd cannot be asked (a host it does not manage): a directory
 * named unit directly below root or below a *.slice directory reached through *.slice
 * directories only. systemd delegates (Delegate=) only services and scopes, so a directory of
 * that name inside one (a container's tree, a user's manager) never stands for the unit.
 * 0 with the path relative to root in buf; -ENOENT none, -ENOTUNIQ more than one,
 * -ENAMETOOLONG, -EINVAL (not a unit name).
 */
int cgroup_find_unit(const char *root, const char *unit, char *buf, size_t len);

struct dirent;
typedef bool (*CgroupMatch)(const struct dirent *de, const void *userdata);
/* Depth-first below root (at most max_depth levels down): the first cgroup whose directory entry
 * match() accepts. Its path relative to root ("/a/b") goes to buf; a path longer than buf is not
 * taken for a match (false, and the search goes on). */
bool cgroup_tree_find(const char *root, unsigned max_depth, CgroupMatch match, const void *userdata, char *buf,
                      size_t len);

/* The processes of the cgroup at dir (a directory under the cgroup2 mount) and of its subtree, depth
 * levels down, appended to *pids (at most CGROUP_PROCS_MAX in all). */
#define CGROUP_PROCS_DEPTH 16
#define CGROUP_PROCS_MAX 65536
void cgroup_collect_procs(const char *dir, unsigned depth, pid_t **pids, size_t *n);
