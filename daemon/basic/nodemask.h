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

/* The first node of m at FROM or above; SPMD_MAX_NODES when there is none. A word at a time: the
 * masks have 1024 bits, and a bit-by-bit scan of each showed up in the daemon's profile (formatting
 * every grant's nodes for the grants file). */
static inline unsigned nodemask_next(const NodeMask *m, unsigned from) {
        for (unsigned i = from / 64; from < SPMD_MAX_NODES && i < NODEMASK_WORDS; i++, from = i * 64) {
                uint64_t w = m->bits[i] & (~UINT64_C(0) << (from % 64));

                if (w)
                        return i * 64 + (unsigned) __builtin_ctzll(w);
        }
        return SPMD_MAX_NODES;
}

/* The last node of the run of set nodes that starts at NODE (a set node). */
static inline unsigned nodemask_run_end(const NodeMask *m, unsigned node) {
        for (unsigned i = node / 64; i < NODEMASK_WORDS; i++, node = i * 64) {
                uint64_t clear = ~m->bits[i] & (~UINT64_C(0) << (node % 64));

                if (clear)
                        return i * 64 + (unsigned) __builtin_ctzll(clear) - 1;
        }
        return SPMD_MAX_NODES - 1;
}

#define NODEMASK_FOREACH(node, m) \
        for (unsigned node = nodemask_next((m), 0); node < SPMD_MAX_NODES; node = nodemask_next((m), node + 1))

/* "1,3-5" form, as cpuset.mems prints it. Returns buf. */
char *nodemask_format(const NodeMask *m, char *buf, size_t len);
/* The same, -ENOBUFS when buf cannot hold all of it: for values written to the kernel. */
int nodemask_format_checked(const NodeMask *m, char *buf, size_t len);
/* Room for any mask in list form ("0,2,4,...,1022": at most 5 characters a node). */
#define NODEMASK_FORMAT_MAX (5 * SPMD_MAX_NODES + 1)
