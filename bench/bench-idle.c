/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmd's footprint while nothing happens: its RSS and CPU time over 60 s
 * with one SPM node, its default enforcement and pressure watching on
 * (free memory sampled once a second, the ratio and PSI followed by events).
 * Printed as ratios against the targets (issue 7: RSS <= 8 MiB, CPU <= 0.1%
 * of one CPU), with the CPU time of the first 60 s (start-up included)
 * against the idle window measured after it.
 *
 * usage: bench-idle SPMD DAX [SECONDS]   (scripts/bench runs it in the test guest)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"

#define DIR_ "/tmp/bench-idle"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* utime + stime of pid from /proc/PID/stat, seconds, in clock ticks */
static double cpu_ticks_s(pid_t pid) {
        char p[64], buf[1024], *s;
        unsigned long ut = 0, st = 0;

        snprintf(p, sizeof p, "/proc/%d/stat", (int) pid);
        if (read_one_line(p, buf, sizeof buf) < 0)
                return -1;
        s = strrchr(buf, ')');
        if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return -1;
        return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static const char *cpu_source = "schedstat"; /* what cpu_s() read */

/* The time pid's threads spent on a CPU, seconds, in nanoseconds as the scheduler counts it
 * (/proc/PID/task/TID/schedstat): utime and stime count clock ticks, 10 ms apiece at HZ=100,
 * too coarse for the 20 ms spmd spends in 20 idle seconds. -1 without schedstat. */
static double cpu_sched_s(pid_t pid) {
        char p[64];
        struct dirent *de;
        double sum = 0;
        bool any = false;
        DIR *d;

        snprintf(p, sizeof p, "/proc/%d/task", (int) pid);
        d = opendir(p);
        if (!d)
                return -1;
        while ((de = readdir(d))) {
                char q[384];
                unsigned long long ns;
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(q, sizeof q, "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
                f = fopen(q, "re");
                if (!f)
                        continue;
                if (fscanf(f, "%llu", &ns) == 1) {
                        sum += (double) ns / 1e9;
                        any = true;
                }
                fclose(f);
        }
        closedir(d);
        return any ? sum : -1;
}

/* utime + stime of pid, seconds (schedstat's figure where there is one) */
static double cpu_s(pid_t pid) {
        double sched = cpu_sched_s(pid);

        if (sched >= 0)
                return sched;
        cpu_source = "clock ticks";
        return cpu_ticks_s(pid);
}


static long rss_kb(pid_t pid) {
        char p[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

static bool log_has(const char *s) {
        char line[1024];
        bool found = false;
        FILE *f = fopen(DIR_ "/spmd.log", "re");

        while (f && !found && fgets(line, sizeof line, f))
                found = strstr(line, s) != NULL;
        if (f)
                fclose(f);
        return found;
}

int main(int argc, char *argv[]) {
        const char *spmd = argc > 1 ? argv[1] : NULL, *dax = argc > 2 ? argv[2] : NULL;
        double secs = argc > 3 ? atof(argv[3]) : 60, t0, c0, t1, c1, start;
        long rss_max = 0;
        char conf[512];
        pid_t pid;
        int fd;

        if (!spmd || !dax) {
                printf("bench/idle: needs spmd and a dax device for an SPM node (scripts/bench runs it in the test "
                       "guest: bench-idle SPMD DAX [SECONDS]); not measured\n");
                return 0;
        }
        mkdir(DIR_, 0755);
        snprintf(conf, sizeof conf, "[Device]\nMatch=%s\n", dax);
        fd = open(DIR_ "/spmd.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, conf, strlen(conf)) < 0)
                return 1;
        close(fd);
        start = now_s();
        pid = fork();
        if (pid == 0) {
                int lfd = open(DIR_ "/spmd.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(lfd, 1);
                dup2(lfd, 2);
                execl(spmd, spmd, "--config", DIR_ "/spmd.conf", "--log-target", "console", (char *) NULL);
                _exit(127);
        }
        while (!log_has("running with")) {
                if (now_s() - start > 60 || waitpid(pid, NULL, WNOHANG) == pid) {
                        printf("bench/idle: spmd did not start (see " DIR_ "/spmd.log)\n");
                        kill(pid, SIGKILL);
                        return 1;
                }
                usleep(10000);
        }
        if (!log_has("SPM node")) {
                printf("bench/idle: spmd runs without an SPM node (see " DIR_ "/spmd.log); not measured\n");
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                return 1;
        }
        sleep(2); /* settle: the first samples, the BPF programs attached */
        t0 = now_s();
        c0 = cpu_s(pid);
        while (now_s() - t0 < secs) {
                long r = rss_kb(pid);
                rss_max = r > rss_max ? r : rss_max;
                sleep(1);
        }
        t1 = now_s();
        c1 = cpu_s(pid);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);

        double cpu_pct = 100.0 * (c1 - c0) / (t1 - t0), rss_mib = (double) rss_max / 1024;
        printf("# spmd idle for %.0f s with one SPM node (%s), default enforcement; start-up took %.2f s of CPU\n",
               t1 - t0, dax, c0);
        printf("bench/idle: RSS = %.2fx the 8 MiB target (%.1f MiB at most); target met: %s\n", rss_mib / 8, rss_mib,
               rss_mib <= 8 ? "yes" : "NO");
        printf("bench/idle: CPU = %.3fx the 0.1%% target (%.4f%% of one CPU, %.4f s in %.0f s, %s); target met: %s\n",
               cpu_pct / 0.1, cpu_pct, c1 - c0, t1 - t0, cpu_source,
               cpu_pct <= 0.1 ? "yes" : "NO");
        return 0;
}
