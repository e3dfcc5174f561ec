/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared between bpf/guard.bpf.c and the daemon: what the BPF-LSM guard
 * denied, and the keys of its maps.
 */
#ifndef SPMD_GUARD_H
#define SPMD_GUARD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum spmd_guard_what {
        SPMD_GUARD_PROCS = 0,       /* cgroup.procs / cgroup.threads: moving tasks into a cgroup */
        SPMD_GUARD_CPUSET_MEMS,     /* cpuset.mems of a cgroup that holds the wall */
        SPMD_GUARD_SUBTREE_CONTROL, /* cgroup.subtree_control where the wall depends on it */
        SPMD_GUARD_MOVEMEMORY,      /* migrate_pages/move_pages on a granted task */
        SPMD_GUARD_MAX,
};

/* A trusted executable: the kernel's device number of its filesystem and its inode. */
struct spmd_exe_key {
        __u64 dev; /* kernel dev_t: major << 20 | minor */
        __u64 ino;
};

struct spmd_guard_event {
        __u64 ts_ns;
        __u64 cgroup_id;        /* the caller's cgroup */
        __u64 target_cgroup_id; /* the cgroup whose file was opened, or the target task's cgroup */
        __u32 pid;
        __u32 tgid;
        __u32 uid;
        __u32 what;             /* enum spmd_guard_what */
        __s32 target_pid;       /* SPMD_GUARD_MOVEMEMORY */
        __u32 pad;
        char comm[16];
};

#endif
