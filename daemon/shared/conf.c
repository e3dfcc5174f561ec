/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmd.conf: INI in the systemd style, read with inih.
 *
 * inih gives us the key/value split, comments and section names. What it
 * does not give in Debian's build (INI_HANDLER_LINENO=0,
 * INI_CALL_HANDLER_ON_NEW_SECTION=0) is the line of each key and the start of
 * each repeated section, both of which we need: every diagnostic names its
 * file and line, and each [Device]/[Access] block is its own object. We get
 * both through inih's documented reader hook: our reader hands inih one line
 * at a time, so it always knows the current line, sees section headers as
 * they come, and can tell a line inih rejected (no handler call) from one it
 * accepted.
 */
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf-internal.h"
#include "dax-private.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

typedef enum LineKind {
        LINE_BLANK,
        LINE_COMMENT,
        LINE_SECTION,
        LINE_CONTENT,
} LineKind;

typedef struct ParseCtx {
        Config *config;
        ConfDiags *diags;
        const char *file;
        const char *buf;
        size_t len, pos;
        unsigned line;

        LineKind kind;         /* of the line last handed to inih */
        unsigned handler_calls; /* for that line */

        bool in_section;
        const SectionDef *section; /* NULL in an unknown section */
        char section_name[64];
        void *object;              /* Config, DeviceConf or AccessConf the keys go to */
        bool saw_match;            /* this [Device] had a Match= line, valid or not */
        int n_errors;
} ParseCtx;

/* ---- diagnostics ---- */

_printf_(5, 0) static void diag_addv(ConfDiags *d, ConfDiagLevel level, const char *file, unsigned line, const char *fmt,
                      va_list ap) {
        char *msg = NULL;
        ConfDiag *n;

        if (!d)
                return;
        if (vasprintf(&msg, fmt, ap) < 0)
                return;
        n = realloc(d->items, (d->n + 1) * sizeof *n);
        if (!n) {
                free(msg);
                return;
        }
        d->items = n;
        d->items[d->n++] = (ConfDiag){ level, strdup(strempty(file)), line, msg };
        if (level == CONF_DIAG_ERROR)
                d->n_errors++;
        log_debug("%s:%u: %s", strempty(file), line, msg);
}

_printf_(3, 4) static void ctx_diag(ParseCtx *ctx, ConfDiagLevel level, const char *fmt, ...) {
        va_list ap;

        if (level == CONF_DIAG_ERROR)
                ctx->n_errors++;
        va_start(ap, fmt);
        diag_addv(ctx->diags, level, ctx->file, ctx->line, fmt, ap);
        va_end(ap);
}

void conf_diags_clear(ConfDiags *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (ConfDiags){};
}

void conf_diags_print(const ConfDiags *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                const ConfDiag *x = &d->items[i];
                const char *lvl = x->level == CONF_DIAG_ERROR ? "error" : "warning";

                if (x->line > 0)
                        fprintf(f, "%s:%u: %s: %s\n", x->file, x->line, lvl, x->message);
                else
                        fprintf(f, "%s: %s: %s\n", x->file, lvl, x->message);
        }
}

/* ---- objects ---- */

static void config_set_defaults(Config *c) {
        c->log_level = -1;
        c->shutdown_policy = SHUTDOWN_KEEP;
        c->cpuset = true;
        c->cgroup_guard = TRISTATE_AUTO;
        c->task_movememory = TRISTATE_AUTO;
        c->observe = TRISTATE_AUTO;
        c->struct_ops = TRISTATE_AUTO;
        c->native_spm = TRISTATE_AUTO;
        c->violation_action = VIOLATION_LOG;
        c->persist_after_exit = true;
        c->free_warn = 1000;     /* 10% */
        c->free_critical = 500;  /* 5% */
        c->psi_warn = 1000;
        c->psi_critical = 4000;
        c->psi_window_usec = 2 * USEC_PER_SEC;
        c->hysteresis = 200;
        c->recover_after_usec = 10 * USEC_PER_SEC;
        c->refuse_grants_at = PRESSURE_CRITICAL;
        c->reclaim = true;
        c->reclaim_at = PRESSURE_WARN;
        c->reclaim_step = 16u << 20;
        c->reclaim_min_interval_usec = 100 * USEC_PER_MSEC;
        c->swappiness = -1;
        c->evacuation = true;
        c->evacuate_at = PRESSURE_CRITICAL;
        c->evacuate_batch_pages = 4096;
        c->evacuate_max_rate = UINT64_MAX;
        c->demotion = false;
        c->demotion_cold_age_usec = 30 * USEC_PER_SEC;
        c->demotion_max_rate = 32u << 20;
        c->promotion = false;
}

Config *config_new(void) {
        Config *c = calloc(1, sizeof *c);

        if (!c)
                return NULL;
        c->n_ref = 1;
        config_set_defaults(c);
        c->state_directory = strdup("/run/spmd");
        c->bpf_pin_directory = strdup("/sys/fs/bpf/spmd");
        if (!c->state_directory || !c->bpf_pin_directory)
                return config_free(c);
        return c;
}

static DeviceConf *device_conf_free(DeviceConf *d) {
        if (!d)
                return NULL;
        free(d->source.file);
        free(d->name);
        free(d->match);
        free(d->ratio_path);
        free(d);
        return NULL;
}

static AccessConf *access_conf_free(AccessConf *a) {
        if (!a)
                return NULL;
        free(a->source.file);
        free(a->name);
        strv_free(a->users);
        strv_free(a->groups);
        strv_free(a->units);
        strv_free(a->cgroups);
        free(a);
        return NULL;
}

static GrantConf *grant_conf_free(GrantConf *g) {
        if (!g)
                return NULL;
        free(g->source.file);
        free(g->name);
        free(g->cgroup);
        free(g);
        return NULL;
}

Config *config_ref(Config *c) {
        if (c)
                c->n_ref++;
        return c;
}

Config *config_free(Config *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        free(c->state_directory);
        free(c->bpf_pin_directory);
        strv_free(c->trusted_executables);
        for (size_t i = 0; i < c->n_devices; i++)
                device_conf_free(c->devices[i]);
        free(c->devices);
        for (size_t i = 0; i < c->n_access; i++)
                access_conf_free(c->access[i]);
        free(c->access);
        for (size_t i = 0; i < c->n_grants; i++)
                grant_conf_free(c->grants[i]);
        free(c->grants);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        for (size_t i = 0; i < c->n_origins; i++)
                free(c->origins[i].source.file);
        free(c->origins);
        free(c);
        return NULL;
}

static void *section_new_object(ParseCtx *ctx, const SectionDef *s) {
        Config *c = ctx->config;
        ConfSource src = { strdup(ctx->file), ctx->line };

        if (!src.file)
                return NULL;
        if (strcmp(s->name, "Device") == 0) {
                DeviceConf *d = calloc(1, sizeof *d), **n;

                if (!d || !(n = realloc(c->devices, (c->n_devices + 1) * sizeof *n))) {
                        free(d);
                        free(src.file);
                        return NULL;
                }
                *d = (DeviceConf){ .source = src, .zone = MEM_ZONE_MOVABLE, .require_dedicated_node = true,
                                   .spm_attribute = TRISTATE_AUTO, .private_node = TRISTATE_AUTO };
                c->devices = n;
                c->devices[c->n_devices++] = d;
                return d;
        }

        if (strcmp(s->name, "Grant") == 0) {
                GrantConf *g = calloc(1, sizeof *g), **n;

                if (!g || !(n = realloc(c->grants, (c->n_grants + 1) * sizeof *n))) {
                        free(g);
                        free(src.file);
                        return NULL;
                }
                *g = (GrantConf){ .source = src, .all_nodes = true };
                c->grants = n;
                c->grants[c->n_grants++] = g;
                return g;
        }

        AccessConf *a = calloc(1, sizeof *a), **n;
        if (!a || !(n = realloc(c->access, (c->n_access + 1) * sizeof *n))) {
                free(a);
                free(src.file);
                return NULL;
        }
        *a = (AccessConf){ .source = src, .all_nodes = true, .max_bytes = UINT64_MAX, .max_grants = 16 };
        c->access = n;
        c->access[c->n_access++] = a;
        return a;
}

/* Checks that need the whole section; diagnostics point at the section header. */
static void section_finish(ParseCtx *ctx) {
        unsigned saved = ctx->line;

        if (!ctx->section || !ctx->section->repeated || !ctx->object)
                return;
        if (strcmp(ctx->section->name, "Device") == 0) {
                DeviceConf *d = ctx->object;
                ctx->line = d->source.line;
                if (!ctx->saw_match) /* an invalid Match= was reported on its own line */
                        ctx_diag(ctx, CONF_DIAG_ERROR, "[Device] lacks Match=: say which device to manage "
                                                       "(daxX.Y, serial:N, memdev:memN, region:regionN or "
                                                       "all-unclaimed)");
        } else if (strcmp(ctx->section->name, "Grant") == 0) {
                GrantConf *g = ctx->object;
                ctx->line = g->source.line;
                if (!g->cgroup)
                        ctx_diag(ctx, CONF_DIAG_ERROR,
                                 "[Grant] lacks Cgroup=: say which cgroup may use the SPM nodes");
        } else {
                AccessConf *a = ctx->object;
                ctx->line = a->source.line;
                if (strv_isempty(a->users) && strv_isempty(a->groups))
                        ctx_diag(ctx, CONF_DIAG_ERROR,
                                 "[Access] lacks User= and Group=: say whom this rule admits");
        }
        ctx->line = saved;
}

/* ---- values ---- */

static int enum_from_string(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

static bool path_is_absolute_normal(const char *p) {
        return p[0] == '/' && !strstr(p, "/../") && strlen(p) < 4096;
}

static int parse_device_match(DeviceConf *d, const char *v) {
        unsigned a, b;
        int n = 0;

        if (strcmp(v, "all-unclaimed") == 0) {
                d->match_kind = DEVICE_MATCH_UNCLAIMED;
                return 0;
        }
        if (strncmp(v, "serial:", 7) == 0) {
                const char *s = v + 7;
                char *end;

                if (!*s || *s == '-' || *s == '+' || *s == ' ')
                        return -EINVAL;
                errno = 0;
                unsigned long long serial = strtoull(s, &end, 0);
                if (errno || *end)
                        return -EINVAL;
                d->match_kind = DEVICE_MATCH_SERIAL;
                d->match_serial = serial;
                return 0;
        }
        if (strncmp(v, "memdev:", 7) == 0) {
                if (sscanf(v + 7, "mem%u%n", &a, &n) != 1 || v[7 + n] != '\0')
                        return -EINVAL;
                d->match_kind = DEVICE_MATCH_MEMDEV;
                return 0;
        }
        if (strncmp(v, "region:", 7) == 0) {
                if (sscanf(v + 7, "region%u%n", &a, &n) != 1 || v[7 + n] != '\0')
                        return -EINVAL;
                d->match_kind = DEVICE_MATCH_REGION;
                return 0;
        }
        if (sscanf(v, "dax%u.%u%n", &a, &b, &n) == 2 && v[n] == '\0') {
                d->match_kind = DEVICE_MATCH_DAX;
                return 0;
        }
        return -EINVAL;
}

static int set_string(char **dst, const char *v) {
        char *s = NULL;

        if (*v && !(s = strdup(v)))
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int parse_value(const ConfItem *it, void *base, const char *v) {
        void *dst = (char *) base + it->offset;
        int r = 0;

        switch (it->type) {
        case CONF_BOOL:
                r = parse_boolean(v);
                if (r >= 0)
                        *(bool *) dst = r;
                return r;
        case CONF_TRISTATE:
        case CONF_ENUM: {
                r = it->type == CONF_TRISTATE ? enum_from_string(conf_tristate_names, conf_n_tristate_names, v)
                                              : enum_from_string(it->enum_names, it->n_enum, v);
                if (r >= 0)
                        *(int *) dst = r;
                return r;
        }
        case CONF_LOG_LEVEL:
                /* empty: no level from the config (--log-level or info) */
                r = *v ? log_level_from_string(v) : -1;
                if (!*v) {
                        *(int *) dst = -1;
                        return 0;
                }
                if (r >= 0)
                        *(int *) dst = r;
                return r;
        case CONF_STRING:
                return set_string(dst, v);
        case CONF_PATH:
                if (*v && !path_is_absolute_normal(v))
                        return -EINVAL;
                return set_string(dst, v);
        case CONF_CGROUP:
                if (!cgroup_path_is_valid(v))
                        return -EINVAL;
                return set_string(dst, v);
        case CONF_STRV:
        case CONF_PATHV: {
                char ***l = dst;
                if (!*v) {
                        /* systemd semantics: an empty assignment resets the list */
                        *l = strv_free(*l);
                        return 0;
                }
                char **words = strv_split_whitespace(v);
                if (!words)
                        return -ENOMEM;
                for (char **w = words; it->type == CONF_PATHV && *w; w++)
                        if (!path_is_absolute_normal(*w)) {
                                strv_free(words);
                                return -EINVAL;
                        }
                r = strv_extend_strv(l, words);
                strv_free(words);
                return r;
        }
        case CONF_SIZE:
                return parse_size(v, dst);
        case CONF_DURATION:
                return parse_duration(v, dst);
        case CONF_PERMYRIAD:
                return parse_permyriad(v, dst);
        case CONF_RATIO: {
                double d = 0;
                if (*v && ((r = parse_double(v, &d)) < 0 || d <= 0.0))
                        return r < 0 ? r : -ERANGE;
                *(double *) dst = d;
                return 0;
        }
        case CONF_UINT32: {
                uint32_t u;
                r = parse_uint32(v, &u);
                if (r < 0)
                        return r;
                if (u < it->min || u > it->max)
                        return -ERANGE;
                *(uint32_t *) dst = u;
                return 0;
        }
        case CONF_SWAPPINESS: {
                uint32_t u;
                if (!*v) {
                        *(int *) dst = -1;
                        return 0;
                }
                r = parse_uint32(v, &u);
                if (r < 0)
                        return r;
                if (u > 200)
                        return -ERANGE;
                *(int *) dst = (int) u;
                return 0;
        }
        case CONF_NODES:
        case CONF_NODES_OPT: {
                bool *flag = (bool *) ((char *) base + it->flag);
                NodeMask m = {};
                if (it->type == CONF_NODES && strcmp(v, "all") == 0) {
                        *flag = true;
                        *(NodeMask *) dst = m;
                        return 0;
                }
                if (it->type == CONF_NODES_OPT && !*v) {
                        *flag = false;
                        *(NodeMask *) dst = m;
                        return 0;
                }
                r = parse_nodemask(v, &m);
                if (r < 0)
                        return r;
                *flag = it->type == CONF_NODES_OPT;
                *(NodeMask *) dst = m;
                return 0;
        }
        case CONF_SERVICES: {
                bool *flag = (bool *) ((char *) base + it->flag);
                uint32_t mask = 0;
                char **words;

                if (!*v) {
                        *flag = false;
                        *(uint32_t *) dst = 0;
                        return 0;
                }
                words = strv_split_whitespace(v);
                if (!words)
                        return -ENOMEM;
                for (char **w = words; *w; w++) {
                        uint32_t bit = private_service_from_string(*w);
                        if (!bit && strcmp(*w, "none") != 0) {
                                strv_free(words);
                                return -EINVAL;
                        }
                        mask |= bit;
                }
                strv_free(words);
                *flag = true;
                *(uint32_t *) dst = mask;
                return 0;
        }
        case CONF_DEVICE_MATCH: {
                DeviceConf *d = base;
                r = parse_device_match(d, v);
                if (r < 0)
                        return r;
                d->match_set = true;
                return set_string(&d->match, v);
        }
        }
        return -EINVAL;
}

const ConfSource *config_origin(const Config *c, const void *object, const char *key) {
        for (size_t i = c->n_origins; i-- > 0;)
                if (c->origins[i].object == object && strcmp(c->origins[i].key, key) == 0)
                        return &c->origins[i].source;
        return NULL;
}

static int config_record_origin(ParseCtx *ctx, const ConfItem *it) {
        Config *c = ctx->config;
        ConfOrigin *n = realloc(c->origins, (c->n_origins + 1) * sizeof *n);
        char *file;

        if (!n)
                return -ENOMEM;
        c->origins = n;
        if (!(file = strdup(ctx->file)))
                return -ENOMEM;
        c->origins[c->n_origins++] = (ConfOrigin){ ctx->object, it->key, { file, ctx->line } };
        return 0;
}

static const ConfItem *item_lookup(const SectionDef *s, const char *key, const ConfItem **ret_similar) {
        *ret_similar = NULL;
        for (const ConfItem *it = s->items; it->key; it++) {
                if (strcmp(it->key, key) == 0)
                        return it;
                if (strcasecmp(it->key, key) == 0)
                        *ret_similar = it;
        }
        return NULL;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value) {
        ParseCtx *ctx = user;
        const ConfItem *it, *similar;
        int r;

        ctx->handler_calls++;
        (void) section;

        if (!ctx->in_section) {
                ctx_diag(ctx, CONF_DIAG_ERROR, "'%s=' appears before any [Section] header", name);
                return 1;
        }
        if (!ctx->section)
                return 1; /* unknown section: warned about once at its header */
        if (name[0] == '\0') {
                ctx_diag(ctx, CONF_DIAG_ERROR, "[%s] assignment without a key name before '='",
                         ctx->section->name);
                return 1;
        }
        it = item_lookup(ctx->section, name, &similar);
        if (!it) {
                if (similar)
                        ctx_diag(ctx, CONF_DIAG_WARNING, "[%s] unknown key '%s' ignored; did you mean '%s'?",
                                 ctx->section->name, name, similar->key);
                else
                        ctx_diag(ctx, CONF_DIAG_WARNING, "[%s] unknown key '%s' ignored", ctx->section->name,
                                 name);
                return 1;
        }
        if (!ctx->object) /* allocation of the section's object failed */
                return 0;
        if (it->type == CONF_DEVICE_MATCH)
                ctx->saw_match = true;
        r = parse_value(it, ctx->object, value);
        if (r >= 0)
                r = config_record_origin(ctx, it);
        if (r == -ENOMEM)
                return 0;
        if (r == -ERANGE)
                ctx_diag(ctx, CONF_DIAG_ERROR, "[%s] %s=%s: value out of range, expected %s", ctx->section->name,
                         it->key, value, it->expect);
        else if (r < 0)
                ctx_diag(ctx, CONF_DIAG_ERROR, "[%s] %s=%s: expected %s", ctx->section->name, it->key, value,
                         it->expect);
        return 1;
}

static void section_begin(ParseCtx *ctx, const char *line) {
        const char *end = strchr(line, ']');
        size_t n;

        section_finish(ctx);
        ctx->saw_match = false;
        ctx->in_section = true;
        ctx->section = NULL;
        ctx->object = NULL;

        if (!end) {
                ctx_diag(ctx, CONF_DIAG_ERROR, "section header lacks its closing ']'");
                return;
        }
        n = (size_t) (end - line - 1);
        if (n >= sizeof ctx->section_name)
                n = sizeof ctx->section_name - 1;
        memcpy(ctx->section_name, line + 1, n);
        ctx->section_name[n] = '\0';

        for (size_t i = 0; i < conf_n_sections; i++)
                if (strcmp(conf_sections[i].name, ctx->section_name) == 0) {
                        ctx->section = &conf_sections[i];
                        break;
                }
        if (!ctx->section) {
                ctx_diag(ctx, CONF_DIAG_WARNING, "unknown section [%s] ignored with all its keys",
                         ctx->section_name);
                return;
        }
        ctx->object = ctx->section->repeated ? section_new_object(ctx, ctx->section) : ctx->config;
}

/* inih rejects a content line by not calling the handler for it. */
static void check_previous_line(ParseCtx *ctx) {
        if (ctx->kind == LINE_CONTENT && ctx->handler_calls == 0)
                ctx_diag(ctx, CONF_DIAG_ERROR, "expected 'Key=value', a [Section] header or a comment");
        ctx->kind = LINE_BLANK;
}

static char *conf_reader(char *str, int num, void *stream) {
        ParseCtx *ctx = stream;
        const char *start, *nl;
        size_t n;

        check_previous_line(ctx);
        if (ctx->pos >= ctx->len)
                return NULL;

        start = ctx->buf + ctx->pos;
        nl = memchr(start, '\n', ctx->len - ctx->pos);
        n = nl ? (size_t) (nl - start) : ctx->len - ctx->pos;
        ctx->pos += n + (nl ? 1 : 0);
        ctx->line++;
        ctx->handler_calls = 0;

        /* Leading white space is indentation, not inih's multi-line continuation. */
        while (n > 0 && (*start == ' ' || *start == '\t')) {
                start++;
                n--;
        }
        while (n > 0 && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
                n--;

        str[0] = '\0';
        if (memchr(start, '\0', n)) {
                ctx_diag(ctx, CONF_DIAG_ERROR, "line contains a NUL byte");
                return str;
        }
        if (n >= (size_t) num - 1) {
                ctx_diag(ctx, CONF_DIAG_ERROR, "line is %zu characters long, at most %d are allowed", n,
                         num - 2);
                return str;
        }
        memcpy(str, start, n);
        str[n] = '\0';

        if (n == 0)
                ctx->kind = LINE_BLANK;
        else if (str[0] == ';' || str[0] == '#')
                ctx->kind = LINE_COMMENT;
        else if (str[0] == '[') {
                ctx->kind = LINE_SECTION;
                section_begin(ctx, str);
        } else
                ctx->kind = LINE_CONTENT;
        return str;
}

static int config_add_file(Config *c, const char *name) {
        char **n = realloc(c->files, (c->n_files + 1) * sizeof *n);

        if (!n)
                return -ENOMEM;
        c->files = n;
        if (!(c->files[c->n_files] = strdup(name)))
                return -ENOMEM;
        c->n_files++;
        return 0;
}

int config_parse_buffer(Config *c, const char *name, const char *buf, size_t len, ConfDiags *diags) {
        ParseCtx ctx = { .config = c, .diags = diags, .file = name, .buf = buf, .len = len };
        int r;

        r = config_add_file(c, name);
        if (r < 0)
                return r;
        r = ini_parse_stream(conf_reader, &ctx, conf_handler, &ctx);
        check_previous_line(&ctx);
        section_finish(&ctx);
        if (r == -2)
                return -ENOMEM;
        if (r < 0)
                return -EIO;
        /* r > 0 is a line inih disliked; we reported every such line ourselves. */
        return ctx.n_errors > 0 ? -EINVAL : 0;
}


