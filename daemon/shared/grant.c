/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "macro.h"
#include "parse-util.h"
#include "strv.h"

bool grant_run_bind(const NodeMask *granted, const NodeMask *private_nodes, NodeMask *ret) {
        NodeMask p = nodemask_and(granted, private_nodes);

        if (nodemask_empty(&p))
                return false;
        *ret = *granted;
        return true;
}

Grant *grant_free(Grant *g) {
        if (!g)
                return NULL;
        free(g->cgroup);
        free(g->rule);
        free(g->owner);
        free(g->caller_cgroup);
        free(g->line);
        free(g->label);
        free(g);
        return NULL;
}

bool grant_value_ok(const char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

uint64_t cgroup_node_usage(const char *cgroup_dir, const NodeMask *mask) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        uint64_t sum = 0;
        size_t n = 0;
        bool seen = false;

        if (asprintf(&path, "%s/memory.numa_stat", cgroup_dir) < 0)
                return UINT64_MAX;
        f = fopen(path, "re");
        if (!f)
                return UINT64_MAX;
        /* "anon N0=1234 N1=5678" */
        while (getline(&line, &n, f) > 0) {
                char *save = NULL, *key = strtok_r(line, " \n", &save);

                if (!key || (strcmp(key, "anon") != 0 && strcmp(key, "file") != 0))
                        continue;
                seen = true;
                for (char *t = strtok_r(NULL, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
                        unsigned node;
                        uint64_t bytes;
                        if (sscanf(t, "N%u=%" SCNu64, &node, &bytes) == 2 && nodemask_test(mask, node))
                                sum += bytes;
                }
        }
        return seen ? sum : UINT64_MAX;
}

int grant_serialize(const Grant *g, FILE *f) {
        char nodes[4096];

        if (!grant_value_ok(g->cgroup) || !grant_value_ok(g->rule) || !grant_value_ok(g->owner) ||
            !grant_value_ok(g->caller_cgroup))
                return -EINVAL;
        fprintf(f,
                "id=%" PRIu32 "\tcgroup=%s\tnodes=%s\tmax_bytes=%" PRIu64 "\tpersistent=%d\trule=%s\towner=%s\tuid=%u\t"
                "pid=%d\tcaller_cgroup=%s\tcreated=%" PRIu64 "\n",
                g->id, g->cgroup, nodemask_format(&g->nodes, nodes, sizeof nodes), g->max_bytes, g->persistent,
                strempty(g->rule), strempty(g->owner), (unsigned) g->uid, (int) g->pid, strempty(g->caller_cgroup),
                g->created_usec);
        return ferror(f) ? -EIO : 0;
}

const char *grant_line(Grant *g) {
        char *line = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (g->line)
                return g->line;
        f = open_memstream(&line, &size);
        if (!f)
                return NULL;
        r = grant_serialize(g, f);
        if (fclose(f) != 0 || r < 0) { /* the buffer is final once the stream is closed */
                free(line);
                return NULL;
        }
        g->line = line;
        return line;
}

const char *grant_label(Grant *g) {
        if (!g->label &&
            asprintf(&g->label, "grant %" PRIu32 " (uid %u, %s)", g->id, (unsigned) g->uid, strna(g->rule)) < 0)
                g->label = NULL;
        return g->label;
}

static int set_string(char **field, const char *v) {
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

int grant_parse(const char *line, Grant **ret, char **ret_error) {
        _cleanup_free_ char *copy = strdup(line);
        Grant *g;
        char *save = NULL;
        unsigned seen = 0;
        int r = 0;

        *ret_error = NULL;
        if (!copy)
                return -ENOMEM;
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        copy[strcspn(copy, "\n")] = '\0';
        for (char *kv = strtok_r(copy, "\t", &save); kv && r >= 0; kv = strtok_r(NULL, "\t", &save)) {
                char *v = strchr(kv, '=');
                uint64_t n;

                if (!v) {
                        r = asprintf(ret_error, "field '%s' is not key=value", kv) < 0 ? -ENOMEM : -EINVAL;
                        break;
                }
                *v++ = '\0';
#define NUM(key, dst, max)                                                                                  \
        else if (strcmp(kv, key) == 0) {                                                                    \
                if (parse_uint64(v, &n) < 0 || n > (max))                                                   \
                        r = asprintf(ret_error, "%s=%s is not a number up to %" PRIu64, key, v, (uint64_t) (max)) \
                                            < 0                                                             \
                                    ? -ENOMEM                                                               \
                                    : -EINVAL;                                                              \
                else                                                                                        \
                        (dst) = n;                                                                          \
        }
                if (0) {
                }
                NUM("id", g->id, UINT32_MAX)
                NUM("max_bytes", g->max_bytes, UINT64_MAX)
                NUM("persistent", g->persistent, 1)
                NUM("uid", g->uid, UINT32_MAX - 1)
                NUM("pid", g->pid, INT32_MAX)
                NUM("created", g->created_usec, UINT64_MAX)
                else if (strcmp(kv, "cgroup") == 0) {
                        if (!cgroup_path_is_valid(v))
                                r = asprintf(ret_error, "cgroup=%s is not a cgroup path", v) < 0 ? -ENOMEM : -EINVAL;
                        else
                                r = set_string(&g->cgroup, v);
                } else if (strcmp(kv, "nodes") == 0) {
                        if (parse_nodemask(v, &g->nodes) < 0)
                                r = asprintf(ret_error, "nodes=%s is not a node list", v) < 0 ? -ENOMEM : -EINVAL;
                } else if (strcmp(kv, "rule") == 0)
                        r = set_string(&g->rule, v);
                else if (strcmp(kv, "owner") == 0)
                        r = *v ? set_string(&g->owner, v) : 0;
                else if (strcmp(kv, "caller_cgroup") == 0)
                        r = set_string(&g->caller_cgroup, v);
                else
                        continue; /* a newer spmd's field: ignore it */
#undef NUM
                seen |= strcmp(kv, "id") == 0 ? 1u : strcmp(kv, "cgroup") == 0 ? 2u : strcmp(kv, "nodes") == 0 ? 4u : 0u;
        }
        if (r >= 0 && seen != 7)
                r = asprintf(ret_error, "lacks %s", !(seen & 1) ? "id=" : !(seen & 2) ? "cgroup=" : "nodes=") < 0
                            ? -ENOMEM
                            : -EINVAL;
        if (r >= 0 && g->id == 0)
                r = asprintf(ret_error, "id=0 is not a grant id") < 0 ? -ENOMEM : -EINVAL;
        if (r < 0) {
                grant_free(g);
                return r;
        }
        *ret = g;
        return 0;
}
