/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel-demotion.h"

#define DEMOTION_ENABLED "/sys/kernel/mm/numa/demotion_enabled"

int demotion_target_spm(const Topology *t, const NodeMask *spm) {
        int top = -1; /* the highest tier (smallest id) of a node with memory outside SPM */
        bool other = false;

        assert(t);
        assert(spm);
        for (size_t i = 0; i < t->n_nodes; i++) {
                const NodeInfo *n = &t->nodes[i];

                if (n->size == 0 || nodemask_test(spm, (unsigned) n->id))
                        continue;
                other = true;
                if (n->memory_tier >= 0 && (top < 0 || n->memory_tier < top))
                        top = n->memory_tier;
        }
        if (!other)
                return -1; /* nothing demotes: the SPM nodes are the only memory */
        for (unsigned node = 0; node < SPMD_MAX_NODES; node++) {
                const NodeInfo *n = NULL;

                if (!nodemask_test(spm, node))
                        continue;
                for (size_t i = 0; i < t->n_nodes && !n; i++)
                        if (t->nodes[i].id == (int) node)
                                n = &t->nodes[i];
                /* not read yet (onlined since), or in no known tier: taken to be a target */
                if (!n || n->memory_tier < 0 || top < 0 || n->memory_tier > top)
                        return (int) node;
        }
        return -1;
}

static int path_of(const char *root, char *buf, size_t len) {
        return (size_t) snprintf(buf, len, "%s%s", root, DEMOTION_ENABLED) < len ? 0 : -ENAMETOOLONG;
}

int kernel_demotion_get(const char *root, HeldFile *held, bool *ret) {
        char p[4096], buf[16];
        ssize_t n;
        int r;

        r = path_of(root, p, sizeof p);
        if (r < 0)
                return r;
        n = held_file_read(held, p, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        /* "true"/"false"; older kernels print 1/0 */
        if (buf[0] == 't' || buf[0] == '1' || buf[0] == 'y')
                *ret = true;
        else if (buf[0] == 'f' || buf[0] == '0' || buf[0] == 'n')
                *ret = false;
        else
                return -EBADMSG;
        return 0;
}

int kernel_demotion_set(const char *root, bool on) {
        const char *v = on ? "true" : "false";
        char p[4096];
        int r;

        r = path_of(root, p, sizeof p);
        if (r < 0)
                return r;
        return write_one_value(p, v, 0);
}
