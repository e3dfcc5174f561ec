/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

typedef struct LsmProbe LsmProbe;

/*
 * Load and attach bpf/lsm_probe.bpf.c. Returns 0 when BPF-LSM works here;
 * otherwise a negative errno and in *ret_reason why not (bpf missing from
 * the active LSM list, programs refused, ...).
 */
int lsm_probe_new(LsmProbe **ret, char **ret_reason);
LsmProbe *lsm_probe_free(LsmProbe *p);
static inline void lsm_probe_freep(LsmProbe **p) {
        if (*p)
                *p = lsm_probe_free(*p);
}

void lsm_probe_set_target(LsmProbe *p, int tgid);
uint64_t lsm_probe_hits(LsmProbe *p);

/* Only the verdict: is BPF-LSM usable? (loads, attaches and releases the probe) */
int bpf_lsm_available(char **ret_reason);

/*
 * Is there a struct_ops for memory placement in this kernel (none in mainline;
 * proposals such as bpf_oom_ops or memcg_bpf_ops)? Looks through the kernel's
 * BTF for struct_ops value types. Returns 1 and its name in *ret_name, or 0
 * and in *ret_reason what the kernel does offer; negative if BTF is missing.
 */
int bpf_struct_ops_probe(char **ret_name, char **ret_reason);
