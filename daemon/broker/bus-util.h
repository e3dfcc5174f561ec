/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who calls spmd over D-Bus, as the bus daemon says: uid, pid and a pidfd of the process that
 * made the connection, asked once per connection (GetConnectionCredentials) and kept for the
 * last few senders. The caller's cgroup takes more (caller_identify(), which fails closed). Used
 * by the broker's methods and by the manager's root-only ones (Reload, ReleaseDevice).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "nodemask.h"

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

/* Who sent MSG: 0 with *c filled (uid, pid, groups) when spmd knows the sender; 1 when the bus
 * daemon is being asked, and AGAIN(MSG, USERDATA) runs once the answer is in (the method returns
 * 1 meanwhile); <0 refused, with ERROR. */
int caller_get(sd_bus_message *msg, sd_bus_message_handler_t again, void *userdata, CallerInfo *c,
               sd_bus_error *error);
/* 0 when the caller is root; 1 while its credentials are asked for (caller_get()); <0 refused. */
int caller_require_root(sd_bus_message *msg, sd_bus_message_handler_t again, void *userdata, const char *what,
                        sd_bus_error *error);
/* The caller's cgroup into c->cgroup, established or refused (fails closed, with ERROR). */
int caller_identify(CallerInfo *c, sd_bus_error *error);
/* c->user and c->gids for c->uid, from the user database. */
void caller_groups(CallerInfo *c);
/* A new bus connection: unique names are unique on one bus instance only. */
void caller_cache_clear(void);
/* A NameOwnerChanged signal's arguments: when each unique name connected (a pid that started later
 * was reused, where the bus gives no pidfd). */
void caller_name_owner_changed(const char *name, const char *old_owner, const char *new_owner);

/* MASK as "au". */
int bus_append_nodemask(sd_bus_message *msg, const NodeMask *mask);
