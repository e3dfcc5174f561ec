/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-probe.h"
#include "bpf-util.h"
#include "log.h"
#include "lsm_probe.skel.h"

struct LsmProbe {
        struct lsm_probe_bpf *skel;
};

/* 1 if "bpf" is an active LSM, 0 if not, negative if the list cannot be read. */
static int bpf_in_lsm_list(void) {
        _cleanup_fclose_ FILE *f = fopen("/sys/kernel/security/lsm", "re");
        char buf[512];

        if (!f)
                return -errno;
        if (!fgets(buf, sizeof buf, f))
                return -EIO;
        for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
                if (strcmp(tok, "bpf") == 0)
                        return 1;
        return 0;
}

int lsm_probe_new(LsmProbe **ret, char **ret_reason) {
        _cleanup_(lsm_probe_freep) LsmProbe *p = NULL;
        int r;

        r = bpf_in_lsm_list();
        if (r == 0)
                return unavailable(ret_reason, -EOPNOTSUPP,
                            "bpf is not in the active LSM list (/sys/kernel/security/lsm); boot with lsm=...,bpf");
        if (r < 0)
                log_debug_errno(r, "Cannot read /sys/kernel/security/lsm, trying to load anyway: %m");

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->skel = lsm_probe_bpf__open_and_load();
        if (!p->skel) {
                r = -errno;
                return unavailable(ret_reason, r, "the kernel refused a BPF-LSM program: %s", strerror(-r));
        }
        r = lsm_probe_bpf__attach(p->skel);
        if (r < 0)
                return unavailable(ret_reason, r, "attaching a BPF-LSM program failed: %s", strerror(-r));
        *ret = TAKE_PTR(p);
        return 0;
}

LsmProbe *lsm_probe_free(LsmProbe *p) {
        if (!p)
                return NULL;
        lsm_probe_bpf__destroy(p->skel);
        free(p);
        return NULL;
}

void lsm_probe_set_target(LsmProbe *p, int tgid) {
        p->skel->bss->target_tgid = tgid;
}

uint64_t lsm_probe_hits(LsmProbe *p) {
        return __atomic_load_n(&p->skel->bss->hits, __ATOMIC_RELAXED);
}

int bpf_lsm_available(char **ret_reason) {
        LsmProbe *p = NULL;
        int r = lsm_probe_new(&p, ret_reason);

        lsm_probe_free(p);
        return r;
}

/* struct_ops types whose name says they place or reclaim memory */
static bool memory_struct_ops(const char *ops) {
        static const char *const words[] = { "oom", "memcg", "mempolicy", "numa", "mm_", "memory", "reclaim",
                                             "tier" };
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strstr(ops, words[i]))
                        return true;
        return false;
}

int bpf_struct_ops_probe(char **ret_name, char **ret_reason) {
        static const char prefix[] = "bpf_struct_ops_";
        /* the kernel's own helper structs, not ops types */
        static const char *const internal[] = { "arg_info", "common_value", "desc", "link", "map", "value" };
        struct btf *btf = btf__load_vmlinux_btf();
        char offered[512] = "";
        size_t len = 0;
        int n, r = 0;

        *ret_name = NULL;
        if (!btf)
                return unavailable(ret_reason, -errno, "no kernel BTF (/sys/kernel/btf/vmlinux): %s", strerror(errno));
        n = (int) btf__type_cnt(btf);
        for (int id = 1; id < n; id++) {
                const struct btf_type *t = btf__type_by_id(btf, (unsigned) id);
                const char *name;
                bool skip = false;

                if (!btf_is_struct(t))
                        continue;
                name = btf__name_by_offset(btf, t->name_off);
                if (!name || strncmp(name, prefix, sizeof prefix - 1) != 0)
                        continue;
                name += sizeof prefix - 1;
                for (size_t i = 0; i < ELEMENTSOF(internal); i++)
                        skip = skip || strcmp(name, internal[i]) == 0;
                if (skip)
                        continue;
                if (memory_struct_ops(name)) {
                        *ret_name = strdup(name);
                        r = *ret_name ? 1 : -ENOMEM;
                        break;
                }
                if (len < sizeof offered - 1)
                        len += (size_t) snprintf(offered + len, sizeof offered - len, "%s%s", len ? ", " : "", name);
        }
        btf__free(btf);
        if (r == 0)
                (void) unavailable(ret_reason, 0, "no memory-placement struct_ops in this kernel's BTF (it offers: %s)",
                                   len ? offered : "none");
        return r;
}
