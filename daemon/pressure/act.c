/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act-plan.h"
#include "act.h"
#include "cgroup-util.h"
#include "damon.h"
#include "demote.h"
#include "log.h"
#include "migrate-worker.h"
#include "migrate.h"
#include "parse-util.h"
#include "reclaim.h"
#include "strv.h"
#include "time-util.h"
#include "worker.h"
#include "topology.h"
#include "watch.h"

#define SLICE_USEC (20 * 1000)          /* most time one evacuation slice runs */
#define IDLE_RESCAN_USEC (1000 * 1000)  /* a pass found nothing: look again this much later */

typedef struct ReclaimMark {
        char *cgroup;
        uint64_t last_usec;
        bool backed_off; /* the last turn skipped it for its PSI (logged once a streak) */
} ReclaimMark;

typedef struct PathAt {
        const char *path;
        size_t index;   /* in the order the grants come */
} PathAt;

/* strcmp() with '/' before every other byte, so a cgroup's subtree sorts right after it (plain
 * strcmp() puts "/a-c" between "/a" and "/a/b"); equal paths in the order they came. */
static int path_at_order(const void *x, const void *y) {
        const PathAt *a = x, *b = y;

        for (const char *p = a->path, *q = b->path;; p++, q++) {
                unsigned char c = *p == '/' ? 1 : (unsigned char) *p, d = *q == '/' ? 1 : (unsigned char) *q;

                if (c != d)
                        return c < d ? -1 : 1;
                if (!c)
                        return a->index < b->index ? -1 : a->index > b->index;
        }
}

/* The outermost granted cgroups on NODE, in the order the grants come: sorted so that a cgroup's
 * subtree follows it, each is covered by the last one kept or is kept itself (n log n: 200 grants
 * took 40000 comparisons on every reload and act round). */
char **pressure_node_cgroups(Pressure *pr, unsigned node) {
        size_t n = 0, max = pr_config(pr)->n_grants + pr_n_grants(pr);
        _cleanup_free_ const char **paths = calloc(max ? max : 1, sizeof *paths); /* in their order */
        _cleanup_free_ PathAt *at = calloc(max ? max : 1, sizeof *at);
        _cleanup_free_ bool *keep = calloc(max ? max : 1, sizeof *keep);
        const char *root = NULL;
        char **out = NULL;

        if (!paths || !at || !keep)
                goto oom;
        for (size_t i = 0; i < pr_config(pr)->n_grants; i++) {
                const GrantConf *g = pr_config(pr)->grants[i];
                if (g->all_nodes || nodemask_test(&g->nodes, node))
                        paths[n++] = g->cgroup;
        }
        for (size_t i = 0; i < pr_n_grants(pr); i++)
                if (nodemask_test(&pr_grants(pr)[i]->nodes, node))
                        paths[n++] = pr_grants(pr)[i]->cgroup;
        if (n == 0)
                return NULL;
        for (size_t i = 0; i < n; i++)
                at[i] = (PathAt){ paths[i], i };
        qsort(at, n, sizeof *at, path_at_order);
        for (size_t i = 0; i < n; i++) {
                if (root && cgroup_path_covers(root, at[i].path))
                        continue; /* inside (or the same as) one kept */
                keep[at[i].index] = true;
                root = at[i].path;
        }
        for (size_t i = 0; i < n; i++) {
                char *dir;

                if (!keep[i])
                        continue;
                if (asprintf(&dir, CGROUP_ROOT "%s", paths[i]) < 0)
                        goto oom;
                if (strv_push(&out, dir) < 0) {
                        free(dir);
                        goto oom;
                }
        }
        return out;
oom:
        log_oom();
        return strv_free(out);
}

/* ---- reclaim ---- */

static ReclaimMark *reclaim_mark(Pressure *pr, const char *cgroup) {
        ReclaimMark *n;

        for (size_t i = 0; i < pr->n_reclaim_marks; i++)
                if (strcmp(pr->reclaim_marks[i].cgroup, cgroup) == 0)
                        return &pr->reclaim_marks[i];
        n = realloc(pr->reclaim_marks, (pr->n_reclaim_marks + 1) * sizeof *n);
        if (!n)
                return NULL;
        pr->reclaim_marks = n;
        n = &pr->reclaim_marks[pr->n_reclaim_marks];
        *n = (ReclaimMark){ .cgroup = strdup(cgroup) };
        if (!n->cgroup)
                return NULL;
        pr->n_reclaim_marks++;
        return n;
}

static void count_reclaim(NodeActivity *a, int r, uint64_t step, const char *what) {
        a->reclaim_writes++;
        if (r == 0)
                a->reclaim_bytes += step;
        else if (r == -EAGAIN)
                a->reclaim_short++;
        else {
                a->reclaim_failed++;
                if (a->reclaim_failed == 1 || a->reclaim_failed % 100 == 0)
                        log_warning_errno(r, "Reclaim: writing to %s failed (%" PRIu64 " failure(s) so far): %m", what,
                                          a->reclaim_failed);
        }
}

static void act_round(Pressure *pr);

/* A job of reclaim's thread ended: count its writes (if the node is still there; swappiness= is
 * dropped for good when the kernel refused it) and take the next step. */
static void on_reclaimed(WorkerJob *j, void *userdata) {
        const ReclaimJob *job = (const ReclaimJob *) j;
        Pressure *pr = userdata;
        NodePressure *np = pressure_node(pr, job->node);

        if (job->swappiness_refused && !pr->swappiness_refused) {
                log_warning("memory.reclaim refuses swappiness=%d (Swappiness=): this kernel does not take it; "
                            "reclaiming with the kernel's own swappiness from now on.",
                            job->swappiness);
                pr->swappiness_refused = true;
        }
        if (!np)
                return; /* a reload took the node away: what was reclaimed is reclaimed */
        np->act.reclaim_in_flight = false;
        for (size_t i = 0; i < job->n; i++) {
                _cleanup_free_ char *what = NULL;
                const char *dir = job->targets[i].cgroup_dir;

                if (dir ? asprintf(&what, "%s/memory.reclaim", dir) < 0
                        : asprintf(&what, "/sys/devices/system/node/node%u/reclaim", job->node) < 0)
                        what = NULL;
                count_reclaim(&np->act, job->targets[i].result, job->bytes, what ? what : "(out of memory)");
        }
        log_debug("SPM node %u: reclaim: %zu write(s) of %" PRIu64 " bytes in %.1f ms.", job->node, job->n, job->bytes,
                  job->base.usec / 1e3);
        pressure_sample(pr); /* fresh metrics: stop as soon as they clear */
        act_round(pr);
}

/* Hands the writes to CGROUP_DIRS (NULL: the node's nodeN/reclaim) to reclaim's thread. */
static int reclaim_submit(Pressure *pr, NodePressure *np, char *const *cgroup_dirs) {
        ReclaimJob *job;
        int r;

        if (!pr->reclaim_worker) {
                r = worker_new(pr->event, on_reclaimed, pr, &pr->reclaim_worker);
                if (r < 0)
                        return log_error_errno(r, "SPM node %u: cannot start reclaim's thread: %m", np->node);
        }
        job = reclaim_job_new(np->node, pr_config(pr)->reclaim_step, pr->swappiness_refused ? -1 : pr_config(pr)->swappiness,
                              cgroup_dirs);
        if (!job)
                return log_oom();
        r = worker_submit(pr->reclaim_worker, &job->base);
        if (r < 0) {
                reclaim_job_free(job);
                return r;
        }
        np->act.reclaim_in_flight = true;
        return 0;
}

/* Reclaim for np if due: the writes that are due go to reclaim's thread as one job (the loop never
 * waits for the kernel's reclaim); returns when to look again (the job's end comes sooner, and takes
 * the next step itself). */
static uint64_t reclaim_step(Pressure *pr, NodePressure *np, uint64_t now) {
        NodeActivity *a = &np->act;
        uint64_t interval = pr_config(pr)->reclaim_min_interval_usec, next = 0;
        _cleanup_(strv_freep) char **cgroups = NULL, **due_now = NULL;

        if (worker_busy(pr->reclaim_worker))
                return now + interval;
        if (pr_topology(pr) && pr_topology(pr)->caps.per_node_reclaim && reclaim_node_supported(np->node)) {
                ReclaimPace pace = { .last_usec = a->last_node_reclaim_usec };
                uint64_t due;

                if (reclaim_choose(&pace, now, interval, 0, &due) == RECLAIM_NOT_YET)
                        return due;
                (void) reclaim_submit(pr, np, NULL);
                a->last_node_reclaim_usec = now;
                return now + interval;
        }
        cgroups = pressure_node_cgroups(pr, np->node);
        for (char **c = cgroups; c && *c; c++) {
                ReclaimMark *mk = reclaim_mark(pr, *c);

                if (!mk) {
                        log_oom();
                        break;
                }
                const PsiWatch *pw = pressure_psi_watch(pr, *c);
                ReclaimPace pace = {
                        .last_usec = mk->last_usec,
                        .psi_valid = pw && pw->valid,
                        .psi_share = pw ? pw->share : 0,
                };
                uint64_t due;

                switch (reclaim_choose(&pace, now, interval, pr_config(pr)->psi_warn, &due)) {
                case RECLAIM_NOT_YET:
                        break;
                case RECLAIM_BACK_OFF:
                        /* reclaim that makes the workload stall defeats itself: leave a stalling cgroup be */
                        if (!mk->backed_off)
                                log_notice("SPM node %u: reclaim leaves %s alone while its memory PSI is %.1f%% "
                                           "(>= PsiWarn=%.1f%%): reclaiming it would stall it more.",
                                           np->node, *c, pw->share / 100.0, pr_config(pr)->psi_warn / 100.0);
                        mk->backed_off = true;
                        a->reclaim_backoffs++;
                        mk->last_usec = now;
                        break;
                case RECLAIM_NOW:
                        mk->backed_off = false;
                        if (strv_extend(&due_now, *c) < 0) {
                                log_oom();
                                break;
                        }
                        mk->last_usec = now;
                        break;
                }
                next = next ? MIN(next, due) : due;
        }
        if (due_now)
                (void) reclaim_submit(pr, np, due_now);
        if (!cgroups && !a->no_reclaim_source_logged)
                log_notice("SPM node %u: nothing to reclaim from: no granted cgroup holds the node, and this kernel "
                           "does not reclaim node by node (nodeN/reclaim, kernel >= 6.17).",
                           np->node);
        a->no_reclaim_source_logged = !cgroups;
        return next ? next : now + interval;
}

/* ---- evacuation ---- */

/* The target with the most free memory that is not itself below FreeCritical=; -1 = none. */
static int choose_target(Pressure *pr) {
        NodeMask spm, targets = {};
        NodeFree c[SPMD_MAX_NODES];
        size_t n = 0;

        pressure_spm_nodes(pr, &spm);
        if (pr_config(pr)->evacuate_target_set)
                targets = pr_config(pr)->evacuate_target;
        else if (pr_topology(pr))
                for (size_t i = 0; i < pr_topology(pr)->n_nodes; i++)
                        if (pr_topology(pr)->nodes[i].n_cpus > 0)
                                nodemask_set(&targets, (unsigned) pr_topology(pr)->nodes[i].id);
        targets = nodemask_andnot(&targets, &spm);
        NODEMASK_FOREACH(t, &targets) {
                c[n] = (NodeFree){ .node = t };
                if (read_node_meminfo(t, &c[n].size, &c[n].free) < 0)
                        c[n].size = 0; /* unreadable: not a candidate */
                n++;
        }
        return evacuate_choose_target(c, n, pr_config(pr)->free_critical);
}

/* Coldest first: a pass over the pages DAMON saw cold, then one over the rest (and so on, each
 * cold pass with DAMON's latest regions). Without DAMON's regions every pass takes all. */
static void choose_order(Pressure *pr, NodePressure *np) {
        NodeActivity *a = &np->act;
        DamonRange *r = NULL;
        size_t n = 0;
        const char *why = NULL;
        int ret;

        a->cold_ranges = mfree(a->cold_ranges);
        a->cold = (MigrateCold) {};
        if (a->cold_pass) {
                a->cold_pass = false; /* the rest */
                return;
        }
        why = topology_damon_unusable(pr_topology(pr), (int) np->node);
        if (why) {
                if (!a->order_logged)
                        log_info("SPM node %u: evacuation moves pages in address order: %s.", np->node, why);
                a->order_logged = true;
                return;
        }
        ret = demotion_cold_ranges(pr, &r, &n, &why);
        if (ret >= 0 && n > 0) {
                uint64_t bytes = 0;
                for (size_t i = 0; i < n; i++)
                        bytes += r[i].end - r[i].start;
                a->cold_ranges = r;
                a->cold = (MigrateCold) { .ranges = r, .n = n };
                a->cold_pass = true;
                if (!a->order_logged)
                        log_info("SPM node %u: evacuation moves cold pages first: DAMON saw %zu region(s), %" PRIu64
                                 " MiB, untouched for a second or more.",
                                 np->node, n, bytes >> 20);
        } else {
                free(r);
                if (!a->order_logged)
                        log_info("SPM node %u: evacuation moves pages in address order: %s.", np->node,
                                 ret >= 0 ? "DAMON saw no cold region on the SPM nodes"
                                 : ret == -ENODATA ? why : strerror(-ret));
        }
        a->order_logged = true;
}

static void on_evacuated(WorkerJob *j, void *userdata);

/* The evacuation thread, made when first needed; NULL (logged) when it cannot be. */
static Worker *evac_worker(Pressure *pr, const NodePressure *np) {
        int r;

        if (!pr->evac_worker) {
                r = worker_new(pr->event, on_evacuated, pr, &pr->evac_worker);
                if (r < 0)
                        log_error_errno(r, "SPM node %u: cannot start the evacuation thread: %m", np->node);
        }
        return pr->evac_worker;
}

/* A new pass: its order (cold pages first, or the rest), then the granted cgroups' processes,
 * listed in the evacuation thread (on_evacuated() takes them in). */
static int start_pass(Pressure *pr, NodePressure *np) {
        NodeActivity *a = &np->act;
        MigrateJob *job;
        int r;

        a->pids = mfree(a->pids);
        a->n_pids = a->pid_index = 0;
        a->pass_found = 0;
        a->pass_listed = false;
        choose_order(pr, np);
        if (!evac_worker(pr, np))
                return -ENOMEM;
        job = migrate_list_job_new(pressure_node_cgroups(pr, np->node));
        if (!job)
                return log_oom();
        job->node = np->node;
        job->cold_pass = a->cold_pass;
        r = worker_submit(pr->evac_worker, &job->base);
        if (r < 0) {
                migrate_job_free(job);
                return r;
        }
        a->evac_in_flight = true;
        return 0;
}

/* A job of the evacuation thread ended: fold its results into the node's state (if the node is still
 * there and still evacuating, and the pass is the one it ran in) and take the next step. */
static void on_evacuated(WorkerJob *j, void *userdata) {
        MigrateJob *job = (MigrateJob *) j;
        Pressure *pr = userdata;
        NodePressure *np = pressure_node(pr, job->node);
        NodeActivity *a;
        int64_t r = job->result;

        if (!np)
                return; /* a reload took the node away: what moved is moved */
        a = &np->act;
        a->evac_in_flight = false;
        if (job->list) { /* a pass's processes */
                log_debug("SPM node %u: %zu process(es) in the granted cgroups, listed in %.1f ms.", np->node,
                          job->n_pids, job->base.usec / 1e3);
                if (a->evacuating && a->cold_pass == job->cold_pass) {
                        free(a->pids);
                        a->pids = TAKE_PTR(job->pids);
                        a->n_pids = job->n_pids;
                        a->pid_index = 0;
                        a->cursor = (MigrateCursor){ .pid = a->n_pids ? a->pids[0] : 0 };
                        a->pass_listed = true;
                }
                act_round(pr);
                return;
        }
        migrate_stats_add(&a->evacuated, &job->stats);
        if (r > 0) {
                if (job->cold_pass)
                        a->cold_moved += (uint64_t) r;
                if (pr_config(pr)->evacuate_max_rate != UINT64_MAX)
                        a->bucket.tokens -= (double) r;
        }
        log_debug("SPM node %u: evacuation slice: %" PRId64 " page(s) moved to node %d in %.1f ms; pid %d, %" PRIu64
                  " page(s) on the node at the start of its pass.",
                  np->node, r > 0 ? r : 0, job->to, job->base.usec / 1e3, (int) job->cursor.pid, job->cursor.on_from);
        if (a->evacuating && a->pid_index < a->n_pids && a->cursor.pid == job->cursor.pid &&
            a->cold_pass == job->cold_pass) {
                a->pass_found += job->stats.found;
                if (job->cold_pass) {
                        a->cold.not_cold = job->cold.not_cold;
                        a->cold.no_pfn = job->cold.no_pfn;
                }
                a->cursor = job->cursor;
                if (r < 0 || a->cursor.done) {
                        if (r < 0 && r != -ESRCH)
                                log_debug_errno((int) r, "Evacuation: cannot walk process %d: %m", (int) a->cursor.pid);
                        a->pid_index++;
                        a->cursor = (MigrateCursor){ .pid = a->pid_index < a->n_pids ? a->pids[a->pid_index] : 0 };
                }
        }
        pressure_sample(pr); /* fresh metrics: stop as soon as they clear */
        act_round(pr);
}

/* The next step of evacuation: a move_pages/migrate_pages job for the evacuation thread (one at a
 * time for all nodes: the loop never waits for the kernel's migration); returns when to look again
 * (the job's end comes sooner, and takes the next step itself). */
static uint64_t evacuate_step(Pressure *pr, NodePressure *np, uint64_t now) {
        NodeActivity *a = &np->act;
        uint64_t rate = pr_config(pr)->evacuate_max_rate, page = (uint64_t) sysconf(_SC_PAGESIZE);
        uint32_t batch = pr_config(pr)->evacuate_batch_pages;
        NodeMask from = {};
        uint64_t need, wait, budget;
        MigrateJob *job;
        int r;

        if (worker_busy(pr->evac_worker))
                return now + IDLE_RESCAN_USEC;
        if (a->idle_until_usec > now)
                return a->idle_until_usec;
        a->target = choose_target(pr);
        if (a->target < 0) {
                if (!a->no_target_logged)
                        log_warning("SPM node %u: evacuation waits: no target node has free memory above "
                                    "FreeCritical= (TargetNodes=%s).",
                                    np->node, pr_config(pr)->evacuate_target_set ? "as configured" : "every node with CPUs");
                a->no_target_logged = true;
                return now + IDLE_RESCAN_USEC;
        }
        a->no_target_logged = false;
        nodemask_set(&from, np->node);

        wait = rate_bucket_fill(&a->bucket, now, rate, page);
        if (wait > 0)
                return now + wait;

        if (a->pid_index >= a->n_pids && a->pass_listed) { /* the list came in empty */
                a->pass_listed = false;
                if (!a->no_source_logged)
                        log_notice("SPM node %u: nothing to evacuate: no process in a granted cgroup "
                                   "holds the node.",
                                   np->node);
                a->no_source_logged = true;
                a->idle_until_usec = now + IDLE_RESCAN_USEC;
                return a->idle_until_usec;
        }
        if (a->pid_index >= a->n_pids) {
                if (a->n_pids)
                        a->passes++;
                if (a->cold_pass && a->cold.no_pfn && !a->cold.not_cold)
                        log_warning("SPM node %u: /proc/PID/pagemap shows no page frames (spmd lacks "
                                    "CAP_SYS_ADMIN?): the cold pass moved pages in address order.",
                                    np->node);
                if (a->n_pids && a->pass_found == 0 && !a->cold_pass) {
                        /* everything granted is off the node (or cannot move): look again later */
                        a->pids = mfree(a->pids);
                        a->n_pids = a->pid_index = 0;
                        a->idle_until_usec = now + IDLE_RESCAN_USEC;
                        return a->idle_until_usec;
                }
                (void) start_pass(pr, np); /* its list's end takes the next step */
                return now + IDLE_RESCAN_USEC;
        }
        if (a->pass_listed) {
                a->pass_listed = false;
                a->no_source_logged = false;
        }
        /* what the metrics still need, at most WHOLE_MAX_PAGES a call (one migrate_pages(2) of a process
         * that small; larger ones go in move_pages(2) batches), within MaxRate= */
        need = evacuate_need_pages(pressure_bytes_to_clear(pr_config(pr), &np->last, pr_config(pr)->evacuate_at), page);
        budget = evacuate_budget(need, 0, batch, rate, &a->bucket);
        if (budget == 0)
                return now + SLICE_USEC;

        if (!evac_worker(pr, np))
                return now + IDLE_RESCAN_USEC;
        job = migrate_job_new();
        if (!job) {
                log_oom();
                return now + IDLE_RESCAN_USEC;
        }
        job->node = np->node;
        job->cursor = a->cursor;
        job->from = from;
        job->to = a->target;
        job->batch = batch;
        job->budget = budget;
        job->cold_pass = a->cold_pass;
        job->cursor.cold = NULL;
        if (a->cold_pass && a->cold.n > 0) {
                job->ranges = malloc(a->cold.n * sizeof *a->cold.ranges);
                if (job->ranges)
                        memcpy(job->ranges, a->cold.ranges, a->cold.n * sizeof *a->cold.ranges);
                if (!job->ranges) {
                        free(job);
                        log_oom();
                        return now + IDLE_RESCAN_USEC;
                }
                job->cold = (MigrateCold){ .ranges = job->ranges, .n = a->cold.n, .not_cold = a->cold.not_cold,
                                           .no_pfn = a->cold.no_pfn };
        }
        r = worker_submit(pr->evac_worker, &job->base);
        if (r < 0) {
                migrate_job_free(job);
                return now + SLICE_USEC;
        }
        a->evac_in_flight = true;
        return now + IDLE_RESCAN_USEC;
}

/* ---- the round ---- */

static void log_stop(NodePressure *np, bool reclaim, const char *why) {
        NodeActivity *a = &np->act;
        double secs = (double) (now_usec(CLOCK_MONOTONIC) - (reclaim ? a->reclaim_since_usec : a->evac_since_usec)) / 1e6;
        char b[32];

        if (reclaim)
                log_notice("SPM node %u: reclaim stops (%s): %" PRIu64 " write(s), %s asked, %" PRIu64
                           " short (less was reclaimable) in %.1f s.",
                           np->node, why, a->reclaim_writes - a->reclaim_writes_at_start,
                           format_size(b, sizeof b, a->reclaim_bytes - a->reclaim_bytes_at_start),
                           a->reclaim_short - a->reclaim_short_at_start, secs);
        else
                log_notice("SPM node %u: evacuation stops (%s): %" PRIu64 " page(s) moved to node %d in %.1f s "
                           "(%" PRIu64 " of them cold, first); stayed: %" PRIu64 " busy, %" PRIu64
                           " for lack of memory, %" PRIu64 " other (retried on the next pass).",
                           np->node, why, a->evacuated.moved - a->evac_at_start.moved, a->target, secs,
                           a->cold_moved - a->cold_at_start,
                           a->evacuated.busy - a->evac_at_start.busy,
                           a->evacuated.no_memory - a->evac_at_start.no_memory,
                           a->evacuated.failed - a->evac_at_start.failed);
}

static bool wants(const Config *c, const NodePressure *np, PressureLevel at) {
        return act_wanted(at, np->state.level, pressure_level_for(c, &np->last, np->state.level, NULL, 0));
}

static int on_act(sd_event_source *s, uint64_t usec, void *userdata);

static void act_round(Pressure *pr) {
        uint64_t now = now_usec(CLOCK_MONOTONIC), next = 0;
        const Config *c = pr_config(pr);

        for (size_t i = 0; i < pr->n_nodes; i++) {
                NodePressure *np = &pr->nodes[i];
                NodeActivity *a = &np->act;
                bool rec = c->reclaim && wants(c, np, c->reclaim_at);
                bool evac = c->evacuation && wants(c, np, c->evacuate_at);
                ActPhase rphase = act_phase(rec, a->reclaiming, a->reclaim_in_flight);
                ActPhase ephase = act_phase(evac, a->evacuating, a->evac_in_flight);
                uint64_t t;

                /* draining: the job's end (on_reclaimed, on_evacuated) comes back here and stops it */
                if (rphase == ACT_START) {
                        log_notice("SPM node %u: reclaim starts (%s, Reclaim At=%s): %s per write, at most one "
                                   "write per %.0f ms to each cgroup.",
                                   np->node, np->why, pressure_level_to_string(c->reclaim_at),
                                   format_size((char[32]){}, 32, c->reclaim_step), c->reclaim_min_interval_usec / 1e3);
                        a->reclaim_writes_at_start = a->reclaim_writes;
                        a->reclaim_bytes_at_start = a->reclaim_bytes;
                        a->reclaim_short_at_start = a->reclaim_short;
                        a->reclaim_since_usec = now;
                } else if (rphase == ACT_STOP)
                        log_stop(np, true, np->why);
                a->reclaiming = act_phase_running(rphase);

                if (ephase == ACT_START) {
                        log_notice("SPM node %u: evacuation starts (%s, Evacuation At=%s): moving the granted "
                                   "processes' pages off the node, %" PRIu32 " per call.",
                                   np->node, np->why, pressure_level_to_string(c->evacuate_at), c->evacuate_batch_pages);
                        a->evac_at_start = a->evacuated;
                        a->cold_at_start = a->cold_moved;
                        a->order_logged = false;
                        a->cold_pass = false; /* begin with the cold pages */
                        a->idle_until_usec = 0;
                        a->bucket = (RateBucket){ .usec = now }; /* empty: MaxRate= from the start */
                        a->evac_since_usec = now;
                } else if (ephase == ACT_STOP) {
                        log_stop(np, false, np->why);
                        a->pids = mfree(a->pids);
                        a->n_pids = a->pid_index = 0;
                } else if (ephase == ACT_DRAIN)
                        log_debug("SPM node %u: the metrics cleared with a job in the evacuation thread: "
                                  "stopping when its results are in.", np->node);
                a->evacuating = act_phase_running(ephase);

                if (rphase == ACT_START || rphase == ACT_STEP) {
                        t = reclaim_step(pr, np, now);
                        next = next ? MIN(next, t) : t;
                }
                if (ephase == ACT_START || ephase == ACT_STEP) {
                        t = evacuate_step(pr, np, now);
                        next = next ? MIN(next, t) : t;
                }
        }
        if (!next) {
                pr->act_source = sd_event_source_disable_unref(pr->act_source);
                return;
        }
        if (!pr->act_source) {
                if (sd_event_add_time(pr->event, &pr->act_source, CLOCK_MONOTONIC, next, 1000, on_act, pr) < 0) {
                        log_error("Cannot schedule reclaim and evacuation.");
                        return;
                }
        } else {
                (void) sd_event_source_set_time(pr->act_source, next);
                (void) sd_event_source_set_enabled(pr->act_source, SD_EVENT_ONESHOT);
        }
}

static int on_act(sd_event_source *s, uint64_t usec, void *userdata) {
        Pressure *pr = userdata;

        (void) s;
        (void) usec;
        pressure_sample(pr); /* fresh metrics: stop as soon as they clear */
        act_round(pr);
        return 0;
}

void act_kick(Pressure *pr) {
        act_round(pr);
        demotion_kick(pr);
}

void node_activity_clear(NodePressure *np) {
        np->act.pids = mfree(np->act.pids);
        np->act.cold_ranges = mfree(np->act.cold_ranges);
        np->act.cold = (MigrateCold) {};
        np->act.cold_pass = false;
        np->act.n_pids = np->act.pid_index = 0;
        np->act.pass_listed = false;
}

void act_free(Pressure *pr) {
        pr->evac_worker = worker_free(pr->evac_worker); /* waits for a job in the kernel */
        pr->reclaim_worker = worker_free(pr->reclaim_worker);
        pr->act_source = sd_event_source_disable_unref(pr->act_source);
        for (size_t i = 0; i < pr->n_reclaim_marks; i++)
                free(pr->reclaim_marks[i].cgroup);
        pr->reclaim_marks = mfree(pr->reclaim_marks);
        pr->n_reclaim_marks = 0;
}
