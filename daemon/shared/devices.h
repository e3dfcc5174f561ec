/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "conf.h"
#include "nodemask.h"
#include "topology.h"

/* One dax device a [Device] block claims. */
typedef struct DeviceClaim {
        const DeviceConf *conf; /* borrowed from the plan's Config */
        char dax[32];
        int node;               /* target node of the dax device */
        uint32_t private_services; /* the opt-ins it gets if it goes online as a private node */
} DeviceClaim;

typedef struct DevicePlan {
        Config *config;  /* a reference: the claims borrow from it, whatever replaced it meanwhile */
        DeviceClaim *claims;
        size_t n_claims;
        char **problems; /* "[Device] at FILE:LINE Match=...: why nothing was claimed" */
} DevicePlan;

/* Which dax device each [Device] of c claims on t. Pure: reads only c and t (and holds a reference
 * to c until device_plan_clear()). */
int device_plan_build(Config *c, const Topology *t, DevicePlan *ret);
void device_plan_clear(DevicePlan *p);
const DeviceClaim *device_plan_find(const DevicePlan *p, const char *dax_or_name);

/* Nodes the claimed dax devices online onto, online yet or not. */
void device_plan_target_nodes(const DevicePlan *p, const Topology *t, NodeMask *ret);
/* Nodes that are SPM nodes now: targets of claimed dax devices with memory online (none when t is NULL,
 * no topology read yet). */
void device_plan_spm_nodes(const DevicePlan *p, const Topology *t, NodeMask *ret);

struct daxctl_ctx;
struct daxctl_dev;
/* libdaxctl's context and the dax device called name in it: 0, or -ENODEV with *ret_ctx set (the caller
 * unrefs it either way), or daxctl_new()'s error. */
int device_daxctl_open(const char *name, struct daxctl_ctx **ret_ctx, struct daxctl_dev **ret_dev);

typedef enum DeviceOnlineResult {
        DEVICE_ONLINED,         /* changed something */
        DEVICE_ALREADY_ONLINE,  /* nothing to do: idempotent restart */
        DEVICE_ONLINE_DEGRADED, /* online, but not as asked (e.g. kernel put it in ZONE_NORMAL) */
} DeviceOnlineResult;

/*
 * Online claim's dax device as system RAM in the zone its [Device] asks
 * for, through libdaxctl. t is the topology read just before. Returns a
 * DeviceOnlineResult, or a negative errno; *ret_message (if not NULL) says
 * what happened or why not. On failure the device is left as it was found
 * whenever the kernel allows.
 */
int device_online(const DeviceClaim *claim, const Topology *t, char **ret_message);

/*
 * Take a dax device back: offline its memory (the kernel migrates the
 * movable pages off the node as it offlines each block), then return it to
 * devdax. If a block cannot be offlined the device stays online, the blocks
 * that stayed online are named in *ret_message, and -EBUSY is returned.
 */
int device_release(const char *dax, char **ret_message);
