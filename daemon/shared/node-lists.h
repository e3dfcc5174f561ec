/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel's node lists (/sys/devices/system/node/has_*) that tell private nodes apart: a node
 * in has_memory but not in has_public_memory is private (no allocation reaches it without naming
 * it); only nodes in has_user_memory can be named by userspace. The v4 RFC's has_private_memory
 * lists private nodes directly; it is still recognised. Plain sysfs reads and no library, so that
 * spmctl's bus verbs can use them (spmctl run).
 */
#include <stdbool.h>

#include "nodemask.h"

typedef struct NodeLists {
        NodeMask memory, public_memory, user_memory, private_memory;
        bool have_memory, have_public, have_user, have_private_rfc; /* the file is there */
} NodeLists;

/* root: "" for the live tree, a recorded one (tests) otherwise. */
void node_lists_read(const char *root, NodeLists *ret);
/* The kernel tells private nodes apart at all. */
bool node_lists_know_private(const NodeLists *l);
bool node_lists_private(const NodeLists *l, unsigned node);
/* 1 or 0: in has_user_memory or not; -1: the kernel has no such list. */
int node_lists_user_placeable(const NodeLists *l, unsigned node);
/* The private nodes among those with memory. */
NodeMask node_lists_private_nodes(const NodeLists *l);
