/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file I/O every layer uses: a value's line, a value written in one write() and what the
 * kernel says of it, and a file held open and read from its start again (the once-a-second
 * samples): fresh contents each read, one open, a failed held file opened again, a new path in its
 * place, nothing left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static unsigned open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void put(const char *path, const char *text) {
        /* in place, as the kernel's files change: the held fd sees it */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static int setup(void **state) {
        (void) state;
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[64];

        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Each read is the file as it is now, from the start, on the one descriptor opened first. */
static void test_held_reads_again(void **state) {
        HeldFile h = {};
        char p[128], buf[64];
        int fd;

        (void) state;
        snprintf(p, sizeof p, "%s/value", dir);
        put(p, "first line\nsecond\n");
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), 18);
        assert_string_equal(buf, "first line\nsecond\n");
        assert_non_null(h.path);
        fd = h.fd;
        put(p, "2\n");
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), 2);
        assert_string_equal(buf, "2\n");
        assert_int_equal(h.fd, fd);
        /* cut at len - 1, NUL-terminated */
        put(p, "0123456789");
        assert_int_equal(held_file_read(&h, p, buf, 5), 4);
        assert_string_equal(buf, "0123");
        held_file_close(&h);
        assert_null(h.path);
        held_file_close(&h); /* twice: nothing */
}

/* What the held reads rely on: a kernel file read again at offset 0 is formatted anew. */
static void test_kernel_file_formatted_anew(void **state) {
        HeldFile h = {};
        char a[128], b[128];
        struct timespec ts = { .tv_nsec = 30 * 1000 * 1000 };

        (void) state;
        assert_true(held_file_read(&h, "/proc/uptime", a, sizeof a) > 0);
        nanosleep(&ts, NULL); /* uptime counts hundredths */
        assert_true(held_file_read(&h, "/proc/uptime", b, sizeof b) > 0);
        assert_string_not_equal(a, b);
        held_file_close(&h);
}

/* A held file that fails to read (as a removed node's or cgroup's file does, -ENODEV) is opened
 * again from its path, once; a path that cannot be opened says why and holds nothing. */
static void test_failed_held_file_opened_again(void **state) {
        HeldFile h = {};
        char p[128], buf[64];

        (void) state;
        snprintf(p, sizeof p, "%s/again", dir);
        put(p, "old\n");
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), 4);
        /* the held descriptor now fails to read (a directory's: EISDIR) */
        close(h.fd);
        h.fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(h.fd >= 0);
        put(p, "new\n");
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), 4);
        assert_string_equal(buf, "new\n");
        assert_non_null(h.path);
        /* gone for good: the error, and nothing held */
        close(h.fd);
        h.fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), -ENOENT);
        assert_null(h.path);
        /* a path that opens but does not read: its error, nothing held */
        assert_int_equal(held_file_read(&h, dir, buf, sizeof buf), -EISDIR);
        assert_null(h.path);
}

/* Another path: the held file is let go and the new one read. Without a HeldFile, nothing stays open. */
static void test_other_path_and_none(void **state) {
        HeldFile h = {};
        char p[128], q[128], buf[64];
        unsigned before;

        (void) state;
        snprintf(p, sizeof p, "%s/p", dir);
        snprintf(q, sizeof q, "%s/q", dir);
        put(p, "p\n");
        put(q, "q\n");
        before = open_fds();
        assert_int_equal(held_file_read(&h, p, buf, sizeof buf), 2);
        assert_int_equal(open_fds(), before + 1);
        assert_int_equal(held_file_read(&h, q, buf, sizeof buf), 2);
        assert_string_equal(buf, "q\n");
        assert_string_equal(h.path, q);
        assert_int_equal(open_fds(), before + 1);
        held_file_close(&h);
        assert_int_equal(open_fds(), before);
        assert_int_equal(held_file_read(NULL, p, buf, sizeof buf), 2);
        assert_string_equal(buf, "p\n");
        assert_int_equal(held_file_read(NULL, "/nonexistent/file", buf, sizeof buf), -ENOENT);
        assert_int_equal(open_fds(), before);
}

/* A path under a test's root, or the live tree's with no root. */
static void test_rooted(void **state) {
        char p[32];

        (void) state;
        assert_string_equal(rooted(p, sizeof p, "/tmp/tree", "/sys/node%u/%s", 1u, "online"),
                            "/tmp/tree/sys/node1/online");
        assert_string_equal(rooted(p, sizeof p, "", "/sys/node%u", 2u), "/sys/node2");
        assert_string_equal(rooted(p, sizeof p, NULL, "/sys"), "/sys");
}

/* One line of a file; an empty file is -ENODATA, a long line cut. */
static void test_read_one_line(void **state) {
        char p[128], buf[8];

        (void) state;
        snprintf(p, sizeof p, "%s/line", dir);
        put(p, "0-1\nsecond\n");
        assert_int_equal(read_one_line(p, buf, sizeof buf), 0);
        assert_string_equal(buf, "0-1");
        put(p, "");
        assert_int_equal(read_one_line(p, buf, sizeof buf), -ENODATA);
        put(p, "0123456789\n");
        assert_int_equal(read_one_line(p, buf, sizeof buf), 0);
        assert_string_equal(buf, "0123456");
        assert_int_equal(read_one_line("/nonexistent/file", buf, sizeof buf), -ENOENT);
}

/* A value written whole; truncating only when asked; no file made; the kernel's refusal returned. */
static void test_write_one_value(void **state) {
        char p[128], buf[32];

        (void) state;
        snprintf(p, sizeof p, "%s/value-w", dir);
        put(p, "0-1\n");
        assert_int_equal(write_one_value(p, "3", 0), 0); /* as sysfs would take it: over the old */
        assert_int_equal(read_one_line(p, buf, sizeof buf), 0);
        assert_string_equal(buf, "3-1");
        assert_int_equal(write_one_value(p, "3", WRITE_TRUNCATE), 0);
        assert_int_equal(read_one_line(p, buf, sizeof buf), 0);
        assert_string_equal(buf, "3");
        snprintf(p, sizeof p, "%s/absent", dir);
        assert_int_equal(write_one_value(p, "1", 0), -ENOENT);
        assert_int_equal(access(p, F_OK), -1);
        /* what the kernel refuses comes back from the write */
        assert_int_equal(write_one_value("/proc/self/oom_score_adj", "not a number", 0), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rooted),
                cmocka_unit_test(test_read_one_line),
                cmocka_unit_test(test_write_one_value),
                cmocka_unit_test(test_held_reads_again),
                cmocka_unit_test(test_kernel_file_formatted_anew),
                cmocka_unit_test(test_failed_held_file_opened_again),
                cmocka_unit_test(test_other_path_and_none),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
