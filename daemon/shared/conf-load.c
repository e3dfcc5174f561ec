/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading spmd.conf and its drop-ins from disk, and checks across sections. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "dax-private.h"
#include "log.h"
#include "strv.h"

#define CONF_FILE_MAX (1024 * 1024)

_printf_(4, 5) static void verify_error(ConfDiags *d, const ConfSource *where, const char *fallback_file,
                                        const char *fmt, ...) {
        ConfDiag *n;
        va_list ap;
        char *msg;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || !(n = realloc(d->items, (d->n + 1) * sizeof *n))) {
                free(msg);
                return;
        }
        d->items = n;
        d->items[d->n++] = (ConfDiag){ CONF_DIAG_ERROR, strdup(where ? where->file : fallback_file),
                                       where ? where->line : 0, msg };
        d->n_errors++;
}

/* Where to point a diagnostic about two keys: whichever was set last in the files. */
static const ConfSource *origin_of_pair(const Config *c, const void *obj, const char *a, const char *b) {
        const ConfSource *sa = config_origin(c, obj, a), *sb = config_origin(c, obj, b);
        return sa ? sa : sb;
}

int config_verify(Config *c, ConfDiags *d) {
        const char *file = c->n_files > 0 ? c->files[0] : "(config)";
        size_t before = d->n_errors;
        int unclaimed = 0;

        if (c->free_warn > 0 && c->free_critical >= c->free_warn)
                verify_error(d, origin_of_pair(c, c, "FreeCritical", "FreeWarn"), file,
                             "[Pressure] FreeCritical=%g%% must be below FreeWarn=%g%% (critical means less "
                             "free memory than warn)",
                             c->free_critical / 100.0, c->free_warn / 100.0);
        if (c->ratio_warn > 0 && c->ratio_critical > 0 && c->ratio_critical >= c->ratio_warn)
                verify_error(d, origin_of_pair(c, c, "RatioCritical", "RatioWarn"), file,
                             "[Pressure] RatioCritical=%g must be below RatioWarn=%g (a falling compression "
                             "ratio is the danger)",
                             c->ratio_critical, c->ratio_warn);
        if (c->psi_critical > 0 && c->psi_warn >= c->psi_critical)
                verify_error(d, origin_of_pair(c, c, "PsiWarn", "PsiCritical"), file,
                             "[Pressure] PsiWarn=%g%% must be below PsiCritical=%g%%", c->psi_warn / 100.0,
                             c->psi_critical / 100.0);
        /* The kernel accepts PSI trigger windows from 500ms to 10s. */
        if (c->psi_window_usec < 500000 || c->psi_window_usec > 10000000)
                verify_error(d, config_origin(c, c, "PsiWindow"), file,
                             "[Pressure] PsiWindow= must be between 500ms and 10s (the kernel's PSI trigger "
                             "window limits)");
        if (c->reclaim && c->reclaim_step == 0)
                verify_error(d, config_origin(c, c, "Step"), file, "[Reclaim] Step= must be larger than 0");
        if (c->evacuate_max_rate == 0)
                verify_error(d, config_origin(c, c, "MaxRate"), file,
                             "[Evacuation] MaxRate= must be larger than 0 (use Enable=no to turn it off)");

        for (size_t i = 0; i < c->n_devices; i++) {
                const DeviceConf *x = c->devices[i];
                const ConfSource *where = config_origin(c, x, "Match");

                if (!x->match_set)
                        continue; /* reported when the section was read */
                if (x->private_services_set) {
                        const ConfSource *ps = config_origin(c, x, "PrivateServices");
                        char s[160];

                        if (x->private_node == TRISTATE_NO)
                                verify_error(d, ps, file,
                                             "[Device] Match=%s: PrivateServices=%s is set, but Private=no: the "
                                             "services are opt-ins of a private node",
                                             x->match, private_services_format(x->private_services, s, sizeof s));
                        else if ((x->private_services & PRIVATE_DEMOTION) && !(x->private_services & PRIVATE_RECLAIM))
                                verify_error(d, ps, file,
                                             "[Device] Match=%s: PrivateServices=%s names demotion without reclaim: "
                                             "the kernel demotes only what it reclaims, and refuses the node at "
                                             "online (add reclaim, or drop demotion)",
                                             x->match, private_services_format(x->private_services, s, sizeof s));
                }
                if (x->match_kind == DEVICE_MATCH_UNCLAIMED && ++unclaimed > 1)
                        verify_error(d, where, file, "[Device] Match=all-unclaimed appears more than once");
                for (size_t j = 0; j < i; j++) {
                        const DeviceConf *y = c->devices[j];
                        if (y->match_set && strcmp(x->match, y->match) == 0 &&
                            x->match_kind != DEVICE_MATCH_UNCLAIMED)
                                verify_error(d, where, file,
                                             "[Device] Match=%s already names the [Device] at %s:%u", x->match,
                                             y->source.file, y->source.line);
                        if (x->name && y->name && strcmp(x->name, y->name) == 0)
                                verify_error(d, config_origin(c, x, "Name"), file,
                                             "[Device] Name=%s is already used by the [Device] at %s:%u",
                                             x->name, y->source.file, y->source.line);
                }
        }
        for (size_t i = 0; i < c->n_access; i++)
                for (size_t j = 0; j < i; j++) {
                        const AccessConf *x = c->access[i], *y = c->access[j];
                        if (x->name && y->name && strcmp(x->name, y->name) == 0)
                                verify_error(d, config_origin(c, x, "Name"), file,
                                             "[Access] Name=%s is already used by the [Access] at %s:%u",
                                             x->name, y->source.file, y->source.line);
                }

        for (size_t i = 0; i < c->n_grants; i++)
                for (size_t j = 0; j < i; j++) {
                        const GrantConf *x = c->grants[i], *y = c->grants[j];
                        if (x->cgroup && y->cgroup && strcmp(x->cgroup, y->cgroup) == 0)
                                verify_error(d, config_origin(c, x, "Cgroup"), file,
                                             "[Grant] Cgroup=%s is already granted by the [Grant] at %s:%u",
                                             x->cgroup, y->source.file, y->source.line);
                        if (x->name && y->name && strcmp(x->name, y->name) == 0)
                                verify_error(d, config_origin(c, x, "Name"), file,
                                             "[Grant] Name=%s is already used by the [Grant] at %s:%u",
                                             x->name, y->source.file, y->source.line);
                }

        return d->n_errors > before ? -EINVAL : 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > CONF_FILE_MAX)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break; /* shrank under us: take what is there */
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int parse_file(Config *c, const char *path, ConfDiags *d) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_file(path, &buf, &len);
        if (r < 0)
                return r;
        return config_parse_buffer(c, path, buf, len, d);
}

static int dropin_filter(const struct dirent *de) {
        size_t n = strlen(de->d_name);

        return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

static const char *file_error_hint(int r) {
        switch (r) {
        case -EISDIR: return "is a directory, expected a file";
        case -EBADFD: return "is not a regular file";
        case -EFBIG: return "is larger than 1 MiB";
        default: return NULL;
        }
}

static void file_diag(ConfDiags *d, const char *path, int r) {
        ConfDiag *n = realloc(d->items, (d->n + 1) * sizeof *n);
        const char *hint = file_error_hint(r);
        char *msg = NULL;

        if (!n)
                return;
        d->items = n;
        if (asprintf(&msg, "cannot read: %s", hint ? hint : strerror(-r)) < 0)
                return;
        d->items[d->n++] = (ConfDiag){ CONF_DIAG_ERROR, strdup(path), 0, msg };
        d->n_errors++;
}

int config_load(const char *main_path, bool required, Config **ret, ConfDiags *d) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *dir = NULL;
        struct dirent **ents = NULL;
        size_t before = d->n_errors;
        int n, r;

        c = config_new();
        if (!c)
                return -ENOMEM;

        r = parse_file(c, main_path, d);
        if (r == -ENOENT && !required)
                log_debug("%s does not exist, using built-in defaults.", main_path);
        else if (r == -ENOMEM)
                return r;
        else if (r < 0 && r != -EINVAL)
                file_diag(d, main_path, r);

        if (asprintf(&dir, "%s.d", main_path) < 0)
                return -ENOMEM;
        n = scandir(dir, &ents, dropin_filter, alphasort);
        if (n < 0 && errno != ENOENT && errno != ENOTDIR)
                file_diag(d, dir, -errno);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dir, ents[i]->d_name) >= 0) {
                        r = parse_file(c, p, d);
                        if (r < 0 && r != -EINVAL)
                                file_diag(d, p, r);
                }
                free(ents[i]);
        }
        free(ents);

        (void) config_verify(c, d);
        if (d->n_errors > before)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}
