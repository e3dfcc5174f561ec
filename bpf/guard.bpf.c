// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF-LSM guards for the cpuset wall. The wall itself is the kernel's: a
 * task whose cpuset excludes the SPM nodes is refused on every mempolicy
 * and migration route. What breaks it is a privileged task stepping around
 * it, and these hooks stop untrusted ones (anything but spmd, PID 1 and the
 * configured TrustedExecutable=s).
 *
 * The rule is about the destination, read from the kernel's own state: an
 * untrusted task may not come to run in a cgroup whose effective cpuset.mems
 * includes an SPM node (the root, a cgroup SPM nodes pass through, a granted
 * cgroup, a cgroup made since spmd last walled, or one made while spmd is
 * down), unless it already sits inside that cgroup's grant. The SPM nodes
 * and the grants are in pinned maps, so the rule holds while spmd is not
 * running. Every way in that the kernel has (kernel/cgroup/cgroup.c):
 *
 *   - a write to cgroup.procs / cgroup.threads, on any cgroup2 mount:
 *     lsm/file_open sees the file opened for writing, once, before any
 *     write (also for io_uring and splice, which write through the file);
 *   - clone3(CLONE_INTO_CGROUP) with a cgroup directory fd (O_PATH too, so
 *     no file_open): cgroup_css_set_fork() first asks inode_permission() for
 *     MAY_WRITE on the destination's cgroup.procs. lsm/task_alloc marks the
 *     task as cloning into a cgroup, and lsm/inode_permission judges the next
 *     such check, which is the destination's (the common ancestor's check
 *     follows it).
 *   - fork without CLONE_INTO_CGROUP stays in the parent's cgroup; kernel
 *     helpers (cgroup_attach_task_all, io workers, vhost) join the cgroup of
 *     the task they serve. Usermode helpers started by the kernel (core
 *     dump pipes, modprobe) run in the root cgroup: root's kernel settings,
 *     outside this guard (the observer reports their placement calls).
 *
 * Keeping the wall as it is:
 *   - cpuset.mems of a cgroup whose parent SPM nodes reach (it holds the
 *     wall), and cgroup.subtree_control of a cgroup SPM nodes reach
 *     ("-cpuset" there would drop its children's walls);
 *
 * Keeping the guard itself (it outlives spmd through its pins):
 *   - bpffs: spmd's pin directories and pins cannot be opened for writing
 *     (which unlink, create and rmdir inside them need, and bpf_obj_get of a
 *     writable map or link), renamed, or their bpffs unmounted;
 *   - bpf(2) *_GET_FD_BY_ID: no writable fd of spmd's maps, no fd of its
 *     links (which could detach them). Programs and read-only map fds stay
 *     visible to bpftool.
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
#include "spmd/observe.h"

#define EPERM               1
#define FMODE_WRITE         0x2
#define MAY_WRITE           0x2
#define CGROUP2_SUPER_MAGIC 0x63677270
#define BPF_FS_MAGIC        0xcafe4a11
#define CLONE_INTO_CGROUP   0x200000000ULL
#define MAX_LEVELS          32

char LICENSE[] SEC("license") = "GPL";

/* spmd's own process: its tgid and start (/proc/PID/stat's starttime, clock ticks), so a reused pid is not it */
const volatile __u32 spmd_tgid = 0;
const volatile __u64 spmd_start_ticks = 0;
const volatile __u64 ns_per_tick = 10000000;

/* cgroup id -> 1: cgroups that hold a grant (their subtree is granted too) */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4096);
        __type(key, __u64);
        __type(value, __u8);
} granted_cgroups SEC(".maps");

/* Word i of the SPM node mask. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, SPMD_BPF_MASK_WORDS);
        __type(key, __u32);
        __type(value, __u64);
} spm_nodes SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, struct spmd_exe_key);
        __type(value, __u8);
} trusted_exes SEC(".maps");

/* spmd's pin directories and pins, and (ino 0) the bpffs they are on */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, struct spmd_exe_key);
        __type(value, __u8);
} protected_inodes SEC(".maps");

/* spmd's maps and links: enum spmd_bpf_kind << 32 | id */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, __u64);
        __type(value, __u8);
} protected_ids SEC(".maps");

/* set between lsm/task_alloc of a CLONE_INTO_CGROUP clone and its destination's permission check */
struct {
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, __u8);
} cloning_into SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SPMD_GUARD_COUNT_SLOTS);
        __type(key, __u32);
        __type(value, __u64);
} deny_count SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* kernfs_node.parent became __parent in 6.15 */
struct kernfs_node___pre615 {
        struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn) {
        struct kernfs_node___pre615 *old = (void *) kn;

        if (bpf_core_field_exists(old->parent))
                return BPF_CORE_READ(old, parent);
        return BPF_CORE_READ(kn, __parent);
}

static __always_inline bool is_granted(__u64 id) {
        return bpf_map_lookup_elem(&granted_cgroups, &id) != NULL;
}

static __always_inline struct cgroup *cgroup_parent(struct cgroup *cg) {
        return (struct cgroup *) BPF_CORE_READ(cg, self.parent); /* self is struct cgroup's first member */
}

/* The id of the nearest granted cgroup at or above cg, 0 if none. */
static __always_inline __u64 cgroup_grant(struct cgroup *cg) {
        for (int i = 0; i < MAX_LEVELS && cg; i++) {
                __u64 id = BPF_CORE_READ(cg, kn, id);
                if (is_granted(id))
                        return id;
                cg = cgroup_parent(cg);
        }
        return 0;
}

/* Is cg the cgroup id, or below it? */
static __always_inline bool cgroup_within(struct cgroup *cg, __u64 id) {
        for (int i = 0; i < MAX_LEVELS && cg; i++) {
                if (BPF_CORE_READ(cg, kn, id) == id)
                        return true;
                cg = cgroup_parent(cg);
        }
        return false;
}

/*
 * Does cg's effective cpuset.mems include an SPM node? The kernel's own
 * answer: the cpuset of cg, or of its nearest ancestor with the controller
 * enabled (the root's holds every node with memory).
 */
static __always_inline bool cgroup_reaches_spm(struct cgroup *cg) {
        int ssid = bpf_core_enum_value(enum cgroup_subsys_id, cpuset_cgrp_id);
        struct cgroup_subsys_state *css = NULL;
        const unsigned long *bits;
        struct cpuset *cs;
        __u32 size;

        for (int i = 0; i < MAX_LEVELS && cg && !css; i++) {
                struct cgroup_subsys_state **subsys = &cg->subsys[0];

                if (ssid < 0 || ssid >= 16 ||
                    bpf_probe_read_kernel(&css, sizeof(css), (void *) subsys + ssid * sizeof(css)) < 0)
                        return true; /* cannot tell: judge it as reaching */
                if (!css)
                        cg = cgroup_parent(cg);
        }
        if (!css)
                return true;
        cs = (struct cpuset *) css; /* css is struct cpuset's first member */
        bits = (const unsigned long *) &cs->effective_mems.bits[0];
        size = bpf_core_field_size(cs->effective_mems);
        for (__u32 i = 0; i < SPMD_BPF_MASK_WORDS; i++) {
                __u64 word = 0, *spm;
                __u32 key = i;

                if (i * 8 >= size)
                        break;
                spm = bpf_map_lookup_elem(&spm_nodes, &key);
                if (!spm || !*spm)
                        continue;
                if (bpf_probe_read_kernel(&word, sizeof(word), &bits[i]) < 0)
                        return true;
                if (word & *spm)
                        return true;
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
        __u8 *how;

        if (tgid == 1)
                return true;
        if (tgid == spmd_tgid && BPF_CORE_READ(t, group_leader, start_boottime) / ns_per_tick == spmd_start_ticks)
                return true;
        ino = BPF_CORE_READ(t, mm, exe_file, f_inode);
        if (!ino)
                return false; /* kernel threads have no mm; they do not write cgroupfs */
        key.dev = BPF_CORE_READ(ino, i_sb, s_dev);
        key.ino = BPF_CORE_READ(ino, i_ino);
        how = bpf_map_lookup_elem(&trusted_exes, &key);
        if (!how)
                return false;
        /* PID 1's executable on a systemd host: its forked children place themselves in their unit's
         * cgroup while still root, before they drop privileges and exec the service */
        return *how != SPMD_TRUST_ROOT_ONLY || (__u32) bpf_get_current_uid_gid() == 0;
}

static __always_inline int deny(__u32 what, __u64 target, __s32 target_pid) {
        struct spmd_guard_event *e;
        __u32 key = what;
        __u64 *n = bpf_map_lookup_elem(&deny_count, &key);

        if (n)
                *n += 1;
        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (e) {
                e->ts_ns = bpf_ktime_get_ns();
                e->cgroup_id = bpf_get_current_cgroup_id();
                e->target_cgroup_id = target;
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

/*
 * May the caller come to run in dst (or, for what == CPUSET_MEMS/SUBTREE_CONTROL,
 * change what dst passes on)? Not where SPM nodes reach, unless it already sits
 * inside dst's grant or is trusted.
 */
static __always_inline int judge_destination(struct cgroup *dst, __u32 what, __u64 report_id) {
        __u64 grant;

        if (!dst || !cgroup_reaches_spm(dst))
                return 0;
        grant = cgroup_grant(dst);
        if (grant && cgroup_within(task_cgroup(bpf_get_current_task_btf()), grant))
                return 0;
        if (caller_is_trusted())
                return 0;
        return deny(what, report_id ? report_id : BPF_CORE_READ(dst, kn, id), 0);
}

/* "cgroup.procs" and friends: compare the kernfs name with a short literal. */
static __always_inline bool name_is(const char *name, const char *lit, int len) {
        char buf[24] = {};

        if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != len + 1)
                return false;
        for (int i = 0; i < len && i < (int) sizeof(buf); i++)
                if (buf[i] != lit[i])
                        return false;
        return true;
}

/* The cgroup whose directory holds the cgroupfs file kn. */
static __always_inline struct cgroup *file_cgroup(struct kernfs_node *kn) {
        struct kernfs_node *dir = kn_parent(kn);

        return dir ? (struct cgroup *) BPF_CORE_READ(dir, priv) : NULL;
}

SEC("lsm/file_open")
int BPF_PROG(guard_file_open, struct file *file, int ret) {
        struct kernfs_node *kn;
        const char *name;
        struct cgroup *cg;

        if (ret)
                return ret;
        if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
                return 0;
        if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != CGROUP2_SUPER_MAGIC)
                return 0;
        kn = (struct kernfs_node *) BPF_CORE_READ(file, f_inode, i_private);
        if (!kn)
                return 0;
        name = BPF_CORE_READ(kn, name);
        cg = file_cgroup(kn);
        if (name_is(name, "cgroup.procs", 12) || name_is(name, "cgroup.threads", 14))
                return judge_destination(cg, SPMD_GUARD_PROCS, 0);
        /* the wall on cg is its own cpuset.mems, judged by what its parent passes on */
        if (name_is(name, "cpuset.mems", 11))
                return cg ? judge_destination(cgroup_parent(cg), SPMD_GUARD_CPUSET_MEMS, BPF_CORE_READ(cg, kn, id))
                          : 0;
        if (name_is(name, "cgroup.subtree_control", 22))
                return judge_destination(cg, SPMD_GUARD_SUBTREE_CONTROL, 0);
        return 0;
}

SEC("lsm/task_alloc")
int BPF_PROG(guard_task_alloc, struct task_struct *task, unsigned long clone_flags, int ret) {
        __u8 *flag;

        if (ret)
                return ret;
        if (!(clone_flags & CLONE_INTO_CGROUP)) {
                /* a clone that failed before its permission check must not leave the mark behind */
                flag = bpf_task_storage_get(&cloning_into, bpf_get_current_task_btf(), 0, 0);
                if (flag)
                        *flag = 0;
                return 0;
        }
        flag = bpf_task_storage_get(&cloning_into, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (flag)
                *flag = 1;
        return 0;
}

static __always_inline bool inode_protected(struct inode *inode) {
        struct spmd_exe_key key = {};

        if (!inode)
                return false;
        key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
        key.ino = BPF_CORE_READ(inode, i_ino);
        return bpf_map_lookup_elem(&protected_inodes, &key) != NULL;
}

SEC("lsm/inode_permission")
int BPF_PROG(guard_inode_permission, struct inode *inode, int mask, int ret) {
        unsigned long magic;

        if (ret)
                return ret;
        /* the path walk asks for MAY_EXEC on every directory: out at once */
        if (!(mask & MAY_WRITE))
                return 0;
        magic = BPF_CORE_READ(inode, i_sb, s_magic);
        if (magic == CGROUP2_SUPER_MAGIC) {
                __u8 *flag = bpf_task_storage_get(&cloning_into, bpf_get_current_task_btf(), 0, 0);
                struct kernfs_node *kn;

                if (!flag || !*flag)
                        return 0;
                *flag = 0; /* the destination's check comes first; the common ancestor's is not judged */
                kn = (struct kernfs_node *) BPF_CORE_READ(inode, i_private);
                if (!kn || !name_is(BPF_CORE_READ(kn, name), "cgroup.procs", 12))
                        return 0;
                return judge_destination(file_cgroup(kn), SPMD_GUARD_CLONE_INTO, 0);
        }
        if (magic == BPF_FS_MAGIC && inode_protected(inode) && !caller_is_trusted())
                return deny(SPMD_GUARD_PINS, BPF_CORE_READ(inode, i_ino), SPMD_PIN_WRITE);
        return 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(guard_inode_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
             struct dentry *new_dentry, int ret) {
        struct inode *old = BPF_CORE_READ(old_dentry, d_inode), *over = BPF_CORE_READ(new_dentry, d_inode);

        if (ret)
                return ret;
        if (BPF_CORE_READ(old_dir, i_sb, s_magic) != BPF_FS_MAGIC)
                return 0;
        if ((inode_protected(old) || inode_protected(over)) && !caller_is_trusted())
                return deny(SPMD_GUARD_PINS, BPF_CORE_READ(old, i_ino), SPMD_PIN_RENAME);
        return 0;
}

SEC("lsm/sb_umount")
int BPF_PROG(guard_sb_umount, struct vfsmount *mnt, int flags, int ret) {
        struct spmd_exe_key key = {};

        if (ret)
                return ret;
        if (BPF_CORE_READ(mnt, mnt_sb, s_magic) != BPF_FS_MAGIC)
                return 0;
        key.dev = BPF_CORE_READ(mnt, mnt_sb, s_dev);
        key.ino = 0;
        if (bpf_map_lookup_elem(&protected_inodes, &key) && !caller_is_trusted())
                return deny(SPMD_GUARD_PINS, 0, SPMD_PIN_UMOUNT);
        return 0;
}

/* No "ret" argument here: kernels from 6.14 on pass a fourth argument (bool kernel) before it. */
SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr) {
        __u64 key;
        __u32 id;

        if (cmd == BPF_MAP_GET_FD_BY_ID) {
                /* read-only map fds stay available (bpftool map dump) */
                if (BPF_CORE_READ(attr, open_flags) & BPF_F_RDONLY)
                        return 0;
                key = (__u64) SPMD_BPF_KIND_MAP << 32;
        } else if (cmd == BPF_LINK_GET_FD_BY_ID)
                key = (__u64) SPMD_BPF_KIND_LINK << 32;
        else
                return 0;
        id = BPF_CORE_READ(attr, map_id); /* map_id and link_id share the slot */
        key |= id;
        if (bpf_map_lookup_elem(&protected_ids, &key) && !caller_is_trusted())
                return deny(SPMD_GUARD_PINS, id, SPMD_PIN_BY_ID);
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
