/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The access broker: grants of SPM nodes to cgroups, asked for over D-Bus (RequestAccess,
 * ReleaseAccess, ListGrants and the grant objects on org.spmd1). Each is authorised from the
 * caller's credentials against the [Access] rules, recorded under StateDirectory=, tied to the
 * client's bus connection (unless persistent) and to its cgroup, and put in force through the
 * cpuset wall and the BPF maps before the reply leaves. API: docs/dbus-api.md.
 *
 * The broker owns the grants. It reaches nothing of the daemon's directly: the SPM nodes, the
 * pressure levels and putting grants in force come through BrokerOps, which the manager wires;
 * the bus connection is the manager's (core/manager-bus.c), lent to it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "conf.h"
#include "cpuset.h"
#include "grant.h"
#include "log.h"
#include "nodemask.h"

typedef struct BrokerOps {
        /* The SPM nodes now, and those of them no grant can place memory on (private nodes
         * userspace cannot name). */
        void (*spm_nodes)(void *userdata, NodeMask *ret);
        void (*unplaceable_nodes)(void *userdata, NodeMask *ret);
        /* An SPM node's pressure level (a PressureLevel) and why; <0 when it is not watched. */
        int (*node_level)(void *userdata, unsigned node, const char **ret_why);
        /* Bring the wall and the BPF maps in line after the grant on CGROUP came or went (NULL:
         * several); <0 when that failed. */
        int (*apply_grants)(void *userdata, const char *cgroup);
        /* The wall's last queued write that decides what CGROUP reaches; 0 when none waits. The
         * broker answers a call waiting for it from broker_wall_written(). */
        uint64_t (*wall_writing_for)(void *userdata, const char *cgroup);
        /* A grant ended (its memory is given back a little later). */
        void (*grant_ended)(void *userdata);
} BrokerOps;

typedef struct Broker {
        sd_event *event;
        Config *const *config;          /* the running configuration (the manager's, swapped on reload) */
        const BrokerOps *ops;
        void *userdata;
        sd_bus *bus;                    /* the manager's, from broker_bus_attach() to broker_bus_down() */
        Grant **grants;
        size_t n_grants;
        uint32_t next_grant_id;
        sd_event_source *limit_source;  /* looks at the grants' byte limits */
        sd_event_source *n_grants_source; /* sends NGrants' change signal, once per burst of changes */
        struct CallWaiter *wall_waiters; /* RequestAccess and ReleaseAccess calls, answered when the
                                          * wall's writes they wait for are done (broker_wall_written()) */
        size_t n_wall_waiters;
        struct Worker *state_writer;    /* writes the state file (NULL: written on the loop) */
        uint64_t state_gen;             /* changes of the grants, counted */
        uint64_t state_saved_gen;       /* ... the last one on disk */
        bool state_dirty;               /* changed while a write ran (or in a batch): write again when it ends */
        unsigned state_batch;           /* > 0: changes are being made together, written when it ends */
        char *state_dir_seen;           /* the StateDirectory= state_in_memory was found for */
        bool state_in_memory;           /* ... on tmpfs or ramfs (written on the loop) */
        struct CallWaiter *state_waiters; /* RequestAccess calls whose grants wait to be recorded */
        size_t n_state_waiters;
        LogRateLimit refusal_log;       /* RequestAccess refusals */
        uint64_t n_refusals;
} Broker;

int broker_new(sd_event *event, Config *const *config, const BrokerOps *ops, void *userdata, Broker **ret);
/* The grants and what is left of the state; after broker_shutdown() (and after the pressure
 * subsystem, which reads the grants, is gone). */
Broker *broker_free(Broker *b);

/* Read the grants a previous spmd recorded (before enforcement is first applied). */
void broker_load_state(Broker *b);

/* BUS, a connection being set up, serves the broker's methods, NGrants and the grant objects, and
 * follows the grants' clients (the manager owns it; broker_bus_down() before it goes). */
int broker_bus_attach(Broker *b, sd_bus *bus);
/* spmd owns its name: grants whose clients are gone end, the others are followed again; AGAIN
 * (back after a loss): GrantAdded for each, so clients learn they are still there. */
void broker_bus_up(Broker *b, bool again);
/* NAME, a unique name, left the bus (NameOwnerChanged with no new owner; the manager's one match for
 * it, in place before spmd owns its name, hands every departure here): the grants tied to it end. */
void broker_client_gone(Broker *b, const char *name);
/* The connection goes: the grants' pending bus calls go with it; grants and their cgroup watches stay. */
void broker_bus_down(Broker *b);
/* The connection was lost: that, and the grants tied to clients end (their connections went too). */
void broker_bus_lost(Broker *b);
/* spmd could not get on the bus at start: the recorded grants tied to clients end. */
void broker_no_bus(Broker *b);
/* Stopping: the calls still waiting go unanswered, the grants' watches go (the grants stay, for
 * the pressure subsystem's teardown, until broker_free()). */
void broker_shutdown(Broker *b);

/* The grants, as inputs for the cpuset wall (labels live until the next grant change). */
size_t broker_cpuset_grants(Broker *b, const NodeMask *spm, CpusetGrant *out, size_t max);
size_t broker_n_grants(const Broker *b);
/* cgroup ids of the grants whose cgroups exist; up to max. */
size_t broker_grant_cgroup_ids(Broker *b, uint64_t *ids, size_t max);

/* The cpuset wall's writer finished a batch (cpuset_wall_on_written()): answer the RequestAccess and
 * ReleaseAccess calls that waited for their cgroups' walls. */
void broker_wall_written(Broker *b, uint64_t done, char *const *failed);

/* After a reload: revoke the grants the new policy no longer allows. */
void broker_recheck(Broker *b);
