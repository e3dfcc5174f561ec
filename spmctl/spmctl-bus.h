/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "spmctl-options.h"

/* Each takes the verb's argv (argv[0] = the verb) and returns the exit code. */
int spmctl_status(int argc, char *argv[]);
int spmctl_grants(int argc, char *argv[]);
int spmctl_request(int argc, char *argv[]);
int spmctl_release(int argc, char *argv[]);
int spmctl_reload(int argc, char *argv[]);
int spmctl_monitor(int argc, char *argv[]);
int spmctl_run(int argc, char *argv[]);
int spmctl_top(int argc, char *argv[]);

/* Shared by the commands: connect (exit code on failure), call a Manager method (exit code on
 * failure, the error printed), say that a reply was not what was expected. */
int spmctl_connect_bus(sd_bus **ret);
int spmctl_call(sd_bus *bus, const char *method, sd_bus_message **reply, const char *types, ...);
int spmctl_bad_reply(const char *what, int r);

/* One SPM node as GetStatus's NodeActivity reports it. */
typedef struct NodeAct {
        uint32_t node;
        char level[16], acting[32], reason[160];
        uint64_t size, free, physical, physical_free, capacity_lost, balloon;
        double ratio;
        double psi; /* per cent, -1 = none */
        uint64_t reclaim_backoffs;
        uint64_t reclaim_writes, reclaim_short, reclaim_failed, reclaim_bytes;
        uint64_t evacuated_pages, evacuate_busy, evacuate_no_memory, evacuate_failed, evacuation_passes;
        uint64_t evacuated_cold_pages, demoted_bytes;
        int32_t evacuation_target;
} NodeAct;

/* GetStatus, read: the strings point into the reply, which must outlive it. */
#define STATUS_MAX_LAYERS 16
typedef struct StatusCount {
        const char *name;
        uint64_t n;
} StatusCount;
typedef struct StatusInfo {
        const char *version, *config, *psi, *demotion;
        uint32_t reloads, failed_reloads, devices, device_problems, grants, standing_grants, walled, root_procs,
                root_kthreads;
        uint64_t uptime_usec, violations, denials, promoted, loop_dispatches, loop_max_usec, loop_p99_usec;
        uint32_t spm_nodes[64];
        size_t n_spm_nodes;
        struct {
                const char *name, *state, *detail;
        } layers[STATUS_MAX_LAYERS];
        size_t n_layers;
        NodeAct *acts; /* owned */
        size_t n_acts;
        StatusCount by_syscall[16], by_kind[16]; /* ViolationsBySyscall, DenialsByKind: the kernel's counts */
        size_t n_by_syscall, n_by_kind;
} StatusInfo;
int spmctl_status_parse(sd_bus_message *reply, StatusInfo *ret);
void spmctl_status_done(StatusInfo *s);

int spmctl_metrics(int argc, char *argv[]);

/* Read NodeActivity's aa{sv} (the reply positioned on it); unknown keys are skipped. */
int spmctl_read_activity(sd_bus_message *reply, NodeAct **ret, size_t *ret_n);
/* For spmctl status: a line per node. */
void spmctl_print_activity(FILE *f, const NodeAct *a, size_t n);
/* ... and for --json (status, top): an array of objects. */
struct json_object;
struct json_object *spmctl_activity_json(const NodeAct *a, size_t n);
