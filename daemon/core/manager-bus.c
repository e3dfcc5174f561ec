/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager on the system bus: the connection (kept, and made again when it is lost), the name
 * org.spmd1, and the manager's own part of org.spmd1.Manager (status, nodes, devices, Reload,
 * ReleaseDevice, the enforcement and pressure signals). The broker serves its part on the same
 * object (broker/broker.c).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-guard.h"
#include "bpf-observe.h"
#include "broker.h"
#include "bus-util.h"
#include "config.h"
#include "demote.h"
#include "log.h"
#include "manager-bus.h"
#include "manager.h"
#include "parse-util.h"
#include "spmd/bus.h"
#include "spmd/guard.h"
#include "spmd/observe.h"
#include "strv.h"
#include "time-util.h"

#define ERROR_RELOAD        "org.spmd1.Error.ReloadFailed"
#define ERROR_DEVICE        "org.spmd1.Error.DeviceFailed"

void manager_bus_emit_violation(Manager *m, const struct spmd_violation_event *e, const char *cgroup) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        char comm[17];
        NodeMask mask = {};
        int r;

        if (!m->bus)
                return;
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        for (unsigned w = 0; w < SPMD_EVENT_MASK_WORDS; w++)
                mask.bits[w] = e->nodes[w];
        r = sd_bus_message_new_signal(m->bus, &msg, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "Violation");
        if (r >= 0)
                r = sd_bus_message_append(msg, "suuss", strna(spmd_syscall_to_string(e->syscall)), e->tgid, e->uid,
                                          comm, cgroup);
        if (r >= 0)
                r = bus_append_nodemask(msg, &mask);
        if (r >= 0)
                r = sd_bus_message_append(msg, "b", (int) !!e->killed);
        if (r >= 0)
                r = sd_bus_send(m->bus, msg, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot emit Violation: %m");
}

void manager_bus_emit_denial(Manager *m, const struct spmd_guard_event *e, const char *cgroup, const char *target) {
        char comm[17];

        if (!m->bus)
                return;
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        if (sd_bus_emit_signal(m->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "Denial", "suusss",
                               strna(spmd_guard_what_to_string(e->what)), e->tgid, e->uid, comm, cgroup, target) < 0)
                log_debug("Cannot emit Denial.");
}

void manager_bus_emit_pressure(Manager *m, unsigned node, int level, int before, const char *why) {
        if (!m->bus)
                return;
        if (sd_bus_emit_signal(m->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "PressureChanged", "usss", node,
                               pressure_level_to_string(level), pressure_level_to_string(before), why) < 0)
                log_debug("Cannot emit PressureChanged.");
        (void) sd_bus_emit_properties_changed(m->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "NodePressure",
                                              NULL);
}

void manager_bus_layers_changed(Manager *m) {
        if (m->bus)
                (void) sd_bus_emit_properties_changed(m->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE,
                                                      "EnforcementLayers", "SpmNodes", "NodePressure", NULL);
}

static const char *node_device(const Topology *t, int node) {
        for (size_t i = 0; i < t->n_daxdevs; i++)
                if (t->daxdevs[i].system_ram && t->daxdevs[i].target_node == node)
                        return t->daxdevs[i].name;
        return "";
}

static int reply_list_nodes(Manager *m, sd_bus_message *msg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        NodeMask spm;
        int r;

        manager_spm_nodes(m, &spm);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ubuttis)");
        for (size_t i = 0; r >= 0 && i < m->topology->n_nodes; i++) {
                const NodeInfo *n = &m->topology->nodes[i];
                r = sd_bus_message_append(reply, "(ubuttis)", (uint32_t) n->id, (int) nodemask_test(&spm, (unsigned) n->id),
                                          n->n_cpus, n->size, n->free, (int32_t) n->memory_tier,
                                          node_device(m->topology, n->id));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int reply_list_devices(Manager *m, sd_bus_message *msg) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssstisbs)");
        for (size_t i = 0; r >= 0 && i < m->topology->n_daxdevs; i++) {
                const DaxDevInfo *x = &m->topology->daxdevs[i];
                const CxlRegionInfo *reg = x->cxl_region[0] ? topology_cxl_region(m->topology, x->cxl_region) : NULL;
                const DeviceClaim *claim = device_plan_find(&m->plan, x->name);
                r = sd_bus_message_append(reply, "(ssstisbs)", x->name, x->cxl_region,
                                          reg && reg->n_targets ? reg->memdev[0] : "",
                                          reg && reg->n_targets ? reg->serial[0] : (uint64_t) 0,
                                          (int32_t) x->target_node, x->system_ram ? "system-ram" : "devdax",
                                          (int) strv_contains(m->onlined, x->name),
                                          claim ? (claim->conf->name ? claim->conf->name : claim->conf->match) : "");
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ListNodes and ListDevices answer from a topology read for them, in a thread (libcxl, libdaxctl
 * and sysfs: 130-280 ms in the test guest under load, too long for the loop). */
typedef int (*TopologyReply)(Manager *m, sd_bus_message *msg);

static void on_topology_for_call(sd_bus_message *msg, Manager *m, int r, TopologyReply reply) {
        if (r == -ECANCELED) /* stopping: the bus goes too */
                return;
        if (r < 0)
                r = sd_bus_reply_method_errnof(msg, -r, "Cannot read the memory topology: %m");
        else
                r = reply(m, msg);
        if (r < 0)
                log_debug_errno(r, "Cannot answer %s: %m", strna(sd_bus_message_get_member(msg)));
}

static void on_topology_for_list_nodes(Manager *m, int r, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        on_topology_for_call(msg, m, r, reply_list_nodes);
}

static void on_topology_for_list_devices(Manager *m, int r, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = userdata;

        on_topology_for_call(msg, m, r, reply_list_devices);
}

static int reply_after_topology_read(Manager *m, sd_bus_message *msg, TopologyReadDone done) {
        int r = manager_read_topology(m, done, sd_bus_message_ref(msg));

        if (r < 0) {
                sd_bus_message_unref(msg);
                return r;
        }
        return 1;
}

static int method_list_nodes(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        (void) error;
        return reply_after_topology_read(userdata, msg, on_topology_for_list_nodes);
}

static int method_list_devices(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        (void) error;
        return reply_after_topology_read(userdata, msg, on_topology_for_list_devices);
}

static int append_pressure(sd_bus_message *reply, Manager *m) {
        int r = sd_bus_message_open_container(reply, 'a', "(uss)");

        for (size_t i = 0; r >= 0 && i < m->pressure->n_nodes; i++)
                r = sd_bus_message_append(reply, "(uss)", m->pressure->nodes[i].node,
                                          pressure_level_to_string(m->pressure->nodes[i].state.level), m->pressure->nodes[i].why);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_kv(sd_bus_message *reply, const char *key, const char *type, ...) {
        va_list ap;
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', type);
        if (r >= 0) {
                va_start(ap, type);
                r = sd_bus_message_appendv(reply, type, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* Per SPM node: its metrics and what spmd did about them (a dict per node, so keys can be added). */
static int append_activity(sd_bus_message *reply, Manager *m) {
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");

        for (size_t i = 0; r >= 0 && i < m->pressure->n_nodes; i++) {
                const NodePressure *np = &m->pressure->nodes[i];
                const NodeActivity *a = &np->act;
                const char *acting = a->reclaiming && a->evacuating ? "reclaim,evacuation"
                                     : a->reclaiming                ? "reclaim"
                                     : a->evacuating                ? "evacuation"
                                                                    : "";
                uint64_t phys_free = 0;

                if (np->last.physical > 0 && np->last.ratio > 0) {
                        double used = (double) (np->last.size - MIN(np->last.free, np->last.size)) / np->last.ratio;
                        phys_free = used >= (double) np->last.physical ? 0 : (uint64_t) ((double) np->last.physical - used);
                }
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r >= 0) r = append_kv(reply, SPMD_NODE_NODE, "u", np->node);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_LEVEL, "s", pressure_level_to_string(np->state.level));
                if (r >= 0) r = append_kv(reply, SPMD_NODE_REASON, "s", np->why);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_SIZE, "t", np->last.size);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_FREE, "t", np->last.free);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RATIO, "d", np->last.ratio);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_PHYSICAL, "t", np->last.physical);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_PHYSICAL_FREE, "t", phys_free);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_CAPACITY_LOST, "t",
                                          np->last.nominal > np->last.size ? np->last.nominal - np->last.size : 0);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_BALLOON, "t", np->balloon);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_HEALTH, "s", np->n_memdevs ? np->health_why : "");
                if (r >= 0) r = append_kv(reply, SPMD_NODE_PSI, "d", np->last.psi_valid ? np->last.psi / 100.0 : -1.0);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_ACTING, "s", acting);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RECLAIM_WRITES, "t", a->reclaim_writes);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RECLAIM_SHORT, "t", a->reclaim_short);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RECLAIM_FAILED, "t", a->reclaim_failed);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RECLAIM_BYTES, "t", a->reclaim_bytes);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_RECLAIM_BACKOFFS, "t", a->reclaim_backoffs);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATED_PAGES, "t", a->evacuated.moved);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATE_BUSY, "t", a->evacuated.busy);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATE_NO_MEMORY, "t", a->evacuated.no_memory);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATE_FAILED, "t", a->evacuated.failed);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATION_PASSES, "t", a->passes);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATION_TARGET, "i", a->evacuating ? a->target : -1);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_EVACUATED_COLD_PAGES, "t", a->cold_moved);
                if (r >= 0) r = append_kv(reply, SPMD_NODE_DEMOTED_BYTES, "t", a->demoted_bytes);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* The kernel's own counts (pinned: they outlive spmd's restarts) as a{st} by name_of(i); empty while
 * the layer is not active. */
static int append_counts(sd_bus_message *reply, bool active, const uint64_t *counts, unsigned n,
                         const char *(*name_of)(unsigned)) {
        int r = sd_bus_message_open_container(reply, 'a', "{st}");

        for (unsigned i = 0; r >= 0 && active && i < n; i++)
                if (name_of(i))
                        r = sd_bus_message_append(reply, "{st}", name_of(i), counts[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int append_violation_kinds(sd_bus_message *reply, Manager *m) {
        uint64_t counts[SPMD_SYS_MAX] = {};

        if (m->observer && bpf_observer_counts(m->observer, counts) < 0)
                memset(counts, 0, sizeof counts);
        return append_counts(reply, m->observer, counts, SPMD_SYS_MAX, spmd_syscall_to_string);
}

static int append_denial_kinds(sd_bus_message *reply, Manager *m) {
        uint64_t counts[SPMD_GUARD_MAX] = {};

        if (m->guard && bpf_guard_counts(m->guard, counts) < 0)
                memset(counts, 0, sizeof counts);
        return append_counts(reply, m->guard, counts, SPMD_GUARD_MAX, spmd_guard_what_to_string);
}

static int append_system_psi(sd_bus_message *reply, Manager *m) {
        char buf[256];

        if (m->pressure->psi_reason)
                snprintf(buf, sizeof buf, "unavailable: %s", m->pressure->psi_reason);
        else if (m->pressure->system_psi && m->pressure->system_psi->valid)
                snprintf(buf, sizeof buf, "system %.1f%% over PsiWindow=%.1fs; granted cgroups followed: %zu",
                         m->pressure->system_psi->share / 100.0, m->config->psi_window_usec / 1e6, m->pressure->n_psi);
        else
                snprintf(buf, sizeof buf, "not read yet (no SPM node followed)");
        return sd_bus_message_append(reply, "s", buf);
}

/* [Demotion]: "state: detail", as the layers say it, then the bytes promoted off the SPM nodes */
static int append_demotion(sd_bus_message *reply, Manager *m) {
        char detail[768], buf[800];
        const char *state = demotion_state(m->pressure, detail, sizeof detail);

        snprintf(buf, sizeof buf, "%s: %s", state, detail);
        return sd_bus_message_append(reply, "(st)", buf, demotion_promoted_bytes(m->pressure));
}

static int append_layers(sd_bus_message *reply, Manager *m) {
        LayerState l[MANAGER_N_LAYERS];
        int r;

        manager_layers(m, l);
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < MANAGER_N_LAYERS; i++)
                r = sd_bus_message_append(reply, "(sss)", l[i].name, l[i].state, l[i].detail);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_spm_nodes(sd_bus_message *reply, Manager *m) {
        NodeMask spm;

        manager_spm_nodes(m, &spm);
        return bus_append_nodemask(reply, &spm);
}

/* One "{sv}" of GetStatus whose value fn appends. */
static int append_status_entry(sd_bus_message *reply, const char *key, const char *signature,
                               int (*fn)(sd_bus_message *reply, Manager *m), Manager *m) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', signature);
        if (r >= 0)
                r = fn(reply, m);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int method_get_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        CpusetStats st = {};
        LoopLatency loop = loop_stats_get(&m->loop_stats, now_usec(CLOCK_MONOTONIC));
        int r;

        (void) error;
        if (m->wall)
                cpuset_wall_stats(m->wall, &st);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
#define KV(key, sig, ...)                                                                                   \
        if (r >= 0)                                                                                         \
                r = sd_bus_message_append(reply, "{sv}", key, sig, __VA_ARGS__)
        KV(SPMD_STATUS_VERSION, "s", SPMD_VERSION);
        KV(SPMD_STATUS_CONFIG_PATH, "s", m->config_path);
        KV(SPMD_STATUS_RELOADS, "u", m->n_reloads);
        KV(SPMD_STATUS_FAILED_RELOADS, "u", m->n_failed_reloads);
        KV(SPMD_STATUS_UPTIME_USEC, "t", now_usec(CLOCK_MONOTONIC) - m->start_usec);
        KV(SPMD_STATUS_DEVICES_ONLINE, "u", (uint32_t) strv_length(m->onlined));
        KV(SPMD_STATUS_DEVICE_PROBLEMS, "u", m->n_device_problems);
        KV(SPMD_STATUS_GRANTS, "u", (uint32_t) broker_n_grants(m->broker));
        KV(SPMD_STATUS_STANDING_GRANTS, "u", (uint32_t) m->config->n_grants);
        KV(SPMD_STATUS_VIOLATIONS, "t", m->n_violations);
        KV(SPMD_STATUS_DENIALS, "t", m->n_denials);
        KV(SPMD_STATUS_WALLED_CGROUPS, "u", st.walled);
        KV(SPMD_STATUS_ROOT_CGROUP_PROCESSES, "u", st.root_procs);
        KV(SPMD_STATUS_ROOT_CGROUP_KERNEL_THREADS, "u", st.root_kthreads);
        KV(SPMD_STATUS_LOOP_DISPATCHES, "t", loop.dispatches);
        KV(SPMD_STATUS_LOOP_LATENCY_MAX_USEC, "t", loop.max_usec);
        KV(SPMD_STATUS_LOOP_LATENCY_P99_USEC, "t", loop.p99_usec);
#undef KV
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_SPM_NODES, "au", append_spm_nodes, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_NODE_PRESSURE, "a(uss)", append_pressure, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_NODE_ACTIVITY, "aa{sv}", append_activity, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_VIOLATIONS_BY_SYSCALL, "a{st}", append_violation_kinds, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_DENIALS_BY_KIND, "a{st}", append_denial_kinds, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_MEMORY_PSI, "s", append_system_psi, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_DEMOTION, "(st)", append_demotion, m);
        if (r >= 0)
                r = append_status_entry(reply, SPMD_STATUS_ENFORCEMENT_LAYERS, "a(sss)", append_layers, m);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        int r;

        r = caller_require_root(msg, method_reload, m, "Reload", error);
        if (r != 0)
                return r;
        r = manager_reload(m, &why);
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_RELOAD, "Kept the running configuration: %s",
                                         why ? why : strerror(-r));
        return manager_reply_when_reloaded(m, msg); /* the caller learns when the reload is done */
}

static int method_release_device(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        const char *dev;
        int r;

        r = sd_bus_message_read(msg, "s", &dev);
        if (r < 0)
                return r;
        r = caller_require_root(msg, method_release_device, m, "ReleaseDevice", error);
        if (r != 0)
                return r;
        r = manager_release_device(m, dev, &why);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s", strna(why));
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_DEVICE, "%s", why ? why : strerror(-r));
        return sd_bus_reply_method_return(msg, "s", strempty(why));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) userdata, (void) error;
        return sd_bus_message_append(reply, "s", SPMD_VERSION);
}

static int property_get_layers(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return append_layers(reply, userdata);
}

static int property_get_spm_nodes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return append_spm_nodes(reply, userdata);
}

static int property_get_pressure(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return append_pressure(reply, userdata);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("EnforcementLayers", "a(sss)", property_get_layers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SpmNodes", "au", property_get_spm_nodes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NodePressure", "a(uss)", property_get_pressure, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ListNodes", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ubuttis)", nodes), method_list_nodes,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssstisbs)", devices),
                                method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status), method_get_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseDevice", SD_BUS_ARGS("s", device), SD_BUS_RESULT("s", message),
                                method_release_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Violation",
                                SD_BUS_ARGS("s", syscall, "u", pid, "u", uid, "s", comm, "s", cgroup, "au", nodes,
                                            "b", killed),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("PressureChanged",
                                SD_BUS_ARGS("u", node, "s", level, "s", previous, "s", reason), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Denial",
                                SD_BUS_ARGS("s", what, "u", pid, "u", uid, "s", comm, "s", cgroup, "s",
                                            target_cgroup),
                                0),
        SD_BUS_VTABLE_END,
};

#define BUS_RETRY_FIRST_USEC (1000 * 1000)
#define BUS_RETRY_MAX_USEC (30 * 1000 * 1000)

static int manager_bus_connect(Manager *m, bool on_loop);

static int on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) s, (void) usec;
        m->bus_retry = sd_event_source_disable_unref(m->bus_retry);
        /* the wait before the next attempt, should this one fail (now, or when the name is refused) */
        m->bus_retry_usec = MIN(MAX(m->bus_retry_usec, (uint64_t) BUS_RETRY_FIRST_USEC) * 2,
                                (uint64_t) BUS_RETRY_MAX_USEC);
        (void) manager_bus_connect(m, true);
        return 0;
}

/* Try the system bus again after m->bus_retry_usec (1 s at first, doubling to 30 s). */
static void bus_retry_arm(Manager *m) {
        if (m->bus_retry)
                return;
        if (m->bus_retry_usec == 0)
                m->bus_retry_usec = BUS_RETRY_FIRST_USEC;
        if (sd_event_add_time_relative(m->event, &m->bus_retry, CLOCK_MONOTONIC, m->bus_retry_usec, 100 * 1000,
                                       on_bus_retry, m) < 0)
                log_warning("Cannot arm a timer to connect to the system bus again; SIGHUP tries at once.");
}

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        (void) msg, (void) error;
        log_error("Lost the connection to the system bus; grants tied to clients end (their connections went with "
                  "it), and spmd connects again as soon as the bus is back.");
        broker_bus_lost(m->broker);
        manager_bus_stop(m);
        free(m->bus_reason);
        m->bus_reason = strdup("lost the connection to the system bus; connecting again");
        m->bus_retry_usec = 0;
        bus_retry_arm(m);
        return 0;
}

/* Every name that comes to or leaves the bus: when clients connected (the caller checks), and the
 * grants of clients that left end. This one match is how spmd follows its clients; a failure to
 * install it fails the connection (no install callback), so no grant outlives its client unseen. */
static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name, *old_owner, *new_owner;
        Manager *m = userdata;

        (void) error;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        caller_name_owner_changed(name, old_owner, new_owner);
        if (name[0] == ':' && !new_owner[0])
                broker_client_gone(m->broker, name);
        return 0;
}

int manager_bus_start(Manager *m) {
        if (manager_bus_connect(m, false) < 0)
                broker_no_bus(m->broker);
        return 0;
}

void manager_bus_reconnect_now(Manager *m) {
        if (m->bus)
                return;
        m->bus_retry = sd_event_source_disable_unref(m->bus_retry);
        m->bus_retry_usec = 0;
        (void) manager_bus_connect(m, true);
}

/* Not on the bus: why (reason, owned), logged when it differs from the last reason; try again later. */
static int manager_bus_unavailable(Manager *m, char *reason) {
        broker_bus_down(m->broker); /* a connection being set up goes */
        if (!reason || !m->bus_reason || strcmp(reason, m->bus_reason) != 0)
                log_warning("Broker: unavailable: %s; clients cannot ask for grants until spmd is on the bus (it "
                            "tries again, every 30 s at most).",
                            strna(reason));
        free(m->bus_reason);
        m->bus_reason = reason;
        bus_retry_arm(m);
        return -ENOTCONN;
}

/* The name is spmd's: serve. */
static void manager_bus_active(Manager *m) {
        bool again = m->bus_reason != NULL;

        m->bus_reason = mfree(m->bus_reason);
        m->bus_retry_usec = 0;
        log_info("Broker: active (%s on the system bus)%s.", SPMD_BUS_NAME, again ? ", back on the bus" : "");
        broker_bus_up(m->broker, again);
        if (again)
                manager_bus_layers_changed(m);
}

static char *name_refused(int r) {
        char *why;

        if (asprintf(&why, "cannot own %s on the system bus: %s%s", SPMD_BUS_NAME, strerror(-r),
                     r == -EEXIST   ? " (another spmd runs)"
                     : r == -EACCES ? " (the bus policy does not allow it: install org.spmd1.conf)"
                                    : "") < 0)
                return NULL;
        return why;
}

/* RequestName's answer on a reconnect: the loop did not wait for it. */
static int on_name_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t code = 0;
        int r = e ? -sd_bus_error_get_errno(e) : sd_bus_message_read(reply, "u", &code);

        (void) error;
        if (r >= 0 && code != 1 && code != 4) /* neither primary owner nor already the owner */
                r = -EEXIST;
        if (r < 0) {
                manager_bus_stop(m);
                (void) manager_bus_unavailable(m, name_refused(r));
                return 0;
        }
        manager_bus_active(m);
        return 0;
}

/* Connect, serve the objects, own the name. At start (on_loop false) the name is asked for and
 * waited on before the loop runs; from the loop (a retry, a reload) its answer comes to
 * on_name_reply. 0 when the broker is active or its name is being asked for; otherwise the reason
 * is in m->bus_reason (logged when it changes) and another attempt is armed. */
static int manager_bus_connect(Manager *m, bool on_loop) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char *why;
        int r;

        caller_cache_clear(); /* unique names are unique on one bus instance only */
        r = sd_bus_open_system_with_description(&bus, "spmd");
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, false);
        if (r < 0)
                return manager_bus_unavailable(m, asprintf(&why, "cannot connect to the system bus: %s",
                                                           strerror(-r)) < 0
                                                          ? NULL
                                                          : why);
        r = sd_bus_add_object_vtable(bus, NULL, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, manager_vtable, m);
        if (r >= 0)
                r = broker_bus_attach(m->broker, bus);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, m);
        /* when each client connected (a pid that started later is a reused one: caller_identify) and
         * left (its grants end): before the name is asked for, so before any client can call */
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed,
                                              NULL, m);
        if (r < 0)
                return manager_bus_unavailable(m, asprintf(&why, "cannot set up the bus objects: %s",
                                                           strerror(-r)) < 0
                                                          ? NULL
                                                          : why);
        r = on_loop ? sd_bus_request_name_async(bus, NULL, SPMD_BUS_NAME, 0, on_name_reply, m)
                    : sd_bus_request_name(bus, SPMD_BUS_NAME, 0);
        if (r < 0)
                return manager_bus_unavailable(m, name_refused(r));
        r = sd_bus_attach_event(bus, m->event, 0);
        if (r < 0)
                return manager_bus_unavailable(m, asprintf(&why, "cannot attach the bus to the event loop: %s",
                                                           strerror(-r)) < 0
                                                          ? NULL
                                                          : why);
        m->bus = TAKE_PTR(bus);
        if (!on_loop)
                manager_bus_active(m);
        return 0;
}

void manager_bus_stop(Manager *m) {
        if (m->broker)
                broker_bus_down(m->broker);
        if (m->bus) {
                sd_bus_detach_event(m->bus);
                m->bus = sd_bus_flush_close_unref(m->bus);
        }
}
