/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Watching the SPM nodes: free memory from the node's meminfo and, for a
 * compressed device, the ratio its driver exposes (CompressionRatioPath=),
 * turned into a level by pressure.c, reported on change (journal,
 * PressureChanged), used to refuse new grants (RefuseGrantsAt=) and handed
 * to act.c, which reclaims and evacuates.
 *
 * Free memory has no notification: it is sampled once a second, and as
 * often as act.c acts. The ratio is read when it changes: POLLPRI on a sysfs
 * attribute (a driver that calls sysfs_notify()), inotify on a regular file
 * (written and closed, or renamed into place); and on every sample.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "act.h"
#include "demote.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "pressure.h"
#include "strv.h"
#include "time-util.h"
#include "topology.h"
#include "worker.h"
#include "watch.h"

#define SAMPLE_USEC (1000 * 1000)
#define HEALTH_USEC (10 * 1000 * 1000) /* GET_HEALTH_INFO is a mailbox command: not every second */
#define SYSFS_MAGIC_NUMBER 0x62656572
#define PSI_READ_HERE_MAX 4 /* granted cgroups whose memory.pressure is read on the loop, not the thread */

int read_node_meminfo(unsigned node, uint64_t *size, uint64_t *free_bytes) {
        return topology_node_memory_at("", node, NULL, size, free_bytes, NULL);
}

/* The ratio a driver exposes; 0 when there is no source, -errno (logged once per streak) when it fails. */
static double read_ratio(NodePressure *np) {
        char buf[64];
        double v;
        int r;

        if (!np->ratio_path)
                return 0;
        /* opened each time, not held: the operator's file may be replaced by a rename */
        r = read_one_line(np->ratio_path, buf, sizeof buf);
        if (r < 0) {
                if (!np->ratio_failing)
                        log_warning("Node %u: cannot read its compression ratio from %s (CompressionRatioPath=): "
                                    "%s; the ratio is left out until it reads again.",
                                    np->node, np->ratio_path, r == -ENODATA ? "empty" : strerror(-r));
                np->ratio_failing = true;
                return 0;
        }
        if (parse_double(buf, &v) < 0 || v <= 0) {
                if (!np->ratio_failing)
                        log_warning("Node %u: %s reads '%s', not a compression ratio (a positive number); the ratio "
                                    "is left out until it reads again.",
                                    np->node, np->ratio_path, buf);
                np->ratio_failing = true;
                return 0;
        }
        if (np->ratio_failing)
                log_info("Node %u: %s reads a compression ratio again (%.2f).", np->node, np->ratio_path, v);
        np->ratio_failing = false;
        return v;
}

/* ---- PSI ---- */

static int on_psi_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/*
 * PSI triggers are opened and closed in a thread of their own, in batches: both wait in the kernel.
 * Closing one waits for an RCU grace period and, with a cgroup's last trigger, for its psimon
 * thread to stop (psi_trigger_destroy()); opening a cgroup's first starts that thread. In the test
 * guest a close took 30-250 ms and an open over 15 ms, and 200 grant clients coming and going did
 * several of each a second. A watch waits for its trigger with `arming` set; what comes back for
 * a watch that went meanwhile (or for triggers of an older PsiWarn=/PsiWindow=, told by the
 * generation) is closed in the next batch.
 */
typedef struct TriggerJob {
        WorkerJob job;
        int *close_fds;         /* -1 once closed */
        size_t n_close;
        char **paths;           /* memory.pressure files to open a trigger on */
        int *opened;            /* their fds, or -errno; -1 once handed over */
        size_t n_open;
        uint64_t stall_usec, window_usec;
        unsigned gen;           /* pr->psi_gen when made */
} TriggerJob;

static void trigger_job_run(WorkerJob *job) {
        TriggerJob *j = (TriggerJob *) job;

        for (size_t i = 0; i < j->n_close; i++)
                j->close_fds[i] = safe_close(j->close_fds[i]);
        for (size_t i = 0; i < j->n_open; i++)
                j->opened[i] = psi_open_trigger(j->paths[i], j->stall_usec, j->window_usec);
}

/* Also when the worker goes before the loop took the results: what is still open is closed here. */
static void trigger_job_free(WorkerJob *job) {
        TriggerJob *j = (TriggerJob *) job;

        for (size_t i = 0; i < j->n_close; i++)
                safe_close(j->close_fds[i]);
        for (size_t i = 0; j->opened && i < j->n_open; i++)
                if (j->opened[i] >= 0)
                        safe_close(j->opened[i]);
        free(j->close_fds);
        strv_free(j->paths);
        free(j->opened);
        free(j);
}

/* W has no trigger yet, none is being opened, and one is wanted (PsiWarn= is not 0%). */
static bool psi_watch_wants_trigger(const Pressure *pr, const PsiWatch *w) {
        return pr_config(pr)->psi_warn > 0 && !w->trigger && !w->arming && !w->arm_failed;
}

/* The stall a trigger fires at: PsiWarn= of PsiWindow=. */
static uint64_t psi_trigger_stall_usec(const Pressure *pr) {
        return (uint64_t) pr_config(pr)->psi_warn * pr_config(pr)->psi_window_usec / 10000;
}

/* The triggers waiting to be closed, closed here (no thread to be had, or spmd stopping). */
static void psi_close_waiting_now(Pressure *pr) {
        for (size_t i = 0; i < pr->n_psi_closing; i++)
                safe_close(pr->psi_closing[i]);
        pr->psi_closing = mfree(pr->psi_closing);
        pr->n_psi_closing = 0;
}

static void psi_trigger_attach(Pressure *pr, PsiWatch *w, int fd) {
        if (sd_event_add_io(pr->event, &w->trigger, fd, EPOLLPRI, on_psi_trigger, pr) < 0) {
                close(fd);
                return;
        }
        (void) sd_event_source_set_io_fd_own(w->trigger, true);
}

static void psi_trigger_failed(PsiWatch *w, int r) {
        w->arm_failed = true;
        log_debug_errno(r, "No PSI trigger on %s (it is read once a second): %m", w->path);
}

/* Here, where the thread cannot be had: the closes waiting and the triggers wanted. */
static void psi_triggers_now(Pressure *pr) {
        psi_close_waiting_now(pr);
        for (size_t i = 0; i < pr->n_psi; i++) {
                PsiWatch *w = &pr->psi[i];
                int fd;

                if (!psi_watch_wants_trigger(pr, w))
                        continue;
                fd = psi_open_trigger(w->path, psi_trigger_stall_usec(pr), pr_config(pr)->psi_window_usec);
                if (fd < 0)
                        psi_trigger_failed(w, fd);
                else
                        psi_trigger_attach(pr, w, fd);
        }
}

static void on_triggers_done(WorkerJob *job, void *userdata);

/* Hand the thread the triggers to close and those to open, unless it is still at earlier ones. */
static void psi_triggers_kick(Pressure *pr) {
        size_t n_open = 0;
        TriggerJob *j;

        if (pr->psi_triggers && worker_busy(pr->psi_triggers))
                return; /* on_triggers_done() kicks again */
        for (size_t i = 0; i < pr->n_psi; i++)
                n_open += psi_watch_wants_trigger(pr, &pr->psi[i]);
        if (pr->n_psi_closing == 0 && n_open == 0)
                return;
        if ((!pr->psi_triggers && worker_new(pr->event, on_triggers_done, pr, &pr->psi_triggers) < 0) ||
            !(j = calloc(1, sizeof *j))) {
                psi_triggers_now(pr);
                return;
        }
        *j = (TriggerJob){ .job.run = trigger_job_run, .job.free = trigger_job_free, .gen = pr->psi_gen,
                           .stall_usec = psi_trigger_stall_usec(pr), .window_usec = pr_config(pr)->psi_window_usec };
        j->paths = calloc(n_open + 1, sizeof *j->paths);
        j->opened = calloc(n_open + 1, sizeof *j->opened);
        if (!j->paths || !j->opened)
                goto fail;
        for (size_t i = 0; n_open && i < pr->n_psi; i++) {
                PsiWatch *w = &pr->psi[i];

                if (!psi_watch_wants_trigger(pr, w))
                        continue;
                if (!(j->paths[j->n_open] = strdup(w->path)))
                        goto fail;
                j->opened[j->n_open++] = -1;
        }
        /* the job owns the fds to close from here; the watches wait for theirs */
        j->close_fds = pr->psi_closing;
        j->n_close = pr->n_psi_closing;
        pr->psi_closing = NULL;
        pr->n_psi_closing = 0;
        if (worker_submit(pr->psi_triggers, &j->job) < 0) {
                pr->psi_closing = j->close_fds;
                pr->n_psi_closing = j->n_close;
                j->close_fds = NULL;
                j->n_close = 0;
                goto fail;
        }
        for (size_t i = 0; n_open && i < pr->n_psi; i++)
                if (psi_watch_wants_trigger(pr, &pr->psi[i])) /* those the job opens for */
                        pr->psi[i].arming = true;
        return;
fail:
        trigger_job_free(&j->job);
        psi_triggers_now(pr);
}

/* FD is closed in the thread's next batch (here, without room to note it). */
static void psi_close_later(Pressure *pr, int fd) {
        int *n = reallocarray(pr->psi_closing, pr->n_psi_closing + 1, sizeof *n);

        if (!n) {
                safe_close(fd);
                return;
        }
        pr->psi_closing = n;
        pr->psi_closing[pr->n_psi_closing++] = fd;
}

/* A batch is done (on the loop): each trigger to the watch that waits for it, or to be closed. */
static void on_triggers_done(WorkerJob *job, void *userdata) {
        TriggerJob *j = (TriggerJob *) job;
        Pressure *pr = userdata;

        for (size_t i = 0; i < j->n_open; i++) {
                PsiWatch *w = NULL;

                for (size_t k = 0; j->gen == pr->psi_gen && k < pr->n_psi && !w; k++)
                        if (pr->psi[k].arming && strcmp(pr->psi[k].path, j->paths[i]) == 0)
                                w = &pr->psi[k];
                if (w)
                        w->arming = false;
                if (j->opened[i] < 0) {
                        if (w)
                                psi_trigger_failed(w, j->opened[i]);
                } else if (w)
                        psi_trigger_attach(pr, w, j->opened[i]);
                else
                        psi_close_later(pr, j->opened[i]);
                j->opened[i] = -1;
        }
        psi_triggers_kick(pr); /* what came meanwhile */
}

/* The watch goes; its trigger is closed off the loop (psi_triggers_kick() hands it over). */
static void psi_watch_clear(Pressure *pr, PsiWatch *w) {
        if (w->trigger) {
                int fd = sd_event_source_get_io_fd(w->trigger);

                /* if the source cannot let go of it, it closes it here */
                if (fd >= 0 && sd_event_source_set_io_fd_own(w->trigger, false) >= 0)
                        psi_close_later(pr, fd);
        }
        w->trigger = sd_event_source_disable_unref(w->trigger);
        held_file_close(&w->file);
        w->cgroup = mfree(w->cgroup);
        w->path = mfree(w->path);
}

/* A read of w's memory.pressure (R, TOTAL) made at NOW, into its history and share. */
static void psi_watch_fold(PsiWatch *w, const Config *c, int r, uint64_t total, uint64_t now) {
        if (r < 0) {
                if (w->valid)
                        log_debug_errno(r, "Cannot read %s: %m", w->path);
                w->valid = false;
                return;
        }
        psi_history_add(&w->history, now, total);
        w->share = psi_history_share(&w->history, c->psi_window_usec);
        w->valid = true;
}

/* Follow the memory PSI of exactly the granted cgroups that hold SPM nodes. */
static void psi_sync(Pressure *pr) {
        for (size_t i = 0; i < pr->n_psi; i++)
                pr->psi[i].nodes = (NodeMask){};
        for (size_t i = 0; i < pr->n_nodes; i++) {
                _cleanup_(strv_freep) char **cgroups = pressure_node_cgroups(pr, pr->nodes[i].node);

                for (char **c = cgroups; c && *c; c++) {
                        PsiWatch *w = NULL;

                        for (size_t k = 0; k < pr->n_psi && !w; k++)
                                if (strcmp(pr->psi[k].cgroup, *c) == 0)
                                        w = &pr->psi[k];
                        if (!w) {
                                PsiWatch *n = realloc(pr->psi, (pr->n_psi + 1) * sizeof *n);
                                if (!n) {
                                        log_oom();
                                        return;
                                }
                                pr->psi = n;
                                w = &pr->psi[pr->n_psi];
                                *w = (PsiWatch){ .cgroup = strdup(*c) };
                                if (!w->cgroup || asprintf(&w->path, "%s/memory.pressure", *c) < 0) {
                                        free(w->cgroup);
                                        log_oom();
                                        return;
                                }
                                pr->n_psi++; /* its trigger comes from the thread */
                        }
                        nodemask_set(&w->nodes, pr->nodes[i].node);
                }
        }
        for (size_t i = 0; i < pr->n_psi;)
                if (nodemask_empty(&pr->psi[i].nodes)) {
                        psi_watch_clear(pr, &pr->psi[i]);
                        pr->psi[i] = pr->psi[--pr->n_psi];
                } else
                        i++;
        psi_triggers_kick(pr);
}

static void psi_drop_all(Pressure *pr) {
        for (size_t i = 0; i < pr->n_psi; i++)
                psi_watch_clear(pr, &pr->psi[i]);
        pr->psi = mfree(pr->psi);
        pr->n_psi = 0;
        if (pr->system_psi) {
                psi_watch_clear(pr, pr->system_psi);
                pr->system_psi = mfree(pr->system_psi);
        }
        pr->psi_gen++; /* a batch under way opens triggers for watches that are gone */
        /* their triggers go with the next psi_sync()'s batch, or with pressure_free() */
}

const PsiWatch *pressure_psi_watch(const Pressure *pr, const char *cgroup) {
        for (size_t i = 0; i < pr->n_psi; i++)
                if (strcmp(pr->psi[i].cgroup, cgroup) == 0)
                        return &pr->psi[i];
        return NULL;
}

/* The highest stall share of the granted cgroups holding node (as the last psi_sync() found them). */
static bool node_psi(Pressure *pr, unsigned node, uint32_t *ret) {
        bool any = false;

        *ret = 0;
        for (size_t i = 0; i < pr->n_psi; i++)
                if (pr->psi[i].valid && nodemask_test(&pr->psi[i].nodes, node)) {
                        any = true;
                        *ret = MAX(*ret, pr->psi[i].share);
                }
        return any;
}

/* ---- CXL device health (libcxl GET_HEALTH_INFO) ---- */

static void read_health(NodePressure *np, uint64_t now) {
        PressureLevel level = PRESSURE_OK;
        char why[sizeof np->health_why] = "";
        size_t len = 0;

        if (np->n_memdevs == 0 || (np->health_usec && now - np->health_usec < HEALTH_USEC))
                return;
        np->health_usec = now;
        for (unsigned i = 0; i < np->n_memdevs; i++) {
                CxlMemdevInfo h;
                int r = topology_memdev_health(np->memdevs[i], &h);
                PressureLevel l = PRESSURE_OK;
                char one[200];

                if (r < 0)
                        snprintf(one, sizeof one, "CXL %s: gone (%s)", np->memdevs[i], strerror(-r));
                else if (!h.health_valid)
                        snprintf(one, sizeof one, "CXL %s: health unavailable: %s", np->memdevs[i], h.health_error);
                else if (!h.media_normal)
                        snprintf(one, sizeof one, "CXL %s: media not normal", np->memdevs[i]), l = PRESSURE_CRITICAL;
                else if (h.life_used >= 90)
                        snprintf(one, sizeof one, "CXL %s: %d%% of its life used", np->memdevs[i], h.life_used),
                                l = PRESSURE_WARN;
                else
                        snprintf(one, sizeof one, "CXL %s: media normal, life used %s%d%%", np->memdevs[i],
                                 h.life_used < 0 ? "unknown " : "", h.life_used < 0 ? 0 : h.life_used);
                if (l > level) {
                        level = l;
                        len = 0; /* the worst device names the reason */
                        why[0] = '\0';
                }
                if (l == level && len < sizeof why - 1) {
                        int w = snprintf(why + len, sizeof why - len, "%s%s", len ? "; " : "", one);
                        len = w > 0 ? MIN(len + (size_t) w, sizeof why - 1) : len;
                }
        }
        if (level != np->health || strcmp(why, np->health_why) != 0)
                log_full(level > PRESSURE_OK ? LOG_WARNING : LOG_INFO, "SPM node %u: %s.", np->node, why);
        np->health = level;
        snprintf(np->health_why, sizeof np->health_why, "%s", why);
}

/* ---- PSI reads, in a thread of their own ---- */

/* Every followed memory.pressure, read off the loop: 200 granted cgroups took 60-100 ms of the loop
 * to read in the test guest, once a second and after each reclaim and evacuation job. Up to
 * PSI_READ_HERE_MAX of them are read on the loop: handing the system's file alone to the thread
 * and back was most of an idle spmd's PSI cost (counted idle CPU 1.33x the target with, 1.13x
 * without). */
typedef struct PsiJob {
        WorkerJob job;
        char **paths;     /* copies: the watches may change while it runs */
        uint64_t *totals;
        int *results;
        size_t n;
        uint64_t at;      /* when read (CLOCK_MONOTONIC) */
} PsiJob;

static void psi_job_run(WorkerJob *job) {
        PsiJob *j = (PsiJob *) job;

        j->at = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < j->n; i++)
                j->results[i] = psi_read_some_total(j->paths[i], NULL, &j->totals[i]);
}

static void psi_job_free(WorkerJob *job) {
        PsiJob *j = (PsiJob *) job;

        strv_free(j->paths);
        free(j->totals);
        free(j->results);
        free(j);
}

/* The watch read as the job's Ith path: most often still the Ith watch. */
static PsiWatch *psi_watch_by_path(Pressure *pr, size_t i, const char *path) {
        if (i < pr->n_psi && strcmp(pr->psi[i].path, path) == 0)
                return &pr->psi[i];
        for (i = 0; i < pr->n_psi; i++)
                if (strcmp(pr->psi[i].path, path) == 0)
                        return &pr->psi[i];
        return pr->system_psi && strcmp(pr->system_psi->path, path) == 0 ? pr->system_psi : NULL;
}

static void sample_all(Pressure *pr);

/* The reads are in (on the loop): into the watches still followed, then the levels from them. */
static void on_psi_read(WorkerJob *job, void *userdata) {
        Pressure *pr = userdata;
        PsiJob *j = (PsiJob *) job;

        for (size_t i = 0; i < j->n; i++) {
                PsiWatch *w = psi_watch_by_path(pr, i, j->paths[i]);

                if (w)
                        psi_watch_fold(w, pr_config(pr), j->results[i], j->totals[i], j->at);
        }
        sample_all(pr);
        if (pr->ops.sampled)
                pr->ops.sampled(pr->userdata);
        act_kick(pr);
}

/* Here, where the thread cannot be had. */
static void psi_read_now(Pressure *pr) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < pr->n_psi + 1; i++) {
                PsiWatch *w = i < pr->n_psi ? &pr->psi[i] : pr->system_psi;
                uint64_t total = 0;
                int r;

                if (!w)
                        continue;
                /* read first: as arguments of one call, total could be taken before the read set it */
                r = psi_read_some_total(w->path, &w->file, &total);
                psi_watch_fold(w, pr_config(pr), r, total, now);
        }
}

/*
 * Follow the granted cgroups' PSI as the grants are now, and read it all in the thread; the levels
 * follow when the reads are in (on_psi_read()). false: nothing was handed to the thread (no PSI, or
 * a read runs already, whose results come soon), and the caller samples with what there is.
 */
static bool psi_refresh(Pressure *pr) {
        PsiJob *j;
        size_t k = 0;

        if (pr->psi_reason)
                return false;
        psi_sync(pr);
        if (pr->n_psi == 0 && !pr->system_psi)
                return false;
        /* a few files are cheaper read here than handed to the thread and back (an idle spmd reads
         * only /proc/pressure/memory) */
        if (pr->n_psi < PSI_READ_HERE_MAX && !(pr->psi_worker && worker_busy(pr->psi_worker))) {
                psi_read_now(pr);
                return false;
        }
        if (!pr->psi_worker && worker_new(pr->event, on_psi_read, pr, &pr->psi_worker) < 0) {
                psi_read_now(pr);
                return false;
        }
        if (worker_busy(pr->psi_worker))
                return false;
        j = calloc(1, sizeof *j);
        if (!j)
                goto now;
        j->job.run = psi_job_run;
        j->job.free = psi_job_free;
        j->paths = calloc(pr->n_psi + 2, sizeof *j->paths);
        j->totals = calloc(pr->n_psi + 1, sizeof *j->totals);
        j->results = calloc(pr->n_psi + 1, sizeof *j->results);
        if (!j->paths || !j->totals || !j->results)
                goto fail;
        for (size_t i = 0; i < pr->n_psi + 1; i++) {
                const PsiWatch *w = i < pr->n_psi ? &pr->psi[i] : pr->system_psi;

                if (w && !(j->paths[k++] = strdup(w->path)))
                        goto fail;
        }
        j->n = k;
        if (worker_submit(pr->psi_worker, &j->job) < 0)
                goto fail;
        return true;
fail:
        psi_job_free(&j->job);
now:
        psi_read_now(pr);
        return false;
}

/* Levels from a fresh look at each node, with the PSI shares as last read. */
static void sample_all(Pressure *pr) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < pr->n_nodes; i++) {
                NodePressure *np = &pr->nodes[i];
                PressureSample s = {};
                PressureLevel before = np->state.level;
                char why[160];

                uint64_t balloon = 0;
                int r = topology_node_memory_at("", np->node, &np->meminfo, &s.size, &s.free,
                                                np->balloon_counted < 0 ? NULL : &balloon);
                if (r < 0)
                        s.size = 0; /* the node went away: its device is being released */
                else if (np->balloon_counted == 0)
                        np->balloon_counted = r > 0 ? 1 : -1;
                /* capacity lost to a balloon (CRAM) since the node came: its largest size against now */
                np->nominal = s.size ? pressure_nominal_size(np->nominal, s.size, balloon) : 0;
                np->balloon = balloon;
                s.nominal = np->nominal;
                s.ratio = read_ratio(np);
                s.physical = np->physical;
                read_health(np, now);
                s.health = np->health;
                s.health_why = np->health_why;
                if (!pr->psi_reason)
                        s.psi_valid = node_psi(pr, np->node, &s.psi);
                if (s.size && pressure_counts_pcp(pr_config(pr), &s, before, np->act.reclaiming || np->act.evacuating)) {
                        uint64_t pcp;
                        if (topology_node_pcp_pages("", np->node, &pcp) >= 0)
                                s.free = MIN(s.size, s.free + pcp * (uint64_t) sysconf(_SC_PAGESIZE));
                }
                np->last = s;
                bool changed = pressure_step(&np->state, pr_config(pr), &s, now, why, sizeof why);

                snprintf(np->why, sizeof np->why, "%s", why);
                if (!changed)
                        continue;
                log_full(np->state.level > before ? (np->state.level == PRESSURE_CRITICAL ? LOG_ERR : LOG_WARNING)
                                                  : LOG_NOTICE,
                         "SPM node %u: pressure %s -> %s (%s).", np->node, pressure_level_to_string(before),
                         pressure_level_to_string(np->state.level), why);
                if (pr->ops.level_changed)
                        pr->ops.level_changed(pr->userdata, np->node, np->state.level, before, why);
        }
}

void pressure_sample(Pressure *pr) {
        sample_all(pr);
}

static int on_sample(sd_event_source *s, uint64_t usec, void *userdata) {
        Pressure *pr = userdata;

        (void) usec;
        if (!psi_refresh(pr)) {
                sample_all(pr);
                if (pr->ops.sampled)
                        pr->ops.sampled(pr->userdata);
                act_kick(pr);
        }
        (void) sd_event_source_set_time_relative(s, SAMPLE_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_psi_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Pressure *pr = userdata;

        (void) fd;
        if (revents & EPOLLERR) {
                /* the cgroup went away: the watch goes with the next sync */
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (!psi_refresh(pr)) {
                sample_all(pr);
                act_kick(pr);
        }
        return 0;
}

/* The ratio changed (or may have): sample now rather than at the next second. */
static int on_ratio_sysfs(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Pressure *pr = userdata;
        char buf[64];

        (void) s;
        (void) revents;
        /* re-arm: sysfs notifies once per read of the attribute */
        if (lseek(fd, 0, SEEK_SET) == 0)
                (void) !read(fd, buf, sizeof buf);
        sample_all(pr);
        act_kick(pr);
        return 0;
}

/* A ratio file's directory changed (sd-event's inotify): one of the nodes' files was written or
 * put in place, or the queue overflowed (every watch hears of it: sample then too). */
static int on_ratio_inotify(sd_event_source *s, const struct inotify_event *e, void *userdata) {
        Pressure *pr = userdata;
        bool hit = false;

        for (size_t i = 0; i < pr->n_nodes && !hit; i++) {
                NodePressure *np = &pr->nodes[i];
                const char *base = np->ratio_path ? strrchr(np->ratio_path, '/') : NULL;

                hit = np->ratio_watch == s && ((e->mask & IN_Q_OVERFLOW) ||
                                                (e->len > 0 && strcmp(e->name, base ? base + 1 : np->ratio_path) == 0));
        }
        if (hit) {
                sample_all(pr);
                act_kick(pr);
        }
        return 0;
}

static void unwatch_ratio(NodePressure *np) {
        np->ratio_source = sd_event_source_disable_unref(np->ratio_source);
        np->ratio_watch = sd_event_source_disable_unref(np->ratio_watch);
}

/* Follow np->ratio_path for changes; without a way to, it is still sampled once a second. */
static void watch_ratio(Pressure *pr, NodePressure *np) {
        _cleanup_free_ char *dir = NULL;
        struct statfs sf;
        int fd, r;

        if (!np->ratio_path)
                return;
        if (statfs(np->ratio_path, &sf) == 0 && (unsigned long) sf.f_type == SYSFS_MAGIC_NUMBER) {
                char buf[64];

                fd = open(np->ratio_path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return;
                (void) !read(fd, buf, sizeof buf);
                if (sd_event_add_io(pr->event, &np->ratio_source, fd, EPOLLPRI | EPOLLERR, on_ratio_sysfs, pr) < 0) {
                        close(fd);
                        return;
                }
                (void) sd_event_source_set_io_fd_own(np->ratio_source, true);
                return;
        }
        /* a regular file: its directory, as a writer may replace the file (rename) */
        dir = strdup(np->ratio_path);
        if (!dir)
                return;
        r = sd_event_add_inotify(pr->event, &np->ratio_watch, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR,
                                 on_ratio_inotify, pr);
        if (r < 0)
                log_debug_errno(r, "Cannot follow %s with inotify (%m); sampling it once a second.", np->ratio_path);
}

void pressure_follow(Pressure *pr) {
        NodeMask spm;
        NodePressure *n;
        size_t k = 0;

        pressure_spm_nodes(pr, &spm);
        n = calloc(SPMD_MAX_NODES, sizeof *n);
        if (!n) {
                log_oom();
                return;
        }
        for (unsigned node = 0; node < SPMD_MAX_NODES; node++) {
                if (!nodemask_test(&spm, node))
                        continue;
                n[k].node = node;
                /* a node keeps its state across reloads */
                for (size_t i = 0; i < pr->n_nodes; i++)
                        if (pr->nodes[i].node == node) {
                                n[k].state = pr->nodes[i].state;
                                snprintf(n[k].why, sizeof n[k].why, "%s", pr->nodes[i].why);
                        }
                for (size_t i = 0; i < pr->n_nodes; i++)
                        if (pr->nodes[i].node == node) {
                                n[k].act = pr->nodes[i].act;
                                pr->nodes[i].act.pids = NULL; /* moved */
                                pr->nodes[i].act.cold_ranges = NULL;
                        }
                for (size_t c = 0; c < pr->in.plan->n_claims && pr_topology(pr); c++) {
                        const DaxDevInfo *dax = pr->in.plan->claims[c].node == (int) node
                                                        ? topology_dax(pr_topology(pr), pr->in.plan->claims[c].dax)
                                                        : NULL;
                        const CxlRegionInfo *reg = dax && dax->cxl_region[0]
                                                           ? topology_cxl_region(pr_topology(pr), dax->cxl_region)
                                                           : NULL;
                        for (unsigned t = 0; reg && t < reg->n_targets && n[k].n_memdevs < ELEMENTSOF(n[k].memdevs); t++)
                                snprintf(n[k].memdevs[n[k].n_memdevs++], sizeof n[k].memdevs[0], "%s", reg->memdev[t]);
                }
                for (size_t c = 0; c < pr->in.plan->n_claims; c++)
                        if (pr->in.plan->claims[c].node == (int) node && pr->in.plan->claims[c].conf->ratio_path &&
                            !n[k].ratio_path) {
                                n[k].ratio_path = strdup(pr->in.plan->claims[c].conf->ratio_path);
                                n[k].physical = pr->in.plan->claims[c].conf->physical_capacity;
                        }
                k++;
        }
        for (size_t i = 0; i < pr->n_nodes; i++) {
                unwatch_ratio(&pr->nodes[i]);
                node_activity_clear(&pr->nodes[i]);
                held_file_close(&pr->nodes[i].meminfo);
                free(pr->nodes[i].ratio_path);
        }
        free(pr->nodes);
        pr->nodes = n;
        pr->n_nodes = k;
        if (k == 0) {
                pr->pressure_source = sd_event_source_disable_unref(pr->pressure_source);
                return;
        }
        for (size_t i = 0; i < k; i++)
                watch_ratio(pr, &n[i]);
        /* PSI: a kernel without it (CONFIG_PSI=n, psi=0) has no /proc/pressure. A changed PsiWarn= or
         * PsiWindow= takes new triggers; otherwise the granted cgroups' triggers and histories stay
         * (arming them again for 200 grants took 76-197 ms of each reload in the test guest). */
        if (!pr->psi_armed || pr->psi_armed_warn != pr_config(pr)->psi_warn ||
            pr->psi_armed_window != pr_config(pr)->psi_window_usec) {
                psi_drop_all(pr);
                pr->psi_reason = mfree(pr->psi_reason);
                if (access("/proc/pressure/memory", R_OK) < 0)
                        pr->psi_reason = strdup("no /proc/pressure/memory (a kernel without PSI, or booted with psi=0)");
                else if ((pr->system_psi = calloc(1, sizeof *pr->system_psi)))
                        pr->system_psi->path = strdup("/proc/pressure/memory");
                pr->psi_armed = true;
                pr->psi_armed_warn = pr_config(pr)->psi_warn;
                pr->psi_armed_window = pr_config(pr)->psi_window_usec;
        }
        (void) psi_refresh(pr); /* the PSI of the grants as they are now, in the thread */
        sample_all(pr);         /* a level at once, not a second later */
        if (!pr->pressure_source &&
            sd_event_add_time_relative(pr->event, &pr->pressure_source, CLOCK_MONOTONIC, SAMPLE_USEC, 100 * 1000,
                                       on_sample, pr) < 0)
                log_warning("Cannot sample the SPM nodes' pressure.");
        for (size_t i = 0; i < k; i++)
                log_info("SPM node %u: pressure %s (%s); sources: free memory%s%s%s%s%s%s%s.", n[i].node,
                         pressure_level_to_string(n[i].state.level), n[i].why,
                         n[i].ratio_path ? ", compression ratio from " : "", strempty(n[i].ratio_path),
                         n[i].n_memdevs ? ", CXL health of " : "", n[i].n_memdevs ? n[i].memdevs[0] : "",
                         pr->psi_reason ? "; memory PSI unavailable: " : ", memory PSI of its granted cgroups",
                         strempty(pr->psi_reason),
                         /* what a compressed CXL device would need to report its ratio through libcxl */
                         n[i].n_memdevs && !n[i].ratio_path
                                 ? "; compression ratio from the CXL device unavailable: CXL defines no mailbox "
                                   "command for it and spmd sends no vendor command (set CompressionRatioPath= to "
                                   "the driver's attribute)"
                                 : "");
        act_kick(pr);
}

int pressure_new(sd_event *event, const PressureInputs *in, const PressureOps *ops, void *userdata,
                 Pressure **ret) {
        Pressure *pr;

        assert(event);
        assert(in && in->config && in->topology && in->plan && in->grants && in->n_grants);
        assert(ret);

        pr = calloc(1, sizeof *pr);
        if (!pr)
                return -ENOMEM;
        pr->event = sd_event_ref(event);
        pr->in = *in;
        if (ops)
                pr->ops = *ops;
        pr->userdata = userdata;
        *ret = pr;
        return 0;
}

Pressure *pressure_free(Pressure *pr) {
        if (!pr)
                return NULL;
        pr->pressure_source = sd_event_source_disable_unref(pr->pressure_source);
        pr->psi_worker = worker_free(pr->psi_worker); /* a read under way is waited for, its results dropped */
        act_free(pr);      /* reclaim's and evacuation's threads end (a job in the kernel is waited for) */
        demotion_free(pr); /* the kdamonds stop, DAMON is given back */
        for (size_t i = 0; i < pr->n_nodes; i++) {
                unwatch_ratio(&pr->nodes[i]);
                node_activity_clear(&pr->nodes[i]);
                held_file_close(&pr->nodes[i].meminfo);
                free(pr->nodes[i].ratio_path);
        }
        psi_drop_all(pr);
        pr->psi_triggers = worker_free(pr->psi_triggers); /* a batch under way ends, what it opened closed */
        psi_close_waiting_now(pr);
        pr->psi_reason = mfree(pr->psi_reason);
        free(pr->nodes);
        sd_event_unref(pr->event);
        free(pr);
        return NULL;
}

void pressure_spm_nodes(const Pressure *pr, NodeMask *ret) {
        device_plan_spm_nodes(pr->in.plan, pr_topology(pr), ret);
}

NodePressure *pressure_node(Pressure *pr, unsigned node) {
        for (size_t i = 0; i < pr->n_nodes; i++)
                if (pr->nodes[i].node == node)
                        return &pr->nodes[i];
        return NULL;
}
