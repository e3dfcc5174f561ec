/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <systemd/sd-daemon.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "bpf-guard.h"
#include "bpf-observe.h"
#include "broker.h"
#include "config.h"
#include "demote.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "spmd/bus.h"
#include "spmd/guard.h"
#include "spmd/observe.h"
#include "strv.h"
#include "time-util.h"

#define ERROR_NO_SUCH_GRANT "org.spmd1.Error.NoSuchGrant"
#define ERROR_NO_SPM_NODES  "org.spmd1.Error.NoSpmNodes"
#define ERROR_ENFORCEMENT   "org.spmd1.Error.EnforcementFailed"
#define ERROR_RELOAD        "org.spmd1.Error.ReloadFailed"
#define ERROR_DEVICE        "org.spmd1.Error.DeviceFailed"
#define ERROR_PRESSURE      "org.spmd1.Error.NodeUnderPressure"

static void grant_path(const Grant *g, char *buf, size_t len) {
        snprintf(buf, len, SPMD_BUS_GRANT_PATH_PREFIX "%" PRIu32, g->id);
}

static Grant *grant_by_id(Manager *m, uint32_t id) {
        for (size_t i = 0; i < m->broker->n_grants; i++)
                if (m->broker->grants[i]->id == id)
                        return m->broker->grants[i];
        return NULL;
}

static Grant *grant_by_path(Manager *m, const char *path) {
        const char *p;
        uint64_t id;
        char *end;

        if (strncmp(path, SPMD_BUS_GRANT_PATH_PREFIX, strlen(SPMD_BUS_GRANT_PATH_PREFIX)) != 0)
                return NULL;
        p = path + strlen(SPMD_BUS_GRANT_PATH_PREFIX);
        if (*p < '1' || *p > '9')
                return NULL;
        errno = 0;
        id = strtoull(p, &end, 10);
        if (errno || *end || id > UINT32_MAX)
                return NULL;
        return grant_by_id(m, (uint32_t) id);
}

size_t broker_n_grants(const Manager *m) {
        return m->broker->n_grants;
}

/* ---- the state file ---- */

static int state_path(Manager *m, char *buf, size_t len) {
        return (size_t) snprintf(buf, len, "%s/grants", m->config->state_directory) < len ? 0 : -ENAMETOOLONG;
}

/* Written before a grant takes effect and after it ends, atomically: a crash leaves the old or the new list. */
static int broker_save_state(Manager *m) {
        char path[PATH_MAX], tmp[PATH_MAX + 8];
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        if (state_path(m, path, sizeof path) < 0)
                return log_error_errno(-ENAMETOOLONG, "StateDirectory=%s is too long.", m->config->state_directory);
        if (access(m->config->state_directory, F_OK) < 0 && mkdir(m->config->state_directory, 0755) < 0 &&
            errno != EEXIST)
                return log_error_errno(-errno, "Cannot create StateDirectory=%s: %m", m->config->state_directory);
        snprintf(tmp, sizeof tmp, "%s.new", path);
        f = fopen(tmp, "we");
        if (!f)
                return log_error_errno(-errno, "Cannot write %s: %m", tmp);
        fprintf(f, "# spmd's grants; rewritten on every change. Do not edit.\n");
        for (size_t i = 0; i < m->broker->n_grants; i++) {
                r = grant_serialize(m->broker->grants[i], f);
                if (r < 0)
                        return log_error_errno(r, "Cannot record grant %" PRIu32 " in %s: %m", m->broker->grants[i]->id, tmp);
        }
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return log_error_errno(r, "Cannot write %s: %m", tmp);
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return log_error_errno(r, "Cannot replace %s: %m", path);
        }
        return 0;
}

static void broker_revoke(Manager *m, Grant *g, const char *reason, bool apply);

/* The grant's cgroup is not there (or cannot be looked at: the grant fails closed). */
static bool grant_cgroup_gone(const Grant *g) {
        char p[PATH_MAX + 32]; /* a grant's cgroup is a valid path: shorter than 4096 */

        snprintf(p, sizeof p, CGROUP_ROOT "%s", g->cgroup);
        return access(p, F_OK) < 0;
}

/* The grant's cgroup's parent changed (sd-event's inotify): the cgroup was removed, or the queue
 * overflowed and it may have been (each watch hears of that: each grant looks at its own). */
static int on_grant_cgroup_removed(sd_event_source *s, const struct inotify_event *e, void *userdata) {
        Grant *g = userdata;
        const char *base = strrchr(g->cgroup, '/');

        (void) s;
        if (e->mask & IN_Q_OVERFLOW) {
                if (grant_cgroup_gone(g))
                        broker_revoke(g->manager, g, "cgroup-removed", true);
                return 0;
        }
        if ((e->mask & IN_DELETE) && (e->mask & IN_ISDIR) && e->len > 0 && base && strcmp(base + 1, e->name) == 0)
                broker_revoke(g->manager, g, "cgroup-removed", true);
        return 0;
}

/* Follow the grant's cgroup being removed: cgroupfs reports rmdir as IN_DELETE to the parent's
 * watchers (there is no IN_DELETE_SELF for a kernfs directory), so the parent is watched; grants
 * below one parent share the kernel's watch (sd-event's), each with a source of its own. */
static void grant_watch(Manager *m, Grant *g) {
        _cleanup_free_ char *p = NULL;
        sd_event_source *s = NULL;
        struct stat st;
        int r;

        if (asprintf(&p, CGROUP_ROOT "%s", g->cgroup) < 0) {
                log_oom();
                return;
        }
        if (stat(p, &st) < 0)
                return; /* gone already: the caller revokes */
        g->cgroup_id = (uint64_t) st.st_ino; /* a cgroup2 directory's inode number is the cgroup id */
        if (g->removal_watch)
                return;
        *strrchr(p, '/') = '\0';
        r = sd_event_add_inotify(m->event, &s, p, IN_DELETE | IN_ONLYDIR, on_grant_cgroup_removed, g);
        if (r < 0)
                log_warning_errno(r, "Cannot follow %s for the removal of %s: %m", p, g->cgroup);
        g->removal_watch = s;
}

void broker_load_state(Manager *m) {
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t n = 0;
        unsigned lineno = 0;

        if (state_path(m, path, sizeof path) < 0)
                return;
        f = fopen(path, "re");
        if (!f) {
                if (errno != ENOENT)
                        log_error_errno(-errno, "Cannot read the recorded grants in %s: %m", path);
                return;
        }
        while (getline(&line, &n, f) > 0) {
                _cleanup_free_ char *err = NULL;
                Grant *g = NULL, **a;
                int r;

                lineno++;
                if (line[0] == '#' || line[0] == '\n')
                        continue;
                r = grant_parse(line, &g, &err);
                if (r < 0) {
                        log_error("%s:%u: dropped an unreadable grant: %s.", path, lineno, err ? err : strerror(-r));
                        continue;
                }
                if (grant_by_id(m, g->id)) {
                        log_error("%s:%u: grant %" PRIu32 " appears twice; dropped the second.", path, lineno, g->id);
                        grant_free(g);
                        continue;
                }
                a = realloc(m->broker->grants, (m->broker->n_grants + 1) * sizeof *a);
                if (!a) {
                        grant_free(g);
                        log_oom();
                        return;
                }
                g->manager = m;
                {
                        /* its id for the BPF maps from the first pass on; a missing cgroup is revoked later */
                        char p[PATH_MAX + 32];
                        struct stat st;
                        snprintf(p, sizeof p, CGROUP_ROOT "%s", g->cgroup);
                        if (stat(p, &st) == 0)
                                g->cgroup_id = (uint64_t) st.st_ino;
                }
                m->broker->grants = a;
                m->broker->grants[m->broker->n_grants++] = g;
                if (g->id >= m->broker->next_grant_id)
                        m->broker->next_grant_id = g->id + 1;
        }
        if (m->broker->n_grants > 0)
                log_info("Read %zu grant(s) from %s; they stay in force while spmd checks their clients.", m->broker->n_grants,
                         path);
}

/* ---- signals ---- */

static int append_nodemask(sd_bus_message *msg, const NodeMask *mask) {
        int r = sd_bus_message_open_container(msg, 'a', "u");
        if (r < 0)
                return r;
        for (unsigned i = 0; i < SPMD_MAX_NODES; i++)
                if (nodemask_test(mask, i) && (r = sd_bus_message_append(msg, "u", i)) < 0)
                        return r;
        return sd_bus_message_close_container(msg);
}

static void emit_grant_added(Manager *m, const Grant *g) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        char path[64];
        int r;

        if (!m->broker->bus)
                return;
        grant_path(g, path, sizeof path);
        r = sd_bus_message_new_signal(m->broker->bus, &msg, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GrantAdded");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ousu", path, g->id, g->cgroup, (uint32_t) g->uid);
        if (r >= 0)
                r = append_nodemask(msg, &g->nodes);
        if (r >= 0)
                r = sd_bus_send(m->broker->bus, msg, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot emit GrantAdded: %m");
        (void) sd_bus_emit_properties_changed(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "NGrants", NULL);
}

static void emit_grant_removed(Manager *m, const Grant *g, const char *reason) {
        char path[64];

        if (!m->broker->bus)
                return;
        grant_path(g, path, sizeof path);
        if (sd_bus_emit_signal(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GrantRemoved", "ouss", path, g->id,
                               g->cgroup, reason) < 0)
                log_warning("Cannot emit GrantRemoved for grant %" PRIu32 ".", g->id);
        (void) sd_bus_emit_properties_changed(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "NGrants", NULL);
        manager_trim_memory_later(m);
}

void broker_emit_violation(Manager *m, const struct spmd_violation_event *e, const char *cgroup) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        char comm[17];
        NodeMask mask = {};
        int r;

        if (!m->broker->bus)
                return;
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        for (unsigned w = 0; w < SPMD_EVENT_MASK_WORDS; w++)
                mask.bits[w] = e->nodes[w];
        r = sd_bus_message_new_signal(m->broker->bus, &msg, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "Violation");
        if (r >= 0)
                r = sd_bus_message_append(msg, "suuss", strna(spmd_syscall_to_string(e->syscall)), e->tgid, e->uid,
                                          comm, cgroup);
        if (r >= 0)
                r = append_nodemask(msg, &mask);
        if (r >= 0)
                r = sd_bus_message_append(msg, "b", (int) !!e->killed);
        if (r >= 0)
                r = sd_bus_send(m->broker->bus, msg, NULL);
        if (r < 0)
                log_debug_errno(r, "Cannot emit Violation: %m");
}

void broker_emit_denial(Manager *m, const struct spmd_guard_event *e, const char *cgroup, const char *target) {
        char comm[17];

        if (!m->broker->bus)
                return;
        memcpy(comm, e->comm, 16);
        comm[16] = '\0';
        if (sd_bus_emit_signal(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "Denial", "suusss",
                               strna(spmd_guard_what_to_string(e->what)), e->tgid, e->uid, comm, cgroup, target) < 0)
                log_debug("Cannot emit Denial.");
}

void broker_emit_pressure(Manager *m, unsigned node, int level, int before, const char *why) {
        if (!m->broker->bus)
                return;
        if (sd_bus_emit_signal(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "PressureChanged", "usss", node,
                               pressure_level_to_string(level), pressure_level_to_string(before), why) < 0)
                log_debug("Cannot emit PressureChanged.");
        (void) sd_bus_emit_properties_changed(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "NodePressure",
                                              NULL);
}

void broker_layers_changed(Manager *m) {
        if (m->broker->bus)
                (void) sd_bus_emit_properties_changed(m->broker->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE,
                                                      "EnforcementLayers", "SpmNodes", "NodePressure", NULL);
}

/* ---- byte limits ---- */

static uint64_t grant_usage(const Grant *g) {
        char dir[PATH_MAX + 32];

        snprintf(dir, sizeof dir, CGROUP_ROOT "%s", g->cgroup);
        return cgroup_node_usage(dir, &g->nodes);
}

#define LIMIT_CHECK_USEC (1000 * 1000)

static void broker_arm_limit_check(Manager *m);

/*
 * MaxBytes= is watched, not enforced here: memory.numa_stat has no
 * notification, so limited grants are looked at once a second, and crossing
 * the limit (and coming back under it) is logged. Nothing takes pages back
 * for the limit; demotion ([Demotion], demote.c) keeps it when it moves pages.
 */
static int on_limit_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) s, (void) usec;
        for (size_t i = 0; i < m->broker->n_grants; i++) {
                Grant *g = m->broker->grants[i];
                uint64_t used;
                char a[32], b[32], nodes[256];

                if (g->max_bytes == UINT64_MAX)
                        continue;
                used = grant_usage(g);
                if (used == UINT64_MAX)
                        continue;
                if (used > g->max_bytes && !g->over_limit)
                        log_warning("Grant %" PRIu32 ": %s holds %s on SPM node(s) %s, over its limit of %s (rule %s); "
                                    "byte limits are reported, not enforced.",
                                    g->id, g->cgroup, format_size(a, sizeof a, used),
                                    nodemask_format(&g->nodes, nodes, sizeof nodes),
                                    format_size(b, sizeof b, g->max_bytes), strna(g->rule));
                else if (used <= g->max_bytes && g->over_limit)
                        log_info("Grant %" PRIu32 ": %s is back within its limit (%s of %s).", g->id, g->cgroup,
                                 format_size(a, sizeof a, used), format_size(b, sizeof b, g->max_bytes));
                g->over_limit = used > g->max_bytes;
        }
        broker_arm_limit_check(m);
        return 0;
}

/* Look again in a second while some grant has a limit (an armed check stays as it is). */
static void broker_arm_limit_check(Manager *m) {
        bool limited = false;
        int enabled = SD_EVENT_OFF, r;

        for (size_t i = 0; i < m->broker->n_grants && !limited; i++)
                limited = m->broker->grants[i]->max_bytes != UINT64_MAX;
        if (!limited)
                return; /* a check already armed finds nothing and does not re-arm */
        if (!m->broker->limit_source) {
                r = sd_event_add_time_relative(m->event, &m->broker->limit_source, CLOCK_MONOTONIC, LIMIT_CHECK_USEC,
                                               100 * 1000, on_limit_check, m);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch the grants' byte limits: %m");
                return;
        }
        if (sd_event_source_get_enabled(m->broker->limit_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(m->broker->limit_source, LIMIT_CHECK_USEC);
        (void) sd_event_source_set_enabled(m->broker->limit_source, SD_EVENT_ONESHOT);
}

/* ---- grants in force ---- */

size_t broker_cpuset_grants(Manager *m, const NodeMask *spm, CpusetGrant *out, size_t max) {
        size_t n = 0;

        m->broker->grant_labels = strv_free(m->broker->grant_labels);
        for (size_t i = 0; i < m->broker->n_grants && n < max; i++) {
                const Grant *g = m->broker->grants[i];
                char *label = NULL;

                if (asprintf(&label, "grant %" PRIu32 " (uid %u, %s)", g->id, (unsigned) g->uid, strna(g->rule)) < 0 ||
                    strv_push(&m->broker->grant_labels, label) < 0) {
                        free(label);
                        log_oom();
                        label = NULL;
                }
                out[n].cgroup = g->cgroup;
                out[n].nodes = nodemask_and(&g->nodes, spm);
                out[n].label = label ? label : g->cgroup;
                n++;
        }
        return n;
}

size_t broker_grant_cgroup_ids(Manager *m, uint64_t *ids, size_t max) {
        size_t n = 0;

        /* a grant ends when its cgroup is removed, so the id taken when it began stays right */
        for (size_t i = 0; i < m->broker->n_grants && n < max; i++)
                if (m->broker->grants[i]->cgroup_id != 0)
                        ids[n++] = m->broker->grants[i]->cgroup_id;
        return n;
}

static void grant_untrack(Grant *g) {
        g->owner_match = sd_bus_slot_unref(g->owner_match);
        g->owner_check = sd_bus_slot_unref(g->owner_check);
        g->removal_watch = sd_event_source_disable_unref(g->removal_watch);
}

/* End a grant: state, then enforcement (the cgroup loses the nodes; cgroup v2 migrates its pages off them). */
static void broker_revoke(Manager *m, Grant *g, const char *reason, bool apply) {
        size_t i;

        for (i = 0; i < m->broker->n_grants && m->broker->grants[i] != g; i++)
                ;
        if (i == m->broker->n_grants)
                return;
        memmove(m->broker->grants + i, m->broker->grants + i + 1, (m->broker->n_grants - i - 1) * sizeof *m->broker->grants);
        m->broker->n_grants--;
        grant_untrack(g);
        log_info("Grant %" PRIu32 " of %s to uid %u ended: %s.", g->id, g->cgroup, (unsigned) g->uid, reason);
        (void) broker_save_state(m);
        if (apply)
                (void) manager_apply_grants(m, g->cgroup);
        emit_grant_removed(m, g, reason);
        grant_free(g);
}

/*
 * A grant tied to its client ends when the client's unique name loses its
 * owner. The match is added asynchronously, so the reply to RequestAccess
 * does not wait for it; once the bus has it in place, GetNameOwner closes
 * the window in which the client might have left unseen.
 */
static int on_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name, *old_owner, *new_owner;
        Grant *g = userdata;

        (void) error;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) >= 0 && !new_owner[0])
                broker_revoke(g->manager, g, "client-gone", true);
        return 0;
}

static int on_owner_checked(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Grant *g = userdata;

        (void) error;
        if (sd_bus_message_is_method_error(reply, NULL))
                broker_revoke(g->manager, g, "client-gone", true);
        return 0;
}

static int on_owner_match_installed(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Grant *g = userdata;
        Manager *m = g->manager;
        int r;

        (void) error;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_error("Grant %" PRIu32 ": the bus refused to report %s leaving (%s); ending the grant.", g->id,
                          g->owner, sd_bus_message_get_error(reply)->message);
                broker_revoke(m, g, "tracking-failed", true);
                return 0;
        }
        r = sd_bus_call_method_async(m->broker->bus, (sd_bus_slot **) &g->owner_check, "org.freedesktop.DBus",
                                     "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                     on_owner_checked, g, "s", g->owner);
        if (r < 0) {
                log_error_errno(r, "Grant %" PRIu32 ": cannot ask whether %s is still there: %m", g->id, g->owner);
                broker_revoke(m, g, "tracking-failed", true);
        }
        return 0;
}

static int grant_track(Manager *m, Grant *g) {
        char match[256];

        if (g->persistent || !g->owner || !m->broker->bus)
                return 0;
        if (!grant_value_ok(g->owner) || strchr(g->owner, '\''))
                return -EINVAL;
        snprintf(match, sizeof match,
                 "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                 "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                 g->owner);
        return sd_bus_add_match_async(m->broker->bus, (sd_bus_slot **) &g->owner_match, match, on_owner_changed,
                                      on_owner_match_installed, g);
}

/* ---- authorisation ---- */

typedef struct CallerInfo {
        uid_t uid;
        pid_t pid;
        char user[64];
        gid_t gids[256];
        size_t n_gids;
        char cgroup[PATH_MAX];  /* "" until caller_identify() */
        const char *sender;
        int pidfd;              /* borrowed from the credentials cache */
        bool pidfd_from_bus;
        uint64_t seen_ticks;
} CallerInfo;

static void caller_groups(CallerInfo *c) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int n = (int) ELEMENTSOF(c->gids);

        c->user[0] = '\0';
        c->n_gids = 0;
        if (getpwuid_r(c->uid, &pw, buf, sizeof buf, &res) != 0 || !res)
                return;
        str_copy_cut(c->user, sizeof c->user, res->pw_name);
        /* group membership from the user database, as polkit's unix-group does */
        if (getgrouplist(res->pw_name, res->pw_gid, c->gids, &n) < 0)
                n = (int) ELEMENTSOF(c->gids);
        c->n_gids = (size_t) n;
}

/* The cgroup2 path of pid, from /proc/PID/cgroup ("0::/path"); "" when unknown. */
static void pid_cgroup(pid_t pid, char *buf, size_t len) {
        char p[64];
        FILE *f;

        buf[0] = '\0';
        if (pid <= 0)
                return;
        snprintf(p, sizeof p, "/proc/%d/cgroup", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return;
        (void) proc_cgroup_parse(f, buf, len); /* leaves "" (unknown) when it fails */
        fclose(f);
}

/*
 * uid and pid of a connection never change, and unique names are never
 * reused on one bus: the answers for the last few senders are kept, so a
 * client that asks many times costs one GetConnectionCredentials. With them a
 * pidfd of the process that connected: the bus daemon's (ProcessFD, where it
 * gives one), else one spmd opens when it first hears from the connection.
 */
#define CREDS_CACHE 64
#define UID_INVALID ((uid_t) -1)
static struct {
        char sender[64];
        uid_t uid;
        pid_t pid;
        int pidfd;               /* -1: the process had exited when spmd opened it */
        bool pidfd_from_bus;
        uint64_t seen_ticks;     /* when spmd first heard of the connection, CLOCK_BOOTTIME clock ticks */
} creds_cache[CREDS_CACHE];
static unsigned creds_next;

/* When each unique name connected, as NameOwnerChanged told (clock ticks since boot). */
#define SEEN_MAX 1024
static struct {
        char name[32];
        uint64_t ticks;
} seen_names[SEEN_MAX];
static unsigned seen_next;

static uint64_t boottime_ticks(void) {
        struct timespec ts;
        long tck = sysconf(_SC_CLK_TCK);

        clock_gettime(CLOCK_BOOTTIME, &ts);
        return ((uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec) / (1000000000ULL / (tck > 0 ? tck : 100));
}

static void creds_cache_clear(void) {
        for (size_t i = 0; i < CREDS_CACHE; i++)
                if (creds_cache[i].sender[0] && creds_cache[i].pidfd >= 0)
                        close(creds_cache[i].pidfd);
        memset(creds_cache, 0, sizeof creds_cache);
        memset(seen_names, 0, sizeof seen_names);
}

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *name, *old_owner, *new_owner;

        (void) userdata;
        (void) error;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 || name[0] != ':')
                return 0;
        if (!old_owner[0] && new_owner[0] && strlen(name) < sizeof seen_names[0].name) {
                unsigned k = seen_next++ % SEEN_MAX;
                snprintf(seen_names[k].name, sizeof seen_names[k].name, "%s", name);
                seen_names[k].ticks = boottime_ticks();
        } else if (!new_owner[0])
                for (size_t i = 0; i < SEEN_MAX; i++)
                        if (strcmp(seen_names[i].name, name) == 0)
                                seen_names[i].name[0] = '\0';
        return 0;
}

static uint64_t name_seen_ticks(const char *sender) {
        for (size_t i = 0; sender && i < SEEN_MAX; i++)
                if (strcmp(seen_names[i].name, sender) == 0)
                        return seen_names[i].ticks;
        return boottime_ticks(); /* connected before spmd listened, or out of the table: now */
}

/* uid, pid and (where the bus daemon gives one) a pidfd of the sender, from the bus daemon's answer
 * to GetConnectionCredentials (an error answer is copied to ERROR). */
static int creds_parse(sd_bus_message *reply, uid_t *ret_uid, pid_t *ret_pid, int *ret_pidfd, sd_bus_error *error) {
        bool have_uid = false;
        uint32_t u;
        int r, fd;

        *ret_pid = 0;
        *ret_pidfd = -1;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                r = sd_bus_error_copy(error, sd_bus_message_get_error(reply));
                return r < 0 ? r : -EACCES;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (strcmp(key, "UnixUserID") == 0 && (r = sd_bus_message_read(reply, "v", "u", &u)) >= 0) {
                        *ret_uid = (uid_t) u;
                        have_uid = true;
                } else if (strcmp(key, "ProcessID") == 0 && (r = sd_bus_message_read(reply, "v", "u", &u)) >= 0)
                        *ret_pid = (pid_t) u;
                else if (strcmp(key, "ProcessFD") == 0 && (r = sd_bus_message_read(reply, "v", "h", &fd)) >= 0) {
                        if (*ret_pidfd < 0)
                                *ret_pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0) {
                if (*ret_pidfd >= 0)
                        *ret_pidfd = safe_close(*ret_pidfd);
                return r;
        }
        if (!have_uid) {
                if (*ret_pidfd >= 0)
                        *ret_pidfd = safe_close(*ret_pidfd);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The bus did not say the caller's uid.");
        }
        return 0;
}

static size_t creds_find(const char *sender) {
        size_t i;

        for (i = 0; sender && i < CREDS_CACHE; i++)
                if (strcmp(creds_cache[i].sender, sender) == 0)
                        break;
        return i;
}

/* Keep what the bus said of SENDER (takes PIDFD); SEEN_TICKS: when spmd first heard of it. */
static int creds_put(const char *sender, uid_t uid, pid_t pid, int pidfd, uint64_t seen_ticks, sd_bus_error *error) {
        size_t i;

        if (strlen(sender) >= sizeof creds_cache[0].sender) {
                safe_close(pidfd);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The sender's name is too long.");
        }
        if (creds_find(sender) < CREDS_CACHE) {
                safe_close(pidfd); /* another call of the same sender's got there first */
                return 0;
        }
        i = creds_next++ % CREDS_CACHE;
        if (creds_cache[i].sender[0] && creds_cache[i].pidfd >= 0)
                close(creds_cache[i].pidfd);
        snprintf(creds_cache[i].sender, sizeof creds_cache[i].sender, "%s", sender);
        creds_cache[i].uid = uid;
        creds_cache[i].pid = pid;
        creds_cache[i].pidfd_from_bus = pidfd >= 0;
        /* no pidfd from the bus: pin the process now; if its pid was reused before this, the start
         * time against the connection's own time gives it away (caller_identify) */
        creds_cache[i].pidfd = pidfd >= 0 ? pidfd : pid > 0 ? (int) syscall(SYS_pidfd_open, pid, 0) : -1;
        creds_cache[i].seen_ticks = seen_ticks;
        return 0;
}

/* A method call waiting for the bus daemon to say who sent it (caller_get). */
typedef struct CredsWait {
        Manager *m;
        sd_bus_message *msg;
        sd_bus_message_handler_t again;
        uint64_t seen_ticks;
} CredsWait;

static void creds_wait_free(void *p) {
        CredsWait *w = p;

        sd_bus_message_unref(w->msg);
        free(w);
}

/* The bus daemon answered: keep the credentials and run the method again from its start; now it
 * finds them. Its error, if any, is the reply. */
static int on_creds(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        CredsWait *w = userdata;
        const char *sender = sd_bus_message_get_sender(w->msg);
        uid_t uid = UID_INVALID;
        pid_t pid;
        int pidfd, r;

        (void) ret_error;
        r = creds_parse(reply, &uid, &pid, &pidfd, &error);
        if (r >= 0)
                r = creds_put(sender, uid, pid, pidfd, w->seen_ticks, &error);
        if (r >= 0)
                r = sd_bus_message_rewind(w->msg, true);
        if (r >= 0)
                r = w->again(w->msg, w->m, &error);
        if (r < 0) {
                if (!sd_bus_error_is_set(&error))
                        sd_bus_error_set_errnof(&error, r, "Cannot tell who is calling: %s", strerror(-r));
                (void) sd_bus_reply_method_error(w->msg, &error);
        }
        return 0;
}

/*
 * Who is calling, as the bus says: uid and pid from the bus daemon (one
 * GetConnectionCredentials call per connection; nothing taken from /proc for
 * them). The caller's cgroup, which only caller_identify() establishes, needs
 * more. Returns 0 with *c filled when spmd knows the sender; otherwise asks
 * the bus daemon without waiting and returns 1: the handler returns 1 too,
 * and AGAIN (the handler, with the Manager as userdata) runs on the message
 * again once the answer is in. <0: refused, with ERROR.
 */
static int caller_get(sd_bus_message *msg, Manager *m, sd_bus_message_handler_t again, CallerInfo *c,
                      sd_bus_error *error) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        CredsWait *w;
        size_t i;
        int r;

        c->sender = sender;
        c->cgroup[0] = '\0';
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The message has no sender: spmd cannot tell who is calling.");
        i = creds_find(sender);
        if (i == CREDS_CACHE) {
                w = calloc(1, sizeof *w);
                if (!w)
                        return -ENOMEM;
                *w = (CredsWait){ .m = m, .msg = sd_bus_message_ref(msg), .again = again,
                                  .seen_ticks = name_seen_ticks(sender) };
                r = sd_bus_call_method_async(sd_bus_message_get_bus(msg), &slot, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "GetConnectionCredentials", on_creds, w, "s", sender);
                if (r < 0) {
                        creds_wait_free(w);
                        return sd_bus_error_set_errnof(error, r, "Cannot tell who is calling: %s", strerror(-r));
                }
                /* the bus owns the call from here; W goes with it, answered or not */
                (void) sd_bus_slot_set_destroy_callback(slot, creds_wait_free);
                (void) sd_bus_slot_set_floating(slot, 1);
                return 1;
        }
        c->uid = creds_cache[i].uid;
        c->pid = creds_cache[i].pid;
        c->pidfd = creds_cache[i].pidfd;
        c->pidfd_from_bus = creds_cache[i].pidfd_from_bus;
        c->seen_ticks = creds_cache[i].seen_ticks;
        /* root is admitted without rules: no user database lookups for it */
        c->user[0] = '\0';
        c->n_gids = 0;
        if (c->uid != 0)
                caller_groups(c);
        return 0;
}

static bool pidfd_alive(int pidfd) {
        return pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

/* Field 22 (starttime, clock ticks since boot) and the effective uid of pid; false if it is gone. */
static bool proc_start_and_euid(pid_t pid, uint64_t *ret_start, uid_t *ret_euid) {
        char p[64], buf[1024];
        uint64_t start;
        unsigned ruid, euid;
        bool found = false, ok;
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/stat", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return false;
        ok = fgets(buf, sizeof buf, f) && parse_proc_stat_starttime(buf, &start) >= 0;
        fclose(f);
        if (!ok)
                return false;
        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return false;
        while (!found && fgets(buf, sizeof buf, f))
                found = sscanf(buf, "Uid: %u %u", &ruid, &euid) == 2;
        fclose(f);
        *ret_start = start;
        *ret_euid = (uid_t) euid;
        return found;
}

/*
 * The caller's cgroup, established or refused (fails closed): the process
 * that opened the connection must still run (a pidfd says so, whatever
 * happened to its pid), must not have started after spmd heard of the
 * connection (a reused pid, where the bus gave no pidfd), must run as the
 * connection's uid, and must still run after its cgroup was read, so the
 * cgroup read is its own.
 */
static int caller_identify(CallerInfo *c, sd_bus_error *error) {
        uint64_t start;
        uid_t euid;

        if (c->pid <= 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The bus did not say which process is calling, so spmd cannot tell the "
                                        "caller's cgroup.");
        if (c->pidfd < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The process that opened this bus connection (pid %d) had exited when "
                                         "spmd first heard from it, so spmd cannot tell the caller's cgroup. Ask "
                                         "from the process that connects.",
                                         (int) c->pid);
        if (!pidfd_alive(c->pidfd) || !proc_start_and_euid(c->pid, &start, &euid))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The process that opened this bus connection (pid %d) has exited (a child "
                                         "kept the connection), so spmd cannot tell the caller's cgroup.",
                                         (int) c->pid);
        log_debug("Caller pid %d: started at tick %" PRIu64 ", its connection seen at tick %" PRIu64 "%s.", (int) c->pid,
                  start, c->seen_ticks, c->pidfd_from_bus ? " (pidfd from the bus)" : "");
        if (!c->pidfd_from_bus && start > c->seen_ticks)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Pid %d belongs to a process that started after this bus connection was "
                                         "made: the connecting process has exited and its pid was reused.",
                                         (int) c->pid);
        if (euid != c->uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Pid %d runs as uid %u, not as uid %u that made this bus connection (the "
                                         "pid was reused, or the process changed its identity).",
                                         (int) c->pid, (unsigned) euid, (unsigned) c->uid);
        pid_cgroup(c->pid, c->cgroup, sizeof c->cgroup);
        if (c->cgroup[0] != '/')
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot read the cgroup of pid %d (no cgroup2 entry in /proc/%d/cgroup).",
                                         (int) c->pid, (int) c->pid);
        if (!pidfd_alive(c->pidfd))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The calling process (pid %d) exited while spmd read its cgroup.",
                                         (int) c->pid);
        return 0;
}

/* The caller as the [Access] rules see it; cgroup: its own cgroup as caller_identify() established it. */
static AccessCaller access_caller(const CallerInfo *c, const char *cgroup) {
        return (AccessCaller){ .uid = c->uid,
                               .user = c->user[0] ? c->user : NULL,
                               .gids = c->gids,
                               .n_gids = c->n_gids,
                               .cgroup = cgroup && cgroup[0] ? cgroup : NULL };
}

/* 0 when the caller is root; 1 while its credentials are asked for (see caller_get). */
static int require_root(sd_bus_message *msg, Manager *m, sd_bus_message_handler_t again, const char *what,
                        sd_bus_error *error) {
        CallerInfo c;
        int r = caller_get(msg, m, again, &c, error);

        if (r != 0)
                return r;
        if (c.uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s is for root only (caller uid %u).",
                                         what, (unsigned) c.uid);
        return 0;
}

static unsigned count_grants(const AccessConf *rule, uid_t uid, void *userdata) {
        Manager *m = userdata;
        char label[300];
        unsigned n = 0;

        access_rule_label(rule, label, sizeof label);
        for (size_t i = 0; i < m->broker->n_grants; i++)
                if (m->broker->grants[i]->uid == uid && streq_ptr(m->broker->grants[i]->rule, rule->name ? rule->name : label))
                        n++;
        return n;
}

/* Bounded quotes of a caller's input in replies and logs: at most 64 bytes of it. */
#define ARG_QUOTE_MAX 64
#define ARG_QUOTE_BUF (ARG_QUOTE_MAX + 40)
static const char *quote_arg(const char *s, char buf[static ARG_QUOTE_BUF]) {
        size_t n = strlen(s);

        if (n <= ARG_QUOTE_MAX)
                return s;
        snprintf(buf, ARG_QUOTE_BUF, "%.*s... (%zu bytes)", ARG_QUOTE_MAX, s, n);
        return buf;
}

/* The target's form, before anything about the caller or the machine is looked at:
 * "" (the caller's own cgroup), "/a/b" (a cgroup) or "name.service|scope|slice" (a unit). */
static int check_target(const char *target, sd_bus_error *error) {
        char q[ARG_QUOTE_BUF];

        if (!grant_value_ok(target))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The target contains control characters.");
        if (!target[0])
                return 0;
        if (strcmp(target, "/") == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "The root cgroup cannot hold a grant: it holds every process the wall "
                                        "cannot reach. Run the workload in a cgroup of its own.");
        if (target[0] == '/' && !cgroup_path_is_valid(target))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%s' is not a cgroup path (absolute, no '.', '..' or empty components, no "
                                         "trailing '/').",
                                         quote_arg(target, q));
        if (target[0] != '/' && (strchr(target, '/') || !cgroup_path_unit(target)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "'%s' is neither a cgroup path (/...) nor a unit name (*.service, *.scope, "
                                         "*.slice).",
                                         quote_arg(target, q));
        return 0;
}

/* The cgroup a checked target stands for, which must exist on the cgroup2 hierarchy (a unit: on a
 * host systemd does not run, searched through the slices; see cgroup_find_unit()). */
static int resolve_target(const CallerInfo *c, const char *target, char *buf, size_t len, sd_bus_error *error) {
        char p[PATH_MAX + 32], q[ARG_QUOTE_BUF];
        struct statfs sfs;
        struct stat st;
        int r;

        if (statfs(CGROUP_ROOT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                        "No cgroup2 hierarchy at " CGROUP_ROOT ": grants are cgroup v2 cpusets.");
        if (!target[0]) {
                if (strcmp(c->cgroup, "/") == 0)
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                "The caller runs in the root cgroup, which cannot hold a grant; run "
                                                "it in a cgroup of its own or name one.");
                target = c->cgroup;
        }
        if (target[0] == '/') {
                if (snprintf(buf, len, "%s", target) >= (int) len)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Cgroup path %s is too long.",
                                                 quote_arg(target, q));
        } else {
                r = cgroup_find_unit(CGROUP_ROOT, target, buf, len);
                if (r == -ENOTUNIQ)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unit %s matches more than one cgroup below the slices of "
                                                 CGROUP_ROOT "; name the cgroup instead.",
                                                 target);
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unit %s has no cgroup under " CGROUP_ROOT
                                                 " or its slices (is it running?).",
                                                 target);
        }
        if (snprintf(p, sizeof p, CGROUP_ROOT "%s", buf) >= (int) sizeof p || stat(p, &st) < 0 ||
            !S_ISDIR(st.st_mode))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Cgroup %s does not exist.",
                                         quote_arg(buf, q));
        if (cgroup_path_depth(buf) > CGROUP_DEPTH_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Cgroup %s is %u levels deep: the cpuset wall walks at most %u levels below "
                                         "the root, and could not keep a grant deeper than that apart from the "
                                         "cgroups beside it. Use a cgroup higher up.",
                                         quote_arg(buf, q), cgroup_path_depth(buf), CGROUP_DEPTH_MAX);
        return 0;
}

static int read_nodes_arg(sd_bus_message *msg, NodeMask *ret, sd_bus_error *error) {
        const uint32_t *v;
        size_t size;
        int r;

        *ret = (NodeMask){};
        r = sd_bus_message_read_array(msg, 'u', (const void **) &v, &size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < size / sizeof *v; i++) {
                if (v[i] >= SPMD_MAX_NODES)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Node %" PRIu32 " is out of range (0-%u).", v[i], SPMD_MAX_NODES - 1);
                nodemask_set(ret, v[i]);
        }
        return 0;
}

static int read_options(sd_bus_message *msg, bool *persistent, sd_bus_error *error) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                if (strcmp(key, "persistent") == 0) {
                        int b;
                        r = sd_bus_message_read(msg, "v", "b", &b);
                        if (r < 0)
                                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                        "Option 'persistent' takes a boolean (b).");
                        *persistent = b;
                } else {
                        char q[ARG_QUOTE_BUF];
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown option '%s' (known: persistent).", quote_arg(key, q));
                }
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

/* ---- methods ---- */

/* Refusals are logged at LOG_BURST a second; the rest are counted and summed up. */
#define log_refusal(m, ...)                                                      \
        do {                                                                     \
                (m)->n_refusals++;                                               \
                if (log_ratelimit_pass(&(m)->refusal_log, "refused request(s)")) \
                        log_notice(__VA_ARGS__);                                 \
        } while (0)

/* ---- answering when the walls are written ---- */

/*
 * A call whose cgroup's walls went to the wall's writer (they take SPM nodes away, or follow such a
 * write: cpuset.h) is answered when those writes are done, so a client that has its reply has the
 * access it was told of, and a released grant's pages are off the SPM nodes; meanwhile the loop
 * serves everything else.
 */
typedef struct WallWaiter {
        sd_bus_message *msg;
        uint64_t seq;      /* the last write it waits for */
        uint32_t grant_id; /* RequestAccess: the grant it answers; 0 for a release */
        char *cgroup;
        bool failed;       /* a write at, above or below its cgroup failed meanwhile */
} WallWaiter;

/* The wall's last queued write that decides what CGROUP reaches; 0: none waits. */
static uint64_t wall_writing_for(Manager *m, const char *cgroup) {
        return m->wall ? cpuset_wall_writing_for(m->wall, cgroup) : 0;
}

/* Answer MSG when the wall's write SEQ is done (returns 1), for the grant GRANT_ID (0: a release). */
static int wall_wait(Manager *m, sd_bus_message *msg, uint64_t seq, uint32_t grant_id, const char *cgroup) {
        WallWaiter *a = reallocarray(m->broker->wall_waiters, m->broker->n_wall_waiters + 1, sizeof *a);

        if (!a)
                return -ENOMEM;
        m->broker->wall_waiters = a;
        a[m->broker->n_wall_waiters] = (WallWaiter){ .seq = seq, .grant_id = grant_id, .cgroup = strdup(cgroup) };
        if (!a[m->broker->n_wall_waiters].cgroup)
                return -ENOMEM;
        a[m->broker->n_wall_waiters++].msg = sd_bus_message_ref(msg);
        return 1;
}

static void emit_grant_added(Manager *m, const Grant *g);

static void wall_waiter_answer(Manager *m, WallWaiter *x) {
        Grant *g = x->grant_id ? grant_by_id(m, x->grant_id) : NULL;
        char path[64];

        if (x->grant_id == 0) /* a release: the grant is gone from spmd's state already */
                (void) sd_bus_reply_method_return(x->msg, NULL);
        else if (!g)
                (void) sd_bus_reply_method_errorf(x->msg, ERROR_ENFORCEMENT,
                                                  "Grant %" PRIu32 " ended before its cpuset.mems was written.",
                                                  x->grant_id);
        else if (x->failed) {
                (void) sd_bus_reply_method_errorf(x->msg, ERROR_ENFORCEMENT,
                                                  "Cannot put the grant in force on %s (see spmd's log): a "
                                                  "cpuset.mems write at, above or below it failed.",
                                                  g->cgroup);
                broker_revoke(m, g, "enforcement-failed", true);
        } else {
                grant_path(g, path, sizeof path);
                (void) sd_bus_reply_method_return(x->msg, "o", path);
                emit_grant_added(m, g);
        }
        sd_bus_message_unref(x->msg);
        free(x->cgroup);
}

void broker_wall_written(Manager *m, uint64_t done, char *const *failed) {
        for (size_t i = 0; i < m->broker->n_wall_waiters; i++)
                for (char *const *f = failed; f && *f; f++)
                        if (cgroup_path_covers(*f, m->broker->wall_waiters[i].cgroup) ||
                            cgroup_path_covers(m->broker->wall_waiters[i].cgroup, *f))
                                m->broker->wall_waiters[i].failed = true;
        /* in order, and each taken out before it is answered: answering may revoke, and queue more */
        for (size_t i = 0; i < m->broker->n_wall_waiters;) {
                WallWaiter x = m->broker->wall_waiters[i];

                if (x.seq > done) {
                        i++;
                        continue;
                }
                memmove(m->broker->wall_waiters + i, m->broker->wall_waiters + i + 1,
                        (--m->broker->n_wall_waiters - i) * sizeof *m->broker->wall_waiters);
                wall_waiter_answer(m, &x);
        }
}

static void wall_waiters_free(Manager *m) {
        for (size_t i = 0; i < m->broker->n_wall_waiters; i++) {
                sd_bus_message_unref(m->broker->wall_waiters[i].msg);
                free(m->broker->wall_waiters[i].cgroup);
        }
        m->broker->wall_waiters = mfree(m->broker->wall_waiters);
        m->broker->n_wall_waiters = 0;
}

static int request_finish(Manager *m, sd_bus_message *msg, const CallerInfo *cp, AccessRequest *reqp,
                          const char *cgroup, sd_bus_error *error);

/* RequestAccess of a unit on a systemd host: systemd says where the unit's cgroup is (GetUnit,
 * then its ControlGroup property), asynchronously; the reply waits for it. */
typedef struct PendingRequest {
        Manager *m;
        sd_bus_message *msg;
        CallerInfo c;
        AccessRequest req;
        char unit[256];
} PendingRequest;

static PendingRequest *pending_free(PendingRequest *p) {
        if (p) {
                sd_bus_message_unref(p->msg);
                free(p);
        }
        return NULL;
}

static int pending_fail(PendingRequest *p, const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e))
                (void) sd_bus_reply_method_error(p->msg, e);
        else
                (void) sd_bus_reply_method_errnof(p->msg, r, "Cannot resolve unit %s: %s", p->unit, strerror(-r));
        pending_free(p);
        return 0;
}

static int on_unit_cgroup(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingRequest *p = userdata;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const sd_bus_error *err = sd_bus_message_get_error(reply);
        const char *cg = NULL;
        char path[PATH_MAX + 32];
        struct stat st;
        int r;

        (void) ret_error;
        if (err) {
                sd_bus_error_setf(&e, SD_BUS_ERROR_INVALID_ARGS, "systemd does not say where unit %s runs: %s",
                                  p->unit, err->message);
                r = pending_fail(p, &e, -EINVAL);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read(reply, "v", "s", &cg);
        if (r < 0)
                return pending_fail(p, NULL, r);
        if (!cg || cg[0] != '/' || strcmp(cg, "/") == 0) {
                sd_bus_error_setf(&e, SD_BUS_ERROR_INVALID_ARGS, "Unit %s has no cgroup (is it running?).", p->unit);
                r = pending_fail(p, &e, -EINVAL);
                sd_bus_error_free(&e);
                return r;
        }
        snprintf(path, sizeof path, CGROUP_ROOT "%s", cg);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                sd_bus_error_setf(&e, SD_BUS_ERROR_INVALID_ARGS, "Unit %s: its cgroup %s does not exist.", p->unit, cg);
                r = pending_fail(p, &e, -EINVAL);
                sd_bus_error_free(&e);
                return r;
        }
        r = request_finish(p->m, p->msg, &p->c, &p->req, cg, &e);
        if (r < 0)
                (void) pending_fail(p, &e, r); /* replies with the error and frees p */
        else
                pending_free(p);
        sd_bus_error_free(&e);
        return 0;
}

static const char *unit_interface(const char *unit) {
        size_t n = strlen(unit);
        if (n > 6 && strcmp(unit + n - 6, ".scope") == 0)
                return "org.freedesktop.systemd1.Scope";
        if (n > 6 && strcmp(unit + n - 6, ".slice") == 0)
                return "org.freedesktop.systemd1.Slice";
        return "org.freedesktop.systemd1.Service";
}

static int on_get_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingRequest *p = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(reply);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        (void) ret_error;
        if (err) {
                sd_bus_error_setf(&e, SD_BUS_ERROR_INVALID_ARGS, "Unit %s: systemd says: %s", p->unit, err->message);
                r = pending_fail(p, &e, -EINVAL);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_call_method_async(p->m->broker->bus, NULL, "org.freedesktop.systemd1", path,
                                             "org.freedesktop.DBus.Properties", "Get", on_unit_cgroup, p, "ss",
                                             unit_interface(p->unit), "ControlGroup");
        if (r < 0)
                return pending_fail(p, NULL, r);
        return 0;
}

static int method_request_access(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *why = NULL;
        AccessRequest req = {};
        CallerInfo c;
        const char *target;
        char cgroup[PATH_MAX], q[ARG_QUOTE_BUF];
        NodeMask spm;
        int r;

        r = sd_bus_message_read(msg, "s", &target);
        if (r < 0)
                return r;
        r = read_nodes_arg(msg, &req.nodes, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "t", &req.max_bytes);
        if (r < 0)
                return r;
        r = read_options(msg, &req.persistent, error);
        if (r < 0)
                return r;
        r = check_target(target, error);
        if (r < 0)
                return r;

        r = caller_get(msg, m, method_request_access, &c, error);
        if (r != 0)
                return r; /* refused, or asked for: this runs again with the answer */
        AccessCaller ac = access_caller(&c, NULL);
        r = access_admitted(m->config, &ac, &why);
        if (r == -EACCES) {
                log_refusal(m, "Refused a grant to uid %u (pid %d): %s.", (unsigned) c.uid, (int) c.pid, strna(why));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s", strna(why));
        }
        if (r < 0)
                return r;
        /* fails closed: a caller whose process or cgroup cannot be established gets nothing */
        r = caller_identify(&c, error);
        if (r < 0) {
                log_refusal(m, "Refused a grant to uid %u (pid %d): %s", (unsigned) c.uid, (int) c.pid,
                            error->message);
                return r;
        }
        manager_spm_nodes(m, &spm);
        if (nodemask_empty(&spm))
                return sd_bus_error_set(error, ERROR_NO_SPM_NODES,
                                        "There are no SPM nodes: no [Device] is online as one (see spmctl devices).");
        if (target[0] && target[0] != '/' && sd_booted() > 0 && m->broker->bus) {
                PendingRequest *p = calloc(1, sizeof *p);

                if (!p)
                        return -ENOMEM;
                p->m = m;
                p->msg = sd_bus_message_ref(msg);
                p->c = c;
                p->req = req;
                snprintf(p->unit, sizeof p->unit, "%s", target);
                r = sd_bus_call_method_async(m->broker->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", "GetUnit", on_get_unit, p, "s",
                                             target);
                if (r < 0) {
                        pending_free(p);
                        return sd_bus_error_set_errnof(error, r, "Cannot ask systemd about unit %s: %s",
                                                       quote_arg(target, q), strerror(-r));
                }
                return 1; /* the reply follows when systemd has answered */
        }
        r = resolve_target(&c, target, cgroup, sizeof cgroup, error);
        if (r < 0)
                return r;
        return request_finish(m, msg, &c, &req, cgroup, error);
}

/* Authorise the request for cgroup (resolved) and put the grant in force; replies on success. */
static int request_finish(Manager *m, sd_bus_message *msg, const CallerInfo *cp, AccessRequest *reqp,
                          const char *cgroup, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        const CallerInfo c = *cp;
        AccessRequest req = *reqp;
        AccessDecision d;
        char path[64], label[300];
        NodeMask spm;
        Grant *g, **a;
        uint64_t seq;
        int r;

        manager_spm_nodes(m, &spm);
        req.cgroup = cgroup;
        AccessCaller ac = access_caller(&c, c.cgroup);
        r = access_check(m->config, &spm, &ac, &req, count_grants, m, &d, &why);
        if (r >= 0) {
                NodeMask unplaceable;

                manager_unplaceable_nodes(m, &unplaceable);
                r = access_placeable(&req, &unplaceable, &d, &why);
        }
        if (r >= 0 && m->config->refuse_grants_at != PRESSURE_NEVER)
                for (unsigned node = 0; node < SPMD_MAX_NODES; node++) {
                        const NodePressure *np = nodemask_test(&d.nodes, node) ? pressure_node(m->pressure, node) : NULL;
                        if (np && np->state.level >= m->config->refuse_grants_at) {
                                log_refusal(m, "Refused a grant of %s to uid %u: SPM node %u is at %s pressure (%s).",
                                            cgroup, (unsigned) c.uid, node,
                                            pressure_level_to_string(np->state.level), np->why);
                                return sd_bus_error_setf(error, ERROR_PRESSURE,
                                                         "SPM node %u is at %s pressure (%s); new grants wait "
                                                         "until it recovers (RefuseGrantsAt=%s).",
                                                         node, pressure_level_to_string(np->state.level), np->why,
                                                         pressure_level_to_string(m->config->refuse_grants_at));
                        }
                }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_refusal(m, "Refused a grant of %s to uid %u (pid %d): %s.", cgroup, (unsigned) c.uid,
                            (int) c.pid, strna(why));
                return sd_bus_error_setf(error,
                                         r == -EACCES         ? SD_BUS_ERROR_ACCESS_DENIED
                                         : nodemask_empty(&spm) ? ERROR_NO_SPM_NODES
                                                                : SD_BUS_ERROR_INVALID_ARGS,
                                         "%s", strna(why));
        }

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->manager = m;
        g->id = m->broker->next_grant_id++;
        if (d.rule)
                access_rule_label(d.rule, label, sizeof label);
        g->cgroup = strdup(cgroup);
        g->rule = strdup(d.rule ? (d.rule->name ? d.rule->name : label) : ACCESS_ROOT_RULE);
        g->owner = c.sender ? strdup(c.sender) : NULL;
        g->caller_cgroup = strdup(c.cgroup);
        g->nodes = d.nodes;
        g->max_bytes = d.max_bytes;
        g->persistent = req.persistent;
        g->uid = c.uid;
        g->pid = c.pid;
        g->created_usec = now_usec(CLOCK_REALTIME);
        a = realloc(m->broker->grants, (m->broker->n_grants + 1) * sizeof *a);
        if (!g->cgroup || !g->rule || (c.sender && !g->owner) || !g->caller_cgroup || !a) {
                if (a)
                        m->broker->grants = a;
                grant_free(g);
                return -ENOMEM;
        }
        m->broker->grants = a;
        m->broker->grants[m->broker->n_grants++] = g;

        r = grant_track(m, g);
        if (r < 0) {
                broker_revoke(m, g, "tracking-failed", false);
                return sd_bus_error_set_errnof(error, r, "Cannot follow the caller's connection: %s", strerror(-r));
        }
        r = broker_save_state(m);
        if (r < 0) {
                broker_revoke(m, g, "state-not-saved", false);
                return sd_bus_error_setf(error, ERROR_ENFORCEMENT,
                                         "Cannot record the grant under StateDirectory=%s: %s",
                                         m->config->state_directory, strerror(-r));
        }
        grant_watch(m, g);
        r = manager_apply_grants(m, g->cgroup);
        if (r < 0) {
                broker_revoke(m, g, "enforcement-failed", true);
                return sd_bus_error_setf(error, ERROR_ENFORCEMENT,
                                         "Cannot put the grant in force on %s (see spmd's log): %s", cgroup,
                                         strerror(-r));
        }
        char nodes[256];
        log_info("Grant %" PRIu32 ": %s may use SPM node(s) %s (uid %u, pid %d, %s, rule %s%s).", g->id, g->cgroup,
                 nodemask_format(&g->nodes, nodes, sizeof nodes), (unsigned) g->uid, (int) g->pid,
                 g->persistent ? "persistent" : "until the client disconnects", g->rule,
                 g->max_bytes == UINT64_MAX ? "" : ", with a byte limit");
        broker_arm_limit_check(m);
        seq = wall_writing_for(m, g->cgroup);
        if (seq > 0) {
                r = wall_wait(m, msg, seq, g->id, g->cgroup);
                if (r >= 0)
                        return r;
                /* cannot wait: answered now, the writes follow */
        }
        grant_path(g, path, sizeof path);
        /* the reply first: the bus daemon routes the signals after it, not before */
        r = sd_bus_reply_method_return(msg, "o", path);
        emit_grant_added(m, g);
        return r;
}

static int release_grant(sd_bus_message *msg, Manager *m, Grant *g, sd_bus_message_handler_t again,
                         sd_bus_error *error) {
        CallerInfo c;
        int r = caller_get(msg, m, again, &c, error);

        if (r != 0)
                return r;
        if (c.uid != 0 && c.uid != g->uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Grant %" PRIu32 " belongs to uid %u; only it or root may release it.",
                                         g->id, (unsigned) g->uid);
        _cleanup_free_ char *cgroup = strdup(g->cgroup);
        uint64_t seq;

        if (!cgroup)
                return -ENOMEM;
        broker_revoke(m, g, "released", true);
        /* answered when the cgroup's pages are off the nodes it no longer has */
        seq = wall_writing_for(m, cgroup);
        if (seq > 0 && wall_wait(m, msg, seq, 0, cgroup) >= 0)
                return 1;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_release_access(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path;
        Grant *g;
        int r;

        r = sd_bus_message_read(msg, "o", &path);
        if (r < 0)
                return r;
        g = grant_by_path(m, path);
        if (!g)
                return sd_bus_error_setf(error, ERROR_NO_SUCH_GRANT, "No grant %s (see ListGrants).", path);
        return release_grant(msg, m, g, method_release_access, error);
}

static int append_grant(sd_bus_message *reply, const Grant *g) {
        char path[64];
        int r;

        grant_path(g, path, sizeof path);
        r = sd_bus_message_open_container(reply, 'r', "ousauuutbsst");
        if (r >= 0)
                r = sd_bus_message_append(reply, "ous", path, g->id, g->cgroup);
        if (r >= 0)
                r = append_nodemask(reply, &g->nodes);
        if (r >= 0)
                r = sd_bus_message_append(reply, "uutbsst", (uint32_t) g->uid, (uint32_t) g->pid, g->max_bytes,
                                          (int) g->persistent, strempty(g->rule), strempty(g->owner),
                                          grant_usage(g));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int method_list_grants(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        (void) error;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ousauuutbsst)");
        for (size_t i = 0; r >= 0 && i < m->broker->n_grants; i++)
                r = append_grant(reply, m->broker->grants[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
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
        return append_nodemask(reply, &spm);
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
        KV(SPMD_STATUS_GRANTS, "u", (uint32_t) m->broker->n_grants);
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

        r = require_root(msg, m, method_reload, "Reload", error);
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
        r = require_root(msg, m, method_release_device, "ReleaseDevice", error);
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

static int property_get_n_grants(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "u", (uint32_t) m->broker->n_grants);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("EnforcementLayers", "a(sss)", property_get_layers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SpmNodes", "au", property_get_spm_nodes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NGrants", "u", property_get_n_grants, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NodePressure", "a(uss)", property_get_pressure, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("ListNodes", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ubuttis)", nodes), method_list_nodes,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssstisbs)", devices),
                                method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RequestAccess",
                                SD_BUS_ARGS("s", target, "au", nodes, "t", max_bytes, "a{sv}", options),
                                SD_BUS_RESULT("o", grant), method_request_access, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseAccess", SD_BUS_ARGS("o", grant), SD_BUS_NO_RESULT, method_release_access,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListGrants", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ousauuutbsst)", grants),
                                method_list_grants, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status), method_get_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseDevice", SD_BUS_ARGS("s", device), SD_BUS_RESULT("s", message),
                                method_release_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("GrantAdded", SD_BUS_ARGS("o", grant, "u", id, "s", cgroup, "u", uid, "au", nodes),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("GrantRemoved", SD_BUS_ARGS("o", grant, "u", id, "s", cgroup, "s", reason), 0),
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

/* ---- grant objects ---- */

static int grant_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                      sd_bus_error *error) {
        Grant *g = grant_by_path(userdata, path);

        (void) bus, (void) interface, (void) error;
        if (!g)
                return 0;
        *found = g;
        return 1;
}

static int grant_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        Manager *m = userdata;
        char **l = NULL;

        (void) bus, (void) prefix, (void) error;
        for (size_t i = 0; i < m->broker->n_grants; i++) {
                char path[64];
                grant_path(m->broker->grants[i], path, sizeof path);
                if (strv_extend(&l, path) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

static int grant_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Grant *g = userdata;

        (void) bus, (void) path, (void) interface, (void) error;
        if (strcmp(property, "Id") == 0)
                return sd_bus_message_append(reply, "u", g->id);
        if (strcmp(property, "Cgroup") == 0)
                return sd_bus_message_append(reply, "s", g->cgroup);
        if (strcmp(property, "Nodes") == 0)
                return append_nodemask(reply, &g->nodes);
        if (strcmp(property, "Uid") == 0)
                return sd_bus_message_append(reply, "u", (uint32_t) g->uid);
        if (strcmp(property, "Pid") == 0)
                return sd_bus_message_append(reply, "u", (uint32_t) g->pid);
        if (strcmp(property, "Owner") == 0)
                return sd_bus_message_append(reply, "s", strempty(g->owner));
        if (strcmp(property, "Persistent") == 0)
                return sd_bus_message_append(reply, "b", (int) g->persistent);
        if (strcmp(property, "MaxBytes") == 0)
                return sd_bus_message_append(reply, "t", g->max_bytes);
        if (strcmp(property, "Rule") == 0)
                return sd_bus_message_append(reply, "s", strempty(g->rule));
        if (strcmp(property, "CreatedTimestamp") == 0)
                return sd_bus_message_append(reply, "t", g->created_usec);
        if (strcmp(property, "UsageBytes") == 0)
                return sd_bus_message_append(reply, "t", grant_usage(g));
        return -EINVAL;
}

/* Release on a grant's object, run again once the caller is known: the grant found by the path again
 * (it may have ended meanwhile). */
static int grant_release_again(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path = sd_bus_message_get_path(msg);
        Grant *g = path ? grant_by_path(m, path) : NULL;

        if (!g)
                return sd_bus_error_setf(error, ERROR_NO_SUCH_GRANT, "No grant %s (it has ended).", strna(path));
        return release_grant(msg, m, g, grant_release_again, error);
}

static int grant_method_release(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Grant *g = userdata;
        return release_grant(msg, g->manager, g, grant_release_again, error);
}

static const sd_bus_vtable grant_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Cgroup", "s", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Nodes", "au", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uid", "u", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pid", "u", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Persistent", "b", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxBytes", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Rule", "s", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreatedTimestamp", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UsageBytes", "t", grant_property, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, grant_method_release,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- lifetime of the broker ---- */

/* Revoke the recorded grants whose clients are gone; follow the others again. */
static void broker_adopt(Manager *m) {
        for (size_t i = 0; i < m->broker->n_grants;) {
                Grant *g = m->broker->grants[i];
                int r = 0;

                g->manager = m;
                if (grant_cgroup_gone(g)) {
                        broker_revoke(m, g, "cgroup-removed", true);
                        continue;
                }
                grant_watch(m, g);
                if (!g->persistent) {
                        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;

                        if (!m->broker->bus || !g->owner)
                                r = -ENOTCONN;
                        else {
                                /* unique names are never reused on one bus: an owner means the same client */
                                r = sd_bus_get_name_creds(m->broker->bus, g->owner, 0, &creds);
                                if (r >= 0)
                                        r = grant_track(m, g);
                        }
                        if (r < 0) {
                                broker_revoke(m, g, "client-gone", true);
                                continue;
                        }
                }
                log_info("Grant %" PRIu32 " of %s to uid %u stays in force (%s).", g->id, g->cgroup, (unsigned) g->uid,
                         g->persistent ? "persistent" : "its client is still connected");
                i++;
        }
}

#define BUS_RETRY_FIRST_USEC (1000 * 1000)
#define BUS_RETRY_MAX_USEC (30 * 1000 * 1000)

static int broker_connect(Manager *m, bool on_loop);

static int on_bus_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) s, (void) usec;
        m->broker->bus_retry = sd_event_source_disable_unref(m->broker->bus_retry);
        /* the wait before the next attempt, should this one fail (now, or when the name is refused) */
        m->broker->bus_retry_usec = MIN(MAX(m->broker->bus_retry_usec, (uint64_t) BUS_RETRY_FIRST_USEC) * 2,
                                (uint64_t) BUS_RETRY_MAX_USEC);
        (void) broker_connect(m, true);
        return 0;
}

/* Try the system bus again after m->broker->bus_retry_usec (1 s at first, doubling to 30 s). */
static void bus_retry_arm(Manager *m) {
        if (m->broker->bus_retry)
                return;
        if (m->broker->bus_retry_usec == 0)
                m->broker->bus_retry_usec = BUS_RETRY_FIRST_USEC;
        if (sd_event_add_time_relative(m->event, &m->broker->bus_retry, CLOCK_MONOTONIC, m->broker->bus_retry_usec, 100 * 1000,
                                       on_bus_retry, m) < 0)
                log_warning("Cannot arm a timer to connect to the system bus again; SIGHUP tries at once.");
}

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        (void) msg, (void) error;
        log_error("Lost the connection to the system bus; grants tied to clients end (their connections went with "
                  "it), and spmd connects again as soon as the bus is back.");
        broker_stop(m);
        free(m->broker->bus_reason);
        m->broker->bus_reason = strdup("lost the connection to the system bus; connecting again");
        for (size_t i = 0; i < m->broker->n_grants;) {
                if (!m->broker->grants[i]->persistent)
                        broker_revoke(m, m->broker->grants[i], "bus-gone", false);
                else
                        i++;
        }
        (void) manager_apply_grants(m, NULL);
        m->broker->bus_retry_usec = 0;
        bus_retry_arm(m);
        return 0;
}

int broker_start(Manager *m) {
        if (broker_connect(m, false) < 0)
                broker_adopt(m); /* revokes what is tied to clients: they cannot be reached */
        return 0;
}

void broker_reconnect_now(Manager *m) {
        if (m->broker->bus)
                return;
        m->broker->bus_retry = sd_event_source_disable_unref(m->broker->bus_retry);
        m->broker->bus_retry_usec = 0;
        (void) broker_connect(m, true);
}

/* Connect, serve the objects, own the name. 0 when the broker is active; otherwise the reason is in
 * m->broker->bus_reason (logged when it changes) and another attempt is armed. */
/* Not on the bus: why (reason, owned), logged when it differs from the last reason; try again later. */
static int broker_unavailable(Manager *m, char *reason) {
        if (!reason || !m->broker->bus_reason || strcmp(reason, m->broker->bus_reason) != 0)
                log_warning("Broker: unavailable: %s; clients cannot ask for grants until spmd is on the bus (it "
                            "tries again, every 30 s at most).",
                            strna(reason));
        free(m->broker->bus_reason);
        m->broker->bus_reason = reason;
        bus_retry_arm(m);
        return -ENOTCONN;
}

/* The name is spmd's: serve. */
static void broker_active(Manager *m) {
        bool again = m->broker->bus_reason != NULL;

        m->broker->bus_reason = mfree(m->broker->bus_reason);
        m->broker->bus_retry_usec = 0;
        log_info("Broker: active (%s on the system bus)%s.", SPMD_BUS_NAME, again ? ", back on the bus" : "");
        broker_adopt(m);
        broker_arm_limit_check(m);
        if (again) {
                /* clients that follow the grants learn they are still there */
                for (size_t i = 0; i < m->broker->n_grants; i++)
                        emit_grant_added(m, m->broker->grants[i]);
                broker_layers_changed(m);
        }
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
                broker_stop(m);
                (void) broker_unavailable(m, name_refused(r));
                return 0;
        }
        broker_active(m);
        return 0;
}

/* Connect, serve the objects, own the name. At start (on_loop false) the name is asked for and
 * waited on before the loop runs; from the loop (a retry, a reload) its answer comes to
 * on_name_reply. 0 when the broker is active or its name is being asked for; otherwise the reason
 * is in m->broker->bus_reason (logged when it changes) and another attempt is armed. */
static int broker_connect(Manager *m, bool on_loop) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char *why;
        int r;

        creds_cache_clear(); /* unique names are unique on one bus instance only */
        r = sd_bus_open_system_with_description(&bus, "spmd");
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, false);
        if (r < 0)
                return broker_unavailable(m, asprintf(&why, "cannot connect to the system bus: %s", strerror(-r)) < 0
                                                     ? NULL
                                                     : why);
        r = sd_bus_add_object_vtable(bus, NULL, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, manager_vtable, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/spmd1/grant", SPMD_BUS_GRANT_INTERFACE, grant_vtable,
                                               grant_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, "/org/spmd1/grant", grant_enumerate, m);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, m);
        /* when each client connected: a pid that started later is a reused one (caller_identify) */
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed,
                                              NULL, m);
        if (r < 0)
                return broker_unavailable(m, asprintf(&why, "cannot set up the bus objects: %s", strerror(-r)) < 0
                                                     ? NULL
                                                     : why);
        r = on_loop ? sd_bus_request_name_async(bus, NULL, SPMD_BUS_NAME, 0, on_name_reply, m)
                    : sd_bus_request_name(bus, SPMD_BUS_NAME, 0);
        if (r < 0)
                return broker_unavailable(m, name_refused(r));
        r = sd_bus_attach_event(bus, m->event, 0);
        if (r < 0)
                return broker_unavailable(m, asprintf(&why, "cannot attach the bus to the event loop: %s",
                                                      strerror(-r)) < 0
                                                     ? NULL
                                                     : why);
        m->broker->bus = TAKE_PTR(bus);
        if (!on_loop)
                broker_active(m);
        return 0;
}

void broker_stop(Manager *m) {
        for (size_t i = 0; i < m->broker->n_grants; i++) {
                m->broker->grants[i]->owner_match = sd_bus_slot_unref(m->broker->grants[i]->owner_match);
                m->broker->grants[i]->owner_check = sd_bus_slot_unref(m->broker->grants[i]->owner_check);
        }
        if (m->broker->bus) {
                sd_bus_detach_event(m->broker->bus);
                m->broker->bus = sd_bus_flush_close_unref(m->broker->bus);
        }
}

void broker_shutdown(Manager *m) {
        wall_waiters_free(m);
        broker_stop(m);
        for (size_t i = 0; i < m->broker->n_grants; i++)
                grant_untrack(m->broker->grants[i]);
}

int broker_new(Broker **ret) {
        Broker *b = calloc(1, sizeof *b);

        if (!b)
                return -ENOMEM;
        b->next_grant_id = 1;
        *ret = b;
        return 0;
}

Broker *broker_free(Broker *b) {
        if (!b)
                return NULL;
        assert(!b->bus && b->n_wall_waiters == 0); /* broker_shutdown() first */
        for (size_t i = 0; i < b->n_grants; i++)
                grant_free(b->grants[i]);
        free(b->grants);
        strv_free(b->grant_labels);
        sd_event_source_disable_unref(b->limit_source);
        sd_event_source_disable_unref(b->bus_retry);
        free(b->bus_reason);
        free(b);
        return NULL;
}

void broker_recheck(Manager *m) {
        /* the user database once per uid, not once per grant (200 grants of one uid: 200 lookups) */
        CallerInfo users[8]; /* about 5 KiB each */
        size_t n_users = 0;
        NodeMask spm;
        bool changed = false;

        manager_spm_nodes(m, &spm);
        for (size_t i = 0; i < m->broker->n_grants;) {
                _cleanup_free_ char *why = NULL;
                Grant *g = m->broker->grants[i];
                CallerInfo c = { .uid = g->uid };
                AccessDecision d;
                AccessRequest req = { .cgroup = g->cgroup,
                                      .nodes = g->nodes,
                                      .max_bytes = g->max_bytes == UINT64_MAX ? 0 : g->max_bytes,
                                      .persistent = g->persistent };
                size_t u = 0;
                int r;

                while (u < n_users && users[u].uid != g->uid)
                        u++;
                if (u < n_users)
                        c = users[u];
                else {
                        caller_groups(&c);
                        if (n_users < ELEMENTSOF(users))
                                users[n_users++] = c;
                }
                AccessCaller ac = access_caller(&c, g->caller_cgroup);
                /* MaxGrants= counts the grants before this one */
                size_t n_saved = m->broker->n_grants;
                m->broker->n_grants = i;
                r = access_check(m->config, &spm, &ac, &req, count_grants, m, &d, &why);
                m->broker->n_grants = n_saved;
                if (r < 0 && r != -ENOMEM) {
                        log_notice("Grant %" PRIu32 " of %s: the reloaded policy no longer allows it: %s.", g->id,
                                   g->cgroup, strna(why));
                        broker_revoke(m, g, "policy", false);
                        changed = true;
                        continue;
                }
                i++;
        }
        if (changed)
                (void) manager_apply_grants(m, NULL);
}
