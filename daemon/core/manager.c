/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <dirent.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "bpf-probe.h"
#include "broker.h"
#include "manager-bus.h"
#include "bpf-util.h"
#include "config.h"
#include "cpuset-systemd.h"
#include "log.h"
#include "instance-lock.h"
#include "kernel-demotion.h"
#include "manager.h"
#include "parse-util.h"
#include "strv.h"
#include "time-util.h"

static void manager_apply_log_level(Manager *m) {
        if (m->cmdline_log_level >= 0)
                log_set_max_level(m->cmdline_log_level);
        else if (m->config && m->config->log_level >= 0)
                log_set_max_level(m->config->log_level);
}

static void log_diags(const ConfDiags *d, int error_level) {
        for (size_t i = 0; i < d->n; i++) {
                const ConfDiag *x = &d->items[i];
                int level = x->level == CONF_DIAG_ERROR ? error_level : LOG_WARNING;
                char file_field[4200], line_field[32], msg[4600];
                const char *fields[3] = { file_field, line_field, NULL };

                snprintf(file_field, sizeof file_field, "CONFIG_FILE=%s", x->file);
                snprintf(line_field, sizeof line_field, "CONFIG_LINE=%u", x->line);
                if (x->line > 0)
                        snprintf(msg, sizeof msg, "%s:%u: %s", x->file, x->line, x->message);
                else
                        snprintf(msg, sizeof msg, "%s: %s", x->file, x->message);
                log_struct_internal(level, __FILE__, __LINE__, __func__, msg, fields);
        }
}

static int load(Manager *m, Config **ret, ConfDiags *d) {
        return config_load(m->config_path, m->config_required, ret, d);
}

int manager_load_config(Manager *m) {
        ConfDiags d = {};
        Config *c = NULL;
        int r;

        r = load(m, &c, &d);
        log_diags(&d, LOG_ERR);
        if (r < 0) {
                if (r == -EINVAL)
                        log_error("Configuration has %zu error(s), refusing to start.", d.n_errors);
                else
                        log_error_errno(r, "Failed to load configuration: %m");
                conf_diags_clear(&d);
                return r;
        }
        conf_diags_clear(&d);
        config_free(m->config);
        m->config = c;
        manager_apply_log_level(m);
        return 0;
}

int manager_take_lock(Manager *m) {
        const char *dir = m->config->state_directory;
        pid_t holder = 0;
        int fd = instance_lock_take(dir, &holder);

        if (fd == -EBUSY) {
                char comm[64] = "";
                if (holder > 0)
                        proc_comm(holder, comm, sizeof comm);
                log_error("Another spmd already manages this host: pid %d%s%s%s holds %s/" SPMD_LOCK_FILE
                          ". Only one may run (stop it first: systemctl stop spmd).",
                          (int) holder, comm[0] ? " (" : "", comm, comm[0] ? ")" : "", dir);
                return -EBUSY;
        }
        if (fd < 0) {
                /* without the lock a second spmd is not stopped; it does not stop this one */
                log_warning("Cannot take the lock %s/" SPMD_LOCK_FILE ": %s; a second spmd would not be refused.",
                            dir, strerror(-fd));
                return 0;
        }
        m->lock_fd = fd;
        return 0;
}

static void manager_notify_status(Manager *m, const char *extra) {
        char wall[128], observe[64], guard[64];

        if (m->wall) {
                CpusetStats st;
                cpuset_wall_stats(m->wall, &st);
                snprintf(wall, sizeof wall, "active, %u cgroup(s) walled, %u grant(s)", st.walled, st.granted);
        } else
                snprintf(wall, sizeof wall, "%s", m->config->cpuset ? "unavailable" : "off");
        if (m->observer)
                snprintf(observe, sizeof observe, "active, %" PRIu64 " violation(s)", m->n_violations);
        else
                snprintf(observe, sizeof observe, "%s",
                         m->config->observe == TRISTATE_NO ? "off" : "unavailable");
        if (m->guard)
                snprintf(guard, sizeof guard, "active, %" PRIu64 " denial(s)", m->n_denials);
        else
                snprintf(guard, sizeof guard, "%s",
                         m->config->cgroup_guard == TRISTATE_NO && m->config->task_movememory == TRISTATE_NO
                                 ? "off"
                                 : "unavailable");
        (void) sd_notifyf(false,
                          "READY=1\nSTATUS=%s%s%u SPM device rule(s), %u access rule(s); %zu device(s) online as "
                          "SPM, %u device problem(s); cpuset wall: %s; observe: %s; guard: %s; broker: %s, %zu "
                          "grant(s)",
                          strempty(extra), extra ? "; " : "", (unsigned) m->config->n_devices,
                          (unsigned) m->config->n_access, strv_length(m->onlined), m->n_device_problems, wall,
                          observe, guard, m->bus ? "active" : "unavailable", broker_n_grants(m->broker));
}

static int log_device_result(int r, const char *msg) {
        if (r == DEVICE_ONLINED)
                log_notice("%s.", strna(msg));
        else if (r == DEVICE_ALREADY_ONLINE)
                log_info("%s.", strna(msg));
        else if (r == DEVICE_ONLINE_DEGRADED)
                log_warning("%s.", strna(msg));
        else
                log_error_errno(r, "%s.", msg ? msg : "Device operation failed");
        return r;
}

/* Give back a dax device spmd holds; it leaves m->onlined once it is devdax again or gone. dax must
 * not point into m->onlined. The message is logged, and handed to *ret_message when asked for. */
static int release_held(Manager *m, const char *dax, char **ret_message) {
        _cleanup_free_ char *msg = NULL;
        int r = device_release(dax, &msg);

        if (r >= 0 || r == -ENODEV)
                strv_remove(m->onlined, dax);
        if (r >= 0)
                log_notice("%s.", strna(msg));
        else
                log_error_errno(r, "%s.", strna(msg));
        if (ret_message)
                *ret_message = TAKE_PTR(msg);
        return r;
}

int manager_refresh_topology(Manager *m) {
        Topology *t = NULL;
        int r = topology_discover(&t);

        if (r < 0)
                return log_error_errno(r, "Failed to discover the memory topology: %m");
        topology_free(m->topology);
        m->topology = t;
        return 0;
}

static void on_grant_appeared(const char *path, void *userdata);
static void reload_continue(Manager *m);

/* The wall's writer finished a batch (cpuset.h): the calls and the reload waiting for it go on. */
static void on_wall_written(uint64_t done, char *const *failed, void *userdata) {
        Manager *m = userdata;

        broker_wall_written(m->broker, done, failed);
        if (m->reload_wall_seq > 0 && done >= m->reload_wall_seq)
                reload_continue(m);
}

static void manager_wall_free(Manager *m) {
        m->wall = cpuset_wall_free(m->wall); /* writes what it had queued */
        on_wall_written(UINT64_MAX, NULL, m);
}

/* Create or drop the cpuset layer to match Cpuset=; report it either way. */
static void manager_setup_wall(Manager *m) {
        int r;

        if (!m->config->cpuset) {
                if (m->wall)
                        log_notice("Cpuset=no: spmd stops maintaining the wall; the cpuset.mems it wrote stay as "
                                   "they are.");
                manager_wall_free(m);
                m->wall_reason = mfree(m->wall_reason);
                m->systemd_bus = sd_bus_flush_close_unref(m->systemd_bus);
                m->wall_through_systemd = false;
                log_info("Enforcement layer cpuset: off (Cpuset=no).");
                return;
        }
        if (m->wall)
                return;
        m->wall_reason = mfree(m->wall_reason);
        r = cpuset_wall_new(m->event, CGROUP_ROOT, &m->wall, &m->wall_reason);
        if (r < 0)
                log_error("Enforcement layer cpuset: unavailable: %s.", m->wall_reason ? m->wall_reason : strerror(-r));
        else {
                cpuset_wall_on_grant_appeared(m->wall, on_grant_appeared, m);
                cpuset_wall_on_written(m->wall, on_wall_written, m);
                m->wall_through_systemd = cpuset_systemd_attach(m->wall, m->event, &m->systemd_bus) > 0;
        }
}

/* " (N of them systemd units, ...)" when the walls on systemd's units go through it; "" otherwise. */
static const char *systemd_units_text(const Manager *m, const CpusetStats *st, char *buf, size_t len) {
        if (!m->wall_through_systemd)
                return "";
        snprintf(buf, len, " (%u of them systemd units, through AllowedMemoryNodes=)", st->through_manager);
        return buf;
}

static void manager_log_wall(Manager *m) {
        CpusetStats st;
        char units[96];

        if (!m->wall)
                return;
        cpuset_wall_stats(m->wall, &st);
        log_info("Enforcement layer cpuset: active: %u cgroup(s) walled off the SPM nodes%s, %u grant(s) in force, "
                 "%u waiting for their cgroup, %u failed write(s); %u process(es) in the root cgroup (%u kernel "
                 "thread(s)) stay outside every wall.",
                 st.walled, systemd_units_text(m, &st, units, sizeof units), st.granted, st.pending_grants,
                 st.errors, st.root_procs, st.root_kthreads);
        if (st.shut > 0)
                log_error("Enforcement layer cpuset: %u cgroup(s) on a grant's path shut to the SPM nodes, as a "
                          "cgroup below could not be walled (see above): their grants have no access.",
                          st.shut);
}

/* Tell the BPF layers which cgroups hold grants (the grant cgroups that exist) and, for the
 * guard, which nodes are SPM nodes (it reads which cgroups they reach from the kernel). */
static void manager_sync_bpf_maps(Manager *m, const NodeMask *spm_now) {
        _cleanup_free_ uint64_t *ids = NULL;
        NodeMask spm;
        size_t n = 0;
        int r;

        if (!m->observer && !m->guard)
                return;
        ids = calloc(m->config->n_grants + broker_n_grants(m->broker) + 1, sizeof *ids);
        if (!ids) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->config->n_grants; i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                /* a cgroup2 directory's inode number is the cgroup id BPF sees */
                if (asprintf(&p, CGROUP_ROOT "%s", m->config->grants[i]->cgroup) < 0) {
                        log_oom();
                        continue;
                }
                if (stat(p, &st) == 0)
                        ids[n++] = (uint64_t) st.st_ino;
        }
        n += broker_grant_cgroup_ids(m->broker, ids + n, broker_n_grants(m->broker));
        if (m->observer) {
                r = bpf_observer_sync_granted(m->observer, ids, n);
                if (r < 0)
                        log_error_errno(r, "Cannot update the observer's granted cgroups: %m");
        }
        if (m->guard) {
                if (spm_now)
                        spm = *spm_now;
                else
                        manager_spm_nodes(m, &spm);
                r = bpf_guard_sync(m->guard, ids, n, &spm);
                if (r < 0)
                        log_error_errno(r, "Cannot update the guard's cgroups and SPM nodes: %m");
        }
}

static void on_grant_appeared(const char *path, void *userdata) {
        log_debug("Cgroup %s appeared (granted, or SPM nodes pass through it).", path);
        manager_sync_bpf_maps(userdata, NULL);
}

static void on_reload_wall_pass(int errors, void *userdata);

/* A pass over the walls ended: what it did (VERBOSE), then the BPF maps, after the wall, whose pass
 * made the grants' cgroups. SPM: the SPM nodes it walled, NULL for those of now. */
static void wall_pass_done(Manager *m, const NodeMask *spm, bool verbose) {
        if (verbose)
                manager_log_wall(m);
        manager_sync_bpf_maps(m, spm);
}

/* SLICED: a full pass in slices (a reload's), 1 while it runs; its end comes to on_reload_wall_pass(). */
static int apply_enforcement(Manager *m, const NodeMask *spm, bool verbose, const char *changed, bool sliced) {
        _cleanup_free_ CpusetGrant *grants = NULL;
        CpusetInput in = {};
        size_t n = 0;
        int r = 0;

        if (spm)
                in.spm = *spm;
        else
                manager_spm_nodes(m, &in.spm);

        if (m->observer) {
                r = bpf_observer_set_spm_nodes(m->observer, &in.spm);
                if (r < 0)
                        log_error_errno(r, "Cannot update the observer's SPM nodes: %m");
        }
        if (!m->wall) {
                manager_sync_bpf_maps(m, &in.spm);
                return r;
        }

        for (size_t i = 0; i < m->topology->n_nodes; i++)
                if (m->topology->nodes[i].size > 0)
                        nodemask_set(&in.usable, (unsigned) m->topology->nodes[i].id);
        for (size_t i = 0; i < m->topology->n_nodes; i++)
                if (m->topology->nodes[i].private_node)
                        nodemask_set(&in.private_nodes, (unsigned) m->topology->nodes[i].id);
        in.sysram = nodemask_andnot(&in.usable, &in.spm);
        in.sysram = nodemask_andnot(&in.sysram, &in.private_nodes);

        grants = calloc(m->config->n_grants + broker_n_grants(m->broker) + 1, sizeof *grants);
        if (!grants)
                return log_oom();
        for (size_t i = 0; i < m->config->n_grants; i++) {
                const GrantConf *g = m->config->grants[i];
                NodeMask extra = nodemask_andnot(&g->nodes, &in.spm);
                char s[256];

                if (!g->all_nodes && !nodemask_empty(&extra))
                        log_warning("[Grant] %s (%s:%u): Nodes=%s names node(s) that are not SPM nodes; ignored.",
                                    g->name ? g->name : g->cgroup, g->source.file, g->source.line,
                                    nodemask_format(&extra, s, sizeof s));
                grants[n].cgroup = g->cgroup;
                grants[n].label = g->name ? g->name : g->cgroup;
                grants[n].nodes = g->all_nodes ? in.spm : nodemask_and(&g->nodes, &in.spm);
                n++;
        }
        n += broker_cpuset_grants(m->broker, &in.spm, grants + n, broker_n_grants(m->broker));
        in.grants = grants;
        in.n_grants = n;
        if (changed)
                r = cpuset_wall_apply_changed(m->wall, &in, &changed, 1);
        else if (sliced) {
                r = cpuset_wall_apply_sliced(m->wall, &in, MANAGER_RELOAD_PRIORITY, on_reload_wall_pass, m);
                if (r == 1)
                        return 1; /* the log and the BPF maps when it ends */
        } else
                r = cpuset_wall_apply(m->wall, &in);
        wall_pass_done(m, &in.spm, verbose);
        return r > 0 ? -EIO : r;
}

int manager_apply_enforcement(Manager *m, const NodeMask *spm) {
        int r = apply_enforcement(m, spm, true, NULL, false);

        manager_check_kernel_demotion(m);
        return r;
}

/* What was last said of the kernel's demotion route, so that a state is logged once. */
enum {
        DEMOTION_SAID_NONE,
        DEMOTION_SAID_CLOSED,   /* spmd turned it off */
        DEMOTION_SAID_ALLOWED,  /* on, reaching an SPM node, left so by KernelDemotion=yes */
        DEMOTION_SAID_FAILED,   /* on, reaching an SPM node, and spmd cannot turn it off */
};

void manager_check_kernel_demotion(Manager *m) {
        NodeMask spm;
        bool on = false;
        int node, r;

        if (!m->topology)
                return;
        manager_spm_nodes(m, &spm);
        node = nodemask_empty(&spm) ? -1 : demotion_target_spm(m->topology, &spm);
        if (node < 0 || kernel_demotion_get("", &m->demotion_file, &on) < 0 || !on) {
                if (node < 0)
                        m->kernel_demotion_said = DEMOTION_SAID_NONE; /* a later route is said again */
                return;
        }
        if (m->config->kernel_demotion) {
                if (m->kernel_demotion_said != DEMOTION_SAID_ALLOWED)
                        log_warning("The kernel's demotion is on (/sys/kernel/mm/numa/demotion_enabled) and SPM node %d "
                                    "is in a lower memory tier: reclaim can demote any cgroup's pages onto it, as the "
                                    "kernel ignores cpuset.mems when it demotes; left so by KernelDemotion=yes.",
                                    node);
                m->kernel_demotion_said = DEMOTION_SAID_ALLOWED;
                return;
        }
        r = kernel_demotion_set("", false);
        if (r < 0) {
                if (m->kernel_demotion_said != DEMOTION_SAID_FAILED)
                        log_error_errno(r, "Cannot turn the kernel's demotion off (/sys/kernel/mm/numa/demotion_enabled: "
                                           "%m): reclaim can demote any cgroup's pages onto SPM node %d, as the kernel "
                                           "ignores cpuset.mems when it demotes.",
                                        node);
                m->kernel_demotion_said = DEMOTION_SAID_FAILED;
                return;
        }
        log_notice("Turned the kernel's demotion off (/sys/kernel/mm/numa/demotion_enabled=false)%s: SPM node %d is in a "
                   "lower memory tier, and the kernel ignores cpuset.mems when reclaim demotes pages, so any cgroup's "
                   "pages would reach it (KernelDemotion=no).",
                   m->kernel_demotion_said == DEMOTION_SAID_CLOSED ? " again: something turned it on" : "", node);
        m->kernel_demotion_said = DEMOTION_SAID_CLOSED;
}

int manager_apply_grants(Manager *m, const char *changed) {
        return apply_enforcement(m, NULL, false, changed, false);
}

/* ---- the syscall observer ---- */

/* The cgroup with this id (a cgroup2 directory's inode number), found by walking cgroupfs
 * (only for events that are logged, which are rate-limited). */
static bool has_id(const struct dirent *de, const void *userdata) {
        return de->d_ino == *(const uint64_t *) userdata;
}

static void cgroup_name(uint64_t id, char *buf, size_t len) {
        struct stat st;

        if (stat(CGROUP_ROOT, &st) == 0 && st.st_ino == id)
                snprintf(buf, len, "/");
        else if (!cgroup_tree_find(CGROUP_ROOT, 16, has_id, &id, buf, len))
                snprintf(buf, len, "id %" PRIu64 " (gone)", id);
}

static void on_violation(const struct spmd_violation_event *e, void *userdata) {
        Manager *m = userdata;
        char cg[512], nodes[256], comm[17], msg[1400], target[32] = "";
        char f_sc[64], f_pid[32], f_comm[40], f_cg[560], f_nodes[280], f_uid[32];
        const char *fields[] = { f_sc, f_pid, f_comm, f_cg, f_nodes, f_uid, NULL };
        NodeMask mask = {};

        m->n_violations++;
        if (!log_ratelimit_pass(&m->violation_log, "violation(s)"))
                return;

        for (unsigned w = 0; w < SPMD_EVENT_MASK_WORDS; w++)
                mask.bits[w] = e->nodes[w];
        nodemask_format(&mask, nodes, sizeof nodes);
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        cgroup_name(e->cgroup_id, cg, sizeof cg); /* by id: the caller may be gone already */
        if (e->target_pid > 0)
                snprintf(target, sizeof target, " on pid %d", e->target_pid);
        snprintf(msg, sizeof msg,
                 "Violation: %s (pid %u, uid %u) in cgroup %s called %s%s naming SPM node(s) %s without a grant%s.",
                 comm, e->tgid, e->uid, cg, strna(spmd_syscall_to_string(e->syscall)), target, nodes,
                 e->killed ? "; killed it (ViolationAction=kill)" : "");
        snprintf(f_sc, sizeof f_sc, "SPMD_SYSCALL=%s", strna(spmd_syscall_to_string(e->syscall)));
        snprintf(f_pid, sizeof f_pid, "SPMD_PID=%u", e->tgid);
        snprintf(f_comm, sizeof f_comm, "SPMD_COMM=%s", comm);
        snprintf(f_cg, sizeof f_cg, "SPMD_CGROUP=%s", cg);
        snprintf(f_nodes, sizeof f_nodes, "SPMD_NODES=%s", nodes);
        snprintf(f_uid, sizeof f_uid, "SPMD_UID=%u", e->uid);
        log_struct_internal(LOG_WARNING, __FILE__, __LINE__, __func__, msg, fields);
        manager_bus_emit_violation(m, e, cg);
}

static int on_observer_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int r;

        (void) s;
        (void) fd;
        (void) revents;
        r = bpf_observer_consume(m->observer);
        if (r < 0)
                log_warning_errno(r, "Reading the observer's ring buffer failed: %m");
        return 0;
}

/* ---- layers spmd can only report on ---- */

/*
 * A memory-placement struct_ops and the SPM/private-node kernel patches are
 * not in mainline: spmd looks for them so an operator knows, and says that it
 * has nothing to load for them yet. With =yes a missing one stops the start.
 */
static void set_layer(char **state, char **detail, const char *st, const char *fmt, ...) _printf_(4, 5);
static void set_layer(char **state, char **detail, const char *st, const char *fmt, ...) {
        va_list ap;

        free(*state);
        free(*detail);
        *state = strdup(st);
        va_start(ap, fmt);
        if (vasprintf(detail, fmt, ap) < 0)
                *detail = NULL;
        va_end(ap);
}

static int manager_report_kernel_layers(Manager *m) {
        const char *name, *reason;
        int r, ret = 0;

        if (m->config->struct_ops == TRISTATE_NO)
                set_layer(&m->struct_ops_state, &m->struct_ops_detail, "off", "StructOps=no");
        else {
                if (!m->struct_ops_name && !m->struct_ops_reason)
                        m->struct_ops_probe = bpf_struct_ops_probe(&m->struct_ops_name, &m->struct_ops_reason);
                r = m->struct_ops_probe;
                name = m->struct_ops_name;
                reason = m->struct_ops_reason;
                if (r > 0)
                        set_layer(&m->struct_ops_state, &m->struct_ops_detail, "unavailable",
                                  "this kernel offers %s, but spmd has no program for it yet; the cpuset wall and "
                                  "the BPF guard enforce instead", name);
                else {
                        set_layer(&m->struct_ops_state, &m->struct_ops_detail, "unavailable", "%s", strna(reason));
                        if (m->config->struct_ops == TRISTATE_YES)
                                ret = -EOPNOTSUPP;
                }
        }
        log_full(ret < 0 ? LOG_ERR : LOG_INFO, "Enforcement layer struct_ops: %s: %s.", strna(m->struct_ops_state),
                 strna(m->struct_ops_detail));

        if (m->config->native_spm == TRISTATE_NO) {
                set_layer(&m->native_spm_state, &m->native_spm_detail, "off", "NativeSpm=no");
                log_info("Enforcement layer native-spm: off (NativeSpm=no).");
                return ret;
        }
        char what[1024];
        if (topology_native_spm(m->topology, "", what, sizeof what)) {
                set_layer(&m->native_spm_state, &m->native_spm_detail, "unavailable", "%s", what);
                log_notice("Enforcement layer native-spm: %s.", strna(m->native_spm_detail));
        } else {
                set_layer(&m->native_spm_state, &m->native_spm_detail, "unavailable", "%s", what);
                log_full(m->config->native_spm == TRISTATE_YES ? LOG_ERR : LOG_INFO,
                         "Enforcement layer native-spm: unavailable: %s.", strna(m->native_spm_detail));
                if (m->config->native_spm == TRISTATE_YES)
                        ret = -EOPNOTSUPP;
        }
        return ret;
}

void manager_spm_nodes(Manager *m, NodeMask *ret) {
        device_plan_spm_nodes(&m->plan, m->topology, ret);
}

void manager_unplaceable_nodes(Manager *m, NodeMask *ret) {
        NodeMask spm;

        *ret = (NodeMask){};
        manager_spm_nodes(m, &spm);
        for (size_t i = 0; m->topology && i < m->topology->n_nodes; i++) {
                const NodeInfo *n = &m->topology->nodes[i];
                if (n->private_node && n->user_placeable == 0 && nodemask_test(&spm, (unsigned) n->id))
                        nodemask_set(ret, (unsigned) n->id);
        }
}

void manager_layers(Manager *m, LayerState out[static MANAGER_N_LAYERS]) {
        LayerState *l = out;
        char units[96];

        *l = (LayerState){ .name = "cpuset" };
        if (m->wall) {
                CpusetStats st;
                cpuset_wall_stats(m->wall, &st);
                l->state = "active";
                snprintf(l->detail, sizeof l->detail,
                         "%u cgroup(s) walled%s, %u grant cgroup(s) open, %u waiting for their cgroup, %u failed "
                         "write(s); %u process(es) in the root cgroup (%u kernel thread(s)) stay outside every wall",
                         st.walled, systemd_units_text(m, &st, units, sizeof units), st.granted, st.pending_grants,
                         st.errors, st.root_procs, st.root_kthreads);
        } else {
                l->state = m->config->cpuset ? "unavailable" : "off";
                snprintf(l->detail, sizeof l->detail, "%s", m->config->cpuset ? strna(m->wall_reason) : "Cpuset=no");
        }

        *++l = (LayerState){ .name = "observe" };
        if (m->observer) {
                const char *why = NULL;
                l->state = "active";
                snprintf(l->detail, sizeof l->detail, "via %s, ViolationAction=%s, %" PRIu64 " violation(s)",
                         bpf_observer_via(m->observer, &why), m->observer_kills ? "kill" : "log", m->n_violations);
        } else {
                l->state = m->config->observe == TRISTATE_NO ? "off" : "unavailable";
                snprintf(l->detail, sizeof l->detail, "%s",
                         m->config->observe == TRISTATE_NO ? "Observe=no" : strna(m->observer_reason));
        }

        *++l = (LayerState){ .name = "guard" };
        if (m->guard) {
                l->state = "active";
                snprintf(l->detail, sizeof l->detail, "BPF-LSM: %s%s%s, %" PRIu64 " denial(s)",
                         m->guard_cgroup ? "cgroupfs writes" : "", m->guard_cgroup && m->guard_movememory ? ", " : "",
                         m->guard_movememory ? "task_movememory" : "", m->n_denials);
        } else {
                bool off = m->config->cgroup_guard == TRISTATE_NO && m->config->task_movememory == TRISTATE_NO;
                l->state = off ? "off" : "unavailable";
                snprintf(l->detail, sizeof l->detail, "%s",
                         off ? "CgroupGuard=no, TaskMoveMemory=no" : strna(m->guard_reason));
        }

        *++l = (LayerState){ .name = "struct_ops", .state = m->struct_ops_state ? m->struct_ops_state : "unavailable" };
        snprintf(l->detail, sizeof l->detail, "%s", strna(m->struct_ops_detail));
        *++l = (LayerState){ .name = "native-spm", .state = m->native_spm_state ? m->native_spm_state : "unavailable" };
        snprintf(l->detail, sizeof l->detail, "%s", strna(m->native_spm_detail));

        *++l = (LayerState){ .name = "broker", .state = m->bus ? "active" : "unavailable" };
        if (m->bus)
                snprintf(l->detail, sizeof l->detail, "org.spmd1 on the system bus, %zu grant(s)",
                         broker_n_grants(m->broker));
        else
                snprintf(l->detail, sizeof l->detail, "%s", m->bus_reason ? m->bus_reason : "not started");
}

int manager_release_device(Manager *m, const char *dev, char **ret_message) {
        const DeviceClaim *claim = device_plan_find(&m->plan, dev);
        const char *dax = claim ? claim->dax : dev;
        _cleanup_free_ char *copy = strdup(dax);
        int r;

        *ret_message = NULL;
        if (!copy)
                return -ENOMEM;
        r = manager_refresh_topology(m);
        if (r < 0)
                return r;
        if (!topology_dax(m->topology, copy)) {
                if (asprintf(ret_message, "%s: no such dax device and no [Device] with that Name=", dev) < 0)
                        *ret_message = NULL;
                return -ENOENT;
        }
        r = release_held(m, copy, ret_message);
        (void) manager_refresh_topology(m);
        pressure_follow(m->pressure);
        (void) manager_apply_enforcement(m, NULL);
        manager_bus_layers_changed(m);
        return r;
}

/* ---- pinning ---- */

/* Where layer's programs are pinned, or NULL (with the reason logged once) when they should not or cannot be. */
static const char *manager_pin_dir(Manager *m, const char *layer, char *buf, size_t len) {
        _cleanup_free_ char *reason = NULL;

        if (!m->config->persist_after_exit)
                return NULL;
        snprintf(buf, len, "%s/%s", m->config->bpf_pin_directory, layer);
        if (bpf_pin_dir_prepare(buf, &reason) < 0) {
                log_warning("BPF pinning unavailable: %s; %s enforcement stops when spmd stops.",
                            reason ? reason : "unknown reason", layer);
                return NULL;
        }
        return buf;
}

/* PersistAfterExit=no, or a layer switched off: its pins go, and with them its programs. */
static void manager_unpin(Manager *m, const char *layer) {
        char dir[PATH_MAX];
        int r;

        snprintf(dir, sizeof dir, "%s/%s", m->config->bpf_pin_directory, layer);
        if (access(dir, F_OK) < 0)
                return;
        r = bpf_pin_remove(dir);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the pins in %s: %m", dir);
        else
                log_info("Removed the pinned %s programs and maps from %s.", layer, dir);
}

/* ---- the BPF-LSM guard ---- */

static void on_denial(const struct spmd_guard_event *e, void *userdata) {
        Manager *m = userdata;
        char own[512], target[512], comm[17], msg[1400], what[96];
        char f_what[64], f_pid[32], f_comm[40], f_cg[560], f_tcg[560];
        const char *fields[] = { f_what, f_pid, f_comm, f_cg, f_tcg, NULL };

        m->n_denials++;
        if (!log_ratelimit_pass(&m->denial_log, "denial(s)"))
                return;
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        cgroup_name(e->cgroup_id, own, sizeof own); /* by id: the caller may be gone already */
        if (e->what == SPMD_GUARD_PINS)
                snprintf(target, sizeof target, "-"); /* an inode or BPF object id, not a cgroup */
        else
                cgroup_name(e->target_cgroup_id, target, sizeof target);
        if (e->what == SPMD_GUARD_MOVEMEMORY)
                snprintf(what, sizeof what, "moving the pages of pid %d, which holds a grant in", e->target_pid);
        else if (e->what == SPMD_GUARD_CLONE_INTO)
                snprintf(what, sizeof what, "starting a process (clone3 with CLONE_INTO_CGROUP) in");
        else
                snprintf(what, sizeof what, "writing %s of", strna(spmd_guard_what_to_string(e->what)));
        if (e->what == SPMD_GUARD_PINS)
                snprintf(msg, sizeof msg, "Denied: %s (pid %u, uid %u) in cgroup %s, %s spmd's BPF pins under %s "
                                          "(%s %" PRIu64 "; enforcement is switched off with spmctl detach-bpf).",
                         comm, e->tgid, e->uid, own, spmd_guard_pin_op_to_string(e->target_pid),
                         m->config->bpf_pin_directory, e->target_pid == SPMD_PIN_BY_ID ? "id" : "inode",
                         (uint64_t) e->target_cgroup_id);
        else
                snprintf(msg, sizeof msg, "Denied: %s (pid %u, uid %u) in cgroup %s, %s cgroup %s (not a trusted "
                                          "executable; see TrustedExecutable=).",
                         comm, e->tgid, e->uid, own, what, target);
        snprintf(f_what, sizeof f_what, "SPMD_DENIED=%s", strna(spmd_guard_what_to_string(e->what)));
        snprintf(f_pid, sizeof f_pid, "SPMD_PID=%u", e->tgid);
        snprintf(f_comm, sizeof f_comm, "SPMD_COMM=%s", comm);
        snprintf(f_cg, sizeof f_cg, "SPMD_CGROUP=%s", own);
        snprintf(f_tcg, sizeof f_tcg, "SPMD_TARGET_CGROUP=%s", target);
        log_struct_internal(LOG_WARNING, __FILE__, __LINE__, __func__, msg, fields);
        manager_bus_emit_denial(m, e, own, target);
}

static int on_guard_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int r;

        (void) s;
        (void) fd;
        (void) revents;
        r = bpf_guard_consume(m->guard);
        if (r < 0)
                log_warning_errno(r, "Reading the guard's ring buffer failed: %m");
        return 0;
}

/*
 * The guard keeps untrusted tasks off spmd's pins (both layers' directories and
 * files, and their bpffs) and off writable fds of its maps and links by id, so
 * that only spmd itself (spmctl detach-bpf runs it) or PersistAfterExit=no
 * switches enforcement off. Called whenever pins or objects may have changed.
 */
static void manager_guard_protect(Manager *m) {
        struct spmd_exe_key inodes[256];
        uint64_t ids[256];
        size_t n_inodes = 0, n_ids = 0;
        int r;

        if (!m->guard)
                return;
        if (m->config->persist_after_exit) {
                r = bpf_pin_dir_inode_keys(m->config->bpf_pin_directory, inodes, &n_inodes, ELEMENTSOF(inodes));
                for (const char *const *layer = (const char *const[]){ "guard", "observe", NULL };
                     r >= 0 && *layer; layer++) {
                        _cleanup_free_ char *dir = NULL;

                        if (asprintf(&dir, "%s/%s", m->config->bpf_pin_directory, *layer) < 0)
                                return (void) log_oom();
                        r = bpf_pin_dir_inode_keys(dir, inodes, &n_inodes, ELEMENTSOF(inodes));
                        if (r == -ENOENT)
                                r = 0; /* that layer is not pinned */
                }
                if (r < 0)
                        log_error_errno(r, "Cannot list spmd's pins under %s for the guard: %m",
                                        m->config->bpf_pin_directory);
        }
        n_ids = bpf_guard_object_ids(m->guard, ids, ELEMENTSOF(ids));
        if (m->observer)
                n_ids += bpf_observer_object_ids(m->observer, ids + n_ids, ELEMENTSOF(ids) - n_ids);
        r = bpf_guard_protect(m->guard, inodes, n_inodes, ids, n_ids);
        if (r < 0)
                log_error_errno(r, "Cannot tell the guard which pins and BPF objects are spmd's: %m");
}

static void manager_drop_guard(Manager *m) {
        m->guard_source = sd_event_source_disable_unref(m->guard_source);
        m->guard = bpf_guard_free(m->guard);
}

int manager_setup_guard(Manager *m) {
        bool cg = m->config->cgroup_guard != TRISTATE_NO, mm = m->config->task_movememory != TRISTATE_NO;
        bool required = m->config->cgroup_guard == TRISTATE_YES || m->config->task_movememory == TRISTATE_YES;
        int r;

        if (!cg && !mm) {
                if (m->guard)
                        log_info("CgroupGuard=no, TaskMoveMemory=no: detaching the BPF-LSM guard.");
                manager_drop_guard(m);
                manager_unpin(m, "guard");
                m->guard_reason = mfree(m->guard_reason);
                log_info("Enforcement layer guard: off (CgroupGuard=no, TaskMoveMemory=no).");
                return 0;
        }
        if (!m->guard || m->guard_cgroup != cg || m->guard_movememory != mm) {
                manager_drop_guard(m);
                m->guard_reason = mfree(m->guard_reason);
                char pin[PATH_MAX];
                const char *pin_dir = manager_pin_dir(m, "guard", pin, sizeof pin);
                bool adopted = false;

                r = bpf_guard_new_pinned(cg, mm, pin_dir, on_denial, m, &m->guard, &adopted, &m->guard_reason);
                if (r < 0) {
                        log_full(required ? LOG_ERR : LOG_WARNING, "Enforcement layer guard: unavailable: %s.",
                                 m->guard_reason ? m->guard_reason : strerror(-r));
                        return required ? r : 0;
                }
                r = sd_event_add_io(m->event, &m->guard_source, bpf_guard_fd(m->guard), EPOLLIN, on_guard_io, m);
                if (r < 0) {
                        manager_drop_guard(m);
                        return log_error_errno(r, "Cannot watch the guard's ring buffer: %m");
                }
                m->guard_cgroup = cg;
                m->guard_movememory = mm;
                log_info("Enforcement layer guard: active (BPF-LSM: %s%s%s)%s%s%s.", cg ? "cgroupfs writes" : "",
                         cg && mm ? ", " : "", mm ? "task_movememory" : "",
                         pin_dir ? (adopted ? "; re-adopted the pins in " : "; pinned in ") : "",
                         strempty(pin_dir), pin_dir ? "" : "; not pinned");
        }
        r = bpf_guard_set_trusted(m->guard, m->config->trusted_executables);
        if (r < 0)
                log_error_errno(r, "Cannot set the guard's trusted executables: %m");
        manager_guard_protect(m);
        manager_sync_bpf_maps(m, NULL);
        return 0;
}

static void manager_drop_observer(Manager *m) {
        m->observer_source = sd_event_source_disable_unref(m->observer_source);
        m->observer = bpf_observer_free(m->observer);
}

int manager_setup_observer(Manager *m) {
        bool kill = m->config->violation_action == VIOLATION_KILL;
        int r;

        if (m->config->observe == TRISTATE_NO) {
                if (m->observer)
                        log_info("Observe=no: detaching the syscall observer.");
                manager_drop_observer(m);
                manager_unpin(m, "observe");
                m->observer_reason = mfree(m->observer_reason);
                log_info("Enforcement layer observe: off (Observe=no).");
                return 0;
        }
        if (m->observer && m->observer_kills == kill)
                return 0;
        /* ViolationAction= is compiled into the program's read-only data: load it anew. */
        manager_drop_observer(m);
        m->observer_reason = mfree(m->observer_reason);
        char pin[PATH_MAX];
        const char *pin_dir = manager_pin_dir(m, "observe", pin, sizeof pin);
        bool adopted = false;

        /* auto: where it costs other syscalls nothing (fentry) */
        r = bpf_observer_new_pinned(kill, pin_dir, m->config->observe == TRISTATE_YES, on_violation, m, &m->observer,
                                    &adopted, &m->observer_reason);
        if (r < 0) {
                log_full(m->config->observe == TRISTATE_YES ? LOG_ERR : LOG_WARNING,
                         "Enforcement layer observe: unavailable: %s.",
                         m->observer_reason ? m->observer_reason : strerror(-r));
                return m->config->observe == TRISTATE_YES ? r : 0;
        }
        r = sd_event_add_io(m->event, &m->observer_source, bpf_observer_fd(m->observer), EPOLLIN, on_observer_io, m);
        if (r < 0) {
                manager_drop_observer(m);
                return log_error_errno(r, "Cannot watch the observer's ring buffer: %m");
        }
        m->observer_kills = kill;
        const char *why_not_fentry = NULL, *via = bpf_observer_via(m->observer, &why_not_fentry);
        log_info("Enforcement layer observe: active (mbind, set_mempolicy, set_mempolicy_home_node, move_pages, "
                 "migrate_pages; ViolationAction=%s) via %s%s%s%s%s%s.", kill ? "kill" : "log", via,
                 why_not_fentry ? " (fentry: " : "", strempty(why_not_fentry), why_not_fentry ? ")" : "",
                 pin_dir ? (adopted ? "; re-adopted the pins in " : "; pinned in ") : "; not pinned",
                 strempty(pin_dir));
        return 0;
}

/* A debug line with the time since *t, which moves on to now: the steps of work done on the loop. */
static void log_step(uint64_t *t, const char *what) {
        uint64_t n = now_usec(CLOCK_MONOTONIC);

        log_debug("%s took %.1f ms.", what, (double) (n - *t) / 1e3);
        *t = n;
}

/* Match the [Device] sections against the topology just read, wall the nodes they plan, release
 * what the configuration no longer claims and online the claims. *ret_changed: a device came or
 * went, so the topology is to be read again. */
static int devices_claim(Manager *m, bool *ret_changed, uint64_t *t) {
        DevicePlan plan = {};
        bool changed = false;
        int r;

        r = device_plan_build(m->config, m->topology, &plan);
        if (r < 0)
                return log_error_errno(r, "Failed to match the [Device] sections: %m");
        m->n_device_problems = (unsigned) strv_length(plan.problems);
        for (char **p = plan.problems; p && *p; p++)
                log_error("%s", *p);

        /* Wall off the nodes before their memory comes online, so nothing spills there meanwhile. When
         * they are the nodes the walls already hold (a reload that changes no device), the walls stand:
         * the pass after onlining (manager_apply_enforcement) is the only one needed. */
        if (m->wall) {
                NodeMask planned, online, walled = cpuset_wall_spm(m->wall);

                device_plan_target_nodes(&plan, m->topology, &planned);
                device_plan_spm_nodes(&m->plan, m->topology, &online);
                planned = nodemask_or(&planned, &online);
                if (!nodemask_same(&planned, &walled)) {
                        (void) manager_apply_enforcement(m, &planned);
                        log_step(t, "Walling the planned SPM nodes");
                }
        }

        /* What spmd holds but the configuration no longer claims goes back to devdax. */
        _cleanup_(strv_freep) char **held = strv_copy(m->onlined);
        if (m->onlined && !held) {
                device_plan_clear(&plan);
                return log_oom();
        }
        for (char **d = held; d && *d; d++) {
                if (device_plan_find(&plan, *d))
                        continue;
                log_info("%s: no longer claimed by the configuration, releasing.", *d);
                (void) release_held(m, *d, NULL);
                changed = true;
        }

        for (size_t i = 0; i < plan.n_claims; i++) {
                _cleanup_free_ char *msg = NULL;

                r = device_online(&plan.claims[i], m->topology, &msg);
                (void) log_device_result(r, msg);
                if (r == DEVICE_ONLINED || r == DEVICE_ONLINE_DEGRADED)
                        changed = true;
                if (r >= 0 && !strv_contains(m->onlined, plan.claims[i].dax))
                        (void) strv_extend(&m->onlined, plan.claims[i].dax);
                if (r < 0)
                        m->n_device_problems++;
        }
        log_step(t, "Onlining and releasing devices");
        device_plan_clear(&m->plan);
        m->plan = plan;
        *ret_changed = changed;
        return 0;
}

int manager_apply_devices(Manager *m) {
        uint64_t t = now_usec(CLOCK_MONOTONIC);
        bool changed;
        int r;

        r = manager_refresh_topology(m);
        if (r < 0)
                return r;
        log_step(&t, "Reading the topology");
        r = devices_claim(m, &changed, &t);
        if (r < 0)
                return r;
        if (changed) {
                r = manager_refresh_topology(m);
                if (r < 0)
                        return r;
                log_step(&t, "Reading the topology again");
        }
        pressure_follow(m->pressure);
        log_step(&t, "Following the SPM nodes' pressure");
        /* Grants can name the nodes now that they have memory. */
        r = manager_apply_enforcement(m, NULL);
        log_step(&t, "The walls and BPF maps");
        return r;
}

static void manager_release_devices(Manager *m) {
        while (!strv_isempty(m->onlined)) {
                _cleanup_free_ char *dax = strdup(m->onlined[0]);

                if (!dax)
                        return;
                (void) release_held(m, dax, NULL);
                strv_remove(m->onlined, dax); /* stopping: what failed stays as it is, not retried */
        }
}

/* The errors of a failed load, one a line, for the D-Bus caller. */
static char *diags_errors(const ConfDiags *d) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].level == CONF_DIAG_ERROR)
                        fprintf(f, "%s%s:%u: %s", ftell(f) > 0 ? "\n" : "", d->items[i].file, d->items[i].line,
                                d->items[i].message);
        fclose(f);
        return buf;
}

/*
 * A reload's work after the new configuration is in, one step a dispatch of the loop, so that a
 * client's call waits for one step at most, not for all of them; reading the topology (libcxl,
 * libdaxctl and sysfs: the longest step, 130-280 ms in the test guest under load) runs in a thread.
 * What the steps do and in which order is manager_apply_devices()'s and manager_startup()'s.
 */
typedef enum ReloadStep {
        RELOAD_WALL,
        RELOAD_OBSERVER,
        RELOAD_GUARD,
        RELOAD_KERNEL_LAYERS,
        RELOAD_TOPOLOGY,
        RELOAD_DEVICES,
        RELOAD_TOPOLOGY_AGAIN,
        RELOAD_FOLLOW,
        RELOAD_ENFORCEMENT,
        RELOAD_GRANTS,
        RELOAD_DONE,
} ReloadStep;

static const char *const reload_step_names[] = { /* for log_step() */
        [RELOAD_WALL] = "Reload: the cpuset wall",
        [RELOAD_OBSERVER] = "Reload: the observer",
        [RELOAD_GUARD] = "Reload: the guard",
        [RELOAD_KERNEL_LAYERS] = "Reload: the kernel's layers",
        [RELOAD_TOPOLOGY] = "Reload: reading the topology",
        [RELOAD_DEVICES] = "Reload: the devices",
        [RELOAD_TOPOLOGY_AGAIN] = "Reload: reading the topology again",
        [RELOAD_FOLLOW] = "Reload: following the SPM nodes' pressure",
        [RELOAD_ENFORCEMENT] = "Reload: the walls and BPF maps",
        [RELOAD_GRANTS] = "Reload: the grants",
};

/* ---- reading the topology off the loop ---- */

typedef struct TopologyJob {
        WorkerJob base;
        Topology *topology;
        int r;
} TopologyJob;

static void topology_job_run(WorkerJob *j) {
        TopologyJob *job = (TopologyJob *) j;

        job->r = topology_discover(&job->topology);
}

static void topology_job_free(WorkerJob *j) {
        TopologyJob *job = (TopologyJob *) j;

        topology_free(job->topology);
        free(job);
}

static void on_topology_read(WorkerJob *j, void *userdata);

/* Hand a read to the worker; < 0 when it cannot take one. */
static int topology_read_start(Manager *m) {
        TopologyJob *job;
        int r;

        if (!m->topology_worker) {
                r = worker_new(m->event, on_topology_read, m, &m->topology_worker);
                if (r < 0)
                        return r;
        }
        job = calloc(1, sizeof *job);
        if (!job)
                return -ENOMEM;
        job->base = (WorkerJob){ .run = topology_job_run, .free = topology_job_free };
        r = worker_submit(m->topology_worker, &job->base);
        if (r < 0)
                free(job);
        return r;
}

static void waiters_call(Manager *m, TopologyWaiter *list, size_t n, int r);

/* Read for the waiters in m->topology_waiters: in the worker (1), or here when it cannot take the
 * read, calling them at once (0). */
static int topology_read_for_waiters(Manager *m) {
        TopologyWaiter *w;
        size_t n;

        if (topology_read_start(m) >= 0)
                return 1;
        w = TAKE_PTR(m->topology_waiters);
        n = m->n_topology_waiters;
        m->n_topology_waiters = 0;
        waiters_call(m, w, n, manager_refresh_topology(m));
        return 0;
}

static int waiters_add(TopologyWaiter **list, size_t *n, TopologyReadDone done, void *userdata) {
        TopologyWaiter *a = reallocarray(*list, *n + 1, sizeof *a);

        if (!a)
                return -ENOMEM;
        a[(*n)++] = (TopologyWaiter){ done, userdata };
        *list = a;
        return 0;
}

static void waiters_call(Manager *m, TopologyWaiter *list, size_t n, int r) {
        for (size_t i = 0; i < n; i++)
                list[i].done(m, r, list[i].userdata);
        free(list);
}

static void on_topology_read(WorkerJob *j, void *userdata) {
        TopologyJob *job = (TopologyJob *) j;
        Manager *m = userdata;
        TopologyWaiter *done = TAKE_PTR(m->topology_waiters);
        size_t n_done = m->n_topology_waiters;

        log_debug("Reading the topology took %.1f ms in a thread.", (double) job->base.usec / 1e3);
        if (job->r < 0)
                log_error_errno(job->r, "Failed to discover the memory topology: %m");
        else {
                topology_free(m->topology);
                m->topology = TAKE_PTR(job->topology);
        }
        m->n_topology_waiters = 0;
        /* who asked while this read ran gets one that starts after they asked */
        if (m->n_topology_next > 0) {
                m->topology_waiters = TAKE_PTR(m->topology_next);
                m->n_topology_waiters = m->n_topology_next;
                m->n_topology_next = 0;
                (void) topology_read_for_waiters(m);
        }
        waiters_call(m, done, n_done, job->r < 0 ? job->r : 0);
}

int manager_read_topology(Manager *m, TopologyReadDone done, void *userdata) {
        int r;

        assert(m);
        assert(done);
        if (m->n_topology_waiters > 0) /* a read runs: the next one, after it */
                return waiters_add(&m->topology_next, &m->n_topology_next, done, userdata) < 0 ? -ENOMEM : 1;
        r = waiters_add(&m->topology_waiters, &m->n_topology_waiters, done, userdata);
        if (r < 0)
                return r;
        return topology_read_for_waiters(m);
}

static void manager_cancel_topology_reads(Manager *m) {
        TopologyWaiter *w = TAKE_PTR(m->topology_waiters), *next = TAKE_PTR(m->topology_next);
        size_t n = m->n_topology_waiters, n_next = m->n_topology_next;

        m->n_topology_waiters = m->n_topology_next = 0;
        waiters_call(m, w, n, -ECANCELED);
        waiters_call(m, next, n_next, -ECANCELED);
}

/* ---- the reload's steps ---- */

static void reload_continue(Manager *m) {
        if (m->reload_source)
                (void) sd_event_source_set_enabled(m->reload_source, SD_EVENT_ON);
}

/* The reload's pass over the walls ended (or a whole pass replaced it). */
static void on_reload_wall_pass(int errors, void *userdata) {
        Manager *m = userdata;

        wall_pass_done(m, NULL, true);
        manager_check_kernel_demotion(m);
        log_debug("%s took %.1f ms in slices%s.", reload_step_names[RELOAD_ENFORCEMENT],
                  (double) (now_usec(CLOCK_MONOTONIC) - m->reload_pass_usec) / 1e3,
                  errors > 0 ? ", with failed writes" : "");
        reload_continue(m);
}

static void on_reload_topology(Manager *m, int r, void *userdata) {
        (void) userdata;
        if (r == -ECANCELED)
                return;
        /* as manager_apply_devices(): without the topology the devices and walls stay as they are */
        if (r < 0)
                m->reload_step = RELOAD_GRANTS;
        reload_continue(m);
}

/* Read the topology in the worker; 1: the step goes on when it is in, 0: it was read here. */
static int reload_read_topology(Manager *m) {
        int r;

        (void) sd_event_source_set_enabled(m->reload_source, SD_EVENT_OFF);
        r = manager_read_topology(m, on_reload_topology, NULL);
        if (r < 0) {
                reload_continue(m);
                m->reload_step = RELOAD_GRANTS;
                return 0;
        }
        return r;
}

static void reload_answer_callers(Manager *m) {
        for (size_t i = 0; i < m->n_reload_callers; i++) {
                (void) sd_bus_reply_method_return(m->reload_callers[i], NULL);
                sd_bus_message_unref(m->reload_callers[i]);
        }
        m->reload_callers = mfree(m->reload_callers);
        m->n_reload_callers = 0;
}

static void reload_finish(Manager *m) {
        m->reload_source = sd_event_source_disable_unref(m->reload_source);
        manager_bus_layers_changed(m);
        manager_bus_reconnect_now(m); /* not on the bus: a reload is a good moment to look again */
        log_info("Configuration reloaded (%zu file(s)).", m->config->n_files);
        manager_notify_status(m, "Configuration reloaded");
        reload_answer_callers(m);
        manager_trim_memory();
}

/* Run the current step; 1 when it waits for the worker. */
static int reload_run_step(Manager *m) {
        ReloadStep step = m->reload_step++;
        bool changed = false;

        switch (step) {
        case RELOAD_WALL:
                manager_setup_wall(m);
                return 0;
        case RELOAD_OBSERVER:
                (void) manager_setup_observer(m);
                return 0;
        case RELOAD_GUARD:
                (void) manager_setup_guard(m);
                return 0;
        case RELOAD_KERNEL_LAYERS:
                (void) manager_report_kernel_layers(m);
                return 0;
        case RELOAD_TOPOLOGY:
                return reload_read_topology(m);
        case RELOAD_DEVICES: {
                uint64_t t = now_usec(CLOCK_MONOTONIC);

                if (devices_claim(m, &changed, &t) < 0)
                        m->reload_step = RELOAD_GRANTS;
                m->reload_devices_changed = changed;
                return 0;
        }
        case RELOAD_TOPOLOGY_AGAIN:
                return m->reload_devices_changed ? reload_read_topology(m) : 0;
        case RELOAD_FOLLOW:
                pressure_follow(m->pressure);
                return 0;
        case RELOAD_ENFORCEMENT: {
                /* grants can name the nodes now that they have memory; the SPM nodes are walled
                 * already (devices_claim()), so the pass goes in slices between other work */
                int r;

                m->reload_pass_usec = now_usec(CLOCK_MONOTONIC);
                r = apply_enforcement(m, NULL, true, NULL, true);
                if (r == 1) {
                        (void) sd_event_source_set_enabled(m->reload_source, SD_EVENT_OFF);
                        return 1;
                }
                manager_check_kernel_demotion(m);
                return 0;
        }
        case RELOAD_GRANTS:
                broker_recheck(m->broker);
                return 0;
        case RELOAD_DONE:
                break;
        }
        return 0;
}

static int on_reload_step(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        ReloadStep step = m->reload_step;
        uint64_t t;
        int r;

        (void) s;
        if (step == RELOAD_DONE) {
                if (m->reload_again) { /* the configuration changed under the steps: all of them again */
                        m->reload_again = false;
                        m->reload_wall_seq = 0;
                        m->reload_step = RELOAD_WALL;
                        return 0;
                }
                /* done when the walls it decided are written (narrowing ones go through the wall's writer) */
                if (m->reload_wall_seq == 0 && m->wall)
                        m->reload_wall_seq = cpuset_wall_writing(m->wall);
                if (m->reload_wall_seq > 0 && m->wall && !cpuset_wall_written(m->wall, m->reload_wall_seq)) {
                        (void) sd_event_source_set_enabled(m->reload_source, SD_EVENT_OFF);
                        return 0;
                }
                m->reload_wall_seq = 0;
                reload_finish(m);
                return 0;
        }
        t = now_usec(CLOCK_MONOTONIC);
        r = reload_run_step(m);
        if (r == 0) /* the worker's share is logged when it ends */
                log_step(&t, reload_step_names[step]);
        return 0;
}

bool manager_reloading(const Manager *m) {
        return m->reload_source;
}

int manager_reply_when_reloaded(Manager *m, sd_bus_message *msg) {
        sd_bus_message **a;

        if (!manager_reloading(m))
                return sd_bus_reply_method_return(msg, NULL);
        a = reallocarray(m->reload_callers, m->n_reload_callers + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        m->reload_callers = a;
        m->reload_callers[m->n_reload_callers++] = sd_bus_message_ref(msg);
        return 1;
}

int manager_reload(Manager *m, char **ret_error) {
        ConfDiags d = {};
        Config *c = NULL;
        int r;

        /* MONOTONIC_USEC lets Type=notify-reload match this to the reload it asked for. */
        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=Reloading configuration...\nMONOTONIC_USEC=%" PRIu64,
                          now_usec(CLOCK_MONOTONIC));
        log_info("Reloading configuration from %s.", m->config_path);

        r = load(m, &c, &d);
        log_diags(&d, LOG_ERR);
        if (r < 0) {
                char status[256];

                m->n_failed_reloads++;
                if (r == -EINVAL)
                        snprintf(status, sizeof status,
                                 "Reload failed: %zu error(s) in the configuration, kept the running one",
                                 d.n_errors);
                else
                        snprintf(status, sizeof status, "Reload failed: %s, kept the running configuration",
                                 strerror(-r));
                log_error("%s.", status);
                manager_notify_status(m, status);
                if (ret_error) {
                        *ret_error = r == -EINVAL ? diags_errors(&d) : NULL;
                        if (!*ret_error)
                                *ret_error = strdup(status);
                }
                conf_diags_clear(&d);
                return r == -EINVAL ? r : -EIO;
        }
        conf_diags_clear(&d);

        config_free(m->config);
        m->config = c;
        m->n_reloads++;
        manager_apply_log_level(m);

        if (manager_reloading(m)) {
                /* the steps still to run read the new configuration; those done run again after them */
                m->reload_again = true;
                if (m->reload_wall_seq > 0) { /* at the end, waiting for the wall's writes: go on now */
                        m->reload_wall_seq = 0;
                        reload_continue(m);
                }
                return 0;
        }
        /* Below the bus and the other sources (a defer source stays pending, and would win against
         * them all until it is done): a client's message waits for one step at most. */
        r = sd_event_add_defer(m->event, &m->reload_source, on_reload_step, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->reload_source, MANAGER_RELOAD_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->reload_source, SD_EVENT_ON);
        if (r < 0) {
                m->reload_source = sd_event_source_disable_unref(m->reload_source);
                return log_error_errno(r, "Failed to schedule the reload's steps: %m");
        }
        m->reload_step = RELOAD_WALL;
        m->reload_again = false;
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        (void) s;
        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down...");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        (void) si;
        (void) manager_reload(userdata, NULL);
        return 0;
}

static void on_pressure_level(void *userdata, unsigned node, PressureLevel level, PressureLevel before,
                              const char *why) {
        manager_bus_emit_pressure(userdata, node, level, before, why);
}

static void on_pressure_sampled(void *userdata) {
        manager_check_kernel_demotion(userdata);
}

/* What the broker asks of the daemon (broker.h). */
static void broker_spm_nodes(void *userdata, NodeMask *ret) {
        manager_spm_nodes(userdata, ret);
}

static void broker_unplaceable_nodes(void *userdata, NodeMask *ret) {
        manager_unplaceable_nodes(userdata, ret);
}

static int broker_node_level(void *userdata, unsigned node, const char **ret_why) {
        Manager *m = userdata;
        const NodePressure *np = pressure_node(m->pressure, node);

        if (!np)
                return -1;
        *ret_why = np->why;
        return (int) np->state.level;
}

static int broker_apply_grants(void *userdata, const char *cgroup) {
        return manager_apply_grants(userdata, cgroup);
}

static uint64_t broker_wall_writing_for(void *userdata, const char *cgroup) {
        Manager *m = userdata;

        return m->wall ? cpuset_wall_writing_for(m->wall, cgroup) : 0;
}

static void broker_grant_ended(void *userdata) {
        manager_trim_memory_later(userdata);
}

static const BrokerOps broker_ops = {
        .spm_nodes = broker_spm_nodes,
        .unplaceable_nodes = broker_unplaceable_nodes,
        .node_level = broker_node_level,
        .apply_grants = broker_apply_grants,
        .wall_writing_for = broker_wall_writing_for,
        .grant_ended = broker_grant_ended,
};

int manager_new(const char *config_path, bool config_required, int cmdline_log_level, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t ss;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;
        m->config_required = config_required;
        m->cmdline_log_level = cmdline_log_level;
        m->lock_fd = -1;
        m->start_usec = now_usec(CLOCK_MONOTONIC);
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = broker_new(m->event, &m->config, &broker_ops, m, &m->broker); /* before the pressure subsystem, which
                                                                         * reads its grants */
        if (r < 0)
                return r;

        /* sd-event's signal sources need the signals blocked (libsystemd 252 has no PROCMASK flag). */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_sigterm, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_sigterm, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m);
        if (r < 0)
                return r;

        r = pressure_new(m->event,
                         &(PressureInputs){ .config = &m->config, .topology = &m->topology, .plan = &m->plan,
                                            .grants = &m->broker->grants, .n_grants = &m->broker->n_grants },
                         &(PressureOps){ .level_changed = on_pressure_level, .sampled = on_pressure_sampled }, m,
                         &m->pressure);
        if (r < 0)
                return r;

        /* Sends WATCHDOG=1 at half of $WATCHDOG_USEC while the loop is alive; no-op without it. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return r;
        if (r > 0)
                log_debug("Service watchdog enabled.");

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->broker)
                broker_shutdown(m->broker);
        manager_bus_stop(m);
        m->reload_source = sd_event_source_disable_unref(m->reload_source);
        m->topology_worker = worker_free(m->topology_worker); /* waits for a read under way */
        manager_cancel_topology_reads(m);
        for (size_t i = 0; i < m->n_reload_callers; i++)
                sd_bus_message_unref(m->reload_callers[i]);
        free(m->reload_callers);
        if (m->wall)
                cpuset_wall_set_manager(m->wall, NULL, NULL); /* its bus goes first */
        m->systemd_bus = sd_bus_flush_close_unref(m->systemd_bus);
        /* reclaim, evacuation and demotion stop (DAMON given back) while the grants they read are there */
        m->pressure = pressure_free(m->pressure);
        m->broker = broker_free(m->broker);
        free(m->bus_reason);
        sd_event_source_disable_unref(m->bus_retry);
        m->trim_source = sd_event_source_disable_unref(m->trim_source);
        if (m->lock_fd >= 0)
                close(m->lock_fd);
        held_file_close(&m->demotion_file);
        free(m->struct_ops_state);
        free(m->struct_ops_detail);
        free(m->struct_ops_name);
        free(m->struct_ops_reason);
        free(m->native_spm_state);
        free(m->native_spm_detail);
        sd_event_source_unref(m->sigterm_source);
        sd_event_source_unref(m->sigint_source);
        sd_event_source_unref(m->sighup_source);
        sd_event_unref(m->event);
        config_free(m->config);
        topology_free(m->topology);
        device_plan_clear(&m->plan);
        strv_free(m->onlined);
        cpuset_wall_free(m->wall);
        free(m->wall_reason);
        manager_drop_observer(m);
        free(m->observer_reason);
        manager_drop_guard(m);
        free(m->guard_reason);
        free(m->config_path);
        free(m);
        return NULL;
}

/* Loading BPF objects parses the kernel's BTF (megabytes) and frees it again; give what malloc
 * keeps back to the kernel, so that an idle spmd holds only what it uses. */
void manager_trim_memory(void) {
        (void) malloc_trim(0);
}

static int on_trim(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) userdata;
        manager_trim_memory();
        return 0;
}

void manager_trim_memory_later(Manager *m) {
        int enabled = SD_EVENT_OFF;

        if (m->trim_source && sd_event_source_get_enabled(m->trim_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* one is due already */
        if (!m->trim_source) {
                if (sd_event_add_time_relative(m->event, &m->trim_source, CLOCK_MONOTONIC, TRIM_DELAY_USEC,
                                               100 * 1000, on_trim, m) < 0)
                        return;
                (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
                return;
        }
        (void) sd_event_source_set_time_relative(m->trim_source, TRIM_DELAY_USEC);
        (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
}

int manager_startup(Manager *m) {
        size_t cpuless = 0;
        int r;

        r = manager_refresh_topology(m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->topology->n_nodes; i++)
                if (m->topology->nodes[i].n_cpus == 0)
                        cpuless++;
        log_info("Found %zu NUMA node(s), %zu without CPUs; %zu CXL memory device(s)%s%s%s; %zu dax device(s)%s%s%s.",
                 m->topology->n_nodes, cpuless, m->topology->n_memdevs, m->topology->cxl_error ? " (" : "",
                 strempty(m->topology->cxl_error), m->topology->cxl_error ? ")" : "", m->topology->n_daxdevs,
                 m->topology->dax_error ? " (" : "", strempty(m->topology->dax_error),
                 m->topology->dax_error ? ")" : "");
        /* grants a previous spmd handed out stay in force from the first pass of the wall on */
        broker_load_state(m->broker);
        manager_setup_wall(m);
        r = manager_setup_observer(m);
        if (r < 0)
                return log_error_errno(r, "Observe=yes, but the syscall observer is unavailable; refusing to start.");
        r = manager_setup_guard(m);
        if (r < 0)
                return log_error_errno(r, "CgroupGuard=yes or TaskMoveMemory=yes, but BPF-LSM is unavailable; "
                                          "refusing to start.");
        r = manager_report_kernel_layers(m);
        if (r < 0)
                return log_error_errno(r, "StructOps=yes or NativeSpm=yes, but this kernel lacks it; refusing to "
                                          "start.");
        /* A device that is missing or refuses is reported, not fatal: spmd still guards the rest. */
        r = manager_apply_devices(m);
        if (r < 0)
                return r;
        /* last: clients can ask once the SPM nodes are known and walled */
        r = manager_bus_start(m);
        manager_trim_memory();
        return r;
}

/* sd_event_loop(), timing each round's own work (preparing and dispatching, not the wait). */
static int manager_loop(Manager *m) {
        int r, code = 0;

        for (;;) {
                uint64_t t0, prepared, t1;

                r = sd_event_get_state(m->event);
                if (r < 0)
                        return r;
                if (r == SD_EVENT_FINISHED)
                        break;
                t0 = now_usec(CLOCK_MONOTONIC);
                r = sd_event_prepare(m->event);
                if (r == 0) {
                        prepared = now_usec(CLOCK_MONOTONIC);
                        r = sd_event_wait(m->event, UINT64_MAX);
                        t0 = now_usec(CLOCK_MONOTONIC) - (prepared - t0);
                }
                if (r > 0)
                        r = sd_event_dispatch(m->event);
                if (r < 0)
                        return r;
                t1 = now_usec(CLOCK_MONOTONIC);
                loop_stats_add(&m->loop_stats, t1, t1 - t0);
                if (t1 - t0 >= 100 * USEC_PER_MSEC) /* what ran is in the debug lines just above */
                        log_debug("Event loop: that dispatch took %.0f ms.", (double) (t1 - t0) / 1e3);
        }
        r = sd_event_get_exit_code(m->event, &code);
        return r == -ENODATA ? 0 : r < 0 ? r : code;
}

int manager_run(Manager *m) {
        int r;

        manager_notify_status(m, "Running");
        log_info("spmd %s running with %s.", SPMD_VERSION, m->config_path);
        r = manager_loop(m);
        manager_bus_stop(m); /* grants stay recorded: the next spmd adopts them */
        if (!m->config->persist_after_exit) {
                /* enforcement ends with the daemon, as configured */
                manager_unpin(m, "observe");
                manager_unpin(m, "guard");
        } else if (m->observer || m->guard) {
                /* trust the spmd installed now: an upgrade may have replaced the file while this one ran,
                 * and the next spmd must be let at the pins */
                if (m->guard && bpf_guard_set_trusted(m->guard, m->config->trusted_executables) < 0)
                        log_warning("Cannot renew the guard's trust in %s; a replaced spmd would not re-adopt "
                                    "the pins (spmctl detach-bpf from the old one, then start).",
                                    SPMD_EXECUTABLE);
                log_info("PersistAfterExit=yes: the BPF programs pinned under %s stay attached.",
                         m->config->bpf_pin_directory);
        }
        if (m->config->shutdown_policy == SHUTDOWN_RELEASE)
                manager_release_devices(m);
        else if (!strv_isempty(m->onlined))
                log_info("ShutdownPolicy=keep: %zu device(s) stay online as SPM nodes.", strv_length(m->onlined));
        return r;
}
