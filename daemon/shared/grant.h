/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grants handed out over D-Bus: what they are, and their record under
 * StateDirectory= so that they survive a restart of spmd. The bus side
 * (objects, tracking of the client) lives in broker.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "nodemask.h"

typedef struct Grant {
        uint32_t id;
        char *cgroup;          /* the cgroup granted, with its subtree */
        NodeMask nodes;
        uint64_t max_bytes;    /* UINT64_MAX = no limit */
        bool persistent;       /* outlives the client's connection */
        char *rule;            /* the [Access] Name= (or "FILE:LINE") that allowed it; "root" */

        /* the client, as the bus reported it when it asked */
        char *owner;           /* unique bus name, ":1.42" */
        uid_t uid;
        pid_t pid;
        char *caller_cgroup;
        uint64_t created_usec; /* CLOCK_REALTIME */

        /* runtime only */
        void *broker;          /* the Broker that holds it */
        uint64_t cgroup_id;    /* inode of the cgroup directory, the id BPF sees; 0 = not known */
        bool over_limit;       /* its usage on its nodes was above max_bytes at the last look */
        void *owner_check;     /* sd_bus_slot: GetNameOwner, where the client may have left unseen */
        bool adopted;          /* read back after a restart, its client not yet found on the bus */
        void *removal_watch;   /* sd_event_source: inotify (sd-event's) on the cgroup's parent */
        char *line;            /* grant_line(), kept: what it records does not change */
        char *label;           /* grant_label(), kept likewise */
} Grant;

Grant *grant_free(Grant *g);

/*
 * The memory policy spmctl run gives a command on the granted nodes: MPOL_BIND over them when one
 * is a private node (userspace placement there works only with MPOL_BIND; the preferred and
 * interleave modes drop private nodes), true with *ret set; false to leave the kernel's default
 * policy, as on ordinary SPM nodes.
 */
bool grant_run_bind(const NodeMask *granted, const NodeMask *private_nodes, NodeMask *ret);

/* grant_serialize()'s line, formatted once and kept with the grant (NULL: out of memory, or a value
 * it cannot store). The recorded fields must not change after the first call. */
const char *grant_line(Grant *g);
/* "grant 7 (uid 1000, RULE)", for logs: formatted once and kept with the grant (NULL: out of memory). */
const char *grant_label(Grant *g);
/* One line of the state file per grant; tab-separated key=value (tabs and newlines cannot occur in the values). */
int grant_serialize(const Grant *g, FILE *f);
/* Parse a line written by grant_serialize(); -EINVAL with *ret_error saying what is wrong. */
int grant_parse(const char *line, Grant **ret, char **ret_error);
/* Bytes a cgroup holds on the nodes in mask, from its memory.numa_stat (anon + file, which
 * includes shmem); UINT64_MAX when it cannot be read (no memory controller on the cgroup). */
uint64_t cgroup_node_usage(const char *cgroup_dir, const NodeMask *mask);

/* A value grant_serialize() can store: no tab, newline or other control character. */
bool grant_value_ok(const char *s);
