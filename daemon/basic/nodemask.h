/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Matches the kernel's default MAX_NUMNODES upper bound (CONFIG_NODES_SHIFT=10). */
#define SPMD_MAX_NODES     1024
#define NODEMASK_WORDS     (SPMD_MAX_NODES / 64)

typedef struct NodeMask {
        uint64_t bits[NODEMASK_WORDS];
} NodeMask;

static inline void nodemask_set(NodeMask *m, unsigned node) {
        if (node < SPMD_MAX_NODES)
                m->bits[node / 64] |= UINT64_C(1) << (node % 64);
}

static inline void nodemask_clear(NodeMask *m, unsigned node) {
        if (node < SPMD_MAX_NODES)
                m->bits[node / 64] &= ~(UINT64_C(1) << (node % 64));
}

static inline bool nodemask_test(const NodeMask *m, unsigned node) {
        return node < SPMD_MAX_NODES && (m->bits[node / 64] >> (node % 64)) & 1;
}

static inline bool nodemask_empty(const NodeMask *m) {
        for (unsigned i = 0; i < NODEMASK_WORDS; i++)
                if (m->bits[i])
                        return false;
        return true;
}

static inline bool nodemask_same(const NodeMask *a, const NodeMask *b) {
        return memcmp(a, b, sizeof *a) == 0;
}

static inline NodeMask nodemask_or(const NodeMask *a, const NodeMask *b) {
        NodeMask r;
        for (unsigned i = 0; i < NODEMASK_WORDS; i++)
                r.bits[i] = a->bits[i] | b->bits[i];
        return r;
}

static inline NodeMask nodemask_and(const NodeMask *a, const NodeMask *b) {
        NodeMask r;
        for (unsigned i = 0; i < NODEMASK_WORDS; i++)
                r.bits[i] = a->bits[i] & b->bits[i];
        return r;
}

/* a without b */
static inline NodeMask nodemask_andnot(const NodeMask *a, const NodeMask *b) {
        NodeMask r;
        for (unsigned i = 0; i < NODEMASK_WORDS; i++)
                r.bits[i] = a->bits[i] & ~b->bits[i];
        return r;
}

/* every node of a is in b */
static inline bool nodemask_subset(const NodeMask *a, const NodeMask *b) {
        for (unsigned i = 0; i < NODEMASK_WORDS; i++)
                if (a->bits[i] & ~b->bits[i])
                        return false;
        return true;
}

#define NODEMASK_FOREACH(node, m)                          \
        for (unsigned node = 0; node < SPMD_MAX_NODES; node++) \
                if (nodemask_test((m), node))

/* "1,3-5" form, as cpuset.mems prints it. Returns buf. */
char *nodemask_format(const NodeMask *m, char *buf, size_t len);
/* The same, -ENOBUFS when buf cannot hold all of it: for values written to the kernel. */
int nodemask_format_checked(const NodeMask *m, char *buf, size_t len);
/* Room for any mask in list form ("0,2,4,...,1022": at most 5 characters a node). */
#define NODEMASK_FORMAT_MAX (5 * SPMD_MAX_NODES + 1)
