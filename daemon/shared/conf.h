/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "nodemask.h"

#define SPMD_CONF_FILE "/etc/spmd/spmd.conf"

typedef enum Tristate {
        TRISTATE_NO = 0,
        TRISTATE_YES = 1,
        TRISTATE_AUTO = 2, /* use where the kernel supports it, report unavailable otherwise */
} Tristate;

typedef enum MemZone {
        MEM_ZONE_MOVABLE,
        MEM_ZONE_NORMAL,
} MemZone;

typedef enum DeviceMatchKind {
        DEVICE_MATCH_DAX,       /* dax0.0 */
        DEVICE_MATCH_SERIAL,    /* serial:0x1234 - CXL memdev serial number */
        DEVICE_MATCH_MEMDEV,    /* memdev:mem0 */
        DEVICE_MATCH_REGION,    /* region:region0 - CXL region */
        DEVICE_MATCH_UNCLAIMED, /* all-unclaimed - every dax device no other [Device] names */
} DeviceMatchKind;

typedef enum ViolationAction {
        VIOLATION_LOG,
        VIOLATION_KILL,
} ViolationAction;

typedef enum PressureLevel {
        PRESSURE_OK,
        PRESSURE_WARN,
        PRESSURE_CRITICAL,
        PRESSURE_NEVER, /* only as a "from this level on" setting: never */
} PressureLevel;

typedef enum ShutdownPolicy {
        SHUTDOWN_KEEP,    /* leave devices online and enforcement pinned */
        SHUTDOWN_RELEASE, /* evacuate, offline and return devices to devdax */
} ShutdownPolicy;

typedef struct ConfSource {
        char *file;
        unsigned line; /* line of the section header */
} ConfSource;

typedef struct DeviceConf {
        ConfSource source;
        char *name;
        DeviceMatchKind match_kind;
        char *match;            /* as written, e.g. "serial:0x1234" */
        uint64_t match_serial;  /* for DEVICE_MATCH_SERIAL */
        bool match_set;
        MemZone zone;
        bool require_dedicated_node;
        Tristate spm_attribute;
        char *ratio_path;       /* sysfs attribute with the compression ratio, or NULL */
        uint64_t physical_capacity; /* bytes of physical media behind a compressed device; 0 = unknown */
        Tristate private_node;      /* Private=: online as a private memory node (private-node patches) */
        uint32_t private_services;  /* PrivateServices= (PrivateService bits, dax-private.h) */
        bool private_services_set;  /* ... written; otherwise device_private_services() picks */
} DeviceConf;

typedef struct AccessConf {
        ConfSource source;
        char *name;
        char **users;   /* user names or numeric uids */
        char **groups;  /* group names or numeric gids */
        char **units;   /* systemd unit globs the grant may target */
        char **cgroups; /* cgroup path globs the grant may target */
        bool all_nodes;
        NodeMask nodes;
        uint64_t max_bytes; /* UINT64_MAX = no limit */
        bool allow_persistent;
        uint32_t max_grants;
} AccessConf;

/* A standing grant the operator declares: this cgroup may always use these SPM nodes. */
typedef struct GrantConf {
        ConfSource source;
        char *name;
        char *cgroup;   /* absolute path below the cgroup2 mount, e.g. /inference.slice */
        bool all_nodes;
        NodeMask nodes;
} GrantConf;

/* Where a key was last assigned: for diagnostics that involve several keys. */
typedef struct ConfOrigin {
        const void *object; /* the Config, DeviceConf, AccessConf or GrantConf */
        const char *key;    /* static string from the schema */
        ConfSource source;
} ConfOrigin;

typedef struct Config {
        unsigned n_ref; /* config_new() makes one; config_ref() adds, config_free() drops one */

        /* [Daemon] */
        int log_level; /* -1: keep command-line/default */
        char *state_directory;
        char *bpf_pin_directory;
        ShutdownPolicy shutdown_policy;

        /* [Enforcement] */
        bool cpuset;
        Tristate cgroup_guard;
        Tristate task_movememory;
        Tristate observe;
        Tristate struct_ops;
        Tristate native_spm;
        ViolationAction violation_action;
        char **trusted_executables;
        bool persist_after_exit;
        bool kernel_demotion;   /* leave the kernel's demotion as it is, even onto SPM nodes */

        /* [Pressure] */
        uint32_t free_warn;     /* permyriad of node size */
        uint32_t free_critical;
        double ratio_warn;      /* compression ratio at or below which the level rises; 0 = off */
        double ratio_critical;
        uint32_t psi_warn;      /* permyriad of stall time over psi_window */
        uint32_t psi_critical;
        uint64_t psi_window_usec;
        uint32_t hysteresis;    /* permyriad a metric must recover beyond its threshold */
        uint64_t recover_after_usec;
        PressureLevel refuse_grants_at;

        /* [Reclaim] */
        bool reclaim;
        PressureLevel reclaim_at;
        uint64_t reclaim_step;  /* bytes per memory.reclaim write */
        uint64_t reclaim_min_interval_usec;
        int swappiness;         /* -1 = kernel's choice */

        /* [Evacuation] */
        bool evacuation;
        PressureLevel evacuate_at;
        bool evacuate_target_set;
        NodeMask evacuate_target; /* empty = every node with CPUs */
        uint32_t evacuate_batch_pages;
        uint64_t evacuate_max_rate; /* bytes per second */

        /* [Demotion] */
        bool demotion;
        uint64_t demotion_cold_age_usec;
        uint64_t demotion_max_rate;
        bool promotion;

        DeviceConf **devices;
        size_t n_devices;
        AccessConf **access;
        size_t n_access;
        GrantConf **grants;
        size_t n_grants;

        char **files; /* every file read, in order */
        size_t n_files;
        ConfOrigin *origins;
        size_t n_origins;
} Config;

typedef enum ConfDiagLevel {
        CONF_DIAG_WARNING,
        CONF_DIAG_ERROR,
} ConfDiagLevel;

typedef struct ConfDiag {
        ConfDiagLevel level;
        char *file;
        unsigned line; /* 0 = the file as a whole */
        char *message;
} ConfDiag;

typedef struct ConfDiags {
        ConfDiag *items;
        size_t n;
        size_t n_errors;
} ConfDiags;

Config *config_new(void);
/* What borrows from a Config (a device plan's claims) holds a reference, so a reload that replaces it
 * frees it only when the last one goes. */
Config *config_ref(Config *c);
Config *config_free(Config *c);
static inline void config_freep(Config **c) {
        if (*c)
                *c = config_free(*c);
}

void conf_diags_clear(ConfDiags *d);
void conf_diags_print(const ConfDiags *d, FILE *f);

/*
 * Read main_path (a missing file is an error only when required) and then
 * main_path + ".d/" * ".conf" in lexical order. On success returns 0 and the
 * new Config in *ret; with any error returns -EINVAL and leaves *ret untouched.
 * Warnings and errors are appended to diags in both cases.
 */
int config_load(const char *main_path, bool required, Config **ret, ConfDiags *diags);

/* Parse one file's contents on top of c (used for drop-ins, tests and the fuzzer). */
int config_parse_buffer(Config *c, const char *name, const char *buf, size_t len, ConfDiags *diags);
/* Cross-section checks, once every file has been read. */
int config_verify(Config *c, ConfDiags *diags);

/* Where object's key was last set, or NULL if it still has its default. */
const ConfSource *config_origin(const Config *c, const void *object, const char *key);

/* The effective configuration, in the config file's own syntax. */
void config_dump(const Config *c, FILE *f);

const char *tristate_to_string(Tristate t);
const char *pressure_level_to_string(PressureLevel l);
const char *device_match_kind_to_string(DeviceMatchKind k);
