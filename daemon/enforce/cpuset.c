/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cpuset wall on a real cgroup2 tree: walk, write, and follow new cgroups with inotify. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cpuset.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "time-util.h"
#include "worker.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define PF_KTHREAD 0x00200000

/* A gateway's directory, followed for new children (sd-event's inotify). */
typedef struct Watch {
        char *path; /* relative, "" for the root */
        dev_t dev;  /* the directory watched: a cgroup made again at the path is another */
        ino_t ino;
        sd_event_source *source;
        struct CpusetWall *wall;
} Watch;

/* One cpuset.mems write decided on the loop, carried out by the writer thread (cpuset-plan.h: why). */
typedef struct WallWrite {
        char *path;    /* relative */
        char *file;    /* the cpuset.mems file */
        char value[NODEMASK_FORMAT_MAX];
        NodeMask mems;
        bool widens;
        uint64_t seq;
        int result;    /* the writer's: 0, -errno, -ECANCELED when not run after a failure below */
        bool gone;     /* the writer's: the cgroup was removed meanwhile (nothing to do) */
} WallWrite;

typedef struct WallJob {
        WorkerJob job;
        WallWrite *writes;
        size_t n_writes;
} WallJob;

typedef struct WalkFrame WalkFrame;
/* A walk of the tree in progress: a frame per level, the deepest last (walk_step()). */
typedef struct Walk {
        WalkFrame *frames;
        size_t n, allocated;
        int ret;                /* the walk's result once n is 0 */
} Walk;

struct CpusetWall {
        sd_event *event;
        char *root;
        Watch **watches;
        size_t n_watches;
        sd_event_source *overflow; /* the whole tree again, once, after the kernel dropped events */

        CpusetInput in;
        CpusetGrant *grants; /* in.grants points here */
        CpusetStats stats;
        CpusetGrantAppeared grant_appeared;
        void *userdata;
        CpusetSetUnitMems set_unit_mems;
        void *manager_userdata;

        /* Writes that take SPM nodes away, and those that must follow them, in order (cpuset-plan.h). */
        Worker *writer;
        WallWrite *queue;    /* decided, not handed to the writer yet */
        size_t n_queue;
        WallJob *running;    /* handed to the writer, its results not taken yet: the loop reads only
                              * the fields the writer does not write */
        uint64_t seq_queued; /* the last write queued */
        uint64_t seq_done;   /* every write up to this one is done */
        bool sync_writes;    /* a new cgroup's pass: written at once, unless it must follow a queued one */
        CpusetWritten written;
        void *written_userdata;

        uint64_t in_gen;     /* copy_input() counts the inputs: a walk's frames take them again */
        /* A full pass in slices (cpuset_wall_apply_sliced()) */
        sd_event_source *pass_source;
        Walk pass_walk;
        bool pass_running;
        CpusetStats shown_stats; /* ... meanwhile, the counts of the last whole pass */
        CpusetPassDone pass_done;
        void *pass_userdata;
};

/* ---- small file helpers ---- */

/* root + path (+ "/" + attr): allocated, so a path is never cut short and taken for another (a
 * path the kernel finds too long fails as ENAMETOOLONG, never as "gone"). NULL: out of memory. */
static char *cg_path(const CpusetWall *w, const char *path, const char *attr) {
        char *p;

        if (asprintf(&p, "%s%s%s%s", w->root, path, attr ? "/" : "", attr ? attr : "") < 0)
                return NULL;
        return p;
}

/* path + "/" + name, allocated. */
static char *cg_child(const char *path, const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s", path, name) < 0)
                return NULL;
        return p;
}

static int read_attr(const CpusetWall *w, const char *path, const char *attr, char *buf, size_t len) {
        _cleanup_free_ char *p = cg_path(w, path, attr);
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line(p, buf, len);
        return r == -ENODATA ? 0 : r; /* an empty cpuset.mems reads as "" */
}

static int write_attr(const CpusetWall *w, const char *path, const char *attr, const char *value) {
        _cleanup_free_ char *p = cg_path(w, path, attr);

        return p ? write_one_value(p, value, 0) : -ENOMEM;
}

/* Is the directory at p gone? Only then is an ENOENT from a file in it nothing to do. */
static bool dir_gone(const char *p) {
        return access(p, F_OK) < 0 && errno == ENOENT;
}

/* cpuset.mems or cpuset.mems.effective; an empty file is an empty mask. -ENOENT without the controller. */
static int read_mems(const CpusetWall *w, const char *path, const char *attr, NodeMask *ret) {
        char buf[4096];
        int r = read_attr(w, path, attr, buf, sizeof buf);

        if (r < 0)
                return r;
        *ret = (NodeMask){};
        return buf[0] ? parse_nodemask(buf, ret) : 0;
}

/* What path's children may see of the SPM nodes now: its effective mems, all of them at the root.
 * Without a cpuset controller there the cgroup inherits, and the empty mask is returned. */
static NodeMask effective_spm(const CpusetWall *w, const char *path) {
        NodeMask eff = {};

        if (path[0] == '\0')
                return w->in.spm;
        (void) read_mems(w, path, "cpuset.mems.effective", &eff);
        return nodemask_and(&eff, &w->in.spm);
}

/* ---- the writer thread: writes that take SPM nodes away, in order ---- */

static void wall_write_clear(WallWrite *x) {
        free(x->path);
        free(x->file);
}

static void wall_job_free(WorkerJob *job) {
        WallJob *j = (WallJob *) job;

        for (size_t i = 0; i < j->n_writes; i++)
                wall_write_clear(&j->writes[i]);
        free(j->writes);
        free(j);
}

/* Write X's value; whether a failure is only its cgroup being gone is told apart by the directory. */
static void wall_write_run(WallWrite *x) {
        x->result = write_one_value(x->file, x->value, 0); /* in the writer thread: no shared state */
        if (x->result == -ENOENT) {
                char *slash = strrchr(x->file, '/');

                *slash = '\0';
                x->gone = dir_gone(x->file);
                *slash = '/';
        }
}

/* In the writer's thread: each write in order; one that would open a cgroup above a failed one is not run. */
static void wall_job_run(WorkerJob *job) {
        WallJob *j = (WallJob *) job;

        for (size_t i = 0; i < j->n_writes; i++) {
                WallWrite *x = &j->writes[i];
                bool cancelled = false;

                for (size_t k = 0; k < i && !cancelled; k++)
                        cancelled = j->writes[k].result < 0 && !j->writes[k].gone &&
                                    cpuset_write_cancelled_by(x->path, x->widens, j->writes[k].path);
                if (cancelled)
                        x->result = -ECANCELED;
                else
                        wall_write_run(x);
        }
}

/* The Ith write not done yet, in the order decided (the writer's batch, then the queue); NULL past the last. */
static const WallWrite *waiting_write(const CpusetWall *w, size_t i) {
        size_t n_running = w->running ? w->running->n_writes : 0;

        if (i < n_running)
                return &w->running->writes[i];
        return i - n_running < w->n_queue ? &w->queue[i - n_running] : NULL;
}

/* The write to PATH decided last and not done yet, if any. */
static const WallWrite *pending_write(const CpusetWall *w, const char *path) {
        const WallWrite *x, *last = NULL;

        for (size_t i = 0; (x = waiting_write(w, i)); i++)
                if (strcmp(x->path, path) == 0)
                        last = x;
        return last;
}

static bool must_follow(const CpusetWall *w, const char *path) {
        const WallWrite *x;

        for (size_t i = 0; (x = waiting_write(w, i)); i++)
                if (cpuset_write_must_follow(path, x->path))
                        return true;
        return false;
}

/* Write what is queued here and now (the writer cannot take it, or the wall is going). */
static void queue_write_now(CpusetWall *w) {
        for (size_t i = 0; i < w->n_queue; i++) {
                WallWrite *x = &w->queue[i];

                wall_write_run(x);
                if (x->result < 0 && !x->gone) {
                        w->stats.errors++;
                        log_error_errno(x->result, "Cannot set cpuset.mems of %s to %s, so it is not walled: %m",
                                        x->path, x->value);
                }
                w->seq_done = x->seq;
                wall_write_clear(x);
        }
        w->queue = mfree(w->queue);
        w->n_queue = 0;
}

/* Hand what is queued to the writer, unless it is busy with an earlier batch. */
static void queue_submit(CpusetWall *w) {
        WallJob *j;

        if (w->n_queue == 0 || w->running)
                return;
        j = calloc(1, sizeof *j);
        if (!j) {
                log_oom();
                queue_write_now(w);
                return;
        }
        j->job.run = wall_job_run;
        j->job.free = wall_job_free;
        j->writes = w->queue;
        j->n_writes = w->n_queue;
        if (worker_submit(w->writer, &j->job) < 0) {
                free(j);
                queue_write_now(w);
                return;
        }
        w->running = j;
        w->queue = NULL;
        w->n_queue = 0;
}

static void on_written(WorkerJob *job, void *userdata);

static int queue_write(CpusetWall *w, const char *path, const NodeMask *want, const char *value, bool widens) {
        WallWrite x = { .mems = *want, .widens = widens }, *a;
        int r;

        if (!w->writer) {
                r = worker_new(w->event, on_written, w, &w->writer);
                if (r < 0)
                        return r;
        }
        a = reallocarray(w->queue, w->n_queue + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        w->queue = a;
        x.path = strdup(path);
        x.file = cg_path(w, path, "cpuset.mems");
        if (!x.path || !x.file) {
                wall_write_clear(&x);
                return -ENOMEM;
        }
        snprintf(x.value, sizeof x.value, "%s", value);
        x.seq = ++w->seq_queued;
        w->queue[w->n_queue++] = x;
        queue_submit(w);
        return 0;
}

static void shut_gateway(CpusetWall *w, const char *path, int r);

/* The writer's batch is done (on the loop): failures are logged and counted as a pass's would be, and
 * the cgroup above each failed one is shut, as the walk shuts a gateway it cannot wall below. */
static void on_written(WorkerJob *job, void *userdata) {
        CpusetWall *w = userdata;
        WallJob *j = (WallJob *) job;
        _cleanup_(strv_freep) char **failed = NULL;

        w->running = NULL;
        for (size_t i = 0; i < j->n_writes; i++) {
                WallWrite *x = &j->writes[i];

                if (x->result >= 0 || x->gone) {
                        log_debug("%s: cpuset.mems -> %s (in the writer, %" PRIu64 " ms for its batch)", x->path,
                                  x->value, job->usec / 1000);
                        continue;
                }
                w->stats.errors++;
                if (x->result == -ECANCELED)
                        log_error("Did not set cpuset.mems of %s to %s: a cgroup below it could not be walled.",
                                  x->path, x->value);
                else
                        log_error_errno(x->result, "Cannot set cpuset.mems of %s to %s, so it is not walled: %m",
                                        x->path, x->value);
                if (strv_extend(&failed, x->path) < 0)
                        log_oom();
        }
        w->seq_done = j->writes[j->n_writes - 1].seq;

        for (size_t i = 0; i < j->n_writes; i++) {
                const WallWrite *x = &j->writes[i];
                const char *slash;

                if (x->result >= 0 || x->gone || x->result == -ECANCELED)
                        continue;
                /* what was decided after it and would open a cgroup above it does not run either */
                for (size_t k = 0; k < w->n_queue;)
                        if (cpuset_write_cancelled_by(w->queue[k].path, w->queue[k].widens, x->path)) {
                                log_error("Did not set cpuset.mems of %s to %s: a cgroup below it could not be "
                                          "walled.", w->queue[k].path, w->queue[k].value);
                                wall_write_clear(&w->queue[k]);
                                memmove(w->queue + k, w->queue + k + 1, (--w->n_queue - k) * sizeof *w->queue);
                        } else
                                k++;
                slash = strrchr(x->path, '/');
                if (slash && slash != x->path) {
                        _cleanup_free_ char *up = strndup(x->path, (size_t) (slash - x->path));

                        if (!up || strv_extend(&failed, up) < 0)
                                log_oom();
                        else
                                shut_gateway(w, up, x->result);
                } else
                        log_error_errno(x->result, "A cgroup below the root could be neither walled nor shut (%m): "
                                                   "it may reach the SPM nodes.");
        }
        queue_submit(w);
        if (!w->running && w->n_queue == 0)
                w->seq_done = w->seq_queued; /* writes dropped above count as done: nothing waits forever */
        if (w->written)
                w->written(w->seq_done, failed, w->written_userdata);
}

/* ---- walls ---- */

/* Is the cgroup directory itself gone (removed meanwhile)? Only then is an ENOENT nothing to do. */
static bool cgroup_gone(const CpusetWall *w, const char *path) {
        _cleanup_free_ char *p = cg_path(w, path, NULL);

        return p && dir_gone(p);
}

/* Bring one cgroup in line: to what it needs, or shut to every SPM node (SHUT: something below it
 * could not be walled). Returns 1 if written, 0 if nothing to do, <0 on failure (logged and counted). */
static int wall_set(CpusetWall *w, const char *path, const NodeMask *parent_open, bool shut) {
        NodeMask cur, want;
        char s[NODEMASK_FORMAT_MAX], old[NODEMASK_FORMAT_MAX];
        const WallWrite *x;
        const char *unit, *how = "";
        int r;

        x = pending_write(w, path);
        if (x) {
                cur = x->mems; /* what the cgroup will have when the writer gets there */
                r = 0;
        } else
                r = read_mems(w, path, "cpuset.mems", &cur);
        if (r == -ENOENT && shut && !cgroup_gone(w, path))
                return -EOPNOTSUPP; /* no cpuset controller here: it cannot be shut, its parent must be */
        if (r == -ENOENT)
                return 0; /* gone, or no cpuset controller here: it inherits, and its parent was handled */
        if (r < 0) {
                w->stats.errors++;
                return log_warning_errno(r, "Cannot read %s%s/cpuset.mems: %m", w->root, path);
        }
        if (!cpuset_want_need(&w->in, shut ? (NodeMask){} : cpuset_need(&w->in, path), &cur, parent_open, &want))
                return 0;
        r = nodemask_format_checked(&want, s, sizeof s);
        if (r < 0) {
                w->stats.errors++;
                return log_error_errno(r, "Cannot write the wall of %s: its cpuset.mems value does not fit: %m", path);
        }
        nodemask_format(&cur, old, sizeof old);
        /* Taking SPM nodes away migrates the cgroup's pages inside the write: the writer's, in order,
         * unless the loop is not running (start-up, where the walls hold before spmd is ready) or a
         * new cgroup is walled (it holds little yet, and must be walled at once). */
        if (must_follow(w, path) ||
            (!w->sync_writes && sd_event_get_state(w->event) == SD_EVENT_RUNNING &&
             cpuset_write_narrows(&w->in, &cur, parent_open, &want))) {
                r = queue_write(w, path, &want, s, cpuset_write_widens(&w->in, &cur, parent_open, &want));
                if (r < 0) {
                        w->stats.errors++;
                        return log_error_errno(r, "Cannot queue cpuset.mems=%s for %s, so it is not walled: %m", s,
                                               path);
                }
                how = " (queued)";
        } else {
                r = write_attr(w, path, "cpuset.mems", s);
                if (r == -ENOENT && cgroup_gone(w, path))
                        return 0;
                if (r < 0) {
                        w->stats.errors++;
                        return log_error_errno(r, "Cannot set cpuset.mems of %s to %s, so it is not walled: %m",
                                               path, s);
                }
        }
        unit = w->set_unit_mems ? cgroup_systemd_unit(path) : NULL;
        if (unit) {
                /* the value holds now; systemd keeps it from here on (its answer is reported when it comes) */
                r = w->set_unit_mems(unit, &want, w->manager_userdata);
                if (r < 0)
                        log_warning_errno(r, "Cannot ask systemd for AllowedMemoryNodes=%s on %s (%m): the wall "
                                             "written on %s holds until systemd applies the unit's settings again.",
                                          s, unit, path);
                log_debug("%s: cpuset.mems %s -> %s%s, and asked of systemd's %s", path,
                          old[0] ? old : "(inherited)", s, how, unit);
                return 1;
        }
        log_debug("%s: cpuset.mems %s -> %s%s", path, old[0] ? old : "(inherited)", s, how);
        return 1;
}

static int wall_one(CpusetWall *w, const char *path, const NodeMask *parent_open) {
        return wall_set(w, path, parent_open, false);
}

/*
 * Something below PATH, a cgroup on a grant's path, could not be walled (R): opening PATH would let
 * it see the SPM nodes, so PATH is shut instead, and the grants below it wait until a pass walls
 * everything. Returns R when PATH could not be shut either (its parent must then shut), else 0.
 */
static int wall_shut(CpusetWall *w, const char *path, const NodeMask *parent_open, int r) {
        int k;

        w->stats.shut++;
        /* the path last: one near PATH_MAX is cut at the log's line length */
        log_error_errno(r, "Cannot wall every cgroup below a cgroup on a grant's path (%m): shut it to the SPM "
                           "nodes instead, so the grants below it have no access until a later pass walls them "
                           "all: %s", path);
        k = wall_set(w, path, parent_open, true);
        return k < 0 ? r : 0;
}

/* After the cgroups below PATH were handled (R): PATH opened as it needs, or shut if one of them could
 * not be walled. */
static int wall_after_below(CpusetWall *w, const char *path, const NodeMask *parent_open, int r) {
        return r < 0 ? wall_shut(w, path, parent_open, r) : wall_one(w, path, parent_open);
}

static int enable_cpuset(CpusetWall *w, const char *path) {
        char buf[512];
        int r;

        r = read_attr(w, path, "cgroup.subtree_control", buf, sizeof buf);
        if (r < 0)
                return r;
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
                if (strcmp(t, "cpuset") == 0)
                        return 0;
        r = write_attr(w, path, "cgroup.subtree_control", "+cpuset");
        if (r == -EBUSY)
                return log_error_errno(r, "Cannot enable the cpuset controller below %s: it holds processes "
                                          "itself (cgroup v2 allows controllers only below cgroups without "
                                          "processes); move them into a child cgroup",
                                       path[0] ? path : "/");
        if (r < 0)
                return log_error_errno(r, "Cannot enable the cpuset controller below %s: %m", path[0] ? path : "/");
        log_info("Enabled the cpuset controller below %s.", path[0] ? path : "/");
        return 0;
}

/* The watch of a gateway already set up (controller enabled, watched) by an earlier pass; -1. */
static ssize_t watch_index(const CpusetWall *w, const char *path) {
        for (size_t i = 0; i < w->n_watches; i++)
                if (strcmp(w->watches[i]->path, path) == 0)
                        return (ssize_t) i;
        return -1;
}

static void watch_drop(CpusetWall *w, size_t i) {
        Watch *x = w->watches[i];

        sd_event_source_disable_unref(x->source);
        free(x->path);
        free(x);
        w->watches[i] = w->watches[--w->n_watches];
}

static int on_inotify(sd_event_source *s, const struct inotify_event *e, void *userdata);

static int watch_add(CpusetWall *w, const char *path) {
        _cleanup_free_ char *p = cg_path(w, path, NULL);
        struct stat st;
        Watch **a, *x;
        ssize_t i;
        int r;

        if (!p)
                return -ENOMEM;
        if (stat(p, &st) < 0)
                return -errno;
        i = watch_index(w, path);
        if (i >= 0) {
                if (w->watches[i]->dev == st.st_dev && w->watches[i]->ino == st.st_ino)
                        return 0; /* the same directory again */
                /* removed and made again before the old watch's IN_IGNORED came in */
                watch_drop(w, (size_t) i);
        }
        a = reallocarray(w->watches, w->n_watches + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        w->watches = a;
        x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        x->wall = w;
        x->dev = st.st_dev;
        x->ino = st.st_ino;
        x->path = strdup(path);
        if (!x->path) {
                free(x);
                return -ENOMEM;
        }
        r = sd_event_add_inotify(w->event, &x->source, p, IN_CREATE | IN_ONLYDIR, on_inotify, x);
        if (r >= 0)
                /* Before anything else that runs on the loop: a new cgroup is walled as soon as possible. */
                r = sd_event_source_set_priority(x->source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0) {
                sd_event_source_disable_unref(x->source);
                free(x->path);
                free(x);
                return r;
        }
        w->watches[w->n_watches++] = x;
        return 0;
}

/* A gateway lets SPM nodes through to some children: its other children need walls as they appear. */
static int gateway_setup(CpusetWall *w, const char *path) {
        int r = enable_cpuset(w, path);

        if (r == -ENOENT && cgroup_gone(w, path))
                return 0;
        if (r < 0) {
                w->stats.errors++;
                return r;
        }
        r = watch_add(w, path);
        if (r == -ENOENT && cgroup_gone(w, path))
                return 0; /* removed meanwhile */
        if (r < 0) {
                w->stats.errors++;
                return log_error_errno(r, "Cannot watch %s%s for new cgroups: %m", w->root, path);
        }
        return 0;
}

static bool is_subdir(const struct dirent *de) {
        return de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* The names of PATH's child cgroups, read whole before the caller goes down into any of them: a walk
 * keeps no directory open per level (a deep tree would run spmd out of descriptors). */
static int list_children(const CpusetWall *w, const char *path, char ***ret) {
        _cleanup_free_ char *p = cg_path(w, path, NULL);
        _cleanup_(strv_freep) char **l = NULL;
        struct dirent *de;
        int r = 0;
        DIR *d;

        if (!p)
                return -ENOMEM;
        d = opendir(p);
        if (!d)
                return -errno;
        while (r >= 0 && (de = readdir(d)))
                if (is_subdir(de))
                        r = strv_extend(&l, de->d_name);
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/*
 * A cgroup without a grant is walled at once, and that walls its whole
 * subtree: no need to go further down. A cgroup on a grant's path is opened
 * only after its own children are walled, so nothing sees an SPM node it
 * should not, even for a moment. Fails closed: a child on a grant's path
 * with a cgroup below it that could not be walled is shut.
 *
 * The walk goes depth first, one child of one cgroup a step, with a frame per
 * level (a Walk), so that a full pass can run in slices between the loop's
 * other work (cpuset_wall_apply_sliced()). A frame made before the input
 * changed (a grant came or went between two slices) takes what its cgroup
 * lets through again before its next step.
 */
struct WalkFrame {
        char *path;
        unsigned depth;
        char **names;           /* PATH's children, read when the frame was made */
        size_t next;            /* the next of them to look at */
        char *below;            /* the child walked below now (on a grant's path), handled when its frame ends */
        NodeMask parent_open;   /* what PATH lets its children see: planned, or now */
        uint64_t gen;           /* the input (w->in_gen) parent_open was taken for */
        int ret;                /* <0: a child could be neither walled nor shut (PATH must not open) */
};


static void walk_frame_open(CpusetWall *w, WalkFrame *f) {
        NodeMask planned = cpuset_open_for_children(&w->in, f->path), now = effective_spm(w, f->path);

        f->parent_open = nodemask_or(&planned, &now);
        f->gen = w->in_gen;
}

static void walk_clear(Walk *k) {
        for (size_t i = 0; i < k->n; i++) {
                free(k->frames[i].path);
                strv_free(k->frames[i].names);
                free(k->frames[i].below);
        }
        k->frames = mfree(k->frames);
        k->n = k->allocated = 0;
}

/* Go into PATH: a frame for it, the deepest (frames may move). false: no memory for it. */
static bool walk_push(CpusetWall *w, Walk *k, const char *path, unsigned depth) {
        char *copy = strdup(path);
        WalkFrame *f;
        int r;

        if (!copy)
                return false;
        if (k->n == k->allocated) {
                WalkFrame *a = reallocarray(k->frames, k->allocated * 2 + 8, sizeof *a);

                if (!a) {
                        free(copy);
                        return false;
                }
                k->frames = a;
                k->allocated = k->allocated * 2 + 8;
        }
        f = &k->frames[k->n++];
        *f = (WalkFrame){ .path = copy, .depth = depth };
        if (depth > CGROUP_DEPTH_MAX)
                f->ret = -ELOOP;
        else {
                walk_frame_open(w, f);
                r = list_children(w, path, &f->names);
                if (r < 0)
                        f->ret = r == -ENOENT && cgroup_gone(w, path) ? 0 : r;
        }
        return true;
}

/* One step: a child of the deepest cgroup, or the end of its frame. false once the walk is done. */
static bool walk_step(CpusetWall *w, Walk *k) {
        WalkFrame *f;
        char *child;
        NodeMask need;
        int r;

        if (k->n == 0)
                return false;
        f = &k->frames[k->n - 1];
        if (f->names && f->names[f->next]) {
                if (f->gen != w->in_gen)
                        walk_frame_open(w, f);
                child = cg_child(f->path, f->names[f->next++]);
                if (!child) {
                        f->ret = -ENOMEM;
                        return true;
                }
                need = cpuset_need(&w->in, child);
                if (nodemask_empty(&need)) {
                        r = wall_one(w, child, &f->parent_open);
                        if (r < 0)
                                f->ret = r; /* unwalled: PATH must not let SPM nodes through */
                        else if (!nodemask_empty(&f->parent_open)) {
                                w->stats.walled++;
                                if (w->set_unit_mems && cgroup_systemd_unit(child))
                                        w->stats.through_manager++;
                        }
                        free(child);
                } else if (!cpuset_is_gateway(&w->in, child)) {
                        /* granted, with nothing below that needs a wall (no deeper grant of other
                         * nodes): what is below inherits, however deep a client nests it */
                        r = wall_one(w, child, &f->parent_open);
                        if (r < 0)
                                f->ret = r;
                        free(child);
                } else if (walk_push(w, k, child, f->depth + 1))
                        k->frames[k->n - 2].below = child; /* handled when its frame ends (f moved) */
                else {
                        /* no memory to go down: the child is shut, as if something below failed */
                        r = wall_after_below(w, child, &f->parent_open, -ENOMEM);
                        if (r < 0)
                                f->ret = r;
                        free(child);
                }
                return true;
        }
        /* PATH's children are done: the frame above handles PATH */
        r = f->ret;
        free(f->path);
        strv_free(f->names);
        free(f->below);
        if (--k->n == 0) {
                k->ret = r;
                return false;
        }
        f = &k->frames[k->n - 1];
        if (f->gen != w->in_gen)
                walk_frame_open(w, f);
        r = wall_after_below(w, f->below, &f->parent_open, r);
        if (r < 0)
                f->ret = r;
        f->below = mfree(f->below);
        return true;
}

/* The whole walk below PATH at once. Returns <0 when a child of PATH could be neither walled nor shut. */
static int walk(CpusetWall *w, const char *path, unsigned depth) {
        Walk k = { .ret = -ENOMEM };

        (void) walk_push(w, &k, path, depth);
        while (walk_step(w, &k))
                ;
        walk_clear(&k);
        return k.ret;
}

static int cmp_long(const void *a, const void *b) {
        long x = *(const long *) a, y = *(const long *) b;
        return (x > y) - (x < y);
}

/* Is pid a kernel thread, by its flags (/proc/PID/stat): where the kthreads cannot be listed at once. */
static bool pid_is_kthread(long pid) {
        char sp[64], buf[1024], *e;
        unsigned long flags = 0;
        bool k;
        FILE *s;

        snprintf(sp, sizeof sp, "/proc/%ld/stat", pid);
        s = fopen(sp, "re");
        if (!s)
                return false;
        /* fields after the last ')': state ppid pgrp session tty tpgid flags */
        k = fgets(buf, sizeof buf, s) && (e = strrchr(buf, ')')) &&
            sscanf(e + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & PF_KTHREAD);
        fclose(s);
        return k;
}

/* The kernel's threads: kthreadd (pid 2) and its children, from one file (CONFIG_PROC_CHILDREN),
 * sorted; -errno without it. */
static int read_kthreads(long **ret, size_t *ret_n) {
        _cleanup_free_ long *l = NULL;
        size_t n = 0, cap = 0;
        long pid;
        FILE *f;

        if (!pid_is_kthread(2))
                return -ENOENT; /* in a pid namespace, pid 2 is not kthreadd */
        f = fopen("/proc/2/task/2/children", "re");
        if (!f)
                return -errno;
        for (pid = 2;; ) { /* kthreadd itself, then its children */
                if (n == cap) {
                        long *a = reallocarray(l, cap = cap ? 2 * cap : 256, sizeof *a);
                        if (!a) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        l = a;
                }
                l[n++] = pid;
                if (fscanf(f, "%ld", &pid) != 1)
                        break;
        }
        fclose(f);
        qsort(l, n, sizeof *l, cmp_long);
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* Read when the stats are asked for, not on every pass, and in two files, not one per process: a
 * busy root cgroup cost 115 ms of the loop to count in the test guest under TCG. */
static void count_root_procs(CpusetWall *w) {
        _cleanup_free_ char *p = cg_path(w, "", "cgroup.procs");
        _cleanup_free_ long *kthreads = NULL;
        unsigned procs = 0, nk = 0;
        size_t n_kthreads = 0;
        bool listed;
        long pid;
        FILE *f;

        listed = read_kthreads(&kthreads, &n_kthreads) >= 0;
        f = p ? fopen(p, "re") : NULL;
        if (!f)
                return;
        while (fscanf(f, "%ld", &pid) == 1) {
                procs++;
                if (listed ? bsearch(&pid, kthreads, n_kthreads, sizeof *kthreads, cmp_long) != NULL
                           : pid_is_kthread(pid))
                        nk++;
        }
        fclose(f);
        w->stats.root_procs = procs;
        w->stats.root_kthreads = nk;
}

/* The wall's own copy of the grants: the array and their strings in one allocation (a change of one
 * grant copies them all, so one malloc rather than two per grant); free() frees it. */
static CpusetGrant *grants_copy(const CpusetGrant *grants, size_t n) {
        size_t size = (n ? n : 1) * sizeof(CpusetGrant);
        CpusetGrant *g;
        char *p;

        for (size_t i = 0; i < n; i++) {
                const char *label = grants[i].label ? grants[i].label : grants[i].cgroup;

                size += strlen(grants[i].cgroup) + 1 + strlen(label) + 1;
        }
        g = calloc(1, size);
        if (!g)
                return NULL;
        p = (char *) (g + (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
                const char *label = grants[i].label ? grants[i].label : grants[i].cgroup;

                g[i].nodes = grants[i].nodes;
                g[i].cgroup = p;
                p = stpcpy(p, grants[i].cgroup) + 1;
                g[i].label = p;
                p = stpcpy(p, label) + 1;
        }
        return g;
}

static int copy_input(CpusetWall *w, const CpusetInput *in) {
        CpusetGrant *g = grants_copy(in->grants, in->n_grants);

        if (!g)
                return -ENOMEM;
        free(w->grants);
        w->grants = g;
        w->in = *in;
        w->in.grants = g;
        w->in_gen++;
        return 0;
}

static void forget_watches(CpusetWall *w) {
        /* Forget watches on cgroups that no longer let SPM nodes through. */
        for (size_t i = 0; i < w->n_watches;)
                if (!cpuset_is_gateway(&w->in, w->watches[i]->path))
                        watch_drop(w, i);
                else
                        i++;
}

/* A full pass's start: the new inputs, the gateways, the walk at the root (its steps follow). */
static int pass_begin(CpusetWall *w, const CpusetInput *in, Walk *k) {
        unsigned new_cgroups = w->stats.new_cgroups;
        int r;

        r = copy_input(w, in);
        if (r < 0)
                return log_oom();
        w->stats = (CpusetStats){ .new_cgroups = new_cgroups };
        forget_watches(w);

        if (!nodemask_empty(&w->in.spm)) {
                _cleanup_(strv_freep) char **seen = NULL;

                /* Gateways: the root, and every existing cgroup above a grant, each once (200 grants
                 * below one cgroup: one look at it, not 200). Top-down, so each controller is
                 * enabled before its children need it. */
                (void) gateway_setup(w, "");
                for (size_t i = 0; i < w->in.n_grants; i++) {
                        const char *g = w->in.grants[i].cgroup;

                        for (const char *s = strchr(g + 1, '/'); s; s = strchr(s + 1, '/')) {
                                _cleanup_free_ char *prefix = strndup(g, (size_t) (s - g));

                                if (!prefix)
                                        return log_oom();
                                if (strv_contains(seen, prefix))
                                        continue;
                                if (cpuset_is_gateway(&w->in, prefix))
                                        (void) gateway_setup(w, prefix);
                                if (strv_extend(&seen, prefix) < 0)
                                        return log_oom();
                        }
                }
        }
        *k = (Walk){ .ret = -ENOMEM }; /* the root's frame sets it, if there is one */
        (void) walk_push(w, k, "", 0);
        return 0;
}

/* A full pass's end (its walk returned R): the counts. Returns the failed writes. */
static int pass_end(CpusetWall *w, int r) {
        if (r < 0) {
                w->stats.errors++;
                log_error_errno(r, "A cgroup below the root could be neither walled nor shut (%m): it may reach the "
                                   "SPM nodes.");
        }
        for (size_t i = 0; i < w->in.n_grants; i++) {
                _cleanup_free_ char *p = cg_path(w, w->in.grants[i].cgroup, NULL);

                if (p && access(p, F_OK) == 0)
                        w->stats.granted++;
                else
                        w->stats.pending_grants++;
        }
        return (int) w->stats.errors;
}

/* A pass in slices stops where it is (it ended, or a whole pass replaces it); returns who waited
 * for it, no longer told by the wall. */
static CpusetPassDone pass_cancel(CpusetWall *w, void **ret_userdata) {
        CpusetPassDone done = w->pass_done;

        *ret_userdata = w->pass_userdata;
        w->pass_done = NULL;
        w->pass_userdata = NULL;
        if (w->pass_source)
                (void) sd_event_source_set_enabled(w->pass_source, SD_EVENT_OFF);
        if (w->pass_running) {
                walk_clear(&w->pass_walk);
                w->pass_running = false;
        }
        return done;
}

int cpuset_wall_apply(CpusetWall *w, const CpusetInput *in) {
        void *userdata;
        CpusetPassDone done = pass_cancel(w, &userdata);
        Walk k;
        int r;

        r = pass_begin(w, in, &k);
        if (r >= 0) {
                while (walk_step(w, &k))
                        ;
                walk_clear(&k);
                r = pass_end(w, k.ret);
        }
        if (done) /* this pass did what the one in slices was to do */
                done(r, userdata);
        return r;
}

/* Look at cgroups until PASS_SLICE_USEC has gone by, then let the loop serve the rest. */
#define PASS_SLICE_USEC (2 * USEC_PER_MSEC)

static int on_pass_slice(sd_event_source *s, void *userdata) {
        CpusetWall *w = userdata;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        CpusetPassDone done;
        void *done_userdata;
        bool more;
        int r;

        do
                more = walk_step(w, &w->pass_walk);
        while (more && now_usec(CLOCK_MONOTONIC) - t0 < PASS_SLICE_USEC);
        if (more)
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        r = pass_end(w, w->pass_walk.ret);
        done = pass_cancel(w, &done_userdata); /* the walk is over: what is left of it goes */
        if (done)
                done(r, done_userdata);
        return 0;
}

int cpuset_wall_apply_sliced(CpusetWall *w, const CpusetInput *in, int64_t priority, CpusetPassDone done,
                             void *userdata) {
        CpusetStats shown = w->pass_running ? w->shown_stats : w->stats; /* the last whole pass's */
        void *old_userdata;
        CpusetPassDone old = pass_cancel(w, &old_userdata);
        int r;

        assert(!old || (old == done && old_userdata == userdata)); /* one caller at a time */
        (void) old;
        if (!w->pass_source) {
                r = sd_event_add_defer(w->event, &w->pass_source, on_pass_slice, w);
                if (r < 0)
                        return r;
        }
        r = sd_event_source_set_priority(w->pass_source, priority);
        if (r < 0)
                return r;
        r = pass_begin(w, in, &w->pass_walk);
        if (r < 0)
                return r;
        w->shown_stats = shown; /* until the pass ends, the counts of the last whole one */
        w->pass_running = true;
        w->pass_done = done;
        w->pass_userdata = userdata;
        r = sd_event_source_set_enabled(w->pass_source, SD_EVENT_ONESHOT);
        if (r < 0) { /* no slices: the pass here, at once, and nobody called back */
                while (walk_step(w, &w->pass_walk))
                        ;
                r = pass_end(w, w->pass_walk.ret);
                (void) pass_cancel(w, &old_userdata);
                return r;
        }
        return 1;
}

/*
 * After grants on the cgroups in changed came or went, with the SPM nodes as
 * they were: only the changed cgroups, their ancestors, and the children of
 * an ancestor that now lets more through than before need another look.
 * Everything else is as the last pass left it.
 */
static int walk_changed(CpusetWall *w, const CpusetInput *old, const char *path, unsigned depth,
                        const char *const *changed, size_t n_changed) {
        NodeMask planned = cpuset_open_for_children(&w->in, path), now = effective_spm(w, path);
        NodeMask was = cpuset_open_for_children(old, path);
        NodeMask parent_open = nodemask_or(&planned, &now), before = nodemask_or(&was, &now);
        size_t len = strlen(path);
        int ret = 0;

        if (depth > CGROUP_DEPTH_MAX)
                return -ELOOP;
        if (!nodemask_subset(&planned, &before))
                return walk(w, path, depth); /* more gets through here than before: every child again */
        for (size_t i = 0; i < n_changed; i++) {
                const char *c = changed[i], *end;
                _cleanup_free_ char *child = NULL;
                bool seen = false;
                NodeMask need;
                int r;

                if (!cgroup_path_covers(path, c) || strcmp(path, c) == 0 || (len > 0 && c[len] != '/'))
                        continue;
                end = strchrnul(c + len + 1, '/');
                child = strndup(c, (size_t) (end - c));
                if (!child) {
                        ret = -ENOMEM;
                        continue;
                }
                for (size_t j = 0; j < i && !seen; j++)
                        seen = cgroup_path_covers(child, changed[j]) && cgroup_path_covers(path, changed[j]);
                if (seen)
                        continue; /* handled with an earlier changed path below the same child */
                need = cpuset_need(&w->in, child);
                if (nodemask_empty(&need))
                        r = wall_one(w, child, &parent_open);
                else {
                        r = wall_after_below(w, child, &parent_open,
                                             walk_changed(w, old, child, depth + 1, changed, n_changed));
                }
                if (r < 0)
                        ret = r;
        }
        return ret;
}

int cpuset_wall_apply_changed(CpusetWall *w, const CpusetInput *in, const char *const *changed, size_t n_changed) {
        CpusetInput old = w->in;
        CpusetGrant *old_grants = w->grants;
        unsigned errors = w->stats.errors;
        int r;

        if (!nodemask_same(&in->spm, &w->in.spm) || !nodemask_same(&in->sysram, &w->in.sysram) ||
            !nodemask_same(&in->usable, &w->in.usable))
                return cpuset_wall_apply(w, in);

        /* copy_input frees the old grants: keep them for the comparison */
        w->grants = NULL;
        w->in.n_grants = 0;
        r = copy_input(w, in);
        if (r < 0) {
                w->grants = old_grants;
                w->in = old;
                return log_oom();
        }
        forget_watches(w);
        w->stats.errors = 0;
        for (size_t i = 0; i < n_changed && !nodemask_empty(&w->in.spm); i++)
                for (const char *s = strchr(changed[i] + 1, '/'); s; s = strchr(s + 1, '/')) {
                        _cleanup_free_ char *prefix = strndup(changed[i], (size_t) (s - changed[i]));

                        if (!prefix) {
                                w->stats.errors++;
                                break;
                        }
                        if (cpuset_is_gateway(&w->in, prefix) && watch_index(w, prefix) < 0)
                                (void) gateway_setup(w, prefix);
                }
        r = walk_changed(w, &old, "", 0, changed, n_changed);
        if (r < 0) {
                w->stats.errors++;
                log_error_errno(r, "A cgroup below the root could be neither walled nor shut (%m): it may reach the "
                                   "SPM nodes.");
        }
        free(old_grants);
        r = (int) w->stats.errors;
        w->stats.errors += errors;
        return r;
}

/* ---- new cgroups ---- */

/* A cgroup PATH appeared below PARENT (or was found below one that did). Returns <0 when it could be
 * neither walled nor shut: PARENT must then shut. */
static int handle_new(CpusetWall *w, const char *parent, const char *path, unsigned depth) {
        NodeMask planned = cpuset_open_for_children(&w->in, parent), now = effective_spm(w, parent);
        NodeMask parent_open = nodemask_or(&planned, &now);
        _cleanup_(strv_freep) char **names = NULL;
        int r, ret = 0;

        if (depth > CGROUP_DEPTH_MAX)
                return -ELOOP;
        w->stats.new_cgroups++;
        for (size_t i = 0; i < w->in.n_grants; i++)
                if (strcmp(w->in.grants[i].cgroup, path) == 0 && w->grant_appeared)
                        w->grant_appeared(path, w->userdata);
        /* A new gateway (a grant's ancestor appearing) first walls what is already below it. */
        if (!cpuset_is_gateway(&w->in, path)) {
                r = wall_one(w, path, &parent_open);
                if (r > 0)
                        log_debug("New cgroup %s walled off the SPM nodes.", path);
                return r < 0 ? r : 0;
        }
        (void) gateway_setup(w, path);
        if (w->grant_appeared)
                w->grant_appeared(path, w->userdata);
        r = list_children(w, path, &names);
        if (r < 0)
                return r == -ENOENT && cgroup_gone(w, path) ? 0 : wall_shut(w, path, &parent_open, r);
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *child = cg_child(path, *n);

                r = child ? handle_new(w, path, child, depth + 1) : -ENOMEM;
                if (r < 0)
                        ret = r;
        }
        r = wall_after_below(w, path, &parent_open, ret);
        return r < 0 ? r : 0;
}

/* Shut PATH (a gateway a new cgroup appeared below that could not be walled, R). */
static void shut_gateway(CpusetWall *w, const char *path, int r) {
        _cleanup_free_ char *up = NULL;
        const char *slash = strrchr(path, '/');
        NodeMask planned, now, open;

        if (path[0] == '\0' || !slash) {
                w->stats.errors++;
                log_error_errno(r, "A new cgroup below the root could not be walled (%m): it may reach the SPM nodes.");
                return;
        }
        up = strndup(path, (size_t) (slash - path));
        if (!up) {
                w->stats.errors++;
                log_oom();
                return;
        }
        planned = cpuset_open_for_children(&w->in, up);
        now = effective_spm(w, up);
        open = nodemask_or(&planned, &now);
        if (wall_shut(w, path, &open, r) < 0)
                w->stats.errors++;
}

static int on_overflow(sd_event_source *s, void *userdata) {
        CpusetWall *w = userdata;
        CpusetInput in = w->in;

        (void) s;
        log_warning("Too many new cgroups at once (inotify queue overflow): checking the whole tree.");
        (void) cpuset_wall_apply(w, &in);
        return 0;
}

/* A gateway got a child (sd-event's inotify), or the kernel dropped events: every watch hears of
 * that, and the whole tree is walked once, after them. */
static int on_inotify(sd_event_source *s, const struct inotify_event *e, void *userdata) {
        Watch *x = userdata;
        CpusetWall *w = x->wall;

        (void) s;
        if (e->mask & IN_Q_OVERFLOW) {
                if (!w->overflow && sd_event_add_defer(w->event, &w->overflow, on_overflow, w) >= 0)
                        (void) sd_event_source_set_priority(w->overflow, SD_EVENT_PRIORITY_IMPORTANT);
                (void) sd_event_source_set_enabled(w->overflow, SD_EVENT_ONESHOT);
                return 0;
        }
        if (e->mask & IN_IGNORED) { /* the directory is gone */
                for (size_t i = 0; i < w->n_watches; i++)
                        if (w->watches[i] == x) {
                                watch_drop(w, i);
                                break;
                        }
                return 0;
        }
        if (!(e->mask & IN_CREATE) || !(e->mask & IN_ISDIR) || e->len == 0)
                return 0;
        /* copies: the pass may drop this watch */
        _cleanup_free_ char *parent = strdup(x->path), *child = cg_child(x->path, e->name);
        int r;

        w->sync_writes = true;
        r = parent && child ? handle_new(w, parent, child, cgroup_path_depth(child)) : -ENOMEM;
        if (r < 0 && parent)
                shut_gateway(w, parent, r);
        w->sync_writes = false;
        return 0;
}

/* ---- life cycle ---- */

int cpuset_wall_new(sd_event *event, const char *root, CpusetWall **ret, char **ret_reason) {
        _cleanup_(cpuset_wall_freep) CpusetWall *w = NULL;
        char buf[512];
        struct statfs sfs;
        bool found = false;
        int r;

        *ret_reason = NULL;
        if (statfs(root, &sfs) < 0) {
                r = -errno;
                (void) asprintf(ret_reason, "cannot look at %s: %s", root, strerror(-r));
                return r;
        }
        if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
                (void) asprintf(ret_reason, "%s is not a cgroup2 mount (a cgroup v1 or hybrid hierarchy; spmd "
                                            "needs the unified hierarchy)", root);
                return -EMEDIUMTYPE;
        }

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->root = strdup(root);
        if (!w->root)
                return -ENOMEM;
        r = read_attr(w, "", "cgroup.controllers", buf, sizeof buf);
        if (r < 0) {
                (void) asprintf(ret_reason, "cannot read %s/cgroup.controllers: %s", root, strerror(-r));
                return r;
        }
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
                found = found || strcmp(t, "cpuset") == 0;
        if (!found) {
                (void) asprintf(ret_reason, "the cpuset controller is not in %s/cgroup.controllers (bound to a "
                                            "cgroup v1 hierarchy, or not built into the kernel)", root);
                return -EOPNOTSUPP;
        }

        w->event = sd_event_ref(event);
        *ret = TAKE_PTR(w);
        return 0;
}

CpusetWall *cpuset_wall_free(CpusetWall *w) {
        if (!w)
                return NULL;
        /* what was decided is written before spmd lets go (the walls outlive it) */
        w->writer = worker_free(w->writer);
        w->running = NULL; /* freed with the writer, its writes done */
        queue_write_now(w);
        while (w->n_watches > 0)
                watch_drop(w, 0);
        walk_clear(&w->pass_walk); /* a pass in slices stops; whoever waited is going too */
        sd_event_source_disable_unref(w->pass_source);
        sd_event_source_disable_unref(w->overflow);
        sd_event_unref(w->event);
        free(w->watches);
        free(w->grants);
        free(w->root);
        free(w);
        return NULL;
}

void cpuset_wall_set_manager(CpusetWall *w, CpusetSetUnitMems set_mems, void *userdata) {
        w->set_unit_mems = set_mems;
        w->manager_userdata = userdata;
}

void cpuset_wall_on_grant_appeared(CpusetWall *w, CpusetGrantAppeared cb, void *userdata) {
        w->grant_appeared = cb;
        w->userdata = userdata;
}

void cpuset_wall_on_written(CpusetWall *w, CpusetWritten cb, void *userdata) {
        w->written = cb;
        w->written_userdata = userdata;
}

uint64_t cpuset_wall_writing(const CpusetWall *w) {
        return w->seq_queued > w->seq_done ? w->seq_queued : 0;
}

uint64_t cpuset_wall_writing_for(const CpusetWall *w, const char *path) {
        const WallWrite *x;
        uint64_t seq = 0;

        for (size_t i = 0; (x = waiting_write(w, i)); i++)
                if (cgroup_path_covers(path, x->path) || cgroup_path_covers(x->path, path))
                        seq = x->seq;
        return seq;
}

bool cpuset_wall_written(const CpusetWall *w, uint64_t seq) {
        return seq <= w->seq_done;
}

NodeMask cpuset_wall_spm(const CpusetWall *w) {
        return w->in.spm;
}

void cpuset_wall_stats(CpusetWall *w, CpusetStats *ret) {
        count_root_procs(w);
        *ret = w->stats;
        if (w->pass_running) { /* the counts of the last whole pass, the root's processes now */
                unsigned procs = ret->root_procs, kthreads = ret->root_kthreads;

                *ret = w->shown_stats;
                ret->root_procs = procs;
                ret->root_kthreads = kthreads;
        }
}
