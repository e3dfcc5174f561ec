/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-observe.h"
#include "bpf-util.h"
#include "log.h"
#include "observe.skel.h"

struct BpfObserver {
        struct observe_bpf *skel;
        const char *via;      /* "fentry" or "syscall tracepoints" */
        char *fentry_reason;  /* why not fentry, when via tracepoints */
        struct ring_buffer *rb;
        ViolationHandler handler;
        void *userdata;
        BpfU64Set granted;    /* what granted_cgroups holds */
        BpfNodeMask spm;      /* what spm_nodes holds */
};

static const char *const syscall_names[SPMD_SYS_MAX] = {
        [SPMD_SYS_MBIND] = "mbind",
        [SPMD_SYS_SET_MEMPOLICY] = "set_mempolicy",
        [SPMD_SYS_SET_MEMPOLICY_HOME_NODE] = "set_mempolicy_home_node",
        [SPMD_SYS_MOVE_PAGES] = "move_pages",
        [SPMD_SYS_MIGRATE_PAGES] = "migrate_pages",
};

const char *spmd_syscall_to_string(unsigned sc) {
        return sc < SPMD_SYS_MAX ? syscall_names[sc] : NULL;
}

static const char *tracefs_events_dir(void) {
        static const char *const dirs[] = { "/sys/kernel/tracing/events/syscalls",
                                            "/sys/kernel/debug/tracing/events/syscalls" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (access(dirs[i], F_OK) == 0)
                        return dirs[i];
        return NULL;
}

static int on_event(void *ctx, void *data, size_t size) {
        BpfObserver *o = ctx;

        if (size < sizeof(struct spmd_violation_event))
                return 0;
        if (o->handler)
                o->handler(data, o->userdata);
        return 0;
}

int bpf_observer_new(bool kill_on_violation, ViolationHandler handler, void *userdata, BpfObserver **ret,
                     char **ret_reason) {
        return bpf_observer_new_pinned(kill_on_violation, NULL, true, handler, userdata, ret, NULL, ret_reason);
}

static bool kernel_has_func(const char *name) {
        struct btf *btf = btf__load_vmlinux_btf();
        bool found;

        if (!btf)
                return false;
        found = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
        btf__free(btf);
        return found;
}

/* Open, load and attach one flavour: fentry on the syscall entry points, or the syscall tracepoints. */
static int observer_load(BpfObserver *o, bool fentry, bool kill_on_violation, const char *pin_dir,
                         char **ret_reason) {
#if defined(__x86_64__)
#define FENTRY_PROG(f) o->skel->progs.fentry_##f
#else
#define FENTRY_PROG(f) NULL
#endif
        const char *dir = tracefs_events_dir();
        int r;

        o->skel = observe_bpf__open();
        if (!o->skel)
                return unavailable(ret_reason, -errno, "opening the BPF object failed: %s", strerror(errno));
        o->skel->rodata->spmd_tgid = (uint32_t) getpid();
        o->skel->rodata->kill_on_violation = kill_on_violation;

        struct {
                struct bpf_program *tp, *fe;
                const char *name;
        } set[] = {
                { o->skel->progs.observe_mbind, FENTRY_PROG(mbind), "mbind" },
                { o->skel->progs.observe_set_mempolicy, FENTRY_PROG(set_mempolicy), "set_mempolicy" },
                { o->skel->progs.observe_set_mempolicy_home_node, FENTRY_PROG(set_mempolicy_home_node),
                  "set_mempolicy_home_node" },
                { o->skel->progs.observe_move_pages, FENTRY_PROG(move_pages), "move_pages" },
                { o->skel->progs.observe_migrate_pages, FENTRY_PROG(migrate_pages), "migrate_pages" },
        };
        for (size_t i = 0; i < ELEMENTSOF(set); i++) {
                char path[256];
                bool present;

                /* set_mempolicy_home_node arrived in 5.17: observe the rest without it */
                if (fentry) {
                        snprintf(path, sizeof path, "__x64_sys_%s", set[i].name);
                        present = set[i].fe && kernel_has_func(path);
                } else {
                        snprintf(path, sizeof path, "%s/sys_enter_%s", strempty(dir), set[i].name);
                        present = dir && access(path, F_OK) == 0;
                }
                if (!present && strcmp(set[i].name, "set_mempolicy_home_node") != 0)
                        return unavailable(ret_reason, -ENOENT, "no %s for %s in this kernel",
                                           fentry ? "function" : "tracepoint", set[i].name);
                if (!present)
                        log_debug("No %s for set_mempolicy_home_node; not observing it.", fentry ? "function" : "tracepoint");
                bpf_program__set_autoload(set[i].tp, !fentry && present);
                if (set[i].fe)
                        bpf_program__set_autoload(set[i].fe, fentry && present);
        }
#undef FENTRY_PROG

        if (pin_dir) {
                r = bpf_pin_maps_before_load(o->skel->skeleton, pin_dir);
                if (r < 0)
                        return unavailable(ret_reason, r, "cannot pin the maps in %s: %s", pin_dir, strerror(-r));
        }
        r = observe_bpf__load(o->skel);
        if (r < 0 && pin_dir && bpf_pin_dir_has_pins(pin_dir))
                return unavailable(ret_reason, r, "the kernel refused the programs, or the maps pinned in %s "
                                                  "do not fit them (remove them with spmctl detach-bpf): %s",
                                   pin_dir, strerror(-r));
        if (r < 0)
                return unavailable(ret_reason, r, "the kernel refused the %s programs: %s",
                                   fentry ? "fentry" : "tracepoint", strerror(-r));
        r = observe_bpf__attach(o->skel);
        if (r < 0)
                return unavailable(ret_reason, r, "attaching to the %s failed: %s",
                                   fentry ? "syscall entry points" : "syscall tracepoints", strerror(-r));
        return 0;
}

int bpf_observer_new_pinned(bool kill_on_violation, const char *pin_dir, bool allow_tracepoints,
                            ViolationHandler handler, void *userdata, BpfObserver **ret, bool *ret_adopted,
                            char **ret_reason) {
        _cleanup_(bpf_observer_freep) BpfObserver *o = NULL;
        _cleanup_free_ char *fentry_reason = NULL;
        int r;

        o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        o->handler = handler;
        o->userdata = userdata;
        if (pin_dir && ret_adopted)
                *ret_adopted = bpf_pin_dir_has_pins(pin_dir);

        /* fentry costs the other syscalls nothing; tracepoints slow them all a little */
        r = observer_load(o, true, kill_on_violation, pin_dir, &fentry_reason);
        if (r >= 0)
                o->via = "fentry";
        else {
                log_debug("fentry observer unavailable (%s); using the syscall tracepoints.", strna(fentry_reason));
                observe_bpf__destroy(o->skel);
                o->skel = NULL;
                if (!allow_tracepoints)
                        return unavailable(ret_reason, -EOPNOTSUPP,
                                           "fentry refused (%s); the syscall tracepoints, the other way in, would "
                                           "put every syscall on this machine on the tracing slow path (Observe=yes "
                                           "takes them all the same)",
                                           strna(fentry_reason));
                if (!tracefs_events_dir())
                        return unavailable(ret_reason, -ENOENT,
                                           "fentry refused (%s) and no syscall tracepoints (tracefs not mounted or "
                                           "CONFIG_FTRACE_SYSCALLS off)", strna(fentry_reason));
                r = observer_load(o, false, kill_on_violation, pin_dir, ret_reason);
                if (r < 0)
                        return r;
                o->via = "syscall tracepoints";
                o->fentry_reason = TAKE_PTR(fentry_reason);
        }
        if (pin_dir) {
                r = bpf_pin_links_after_attach(o->skel->skeleton, pin_dir);
                if (r < 0) /* attached all the same: it only ends with this process */
                        log_warning_errno(r, "Cannot pin the links in %s, so these programs stop when spmd stops: %m",
                                          pin_dir);
        }

        o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.events), on_event, o, NULL);
        if (!o->rb)
                return unavailable(ret_reason, -errno, "creating the ring buffer failed: %s", strerror(errno));

        *ret = TAKE_PTR(o);
        return 0;
}

const char *bpf_observer_via(const BpfObserver *o, const char **ret_fentry_reason) {
        if (ret_fentry_reason)
                *ret_fentry_reason = o->fentry_reason;
        return o->via;
}

BpfObserver *bpf_observer_free(BpfObserver *o) {
        if (!o)
                return NULL;
        ring_buffer__free(o->rb);
        observe_bpf__destroy(o->skel);
        free(o->fentry_reason);
        bpf_u64_set_clear(&o->granted);
        free(o);
        return NULL;
}

int bpf_observer_set_spm_nodes(BpfObserver *o, const NodeMask *m) {
        return bpf_map_set_node_mask(o->skel->maps.spm_nodes, &o->spm, m);
}

size_t bpf_observer_object_ids(BpfObserver *o, uint64_t *ids, size_t max) {
        return bpf_skeleton_object_ids(o->skel->skeleton, ids, max);
}

int bpf_observer_set_granted(BpfObserver *o, uint64_t cgroup_id, bool granted) {
        uint8_t one = 1;
        int r;

        if (granted)
                r = bpf_map__update_elem(o->skel->maps.granted_cgroups, &cgroup_id, sizeof cgroup_id, &one,
                                         sizeof one, BPF_ANY);
        else
                r = bpf_map__delete_elem(o->skel->maps.granted_cgroups, &cgroup_id, sizeof cgroup_id, 0);
        if (r < 0 && !(r == -ENOENT && !granted))
                return r;
        return 0;
}

int bpf_observer_sync_granted(BpfObserver *o, const uint64_t *ids, size_t n) {
        return bpf_map_sync_u64_set_cached(o->skel->maps.granted_cgroups, &o->granted, ids, n);
}

int bpf_observer_fd(BpfObserver *o) {
        return ring_buffer__epoll_fd(o->rb);
}

int bpf_observer_consume(BpfObserver *o) {
        return ring_buffer__consume(o->rb);
}

int bpf_observer_counts(BpfObserver *o, uint64_t counts[SPMD_SYS_MAX]) {
        return bpf_map_percpu_sums(o->skel->maps.violation_count, counts, SPMD_SYS_MAX);
}
