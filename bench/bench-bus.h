/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the broker benchmarks share: the clock, percentiles, and spmd's calls as a client makes them. */
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

uint64_t now_ns(void);
int cmp_u64(const void *a, const void *b);
/* The P-th percentile of V (sorted, N > 0), nearest rank. */
uint64_t pct(const uint64_t *v, size_t n, double p);

/* RequestAccess(CGROUP) with no nodes, no limit, no options; the grant's path into PATH. Says why on
 * stderr when refused. */
int request(sd_bus *bus, const char *cgroup, char *path, size_t len);
int release(sd_bus *bus, const char *path);
/* org.freedesktop.DBus.Peer.Ping to spmd: a round trip sd-bus answers on spmd's loop. */
int ping(sd_bus *bus);
/* The first of spmd's SPM nodes; -ENODEV when it has none. */
int spm_node(sd_bus *bus, unsigned *ret);
