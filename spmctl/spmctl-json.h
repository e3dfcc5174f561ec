/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmctl's --json output, through json-c: values built as json_object trees, printed on one line.
 */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>


/* o on one line (owned by o). */
const char *json_text(json_object *o);
/* Print o on one line to f and drop the reference. -ENOMEM when it could not be built (o NULL). */
int json_print(json_object *o, FILE *f);
/* A u64 that is UINT64_MAX for "none" or "unknown": JSON null then. */
json_object *json_u64_or_null(uint64_t v);
/* Add key = v to object o (v NULL: JSON null); the object takes v (dropped when o is NULL: out of
 * memory, which json_print() then reports). */
void json_add(json_object *o, const char *key, json_object *v);
/* The value at m's read position (one complete type) as JSON: structs as arrays, string-keyed
 * dictionaries as objects, variants as their content. 0 with *ret, or a negative errno. */
int json_from_bus(sd_bus_message *m, json_object **ret);
static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* What a verb returns when it cannot build its output: says so, exit status 1. */
static inline int spmctl_oom(void) {
        fputs("Out of memory.\n", stderr);
        return 1;
}
