/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared between bpf/observe.bpf.c and the daemon: the events the observer
 * sends through its ring buffer and the layout of its maps.
 */
#ifndef SPMD_OBSERVE_H
#define SPMD_OBSERVE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Node masks are tracked for this many nodes (the kernel's usual MAX_NUMNODES). */
#define SPMD_BPF_MAX_NODES   1024
#define SPMD_BPF_MASK_WORDS  (SPMD_BPF_MAX_NODES / 64)
/* Nodes reported in an event: the first 256 are plenty for any machine we know. */
#define SPMD_EVENT_MASK_WORDS 4
/* move_pages(): how many entries of the nodes[] array the observer inspects. */
#define SPMD_MOVE_PAGES_SCAN 64

enum spmd_syscall {
        SPMD_SYS_MBIND = 0,
        SPMD_SYS_SET_MEMPOLICY,
        SPMD_SYS_SET_MEMPOLICY_HOME_NODE,
        SPMD_SYS_MOVE_PAGES,
        SPMD_SYS_MIGRATE_PAGES,
        SPMD_SYS_MAX,
};

struct spmd_violation_event {
        __u64 ts_ns;
        __u64 cgroup_id;
        __u32 pid;          /* thread id */
        __u32 tgid;
        __u32 uid;
        __u32 syscall;      /* enum spmd_syscall */
        __s32 target_pid;   /* move_pages/migrate_pages: the process acted on (0 = self) */
        __u32 mode;         /* mempolicy mode (mbind/set_mempolicy) or MPOL_MF_* flags */
        __u32 killed;       /* 1 when ViolationAction=kill sent SIGKILL */
        __u32 pad;
        __u64 nodes[SPMD_EVENT_MASK_WORDS]; /* requested nodes that are SPM nodes */
        char comm[16];
};

#endif
