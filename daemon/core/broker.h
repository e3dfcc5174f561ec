/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus access broker: org.spmd1 on the system bus. Clients ask for
 * grants; each is authorised from the caller's credentials against the
 * [Access] rules, recorded under StateDirectory=, tied to the client's bus
 * connection (unless persistent) and to its cgroup, and put in force through
 * the cpuset wall and the BPF maps before the reply leaves. API: docs/dbus-api.md.
 */
#pragma once

#include <stdbool.h>

#include "cpuset.h"
#include "nodemask.h"

typedef struct Manager Manager;
struct spmd_violation_event;
struct spmd_guard_event;

/* Read the grants a previous spmd recorded (before enforcement is first applied). */
void broker_load_state(Manager *m);
/* Connect to the system bus and take the name; without a bus the broker is reported unavailable. */
int broker_start(Manager *m);
/* Off the bus: the grants' bus matches go; grants and their cgroup watches stay. */
void broker_stop(Manager *m);
/* Stopping: that, and the grants' cgroup watches (the grants themselves are the manager's). */
void broker_free(Manager *m);
/* Not on the bus: try to connect now rather than at the next retry (SIGHUP, Reload). */
void broker_reconnect_now(Manager *m);

/* The broker's grants, as inputs for the cpuset wall (labels live until the next grant change). */
size_t broker_cpuset_grants(Manager *m, const NodeMask *spm, CpusetGrant *out, size_t max);
size_t broker_n_grants(const Manager *m);
/* cgroup ids of the grants whose cgroups exist; up to max. */
size_t broker_grant_cgroup_ids(Manager *m, uint64_t *ids, size_t max);

/* The cpuset wall's writer finished a batch (cpuset_wall_on_written()): answer the RequestAccess and
 * ReleaseAccess calls that waited for their cgroups' walls. */
void broker_wall_written(Manager *m, uint64_t done, char *const *failed);

/* After a reload: revoke the grants the new policy no longer allows. */
void broker_recheck(Manager *m);
/* Enforcement layers changed state (reload, setup): PropertiesChanged. */
void broker_layers_changed(Manager *m);
void broker_emit_violation(Manager *m, const struct spmd_violation_event *e, const char *cgroup);
void broker_emit_pressure(Manager *m, unsigned node, int level, int before, const char *why);
void broker_emit_denial(Manager *m, const struct spmd_guard_event *e, const char *cgroup, const char *target);
