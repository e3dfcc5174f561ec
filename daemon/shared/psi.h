/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory pressure stall information (PSI): the "some" stall time of a cgroup
 * (memory.pressure) or of the whole system (/proc/pressure/memory), as a
 * share of a window, and the kernel's triggers on it.
 *
 * A trigger ("some STALL WINDOW" written to the open file) makes the kernel
 * signal POLLPRI once the stall within a window exceeds STALL: the reaction
 * is event-driven; the share itself is computed from the cumulative total=
 * counter between two readings at least a window apart (or the oldest
 * reading spmd has). No logging above debug level.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fileio.h"

#define PSI_HISTORY 128
#define PSI_MIN_SPACING_USEC (100 * 1000)

typedef struct PsiReading {
        uint64_t usec;  /* CLOCK_MONOTONIC */
        uint64_t total; /* "some" stall, microseconds since boot */
} PsiReading;

typedef struct PsiHistory {
        PsiReading r[PSI_HISTORY];
        unsigned n, next;
} PsiHistory;

/* The "some" total= from the contents of a pressure file; -EBADMSG when there is none. */
int psi_parse_some_total(const char *buf, uint64_t *ret);
/* Read path's some total=; -errno. held (may be NULL) keeps the file open between reads (fileio.h). */
int psi_read_some_total(const char *path, HeldFile *held, uint64_t *ret);
#define PSI_UNPRIVILEGED_WINDOW_USEC (2000 * 1000)

/* Open path with a trigger at stall_usec per window_usec (500 ms .. 10 s; without CAP_SYS_RESOURCE
 * the same share over the window rounded up to a multiple of 2 s); the fd to poll for POLLPRI
 * (EPOLLPRI), or -errno (EINVAL: the kernel refused the trigger). */
int psi_open_trigger(const char *path, uint64_t stall_usec, uint64_t window_usec);

void psi_history_add(PsiHistory *h, uint64_t usec, uint64_t total);
/* Stall share (permyriad) over the last window_usec; 0 with fewer than two readings. */
uint32_t psi_history_share(const PsiHistory *h, uint64_t window_usec);
