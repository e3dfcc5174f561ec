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
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cpuset.h"
#include "nodemask.h"

typedef struct Manager Manager;
struct spmd_violation_event;
struct spmd_guard_event;
struct WallWaiter;
typedef struct Grant Grant;

/* The broker's own state: its bus connection, the grants and the calls waiting for the wall. The
 * manager makes it first and frees it last (the pressure subsystem reads the grants until it goes). */
typedef struct Broker {
        sd_bus *bus;                    /* NULL when unavailable */
        char *bus_reason;
        sd_event_source *bus_retry;     /* the next attempt to (re)connect to the system bus */
        uint64_t bus_retry_usec;        /* ... its delay, doubling to 30 s */
        Grant **grants;
        size_t n_grants;
        uint32_t next_grant_id;
        char **grant_labels;            /* for the cpuset wall's logs */
        sd_event_source *limit_source;  /* looks at the grants' byte limits */
        struct WallWaiter *wall_waiters; /* RequestAccess and ReleaseAccess calls, answered when the
                                          * wall's writes they wait for are done (broker_wall_written()) */
        size_t n_wall_waiters;
} Broker;

int broker_new(Broker **ret);
/* The grants and what is left of the state; after broker_shutdown() and pressure_free(). */
Broker *broker_free(Broker *b);

/* Read the grants a previous spmd recorded (before enforcement is first applied). */
void broker_load_state(Manager *m);
/* Connect to the system bus and take the name; without a bus the broker is reported unavailable. */
int broker_start(Manager *m);
/* Off the bus: the grants' bus matches go; grants and their cgroup watches stay. */
void broker_stop(Manager *m);
/* Stopping: that, the calls still waiting, and the grants' cgroup watches (the grants stay, for
 * the pressure subsystem's teardown, until broker_free()). */
void broker_shutdown(Manager *m);
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
