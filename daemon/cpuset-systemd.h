/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

typedef struct Manager Manager;

/* On a host booted with systemd, route the walls on its units through it (AllowedMemoryNodes=).
 * 1 when it does, 0 without systemd, <0 (logged) when systemd cannot be reached: cgroupfs then. */
int manager_cpuset_systemd(Manager *m);
void manager_cpuset_systemd_free(Manager *m);
