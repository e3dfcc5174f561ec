/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What spmd.conf may contain: sections, keys, their types and defaults' names; and the dump. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf-internal.h"
#include "dax-private.h"
#include "log.h"
#include "parse-util.h"

const char *const conf_tristate_names[] = { [TRISTATE_NO] = "no", [TRISTATE_YES] = "yes",
                                              [TRISTATE_AUTO] = "auto" };
const size_t conf_n_tristate_names = ELEMENTSOF(conf_tristate_names);
static const char *const zone_names[] = { [MEM_ZONE_MOVABLE] = "movable", [MEM_ZONE_NORMAL] = "normal" };
static const char *const violation_names[] = { [VIOLATION_LOG] = "log", [VIOLATION_KILL] = "kill" };
static const char *const level_names[] = { [PRESSURE_OK] = "ok", [PRESSURE_WARN] = "warn",
                                           [PRESSURE_CRITICAL] = "critical", [PRESSURE_NEVER] = "never"
                                           };
static const char *const action_level_names[] = { [PRESSURE_OK] = NULL, [PRESSURE_WARN] = "warn",
                                                  [PRESSURE_CRITICAL] = "critical",
                                                  [PRESSURE_NEVER] = "never" };
static const char *const shutdown_names[] = { [SHUTDOWN_KEEP] = "keep", [SHUTDOWN_RELEASE] = "release" };
static const char *const match_names[] = { [DEVICE_MATCH_DAX] = "dax", [DEVICE_MATCH_SERIAL] = "serial",
                                           [DEVICE_MATCH_MEMDEV] = "memdev", [DEVICE_MATCH_REGION] = "region",
                                           [DEVICE_MATCH_UNCLAIMED] = "all-unclaimed" };

#define C(field) offsetof(Config, field)
#define D(field) offsetof(DeviceConf, field)
#define A(field) offsetof(AccessConf, field)
#define G(field) offsetof(GrantConf, field)
#define ENUM(k, field, names, what) { k, CONF_ENUM, field, names, ELEMENTSOF(names), 0, 0, 0, what }

static const ConfItem daemon_items[] = {
        { "LogLevel", CONF_LOG_LEVEL, C(log_level),
          .expect = "a log level: debug, info, notice, warning, err, or empty" },
        { "StateDirectory", CONF_PATH, C(state_directory), .expect = "an absolute path" },
        { "BpfPinDirectory", CONF_PATH, C(bpf_pin_directory), .expect = "an absolute path under a bpffs mount" },
        ENUM("ShutdownPolicy", C(shutdown_policy), shutdown_names, "keep or release"),
        {},
};

static const ConfItem enforcement_items[] = {
        { "Cpuset", CONF_BOOL, C(cpuset), .expect = "a boolean" },
        { "CgroupGuard", CONF_TRISTATE, C(cgroup_guard), .expect = "yes, no or auto" },
        { "TaskMoveMemory", CONF_TRISTATE, C(task_movememory), .expect = "yes, no or auto" },
        { "Observe", CONF_TRISTATE, C(observe), .expect = "yes, no or auto" },
        { "StructOps", CONF_TRISTATE, C(struct_ops), .expect = "yes, no or auto" },
        { "NativeSpm", CONF_TRISTATE, C(native_spm), .expect = "yes, no or auto" },
        ENUM("ViolationAction", C(violation_action), violation_names, "log or kill"),
        { "TrustedExecutable", CONF_PATHV, C(trusted_executables), .expect = "absolute paths" },
        { "PersistAfterExit", CONF_BOOL, C(persist_after_exit), .expect = "a boolean" },
        { "KernelDemotion", CONF_BOOL, C(kernel_demotion), .expect = "a boolean" },
        {},
};

static const ConfItem pressure_items[] = {
        { "FreeWarn", CONF_PERMYRIAD, C(free_warn), .expect = "a percentage such as 20%" },
        { "FreeCritical", CONF_PERMYRIAD, C(free_critical), .expect = "a percentage such as 10%" },
        { "RatioWarn", CONF_RATIO, C(ratio_warn), .expect = "a compression ratio such as 2.0, or empty" },
        { "RatioCritical", CONF_RATIO, C(ratio_critical), .expect = "a compression ratio such as 1.5, or empty" },
        { "PsiWarn", CONF_PERMYRIAD, C(psi_warn), .expect = "a percentage such as 10%" },
        { "PsiCritical", CONF_PERMYRIAD, C(psi_critical), .expect = "a percentage such as 40%" },
        { "PsiWindow", CONF_DURATION, C(psi_window_usec), .expect = "a duration from 500ms to 10s" },
        { "Hysteresis", CONF_PERMYRIAD, C(hysteresis), .expect = "a percentage such as 5%" },
        { "RecoverAfter", CONF_DURATION, C(recover_after_usec), .expect = "a duration such as 10s" },
        ENUM("RefuseGrantsAt", C(refuse_grants_at), action_level_names, "warn, critical or never"),
        {},
};

static const ConfItem reclaim_items[] = {
        { "Enable", CONF_BOOL, C(reclaim), .expect = "a boolean" },
        ENUM("At", C(reclaim_at), action_level_names, "warn, critical or never"),
        { "Step", CONF_SIZE, C(reclaim_step), .expect = "a size such as 16M" },
        { "MinInterval", CONF_DURATION, C(reclaim_min_interval_usec), .expect = "a duration such as 100ms" },
        { "Swappiness", CONF_SWAPPINESS, C(swappiness), .expect = "a number from 0 to 200, or empty" },
        {},
};

static const ConfItem evacuation_items[] = {
        { "Enable", CONF_BOOL, C(evacuation), .expect = "a boolean" },
        ENUM("At", C(evacuate_at), action_level_names, "warn, critical or never"),
        { "TargetNodes", CONF_NODES_OPT, C(evacuate_target), .flag = C(evacuate_target_set),
          .expect = "a node list such as 0 or 0,2-3, or empty" },
        { "BatchPages", CONF_UINT32, C(evacuate_batch_pages), .min = 1, .max = 1u << 20,
          .expect = "a page count from 1 to 1048576" },
        { "MaxRate", CONF_SIZE, C(evacuate_max_rate), .expect = "bytes per second such as 1G, or infinity" },
        {},
};

static const ConfItem demotion_items[] = {
        { "Enable", CONF_BOOL, C(demotion), .expect = "a boolean" },
        { "ColdAge", CONF_DURATION, C(demotion_cold_age_usec), .expect = "a duration such as 30s" },
        { "MaxRate", CONF_SIZE, C(demotion_max_rate), .expect = "bytes per second such as 32M" },
        { "Promote", CONF_BOOL, C(promotion), .expect = "a boolean" },
        {},
};

static const ConfItem device_items[] = {
        { "Name", CONF_STRING, D(name), .expect = "a name" },
        { "Match", CONF_DEVICE_MATCH, D(match),
          .expect = "daxX.Y, serial:NUMBER, memdev:memN, region:regionN or all-unclaimed" },
        ENUM("Zone", D(zone), zone_names, "movable or normal"),
        { "RequireDedicatedNode", CONF_BOOL, D(require_dedicated_node), .expect = "a boolean" },
        { "SpmAttribute", CONF_TRISTATE, D(spm_attribute), .expect = "yes, no or auto" },
        { "CompressionRatioPath", CONF_PATH, D(ratio_path), .expect = "an absolute path, or empty" },
        { "PhysicalCapacity", CONF_SIZE, D(physical_capacity), .expect = "a size such as 64G" },
        { "Private", CONF_TRISTATE, D(private_node), .expect = "yes, no or auto" },
        { "PrivateServices", CONF_SERVICES, D(private_services), .flag = D(private_services_set),
          .expect = "services by their sysfs names: reclaim user_numa hotunplug demotion numa_balancing ltpin "
                    "dax_file; none; or empty for the default" },
        {},
};

static const ConfItem access_items[] = {
        { "Name", CONF_STRING, A(name), .expect = "a name" },
        { "User", CONF_STRV, A(users), .expect = "user names or uids" },
        { "Group", CONF_STRV, A(groups), .expect = "group names or gids" },
        { "Unit", CONF_STRV, A(units), .expect = "unit names or globs" },
        { "Cgroup", CONF_STRV, A(cgroups), .expect = "cgroup paths or globs" },
        { "Nodes", CONF_NODES, A(nodes), .flag = A(all_nodes), .expect = "all, or a node list such as 1,3" },
        { "MaxBytes", CONF_SIZE, A(max_bytes), .expect = "a size such as 4G, or infinity" },
        { "AllowPersistent", CONF_BOOL, A(allow_persistent), .expect = "a boolean" },
        { "MaxGrants", CONF_UINT32, A(max_grants), .min = 1, .max = 65536, .expect = "a number from 1 to 65536" },
        {},
};

static const ConfItem grant_items[] = {
        { "Name", CONF_STRING, G(name), .expect = "a name" },
        { "Cgroup", CONF_CGROUP, G(cgroup), .expect = "a cgroup path such as /inference.slice" },
        { "Nodes", CONF_NODES, G(nodes), .flag = G(all_nodes), .expect = "all, or a node list such as 1,3" },
        {},
};

const SectionDef conf_sections[] = {
        { "Daemon", daemon_items, false },
        { "Enforcement", enforcement_items, false },
        { "Pressure", pressure_items, false },
        { "Reclaim", reclaim_items, false },
        { "Evacuation", evacuation_items, false },
        { "Demotion", demotion_items, false },
        { "Device", device_items, true },
        { "Access", access_items, true },
        { "Grant", grant_items, true },
};
const size_t conf_n_sections = ELEMENTSOF(conf_sections);

const char *tristate_to_string(Tristate t) {
        return (size_t) t < conf_n_tristate_names ? conf_tristate_names[t] : NULL;
}

const char *pressure_level_to_string(PressureLevel l) {
        return (size_t) l < ELEMENTSOF(level_names) ? level_names[l] : NULL;
}

const char *device_match_kind_to_string(DeviceMatchKind k) {
        return (size_t) k < ELEMENTSOF(match_names) ? match_names[k] : NULL;
}

/* ---- dump ---- */

static void format_exact(FILE *f, uint64_t v, const char *const *units, const uint64_t *factors, size_t n) {
        for (size_t i = n; i-- > 0;)
                if (v >= factors[i] && v % factors[i] == 0) {
                        fprintf(f, "%" PRIu64 "%s", v / factors[i], units[i]);
                        return;
                }
        fprintf(f, "%" PRIu64 "%s", v, units[0]);
}

static void format_value(FILE *f, const ConfItem *it, const void *base) {
        static const char *const size_units[] = { "", "K", "M", "G", "T" };
        static const uint64_t size_factors[] = { 1, 1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40 };
        static const char *const time_units[] = { "us", "ms", "s", "min", "h" };
        static const uint64_t time_factors[] = { 1, 1000, 1000000, 60000000, 3600000000ull };
        const void *p = (const char *) base + it->offset;
        char buf[4096];

        switch (it->type) {
        case CONF_BOOL:
                fputs(*(const bool *) p ? "yes" : "no", f);
                break;
        case CONF_TRISTATE:
                fputs(tristate_to_string(*(const int *) p), f);
                break;
        case CONF_ENUM:
                fputs(strempty(it->enum_names[*(const int *) p]), f);
                break;
        case CONF_LOG_LEVEL:
                fputs(strempty(log_level_to_string(*(const int *) p)), f);
                break;
        case CONF_STRING:
        case CONF_PATH:
        case CONF_CGROUP:
        case CONF_DEVICE_MATCH:
                fputs(strempty(*(char *const *) p), f);
                break;
        case CONF_STRV:
        case CONF_PATHV:
                for (char *const *s = *(char **const *) p; s && *s; s++)
                        fprintf(f, "%s%s", s == *(char **const *) p ? "" : " ", *s);
                break;
        case CONF_SIZE:
                if (*(const uint64_t *) p == UINT64_MAX)
                        fputs("infinity", f);
                else
                        format_exact(f, *(const uint64_t *) p, size_units, size_factors, ELEMENTSOF(size_units));
                break;
        case CONF_DURATION:
                if (*(const uint64_t *) p == USEC_INFINITY)
                        fputs("infinity", f);
                else
                        format_exact(f, *(const uint64_t *) p, time_units, time_factors, ELEMENTSOF(time_units));
                break;
        case CONF_PERMYRIAD:
                fprintf(f, "%g%%", *(const uint32_t *) p / 100.0);
                break;
        case CONF_RATIO:
                if (*(const double *) p > 0)
                        fprintf(f, "%g", *(const double *) p);
                break;
        case CONF_UINT32:
                fprintf(f, "%" PRIu32, *(const uint32_t *) p);
                break;
        case CONF_SWAPPINESS:
                if (*(const int *) p >= 0)
                        fprintf(f, "%d", *(const int *) p);
                break;
        case CONF_SERVICES:
                if (*(const bool *) ((const char *) base + it->flag))
                        fputs(private_services_format(*(const uint32_t *) p, buf, sizeof buf), f);
                break;
        case CONF_NODES:
        case CONF_NODES_OPT: {
                bool flag = *(const bool *) ((const char *) base + it->flag);
                if (it->type == CONF_NODES && flag)
                        fputs("all", f);
                else if (it->type == CONF_NODES || flag)
                        fputs(nodemask_format(p, buf, sizeof buf), f);
                break;
        }
        }
}

static void dump_section(FILE *f, const SectionDef *s, const void *base, const ConfSource *src) {
        fprintf(f, "\n[%s]\n", s->name);
        if (src)
                fprintf(f, "# from %s:%u\n", src->file, src->line);
        for (const ConfItem *it = s->items; it->key; it++) {
                fprintf(f, "%s=", it->key);
                format_value(f, it, base);
                fputc('\n', f);
        }
}

void config_dump(const Config *c, FILE *f) {
        fprintf(f, "# effective configuration, read from:");
        for (size_t i = 0; i < c->n_files; i++)
                fprintf(f, " %s", c->files[i]);
        fputc('\n', f);
        for (size_t i = 0; i < conf_n_sections; i++) {
                const SectionDef *s = &conf_sections[i];
                if (!s->repeated)
                        dump_section(f, s, c, NULL);
                else if (strcmp(s->name, "Device") == 0)
                        for (size_t j = 0; j < c->n_devices; j++)
                                dump_section(f, s, c->devices[j], &c->devices[j]->source);
                else if (strcmp(s->name, "Grant") == 0)
                        for (size_t j = 0; j < c->n_grants; j++)
                                dump_section(f, s, c->grants[j], &c->grants[j]->source);
                else
                        for (size_t j = 0; j < c->n_access; j++)
                                dump_section(f, s, c->access[j], &c->access[j]->source);
        }
}
