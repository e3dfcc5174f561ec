/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spmd.conf schema, shared by the parser (conf.c) and the dump (conf-schema.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

typedef enum ConfType {
        CONF_BOOL,
        CONF_TRISTATE,
        CONF_STRING,
        CONF_PATH,       /* absolute path */
        CONF_CGROUP,     /* absolute cgroup path below the cgroup2 mount, not "/" */
        CONF_PATHV,      /* list of absolute paths; empty assignment clears */
        CONF_STRV,       /* list of words; empty assignment clears */
        CONF_SIZE,
        CONF_DURATION,
        CONF_PERMYRIAD,
        CONF_RATIO,      /* decimal > 0, or empty for "off" */
        CONF_LOG_LEVEL,
        CONF_ENUM,
        CONF_NODES,      /* "all" or a node list; 'flag' is the bool "all" */
        CONF_NODES_OPT,  /* a node list, or empty for the default; 'flag' is the bool "set" */
        CONF_DEVICE_MATCH,
        CONF_UINT32,
        CONF_SWAPPINESS, /* 0..200, or empty for the kernel's choice */
        CONF_SERVICES,   /* private-node opt-ins by sysfs name, a uint32 mask; empty for the default; 'flag' is the bool "set" */
} ConfType;

typedef struct ConfItem {
        const char *key;
        ConfType type;
        size_t offset;
        const char *const *enum_names; /* CONF_ENUM */
        size_t n_enum;
        size_t flag;                   /* CONF_NODES / CONF_NODES_OPT */
        uint32_t min, max;             /* CONF_UINT32 */
        const char *expect;            /* what a valid value looks like, for errors */
} ConfItem;

typedef struct SectionDef {
        const char *name;
        const ConfItem *items;
        bool repeated;
} SectionDef;

extern const SectionDef conf_sections[];
extern const size_t conf_n_sections;
extern const char *const conf_tristate_names[];
extern const size_t conf_n_tristate_names;
