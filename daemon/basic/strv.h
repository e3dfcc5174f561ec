/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated string arrays, as systemd's strv. NULL is the empty list. */
char **strv_free(char **l);
size_t strv_length(char *const *l);
static inline bool strv_isempty(char *const *l) {
        return !l || !*l;
}
bool strv_contains(char *const *l, const char *s);
void strv_remove(char **l, const char *s); /* every copy of s, in place */
char **strv_split_whitespace(const char *s);
int strv_push(char ***l, char *s);         /* takes ownership of s */
int strv_extend(char ***l, const char *s); /* copies s */
int strv_extend_strv(char ***l, char *const *other);
char **strv_copy(char *const *l); /* NULL for NULL, and on OOM */

static inline void strv_freep(char ***l) {
        *l = strv_free(*l);
}
