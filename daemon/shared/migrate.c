/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "migrate.h"

typedef struct Range {
        uint64_t start, end;
} Range;

/* The start addresses of pid's mappings that have pages on a node in from (numa_maps: the kernel
 * walks only what is populated), in address order. */
static int populated_starts(pid_t pid, const NodeMask *from, uint64_t **ret, size_t *ret_n) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ uint64_t *v = NULL;
        size_t n = 0, cap = 0, len = 0;
        char path[64];

        snprintf(path, sizeof path, "/proc/%d/numa_maps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (getline(&line, &len, f) > 0) {
                char *save = NULL, *t = strtok_r(line, " \n", &save);
                uint64_t start;
                bool on = false;

                if (!t || sscanf(t, "%" SCNx64, &start) != 1)
                        continue;
                while (!on && (t = strtok_r(NULL, " \n", &save))) {
                        unsigned node;
                        uint64_t count;
                        on = sscanf(t, "N%u=%" SCNu64, &node, &count) == 2 && count > 0 && nodemask_test(from, node);
                }
                if (!on)
                        continue;
                if (n == cap) {
                        uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                v[n++] = start;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* The process's mappings from addr on that have pages on a node in from, in order: sparse
 * reservations (a JVM's heap, a sanitizer's shadow) are never walked page by page. */
static int read_ranges(pid_t pid, const NodeMask *from, uint64_t addr, uint64_t end, bool anon_only, Range **ret,
                       size_t *ret_n) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ Range *r = NULL;
        _cleanup_free_ uint64_t *starts = NULL;
        size_t n = 0, cap = 0, len = 0, n_starts = 0, si = 0;
        char path[64];
        int k;

        k = populated_starts(pid, from, &starts, &n_starts);
        if (k < 0)
                return k;

        snprintf(path, sizeof path, "/proc/%d/maps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (getline(&line, &len, f) > 0) {
                uint64_t s, e;
                char perms[8];
                int name_at = 0;

                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n", &s, &e, perms, &name_at) < 3)
                        continue;
                /* [vsyscall], [vvar], [vdso]: no pages of the process's own to move */
                if (name_at > 0 && strncmp(line + name_at, "[v", 2) == 0)
                        continue;
                /* a file's mapping (its private copies included) is not anonymous memory */
                if (anon_only && name_at > 0 && line[name_at] != '\n' && line[name_at] != 0 &&
                    strncmp(line + name_at, "[heap]", 6) != 0 && strncmp(line + name_at, "[stack]", 7) != 0 &&
                    strncmp(line + name_at, "[anon:", 6) != 0)
                        continue;
                while (si < n_starts && starts[si] < s)
                        si++;
                if (si >= n_starts || starts[si] != s)
                        continue; /* nothing of it on the source nodes */
                if (e <= addr)
                        continue;
                if (s < addr)
                        s = addr;
                if (end && s >= end)
                        break;
                if (end && e > end)
                        e = end;
                if (n == cap) {
                        Range *nr = realloc(r, (cap = cap ? cap * 2 : 64) * sizeof *r);
                        if (!nr)
                                return -ENOMEM;
                        r = nr;
                }
                r[n++] = (Range){ s, e };
        }
        if (ferror(f))
                return -EIO;
        *ret = TAKE_PTR(r);
        *ret_n = n;
        return 0;
}

static void count_status(MigrateStats *st, int s, int to) {
        if (s == to) {
                st->moved++;
                return;
        }
        if (s >= 0) { /* landed elsewhere: does not happen with one target; count as not moved */
                st->failed++;
                return;
        }
        st->last_error = s;
        if (s == -EBUSY || s == -EAGAIN)
                st->busy++;
        else if (s == -ENOMEM)
                st->no_memory++;
        else
                st->failed++;
}

#define KPF_THP 22 /* /proc/kpageflags: part of a transparent huge page */
#define THP_PAGES 512

static bool in_cold_range(const MigrateCold *cold, uint64_t start, uint64_t end) {
        size_t lo = 0, hi = cold->n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (start < cold->ranges[mid].start)
                        hi = mid;
                else if (start >= cold->ranges[mid].end)
                        lo = mid + 1;
                else
                        return end <= cold->ranges[mid].end;
        }
        return false;
}

/* Is the page at addr in a cold range? Unknown frames (not present, no PFN) are not. A page of a
 * transparent huge page moves with all of it, so the whole huge page must be in one cold range
 * (kpageflags tells; without it each page counts alone); *ret_head is then the huge page's first
 * frame, else UINT64_MAX. */
static bool page_is_cold(int pagemap, int kpageflags, MigrateCold *cold, uint64_t addr, uint64_t page,
                         uint64_t *ret_head) {
        uint64_t e, pfn, flags;

        *ret_head = UINT64_MAX;
        if (pread(pagemap, &e, sizeof e, (off_t) (addr / page * sizeof e)) != (ssize_t) sizeof e)
                return false;
        if (!(e >> 63 & 1))
                return false; /* not present (swapped out): not on the node either */
        if ((e & ((UINT64_C(1) << 55) - 1)) == 0) {
                cold->no_pfn = true;
                return false;
        }
        pfn = e & ((UINT64_C(1) << 55) - 1);
        if (kpageflags >= 0 && pread(kpageflags, &flags, sizeof flags, (off_t) (pfn * sizeof flags)) == (ssize_t) sizeof flags &&
            (flags >> KPF_THP & 1)) {
                uint64_t head = pfn & ~(uint64_t) (THP_PAGES - 1);
                *ret_head = head;
                return in_cold_range(cold, head * page, (head + THP_PAGES) * page);
        }
        return in_cold_range(cold, pfn * page, (pfn + 1) * page);
}

int64_t migrate_move_pages(MigrateCursor *cur, const NodeMask *from, int to, uint32_t batch, uint64_t max_pages,
                           MigrateStats *st) {
        _cleanup_free_ Range *ranges = NULL;
        _cleanup_free_ void **pages = NULL, **move = NULL;
        _cleanup_free_ int *status = NULL, *nodes = NULL;
        _cleanup_free_ uint32_t *weight = NULL;
        _cleanup_close_ int pagemap = -EBADF, kpageflags = -EBADF;
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        size_t n_ranges = 0, ri = 0;
        int64_t moved = 0;
        uint64_t scanned = 0, last_head = UINT64_MAX;
        bool stopped = false;
        uint64_t addr;
        int r;

        if (batch == 0)
                batch = 1;
        if (cur->done)
                return 0;
        r = read_ranges(cur->pid, from, cur->next_addr, cur->end_addr, cur->private_anon, &ranges, &n_ranges);
        if (r < 0)
                return r;
        if (cur->cold) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/pagemap", (int) cur->pid);
                pagemap = open(path, O_RDONLY | O_CLOEXEC);
                if (pagemap < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
                kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC); /* root only; optional */
        }
        pages = calloc(batch, sizeof *pages);
        move = calloc(batch, sizeof *move);
        status = calloc(batch, sizeof *status);
        nodes = calloc(batch, sizeof *nodes);
        weight = calloc(batch, sizeof *weight);
        if (!pages || !move || !status || !nodes || !weight)
                return -ENOMEM;

        addr = n_ranges > 0 ? ranges[0].start : 0;
        for (;;) {
                size_t n = 0, k = 0;
                uint64_t stop_at = 0;

                if ((max_pages && (uint64_t) moved >= max_pages) || scanned >= MIGRATE_SCAN_MAX) {
                        stopped = true;
                        break;
                }
                while (n < batch && ri < n_ranges) {
                        if (addr >= ranges[ri].end) {
                                if (++ri < n_ranges)
                                        addr = ranges[ri].start;
                                continue;
                        }
                        pages[n++] = (void *) (uintptr_t) addr;
                        addr += page;
                }
                if (n == 0)
                        break; /* the end of the address space */
                if (syscall(SYS_move_pages, cur->pid, (unsigned long) n, pages, NULL, status, 0) < 0) {
                        r = -errno;
                        if (r == -ESRCH)
                                return r;
                        /* the layout changed under us (munmap): go on from where we are */
                        log_debug_errno(r, "move_pages(%d) query of %zu pages failed: %m", (int) cur->pid, n);
                        continue;
                }
                st->calls++;
                st->scanned += n;
                scanned += n;
                uint64_t charged = 0;
                for (size_t i = 0; i < n; i++) {
                        uint64_t head = UINT64_MAX;
                        uint32_t w;

                        if (status[i] < 0 || !nodemask_test(from, (unsigned) status[i]))
                                continue;
                        if (cur->cold && !cur->cold->no_pfn &&
                            !page_is_cold(pagemap, kpageflags, cur->cold, (uint64_t) (uintptr_t) pages[i], page,
                                          &head)) {
                                cur->cold->not_cold++;
                                continue;
                        }
                        /* where a huge page is known, all of it counts, once: it moves whole */
                        w = head == UINT64_MAX || !cur->whole_huge_pages ? 1 : head == last_head ? 0 : THP_PAGES;
                        if (max_pages && (uint64_t) moved + charged + w > max_pages) {
                                stop_at = (uint64_t) (uintptr_t) pages[i]; /* resume here next time */
                                break;
                        }
                        if (head != UINT64_MAX)
                                last_head = head;
                        charged += w;
                        move[k] = pages[i];
                        nodes[k] = to;
                        weight[k] = w;
                        k++;
                }
                if (k > 0) {
                        st->found += k;
                        st->calls++;
                        if (syscall(SYS_move_pages, cur->pid, (unsigned long) k, move, nodes, status,
                                    cur->private_anon ? MPOL_MF_MOVE : MPOL_MF_MOVE_ALL) < 0) {
                                r = -errno;
                                if (r == -ESRCH)
                                        return r;
                                /* the call as a whole failed: every page stays where it was */
                                for (size_t i = 0; i < k; i++)
                                        count_status(st, r, to);
                        } else
                                for (size_t i = 0; i < k; i++) {
                                        count_status(st, status[i], to);
                                        if (status[i] == to)
                                                moved += weight[i];
                                }
                }
                if (stop_at) {
                        addr = stop_at;
                        stopped = true;
                        break;
                }
        }
        cur->done = !stopped;
        cur->next_addr = stopped ? addr : 0;
        return moved;
}

int64_t migrate_evacuate(MigrateCursor *cur, const NodeMask *from, int to, uint32_t batch, uint64_t max_pages,
                         MigrateStats *st) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        NodeMask target = {};
        int64_t before, after;
        long r;

        if (cur->done)
                return 0;
        if (!cur->sized && cur->next_addr == 0) {
                before = migrate_bytes_on_nodes(cur->pid, from);
                if (before < 0)
                        return before;
                cur->sized = true;
                cur->on_from = (uint64_t) before / page;
        }
        if (cur->cold || cur->next_addr != 0 || cur->end_addr != 0 || (max_pages != 0 && cur->on_from > max_pages))
                return migrate_move_pages(cur, from, to, batch, max_pages, st);

        nodemask_set(&target, (unsigned) to);
        r = migrate_whole_process(cur->pid, from, &target);
        st->calls++;
        if (r == -ESRCH)
                return r;
        after = migrate_bytes_on_nodes(cur->pid, from);
        if (after == -ESRCH)
                return after;
        cur->done = true;
        st->scanned += cur->on_from;
        st->found += cur->on_from;
        if (r < 0 || after < 0) {
                /* the call failed as a whole: nothing moved that we know of */
                st->failed += cur->on_from;
                st->last_error = (int) (r < 0 ? r : after);
                return 0;
        }
        uint64_t left = MIN((uint64_t) after / page, cur->on_from), moved = cur->on_from - left;
        st->moved += moved;
        st->busy += left; /* still there: busy, pinned or raced in; the next pass retries them */
        if (left)
                st->last_error = -EBUSY;
        return (int64_t) moved;
}

long migrate_whole_process(pid_t pid, const NodeMask *from, const NodeMask *to) {
        long r = syscall(SYS_migrate_pages, pid, (unsigned long) SPMD_MAX_NODES + 1, from->bits, to->bits);

        return r < 0 ? -errno : r;
}

int64_t migrate_bytes_on_nodes(pid_t pid, const NodeMask *mask) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char path[64];
        size_t len = 0;
        int64_t sum = 0;

        snprintf(path, sizeof path, "/proc/%d/numa_maps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        /* "7f.. default anon=3 dirty=3 N1=3 kernelpagesize_kB=4": counts are in the mapping's page size,
         * which comes last */
        while (getline(&line, &len, f) > 0) {
                int64_t pages = 0, kb = 4;
                char *save = NULL;

                for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
                        unsigned node;
                        int64_t count;

                        if (sscanf(t, "N%u=%" SCNd64, &node, &count) == 2 && nodemask_test(mask, node))
                                pages += count;
                        else if (strncmp(t, "kernelpagesize_kB=", 18) == 0)
                                kb = strtoll(t + 18, NULL, 10);
                }
                sum += pages * kb * 1024;
        }
        return sum;
}
