/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who may hold SPM memory: the [Access] rules applied to a caller's
 * credentials (as the bus reports them, never as the caller claims them) and
 * to what it asks for. Pure apart from group-name lookups; unit-tested.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "nodemask.h"

typedef struct AccessCaller {
        uid_t uid;
        const char *user;     /* the uid's name, or NULL */
        const gid_t *gids;    /* primary and supplementary groups */
        size_t n_gids;
        const char *cgroup;   /* the caller's own cgroup, "/..." ("/" for the root) */
} AccessCaller;

typedef struct AccessRequest {
        const char *cgroup;   /* the cgroup the grant is for, already resolved */
        NodeMask nodes;       /* SPM nodes asked for; empty = every SPM node the rule covers */
        uint64_t max_bytes;   /* 0 = the rule's MaxBytes= */
        bool persistent;      /* outlive the client's bus connection */
} AccessRequest;

typedef struct AccessDecision {
        const AccessConf *rule; /* NULL: root, admitted without a rule */
        NodeMask nodes;         /* what the grant covers */
        uint64_t max_bytes;     /* UINT64_MAX = no limit */
} AccessDecision;

/* How many grants uid holds under rule now (for MaxGrants=). */
typedef unsigned (*AccessCountGrants)(const AccessConf *rule, uid_t uid, void *userdata);

#define ACCESS_ROOT_RULE "root"

/* Does any rule admit the caller at all (root always)? -EACCES with *ret_error saying so. */
int access_admitted(const Config *c, const AccessCaller *caller, char **ret_error);

/*
 * Decide a request. spm: the SPM nodes now. Returns 0 with *ret filled,
 * -EINVAL when the request itself is wrong (a node that is not an SPM node,
 * no SPM nodes at all), -EACCES when no rule allows it; in both cases
 * *ret_error says why, naming the rule(s) that refused.
 */
int access_check(const Config *c, const NodeMask *spm, const AccessCaller *caller, const AccessRequest *req,
                 AccessCountGrants count, void *userdata, AccessDecision *ret, char **ret_error);

/*
 * After access_check(): SPM nodes userspace cannot name (private nodes without user_numa, see
 * topology.h) cannot be granted. -EINVAL when the request names one, or when every node the grant
 * would cover is one; otherwise they leave d->nodes. *ret_error says which and why.
 */
int access_placeable(const AccessRequest *req, const NodeMask *unplaceable, AccessDecision *d, char **ret_error);

/* A rule's label for messages: "[Access] NAME (FILE:LINE)". */
void access_rule_label(const AccessConf *a, char *buf, size_t len);
