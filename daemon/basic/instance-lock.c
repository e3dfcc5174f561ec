/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance-lock.h"
#include "macro.h"

static int lock_path(const char *dir, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/" SPMD_LOCK_FILE, dir);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static pid_t read_pid(int fd) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        long v;
        char *end;

        if (n <= 0)
                return -1;
        buf[n] = '\0';
        v = strtol(buf, &end, 10);
        return end != buf && v > 0 && v <= INT_MAX ? (pid_t) v : -1;
}

int instance_lock_take(const char *dir, pid_t *ret_holder) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char path[PATH_MAX], pid[32];
        int fd, r, n;

        *ret_holder = 0;
        if ((r = lock_path(dir, path, sizeof path)) < 0)
                return r;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                r = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
                if (r == -EBUSY)
                        *ret_holder = read_pid(fd) > 0 ? read_pid(fd) : 0;
                close(fd);
                return r;
        }
        n = snprintf(pid, sizeof pid, "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t) n, 0) != n) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

pid_t instance_lock_holder(const char *dir) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char path[PATH_MAX];
        pid_t pid;
        int fd, r;

        if ((r = lock_path(dir, path, sizeof path)) < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        pid = fl.l_type == F_UNLCK ? 0 : read_pid(fd);
        close(fd);
        return pid;
}
