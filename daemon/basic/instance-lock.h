/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One spmd per host: spmd holds an open file description lock (F_OFD_SETLK) on
 * StateDirectory=/spmd.lock for as long as it runs, with its pid in the file. A
 * second spmd finds the lock taken and exits naming the first; spmctl tests it
 * (F_OFD_GETLK, which takes nothing) to tell "spmd runs but is not on the bus"
 * from "spmd is not running". The kernel drops the lock when spmd's last fd to
 * it closes, however spmd ends.
 */
#pragma once

#include <sys/types.h>

#define SPMD_LOCK_FILE "spmd.lock"

/* Take dir's lock (dir is created 0755 if missing): the fd to keep open, -EBUSY with *ret_holder the
 * pid of the spmd that holds it (0 if its file says none), or another -errno. */
int instance_lock_take(const char *dir, pid_t *ret_holder);

/* The pid of the spmd holding dir's lock (-1 when its file names none), 0 when nobody holds it,
 * -errno when it cannot be told (no such file: 0). */
pid_t instance_lock_holder(const char *dir);
