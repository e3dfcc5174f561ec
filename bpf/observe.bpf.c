// SPDX-License-Identifier: GPL-2.0-only
/*
 * Observe the mempolicy and page-migration syscalls whose node arguments
 * name an SPM node, from tasks whose cgroup holds no grant.
 *
 * This sees the call at syscall entry: the kernel may still refuse it (the
 * cpuset wall answers EINVAL/EACCES). ViolationAction=kill acts after the
 * fact in the same sense: SIGKILL is queued to a task that asked, whether or
 * not the kernel then honoured the call.
 *
 * Per-syscall tracepoints, never raw sys_enter: a catch-all sys_enter
 * program slows every syscall on the machine.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "spmd/observe.h"

#define SIGKILL 9

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 spmd_tgid = 0;
const volatile bool kill_on_violation = false;

/* Word i of the SPM node mask. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, SPMD_BPF_MASK_WORDS);
        __type(key, __u32);
        __type(value, __u64);
} spm_nodes SEC(".maps");

/* cgroup id -> 1 for every cgroup that holds a grant. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4096);
        __type(key, __u64);
        __type(value, __u8);
} granted_cgroups SEC(".maps");

/* Per syscall: attempts naming an SPM node from a cgroup without a grant. */
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SPMD_SYS_MAX);
        __type(key, __u32);
        __type(value, __u64);
} violation_count SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Deeper cgroups than this are judged by their ancestors down to this level. */
#define SPMD_MAX_CGROUP_LEVEL 32

/* spmd itself, and tasks in a granted cgroup or below one (a grant covers its subtree). */
static __always_inline bool caller_is_exempt(void) {
        __u64 own = bpf_get_current_cgroup_id();

        if ((bpf_get_current_pid_tgid() >> 32) == spmd_tgid)
                return true;
        if (bpf_map_lookup_elem(&granted_cgroups, &own))
                return true;
        /* level 0 is the root cgroup, which never holds a grant */
        for (int level = 1; level <= SPMD_MAX_CGROUP_LEVEL; level++) {
                __u64 id = bpf_get_current_ancestor_cgroup_id(level);

                if (!id || id == own)
                        break; /* reached the task's own cgroup, checked above */
                if (bpf_map_lookup_elem(&granted_cgroups, &id))
                        return true;
        }
        return false;
}

/* Word i of a user-space nodemask of nbits bits, with the bits beyond nbits cleared; false past its end. */
static __always_inline bool user_mask_word(const unsigned long *umask, __u64 nbits, __u32 i, __u64 *ret) {
        __u64 word = 0;

        if ((__u64) i * 64 >= nbits || bpf_probe_read_user(&word, sizeof(word), &umask[i]) < 0)
                return false;
        if (nbits - (__u64) i * 64 < 64)
                word &= (1ULL << (nbits - (__u64) i * 64)) - 1;
        *ret = word;
        return true;
}

/*
 * AND a user-space nodemask of nbits bits with the SPM mask; the first
 * SPMD_EVENT_MASK_WORDS words of the result go to *hit. Returns true if any
 * requested node is an SPM node.
 */
static __always_inline bool user_mask_hits(const unsigned long *umask, __u64 nbits, __u64 *hit) {
        bool any = false;

        if (!umask)
                return false;
        for (__u32 i = 0; i < SPMD_BPF_MASK_WORDS; i++) {
                __u64 word, *spm;
                __u32 key = i;

                if (!user_mask_word(umask, nbits, i, &word))
                        break;
                spm = bpf_map_lookup_elem(&spm_nodes, &key);
                if (!spm || !(word & *spm))
                        continue;
                any = true;
                if (i < SPMD_EVENT_MASK_WORDS)
                        hit[i] = word & *spm;
        }
        return any;
}

/* MPOL_PREFERRED keeps only the first node of its mask: is that an SPM node? */
static __always_inline bool user_mask_first_hits(const unsigned long *umask, __u64 nbits, __u64 *hit) {
        if (!umask)
                return false;
        for (__u32 i = 0; i < SPMD_BPF_MASK_WORDS; i++) {
                __u64 word, low, *spm;
                __u32 key = i;

                if (!user_mask_word(umask, nbits, i, &word))
                        break;
                if (!word)
                        continue;
                low = word & -word;
                spm = bpf_map_lookup_elem(&spm_nodes, &key);
                if (!spm || !(low & *spm))
                        return false;
                if (i < SPMD_EVENT_MASK_WORDS)
                        hit[i] = low;
                return true;
        }
        return false;
}

/*
 * MPOL_F_RELATIVE_NODES: bit n means the n-th node the caller's cpuset allows
 * (mpol_relative_nodemask(): the mask folded modulo the number of allowed
 * nodes, then mapped onto them). Computed over the first 64 nodes, which is
 * every machine this runs on; a relative mask beyond bit 63 is not followed.
 */
static __always_inline bool user_mask_relative_hits(const unsigned long *umask, __u64 nbits, __u64 *hit) {
        struct task_struct *t = bpf_get_current_task_btf();
        __u64 orig = 0, allowed, tmp = 0, res = 0, *spm;
        __u32 key = 0, w = 0, k = 0;

        if (!umask || !user_mask_word(umask, nbits, 0, &orig))
                return false;
        allowed = BPF_CORE_READ(t, mems_allowed.bits[0]);
        for (int n = 0; n < 64; n++)
                w += (allowed >> n) & 1;
        if (!w)
                return false;
        for (int m = 0; m < 64; m++)
                if ((orig >> m) & 1)
                        tmp |= 1ULL << (m % w);
        for (int n = 0; n < 64; n++)
                if ((allowed >> n) & 1) {
                        if ((tmp >> k) & 1)
                                res |= 1ULL << n;
                        k++;
                }
        spm = bpf_map_lookup_elem(&spm_nodes, &key);
        if (!spm || !(res & *spm))
                return false;
        hit[0] = res & *spm;
        return true;
}

#define MPOL_DEFAULT           0
#define MPOL_PREFERRED         1
#define MPOL_BIND              2
#define MPOL_LOCAL             4
#define MPOL_PREFERRED_MANY    5
#define MPOL_WEIGHTED_INTERLEAVE 6 /* 6.9; older kernels refuse it */
#define MPOL_F_STATIC_NODES    (1 << 15)
#define MPOL_F_RELATIVE_NODES  (1 << 14)
#define MPOL_F_NUMA_BALANCING  (1 << 13)

/*
 * The nodes a mempolicy call asks for, read as the kernel reads its arguments
 * (kernel_set_mempolicy(), kernel_mbind(), mpol_new()): get_nodes() takes
 * maxnode - 1 bits; MPOL_DEFAULT and MPOL_LOCAL name no node (with a mask they
 * fail); an unknown mode or an invalid flag combination fails; MPOL_PREFERRED
 * keeps the first node; MPOL_F_RELATIVE_NODES maps the mask onto the caller's
 * allowed nodes. The cpuset is not applied: a walled caller's attempt is what
 * the observer is for.
 */
static __always_inline bool policy_hits(__u64 mode_arg, const unsigned long *umask, __u64 maxnode, __u64 *hit) {
        __u32 flags = (__u32) mode_arg & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING);
        __u32 mode = (__u32) mode_arg & ~flags;

        if (mode_arg >> 32 || mode == MPOL_DEFAULT || mode == MPOL_LOCAL || mode > MPOL_WEIGHTED_INTERLEAVE)
                return false;
        /* the modes this kernel has: weighted interleave came with the task's il_weight (6.9) */
        if (mode == MPOL_WEIGHTED_INTERLEAVE && !bpf_core_field_exists(struct task_struct, il_weight))
                return false;
        if ((flags & MPOL_F_STATIC_NODES) && (flags & MPOL_F_RELATIVE_NODES))
                return false;
        if ((flags & MPOL_F_NUMA_BALANCING) && mode != MPOL_BIND && mode != MPOL_PREFERRED_MANY)
                return false;
        if (maxnode == 0)
                return false;
        maxnode--; /* get_nodes(): the kernel reads maxnode - 1 bits */
        if (flags & MPOL_F_RELATIVE_NODES)
                return user_mask_relative_hits(umask, maxnode, hit);
        if (mode == MPOL_PREFERRED)
                return user_mask_first_hits(umask, maxnode, hit);
        return user_mask_hits(umask, maxnode, hit);
}

static __always_inline bool node_is_spm(__s64 node, __u64 *hit) {
        __u32 key;
        __u64 *spm;

        if (node < 0 || node >= SPMD_BPF_MAX_NODES)
                return false;
        key = (__u32) node / 64;
        spm = bpf_map_lookup_elem(&spm_nodes, &key);
        if (!spm || !(*spm & (1ULL << (node % 64))))
                return false;
        if (key < SPMD_EVENT_MASK_WORDS)
                hit[key] |= 1ULL << (node % 64);
        return true;
}

static __always_inline void report(__u32 syscall, __s32 target_pid, __u32 mode, const __u64 *hit) {
        struct spmd_violation_event *e;
        __u32 key = syscall;
        __u64 *count;

        count = bpf_map_lookup_elem(&violation_count, &key);
        if (count)
                *count += 1;

        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e)
                return; /* ring full: the counter above still saw it */
        e->ts_ns = bpf_ktime_get_ns();
        e->cgroup_id = bpf_get_current_cgroup_id();
        e->pid = (__u32) bpf_get_current_pid_tgid();
        e->tgid = bpf_get_current_pid_tgid() >> 32;
        e->uid = (__u32) bpf_get_current_uid_gid();
        e->syscall = syscall;
        e->target_pid = target_pid;
        e->mode = mode;
        e->pad = 0;
        for (int i = 0; i < SPMD_EVENT_MASK_WORDS; i++)
                e->nodes[i] = hit[i];
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        e->killed = 0;
        if (kill_on_violation && bpf_send_signal(SIGKILL) == 0)
                e->killed = 1;
        bpf_ringbuf_submit(e, 0);
}

/* The checks per syscall, on its raw arguments. */

/* mbind(start, len, mode, nmask, maxnode, flags) */
static __always_inline int check_mbind(__u64 mode, __u64 nmask, __u64 maxnode) {
        __u64 hit[SPMD_EVENT_MASK_WORDS] = {};

        /* the mask first: most calls name no SPM node, and the cgroup walk costs more */
        if (policy_hits(mode, (const unsigned long *) nmask, maxnode, hit) && !caller_is_exempt())
                report(SPMD_SYS_MBIND, 0, (__u32) mode, hit);
        return 0;
}

/* set_mempolicy(mode, nmask, maxnode) */
static __always_inline int check_set_mempolicy(__u64 mode, __u64 nmask, __u64 maxnode) {
        __u64 hit[SPMD_EVENT_MASK_WORDS] = {};

        if (policy_hits(mode, (const unsigned long *) nmask, maxnode, hit) && !caller_is_exempt())
                report(SPMD_SYS_SET_MEMPOLICY, 0, (__u32) mode, hit);
        return 0;
}

/* set_mempolicy_home_node(start, len, home_node, flags) */
static __always_inline int check_home_node(__u64 home_node) {
        __u64 hit[SPMD_EVENT_MASK_WORDS] = {};

        if (node_is_spm((__s64) home_node, hit) && !caller_is_exempt())
                report(SPMD_SYS_SET_MEMPOLICY_HOME_NODE, 0, 0, hit);
        return 0;
}

/* move_pages(pid, nr_pages, pages, nodes, status, flags); nodes == NULL only queries */
static __always_inline int check_move_pages(__u64 pid, __u64 nr, __u64 nodes_ptr, __u64 flags) {
        __u64 hit[SPMD_EVENT_MASK_WORDS] = {};
        const int *nodes = (const int *) nodes_ptr;
        bool any = false;

        if (!nodes)
                return 0;
        for (__u32 i = 0; i < SPMD_MOVE_PAGES_SCAN; i++) {
                int node;

                if (i >= nr)
                        break;
                if (bpf_probe_read_user(&node, sizeof(node), &nodes[i]) < 0)
                        break;
                any |= node_is_spm(node, hit);
        }
        if (any && !caller_is_exempt())
                report(SPMD_SYS_MOVE_PAGES, (__s32) pid, (__u32) flags, hit);
        return 0;
}

/* migrate_pages(pid, maxnode, old_nodes, new_nodes) */
static __always_inline int check_migrate_pages(__u64 pid, __u64 maxnode, __u64 new_nodes) {
        __u64 hit[SPMD_EVENT_MASK_WORDS] = {};

        /* get_nodes(): maxnode - 1 bits, as for the mempolicy calls */
        if (maxnode && user_mask_hits((const unsigned long *) new_nodes, maxnode - 1, hit) && !caller_is_exempt())
                report(SPMD_SYS_MIGRATE_PAGES, (__s32) pid, 0, hit);
        return 0;
}

/*
 * Per-syscall tracepoints work everywhere, but enabling any of them turns
 * on the syscall-tracepoint slow path for every syscall of every task
 * (measured on 6.18: getpid 148 -> 191 ns). fentry on the five syscall entry
 * points costs nothing elsewhere; the loader uses it where trampolines work
 * and falls back to the tracepoints.
 */
SEC("tracepoint/syscalls/sys_enter_mbind")
int observe_mbind(struct trace_event_raw_sys_enter *ctx) {
        return check_mbind(ctx->args[2], ctx->args[3], ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_enter_set_mempolicy")
int observe_set_mempolicy(struct trace_event_raw_sys_enter *ctx) {
        return check_set_mempolicy(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_set_mempolicy_home_node")
int observe_set_mempolicy_home_node(struct trace_event_raw_sys_enter *ctx) {
        return check_home_node(ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_move_pages")
int observe_move_pages(struct trace_event_raw_sys_enter *ctx) {
        return check_move_pages(ctx->args[0], ctx->args[1], ctx->args[3], ctx->args[5]);
}

SEC("tracepoint/syscalls/sys_enter_migrate_pages")
int observe_migrate_pages(struct trace_event_raw_sys_enter *ctx) {
        return check_migrate_pages(ctx->args[0], ctx->args[1], ctx->args[3]);
}

#if defined(__TARGET_ARCH_x86)
/*
 * x86-64 syscall wrappers take the user registers: arguments in di, si, dx,
 * r10, r8, r9. regs is a BTF pointer here, so plain loads (CO-RE relocated
 * through vmlinux.h) do: no probe-read helper call per argument.
 */
#define ARG0(r) ((r)->di)
#define ARG1(r) ((r)->si)
#define ARG2(r) ((r)->dx)
#define ARG3(r) ((r)->r10)
#define ARG4(r) ((r)->r8)
#define ARG5(r) ((r)->r9)

SEC("fentry/__x64_sys_mbind")
int BPF_PROG(fentry_mbind, const struct pt_regs *regs) {
        return check_mbind(ARG2(regs), ARG3(regs), ARG4(regs));
}

SEC("fentry/__x64_sys_set_mempolicy")
int BPF_PROG(fentry_set_mempolicy, const struct pt_regs *regs) {
        return check_set_mempolicy(ARG0(regs), ARG1(regs), ARG2(regs));
}

SEC("fentry/__x64_sys_set_mempolicy_home_node")
int BPF_PROG(fentry_set_mempolicy_home_node, const struct pt_regs *regs) {
        return check_home_node(ARG2(regs));
}

SEC("fentry/__x64_sys_move_pages")
int BPF_PROG(fentry_move_pages, const struct pt_regs *regs) {
        return check_move_pages(ARG0(regs), ARG1(regs), ARG3(regs), ARG5(regs));
}

SEC("fentry/__x64_sys_migrate_pages")
int BPF_PROG(fentry_migrate_pages, const struct pt_regs *regs) {
        return check_migrate_pages(ARG0(regs), ARG1(regs), ARG3(regs));
}
#endif
