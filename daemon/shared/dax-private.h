/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Onlining a dax device as a private memory node (the private-node patches' dax_kmem ABI, see
 * docs/private-nodes.md): with the device bound to kmem and its "state" reading "unplugged", write
 * "private" = 1, then each opt-in service, then "state" = online_movable (or online_kernel). The
 * kernel accepts "private" and the opt-ins only while the device is unplugged (EBUSY otherwise) and
 * checks the combination (demotion needs reclaim) when the memory is added.
 *
 * Every file access goes through SysfsOps under a root directory, so the tests run the same code
 * against a fake sysfs tree that answers like the ABI and records what was written, in order.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* The opt-in services of a private node, by their sysfs attribute names (PrivateServices=). */
typedef enum PrivateService {
        PRIVATE_RECLAIM = 1u << 0,
        PRIVATE_USER_NUMA = 1u << 1,
        PRIVATE_HOTUNPLUG = 1u << 2,
        PRIVATE_DEMOTION = 1u << 3,
        PRIVATE_NUMA_BALANCING = 1u << 4,
        PRIVATE_LTPIN = 1u << 5,
        PRIVATE_DAX_FILE = 1u << 6,
} PrivateService;
#define PRIVATE_SERVICE_COUNT 7
#define PRIVATE_SERVICES_ALL ((1u << PRIVATE_SERVICE_COUNT) - 1)

/* "reclaim", "user_numa", ... for bit i (0 <= i < PRIVATE_SERVICE_COUNT). */
const char *private_service_name(unsigned i);
/* The bit of a service name, or 0. */
uint32_t private_service_from_string(const char *s);
/* "user_numa reclaim" style list of mask into buf ("none" when empty). */
char *private_services_format(uint32_t mask, char *buf, size_t len);

/* What a [Device] asks of its private node: PrivateServices= as written, or spmd's own needs:
 * user_numa (grants), reclaim, hotunplug (release), demotion when [Demotion] is on. */
uint32_t device_private_services(const Config *c, const DeviceConf *d);

/* Where sysfs files are read and written; NULL ops = the files under root themselves. */
typedef struct SysfsOps {
        /* read the first line of root-relative path into buf (newline stripped): 0 or -errno */
        int (*read)(void *userdata, const char *root, const char *path, char *buf, size_t len);
        /* write value to it: 0 or -errno, the kernel's answer */
        int (*write)(void *userdata, const char *root, const char *path, const char *value);
        /* bind the dax device to driver ("kmem" or "device_dax"), unbinding it first: 0 or -errno */
        int (*bind)(void *userdata, const char *root, const char *dax, const char *driver);
        void *userdata;
} SysfsOps;

/* The plain implementation: files under root, binding through libdaxctl when root is "". */
extern const SysfsOps sysfs_ops_default;

typedef struct DaxPrivateInfo {
        bool has_private;      /* the device has a "private" attribute: the kernel can online it privately */
        bool private_on;       /* ... and it reads 1 */
        char state[24];        /* "unplugged", "online_movable", ...; "" without a state attribute */
        char driver[32];       /* "kmem", "device_dax", "" when unbound */
        uint32_t services;     /* the opt-ins that read 1 */
        uint32_t services_known; /* the opt-ins the device has attributes for */
} DaxPrivateInfo;

int dax_private_read(const SysfsOps *ops, const char *root, const char *dax, DaxPrivateInfo *ret);
/* Online as a private node: private reads 1 and state online*. */
bool dax_private_is_online(const DaxPrivateInfo *i);

typedef enum PrivateChoice {
        PRIVATE_CHOICE_PUBLIC,  /* online as ordinary system RAM, as without the patches */
        PRIVATE_CHOICE_PRIVATE, /* online as a private node */
        PRIVATE_CHOICE_ERROR,   /* Private=yes that cannot be met; *why says why */
} PrivateChoice;

/*
 * How to online a device: want is Private=, kernel_private whether the kernel offers private nodes
 * (the device's "private" attribute, or node/has_public_memory), info what the device reads now.
 * Pure. A device that is online as system RAM stays so under Private=auto (changing it would take
 * its memory away); Private=yes refuses it with the step that makes it possible.
 */
PrivateChoice device_private_choice(Tristate want, bool kernel_private, const DaxPrivateInfo *info, const char *dax,
                                    char *why, size_t why_len);

/*
 * Online dax as a private node with services, in zone (movable: online_movable, normal:
 * online_kernel). Idempotent: a device already online privately with these services is left alone
 * (DEVICE_ALREADY_ONLINE from devices.h), with other services it is DEVICE_ONLINE_DEGRADED (they can
 * change only while unplugged). A failed step restores what was written and the driver it was bound
 * to; *ret_message names the attribute and the kernel's answer.
 */
int dax_private_online(const SysfsOps *ops, const char *root, const char *dax, uint32_t services, MemZone zone,
                       char **ret_message);

/*
 * Take a private node's device back: "state" = unplugged (the kernel migrates the pages off first;
 * EBUSY leaves it online and nothing lost), clear the opt-ins and "private", bind to device_dax.
 */
int dax_private_release(const SysfsOps *ops, const char *root, const char *dax, char **ret_message);
