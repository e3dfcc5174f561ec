/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bpf/observe.bpf.c in this machine's kernel: a child process makes each
 * mempolicy/migration call naming "SPM" node 1 and the observer must report
 * exactly those (node 1 need not exist: the tracepoint sees the call at
 * entry, before the kernel answers EINVAL). Needs root and syscall
 * tracepoints; exits 77 (skip) with the reason otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <numaif.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>

#include "bpf-observe.h"
#include "bpf-util.h"

#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif

#define MAX_EVENTS 64

static struct spmd_violation_event events[MAX_EVENTS];
static size_t n_events;
static BpfObserver *observer;

static void on_violation(const struct spmd_violation_event *e, void *userdata) {
        (void) userdata;
        if (n_events < MAX_EVENTS)
                events[n_events++] = *e;
}

/* Drain events for up to timeout_ms; keep only those of tgid. */
static size_t collect(BpfObserver *o, pid_t tgid, int timeout_ms) {
        struct pollfd pfd = { .fd = bpf_observer_fd(o), .events = POLLIN };
        size_t k = 0;

        n_events = 0;
        while (poll(&pfd, 1, timeout_ms) > 0) {
                assert_true(bpf_observer_consume(o) >= 0);
                timeout_ms = 50;
        }
        assert_true(bpf_observer_consume(o) >= 0);
        for (size_t i = 0; i < n_events; i++)
                if (events[i].tgid == (uint32_t) tgid)
                        events[k++] = events[i];
        n_events = k;
        return k;
}

typedef void (*Route)(void);

/* Run route in a child (the loader's own tgid is exempt); return its pid after it exits. */
static pid_t run_child(Route route, int *ret_status) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                route();
                _exit(0);
        }
        assert_int_equal(waitpid(pid, ret_status, 0), pid);
        return pid;
}

static unsigned long mask_node(unsigned n) {
        return 1UL << n;
}

static void route_mbind_spm(void) {
        unsigned long m = mask_node(1);
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        (void) syscall(SYS_mbind, p, 4096, MPOL_BIND, &m, 64, MPOL_MF_MOVE);
}

static void route_mbind_dram(void) {
        unsigned long m = mask_node(0);
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        (void) syscall(SYS_mbind, p, 4096, MPOL_BIND, &m, 64, 0);
}

static void route_set_mempolicy(void) {
        unsigned long m = mask_node(0) | mask_node(1);
        (void) syscall(SYS_set_mempolicy, MPOL_INTERLEAVE, &m, 64);
}

static void route_set_mempolicy_bit_beyond_maxnode(void) {
        /* node 1 is set in the word, but the kernel reads maxnode - 1 = 1 bit (get_nodes()): a bind to
         * node 0 alone, not a request for node 1 */
        unsigned long m = mask_node(0) | mask_node(1);
        (void) syscall(SYS_set_mempolicy, MPOL_BIND, &m, 2);
}

static void route_move_pages(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int node = 1, status = 0;
        memset(p, 1, 4096);
        (void) syscall(SYS_move_pages, 0, 1, &p, &node, &status, MPOL_MF_MOVE);
}

static void route_migrate_pages(void) {
        unsigned long from = mask_node(0), to = mask_node(1);
        (void) syscall(SYS_migrate_pages, getpid(), 64, &from, &to);
}

static void route_home_node(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        (void) syscall(SYS_set_mempolicy_home_node, p, 4096, 1, 0);
}

static void test_routes_reported(void **state) {
        static const struct {
                Route route;
                enum spmd_syscall sc;
                uint32_t mode;
        } cases[] = {
                { route_mbind_spm, SPMD_SYS_MBIND, MPOL_BIND },
                { route_set_mempolicy, SPMD_SYS_SET_MEMPOLICY, MPOL_INTERLEAVE },
                { route_move_pages, SPMD_SYS_MOVE_PAGES, MPOL_MF_MOVE },
                { route_migrate_pages, SPMD_SYS_MIGRATE_PAGES, 0 },
                { route_home_node, SPMD_SYS_SET_MEMPOLICY_HOME_NODE, 0 },
        };
        (void) state;

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                int status;
                pid_t pid = run_child(cases[i].route, &status);

                if (collect(observer, pid, 1000) != 1) {
                        print_error("route %s: %zu events, want 1\n", spmd_syscall_to_string(cases[i].sc), n_events);
                        fail();
                }
                assert_string_equal(spmd_syscall_to_string(events[0].syscall), spmd_syscall_to_string(cases[i].sc));
                assert_int_equal(events[0].mode, cases[i].mode);
                assert_true(events[0].nodes[0] == mask_node(1)); /* only the SPM node, not node 0 */
                assert_int_equal(events[0].killed, 0);
                assert_true(events[0].cgroup_id != 0);
                assert_true(strncmp(events[0].comm, "test-bpf-observ", 15) == 0);
                assert_true(WIFEXITED(status));
        }
}

static void test_other_nodes_and_loader_not_reported(void **state) {
        int status;
        pid_t pid;
        (void) state;

        pid = run_child(route_mbind_dram, &status);
        assert_int_equal(collect(observer, pid, 300), 0);
        pid = run_child(route_set_mempolicy_bit_beyond_maxnode, &status);
        assert_int_equal(collect(observer, pid, 300), 0);
        /* the loader (spmd itself) is exempt */
        route_mbind_spm();
        assert_int_equal(collect(observer, getpid(), 300), 0);
}

static void test_granted_cgroup_exempt(void **state) {
        uint64_t cg;
        int status;
        pid_t pid;
        (void) state;

        pid = run_child(route_mbind_spm, &status);
        assert_int_equal(collect(observer, pid, 1000), 1);
        cg = events[0].cgroup_id;

        assert_int_equal(bpf_observer_set_granted(observer, cg, true), 0);
        pid = run_child(route_mbind_spm, &status);
        assert_int_equal(collect(observer, pid, 300), 0);

        assert_int_equal(bpf_observer_set_granted(observer, cg, false), 0);
        pid = run_child(route_mbind_spm, &status);
        assert_int_equal(collect(observer, pid, 1000), 1);
}

/* Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), or NULL. */
static const char *cgroup2_mount(void) {
        static char path[256];
        char line[1024];
        FILE *f = fopen("/proc/self/mountinfo", "re");

        if (!f)
                return NULL;
        while (fgets(line, sizeof line, f)) {
                char mnt[256];
                const char *sep = strstr(line, " - cgroup2 ");
                if (sep && sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1) {
                        snprintf(path, sizeof path, "%s", mnt);
                        fclose(f);
                        return path;
                }
        }
        fclose(f);
        return NULL;
}

/* A grant covers the granted cgroup's whole subtree: a task two levels below is exempt too. */
static void test_granted_subtree_exempt(void **state) {
        const char *mnt = cgroup2_mount();
        char top[300], child[320], procs[340];
        struct stat st;
        int status;
        pid_t pid;
        (void) state;

        if (!mnt) {
                print_message("no cgroup2 mount: not tested here\n");
                skip();
        }
        snprintf(top, sizeof top, "%s/spmd-test-%d", mnt, (int) getpid());
        snprintf(child, sizeof child, "%s/child", top);
        snprintf(procs, sizeof procs, "%s/cgroup.procs", child);
        assert_int_equal(mkdir(top, 0755), 0);
        assert_int_equal(mkdir(child, 0755), 0);
        assert_int_equal(stat(top, &st), 0); /* a cgroup2 directory's inode number is its cgroup id */

        for (int granted = 0; granted <= 1; granted++) {
                assert_int_equal(bpf_observer_set_granted(observer, st.st_ino, granted), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        FILE *f = fopen(procs, "we");
                        if (!f || fprintf(f, "0\n") < 0 || fclose(f) != 0)
                                _exit(3);
                        route_mbind_spm();
                        _exit(0);
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                assert_int_equal(collect(observer, pid, granted ? 300 : 1000), granted ? 0 : 1);
        }
        assert_int_equal(bpf_observer_set_granted(observer, st.st_ino, false), 0);
        assert_int_equal(rmdir(child), 0);
        assert_int_equal(rmdir(top), 0);
}

static size_t count_files(const char *dir, const char *prefix) {
        struct dirent *de;
        size_t n = 0;
        DIR *d = opendir(dir);

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
                        n++;
        closedir(d);
        return n;
}

/* Pinned in a real bpffs: the programs keep observing after their loader is gone, and the next
 * loader adopts the maps (counters and queued events included) and replaces the links. */
static void test_pinned_outlive_and_readopt(void **state) {
        char mnt[] = "/tmp/test-bpffs-XXXXXX", pin[128], path[192];
        BpfObserver *o = NULL;
        uint64_t counts[SPMD_SYS_MAX];
        NodeMask spm = {};
        bool adopted = true;
        char *reason = NULL;
        int status, fd, ncpu = libbpf_num_possible_cpus();
        uint64_t values[ncpu > 0 ? ncpu : 1], total = 0;
        uint32_t key = SPMD_SYS_MBIND;
        size_t links;
        pid_t pid;
        (void) state;

        assert_non_null(mkdtemp(mnt));
        if (mount("bpf", mnt, "bpf", 0, NULL) < 0) {
                print_message("cannot mount a bpffs here (%s): not tested\n", strerror(errno));
                rmdir(mnt);
                skip();
        }
        snprintf(pin, sizeof pin, "%s/spmd/observe", mnt);
        assert_int_equal(bpf_pin_dir_prepare(pin, &reason), 0);
        nodemask_set(&spm, 1);

        if (bpf_observer_new_pinned(false, pin, true, on_violation, NULL, &o, &adopted, &reason) < 0) {
                print_error("pinned observer: %s\n", reason);
                (void) umount(mnt);
                fail();
        }
        assert_false(adopted);
        assert_int_equal(bpf_observer_set_spm_nodes(o, &spm), 0);
        links = count_files(pin, "link_");
        if (links == 0) {
                print_message("this kernel refuses to pin tracepoint links: not tested here (the guests do)\n");
                bpf_observer_free(o);
                (void) bpf_pin_remove(pin);
                (void) umount(mnt);
                (void) rmdir(mnt);
                skip();
        }
        assert_true(links >= 4);
        o = bpf_observer_free(o); /* spmd exits, or is killed */

        pid = run_child(route_mbind_spm, &status);
        /* still counted, by the pinned programs into the pinned map */
        snprintf(path, sizeof path, "%s/violation_count", pin);
        fd = bpf_obj_get(path);
        assert_true(fd >= 0);
        assert_int_equal(bpf_map_lookup_elem(fd, &key, values), 0);
        for (int c = 0; c < ncpu; c++)
                total += values[c];
        close(fd);
        assert_true(total >= 1);

        /* the next spmd adopts: the event queued while nobody listened arrives, the counter goes on */
        assert_int_equal(bpf_observer_new_pinned(false, pin, true, on_violation, NULL, &o, &adopted, &reason), 0);
        assert_true(adopted);
        assert_int_equal(collect(o, pid, 1000), 1);
        assert_int_equal(bpf_observer_counts(o, counts), 0);
        assert_true(counts[SPMD_SYS_MBIND] >= total);
        /* its links replaced the old ones: as many as before, not twice as many */
        assert_int_equal(count_files(pin, "link_"), links);

        /* an explicit detach removes every pin */
        assert_int_equal(bpf_pin_remove(pin), 0);
        bpf_observer_free(o);
        assert_int_equal(access(pin, F_OK), -1);
        assert_int_equal(umount(mnt), 0);
        assert_int_equal(rmdir(mnt), 0);
}

/*
 * The observer reads a call's arguments as the kernel does, checked against the
 * kernel itself: with node 0 (the one node every machine has) as the "SPM"
 * node, each call runs in a child, which then asks the kernel what policy it
 * got (get_mempolicy). A call the kernel took with a policy that places memory
 * on nodes (not default or local) names node 0 here, and must be reported; a
 * call it refused, or took as default/local, must not be.
 */
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MPOL_F_RELATIVE_NODES
#define MPOL_F_RELATIVE_NODES (1 << 14)
#endif
#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif
#ifndef MPOL_LOCAL
#define MPOL_LOCAL 4
#endif
#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif

static const struct PolicyCase {
        const char *name;
        bool mbind;
        int mode;
        unsigned long mask, maxnode;
} policy_cases[] = {
        { "bind {0} maxnode=2", false, MPOL_BIND, 1, 2 },
        { "bind {0} maxnode=1 (no bit read)", false, MPOL_BIND, 1, 1 },
        { "bind {0} maxnode=0", false, MPOL_BIND, 1, 0 },
        { "bind {0,1} maxnode=2", false, MPOL_BIND, 3, 2 },
        { "interleave {0}", false, MPOL_INTERLEAVE, 1, 64 },
        { "preferred {0}", false, MPOL_PREFERRED, 1, 64 },
        { "preferred {} (local)", false, MPOL_PREFERRED, 0, 64 },
        { "preferred {0,5}", false, MPOL_PREFERRED, 0x21, 64 },
        { "preferred_many {0}", false, MPOL_PREFERRED_MANY, 1, 64 },
        { "weighted_interleave {0}", false, MPOL_WEIGHTED_INTERLEAVE, 1, 64 },
        { "default {}", false, MPOL_DEFAULT, 0, 64 },
        { "default {0} (refused)", false, MPOL_DEFAULT, 1, 64 },
        { "local {}", false, MPOL_LOCAL, 0, 64 },
        { "local {0} (refused)", false, MPOL_LOCAL, 1, 64 },
        { "bind|static {0}", false, MPOL_BIND | MPOL_F_STATIC_NODES, 1, 64 },
        { "bind|relative {1} (folds onto node 0)", false, MPOL_BIND | MPOL_F_RELATIVE_NODES, 2, 64 },
        { "interleave|relative {2,3}", false, MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES, 0xc, 64 },
        { "bind|static|relative (refused)", false, MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, 1, 64 },
        { "bind|numa_balancing {0}", false, MPOL_BIND | MPOL_F_NUMA_BALANCING, 1, 64 },
        { "interleave|numa_balancing (refused)", false, MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, 1, 64 },
        { "mode 9 (refused)", false, 9, 1, 64 },
        { "mbind bind {0} maxnode=2", true, MPOL_BIND, 1, 2 },
        { "mbind bind {0} maxnode=1 (no bit read)", true, MPOL_BIND, 1, 1 },
        { "mbind default {0} (refused)", true, MPOL_DEFAULT, 1, 64 },
        { "mbind preferred|relative {3}", true, MPOL_PREFERRED | MPOL_F_RELATIVE_NODES, 8, 64 },
        { "mbind interleave {0,1} maxnode=65", true, MPOL_INTERLEAVE, 3, 65 },
};

static const struct PolicyCase *policy_case;

/* Exit 0: the kernel refused the call; 1: it took it as a default/local policy; 2: as a policy on nodes. */
static void route_policy_case(void) {
        const struct PolicyCase *c = policy_case;
        unsigned long m = c->mask;
        int mode = -1;
        long r;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (c->mbind)
                r = syscall(SYS_mbind, p, 4096, c->mode, &m, c->maxnode, 0);
        else
                r = syscall(SYS_set_mempolicy, c->mode, &m, c->maxnode);
        if (r < 0)
                _exit(0);
        if (c->mbind ? syscall(SYS_get_mempolicy, &mode, NULL, 0, p, MPOL_F_ADDR)
                     : syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0))
                _exit(99);
        mode &= ~(MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING);
        _exit(mode == MPOL_DEFAULT || mode == MPOL_LOCAL ? 1 : 2);
}

static void test_observer_reads_calls_as_the_kernel(void **state) {
        NodeMask node0 = {}, node1 = {};
        unsigned disagree = 0;
        (void) state;

        nodemask_set(&node0, 0);
        nodemask_set(&node1, 1);
        assert_int_equal(bpf_observer_set_spm_nodes(observer, &node0), 0);
        for (size_t i = 0; i < sizeof policy_cases / sizeof policy_cases[0]; i++) {
                int status;
                pid_t pid;
                size_t n;

                policy_case = &policy_cases[i];
                pid = run_child(route_policy_case, &status);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) <= 2);
                n = collect(observer, pid, WEXITSTATUS(status) == 2 ? 1000 : 300);
                print_message("%-40s kernel: %-22s observer: %s\n", policy_cases[i].name,
                              WEXITSTATUS(status) == 0   ? "refused"
                              : WEXITSTATUS(status) == 1 ? "default/local policy"
                                                         : "policy on node 0",
                              n ? "reported node 0" : "nothing");
                if ((WEXITSTATUS(status) == 2) != (n == 1) || (n == 1 && events[0].nodes[0] != mask_node(0)))
                        disagree++;
        }
        assert_int_equal(bpf_observer_set_spm_nodes(observer, &node1), 0);
        assert_int_equal(disagree, 0);
}

static void test_counters(void **state) {
        uint64_t before[SPMD_SYS_MAX], after[SPMD_SYS_MAX];
        int status;
        (void) state;

        assert_int_equal(bpf_observer_counts(observer, before), 0);
        for (int i = 0; i < 3; i++)
                run_child(route_mbind_spm, &status);
        run_child(route_mbind_dram, &status);
        assert_int_equal(bpf_observer_counts(observer, after), 0);
        /* other processes on the machine could only add, never take away */
        assert_true(after[SPMD_SYS_MBIND] - before[SPMD_SYS_MBIND] >= 3);
        assert_true(after[SPMD_SYS_MBIND] - before[SPMD_SYS_MBIND] < 10);
}

/* Observe=auto: fentry or nothing. Where the kernel refuses trampolines (the build machine's), the
 * loader must not fall back to the syscall tracepoints, and must say why. */
static void test_tracepoints_only_when_allowed(void **state) {
        BpfObserver *o = NULL;
        char *reason = NULL;
        int r;
        (void) state;

        r = bpf_observer_new_pinned(false, NULL, false, on_violation, NULL, &o, NULL, &reason);
        if (r >= 0) {
                print_message("fentry works on this kernel: %s\n", bpf_observer_via(o, NULL));
                assert_string_equal(bpf_observer_via(o, NULL), "fentry");
        } else {
                print_message("without the tracepoints: %s\n", reason);
                assert_int_equal(r, -EOPNOTSUPP);
                assert_non_null(strstr(reason, "fentry refused ("));
                assert_non_null(strstr(reason, "every syscall on this machine on the tracing slow path"));
                /* and the same kernel takes the tracepoints when they are allowed */
                reason = mfree(reason);
                assert_int_equal(bpf_observer_new_pinned(false, NULL, true, on_violation, NULL, &o, NULL, &reason), 0);
                assert_string_equal(bpf_observer_via(o, NULL), "syscall tracepoints");
        }
        bpf_observer_free(o);
        free(reason);
}

static void test_kill_action(void **state) {
        BpfObserver *killer = NULL;
        NodeMask spm = {};
        int status;
        pid_t pid;
        char *reason = NULL;
        (void) state;

        observer = bpf_observer_free(observer);
        assert_int_equal(bpf_observer_new(true, on_violation, NULL, &killer, &reason), 0);
        nodemask_set(&spm, 1);
        assert_int_equal(bpf_observer_set_spm_nodes(killer, &spm), 0);

        pid = run_child(route_mbind_spm, &status);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        assert_int_equal(collect(killer, pid, 1000), 1);
        assert_int_equal(events[0].killed, 1);

        pid = run_child(route_mbind_dram, &status);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        bpf_observer_free(killer);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routes_reported),
                cmocka_unit_test(test_other_nodes_and_loader_not_reported),
                cmocka_unit_test(test_observer_reads_calls_as_the_kernel),
                cmocka_unit_test(test_granted_cgroup_exempt),
                cmocka_unit_test(test_granted_subtree_exempt),
                cmocka_unit_test(test_pinned_outlive_and_readopt),
                cmocka_unit_test(test_counters),
                cmocka_unit_test(test_kill_action),
                cmocka_unit_test(test_tracepoints_only_when_allowed),
        };
        NodeMask spm = {};
        char *reason = NULL;
        int r;

        if (geteuid() != 0) {
                printf("SKIP: loading BPF programs needs root\n");
                return 77;
        }
        if (access("/sys/kernel/tracing/events", F_OK) < 0)
                (void) mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);

        r = bpf_observer_new(false, on_violation, NULL, &observer, &reason);
        if (r < 0) {
                printf("SKIP: observer unavailable: %s\n", reason ? reason : strerror(-r));
                return 77;
        }
        nodemask_set(&spm, 1);
        if (bpf_observer_set_spm_nodes(observer, &spm) < 0) {
                printf("FAIL: cannot set the SPM node mask\n");
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        bpf_observer_free(observer);
        return r;
}
