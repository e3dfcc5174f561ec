/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "broker.h"
#include "bus-util.h"
#include "cgroup-util.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "spmd/bus.h"
#include "strv.h"
#include "time-util.h"
#include "worker.h"

#define ERROR_NO_SUCH_GRANT "org.spmd1.Error.NoSuchGrant"
#define ERROR_NO_SPM_NODES  "org.spmd1.Error.NoSpmNodes"
#define ERROR_ENFORCEMENT   "org.spmd1.Error.EnforcementFailed"
#define ERROR_PRESSURE      "org.spmd1.Error.NodeUnderPressure"

static void grant_path(const Grant *g, char *buf, size_t len) {
        snprintf(buf, len, SPMD_BUS_GRANT_PATH_PREFIX "%" PRIu32, g->id);
}

static Grant *grant_by_id(Broker *b, uint32_t id) {
        for (size_t i = 0; i < b->n_grants; i++)
                if (b->grants[i]->id == id)
                        return b->grants[i];
        return NULL;
}

static Grant *grant_by_path(Broker *b, const char *path) {
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
        return grant_by_id(b, (uint32_t) id);
}

size_t broker_n_grants(const Broker *b) {
        return b->n_grants;
}

/* ---- the state file ---- */

/*
 * The grants are recorded in StateDirectory=/grants, rewritten whole and atomically (a new file,
 * fsync(), rename()): a crash leaves the old list or the new one. On a disk the loop only formats
 * the list; the write and its fsync() (which waits for the disk) run in a thread. In memory (tmpfs:
 * the default /run/spmd) nothing waits, and the list is written on the loop. A grant is put in force
 * once a list that holds it is on disk, and its caller answered after that; a release likewise
 * once a list without it is (a crash must not bring back a grant whose release was answered); an
 * end spmd decides (client gone, cgroup removed, policy) is put in force at once and recorded
 * after. Changes that come while a write runs are written together in the next one.
 */
typedef struct StateJob {
        WorkerJob job;
        char *dir;      /* StateDirectory= */
        char *text;     /* the whole file */
        size_t size;
        bool in_memory; /* dir is on tmpfs or ramfs: nothing to fsync() */
        uint64_t gen;   /* the change it records (b->state_gen when it was formatted) */
        int r;          /* the result: 0, or the errno of what failed (in what) */
        const char *what;
} StateJob;

/*
 * A D-Bus call answered later: a RequestAccess (GRANT_ID: its grant) or a release (GRANT_ID 0, with
 * its CGROUP), waiting for the state file to hold a change, or for the wall's writes to be done
 * (UPTO: the change or the write). Both lists are kept in order and answered with
 * call_waiter_next().
 */
typedef struct CallWaiter {
        sd_bus_message *msg;
        uint64_t upto;
        uint32_t grant_id;
        char *cgroup;
        bool failed;       /* the wall's: a write at, above or below its cgroup failed meanwhile */
} CallWaiter;

/* MSG waits in the list *A (*N long) until UPTO is done; takes CGROUP. */
static int call_wait(CallWaiter **a, size_t *n, sd_bus_message *msg, uint64_t upto, uint32_t grant_id,
                     char *cgroup) {
        CallWaiter *w = reallocarray(*a, *n + 1, sizeof *w);

        if (!w) {
                free(cgroup);
                return -ENOMEM;
        }
        *a = w;
        w[(*n)++] = (CallWaiter){ .msg = sd_bus_message_ref(msg), .upto = upto, .grant_id = grant_id,
                                  .cgroup = cgroup };
        return 1;
}

/* The next waiter from *I on whose UPTO is done, taken out of the list into *RET (the caller answers
 * it, unrefs its message and frees its cgroup; answering may add waiters or answer others). */
static bool call_waiter_next(CallWaiter **a, size_t *n, size_t *i, uint64_t done, CallWaiter *ret) {
        for (; *i < *n; (*i)++)
                if ((*a)[*i].upto <= done) {
                        *ret = (*a)[*i];
                        memmove(*a + *i, *a + *i + 1, (--*n - *i) * sizeof **a);
                        return true;
                }
        return false;
}

static void call_waiters_free(CallWaiter **a, size_t *n) {
        for (size_t i = 0; i < *n; i++) {
                sd_bus_message_unref((*a)[i].msg);
                free((*a)[i].cgroup);
        }
        *a = mfree(*a);
        *n = 0;
}

static void state_job_free(WorkerJob *job) {
        StateJob *j = (StateJob *) job;

        free(j->dir);
        free(j->text);
        free(j);
}

/* In the writer's thread, or on the loop when there is none (and at shutdown). */
static void state_job_run(WorkerJob *job) {
        StateJob *j = (StateJob *) job;
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        int fd;

        j->r = 0;
        if (asprintf(&path, "%s/grants", j->dir) < 0 || asprintf(&tmp, "%s/grants.new", j->dir) < 0) {
                j->r = -ENOMEM;
                j->what = "format its path";
                return;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno == ENOENT) { /* the first write, or someone removed it: made here */
                if (mkdir(j->dir, 0755) < 0 && errno != EEXIST) {
                        j->r = -errno;
                        j->what = "create StateDirectory=";
                        return;
                }
                fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        }
        if (fd < 0) {
                j->r = -errno;
                j->what = "create grants.new";
                return;
        }
        for (size_t done = 0; done < j->size;) {
                ssize_t n = write(fd, j->text + done, j->size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        j->r = n < 0 ? -errno : -EIO;
                        j->what = "write grants.new";
                        break;
                }
                done += (size_t) n;
        }
        if (j->r == 0 && !j->in_memory && fsync(fd) < 0) {
                j->r = -errno;
                j->what = "fsync grants.new";
        }
        close(fd);
        if (j->r == 0 && rename(tmp, path) < 0) {
                j->r = -errno;
                j->what = "rename grants.new to grants";
        }
        if (j->r < 0)
                (void) unlink(tmp);
}

/* The list as it is now, for a write. */
static StateJob *state_job_new(Broker *b) {
        _cleanup_fclose_ FILE *f = NULL;
        StateJob *j = calloc(1, sizeof *j);

        if (!j)
                return NULL;
        j->job = (WorkerJob){ .run = state_job_run, .free = state_job_free };
        j->gen = b->state_gen;
        j->dir = strdup((*b->config)->state_directory);
        f = open_memstream(&j->text, &j->size);
        if (!j->dir || !f) {
                state_job_free(&j->job);
                return NULL;
        }
        fprintf(f, "# spmd's grants; rewritten on every change. Do not edit.\n");
        for (size_t i = 0; i < b->n_grants; i++) {
                const char *line = grant_line(b->grants[i]); /* formatted once per grant */

                if (!line) {
                        state_job_free(&j->job);
                        return NULL;
                }
                fputs(line, f);
        }
        if (fflush(f) != 0 || ferror(f)) {
                state_job_free(&j->job);
                return NULL;
        }
        return j;
}

static void broker_state_written(Broker *b, const StateJob *j);

/* DIR is on a filesystem in memory (tmpfs, as the default /run/spmd, or ramfs): fsync() returns at
 * once there. Looked at once per StateDirectory=, not on each write; a directory not made yet (the
 * first write makes it) counts as on a disk this once and is looked at again next time. */
static bool dir_in_memory(Broker *b, const char *dir) {
        struct statfs sfs;

        if (!b->state_dir_seen || strcmp(b->state_dir_seen, dir) != 0) {
                if (statfs(dir, &sfs) < 0)
                        return false;
                free(b->state_dir_seen);
                b->state_dir_seen = strdup(dir); /* NULL (no memory): looked at again next time */
                b->state_in_memory = sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
        }
        return b->state_in_memory;
}

/* Write J here, on the loop, and take its result in. */
static void state_write_here(Broker *b, StateJob *j) {
        state_job_run(&j->job);
        broker_state_written(b, j);
        state_job_free(&j->job);
}

/* Write the list as it is now: on a disk in the writer's thread (after the write under way, if one
 * is), in memory here. */
static void broker_state_write(Broker *b) {
        StateJob *j;
        int r;

        if (b->state_writer && worker_busy(b->state_writer)) {
                b->state_dirty = true;
                return;
        }
        b->state_dirty = false;
        j = state_job_new(b);
        if (!j) {
                StateJob failed = { .gen = b->state_gen, .r = -ENOMEM, .what = "format the list" };
                broker_state_written(b, &failed);
                return;
        }
        j->in_memory = dir_in_memory(b, j->dir);
        if (j->in_memory)
                r = -EOPNOTSUPP; /* nothing waits for a disk: a hop to the thread would cost more */
        else if (!b->state_writer)
                r = -ENODEV;
        else
                r = worker_submit(b->state_writer, &j->job);
        if (r < 0) {
                if (r != -EOPNOTSUPP) /* no thread: written here, the loop waits for the disk this once */
                        log_debug_errno(r, "The state writer is not there (%m); writing the grants on the loop.");
                state_write_here(b, j);
        }
}

/* The grants changed: record them. Returns the change's generation, which the list on disk holds
 * once b->state_saved_gen reaches it. */
static uint64_t broker_state_changed(Broker *b) {
        b->state_gen++;
        if (b->state_batch > 0)
                b->state_dirty = true; /* written once, when the batch ends */
        else
                broker_state_write(b);
        return b->state_gen;
}

/* Several changes at once (the grants of a client that left, of a lost bus): one write for all. */
static void state_batch_begin(Broker *b) {
        b->state_batch++;
}

static void state_batch_end(Broker *b) {
        assert(b->state_batch > 0);
        if (--b->state_batch == 0 && b->state_dirty)
                broker_state_write(b); /* after the write under way, if one is */
}

static void on_state_written(WorkerJob *job, void *userdata) {
        Broker *b = userdata;

        broker_state_written(b, (StateJob *) job);
        if (b->state_dirty)
                broker_state_write(b);
}

static void broker_revoke(Broker *b, Grant *g, const char *reason, bool apply);
static void grant_put_in_force(Broker *b, sd_bus_message *msg, Grant *g);

static void release_put_in_force(Broker *b, sd_bus_message *msg, const char *cgroup);

/* The calls waiting for changes up to GEN: a write of them ended with R (what failed: WHAT). */
static void state_waiters_answer(Broker *b, uint64_t gen, int r, const char *what) {
        CallWaiter x;
        Grant *g;

        /* in order, each taken out before it is handled: revoking records again, and may come here */
        for (size_t i = 0; call_waiter_next(&b->state_waiters, &b->n_state_waiters, &i, gen, &x);) {
                if (x.grant_id == 0) /* a release: walled, whether or not its end is on disk (logged) */
                        release_put_in_force(b, x.msg, x.cgroup);
                else if (!(g = grant_by_id(b, x.grant_id)))
                        (void) sd_bus_reply_method_errorf(x.msg, ERROR_ENFORCEMENT,
                                                          "Grant %" PRIu32 " ended before it was recorded.",
                                                          x.grant_id);
                else if (r < 0) {
                        (void) sd_bus_reply_method_errorf(x.msg, ERROR_ENFORCEMENT,
                                                          "Cannot record the grant under StateDirectory=%s: "
                                                          "cannot %s: %s",
                                                          (*b->config)->state_directory, what, strerror(-r));
                        broker_revoke(b, g, "state-not-saved", false);
                } else
                        grant_put_in_force(b, x.msg, g);
                sd_bus_message_unref(x.msg);
                free(x.cgroup);
        }
}

/* A write ended: the calls it answers go on; if it failed, the grants it was to record end. */
static void broker_state_written(Broker *b, const StateJob *j) {
        if (j->r < 0)
                log_error_errno(j->r, "Cannot record the grants under StateDirectory=%s: cannot %s: %m",
                                j->dir ? j->dir : (*b->config)->state_directory, j->what);
        else if (j->gen > b->state_saved_gen)
                b->state_saved_gen = j->gen;
        state_waiters_answer(b, j->gen, j->r, j->what);
}

/* MSG waits for the state file to hold the next change (takes CGROUP; NULL for a RequestAccess):
 * made before the change, whose write answers it, also when that is done on the loop at once. */
static int state_wait_next(Broker *b, sd_bus_message *msg, uint32_t grant_id, char *cgroup) {
        return call_wait(&b->state_waiters, &b->n_state_waiters, msg, b->state_gen + 1, grant_id, cgroup);
}

/* Stopping: what the thread is writing ends, and a change not yet on disk is written here. */
static void broker_state_flush(Broker *b) {
        b->state_writer = worker_free(b->state_writer); /* waits for a write under way, its result dropped */
        if (b->state_gen > b->state_saved_gen) {
                StateJob *j = state_job_new(b);

                if (!j) {
                        log_oom();
                        return;
                }
                state_write_here(b, j); /* no call waits any more: only the result is taken in */
        }
}

static void broker_revoke(Broker *b, Grant *g, const char *reason, bool apply);

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
                        broker_revoke(g->broker, g, "cgroup-removed", true);
                return 0;
        }
        if ((e->mask & IN_DELETE) && (e->mask & IN_ISDIR) && e->len > 0 && base && strcmp(base + 1, e->name) == 0)
                broker_revoke(g->broker, g, "cgroup-removed", true);
        return 0;
}

/* Follow the grant's cgroup being removed: cgroupfs reports rmdir as IN_DELETE to the parent's
 * watchers (there is no IN_DELETE_SELF for a kernfs directory), so the parent is watched; grants
 * below one parent share the kernel's watch (sd-event's), each with a source of its own. */
static void grant_watch(Broker *b, Grant *g) {
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
        r = sd_event_add_inotify(b->event, &s, p, IN_DELETE | IN_ONLYDIR, on_grant_cgroup_removed, g);
        if (r < 0)
                log_warning_errno(r, "Cannot follow %s for the removal of %s: %m", p, g->cgroup);
        g->removal_watch = s;
}

void broker_load_state(Broker *b) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = 0;
        unsigned lineno = 0;

        if (asprintf(&path, "%s/grants", (*b->config)->state_directory) < 0) {
                log_oom();
                return;
        }
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
                if (grant_by_id(b, g->id)) {
                        log_error("%s:%u: grant %" PRIu32 " appears twice; dropped the second.", path, lineno, g->id);
                        grant_free(g);
                        continue;
                }
                a = realloc(b->grants, (b->n_grants + 1) * sizeof *a);
                if (!a) {
                        grant_free(g);
                        log_oom();
                        return;
                }
                g->broker = b;
                {
                        /* its id for the BPF maps from the first pass on; a missing cgroup is revoked later */
                        char p[PATH_MAX + 32];
                        struct stat st;
                        snprintf(p, sizeof p, CGROUP_ROOT "%s", g->cgroup);
                        if (stat(p, &st) == 0)
                                g->cgroup_id = (uint64_t) st.st_ino;
                }
                b->grants = a;
                b->grants[b->n_grants++] = g;
                if (g->id >= b->next_grant_id)
                        b->next_grant_id = g->id + 1;
        }
        if (b->n_grants > 0)
                log_info("Read %zu grant(s) from %s; they stay in force while spmd checks their clients.", b->n_grants,
                         path);
}

static int on_n_grants_changed(sd_event_source *s, void *userdata) {
        Broker *b = userdata;

        (void) s;
        if (b->bus)
                (void) sd_bus_emit_properties_changed(b->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "NGrants",
                                                      NULL);
        return 0;
}

/* NGrants changes in bursts (clients asking and giving back, a client with many grants leaving): one
 * PropertiesChanged for a burst, sent once the loop has nothing more pressing (calls waiting on the
 * bus come first), with the value then. */
static void n_grants_changed(Broker *b) {
        int r;

        if (!b->n_grants_source) {
                r = sd_event_add_defer(b->event, &b->n_grants_source, on_n_grants_changed, b);
                if (r < 0) {
                        log_warning_errno(r, "Cannot defer the NGrants change signal, sending it now: %m");
                        (void) on_n_grants_changed(NULL, b);
                        return;
                }
                (void) sd_event_source_set_priority(b->n_grants_source, SD_EVENT_PRIORITY_IDLE);
                (void) sd_event_source_set_description(b->n_grants_source, "broker-n-grants");
        }
        (void) sd_event_source_set_enabled(b->n_grants_source, SD_EVENT_ONESHOT);
}

static void emit_grant_added(Broker *b, const Grant *g) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        char path[64];
        int r;

        if (!b->bus)
                return;
        grant_path(g, path, sizeof path);
        r = sd_bus_message_new_signal(b->bus, &msg, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GrantAdded");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ousu", path, g->id, g->cgroup, (uint32_t) g->uid);
        if (r >= 0)
                r = bus_append_nodemask(msg, &g->nodes);
        if (r >= 0)
                r = sd_bus_send(b->bus, msg, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot emit GrantAdded: %m");
        n_grants_changed(b);
}

static void emit_grant_removed(Broker *b, const Grant *g, const char *reason) {
        char path[64];

        if (!b->bus)
                return;
        grant_path(g, path, sizeof path);
        if (sd_bus_emit_signal(b->bus, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "GrantRemoved", "ouss", path, g->id,
                               g->cgroup, reason) < 0)
                log_warning("Cannot emit GrantRemoved for grant %" PRIu32 ".", g->id);
        n_grants_changed(b);
}

/* ---- byte limits ---- */

static uint64_t grant_usage(const Grant *g) {
        char dir[PATH_MAX + 32];

        snprintf(dir, sizeof dir, CGROUP_ROOT "%s", g->cgroup);
        return cgroup_node_usage(dir, &g->nodes);
}

#define LIMIT_CHECK_USEC (1000 * 1000)

static void broker_arm_limit_check(Broker *b);

/*
 * MaxBytes= is watched, not enforced here: memory.numa_stat has no
 * notification, so limited grants are looked at once a second, and crossing
 * the limit (and coming back under it) is logged. Nothing takes pages back
 * for the limit; demotion ([Demotion], demote.c) keeps it when it moves pages.
 */
static int on_limit_check(sd_event_source *s, uint64_t usec, void *userdata) {
        Broker *b = userdata;

        (void) s, (void) usec;
        for (size_t i = 0; i < b->n_grants; i++) {
                Grant *g = b->grants[i];
                uint64_t used;
                char used_s[32], max_s[32], nodes[256];

                if (g->max_bytes == UINT64_MAX)
                        continue;
                used = grant_usage(g);
                if (used == UINT64_MAX)
                        continue;
                if (used > g->max_bytes && !g->over_limit)
                        log_warning("Grant %" PRIu32 ": %s holds %s on SPM node(s) %s, over its limit of %s (rule %s); "
                                    "byte limits are reported, not enforced.",
                                    g->id, g->cgroup, format_size(used_s, sizeof used_s, used),
                                    nodemask_format(&g->nodes, nodes, sizeof nodes),
                                    format_size(max_s, sizeof max_s, g->max_bytes), strna(g->rule));
                else if (used <= g->max_bytes && g->over_limit)
                        log_info("Grant %" PRIu32 ": %s is back within its limit (%s of %s).", g->id, g->cgroup,
                                 format_size(used_s, sizeof used_s, used), format_size(max_s, sizeof max_s, g->max_bytes));
                g->over_limit = used > g->max_bytes;
        }
        broker_arm_limit_check(b);
        return 0;
}

/* Look again in a second while some grant has a limit (an armed check stays as it is). */
static void broker_arm_limit_check(Broker *b) {
        bool limited = false;
        int enabled = SD_EVENT_OFF, r;

        for (size_t i = 0; i < b->n_grants && !limited; i++)
                limited = b->grants[i]->max_bytes != UINT64_MAX;
        if (!limited)
                return; /* a check already armed finds nothing and does not re-arm */
        if (!b->limit_source) {
                r = sd_event_add_time_relative(b->event, &b->limit_source, CLOCK_MONOTONIC, LIMIT_CHECK_USEC,
                                               100 * 1000, on_limit_check, b);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch the grants' byte limits: %m");
                return;
        }
        if (sd_event_source_get_enabled(b->limit_source, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(b->limit_source, LIMIT_CHECK_USEC);
        (void) sd_event_source_set_enabled(b->limit_source, SD_EVENT_ONESHOT);
}

/* ---- grants in force ---- */

size_t broker_cpuset_grants(Broker *b, const NodeMask *spm, CpusetGrant *out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < b->n_grants && n < max; i++) {
                Grant *g = b->grants[i];
                const char *label = grant_label(g); /* formatted once per grant */

                if (!label)
                        log_oom(); /* the wall logs it by its cgroup */
                out[n].cgroup = g->cgroup;
                out[n].nodes = nodemask_and(&g->nodes, spm);
                out[n].label = label ? label : g->cgroup;
                n++;
        }
        return n;
}

size_t broker_grant_cgroup_ids(Broker *b, uint64_t *ids, size_t max) {
        size_t n = 0;

        /* a grant ends when its cgroup is removed, so the id taken when it began stays right */
        for (size_t i = 0; i < b->n_grants && n < max; i++)
                if (b->grants[i]->cgroup_id != 0)
                        ids[n++] = b->grants[i]->cgroup_id;
        return n;
}

static void grant_untrack(Grant *g) {
        g->owner_check = sd_bus_slot_unref(g->owner_check);
        g->removal_watch = sd_event_source_disable_unref(g->removal_watch);
}

/* End a grant: state, then enforcement (the cgroup loses the nodes; cgroup v2 migrates its pages off them). */
static void broker_revoke(Broker *b, Grant *g, const char *reason, bool apply) {
        size_t i;

        for (i = 0; i < b->n_grants && b->grants[i] != g; i++)
                ;
        if (i == b->n_grants)
                return;
        memmove(b->grants + i, b->grants + i + 1, (b->n_grants - i - 1) * sizeof *b->grants);
        b->n_grants--;
        grant_untrack(g);
        log_info("Grant %" PRIu32 " of %s to uid %u ended: %s.", g->id, g->cgroup, (unsigned) g->uid, reason);
        /* the signal before the change is recorded: a release waiting for that is answered after it */
        emit_grant_removed(b, g, reason);
        (void) broker_state_changed(b);
        if (apply)
                (void) b->ops->apply_grants(b->userdata, g->cgroup);
        grant_free(g);
        b->ops->grant_ended(b->userdata);
}

/*
 * A grant tied to its client ends when the client's unique name leaves the bus. spmd hears of every
 * name that leaves through one NameOwnerChanged match, the manager's, in place before spmd owns its
 * name (a failure to install it fails the connection), and the manager hands each departure to
 * broker_client_gone(): no bus call per grant. The bus daemon delivers a client's calls before the
 * signal that it left, so a grant made while its RequestAccess is handled (also when handling it
 * waited for the caller's credentials, whose answer comes before that signal too) is there when the
 * signal comes. A grant made after another wait (systemd naming a unit's cgroup) or read back after
 * a restart asks the bus once whether its client is still there (GetNameOwner, sent after the grant
 * exists): either that answer or the signal then says when it is gone.
 */
void broker_client_gone(Broker *b, const char *name) {
        _cleanup_free_ char *cgroup = NULL;
        size_t n = 0;

        assert(b);
        assert(name);
        /* a client may hold many grants: recorded once, and the wall brought in line once */
        state_batch_begin(b);
        for (size_t i = 0; i < b->n_grants;) {
                Grant *g = b->grants[i];

                if (!g->persistent && streq_ptr(g->owner, name)) {
                        if (n++ == 0)
                                cgroup = strdup(g->cgroup); /* NULL (no memory): the whole wall */
                        broker_revoke(b, g, "client-gone", false); /* the array moved down: i is the next */
                        continue;
                }
                i++;
        }
        state_batch_end(b);
        if (n > 0)
                (void) b->ops->apply_grants(b->userdata, n == 1 ? cgroup : NULL);
}

static int on_owner_checked(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Grant *g = userdata;

        (void) error;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                broker_revoke(g->broker, g, "client-gone", true);
                return 0;
        }
        if (g->adopted)
                log_info("Grant %" PRIu32 " of %s to uid %u stays in force (its client is still connected).", g->id,
                         g->cgroup, (unsigned) g->uid);
        g->adopted = false;
        return 0;
}

/* Ask the bus whether G's client is still connected (see broker_client_gone()); <0 when it cannot. */
static int grant_check_owner(Broker *b, Grant *g) {
        if (g->persistent || !g->owner)
                return 0;
        if (!b->bus)
                return -ENOTCONN;
        return sd_bus_call_method_async(b->bus, (sd_bus_slot **) &g->owner_check, "org.freedesktop.DBus",
                                        "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                        on_owner_checked, g, "s", g->owner);
}

/* The caller as the [Access] rules see it; cgroup: its own cgroup as caller_identify() established it. */
static AccessCaller access_caller(const CallerInfo *c, const char *cgroup) {
        return (AccessCaller){ .uid = c->uid,
                               .user = c->user[0] ? c->user : NULL,
                               .gids = c->gids,
                               .n_gids = c->n_gids,
                               .cgroup = cgroup && cgroup[0] ? cgroup : NULL };
}

static unsigned count_grants(const AccessConf *rule, uid_t uid, void *userdata) {
        Broker *b = userdata;
        char label[300];
        unsigned n = 0;

        access_rule_label(rule, label, sizeof label);
        for (size_t i = 0; i < b->n_grants; i++)
                if (b->grants[i]->uid == uid && streq_ptr(b->grants[i]->rule, rule->name ? rule->name : label))
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
#define log_refusal(b, ...)                                                      \
        do {                                                                     \
                (b)->n_refusals++;                                               \
                if (log_ratelimit_pass(&(b)->refusal_log, "refused request(s)")) \
                        log_notice(__VA_ARGS__);                                 \
        } while (0)

/* ---- answering when the walls are written ---- */

/*
 * A call whose cgroup's walls went to the wall's writer (they take SPM nodes away, or follow such a
 * write: cpuset.h) is answered when those writes are done, so a client that has its reply has the
 * access it was told of, and a released grant's pages are off the SPM nodes; meanwhile the loop
 * serves everything else.
 */

/* The wall's last queued write that decides what CGROUP reaches; 0: none waits. */
static uint64_t wall_writing_for(Broker *b, const char *cgroup) {
        return b->ops->wall_writing_for(b->userdata, cgroup);
}

/* Answer MSG when the wall's write SEQ is done (returns 1), for the grant GRANT_ID (0: a release). */
static int wall_wait(Broker *b, sd_bus_message *msg, uint64_t seq, uint32_t grant_id, const char *cgroup) {
        char *copy = strdup(cgroup);

        if (!copy)
                return -ENOMEM;
        return call_wait(&b->wall_waiters, &b->n_wall_waiters, msg, seq, grant_id, copy);
}

static void emit_grant_added(Broker *b, const Grant *g);

static void wall_waiter_answer(Broker *b, CallWaiter *x) {
        Grant *g = x->grant_id ? grant_by_id(b, x->grant_id) : NULL;
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
                broker_revoke(b, g, "enforcement-failed", true);
        } else {
                grant_path(g, path, sizeof path);
                (void) sd_bus_reply_method_return(x->msg, "o", path);
                emit_grant_added(b, g);
        }
        sd_bus_message_unref(x->msg);
        free(x->cgroup);
}

void broker_wall_written(Broker *b, uint64_t done, char *const *failed) {
        for (size_t i = 0; i < b->n_wall_waiters; i++)
                for (char *const *f = failed; f && *f; f++)
                        if (cgroup_path_covers(*f, b->wall_waiters[i].cgroup) ||
                            cgroup_path_covers(b->wall_waiters[i].cgroup, *f))
                                b->wall_waiters[i].failed = true;
        CallWaiter x;

        /* in order, and each taken out before it is answered: answering may revoke, and queue more */
        for (size_t i = 0; call_waiter_next(&b->wall_waiters, &b->n_wall_waiters, &i, done, &x);)
                wall_waiter_answer(b, &x);
}

static int request_finish(Broker *b, sd_bus_message *msg, const CallerInfo *cp, AccessRequest *reqp,
                          const char *cgroup, bool check_owner, sd_bus_error *error);

/* RequestAccess of a unit on a systemd host: systemd says where the unit's cgroup is (GetUnit,
 * then its ControlGroup property), asynchronously; the reply waits for it. */
typedef struct PendingRequest {
        Broker *b;
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
        /* the client may have left while systemd answered: asked once the grant exists */
        r = request_finish(p->b, p->msg, &p->c, &p->req, cg, true, &e);
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
                r = sd_bus_call_method_async(p->b->bus, NULL, "org.freedesktop.systemd1", path,
                                             "org.freedesktop.DBus.Properties", "Get", on_unit_cgroup, p, "ss",
                                             unit_interface(p->unit), "ControlGroup");
        if (r < 0)
                return pending_fail(p, NULL, r);
        return 0;
}

static int method_request_access(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Broker *b = userdata;
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

        r = caller_get(msg, method_request_access, b, &c, error);
        if (r != 0)
                return r; /* refused, or asked for: this runs again with the answer */
        AccessCaller ac = access_caller(&c, NULL);
        r = access_admitted(*b->config, &ac, &why);
        if (r == -EACCES) {
                log_refusal(b, "Refused a grant to uid %u (pid %d): %s.", (unsigned) c.uid, (int) c.pid, strna(why));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s", strna(why));
        }
        if (r < 0)
                return r;
        /* fails closed: a caller whose process or cgroup cannot be established gets nothing */
        r = caller_identify(&c, error);
        if (r < 0) {
                log_refusal(b, "Refused a grant to uid %u (pid %d): %s", (unsigned) c.uid, (int) c.pid,
                            error->message);
                return r;
        }
        b->ops->spm_nodes(b->userdata, &spm);
        if (nodemask_empty(&spm))
                return sd_bus_error_set(error, ERROR_NO_SPM_NODES,
                                        "There are no SPM nodes: no [Device] is online as one (see spmctl devices).");
        if (target[0] && target[0] != '/' && sd_booted() > 0 && b->bus) {
                PendingRequest *p = calloc(1, sizeof *p);

                if (!p)
                        return -ENOMEM;
                p->b = b;
                p->msg = sd_bus_message_ref(msg);
                p->c = c;
                p->req = req;
                snprintf(p->unit, sizeof p->unit, "%s", target);
                r = sd_bus_call_method_async(b->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
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
        return request_finish(b, msg, &c, &req, cgroup, false, error);
}

/* Authorise the request for cgroup (resolved) and put the grant in force; replies on success.
 * CHECK_OWNER: the call waited for something other than the caller's credentials, so the client
 * may have left unseen (broker_client_gone()). */
static int request_finish(Broker *b, sd_bus_message *msg, const CallerInfo *cp, AccessRequest *reqp,
                          const char *cgroup, bool check_owner, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        const CallerInfo c = *cp;
        AccessRequest req = *reqp;
        AccessDecision d;
        char label[300];
        NodeMask spm;
        Grant *g, **a;
        int r;

        b->ops->spm_nodes(b->userdata, &spm);
        req.cgroup = cgroup;
        AccessCaller ac = access_caller(&c, c.cgroup);
        r = access_check(*b->config, &spm, &ac, &req, count_grants, b, &d, &why);
        if (r >= 0) {
                NodeMask unplaceable;

                b->ops->unplaceable_nodes(b->userdata, &unplaceable);
                r = access_placeable(&req, &unplaceable, &d, &why);
        }
        if (r >= 0 && (*b->config)->refuse_grants_at != PRESSURE_NEVER)
                for (unsigned node = 0; node < SPMD_MAX_NODES; node++) {
                        const char *why_level = NULL;
                        int level = nodemask_test(&d.nodes, node) ? b->ops->node_level(b->userdata, node, &why_level)
                                                                  : -1;
                        if (level >= 0 && level >= (int) (*b->config)->refuse_grants_at) {
                                log_refusal(b, "Refused a grant of %s to uid %u: SPM node %u is at %s pressure (%s).",
                                            cgroup, (unsigned) c.uid, node,
                                            pressure_level_to_string(level), strna(why_level));
                                return sd_bus_error_setf(error, ERROR_PRESSURE,
                                                         "SPM node %u is at %s pressure (%s); new grants wait "
                                                         "until it recovers (RefuseGrantsAt=%s).",
                                                         node, pressure_level_to_string(level), strna(why_level),
                                                         pressure_level_to_string((*b->config)->refuse_grants_at));
                        }
                }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_refusal(b, "Refused a grant of %s to uid %u (pid %d): %s.", cgroup, (unsigned) c.uid,
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
        g->broker = b;
        g->id = b->next_grant_id++;
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
        a = realloc(b->grants, (b->n_grants + 1) * sizeof *a);
        if (!g->cgroup || !g->rule || (c.sender && !g->owner) || !g->caller_cgroup || !a) {
                if (a)
                        b->grants = a;
                grant_free(g);
                return -ENOMEM;
        }
        b->grants = a;
        b->grants[b->n_grants++] = g;

        r = check_owner ? grant_check_owner(b, g) : 0;
        if (r < 0) {
                broker_revoke(b, g, "tracking-failed", false);
                return sd_bus_error_set_errnof(error, r, "Cannot follow the caller's connection: %s", strerror(-r));
        }
        grant_watch(b, g);
        /* in force once the state file holds it (broker_state_written(), maybe at once) */
        r = state_wait_next(b, msg, g->id, NULL);
        if (r < 0) {
                broker_revoke(b, g, "no-memory", false);
                return r;
        }
        (void) broker_state_changed(b);
        return 1;
}

/* The state file holds grant G of the RequestAccess call MSG: put it in force, then answer. */
static void grant_put_in_force(Broker *b, sd_bus_message *msg, Grant *g) {
        char path[64], nodes[256];
        uint64_t seq;
        int r;

        r = b->ops->apply_grants(b->userdata, g->cgroup);
        if (r < 0) {
                (void) sd_bus_reply_method_errorf(msg, ERROR_ENFORCEMENT,
                                                  "Cannot put the grant in force on %s (see spmd's log): %s",
                                                  g->cgroup, strerror(-r));
                broker_revoke(b, g, "enforcement-failed", true);
                return;
        }
        log_info("Grant %" PRIu32 ": %s may use SPM node(s) %s (uid %u, pid %d, %s, rule %s%s).", g->id, g->cgroup,
                 nodemask_format(&g->nodes, nodes, sizeof nodes), (unsigned) g->uid, (int) g->pid,
                 g->persistent ? "persistent" : "until the client disconnects", g->rule,
                 g->max_bytes == UINT64_MAX ? "" : ", with a byte limit");
        broker_arm_limit_check(b);
        seq = wall_writing_for(b, g->cgroup);
        if (seq > 0 && wall_wait(b, msg, seq, g->id, g->cgroup) >= 0)
                return;
        /* no write to wait for (or no memory to wait): answered now */
        grant_path(g, path, sizeof path);
        /* the reply first: the bus daemon routes the signals after it, not before */
        (void) sd_bus_reply_method_return(msg, "o", path);
        emit_grant_added(b, g);
}

static int release_grant(sd_bus_message *msg, Broker *b, Grant *g, sd_bus_message_handler_t again,
                         sd_bus_error *error) {
        CallerInfo c;
        int r = caller_get(msg, again, b, &c, error);

        if (r != 0)
                return r;
        if (c.uid != 0 && c.uid != g->uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Grant %" PRIu32 " belongs to uid %u; only it or root may release it.",
                                         g->id, (unsigned) g->uid);
        _cleanup_free_ char *cgroup = strdup(g->cgroup);
        char *copy;
        bool waits;

        if (!cgroup)
                return -ENOMEM;
        /* the end recorded first (the revoke's change answers the waiter), then the wall: a crash
         * in between leaves the grant ended */
        copy = strdup(cgroup);
        waits = copy && state_wait_next(b, msg, 0, copy) >= 0; /* the waiter takes copy */
        broker_revoke(b, g, "released", false);
        if (!waits) /* cannot wait: walled now, and answered */
                release_put_in_force(b, msg, cgroup);
        return 1;
}

/* A release's end is on disk (or could not be put there: logged): wall the cgroup, and answer when
 * its pages are off the nodes it no longer has. */
static void release_put_in_force(Broker *b, sd_bus_message *msg, const char *cgroup) {
        uint64_t seq;

        (void) b->ops->apply_grants(b->userdata, cgroup);
        seq = wall_writing_for(b, cgroup);
        if (seq > 0 && wall_wait(b, msg, seq, 0, cgroup) >= 0)
                return;
        (void) sd_bus_reply_method_return(msg, NULL);
}

static int method_release_access(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Broker *b = userdata;
        const char *path;
        Grant *g;
        int r;

        r = sd_bus_message_read(msg, "o", &path);
        if (r < 0)
                return r;
        g = grant_by_path(b, path);
        if (!g)
                return sd_bus_error_setf(error, ERROR_NO_SUCH_GRANT, "No grant %s (see ListGrants).", path);
        return release_grant(msg, b, g, method_release_access, error);
}

static int append_grant(sd_bus_message *reply, const Grant *g) {
        char path[64];
        int r;

        grant_path(g, path, sizeof path);
        r = sd_bus_message_open_container(reply, 'r', "ousauuutbsst");
        if (r >= 0)
                r = sd_bus_message_append(reply, "ous", path, g->id, g->cgroup);
        if (r >= 0)
                r = bus_append_nodemask(reply, &g->nodes);
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
        Broker *b = userdata;
        int r;

        (void) error;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ousauuutbsst)");
        for (size_t i = 0; r >= 0 && i < b->n_grants; i++)
                r = append_grant(reply, b->grants[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
static int property_get_n_grants(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Broker *b = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "u", (uint32_t) b->n_grants);
}

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
        Broker *b = userdata;
        char **l = NULL;

        (void) bus, (void) prefix, (void) error;
        for (size_t i = 0; i < b->n_grants; i++) {
                char path[64];
                grant_path(b->grants[i], path, sizeof path);
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
                return bus_append_nodemask(reply, &g->nodes);
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
        Broker *b = userdata;
        const char *path = sd_bus_message_get_path(msg);
        Grant *g = path ? grant_by_path(b, path) : NULL;

        if (!g)
                return sd_bus_error_setf(error, ERROR_NO_SUCH_GRANT, "No grant %s (it has ended).", strna(path));
        return release_grant(msg, b, g, grant_release_again, error);
}

static int grant_method_release(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Grant *g = userdata;
        return release_grant(msg, g->broker, g, grant_release_again, error);
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
static void broker_adopt(Broker *b) {
        for (size_t i = 0; i < b->n_grants;) {
                Grant *g = b->grants[i];
                int r = 0;

                g->broker = b;
                if (grant_cgroup_gone(g)) {
                        broker_revoke(b, g, "cgroup-removed", true);
                        continue;
                }
                grant_watch(b, g);
                if (g->persistent) {
                        log_info("Grant %" PRIu32 " of %s to uid %u stays in force (persistent).", g->id, g->cgroup,
                                 (unsigned) g->uid);
                        i++;
                        continue;
                }
                /* unique names are never reused on one bus: an owner means the same client; the grant
                 * stays in force while the bus is asked (on_owner_checked() says which) */
                r = g->owner ? grant_check_owner(b, g) : -ENOTCONN;
                if (r < 0) {
                        broker_revoke(b, g, "client-gone", true);
                        continue;
                }
                g->adopted = true;
                i++;
        }
}

/* The broker's part of org.spmd1.Manager: its methods, NGrants and the grant signals. */
static const sd_bus_vtable broker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("NGrants", "u", property_get_n_grants, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("RequestAccess",
                                SD_BUS_ARGS("s", target, "au", nodes, "t", max_bytes, "a{sv}", options),
                                SD_BUS_RESULT("o", grant), method_request_access, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseAccess", SD_BUS_ARGS("o", grant), SD_BUS_NO_RESULT, method_release_access,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListGrants", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ousauuutbsst)", grants),
                                method_list_grants, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("GrantAdded", SD_BUS_ARGS("o", grant, "u", id, "s", cgroup, "u", uid, "au", nodes),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("GrantRemoved", SD_BUS_ARGS("o", grant, "u", id, "s", cgroup, "s", reason), 0),
        SD_BUS_VTABLE_END,
};

int broker_bus_attach(Broker *b, sd_bus *bus) {
        int r;

        assert(b);
        assert(bus);
        r = sd_bus_add_object_vtable(bus, NULL, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, broker_vtable, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/spmd1/grant", SPMD_BUS_GRANT_INTERFACE, grant_vtable,
                                               grant_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, "/org/spmd1/grant", grant_enumerate, b);
        if (r < 0)
                return r;
        b->bus = bus;
        return 0;
}

void broker_bus_up(Broker *b, bool again) {
        assert(b);
        assert(b->bus);
        broker_adopt(b);
        broker_arm_limit_check(b);
        if (again) /* clients that follow the grants learn they are still there */
                for (size_t i = 0; i < b->n_grants; i++)
                        emit_grant_added(b, b->grants[i]);
}

void broker_bus_down(Broker *b) {
        assert(b);
        for (size_t i = 0; i < b->n_grants; i++)
                b->grants[i]->owner_check = sd_bus_slot_unref(b->grants[i]->owner_check);
        b->bus = NULL;
}

void broker_bus_lost(Broker *b) {
        bool changed = false;

        broker_bus_down(b);
        state_batch_begin(b);
        for (size_t i = 0; i < b->n_grants;) {
                if (!b->grants[i]->persistent) {
                        broker_revoke(b, b->grants[i], "bus-gone", false);
                        changed = true;
                } else
                        i++;
        }
        state_batch_end(b);
        if (changed)
                (void) b->ops->apply_grants(b->userdata, NULL);
}

void broker_no_bus(Broker *b) {
        assert(b);
        assert(!b->bus);
        broker_adopt(b); /* revokes what is tied to clients: they cannot be reached */
}

void broker_shutdown(Broker *b) {
        call_waiters_free(&b->wall_waiters, &b->n_wall_waiters);
        call_waiters_free(&b->state_waiters, &b->n_state_waiters);
        broker_state_flush(b);
        broker_bus_down(b);
        for (size_t i = 0; i < b->n_grants; i++)
                grant_untrack(b->grants[i]);
}

int broker_new(sd_event *event, Config *const *config, const BrokerOps *ops, void *userdata, Broker **ret) {
        Broker *b;
        int r;

        assert(event);
        assert(config);
        assert(ops && ops->spm_nodes && ops->unplaceable_nodes && ops->node_level && ops->apply_grants &&
               ops->wall_writing_for && ops->grant_ended);
        assert(ret);
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        *b = (Broker){ .event = event, .config = config, .ops = ops, .userdata = userdata, .next_grant_id = 1 };
        r = worker_new(event, on_state_written, b, &b->state_writer);
        if (r < 0) /* the grants are still recorded, on the loop */
                log_warning_errno(r, "Cannot start the thread that records the grants: %m");
        *ret = b;
        return 0;
}

Broker *broker_free(Broker *b) {
        if (!b)
                return NULL;
        assert(!b->bus && b->n_wall_waiters == 0 && b->n_state_waiters == 0); /* broker_shutdown() first */
        b->state_writer = worker_free(b->state_writer);
        for (size_t i = 0; i < b->n_grants; i++)
                grant_free(b->grants[i]);
        free(b->grants);
        sd_event_source_disable_unref(b->limit_source);
        sd_event_source_disable_unref(b->n_grants_source);
        free(b->state_dir_seen);
        free(b);
        return NULL;
}

void broker_recheck(Broker *b) {
        /* the user database once per uid, not once per grant (200 grants of one uid: 200 lookups) */
        CallerInfo users[8]; /* about 5 KiB each */
        size_t n_users = 0;
        NodeMask spm;
        bool changed = false;

        b->ops->spm_nodes(b->userdata, &spm);
        state_batch_begin(b);
        for (size_t i = 0; i < b->n_grants;) {
                _cleanup_free_ char *why = NULL;
                Grant *g = b->grants[i];
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
                        if (c.uid != 0) /* root is judged without the user database, as at request time */
                                caller_groups(&c);
                        if (n_users < ELEMENTSOF(users))
                                users[n_users++] = c;
                }
                AccessCaller ac = access_caller(&c, g->caller_cgroup);
                /* MaxGrants= counts the grants before this one */
                size_t n_saved = b->n_grants;
                b->n_grants = i;
                r = access_check(*b->config, &spm, &ac, &req, count_grants, b, &d, &why);
                b->n_grants = n_saved;
                if (r < 0 && r != -ENOMEM) {
                        log_notice("Grant %" PRIu32 " of %s: the reloaded policy no longer allows it: %s.", g->id,
                                   g->cgroup, strna(why));
                        broker_revoke(b, g, "policy", false);
                        changed = true;
                        continue;
                }
                i++;
        }
        state_batch_end(b);
        if (changed)
                (void) b->ops->apply_grants(b->userdata, NULL);
}
