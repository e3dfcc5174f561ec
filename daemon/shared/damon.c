/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "damon.h"
#include "fileio.h"
#include "macro.h"
#include "parse-util.h"

#define KDAMONDS DAMON_ADMIN "/kdamonds"

/* Write value to the file fmt names under root; on failure say which file and why in err. */
static int put(const char *root, char *err, size_t err_len, const char *value, const char *fmt, ...)
        _printf_(5, 6);
static int put(const char *root, char *err, size_t err_len, const char *value, const char *fmt, ...) {
        char path[512];
        size_t n = root ? strlen(root) : 0;
        va_list ap;
        int r;

        va_start(ap, fmt);
        rootedv(path, sizeof path, root, fmt, ap);
        va_end(ap);
        /* O_TRUNC means nothing to sysfs; to a plain file (a test's tree) it means the value is all there is */
        r = write_one_value(path, value, WRITE_TRUNCATE);
        if (r < 0 && err)
                snprintf(err, err_len, "writing \"%s\" to %s: %s", value, path + n, strerror(-r));
        return r;
}

static int put_u64(const char *root, char *err, size_t err_len, uint64_t v, const char *dir, const char *leaf) {
        char buf[32];

        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return put(root, err, err_len, buf, "%s/%s", dir, leaf);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int damon_range_cmp(const void *a, const void *b) {
        const DamonRange *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

int damon_node_ranges(const char *root, unsigned node, DamonRange **ret, size_t *ret_n) {
        char path[512], buf[64];
        _cleanup_free_ uint64_t *blocks = NULL;
        size_t n = 0, cap = 0, k = 0;
        uint64_t block_size;
        DamonRange *out;
        DIR *d;
        struct dirent *de;
        int r;

        r = read_one_line(rooted(path, sizeof path, root, "/sys/devices/system/memory/block_size_bytes"), buf,
                          sizeof buf);
        if (r < 0)
                return r;
        errno = 0;
        block_size = strtoull(buf, NULL, 16);
        if (errno || block_size == 0)
                return -EINVAL;
        d = opendir(rooted(path, sizeof path, root, "/sys/devices/system/node/node%u", node));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                uint64_t id;
                char state[32];

                if (strncmp(de->d_name, "memory", 6) != 0 || parse_uint64(de->d_name + 6, &id) < 0)
                        continue;
                if (read_one_line(rooted(path, sizeof path, root, "/sys/devices/system/node/node%u/%s/online", node,
                                         de->d_name),
                                  state, sizeof state) < 0 ||
                    strcmp(state, "1") != 0)
                        continue;
                if (n == cap) {
                        uint64_t *nb = realloc(blocks, (cap = cap ? cap * 2 : 64) * sizeof *nb);
                        if (!nb) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        blocks = nb;
                }
                blocks[n++] = id;
        }
        closedir(d);
        /* ids ascending, then runs of consecutive ids become one range */
        if (n > 1)
                qsort(blocks, n, sizeof *blocks, cmp_u64);
        out = calloc(n ? n : 1, sizeof *out);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (k > 0 && out[k - 1].end == blocks[i] * block_size)
                        out[k - 1].end += block_size;
                else
                        out[k++] = (DamonRange) { blocks[i] * block_size, (blocks[i] + 1) * block_size };
        }
        *ret = out;
        *ret_n = k;
        return 0;
}

int damon_probe(const char *root, char *why, size_t why_len) {
        char path[512];

        if (access(rooted(path, sizeof path, root, KDAMONDS "/nr_kdamonds"), F_OK) < 0) {
                snprintf(why, why_len, "no DAMON sysfs interface (%s: %s; the kernel needs CONFIG_DAMON_SYSFS)",
                         KDAMONDS "/nr_kdamonds", strerror(errno));
                return -ENOENT;
        }
        if (access(path, W_OK) < 0) {
                snprintf(why, why_len, "cannot write %s: %s", KDAMONDS "/nr_kdamonds", strerror(errno));
                return -errno;
        }
        return 0;
}

static int nr_kdamonds(const char *root) {
        char path[512], buf[32];
        uint64_t n;
        int r = read_one_line(rooted(path, sizeof path, root, KDAMONDS "/nr_kdamonds"), buf, sizeof buf);

        if (r < 0)
                return r;
        if (parse_uint64(buf, &n) < 0 || n > 1024)
                return -EINVAL;
        return (int) n;
}

bool damon_running(const char *root, unsigned k) {
        char path[512], buf[32];

        return read_one_line(rooted(path, sizeof path, root, KDAMONDS "/%u/state", k), buf, sizeof buf) == 0 &&
               strcmp(buf, "on") == 0;
}

int damon_pid(const char *root, unsigned k) {
        char path[512], buf[32];
        uint64_t pid;

        if (read_one_line(rooted(path, sizeof path, root, KDAMONDS "/%u/pid", k), buf, sizeof buf) < 0 ||
            parse_uint64(buf, &pid) < 0 || pid > INT32_MAX)
                return 0;
        return (int) pid;
}

int damon_stop(const char *root, unsigned k) {
        char path[512];

        if (!damon_running(root, k))
                return 0;
        return write_one_value(rooted(path, sizeof path, root, KDAMONDS "/%u/state", k), "off", WRITE_TRUNCATE);
}

static unsigned claimed_before(const char *state_file) {
        _cleanup_fclose_ FILE *f = state_file ? fopen(state_file, "re") : NULL;
        unsigned n = 0;

        if (f && fscanf(f, "kdamonds=%u", &n) != 1)
                n = 0;
        return n;
}

int damon_claim(const char *root, unsigned n, const char *state_file, char *why, size_t why_len) {
        char path[512];
        int have = nr_kdamonds(root), r;
        unsigned ours = claimed_before(state_file);

        if (have < 0) {
                snprintf(why, why_len, "cannot read %s: %s", KDAMONDS "/nr_kdamonds", strerror(-have));
                return have;
        }
        if (have > 0 && (unsigned) have != ours) {
                snprintf(why, why_len,
                         "DAMON is in use: %d kdamond(s) in %s that spmd did not set up (spmd takes DAMON only "
                         "when nr_kdamonds is 0)",
                         have, KDAMONDS);
                return -EBUSY;
        }
        if (have > 0) {
                /* left by an spmd that did not stop cleanly: ours to take back */
                for (unsigned k = 0; k < (unsigned) have; k++)
                        (void) damon_stop(root, k);
                if (have == (int) n)
                        return 0;
        }
        snprintf(path, sizeof path, "%u", n);
        r = put(root, why, why_len, path, KDAMONDS "/nr_kdamonds");
        if (r < 0)
                return r;
        if (state_file) {
                _cleanup_fclose_ FILE *f = fopen(state_file, "we");
                if (f)
                        fprintf(f, "kdamonds=%u\n", n);
        }
        /* the action this needs is a 6.11 one: the scheme directory shows it with target_nid */
        r = put(root, why, why_len, "1", KDAMONDS "/0/contexts/nr_contexts");
        if (r >= 0)
                r = put(root, why, why_len, "1", KDAMONDS "/0/contexts/0/schemes/nr_schemes");
        if (r >= 0 &&
            access(rooted(path, sizeof path, root, KDAMONDS "/0/contexts/0/schemes/0/target_nid"), F_OK) < 0) {
                snprintf(why, why_len,
                         "this kernel's DAMON cannot migrate pages to a node (no schemes/N/target_nid: "
                         "migrate_cold came with Linux 6.11)");
                r = -EOPNOTSUPP;
        }
        if (r >= 0 && (r = put(root, why, why_len, "migrate_cold", KDAMONDS "/0/contexts/0/schemes/0/action")) < 0)
                snprintf(why, why_len, "this kernel's DAMON has no migrate_cold action (%s)", strerror(-r));
        if (r >= 0 && (r = put(root, why, why_len, "paddr", KDAMONDS "/0/contexts/0/operations")) < 0)
                snprintf(why, why_len, "this kernel's DAMON cannot monitor physical memory (paddr: %s)",
                         strerror(-r));
        if (r < 0)
                damon_release(root, state_file);
        return r;
}

void damon_release(const char *root, const char *state_file) {
        int have = nr_kdamonds(root);
        char path[512];

        for (int k = 0; k < have; k++)
                (void) damon_stop(root, (unsigned) k);
        if (have > 0)
                (void) write_one_value(rooted(path, sizeof path, root, KDAMONDS "/nr_kdamonds"), "0", WRITE_TRUNCATE);
        if (state_file)
                (void) unlink(state_file);
}

static int put_scheme(const char *root, const char *s, const DamonScheme *sc, char *err, size_t err_len) {
        char buf[32];
        int r, nf = (sc->memcg_path ? 1 : 0) + (sc->anon_only ? 1 : 0) + (sc->young >= 0 ? 1 : 0), f = 0;

        if ((r = put(root, err, err_len, sc->action, "%s/action", s)) < 0)
                return r;
        snprintf(buf, sizeof buf, "%u", sc->target_nid);
        if ((r = put(root, err, err_len, buf, "%s/target_nid", s)) < 0 ||
            (r = put(root, err, err_len, "0", "%s/access_pattern/sz/min", s)) < 0 ||
            (r = put(root, err, err_len, "18446744073709551615", "%s/access_pattern/sz/max", s)) < 0 ||
            (r = put_u64(root, err, err_len, sc->min_accesses, s, "access_pattern/nr_accesses/min")) < 0 ||
            (r = put_u64(root, err, err_len, sc->max_accesses, s, "access_pattern/nr_accesses/max")) < 0 ||
            (r = put_u64(root, err, err_len, sc->min_age, s, "access_pattern/age/min")) < 0 ||
            (r = put(root, err, err_len, "4294967295", "%s/access_pattern/age/max", s)) < 0)
                return r;
        /* a byte quota per second; no time quota */
        if ((r = put(root, err, err_len, "0", "%s/quotas/ms", s)) < 0 ||
            (r = put_u64(root, err, err_len, sc->quota_bytes, s, "quotas/bytes")) < 0 ||
            (r = put(root, err, err_len, "1000", "%s/quotas/reset_interval_ms", s)) < 0 ||
            (r = put(root, err, err_len, "none", "%s/watermarks/metric", s)) < 0)
                return r;
        snprintf(buf, sizeof buf, "%d", nf);
        if ((r = put(root, err, err_len, buf, "%s/filters/nr_filters", s)) < 0)
                return r;
        /* filters here exclude what they match; matching=N excludes what does not match */
        if (sc->memcg_path) {
                if ((r = put(root, err, err_len, "memcg", "%s/filters/%d/type", s, f)) < 0 ||
                    (r = put(root, err, err_len, sc->memcg_path, "%s/filters/%d/memcg_path", s, f)) < 0 ||
                    (r = put(root, err, err_len, "N", "%s/filters/%d/matching", s, f)) < 0)
                        return r;
                f++;
        }
        if (sc->anon_only) {
                if ((r = put(root, err, err_len, "anon", "%s/filters/%d/type", s, f)) < 0 ||
                    (r = put(root, err, err_len, "N", "%s/filters/%d/matching", s, f)) < 0)
                        return r;
                f++;
        }
        /* young=0 excludes the young pages (matching=Y), young=1 the others */
        if (sc->young >= 0 &&
            ((r = put(root, err, err_len, "young", "%s/filters/%d/type", s, f)) < 0 ||
             (r = put(root, err, err_len, sc->young ? "N" : "Y", "%s/filters/%d/matching", s, f)) < 0))
                return r;
        return 0;
}

int damon_apply(const char *root, unsigned k, const DamonSetup *s, char *err, size_t err_len) {
        char ctx[128], sub[192];
        int r;

        if (s->n_schemes == 0 || s->n_ranges == 0)
                return damon_stop(root, k);
        snprintf(ctx, sizeof ctx, KDAMONDS "/%u/contexts/0", k);
        if ((r = put(root, err, err_len, "1", KDAMONDS "/%u/contexts/nr_contexts", k)) < 0 ||
            (r = put(root, err, err_len, "paddr", "%s/operations", ctx)) < 0 ||
            (r = put_u64(root, err, err_len, s->sample_us, ctx, "monitoring_attrs/intervals/sample_us")) < 0 ||
            (r = put_u64(root, err, err_len, s->aggr_us, ctx, "monitoring_attrs/intervals/aggr_us")) < 0 ||
            (r = put(root, err, err_len, "1000000", "%s/monitoring_attrs/intervals/update_us", ctx)) < 0 ||
            (r = put(root, err, err_len, "1", "%s/targets/nr_targets", ctx)) < 0)
                return r;
        snprintf(sub, sizeof sub, "%s/targets/0/regions", ctx);
        if ((r = put_u64(root, err, err_len, s->n_ranges, sub, "nr_regions")) < 0)
                return r;
        for (size_t i = 0; i < s->n_ranges; i++) {
                char reg[256];

                snprintf(reg, sizeof reg, "%s/%zu", sub, i);
                if ((r = put_u64(root, err, err_len, s->ranges[i].start, reg, "start")) < 0 ||
                    (r = put_u64(root, err, err_len, s->ranges[i].end, reg, "end")) < 0)
                        return r;
        }
        if ((r = put_u64(root, err, err_len, s->n_schemes, ctx, "schemes/nr_schemes")) < 0)
                return r;
        for (size_t i = 0; i < s->n_schemes; i++) {
                snprintf(sub, sizeof sub, "%s/schemes/%zu", ctx, i);
                if ((r = put_scheme(root, sub, &s->schemes[i], err, err_len)) < 0)
                        return r;
        }
        return put(root, err, err_len, damon_running(root, k) ? "commit" : "on", KDAMONDS "/%u/state", k);
}

int damon_scheme_applied(const char *root, unsigned k, size_t n, uint64_t *ret_bytes) {
        char path[512], buf[32];
        int r;

        if ((r = put(root, NULL, 0, "update_schemes_stats", KDAMONDS "/%u/state", k)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                ret_bytes[i] = 0;
                if ((r = read_one_line(rooted(path, sizeof path, root,
                                              KDAMONDS "/%u/contexts/0/schemes/%zu/stats/sz_applied", k, i),
                                       buf, sizeof buf)) < 0)
                        return r;
                if (parse_uint64(buf, &ret_bytes[i]) < 0)
                        return -EINVAL;
        }
        return 0;
}

int damon_tried_regions(const char *root, unsigned k, size_t i, DamonRange **ret, size_t *ret_n) {
        char dir[256], path[512], buf[32];
        _cleanup_free_ DamonRange *out = NULL;
        size_t n = 0;
        int r;

        if ((r = put(root, NULL, 0, "update_schemes_tried_regions", KDAMONDS "/%u/state", k)) < 0)
                return r;
        snprintf(dir, sizeof dir, KDAMONDS "/%u/contexts/0/schemes/%zu/tried_regions", k, i);
        for (;; n++) {
                uint64_t start, end;
                DamonRange *o;

                if (read_one_line(rooted(path, sizeof path, root, "%s/%zu/start", dir, n), buf, sizeof buf) < 0)
                        break;
                if (parse_uint64(buf, &start) < 0 ||
                    read_one_line(rooted(path, sizeof path, root, "%s/%zu/end", dir, n), buf, sizeof buf) < 0 ||
                    parse_uint64(buf, &end) < 0 || end <= start)
                        return -EINVAL;
                if (!(o = realloc(out, (n + 1) * sizeof *o)))
                        return -ENOMEM;
                out = o;
                out[n] = (DamonRange) { start, end };
        }
        if (n == 0 && access(rooted(path, sizeof path, root, "%s", dir), F_OK) < 0)
                return -ENODATA;
        /* the kernel lists them in address order; make sure, the caller searches them */
        if (n > 1)
                qsort(out, n, sizeof *out, damon_range_cmp);
        *ret = TAKE_PTR(out);
        *ret_n = n;
        return 0;
}
