/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

char *rootedv(char *buf, size_t len, const char *root, const char *fmt, va_list ap) {
        int n = snprintf(buf, len, "%s", root ? root : ""), k;

        assert(n >= 0 && (size_t) n < len);
        k = vsnprintf(buf + n, len - (size_t) n, fmt, ap);
        assert(k >= 0 && (size_t) k < len - (size_t) n);
        return buf;
}

char *rooted(char *buf, size_t len, const char *root, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        rootedv(buf, len, root, fmt, ap);
        va_end(ap);
        return buf;
}

int read_one_line(const char *path, char *buf, size_t len) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        assert(path);
        assert(buf);
        assert(len > 0);

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, len - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        if (n == 0)
                return -ENODATA;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

int write_one_value(const char *path, const char *value, WriteFlags flags) {
        size_t len;
        ssize_t n;
        int fd, r;

        assert(path);
        assert(value);

        fd = open(path, O_WRONLY | O_CLOEXEC | (flags & WRITE_TRUNCATE ? O_TRUNC : 0));
        if (fd < 0)
                return -errno;
        len = strlen(value);
        n = write(fd, value, len);
        r = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
        if (close(fd) < 0 && r == 0)
                r = -errno; /* a plain file's delayed error */
        return r;
}

void held_file_close(HeldFile *h) {
        if (!h || !h->path)
                return;
        (void) close(h->fd);
        h->path = mfree(h->path);
        h->fd = -EBADF;
}

static int held_file_open(HeldFile *h, const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        h->path = strdup(path);
        if (!h->path) {
                (void) close(fd);
                return -ENOMEM;
        }
        h->fd = fd;
        return 0;
}

ssize_t held_file_read(HeldFile *h, const char *path, char *buf, size_t len) {
        HeldFile once = {};
        ssize_t n;
        int r;

        assert(path);
        assert(buf);
        assert(len > 0);

        if (!h)
                h = &once;
        if (h->path && strcmp(h->path, path) != 0)
                held_file_close(h);
        for (;;) {
                bool fresh = !h->path;

                if (fresh) {
                        r = held_file_open(h, path);
                        if (r < 0)
                                return r;
                }
                n = pread(h->fd, buf, len - 1, 0);
                if (n >= 0)
                        break;
                r = -errno;
                held_file_close(h);
                if (fresh)
                        return r;
                /* the held one failed (removed with its node or cgroup): open the path again, once */
        }
        buf[n] = '\0';
        if (h == &once)
                held_file_close(h);
        return n;
}
