/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        for (char **s = l; s && *s; s++)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        return true;
        return false;
}

void strv_remove(char **l, const char *s) {
        char **w = l;

        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        free(*l);
                else
                        *w++ = *l;
        if (w)
                *w = NULL;
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, (n + 2) * sizeof *c);

        if (!c)
                return -ENOMEM;
        c[n] = s;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        char *d = strdup(s);
        int r;

        if (!d)
                return -ENOMEM;
        r = strv_push(l, d);
        if (r < 0)
                free(d);
        return r;
}

int strv_extend_strv(char ***l, char *const *other) {
        for (; other && *other; other++) {
                int r = strv_extend(l, *other);
                if (r < 0)
                        return r;
        }
        return 0;
}

char **strv_split_whitespace(const char *s) {
        char **l = calloc(1, sizeof *l);
        const char *p = s;

        if (!l)
                return NULL;
        for (;;) {
                p += strspn(p, " \t\n");
                if (!*p)
                        return l;
                size_t n = strcspn(p, " \t\n");
                char *w = strndup(p, n);
                if (!w || strv_push(&l, w) < 0) {
                        free(w);
                        return strv_free(l);
                }
                p += n;
        }
}

char **strv_copy(char *const *l) {
        char **c = NULL;

        if (!l)
                return NULL;
        c = calloc(1, sizeof *c);
        if (!c || strv_extend_strv(&c, l) < 0)
                return strv_free(c);
        return c;
}
