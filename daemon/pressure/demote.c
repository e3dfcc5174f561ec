/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "act.h"
#include "topology.h"
#include "cgroup-util.h"
#include "damon.h"
#include "demote.h"
#include "migrate.h"
#include "grant.h"
#include "log.h"
#include "macro.h"
#include "demote-plan.h"
#include "parse-util.h"
#include "strv.h"
#include "time-util.h"
#include "watch.h"

#define DEMOTE_K 0                  /* the kdamond that demotes */
#define SPM_K 1                     /* ... and the one over the SPM nodes: cold regions for evacuation, promotion */
#define COLD_HINT_AGE 10            /* a region untouched this many aggregation intervals (1 s) is cold to evacuation */
#define SAMPLE_US 5000              /* DAMON's access sampling interval */
#define AGGR_US DEMOTE_AGGR_US
#define HOT_MIN_ACCESSES 1          /* a sample saw an access in the aggregation interval (the young filter then looks at each page) */
#define HOT_MIN_AGE 2               /* for two aggregation intervals in a row */
#define STATS_USEC (5 * USEC_PER_SEC)
#define RANGES_USEC (30 * USEC_PER_SEC)
#define RETRY_USEC (60 * USEC_PER_SEC)
#define MAX_SCHEMES 64
#define LIMIT_SLICE_USEC 20000      /* spmd's own moves for limited cgroups, per round */
#define LIMIT_IDLE_USEC (5 * USEC_PER_SEC) /* after a pass that found nothing cold to move */
#define COLD_DRAM_USEC (5 * USEC_PER_SEC)  /* how long a read of DRAM's cold regions serves */

typedef struct DemoteLimit {
        char *cgroup;               /* relative to the cgroup2 root */
        unsigned node;              /* the SPM node it is demoted to */
        LimitMode mode;
        pid_t *pids;                /* LIMIT_SPMD: the processes of this pass (the cgroup and its subtree) */
        size_t n_pids, i_pid;
        MigrateCursor cursor;       /* ... and where the pass over pids[i_pid] stands */
        bool moved_in_pass;
        uint64_t idle_until;        /* a pass found nothing to move: the next one not before */
} DemoteLimit;

typedef struct Demotion {
        bool claimed;
        char *claim_file;           /* records that spmd holds the kdamonds */
        char *reason;               /* unavailable: why; NULL when usable (or not looked at) */
        uint64_t retry_usec;        /* when to look at an unavailable DAMON again */
        char *applied[2];           /* the setup each kdamond runs, as text; NULL = stopped */
        char *failed[2];            /* a setup the kernel refused: not tried again until the plan changes */
        unsigned owner[2][MAX_SCHEMES]; /* the SPM node each scheme serves */
        size_t n_schemes[2];
        uint64_t last[2][MAX_SCHEMES];  /* the schemes' sz_applied when last read */
        bool counted[2][MAX_SCHEMES];   /* ... and whether that is pages moved (not a stat scheme's look) */
        int cold_scheme;            /* kdamond 1's stat scheme of cold regions, -1 = none */
        uint64_t stats_usec;
        NodeMask demoting;          /* SPM nodes whose schemes are in */
        NodeMask private_said;      /* SPM nodes logged as private: DAMON does not demote to them */
        char **skipped;             /* cgroups logged as having no memory controller */
        DemoteLimit limits[MAX_SCHEMES]; /* the limited cgroups as last planned */
        size_t n_limits;
        int dram_cold_scheme;       /* kdamond 0's stat scheme of cold DRAM regions, -1 = none */
        DamonRange *dram_cold;      /* ... its regions as last read */
        size_t n_dram_cold;
        uint64_t dram_cold_usec;
        NodeMask dram_nodes;        /* the nodes with memory that are not SPM nodes */
        DamonRange *dram, *spm;     /* the ranges monitored, refreshed every RANGES_USEC */
        size_t n_dram, n_spm;
        NodeMask ranges_spm;        /* the SPM nodes they were read for */
        uint64_t ranges_usec;
        int promote_target;         /* the node promotion moves pages to, -1 = none */
        uint64_t promoted;
        char summary[2][256];       /* what each kdamond does, for GetStatus */
} Demotion;

static Demotion *demotion(Pressure *pr) {
        if (!pr->demotion)
                pr->demotion = calloc(1, sizeof(Demotion));
        return pr->demotion;
}

/* The schemes' counters since they were last read, to the nodes they serve. */
static void fold_stats(Pressure *pr, Demotion *d, bool attribute) {
        for (unsigned k = 0; k < 2; k++) {
                uint64_t now[MAX_SCHEMES];

                if (!d->applied[k] || d->n_schemes[k] == 0 ||
                    damon_scheme_applied(NULL, k, d->n_schemes[k], now) < 0)
                        continue;
                for (size_t i = 0; i < d->n_schemes[k]; i++) {
                        uint64_t delta = now[i] >= d->last[k][i] ? now[i] - d->last[k][i] : now[i];
                        NodePressure *np = pressure_node(pr, d->owner[k][i]);

                        d->last[k][i] = now[i];
                        if (!attribute || !d->counted[k][i])
                                continue;
                        if (k == SPM_K)
                                d->promoted += delta;
                        else if (np)
                                np->act.demoted_bytes += delta;
                }
        }
}

static int append_ranges(DamonRange **all, size_t *n_all, unsigned node) {
        _cleanup_free_ DamonRange *r = NULL;
        size_t n = 0;
        DamonRange *a;
        int ret = damon_node_ranges(NULL, node, &r, &n);

        if (ret < 0)
                return ret;
        a = realloc(*all, (*n_all + n + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        memcpy(a + *n_all, r, n * sizeof *a);
        *all = a;
        *n_all += n;
        return 0;
}

static void refresh_ranges(Pressure *pr, Demotion *d, const NodeMask *spm, uint64_t now) {
        if (d->ranges_usec && now - d->ranges_usec < RANGES_USEC && nodemask_same(&d->ranges_spm, spm))
                return;
        d->dram = mfree(d->dram);
        d->spm = mfree(d->spm);
        d->n_dram = d->n_spm = 0;
        d->promote_target = -1;
        d->dram_nodes = (NodeMask) {};
        for (size_t i = 0; pr_topology(pr) && i < pr_topology(pr)->n_nodes; i++) {
                const NodeInfo *n = &pr_topology(pr)->nodes[i];
                bool is_spm = nodemask_test(spm, (unsigned) n->id);

                if (n->size == 0)
                        continue;
                if (append_ranges(is_spm ? &d->spm : &d->dram, is_spm ? &d->n_spm : &d->n_dram,
                                  (unsigned) n->id) < 0)
                        log_debug("Demotion: cannot read node %d's memory blocks.", n->id);
                if (!is_spm)
                        nodemask_set(&d->dram_nodes, (unsigned) n->id);
                if (!is_spm && n->n_cpus > 0 && d->promote_target < 0)
                        d->promote_target = n->id;
        }
        /* DAMON wants its regions in address order */
        if (d->n_dram)
                qsort(d->dram, d->n_dram, sizeof *d->dram, damon_range_cmp);
        if (d->n_spm)
                qsort(d->spm, d->n_spm, sizeof *d->spm, damon_range_cmp);
        d->ranges_spm = *spm;
        d->ranges_usec = now;
}

static bool has_memcg(const char *cgroup_dir) {
        char path[4096];

        snprintf(path, sizeof path, "%s/memory.current", cgroup_dir);
        return access(path, F_OK) == 0;
}

/* Is the node's room enough for demotion? With hysteresis: in at FreeWarn= + 4 x Hysteresis=, out
 * below FreeWarn= + 2 x Hysteresis=. */
static bool node_takes_demotion(Pressure *pr, Demotion *d, const NodePressure *np) {
        const Config *c = pr_config(pr);
        bool on = nodemask_test(&d->demoting, np->node);
        uint32_t share = pressure_free_permyriad(&np->last);
        uint32_t want = c->free_warn + (on ? 2 : 4) * c->hysteresis;
        bool take = np->state.level == PRESSURE_OK && share >= want;

        if (take != on) {
                if (take) {
                        nodemask_set(&d->demoting, np->node);
                        log_info("Demotion to SPM node %u starts (free %.1f%% >= FreeWarn=%.1f%% + 4 x Hysteresis=).",
                                 np->node, share / 100.0, c->free_warn / 100.0);
                } else {
                        nodemask_clear(&d->demoting, np->node);
                        if (np->state.level != PRESSURE_OK)
                                log_info("Demotion to SPM node %u pauses: the node is at %s.", np->node,
                                         pressure_level_to_string(np->state.level));
                        else
                                log_info("Demotion to SPM node %u pauses: free %.1f%% < FreeWarn=%.1f%% + 2 x "
                                         "Hysteresis=.",
                                         np->node, share / 100.0, c->free_warn / 100.0);
                }
        }
        return take;
}

static void describe(FILE *f, const DamonSetup *s) {
        for (size_t i = 0; i < s->n_ranges; i++)
                fprintf(f, "r %" PRIx64 "-%" PRIx64 "\n", s->ranges[i].start, s->ranges[i].end);
        for (size_t i = 0; i < s->n_schemes; i++) {
                const DamonScheme *sc = &s->schemes[i];
                fprintf(f, "s %s %u %s %d %d %u-%u %u %" PRIu64 "\n", sc->action, sc->target_nid,
                        strempty(sc->memcg_path), sc->anon_only, sc->young, sc->min_accesses, sc->max_accesses,
                        sc->min_age, sc->quota_bytes);
        }
}

/* Run setup s on kdamond k unless it runs it already. True when it now runs a new one. */
static bool apply(Pressure *pr, Demotion *d, unsigned k, const DamonSetup *s, const unsigned *owner) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        char err[512] = "";
        int r;

        if (!f) {
                log_oom();
                return false;
        }
        if (s->n_schemes > 0)
                describe(f, s);
        fclose(f);
        if (s->n_schemes == 0 ? !d->applied[k] : d->applied[k] && streq_ptr(d->applied[k], text))
                return false;
        if (d->failed[k] && streq_ptr(d->failed[k], text))
                return false;
        fold_stats(pr, d, true);
        r = damon_apply(NULL, k, s, err, sizeof err);
        if (r < 0) {
                log_error("Demotion: DAMON kdamond %u refused its setup: %s.", k, err[0] ? err : strerror(-r));
                free(d->failed[k]);
                d->failed[k] = TAKE_PTR(text);
                return false;
        }
        d->failed[k] = mfree(d->failed[k]);
        free(d->applied[k]);
        d->applied[k] = s->n_schemes > 0 ? TAKE_PTR(text) : NULL;
        d->n_schemes[k] = s->n_schemes;
        memcpy(d->owner[k], owner, s->n_schemes * sizeof *owner);
        for (size_t i = 0; i < s->n_schemes; i++)
                d->counted[k][i] = !streq_ptr(s->schemes[i].action, "stat");
        memset(d->last[k], 0, sizeof d->last[k]);
        fold_stats(pr, d, false); /* the counters from here on */
        if (s->n_schemes == 0) {
                log_info("Demotion: DAMON kdamond %u stopped (%s).", k,
                         k == DEMOTE_K ? "no granted cgroup on an SPM node with room" : "no granted SPM node");
                d->summary[k][0] = 0;
        }
        return s->n_schemes > 0;
}

/* The room the D-Bus grants of cgroup rel leave demotion onto node: the least, over its grants
 * with a MaxBytes= whose nodes include node, of that limit less what the cgroup holds on the
 * grant's nodes (memory.numa_stat) and less LIMIT_MARGIN. UINT64_MAX when no grant limits it; 0
 * when the usage cannot be read (nothing moves that could not be counted). */
static uint64_t grant_room(Pressure *pr, const char *cgroup_dir, const char *rel, unsigned node,
                           const Grant **ret_grant, uint64_t *ret_used) {
        uint64_t room = UINT64_MAX;

        for (size_t i = 0; i < pr_n_grants(pr); i++) {
                const Grant *g = pr_grants(pr)[i];
                uint64_t used, left;

                if (g->max_bytes == UINT64_MAX || !nodemask_test(&g->nodes, node) || !streq_ptr(g->cgroup, rel))
                        continue;
                used = cgroup_node_usage(cgroup_dir, &g->nodes);
                left = demote_grant_room(used, g->max_bytes);
                if (left < room) {
                        room = left;
                        *ret_grant = g;
                        *ret_used = used;
                }
        }
        return room;
}

static DemoteLimit *find_limit(DemoteLimit *l, size_t n, const char *cgroup) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(l[i].cgroup, cgroup))
                        return &l[i];
        return NULL;
}

static void limit_done(DemoteLimit *l) {
        free(l->cgroup);
        free(l->pids);
        *l = (DemoteLimit) {};
}

static void limits_free(DemoteLimit *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                limit_done(&l[i]);
}

static const char *const limit_mode_text[] = {
        [LIMIT_NONE] = "no limit",
        [LIMIT_DAMON] = "DAMON moves its pages: all it holds in DRAM fits",
        [LIMIT_SPMD] = "spmd moves its cold pages itself, within the room",
        [LIMIT_FULL] = "demotion pauses",
};

/* How cgroup rel is demoted onto node this round (see LimitMode). A limited cgroup's entry goes to
 * next, carried over from the last round. Logs each change of mode. */
static LimitMode plan_limit(Pressure *pr, Demotion *d, const char *cgroup_dir, const char *rel, unsigned node,
                            DemoteLimit *next, size_t *n_next) {
        const Grant *g = NULL;
        uint64_t used = 0, room = grant_room(pr, cgroup_dir, rel, node, &g, &used), dram;
        DemoteLimit *prev = find_limit(d->limits, d->n_limits, rel), *l = &next[*n_next];
        LimitMode mode;
        bool changed;
        char a[32], b[32], c[32];

        if (room == UINT64_MAX)
                return LIMIT_NONE;
        dram = cgroup_node_usage(cgroup_dir, &d->dram_nodes);
        mode = demote_limit_mode(room, dram);
        changed = !prev || prev->mode != mode || prev->node != node;
        if (prev) {
                *l = *prev; /* the entry moves on, with its pass */
                *prev = (DemoteLimit) {};
        } else if (!(l->cgroup = strdup(rel))) {
                log_oom();
                return LIMIT_FULL;
        }
        if (changed) {
                if (used == UINT64_MAX)
                        log_warning("Demotion for %s pauses: its memory.numa_stat cannot be read, so grant %" PRIu32
                                    "'s MaxBytes=%s cannot be kept.",
                                    rel, g->id, format_size(b, sizeof b, g->max_bytes));
                else
                        log_info("Demotion for %s: grant %" PRIu32 " holds %s of its MaxBytes=%s on its nodes, "
                                 "%s in DRAM; %s.",
                                 rel, g->id, format_size(a, sizeof a, used), format_size(b, sizeof b, g->max_bytes),
                                 dram == UINT64_MAX ? "?" : format_size(c, sizeof c, dram), limit_mode_text[mode]);
                free(l->pids);
                l->pids = NULL;
                l->n_pids = l->i_pid = 0;
                l->idle_until = 0;
        }
        l->node = node;
        l->mode = mode;
        (*n_next)++;
        return mode;
}

/* The regions of DRAM kdamond 0's stat scheme sees cold, read again every COLD_DRAM_USEC (the read
 * waits for the kdamond). */
static bool dram_cold_ranges(Demotion *d, uint64_t now) {
        DamonRange *r = NULL;
        size_t n = 0;

        if (d->dram_cold_scheme < 0 || !d->applied[DEMOTE_K])
                return false;
        if (d->dram_cold_usec && now - d->dram_cold_usec < COLD_DRAM_USEC)
                return true;
        if (damon_tried_regions(NULL, DEMOTE_K, (size_t) d->dram_cold_scheme, &r, &n) < 0) {
                log_debug("Demotion: cannot read kdamond %u's cold regions.", DEMOTE_K);
                return false;
        }
        free(d->dram_cold);
        d->dram_cold = r;
        d->n_dram_cold = n;
        d->dram_cold_usec = now;
        return true;
}

/*
 * spmd's own moves for the cgroups in LIMIT_SPMD: their cold anonymous pages in DRAM to their SPM
 * node, at most per_round bytes a cgroup a round and never more than the room its grant leaves:
 * the room as memory.numa_stat gives it at the start of the round (the kernel may hold back up to
 * about a MiB of its counts: LIMIT_MARGIN covers that) less what the round moved, huge pages
 * counted whole. LIMIT_SLICE_USEC of work at most per round.
 */
static void move_limited(Pressure *pr, Demotion *d, uint64_t per_round, uint64_t now) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE), deadline = now + LIMIT_SLICE_USEC;
        bool cold_read = false, cold_ok = false;

        for (size_t i = 0; i < d->n_limits; i++) {
                DemoteLimit *l = &d->limits[i];
                char dir[PATH_MAX];
                const Grant *g = NULL;
                uint64_t used = 0, room, spent = 0;
                NodePressure *np = pressure_node(pr, l->node);

                if (l->mode != LIMIT_SPMD || now < l->idle_until)
                        continue;
                if (!cold_read) {
                        cold_ok = dram_cold_ranges(d, now);
                        cold_read = true;
                }
                if (!cold_ok)
                        return; /* no cold regions yet: a later round */
                snprintf(dir, sizeof dir, CGROUP_ROOT "%s", l->cgroup);
                room = MIN(grant_room(pr, dir, l->cgroup, l->node, &g, &used), per_round);
                while (spent < room && now_usec(CLOCK_MONOTONIC) < deadline) {
                        MigrateStats st = {};
                        MigrateCold cold = { .ranges = d->dram_cold, .n = d->n_dram_cold };
                        uint64_t budget = (room - spent) / page;
                        int64_t moved;

                        if (budget == 0)
                                break;
                        if (l->i_pid >= l->n_pids) { /* the pass is over */
                                bool idle = l->n_pids > 0 && !l->moved_in_pass;

                                l->pids = mfree(l->pids);
                                l->n_pids = l->i_pid = 0;
                                l->moved_in_pass = false;
                                if (idle) {
                                        l->idle_until = now + LIMIT_IDLE_USEC;
                                        break;
                                }
                                cgroup_collect_procs(dir, CGROUP_PROCS_DEPTH, &l->pids, &l->n_pids);
                                if (l->n_pids == 0)
                                        break;
                                l->cursor = (MigrateCursor) {};
                        }
                        if (l->cursor.pid != l->pids[l->i_pid] || l->cursor.done)
                                l->cursor = (MigrateCursor) {
                                        .pid = l->pids[l->i_pid],
                                        .private_anon = true,
                                        .whole_huge_pages = true,
                                };
                        l->cursor.cold = &cold;
                        moved = migrate_move_pages(&l->cursor, &d->dram_nodes, (int) l->node, 256, budget, &st);
                        l->cursor.cold = NULL;
                        if (moved > 0) {
                                spent += (uint64_t) moved * page;
                                l->moved_in_pass = true;
                                if (np)
                                        np->act.demoted_bytes += (uint64_t) moved * page;
                        }
                        if (moved < 0 || l->cursor.done)
                                l->i_pid++;
                        else if (moved == 0) {
                                /* nothing cold in the stretch walked, or the next page is a huge page
                                 * larger than the budget left */
                                l->idle_until = now + LIMIT_IDLE_USEC;
                                break;
                        }
                }
        }
}

/* A look, no action: the regions untouched for min_age aggregation intervals (tried_regions). */
static DamonScheme cold_stat_scheme(uint32_t min_age) {
        return (DamonScheme) {
                .action = "stat",
                .young = -1,
                .min_accesses = 0,
                .max_accesses = 0,
                .min_age = min_age,
        };
}

static void plan(Pressure *pr, Demotion *d, uint64_t now) {
        const Config *c = pr_config(pr);
        DamonScheme schemes[MAX_SCHEMES + 1];
        unsigned owner[MAX_SCHEMES + 1];
        LimitMode mode[MAX_SCHEMES];
        DemoteLimit limits[MAX_SCHEMES] = {};
        _cleanup_(strv_freep) char **used = NULL;
        NodeMask spm, targets = {};
        size_t n = 0, n_granted_nodes = 0, n_limits = 0, n_by_spmd = 0, n_full = 0;
        uint32_t cold_age = demote_cold_age(c->demotion_cold_age_usec);
        uint64_t share;

        pressure_spm_nodes(pr, &spm);
        refresh_ranges(pr, d, &spm, now);
        for (size_t i = 0; i < pr->n_nodes; i++) {
                NodePressure *np = &pr->nodes[i];
                _cleanup_(strv_freep) char **cgroups = pressure_node_cgroups(pr, np->node);

                const char *no_damon = topology_damon_unusable(pr_topology(pr), (int) np->node);

                if (cgroups)
                        n_granted_nodes++;
                if (cgroups && no_damon) {
                        if (!nodemask_test(&d->private_said, np->node))
                                log_notice("Demotion to SPM node %u: not through DAMON: %s; the kernel's own "
                                           "demotion moves cold pages there as it reclaims DRAM where the node has "
                                           "the demotion service (PrivateServices=).",
                                           np->node, no_damon);
                        nodemask_set(&d->private_said, np->node);
                        continue;
                }
                if (!cgroups || !node_takes_demotion(pr, d, np))
                        continue;
                for (char **cg = cgroups; *cg && n < MAX_SCHEMES; cg++) {
                        const char *rel = *cg + strlen(CGROUP_ROOT);

                        if (strv_contains(used, rel))
                                continue; /* a grant of two SPM nodes demotes to the first */
                        if (!has_memcg(*cg)) {
                                if (!strv_contains(d->skipped, rel)) {
                                        log_warning("Demotion: %s has no memory controller, so DAMON cannot tell "
                                                    "its pages apart; its pages are not demoted.",
                                                    rel);
                                        (void) strv_extend(&d->skipped, rel);
                                }
                                continue;
                        }
                        if (strv_extend(&used, rel) < 0) {
                                log_oom();
                                limits_free(limits, n_limits);
                                return;
                        }
                        nodemask_set(&targets, np->node);
                        mode[n] = plan_limit(pr, d, *cg, rel, np->node, limits, &n_limits);
                        owner[n] = np->node;
                        n++;
                }
        }
        limits_free(d->limits, d->n_limits);
        memcpy(d->limits, limits, n_limits * sizeof *limits);
        d->n_limits = n_limits;

        /* pointers into used only now that it no longer grows */
        share = demote_quota_share(c->demotion_max_rate, n);
        for (size_t i = 0; i < n; i++) {
                schemes[i] = demote_scheme(used[i], owner[i], cold_age, share, mode[i]);
                n_by_spmd += mode[i] == LIMIT_SPMD;
                n_full += mode[i] == LIMIT_FULL;
        }
        /* the cold DRAM regions spmd's own moves for limited cgroups go by */
        d->dram_cold_scheme = -1;
        if (n_by_spmd == 0) {
                d->dram_cold = mfree(d->dram_cold);
                d->n_dram_cold = 0;
                d->dram_cold_usec = 0;
        } else {
                d->dram_cold_scheme = (int) n;
                owner[n] = 0;
                schemes[n++] = cold_stat_scheme(cold_age);
        }
        if (apply(pr, d, DEMOTE_K,
                  &(DamonSetup) { .ranges = d->dram, .n_ranges = d->n_dram, .schemes = schemes, .n_schemes = n,
                                  .sample_us = SAMPLE_US, .aggr_us = AGGR_US },
                  owner)) {
                char nodes[64], rate[32], limits_text[128] = "";

                nodemask_format(&targets, nodes, sizeof nodes);
                if (n_by_spmd + n_full > 0)
                        snprintf(limits_text, sizeof limits_text,
                                 " (of them near a grant's MaxBytes=: %zu moved by spmd within it, %zu at it)",
                                 n_by_spmd, n_full);
                snprintf(d->summary[DEMOTE_K], sizeof d->summary[DEMOTE_K],
                         "DAMON kdamond %u (pid %d) demotes the anonymous pages of %zu granted cgroup(s)%s untouched "
                         "for %.1fs to SPM node(s) %s, at most %s/s",
                         DEMOTE_K, damon_pid(NULL, DEMOTE_K), n - (n_by_spmd > 0), limits_text,
                         c->demotion_cold_age_usec / 1e6, nodes,
                         c->demotion_max_rate == UINT64_MAX ? "infinity"
                                                            : format_size(rate, sizeof rate, c->demotion_max_rate));
                log_info("Demotion: %s.", d->summary[DEMOTE_K]);
        }
        move_limited(pr, d, share ? share : UINT64_MAX, now);

        /* over the SPM nodes: a look at the cold regions, which evacuation moves first; promotion back
         * to the first DRAM node with CPUs */
        n = 0;
        d->cold_scheme = -1;
        if (c->evacuation && n_granted_nodes > 0) {
                owner[n] = 0;
                d->cold_scheme = (int) n;
                schemes[n++] = cold_stat_scheme(COLD_HINT_AGE);
        }
        if (c->promotion && n_granted_nodes > 0 && d->promote_target >= 0) {
                owner[n] = (unsigned) d->promote_target;
                schemes[n++] = (DamonScheme) {
                        .action = "migrate_hot",
                        .target_nid = (unsigned) d->promote_target,
                        .anon_only = true,
                        .young = 1,
                        .min_accesses = HOT_MIN_ACCESSES,
                        .max_accesses = UINT32_MAX,
                        .min_age = HOT_MIN_AGE,
                        .quota_bytes = c->demotion_max_rate == UINT64_MAX ? 0 : c->demotion_max_rate,
                };
        }
        if (apply(pr, d, SPM_K,
                  &(DamonSetup) { .ranges = d->spm, .n_ranges = d->n_spm, .schemes = schemes, .n_schemes = n,
                                  .sample_us = SAMPLE_US, .aggr_us = AGGR_US },
                  owner)) {
                char promote[96] = "";
                if (c->promotion)
                        snprintf(promote, sizeof promote, "%spromotes hot anonymous pages on them to node %d",
                                 d->cold_scheme >= 0 ? " and " : "", d->promote_target);
                snprintf(d->summary[SPM_K], sizeof d->summary[SPM_K], "DAMON kdamond %u (pid %d) %s%s", SPM_K,
                         damon_pid(NULL, SPM_K),
                         d->cold_scheme >= 0 ? "watches the SPM nodes for cold pages (evacuation moves them first)"
                                             : "watches the SPM nodes and ",
                         promote);
                log_info("Demotion: %s.", d->summary[SPM_K]);
        }
}

static void release(Pressure *pr, Demotion *d) {
        if (!d->claimed)
                return;
        fold_stats(pr, d, true);
        damon_release(NULL, d->claim_file);
        d->claimed = false;
        d->claim_file = mfree(d->claim_file);
        for (unsigned k = 0; k < 2; k++) {
                d->applied[k] = mfree(d->applied[k]);
                d->failed[k] = mfree(d->failed[k]);
                d->n_schemes[k] = 0;
                d->summary[k][0] = 0;
        }
        d->demoting = (NodeMask) {};
        limits_free(d->limits, d->n_limits);
        d->n_limits = 0;
}

void demotion_kick(Pressure *pr) {
        Demotion *d;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        char why[512] = "";

        if (!pr_config(pr)->demotion) {
                if (pr->demotion && pr->demotion->claimed) {
                        release(pr, pr->demotion);
                        log_info("Demotion: off (Enable=no); DAMON's kdamonds given back.");
                }
                if (pr->demotion)
                        pr->demotion->reason = mfree(pr->demotion->reason);
                return;
        }
        if (!(d = demotion(pr))) {
                log_oom();
                return;
        }
        if (!d->claimed) {
                _cleanup_free_ char *file = NULL;
                int r;

                if (d->reason && now < d->retry_usec)
                        return;
                if (asprintf(&file, "%s/damon", pr_config(pr)->state_directory) < 0) {
                        log_oom();
                        return;
                }
                /* the record that these kdamonds are spmd's lives there */
                if (mkdir(pr_config(pr)->state_directory, 0755) < 0 && errno != EEXIST)
                        log_debug("Demotion: cannot create StateDirectory=%s: %m", pr_config(pr)->state_directory);
                r = damon_probe(NULL, why, sizeof why);
                if (r >= 0)
                        r = damon_claim(NULL, 2, file, why, sizeof why);
                if (r < 0) {
                        if (!d->reason || !streq_ptr(d->reason, why))
                                log_warning("Demotion unavailable: %s.", why);
                        free(d->reason);
                        d->reason = strdup(why);
                        d->retry_usec = now + RETRY_USEC;
                        return;
                }
                if (d->reason)
                        log_info("Demotion: DAMON is free again.");
                d->reason = mfree(d->reason);
                d->claimed = true;
                d->claim_file = TAKE_PTR(file);
                d->ranges_usec = 0;
        }
        if (now - d->stats_usec >= STATS_USEC) {
                fold_stats(pr, d, true);
                d->stats_usec = now;
                /* turned off behind spmd's back (another tool, a kdamond that hit an error): set it up anew */
                for (unsigned k = 0; k < 2; k++)
                        if (d->applied[k] && !damon_running(NULL, k)) {
                                log_warning("Demotion: DAMON kdamond %u stopped on its own; starting it again.", k);
                                d->applied[k] = mfree(d->applied[k]);
                                d->summary[k][0] = 0;
                        }
        }
        plan(pr, d, now);
}

void demotion_free(Pressure *pr) {
        Demotion *d = pr->demotion;

        if (!d)
                return;
        release(pr, d);
        free(d->reason);
        strv_free(d->skipped);
        limits_free(d->limits, d->n_limits);
        free(d->dram_cold);
        free(d->dram);
        free(d->spm);
        pr->demotion = mfree(d);
}

const char *demotion_state(Pressure *pr, char *detail, size_t len) {
        Demotion *d = pr->demotion;

        if (!pr_config(pr)->demotion) {
                snprintf(detail, len, "Enable=no");
                return "off";
        }
        if (!d || (!d->claimed && !d->reason)) {
                snprintf(detail, len, "no SPM node yet");
                return "active";
        }
        if (d->reason) {
                snprintf(detail, len, "%s", d->reason);
                return "unavailable";
        }
        /* the counters as last read (every STATS_USEC): reading them waits for the kdamond */
        if (!d->applied[DEMOTE_K] && !d->applied[SPM_K])
                snprintf(detail, len, "waiting: no granted cgroup on an SPM node with room");
        else
                snprintf(detail, len, "%s%s%s", d->summary[DEMOTE_K],
                         d->applied[DEMOTE_K] && d->applied[SPM_K] ? "; " : "", d->summary[SPM_K]);
        return "active";
}

uint64_t demotion_promoted_bytes(const Pressure *pr) {
        return pr->demotion ? pr->demotion->promoted : 0;
}

int demotion_cold_ranges(Pressure *pr, DamonRange **ret, size_t *ret_n, const char **ret_why) {
        Demotion *d = pr->demotion;

        if (!pr_config(pr)->demotion) {
                *ret_why = "DAMON is spmd's only with [Demotion] Enable=yes";
                return -ENODATA;
        }
        if (!d || !d->claimed) {
                *ret_why = d && d->reason ? d->reason : "DAMON not set up";
                return -ENODATA;
        }
        if (d->cold_scheme < 0 || !d->applied[SPM_K]) {
                *ret_why = "DAMON does not watch the SPM nodes (no granted cgroup)";
                return -ENODATA;
        }
        *ret_why = "DAMON's cold regions could not be read";
        return damon_tried_regions(NULL, SPM_K, (size_t) d->cold_scheme, ret, ret_n);
}
