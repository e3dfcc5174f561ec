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
        SPMD_GUARD_CPUSET_MEMS,     /* cpuset.mems of a cgroup whose parent SPM nodes reach */
        SPMD_GUARD_SUBTREE_CONTROL, /* cgroup.subtree_control of a cgroup SPM nodes reach */
        SPMD_GUARD_MOVEMEMORY,      /* migrate_pages/move_pages on a granted task */
        SPMD_GUARD_CLONE_INTO,      /* clone3(CLONE_INTO_CGROUP) into a cgroup SPM nodes reach */
        SPMD_GUARD_PINS,            /* spmd's pinned BPF objects: removed, renamed, opened to write, unmounted */
        SPMD_GUARD_MAX,
};

/* trusted_exes values: how a task running that executable is trusted */
#define SPMD_TRUST_ALWAYS 1    /* spmd itself, TrustedExecutable= */
#define SPMD_TRUST_ROOT_ONLY 2 /* PID 1's executable on a systemd host: only while the task runs as uid 0 */

/* deny_count's size: fixed, so that pinned counters fit later versions with more kinds */
#define SPMD_GUARD_COUNT_SLOTS 16

/* What was done to spmd's pins (spmd_guard_event.target_pid for SPMD_GUARD_PINS). */
enum spmd_guard_pin_op {
        SPMD_PIN_WRITE = 0, /* a pin or pin directory opened for writing: unlink, create, rmdir inside, obj_get */
        SPMD_PIN_RENAME,    /* a pin or pin directory renamed, or another renamed over it */
        SPMD_PIN_UMOUNT,    /* the bpffs that holds the pins unmounted */
        SPMD_PIN_BY_ID,     /* a writable fd of one of spmd's maps or links by id (bpf(2) *_GET_FD_BY_ID) */
        SPMD_PIN_OP_MAX,
};

/* A trusted executable: the kernel's device number of its filesystem and its inode. */
struct spmd_exe_key {
        __u64 dev; /* kernel dev_t: major << 20 | minor */
        __u64 ino;
};

/* A protected bpffs inode (ino 0: the whole filesystem, for umount). Same layout as spmd_exe_key. */
#define spmd_inode_key spmd_exe_key

/* A protected BPF object: kind << 32 | id. */
enum spmd_bpf_kind {
        SPMD_BPF_KIND_PROG = 1,
        SPMD_BPF_KIND_MAP = 2,
        SPMD_BPF_KIND_LINK = 3,
};

struct spmd_guard_event {
        __u64 ts_ns;
        __u64 cgroup_id;        /* the caller's cgroup */
        __u64 target_cgroup_id; /* the cgroup whose file was opened or that a clone went into, the target
                                 * task's cgroup; for SPMD_GUARD_PINS the inode or object id */
        __u32 pid;
        __u32 tgid;
        __u32 uid;
        __u32 what;             /* enum spmd_guard_what */
        __s32 target_pid;       /* SPMD_GUARD_MOVEMEMORY: the target; SPMD_GUARD_PINS: enum spmd_guard_pin_op */
        __u32 pad;
        char comm[16];
};

#endif
