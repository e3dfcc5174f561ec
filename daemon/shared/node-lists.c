/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdio.h>

#include "fileio.h"
#include "node-lists.h"
#include "parse-util.h"

/* One list as a mask; false when the file is absent or unreadable. */
static bool read_list(const char *root, const char *name, NodeMask *ret) {
        char path[PATH_MAX], buf[4096];

        *ret = (NodeMask){};
        if ((size_t) snprintf(path, sizeof path, "%s/sys/devices/system/node/%s", root, name) >= sizeof path ||
            read_one_line(path, buf, sizeof buf) < 0)
                return false;
        return !buf[0] || parse_nodemask(buf, ret) >= 0;
}

void node_lists_read(const char *root, NodeLists *ret) {
        ret->have_memory = read_list(root, "has_memory", &ret->memory);
        ret->have_public = read_list(root, "has_public_memory", &ret->public_memory);
        ret->have_user = read_list(root, "has_user_memory", &ret->user_memory);
        ret->have_private_rfc = read_list(root, "has_private_memory", &ret->private_memory);
}

bool node_lists_know_private(const NodeLists *l) {
        return (l->have_public && l->have_memory) || l->have_private_rfc;
}

bool node_lists_private(const NodeLists *l, unsigned node) {
        return (l->have_public && l->have_memory && nodemask_test(&l->memory, node) &&
                !nodemask_test(&l->public_memory, node)) ||
               (l->have_private_rfc && nodemask_test(&l->private_memory, node));
}

int node_lists_user_placeable(const NodeLists *l, unsigned node) {
        return l->have_user ? nodemask_test(&l->user_memory, node) : -1;
}

NodeMask node_lists_private_nodes(const NodeLists *l) {
        NodeMask m = {};

        for (unsigned n = 0; n < SPMD_MAX_NODES; n++)
                if (node_lists_private(l, n))
                        nodemask_set(&m, n);
        return m;
}
