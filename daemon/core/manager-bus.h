/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager on the system bus (manager-bus.c). */
#pragma once

#include "manager.h"

struct spmd_violation_event;
struct spmd_guard_event;

/* Connect to the system bus and take the name; without a bus the broker is reported unavailable,
 * and the recorded grants tied to clients end. */
int manager_bus_start(Manager *m);
/* Off the bus: the grants' bus matches go; grants and their cgroup watches stay. */
void manager_bus_stop(Manager *m);
/* Not on the bus: try to connect now rather than at the next retry (SIGHUP, Reload). */
void manager_bus_reconnect_now(Manager *m);

/* Enforcement layers changed state (reload, setup): PropertiesChanged. */
void manager_bus_layers_changed(Manager *m);
void manager_bus_emit_violation(Manager *m, const struct spmd_violation_event *e, const char *cgroup);
void manager_bus_emit_pressure(Manager *m, unsigned node, int level, int before, const char *why);
void manager_bus_emit_denial(Manager *m, const struct spmd_guard_event *e, const char *cgroup, const char *target);
