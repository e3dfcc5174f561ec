/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <systemd/sd-daemon.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"
#include "bpf-guard.h"
#include "bpf-probe.h"
#include "bpf-util.h"
#include "guard.skel.h"
#include "log.h"
#include "parse-util.h"

struct BpfGuard {
        struct guard_bpf *skel;
        struct ring_buffer *rb;
        GuardHandler handler;
        void *userdata;
        BpfU64Set granted; /* what granted_cgroups holds */
        BpfNodeMask spm;   /* what spm_nodes holds */
};

static const char *const what_names[SPMD_GUARD_MAX] = {
        [SPMD_GUARD_PROCS] = "cgroup.procs",
        [SPMD_GUARD_CPUSET_MEMS] = "cpuset.mems",
        [SPMD_GUARD_SUBTREE_CONTROL] = "cgroup.subtree_control",
        [SPMD_GUARD_MOVEMEMORY] = "task_movememory",
        [SPMD_GUARD_CLONE_INTO] = "clone_into_cgroup",
        [SPMD_GUARD_PINS] = "bpf_pins",
};

static const char *const pin_op_names[SPMD_PIN_OP_MAX] = {
        [SPMD_PIN_WRITE] = "removing, adding or opening for writing",
        [SPMD_PIN_RENAME] = "renaming",
        [SPMD_PIN_UMOUNT] = "unmounting the bpffs of",
        [SPMD_PIN_BY_ID] = "taking a writable fd (by id) of",
};

const char *spmd_guard_pin_op_to_string(int op) {
        return op >= 0 && op < SPMD_PIN_OP_MAX ? pin_op_names[op] : "touching";
}

/* This process's start, in clock ticks since boot (/proc/self/stat field 22), as the guard compares it. */
static int own_start_ticks(uint64_t *ret) {
        char buf[1024];
        FILE *f = fopen("/proc/self/stat", "re");
        bool ok;

        if (!f)
                return -errno;
        ok = fgets(buf, sizeof buf, f) != NULL;
        fclose(f);
        return ok ? parse_proc_stat_starttime(buf, ret) : -EIO;
}

const char *spmd_guard_what_to_string(unsigned what) {
        return what < SPMD_GUARD_MAX ? what_names[what] : NULL;
}

static int on_event(void *ctx, void *data, size_t size) {
        BpfGuard *g = ctx;

        if (size >= sizeof(struct spmd_guard_event) && g->handler)
                g->handler(data, g->userdata);
        return 0;
}

int bpf_guard_new(bool cgroup_guard, bool task_movememory, GuardHandler handler, void *userdata, BpfGuard **ret,
                  char **ret_reason) {
        return bpf_guard_new_pinned(cgroup_guard, task_movememory, NULL, handler, userdata, ret, NULL, ret_reason);
}

int bpf_guard_new_pinned(bool cgroup_guard, bool task_movememory, const char *pin_dir, GuardHandler handler,
                         void *userdata, BpfGuard **ret, bool *ret_adopted, char **ret_reason) {
        _cleanup_(bpf_guard_freep) BpfGuard *g = NULL;
        int r;

        /* The same preconditions as the probe, with its reasons (bpf not in the LSM list, ...). */
        r = bpf_lsm_available(ret_reason);
        if (r < 0)
                return r;

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->handler = handler;
        g->userdata = userdata;
        g->skel = guard_bpf__open();
        if (!g->skel)
                return unavailable(ret_reason, -errno, "opening the BPF object failed: %s", strerror(errno));
        g->skel->rodata->spmd_tgid = (uint32_t) getpid();
        r = own_start_ticks((uint64_t *) &g->skel->rodata->spmd_start_ticks);
        if (r < 0)
                return unavailable(ret_reason, r, "cannot read this process's start time from /proc/self/stat");
        long tck = sysconf(_SC_CLK_TCK);
        g->skel->rodata->ns_per_tick = 1000000000ULL / (uint64_t) (tck > 0 ? tck : 100);
        /* cgroupfs writes and clone3(CLONE_INTO_CGROUP); the pins' protection wherever there are pins */
        bpf_program__set_autoload(g->skel->progs.guard_file_open, cgroup_guard);
        bpf_program__set_autoload(g->skel->progs.guard_task_alloc, cgroup_guard);
        bpf_program__set_autoload(g->skel->progs.guard_inode_permission, cgroup_guard || pin_dir != NULL);
        bpf_program__set_autoload(g->skel->progs.guard_inode_rename, pin_dir != NULL);
        bpf_program__set_autoload(g->skel->progs.guard_sb_umount, pin_dir != NULL);
        bpf_program__set_autoload(g->skel->progs.guard_bpf, pin_dir != NULL);
        bpf_program__set_autoload(g->skel->progs.guard_task_movememory, task_movememory);
        if (pin_dir) {
                if (ret_adopted)
                        *ret_adopted = bpf_pin_dir_has_pins(pin_dir);
                r = bpf_pin_maps_before_load(g->skel->skeleton, pin_dir);
                if (r < 0)
                        return unavailable(ret_reason, r, "cannot pin the maps in %s: %s", pin_dir, strerror(-r));
        }
        r = guard_bpf__load(g->skel);
        if (r < 0 && pin_dir && bpf_pin_dir_has_pins(pin_dir))
                return unavailable(ret_reason, r, "the kernel refused the guard programs, or the maps pinned in %s "
                                                  "do not fit them (remove them with spmctl detach-bpf): %s",
                                   pin_dir, strerror(-r));
        if (r < 0)
                return unavailable(ret_reason, r, "the kernel refused the guard programs: %s", strerror(-r));
        r = guard_bpf__attach(g->skel);
        if (r < 0)
                return unavailable(ret_reason, r, "attaching the guard programs failed: %s", strerror(-r));
        if (pin_dir) {
                r = bpf_pin_links_after_attach(g->skel->skeleton, pin_dir);
                if (r < 0) /* attached all the same: it only ends with this process */
                        log_warning_errno(r, "Cannot pin the links in %s, so these programs stop when spmd stops: %m",
                                          pin_dir);
        }
        g->rb = ring_buffer__new(bpf_map__fd(g->skel->maps.events), on_event, g, NULL);
        if (!g->rb)
                return unavailable(ret_reason, -errno, "creating the ring buffer failed: %s", strerror(errno));
        *ret = TAKE_PTR(g);
        return 0;
}

BpfGuard *bpf_guard_free(BpfGuard *g) {
        if (!g)
                return NULL;
        ring_buffer__free(g->rb);
        guard_bpf__destroy(g->skel);
        bpf_u64_set_clear(&g->granted);
        free(g);
        return NULL;
}

int bpf_guard_sync(BpfGuard *g, const uint64_t *granted, size_t n_granted, const NodeMask *spm) {
        int r = bpf_map_sync_u64_set_cached(g->skel->maps.granted_cgroups, &g->granted, granted, n_granted);

        if (r < 0)
                return r;
        return bpf_map_set_node_mask(g->skel->maps.spm_nodes, &g->spm, spm);
}

int bpf_guard_protect(BpfGuard *g, const struct spmd_exe_key *inodes, size_t n_inodes, const uint64_t *ids,
                      size_t n_ids) {
        int r = bpf_map_sync_key_set(g->skel->maps.protected_inodes, inodes, n_inodes, sizeof *inodes);

        if (r < 0)
                return r;
        return bpf_map_sync_key_set(g->skel->maps.protected_ids, ids, n_ids, sizeof *ids);
}

size_t bpf_guard_object_ids(BpfGuard *g, uint64_t *ids, size_t max) {
        return bpf_skeleton_object_ids(g->skel->skeleton, ids, max);
}

/*
 * The (dev, ino) the kernel will see in mm->exe_file->f_inode when path runs.
 * stat() can disagree: on overlayfs it reports the underlying file's device,
 * while an open (or exec'd) file's inode is the overlay's. So open the file
 * and ask /proc what it got: fdinfo's ino and mount, and the mount's device.
 */
static int exe_key(const char *path, struct spmd_exe_key *ret) {
        char p[64], line[4096];
        unsigned long long ino = 0;
        int mnt_id = -1, fd;
        bool have_ino = false;
        FILE *f;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
        f = fopen(p, "re");
        if (f) {
                while (fgets(line, sizeof line, f)) {
                        if (sscanf(line, "mnt_id: %d", &mnt_id) == 1)
                                continue;
                        if (sscanf(line, "ino: %llu", &ino) == 1)
                                have_ino = true;
                }
                fclose(f);
        }
        if (!have_ino || mnt_id < 0) { /* kernels before fdinfo's ino: fall back to stat() */
                struct stat st;
                int r = fstat(fd, &st) < 0 ? -errno : 0;
                close(fd);
                if (r < 0)
                        return r;
                *ret = (struct spmd_exe_key){ .dev = ((uint64_t) major(st.st_dev) << 20) | minor(st.st_dev),
                                              .ino = st.st_ino };
                return 0;
        }
        close(fd);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                unsigned maj, min;
                int id;

                if (sscanf(line, "%d %*d %u:%u", &id, &maj, &min) == 3 && id == mnt_id) {
                        fclose(f);
                        *ret = (struct spmd_exe_key){ .dev = ((uint64_t) maj << 20) | min, .ino = ino };
                        return 0;
                }
        }
        fclose(f);
        return -ENOENT;
}

int bpf_guard_set_trusted(BpfGuard *g, char *const *paths) {
        struct spmd_exe_key key, next;
        uint8_t one = SPMD_TRUST_ALWAYS, root_only = SPMD_TRUST_ROOT_ONLY;
        int missing = 0, r;

        while (bpf_map__get_next_key(g->skel->maps.trusted_exes, NULL, &next, sizeof next) == 0)
                if (bpf_map__delete_elem(g->skel->maps.trusted_exes, &next, sizeof next, 0) < 0)
                        return -errno;
        /* spmd itself, by its executable: a restarted spmd (another pid) re-adopts the pins, and
         * "spmd --detach-bpf" can remove them. Also the file now installed as spmd, so that a
         * restart after an upgrade that replaced it is still spmd. */
        for (const char *const *self = (const char *const[]){ "/proc/self/exe", SPMD_EXECUTABLE, NULL }; *self;
             self++) {
                r = exe_key(*self, &key);
                if (r < 0) {
                        if (strcmp(*self, SPMD_EXECUTABLE) == 0 && r == -ENOENT)
                                continue; /* not installed: run from a build tree */
                        return log_error_errno(r, "Cannot tell the guard which executable is spmd (%s): %m", *self);
                }
                if (bpf_map__update_elem(g->skel->maps.trusted_exes, &key, sizeof key, &one, sizeof one,
                                         BPF_ANY) < 0)
                        return -errno;
        }
        /* On a systemd host, PID 1 forks a child for each service it starts, and that child (still
         * PID 1's executable, still root) writes itself into the unit's new cgroup before it drops
         * privileges and execs. Under a slice that leads to a grant, that cgroup reaches the SPM nodes
         * until spmd has walled it, so the child must be trusted, only as root: a user's manager
         * runs the same executable under the user's uid. */
        if (sd_booted() > 0) {
                /* /proc/1/exe needs CAP_SYS_PTRACE, which spmd.service does not grant: else systemd's
                 * own path, as Debian and every usrmerged system installs it */
                r = exe_key("/proc/1/exe", &key);
                if (r < 0)
                        r = exe_key("/usr/lib/systemd/systemd", &key);
                if (r < 0)
                        r = exe_key("/lib/systemd/systemd", &key);
                if (r < 0)
                        log_warning_errno(r, "Cannot read PID 1's executable: %m; services systemd starts under a "
                                             "slice that leads to a grant may fail to start (219/CGROUP).");
                else if (bpf_map__update_elem(g->skel->maps.trusted_exes, &key, sizeof key, &root_only,
                                              sizeof root_only, BPF_NOEXIST) < 0 &&
                         errno != EEXIST)
                        return -errno;
        }
        for (char *const *p = paths; p && *p; p++) {
                r = exe_key(*p, &key);
                if (r < 0) {
                        log_warning_errno(r, "TrustedExecutable=%s: %m; not trusted.", *p);
                        missing++;
                        continue;
                }
                if (bpf_map__update_elem(g->skel->maps.trusted_exes, &key, sizeof key, &one, sizeof one,
                                         BPF_ANY) < 0)
                        return -errno;
                log_debug("Trusting %s (dev %u:%u, inode %llu).", *p, (unsigned) (key.dev >> 20),
                          (unsigned) (key.dev & 0xfffff), (unsigned long long) key.ino);
        }
        return missing;
}

int bpf_guard_fd(BpfGuard *g) {
        return ring_buffer__epoll_fd(g->rb);
}

int bpf_guard_consume(BpfGuard *g) {
        return ring_buffer__consume(g->rb);
}

int bpf_guard_counts(BpfGuard *g, uint64_t counts[SPMD_GUARD_MAX]) {
        return bpf_map_percpu_sums(g->skel->maps.deny_count, counts, SPMD_GUARD_MAX);
}
