/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <sys/sysmacros.h>

#include "bpf-util.h"
#include "spmd/guard.h"
#include "spmd/observe.h"
#include "log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

int unavailable(char **ret_reason, int r, const char *fmt, ...) {
        va_list ap;

        if (!ret_reason)
                return r;
        va_start(ap, fmt);
        if (vasprintf(ret_reason, fmt, ap) < 0)
                *ret_reason = NULL;
        va_end(ap);
        return r;
}

int bpf_map_sync_u64_set(struct bpf_map *map, const uint64_t *ids, size_t n) {
        uint64_t key, next;
        uint8_t one = 1;
        bool first = true;

        /* Drop what is not in ids. Deleting the key just returned is safe: a hash map's
         * get_next_key starts over from the first key when the one given is gone. */
        while (bpf_map__get_next_key(map, first ? NULL : &key, &next, sizeof next) == 0) {
                bool keep = false;

                first = false;
                key = next;
                for (size_t i = 0; i < n && !keep; i++)
                        keep = ids[i] == next;
                if (!keep && bpf_map__delete_elem(map, &next, sizeof next, 0) < 0)
                        return -errno;
        }
        for (size_t i = 0; i < n; i++)
                if (bpf_map__update_elem(map, &ids[i], sizeof ids[i], &one, sizeof one, BPF_ANY) < 0)
                        return -errno;
        return 0;
}

void bpf_u64_set_clear(BpfU64Set *s) {
        s->ids = mfree(s->ids);
        s->n = 0;
        s->valid = false;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int bpf_map_sync_u64_set_cached(struct bpf_map *map, BpfU64Set *last, const uint64_t *ids, size_t n) {
        uint64_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
        uint8_t one = 1;
        size_t k = 0;
        int r = 0;

        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, ids, n * sizeof *ids);
        qsort(sorted, n, sizeof *sorted, cmp_u64);
        for (size_t i = 0; i < n; i++) /* unique */
                if (k == 0 || sorted[k - 1] != sorted[i])
                        sorted[k++] = sorted[i];
        n = k;

        if (!last->valid)
                r = bpf_map_sync_u64_set(map, sorted, n);
        else {
                /* merge the two sorted lists: what only the old one has goes, what only the new has comes */
                size_t i = 0, j = 0;
                while (r == 0 && (i < last->n || j < n)) {
                        if (j == n || (i < last->n && last->ids[i] < sorted[j])) {
                                if (bpf_map__delete_elem(map, &last->ids[i], sizeof last->ids[i], 0) < 0 &&
                                    errno != ENOENT)
                                        r = -errno;
                                i++;
                        } else if (i == last->n || sorted[j] < last->ids[i]) {
                                if (bpf_map__update_elem(map, &sorted[j], sizeof sorted[j], &one, sizeof one,
                                                         BPF_ANY) < 0)
                                        r = -errno;
                                j++;
                        } else
                                i++, j++;
                }
        }
        free(last->ids);
        last->ids = sorted;
        last->n = n;
        last->valid = r == 0;
        return r;
}

int bpf_map_set_node_mask(struct bpf_map *map, BpfNodeMask *last, const NodeMask *m) {
        bool all = !last || !last->valid;

        assert(map);
        assert(m);
        if (last)
                last->valid = false; /* until every word is written */
        for (uint32_t i = 0; i < SPMD_BPF_MASK_WORDS && i < NODEMASK_WORDS; i++) {
                uint64_t word = m->bits[i];

                if (!all && last->mask.bits[i] == word)
                        continue;
                if (bpf_map__update_elem(map, &i, sizeof i, &word, sizeof word, BPF_ANY) < 0)
                        return -errno;
        }
        if (last)
                *last = (BpfNodeMask) { .mask = *m, .valid = true };
        return 0;
}

int bpf_map_sync_key_set(struct bpf_map *map, const void *keys, size_t n, size_t key_size) {
        uint8_t key[64], next[64], one = 1;
        bool first = true;

        if (key_size > sizeof key)
                return -EINVAL;
        /* as bpf_map_sync_u64_set(): a hash map's get_next_key restarts when the key given is gone */
        while (bpf_map__get_next_key(map, first ? NULL : key, next, key_size) == 0) {
                bool keep = false;

                first = false;
                memcpy(key, next, key_size);
                for (size_t i = 0; i < n && !keep; i++)
                        keep = memcmp((const uint8_t *) keys + i * key_size, next, key_size) == 0;
                if (!keep && bpf_map__delete_elem(map, next, key_size, 0) < 0)
                        return -errno;
        }
        for (size_t i = 0; i < n; i++)
                if (bpf_map__update_elem(map, (const uint8_t *) keys + i * key_size, key_size, &one, sizeof one,
                                         BPF_ANY) < 0)
                        return -errno;
        return 0;
}

static bool object_id(int fd, uint64_t kind, uint64_t *ret) {
        union {
                struct bpf_map_info map;
                struct bpf_link_info link;
        } info = {};
        uint32_t len = kind == SPMD_BPF_KIND_MAP ? sizeof info.map : sizeof info.link;

        if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return false;
        *ret = kind << 32 | (kind == SPMD_BPF_KIND_MAP ? info.map.id : info.link.id);
        return true;
}

size_t bpf_skeleton_object_ids(struct bpf_object_skeleton *s, uint64_t *ids, size_t max) {
        size_t n = 0;

        for (int i = 0; i < s->map_cnt && n < max; i++)
                n += object_id(bpf_map__fd(*s->maps[i].map), SPMD_BPF_KIND_MAP, &ids[n]);
        for (int i = 0; i < s->prog_cnt && n < max; i++)
                if (*s->progs[i].link)
                        n += object_id(bpf_link__fd(*s->progs[i].link), SPMD_BPF_KIND_LINK, &ids[n]);
        return n;
}

static struct spmd_exe_key inode_key(const struct stat *st, bool fs) {
        return (struct spmd_exe_key){ .dev = ((uint64_t) major(st->st_dev) << 20) | minor(st->st_dev),
                                      .ino = fs ? 0 : st->st_ino };
}

int bpf_pin_dir_inode_keys(const char *dir, void *keys, size_t *n, size_t max) {
        struct spmd_exe_key *k = keys;
        struct dirent *de;
        struct stat st;
        DIR *d;

        if (stat(dir, &st) < 0)
                return -errno;
        if (*n + 2 > max)
                return -ENOBUFS;
        k[(*n)++] = inode_key(&st, true);
        k[(*n)++] = inode_key(&st, false);
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (*n >= max) {
                        closedir(d);
                        return -ENOBUFS;
                }
                k[(*n)++] = inode_key(&st, false);
        }
        closedir(d);
        return 0;
}

int bpf_map_percpu_sums(struct bpf_map *map, uint64_t *counts, uint32_t n) {
        int ncpu = libbpf_num_possible_cpus(), r = 0;
        uint64_t *values;

        if (ncpu <= 0)
                return ncpu < 0 ? ncpu : -EINVAL;
        values = calloc((size_t) ncpu, sizeof *values);
        if (!values)
                return -ENOMEM;
        for (uint32_t k = 0; k < n && r == 0; k++) {
                counts[k] = 0;
                if (bpf_map__lookup_elem(map, &k, sizeof k, values, (size_t) ncpu * sizeof *values, 0) < 0)
                        r = -errno;
                for (int c = 0; c < ncpu && r == 0; c++)
                        counts[k] += values[c];
        }
        free(values);
        return r;
}

int bpf_pin_dir_prepare(const char *dir, char **ret_reason) {
        char parent[PATH_MAX], *slash;
        struct statfs sfs;

        snprintf(parent, sizeof parent, "%s", dir);
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return unavailable(ret_reason, -EINVAL, "%s: not a directory below a bpffs mount", dir);
        *slash = '\0';
        /* The parent (BpfPinDirectory=) may not exist yet: then its own parent must be bpffs. */
        if (statfs(parent, &sfs) < 0) {
                char up[PATH_MAX], *s2;

                if (errno != ENOENT)
                        return unavailable(ret_reason, -errno, "cannot look at %s: %s", parent, strerror(errno));
                snprintf(up, sizeof up, "%s", parent);
                s2 = strrchr(up, '/');
                if (s2 && s2 != up)
                        *s2 = '\0';
                if (statfs(up, &sfs) < 0)
                        return unavailable(ret_reason, -errno, "cannot look at %s: %s", up, strerror(errno));
        }
        if (sfs.f_type != BPF_FS_MAGIC)
                return unavailable(ret_reason, -EMEDIUMTYPE,
                                   "%s is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)", parent);
        if (mkdir(parent, 0700) < 0 && errno != EEXIST)
                return unavailable(ret_reason, -errno, "cannot create %s: %s", parent, strerror(errno));
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return unavailable(ret_reason, -errno, "cannot create %s: %s", dir, strerror(errno));
        return 0;
}

bool bpf_pin_dir_has_pins(const char *dir) {
        struct dirent *de;
        bool found = false;
        DIR *d = opendir(dir);

        if (!d)
                return false;
        while (!found && (de = readdir(d)))
                found = de->d_name[0] != '.' && strncmp(de->d_name, "link_", 5) != 0;
        closedir(d);
        return found;
}

int bpf_pin_maps_before_load(struct bpf_object_skeleton *s, const char *dir) {
        for (int i = 0; i < s->map_cnt; i++) {
                struct bpf_map *map = *s->maps[i].map;
                char path[PATH_MAX];
                int r;

                /* .rodata/.bss hold per-load settings (spmd's pid, the violation action): never shared */
                if (bpf_map__is_internal(map))
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, bpf_map__name(map));
                r = bpf_map__set_pin_path(map, path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void chmod_pins(const char *dir) {
        struct dirent *de;
        DIR *d = opendir(dir);

        if (!d)
                return;
        while ((de = readdir(d))) {
                char p[PATH_MAX];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                (void) chmod(p, 0600);
        }
        closedir(d);
}

int bpf_pin_links_after_attach(struct bpf_object_skeleton *s, const char *dir) {
        char mine[64];
        struct dirent *de;
        int dropped = 0;
        DIR *d;

        /* bpffs refuses dots in names (reserved for its own files): link_<program>_<pid> */
        snprintf(mine, sizeof mine, "_%d", (int) getpid());
        for (int i = 0; i < s->prog_cnt; i++) {
                struct bpf_link *link = *s->progs[i].link;
                char path[PATH_MAX];
                int r;

                if (!link)
                        continue; /* not loaded this time */
                snprintf(path, sizeof path, "%s/link_%s%s", dir, s->progs[i].name, mine);
                (void) unlink(path); /* a stale pin of a dead process that had our pid */
                r = bpf_link__pin(link, path);
                if (r < 0)
                        return r;
        }
        /* Ours are in place: let go of every other link pin (older spmd's, or programs now off). */
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                const char *us = strrchr(de->d_name, '_');
                char p[PATH_MAX];

                if (strncmp(de->d_name, "link_", 5) != 0 || (us && strcmp(us, mine) == 0))
                        continue;
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                if (unlink(p) == 0)
                        dropped++;
        }
        closedir(d);
        chmod_pins(dir);
        return dropped;
}

int bpf_pin_remove(const char *dir) {
        struct dirent *de;
        DIR *d = opendir(dir);
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                char p[PATH_MAX];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                if (unlink(p) < 0 && r == 0)
                        r = -errno;
        }
        closedir(d);
        if (rmdir(dir) < 0 && r == 0)
                r = -errno;
        return r;
}
