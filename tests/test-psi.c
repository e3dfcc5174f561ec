/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSI: parsing the pressure files, the stall share over a window, and a real trigger on this kernel. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "psi.h"

#define MS 1000ull

static void test_parse(void **state) {
        uint64_t t = 0;

        (void) state;
        assert_int_equal(psi_parse_some_total("some avg10=1.50 avg60=0.20 avg300=0.00 total=123456\n"
                                              "full avg10=0.00 avg60=0.00 avg300=0.00 total=99\n",
                                              &t),
                         0);
        assert_int_equal(t, 123456);
        /* "full" alone, garbage, an empty file */
        assert_int_equal(psi_parse_some_total("full avg10=0.00 avg60=0.00 avg300=0.00 total=99\n", &t), -EBADMSG);
        assert_int_equal(psi_parse_some_total("some avg10=0.00\nfull total=5\n", &t), -EBADMSG);
        assert_int_equal(psi_parse_some_total("", &t), -EBADMSG);
        assert_int_equal(psi_parse_some_total("some total=banana\n", &t), -EBADMSG);
}

static void test_share(void **state) {
        PsiHistory h = {};

        (void) state;
        assert_int_equal(psi_history_share(&h, 2000 * MS), 0);
        psi_history_add(&h, 0, 0);
        assert_int_equal(psi_history_share(&h, 2000 * MS), 0); /* one reading: no interval */
        /* 100 ms of stall per second for 5 s: 10% */
        for (unsigned i = 1; i <= 5; i++)
                psi_history_add(&h, i * 1000 * MS, i * 100 * MS);
        assert_int_equal(psi_history_share(&h, 2000 * MS), 1000);
        /* then a second fully stalled: over a 2 s window (4 s -> 6 s) 1.1 s of stall: 55% */
        psi_history_add(&h, 6000 * MS, 1500 * MS);
        assert_int_equal(psi_history_share(&h, 2000 * MS), 5500);
        /* over a 1 s window: 100% */
        assert_int_equal(psi_history_share(&h, 1000 * MS), 10000);
        /* a counter that went backwards (a new cgroup of the same name): no share */
        psi_history_add(&h, 7000 * MS, 10);
        assert_int_equal(psi_history_share(&h, 1000 * MS), 0);
}

/* Readings 10 ms apart do not push the window out of the history. */
static void test_spacing(void **state) {
        PsiHistory h = {};

        (void) state;
        for (unsigned i = 0; i <= 500; i++) /* 5 s, a reading every 10 ms, 20% stall */
                psi_history_add(&h, i * 10 * MS, i * 2 * MS);
        assert_true(h.n < PSI_HISTORY);
        assert_int_equal(psi_history_share(&h, 2000 * MS), 2000);
}

/* The kernel takes a trigger on the system's memory PSI and the file reads. */
static void test_real_trigger(void **state) {
        uint64_t t;
        int fd;

        (void) state;
        if (access("/proc/pressure/memory", R_OK) < 0) {
                printf("SKIP: no /proc/pressure/memory on this kernel\n");
                skip();
        }
        assert_int_equal(psi_read_some_total("/proc/pressure/memory", NULL, &t), 0);
        fd = psi_open_trigger("/proc/pressure/memory", 150 * MS, 1000 * MS);
        if (fd == -EPERM || fd == -EACCES) {
                printf("SKIP: triggers need privileges here (%s)\n", strerror(-fd));
                skip();
        }
        assert_true(fd >= 0);
        /* an idle machine: no POLLPRI within 100 ms, and no error */
        struct pollfd p = { .fd = fd, .events = POLLPRI };
        assert_true(poll(&p, 1, 100) >= 0);
        assert_false(p.revents & (POLLERR | POLLNVAL));
        close(fd);
        /* a window the kernel refuses in any case (it takes 500 ms .. 10 s) */
        fd = psi_open_trigger("/proc/pressure/memory", 100 * MS, 20000 * MS);
        assert_int_equal(fd, -EINVAL);
        assert_int_equal(psi_read_some_total("/nonexistent/memory.pressure", NULL, &t), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_share),
                cmocka_unit_test(test_spacing),
                cmocka_unit_test(test_real_trigger),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
