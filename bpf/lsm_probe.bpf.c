// SPDX-License-Identifier: GPL-2.0-only
/*
 * Does BPF-LSM work on this kernel? A program on lsm/task_movememory that
 * never changes the verdict and counts calls whose target is target_tgid.
 * Loading and attaching it is the run-time probe for the LSM layer.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

int target_tgid = 0;
__u64 hits = 0;

SEC("lsm/task_movememory")
int BPF_PROG(probe_task_movememory, struct task_struct *p, int ret) {
        if (target_tgid && BPF_CORE_READ(p, tgid) == target_tgid)
                __sync_fetch_and_add(&hits, 1);
        return ret;
}
