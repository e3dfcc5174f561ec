/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "macro.h"
#include "cpuset-plan.h"
#include "parse-util.h"
#include "strv.h"

void access_rule_label(const AccessConf *a, char *buf, size_t len) {
        snprintf(buf, len, "[Access]%s%s (%s:%u)", a->name ? " " : "", strempty(a->name), a->source.file,
                 a->source.line);
}

static bool number_is(const char *s, uint64_t v) {
        uint64_t x;
        return parse_uint64(s, &x) >= 0 && x == v;
}

static bool rule_admits(const AccessConf *a, const AccessCaller *caller) {
        for (char **u = a->users; u && *u; u++)
                if (number_is(*u, caller->uid) || streq_ptr(*u, caller->user))
                        return true;
        for (char **g = a->groups; g && *g; g++) {
                uint64_t gid;
                gid_t want;

                if (parse_uint64(*g, &gid) >= 0)
                        want = (gid_t) gid;
                else {
                        struct group grp, *res = NULL;
                        char buf[4096];

                        if (getgrnam_r(*g, &grp, buf, sizeof buf, &res) != 0 || !res)
                                continue; /* a group that does not exist admits nobody */
                        want = res->gr_gid;
                }
                for (size_t i = 0; i < caller->n_gids; i++)
                        if (caller->gids[i] == want)
                                return true;
        }
        return false;
}

static bool any_glob(char **globs, const char *s) {
        for (char **p = globs; p && *p; p++)
                if (fnmatch(*p, s, 0) == 0)
                        return true;
        return false;
}

/* NULL when the rule lets the request through; otherwise why not (static or in buf). */
static const char *rule_refuses(const AccessConf *a, const NodeMask *spm, const AccessCaller *caller,
                                const AccessRequest *req, unsigned held, AccessDecision *d, char *buf, size_t len) {
        char s1[256], s2[256];

        if (strv_isempty(a->units) && strv_isempty(a->cgroups)) {
                /* "the caller's own cgroup" needs one: unknown or the root (which covers every
                 * cgroup) admits nothing, never everything */
                if (!caller->cgroup || caller->cgroup[0] != '/' || strcmp(caller->cgroup, "/") == 0) {
                        snprintf(buf, len,
                                 "the rule names no Unit= or Cgroup=, so it admits only the caller's own cgroup, and "
                                 "the caller %s",
                                 caller->cgroup && strcmp(caller->cgroup, "/") == 0 ? "runs in the root cgroup"
                                                                                      : "has no known cgroup");
                        return buf;
                }
                if (!cgroup_path_covers(caller->cgroup, req->cgroup)) {
                        snprintf(buf, len,
                                 "cgroup %s is not the caller's own cgroup %s or below it, and the rule names no "
                                 "Unit= or Cgroup=",
                                 req->cgroup, caller->cgroup);
                        return buf;
                }
        } else {
                const char *unit = cgroup_path_unit(req->cgroup);

                if (!any_glob(a->cgroups, req->cgroup) && !(unit && any_glob(a->units, unit))) {
                        snprintf(buf, len, "cgroup %s%s%s%s matches none of its Unit= and Cgroup= patterns",
                                 req->cgroup, unit ? " (unit " : "", strempty(unit), unit ? ")" : "");
                        return buf;
                }
        }

        NodeMask allowed = a->all_nodes ? *spm : nodemask_and(&a->nodes, spm);
        if (nodemask_empty(&req->nodes)) {
                if (nodemask_empty(&allowed)) {
                        snprintf(buf, len, "Nodes=%s covers none of the SPM nodes (%s)",
                                 nodemask_format(&a->nodes, s1, sizeof s1), nodemask_format(spm, s2, sizeof s2));
                        return buf;
                }
                d->nodes = allowed;
        } else {
                NodeMask outside = nodemask_andnot(&req->nodes, &allowed);
                if (!nodemask_empty(&outside)) {
                        snprintf(buf, len, "Nodes=%s does not cover node(s) %s",
                                 nodemask_format(&a->nodes, s1, sizeof s1),
                                 nodemask_format(&outside, s2, sizeof s2));
                        return buf;
                }
                d->nodes = req->nodes;
        }

        if (req->max_bytes == 0)
                d->max_bytes = a->max_bytes;
        else if (req->max_bytes > a->max_bytes) {
                snprintf(buf, len, "MaxBytes=%s is less than the %s asked for",
                         format_size(s1, sizeof s1, a->max_bytes), format_size(s2, sizeof s2, req->max_bytes));
                return buf;
        } else
                d->max_bytes = req->max_bytes;

        if (req->persistent && !a->allow_persistent)
                return "AllowPersistent=no, and the request asks for a persistent grant";
        if (held >= a->max_grants) {
                snprintf(buf, len, "MaxGrants=%u reached: the caller holds %u grant(s) under it", a->max_grants,
                         held);
                return buf;
        }
        return NULL;
}

int access_admitted(const Config *c, const AccessCaller *caller, char **ret_error) {
        *ret_error = NULL;
        if (caller->uid == 0)
                return 0;
        for (size_t i = 0; i < c->n_access; i++)
                if (rule_admits(c->access[i], caller))
                        return 0;
        if (asprintf(ret_error,
                     "no [Access] rule admits uid %u%s%s%s: add User= or Group= for it to an [Access] section (%zu "
                     "rule(s) in the policy)",
                     (unsigned) caller->uid, caller->user ? " (" : "", strempty(caller->user), caller->user ? ")" : "",
                     c->n_access) < 0)
                return -ENOMEM;
        return -EACCES;
}

int access_check(const Config *c, const NodeMask *spm, const AccessCaller *caller, const AccessRequest *req,
                 AccessCountGrants count, void *userdata, AccessDecision *ret, char **ret_error) {
        char *msg = NULL, s[256];
        size_t msg_len = 0;
        FILE *f;
        unsigned n_admitting = 0;

        *ret_error = NULL;
        /* who first: a caller no rule admits learns nothing about the nodes */
        int r = access_admitted(c, caller, ret_error);
        if (r < 0)
                return r;
        if (nodemask_empty(spm)) {
                *ret_error = strdup("there are no SPM nodes: no [Device] is online as one");
                return -EINVAL;
        }
        NodeMask not_spm = nodemask_andnot(&req->nodes, spm);
        if (!nodemask_empty(&not_spm)) {
                char s2[256];
                if (asprintf(ret_error, "node(s) %s are not SPM nodes (SPM nodes: %s)",
                             nodemask_format(&not_spm, s, sizeof s), nodemask_format(spm, s2, sizeof s2)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }

        if (caller->uid == 0) {
                /* root can write cpuset.mems itself: rules would only be in its way */
                *ret = (AccessDecision){ .rule = NULL, .nodes = nodemask_empty(&req->nodes) ? *spm : req->nodes,
                                         .max_bytes = req->max_bytes ? req->max_bytes : UINT64_MAX };
                return 0;
        }

        f = open_memstream(&msg, &msg_len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_access; i++) {
                const AccessConf *a = c->access[i];
                AccessDecision d = { .rule = a };
                const char *why;
                char buf[512], label[300];

                if (!rule_admits(a, caller))
                        continue;
                why = rule_refuses(a, spm, caller, req, count ? count(a, caller->uid, userdata) : 0, &d, buf,
                                   sizeof buf);
                if (!why) {
                        fclose(f);
                        free(msg);
                        *ret = d;
                        return 0;
                }
                access_rule_label(a, label, sizeof label);
                fprintf(f, "%s%s refuses: %s", n_admitting++ ? "; " : "", label, why);
        }
        fclose(f);
        *ret_error = msg;
        return -EACCES;
}

int access_placeable(const AccessRequest *req, const NodeMask *unplaceable, AccessDecision *d, char **ret_error) {
        NodeMask named = nodemask_and(&req->nodes, unplaceable), left = nodemask_andnot(&d->nodes, unplaceable);
        char s[256];

        *ret_error = NULL;
        if (!nodemask_empty(&named) || nodemask_empty(&left)) {
                if (asprintf(ret_error,
                             "%s %s: private node(s) without user_numa, which no userspace allocation may name, so "
                             "they cannot be granted (their [Device] needs user_numa in PrivateServices=)",
                             nodemask_empty(&named) ? "every SPM node the grant would cover is in" : "node(s) asked for:",
                             nodemask_format(nodemask_empty(&named) ? &d->nodes : &named, s, sizeof s)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        d->nodes = left;
        return 0;
}

