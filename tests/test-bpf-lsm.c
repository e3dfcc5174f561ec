/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * BPF-LSM on this kernel: the probe program on lsm/task_movememory must load,
 * attach, and see migrate_pages()/move_pages() aimed at another process.
 * Exits 77 with the reason where the kernel does not allow BPF-LSM (the
 * build machine's kernel refuses trampolines; the VM's 6.12 allows them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf-probe.h"

static LsmProbe *probe;

static pid_t spawn_sleeper(void) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        return pid;
}

static void reap(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

static void test_migrate_pages_other_process(void **state) {
        unsigned long from = 1, to = 1; /* node 0 -> node 0: harmless, but the hook runs */
        pid_t pid = spawn_sleeper();
        (void) state;

        lsm_probe_set_target(probe, pid);
        uint64_t before = lsm_probe_hits(probe);
        long r = syscall(SYS_migrate_pages, pid, 64, &from, &to);
        assert_true(r >= 0);
        assert_true(lsm_probe_hits(probe) == before + 1);
        reap(pid);
}

static void test_move_pages_other_process_and_self(void **state) {
        pid_t pid = spawn_sleeper();
        void *page = NULL;
        int status = 0;
        (void) state;

        lsm_probe_set_target(probe, pid);
        uint64_t before = lsm_probe_hits(probe);
        /* query only (nodes == NULL): still a movememory permission check on another process */
        (void) syscall(SYS_move_pages, pid, 1, &page, NULL, &status, 0);
        assert_true(lsm_probe_hits(probe) == before + 1);

        /* on oneself the kernel asks no LSM (as the platform notes say) */
        lsm_probe_set_target(probe, getpid());
        before = lsm_probe_hits(probe);
        (void) syscall(SYS_move_pages, 0, 1, &page, NULL, &status, 0);
        assert_true(lsm_probe_hits(probe) == before);
        reap(pid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_migrate_pages_other_process),
                cmocka_unit_test(test_move_pages_other_process_and_self),
        };
        char *reason = NULL;
        int r;

        if (geteuid() != 0) {
                printf("SKIP: loading BPF-LSM programs needs root\n");
                return 77;
        }
        r = lsm_probe_new(&probe, &reason);
        if (r < 0) {
                printf("SKIP: BPF-LSM unavailable: %s\n", reason ? reason : strerror(-r));
                free(reason);
                return 77;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        lsm_probe_free(probe);
        return r;
}
