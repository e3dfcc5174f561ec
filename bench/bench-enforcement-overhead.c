/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What spmd's BPF programs cost the rest of the machine: ns per call of an
 * unrelated syscall (getpid), of the mempolicy syscalls the observer watches
 * (set_mempolicy, mbind) and of open(2), which the BPF-LSM guard's
 * lsm/file_open sees, with the programs attached and without, in the same
 * run. Rounds alternate detached/attached; the medians are compared.
 *
 * Targets (issue 5): unrelated syscalls <= 1.02x, mempolicy syscalls <= 1.25x.
 * Needs root; a layer the kernel refuses is reported as such, not measured.
 * usage: bench-enforcement-overhead [CALLS-PER-ROUND]  (default 200000; the instruction-counted
 * guest, whose figures do not vary with the host, runs fewer)
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bpf-guard.h"
#include "bpf-observe.h"
#include "log.h"

#define ROUNDS 7
#define CALLS_DEFAULT 200000
static int calls = CALLS_DEFAULT; /* per round; argv[1] sets it */

enum { CALL_GETPID, CALL_SET_MEMPOLICY, CALL_MBIND, CALL_OPEN, N_CALLS };
static const char *const call_names[N_CALLS] = { "getpid", "set_mempolicy", "mbind", "open+close" };
/* the target ratio per call; 0 = none given */
static const double targets[N_CALLS] = { 1.02, 1.25, 1.25, 0 };

static void *page;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static double measure(int call) {
        unsigned long node0 = 1;
        uint64_t t0 = now_ns();

        for (int i = 0; i < calls; i++)
                switch (call) {
                case CALL_GETPID:
                        (void) syscall(SYS_getpid);
                        break;
                case CALL_SET_MEMPOLICY:
                        (void) syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
                        break;
                case CALL_MBIND:
                        (void) syscall(SYS_mbind, page, 4096, MPOL_BIND, &node0, 64, 0);
                        break;
                case CALL_OPEN: {
                        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        if (fd >= 0)
                                close(fd);
                        break;
                }
                }
        return (double) (now_ns() - t0) / calls;
}

/* Let the work an attach or detach leaves to the kernel's threads (RCU callbacks, freeing the
 * programs and their trampolines) run before a round is measured, not during it: in the
 * instruction-counted guest every instruction the one vCPU runs is guest time, so the first
 * round after a detach paid for the detach (getpid came out at 0.92x "attached"). */
static void settle(void) {
        usleep(200 * 1000);
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v) {
        qsort(v, ROUNDS, sizeof *v, cmp);
        return v[ROUNDS / 2];
}

typedef struct Layer {
        const char *name;
        int (*attach)(void **handle, char **reason);
        void (*detach)(void *handle);
        bool targets;       /* the overhead targets apply (not to a cost the operator chose) */
} Layer;

static int observer_attach_how(void **h, bool allow_tracepoints, char **reason) {
        BpfObserver *o = NULL;
        NodeMask spm = {};
        int r = bpf_observer_new_pinned(false, NULL, allow_tracepoints, NULL, NULL, &o, NULL, reason);

        if (r < 0)
                return r;
        nodemask_set(&spm, 1); /* node 0 is not SPM: the calls are checked, none reported */
        (void) bpf_observer_set_spm_nodes(o, &spm);
        *h = o;
        return 0;
}

/* Observe=auto: fentry, or nothing */
static int observer_attach(void **h, char **reason) {
        return observer_attach_how(h, false, reason);
}

/* Observe=yes: the syscall tracepoints where fentry is refused; where fentry works it is what auto
 * measured, and is not measured again */
static int observer_yes_attach(void **h, char **reason) {
        int r = observer_attach_how(h, true, reason);

        if (r >= 0 && strcmp(bpf_observer_via(*h, NULL), "fentry") == 0) {
                bpf_observer_free(*h);
                *h = NULL;
                *reason = strdup("the same fentry programs as Observe=auto on this kernel");
                return -EEXIST;
        }
        return r;
}

static void observer_detach(void *h) {
        bpf_observer_free(h);
}

static int guard_attach(void **h, char **reason) {
        BpfGuard *g = NULL;
        int r = bpf_guard_new(true, true, NULL, NULL, &g, reason);

        if (r < 0)
                return r;
        *h = g;
        return 0;
}

static void guard_detach(void *h) {
        bpf_guard_free(h);
}

int main(int argc, char *argv[]) {
        static const Layer layers[] = {
                { "observer", observer_attach, observer_detach, true },
                { "observer (Observe=yes)", observer_yes_attach, observer_detach, false },
                { "guard", guard_attach, guard_detach, true },
        };
        struct utsname u;

        log_set_max_level(LOG_ERR);
        if (argc > 1 && ((calls = atoi(argv[1])) <= 0 || calls > 100000000)) {
                fprintf(stderr, "bench-enforcement-overhead: CALLS-PER-ROUND must be 1 to 100000000, not '%s'\n", argv[1]);
                return 2;
        }
        if (geteuid() != 0) {
                printf("bench-enforcement-overhead: needs root to load BPF programs; not measured\n");
                return 0;
        }
        if (access("/sys/kernel/tracing/events", F_OK) < 0)
                (void) mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
        page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
                return 1;
        uname(&u);
        printf("# kernel %s; %d rounds of %d calls, detached and attached alternating; median ns/call\n",
               u.release, ROUNDS, calls);

        int missed = 0;
        for (size_t l = 0; l < ELEMENTSOF(layers); l++) {
                double base[N_CALLS][ROUNDS], att[N_CALLS][ROUNDS];
                char *reason = NULL;
                void *h = NULL;

                int r = layers[l].attach(&h, &reason);
                if (r == -EEXIST) {
                        printf("bench/enforcement-overhead: %s: %s; not measured again\n", layers[l].name, reason);
                        free(reason);
                        continue;
                }
                if (r < 0) {
                        printf("bench/enforcement-overhead: %s: not attached: %s; nothing to measure (1.00x)\n",
                               layers[l].name, reason ? reason : "?");
                        free(reason);
                        continue;
                }
                layers[l].detach(h);
                for (int c = 0; c < N_CALLS; c++) /* warm caches and the CPU's clock up */
                        (void) measure(c);
                for (int round = 0; round < ROUNDS; round++) {
                        settle();
                        for (int c = 0; c < N_CALLS; c++)
                                base[c][round] = measure(c);
                        if (layers[l].attach(&h, &reason) < 0)
                                return 1;
                        settle();
                        for (int c = 0; c < N_CALLS; c++)
                                att[c][round] = measure(c);
                        layers[l].detach(h);
                }
                for (int c = 0; c < N_CALLS; c++) {
                        double b = median(base[c]), a = median(att[c]), ratio = a / b;
                        bool ok = !layers[l].targets || targets[c] == 0 || ratio <= targets[c];

                        printf("bench/enforcement-overhead: %s %s = %.3fx baseline (%.1f ns -> %.1f ns)", layers[l].name,
                               call_names[c], ratio, b, a);
                        if (layers[l].targets && targets[c] > 0)
                                printf("; target <= %.2fx: %s", targets[c], ok ? "met" : "MISSED");
                        else if (targets[c] > 0)
                                printf("; no target: a cost the operator chose");
                        printf("\n");
                        missed += !ok;
                }
        }
        return missed ? 1 : 0;
}
