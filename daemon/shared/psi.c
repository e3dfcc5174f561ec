/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "psi.h"

int psi_parse_some_total(const char *buf, uint64_t *ret) {
        /* "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345\nfull ..." */
        const char *p = strstr(buf, "some ");
        const char *t;

        if (!p || (p != buf && p[-1] != '\n'))
                return -EBADMSG;
        t = strstr(p, "total=");
        if (!t || (strchr(p, '\n') && t > strchr(p, '\n')))
                return -EBADMSG;
        if (sscanf(t, "total=%" SCNu64, ret) != 1)
                return -EBADMSG;
        return 0;
}

int psi_read_some_total(const char *path, HeldFile *held, uint64_t *ret) {
        char buf[512];
        ssize_t n = held_file_read(held, path, buf, sizeof buf);

        if (n < 0)
                return (int) n;
        return psi_parse_some_total(buf, ret);
}

static int write_trigger(int fd, uint64_t stall_usec, uint64_t window_usec) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "some %" PRIu64 " %" PRIu64, stall_usec, window_usec);

        /* the kernel takes the trigger with its terminating NUL */
        return write(fd, buf, (size_t) n + 1) < 0 ? -errno : 0;
}

int psi_open_trigger(const char *path, uint64_t stall_usec, uint64_t window_usec) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t w2;
        int r;

        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (stall_usec == 0)
                stall_usec = 1;
        if (stall_usec > window_usec)
                stall_usec = window_usec;
        r = write_trigger(fd, stall_usec, window_usec);
        /* without CAP_SYS_RESOURCE the kernel takes only windows in whole multiples of 2 s: the same
         * share over the next such window */
        w2 = (window_usec + PSI_UNPRIVILEGED_WINDOW_USEC - 1) / PSI_UNPRIVILEGED_WINDOW_USEC * PSI_UNPRIVILEGED_WINDOW_USEC;
        if (r == -EINVAL && w2 != window_usec && w2 <= 10 * PSI_UNPRIVILEGED_WINDOW_USEC / 2)
                r = write_trigger(fd, stall_usec * w2 / window_usec, w2);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

void psi_history_add(PsiHistory *h, uint64_t usec, uint64_t total) {
        /* readings closer than PSI_MIN_SPACING_USEC replace the newest, so that the history spans
         * PSI_HISTORY * 100 ms at least however often it is read */
        if (h->n > 0) {
                PsiReading *newest = &h->r[(h->next + PSI_HISTORY - 1) % PSI_HISTORY];
                if (h->n > 1 && usec - h->r[(h->next + PSI_HISTORY - 2) % PSI_HISTORY].usec < PSI_MIN_SPACING_USEC) {
                        *newest = (PsiReading){ usec, total };
                        return;
                }
        }
        h->r[h->next] = (PsiReading){ usec, total };
        h->next = (h->next + 1) % PSI_HISTORY;
        if (h->n < PSI_HISTORY)
                h->n++;
}

uint32_t psi_history_share(const PsiHistory *h, uint64_t window_usec) {
        const PsiReading *now, *old = NULL;
        uint64_t dt, ds;

        if (h->n < 2)
                return 0;
        now = &h->r[(h->next + PSI_HISTORY - 1) % PSI_HISTORY];
        /* the newest reading at least a window old; else the oldest */
        for (unsigned i = 1; i < h->n; i++) {
                const PsiReading *r = &h->r[(h->next + PSI_HISTORY - 1 - i) % PSI_HISTORY];
                old = r;
                if (now->usec - r->usec >= window_usec)
                        break;
        }
        dt = now->usec - old->usec;
        if (dt == 0 || now->total < old->total)
                return 0;
        ds = now->total - old->total;
        return ds >= dt ? 10000 : (uint32_t) (ds * 10000 / dt);
}
