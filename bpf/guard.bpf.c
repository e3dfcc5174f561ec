// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF-LSM guards for the cpuset wall. The wall itself is the kernel's: a
 * task whose cpuset excludes the SPM nodes is refused on every mempolicy
 * and migration route. What breaks it is a privileged task stepping around
 * it, and these hooks stop untrusted ones (anything but spmd, PID 1 and the
 * configured TrustedExecutable=s):
 *
 * lsm/file_open on cgroup2 files opened for writing, because every way of
 * changing the wall goes through a write to one of a few files and
 * file_open sees the file, the opener and the access mode once, before any
 * write (file_permission would run on every write() and is not called for
 * some write paths, e.g. splice):
 *   - cgroup.procs / cgroup.threads of the root cgroup, of a cgroup SPM
 *     nodes pass through ("gateway"), or of a granted cgroup or one below it
 *     (unless the opener is already inside that grant): no escaping the wall
 *     by moving oneself or others;
 *   - cpuset.mems of a cgroup directly below a gateway: these hold the wall;
 *   - cgroup.subtree_control of a gateway: "-cpuset" there would drop the
 *     cpuset.mems files of every child and with them the wall.
 *
 * lsm/task_movememory: migrate_pages/move_pages on another task that sits
 * in a granted cgroup, by a caller outside that grant: its SPM pages are
 * not others' to move. (Moving a walled task's pages onto an SPM node is
 * already refused by the kernel: the target's cpuset excludes it.)
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "spmd/guard.h"

#define EPERM               1
#define FMODE_WRITE         0x2
#define CGROUP2_SUPER_MAGIC 0x63677270
#define MAX_LEVELS          32

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 spmd_tgid = 0;

/* cgroup id -> 1: cgroups that hold a grant (their subtree is granted too) */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4096);
        __type(key, __u64);
        __type(value, __u8);
} granted_cgroups SEC(".maps");

/* cgroup id -> 1: the root cgroup and every cgroup SPM nodes pass through to some children */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4096);
        __type(key, __u64);
        __type(value, __u8);
} gateways SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, struct spmd_exe_key);
        __type(value, __u8);
} trusted_exes SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SPMD_GUARD_MAX);
        __type(key, __u32);
        __type(value, __u64);
} deny_count SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline bool is_granted(__u64 id) {
        return bpf_map_lookup_elem(&granted_cgroups, &id) != NULL;
}

/* The id of the nearest granted cgroup at or above cg, 0 if none. */
static __always_inline __u64 cgroup_grant(struct cgroup *cg) {
        for (int i = 0; i < MAX_LEVELS && cg; i++) {
                __u64 id = BPF_CORE_READ(cg, kn, id);
                if (is_granted(id))
                        return id;
                cg = (struct cgroup *) BPF_CORE_READ(cg, self.parent); /* self is struct cgroup's first member */
        }
        return 0;
}

/* Is cg the cgroup id, or below it? */
static __always_inline bool cgroup_within(struct cgroup *cg, __u64 id) {
        for (int i = 0; i < MAX_LEVELS && cg; i++) {
                if (BPF_CORE_READ(cg, kn, id) == id)
                        return true;
                cg = (struct cgroup *) BPF_CORE_READ(cg, self.parent);
        }
        return false;
}

static __always_inline struct cgroup *task_cgroup(struct task_struct *t) {
        return BPF_CORE_READ(t, cgroups, dfl_cgrp);
}

static __always_inline bool caller_is_trusted(void) {
        struct task_struct *t = bpf_get_current_task_btf();
        struct spmd_exe_key key = {};
        __u32 tgid = bpf_get_current_pid_tgid() >> 32;
        struct inode *ino;

        if (tgid == spmd_tgid || tgid == 1)
                return true;
        ino = BPF_CORE_READ(t, mm, exe_file, f_inode);
        if (!ino)
                return false; /* kernel threads have no mm; they do not write cgroupfs */
        key.dev = BPF_CORE_READ(ino, i_sb, s_dev);
        key.ino = BPF_CORE_READ(ino, i_ino);
        return bpf_map_lookup_elem(&trusted_exes, &key) != NULL;
}

static __always_inline int deny(__u32 what, __u64 target_cgroup, __s32 target_pid) {
        struct spmd_guard_event *e;
        __u32 key = what;
        __u64 *n = bpf_map_lookup_elem(&deny_count, &key);

        if (n)
                *n += 1;
        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (e) {
                e->ts_ns = bpf_ktime_get_ns();
                e->cgroup_id = bpf_get_current_cgroup_id();
                e->target_cgroup_id = target_cgroup;
                e->pid = (__u32) bpf_get_current_pid_tgid();
                e->tgid = bpf_get_current_pid_tgid() >> 32;
                e->uid = (__u32) bpf_get_current_uid_gid();
                e->what = what;
                e->target_pid = target_pid;
                e->pad = 0;
                bpf_get_current_comm(e->comm, sizeof(e->comm));
                bpf_ringbuf_submit(e, 0);
        }
        return -EPERM;
}

/* "cgroup.procs" and friends: compare the dentry name with a short literal. */
static __always_inline bool name_is(const char *name, const char *lit, int len) {
        char buf[24] = {};

        if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != len + 1)
                return false;
        for (int i = 0; i < len && i < (int) sizeof(buf); i++)
                if (buf[i] != lit[i])
                        return false;
        return true;
}

SEC("lsm/file_open")
int BPF_PROG(guard_file_open, struct file *file, int ret) {
        struct dentry *d, *dir, *pdir;
        const unsigned char *name;
        __u64 id, parent_id;

        if (ret)
                return ret;
        if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
                return 0;
        if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != CGROUP2_SUPER_MAGIC)
                return 0;

        d = BPF_CORE_READ(file, f_path.dentry);
        dir = BPF_CORE_READ(d, d_parent);
        pdir = BPF_CORE_READ(dir, d_parent);
        name = BPF_CORE_READ(d, d_name.name);
        id = BPF_CORE_READ(dir, d_inode, i_ino);           /* a cgroup2 directory's inode is its id */
        parent_id = pdir != dir ? BPF_CORE_READ(pdir, d_inode, i_ino) : 0;

        if (name_is((const char *) name, "cgroup.procs", 12) || name_is((const char *) name, "cgroup.threads", 14)) {
                bool gateway = bpf_map_lookup_elem(&gateways, &id) != NULL;
                bool into_grant = false;

                if (!gateway) {
                        /* the nearest granted cgroup at or above the destination, by its dentries */
                        struct dentry *x = dir;
                        __u64 grant = 0;

                        for (int i = 0; i < MAX_LEVELS; i++) {
                                __u64 xid = BPF_CORE_READ(x, d_inode, i_ino);
                                struct dentry *up = BPF_CORE_READ(x, d_parent);

                                if (is_granted(xid)) {
                                        grant = xid;
                                        break;
                                }
                                if (up == x)
                                        break;
                                x = up;
                        }
                        /* moving within a grant the caller already sits in is its own business */
                        into_grant = grant && !cgroup_within(task_cgroup(bpf_get_current_task_btf()), grant);
                }
                if ((gateway || into_grant) && !caller_is_trusted())
                        return deny(SPMD_GUARD_PROCS, id, 0);
                return 0;
        }
        if (name_is((const char *) name, "cpuset.mems", 11)) {
                if (parent_id && bpf_map_lookup_elem(&gateways, &parent_id) && !caller_is_trusted())
                        return deny(SPMD_GUARD_CPUSET_MEMS, id, 0);
                return 0;
        }
        if (name_is((const char *) name, "cgroup.subtree_control", 22)) {
                if (bpf_map_lookup_elem(&gateways, &id) && !caller_is_trusted())
                        return deny(SPMD_GUARD_SUBTREE_CONTROL, id, 0);
                return 0;
        }
        return 0;
}

SEC("lsm/task_movememory")
int BPF_PROG(guard_task_movememory, struct task_struct *p, int ret) {
        struct cgroup *target;
        __u64 grant;

        if (ret)
                return ret;
        target = task_cgroup(p);
        grant = cgroup_grant(target);
        if (!grant)
                return 0;
        if (cgroup_within(task_cgroup(bpf_get_current_task_btf()), grant) || caller_is_trusted())
                return 0;
        return deny(SPMD_GUARD_MOVEMEMORY, BPF_CORE_READ(target, kn, id), BPF_CORE_READ(p, tgid));
}
