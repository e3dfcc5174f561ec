/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fileio.h"
#include "nodemask.h"

typedef struct NodeInfo {
        int id;
        unsigned n_cpus;
        char cpulist[64];
        uint64_t size;       /* bytes of memory on the node */
        uint64_t free;
        int memory_tier;     /* memory_tierN id, -1 if the kernel has no tiers */
        int *distance;       /* to every node in Topology.nodes order */
        int read_latency;    /* HMAT access class 0 (ns), -1 if not reported */
        int read_bandwidth;  /* HMAT access class 0 (MB/s), -1 if not reported */
        bool private_node;   /* memory no allocation reaches without naming it (has_public_memory lacks it) */
        int user_placeable;  /* in has_user_memory: 1, 0, or -1 where the kernel has no such list */
} NodeInfo;

typedef struct CxlMemdevInfo {
        char name[32];
        char host[64];
        uint64_t serial;
        uint64_t ram_size;
        uint64_t pmem_size;
        /* GET_HEALTH_INFO, where the kernel and the device answer it */
        bool health_valid;
        bool media_normal;
        int life_used;       /* percent, -1 if the device does not report it */
        int temperature;     /* Celsius, INT32_MIN if not reported */
        int dirty_shutdowns;
        char health_error[128]; /* why health_valid is false */
} CxlMemdevInfo;

#define CXL_REGION_MAX_TARGETS 16

typedef struct CxlRegionInfo {
        char name[32];       /* region0 */
        uint64_t size;
        unsigned n_targets;
        char memdev[CXL_REGION_MAX_TARGETS][32];
        uint64_t serial[CXL_REGION_MAX_TARGETS];
} CxlRegionInfo;

typedef struct DaxDevInfo {
        char name[32];
        char region[32];     /* daxctl region, e.g. dax_region0 */
        char cxl_region[32]; /* the CXL region behind it, "" if none (NVDIMM, soft-reserved) */
        uint64_t resource;   /* physical address */
        uint64_t size;
        int target_node;
        bool system_ram;     /* bound to kmem */
        int blocks_online;   /* -1 unknown */
        int blocks_total;
        int movable;         /* 1, 0, or -1 when unknown/mixed */
        uint64_t block_size; /* memory block size, 0 if not system-ram */
        bool private_attr;   /* has the private-node patches' "private" attribute */
        bool private_online; /* online as a private node: private reads 1, state online* */
        char private_services[96]; /* its opt-ins that read 1, "reclaim user_numa ..." */
} DaxDevInfo;

typedef struct KernelCaps {
        bool memory_tiers;
        int demotion_enabled;  /* -1 = attribute absent */
        bool per_node_reclaim; /* /sys/devices/system/node/nodeN/reclaim (6.17+) */
        bool private_nodes;    /* the kernel tells private nodes apart: has_public_memory, or the v4 RFC's
                                * has_private_memory */
        bool public_memory;    /* node/has_public_memory (private-node patches, newest ABI) */
        bool user_memory;      /* node/has_user_memory (the same) */
        bool private_rfc;      /* node/has_private_memory (the v4 RFC's name) */
        bool numa;             /* libnuma reports NUMA support */
} KernelCaps;

typedef struct Topology {
        NodeInfo *nodes;
        size_t n_nodes;
        CxlMemdevInfo *memdevs;
        size_t n_memdevs;
        CxlRegionInfo *regions;
        size_t n_regions;
        DaxDevInfo *daxdevs;
        size_t n_daxdevs;
        KernelCaps caps;
        char *cxl_error;  /* why CXL discovery gave nothing, or NULL */
        char *dax_error;
} Topology;

/* Never fails for lack of CXL or dax: those parts are empty with the reason set. */
int topology_discover(Topology **ret);
/* Nodes, tiers and kernel capabilities only, from the sysfs tree under root (a recorded one, for tests). */
int topology_discover_nodes_at(const char *root, Topology **ret);
Topology *topology_free(Topology *t);
static inline void topology_freep(Topology **t) {
        if (*t)
                *t = topology_free(*t);
}

const NodeInfo *topology_node(const Topology *t, int id);
/*
 * Node node's MemTotal and MemFree (nodeN/meminfo) under root ("" for the running system; meminfo,
 * which may be NULL, keeps the file open between reads: fileio.h), and the
 * bytes its balloon holds (nodeN/vmstat nr_balloon_pages; 0 where the kernel does not count them).
 * balloon may be NULL (nodeN/vmstat is not read: a kernel without the counter has it for good,
 * and it is the larger of the two files to read each second). 1 when the balloon was counted, 0
 * when not (or not asked for), -errno when the node is gone, -EBADMSG when meminfo lacks the two.
 */
int topology_node_memory_at(const char *root, unsigned node, HeldFile *meminfo, uint64_t *total,
                            uint64_t *free_bytes, uint64_t *balloon);

/*
 * Pages of node's zones waiting in the per-CPU free lists (/proc/zoneinfo under root, the pagesets'
 * "count:"). They are free but MemFree leaves them out: after a large migration off a node they
 * drain back over seconds (64 MiB moved off an NVDIMM node in the 6.12 guest: 29 MiB of it still
 * there right after, 19 MiB five seconds later). 0 and *ret when read (0 pages for a node without
 * zones), -errno when zoneinfo cannot be read.
 */
int topology_node_pcp_pages(const char *root, unsigned node, uint64_t *ret);
/* GET_HEALTH_INFO of CXL memdev name (mem0) now, through libcxl; -ENODEV when it is gone. A device
 * that cannot answer gets health_valid = false and the reason in health_error. */
int topology_memdev_health(const char *name, CxlMemdevInfo *ret);
const DaxDevInfo *topology_dax(const Topology *t, const char *name);
const CxlRegionInfo *topology_cxl_region(const Topology *t, const char *name);

/*
 * What the kernel offers of SPM/private-node support, for the native-spm layer's status: the newest
 * private-node ABI (has_public_memory, has_user_memory, dax private) and the earlier RFCs' names,
 * under root ("" for the running system). True when anything was found; buf says what.
 */
bool topology_native_spm(const Topology *t, const char *root, char *buf, size_t len);

/*
 * Why DAMON-based work cannot serve SPM node id (demotion onto it, cold-first evacuation off it):
 * DAMON skips private nodes. NULL when it can (or the node is unknown).
 */
const char *topology_damon_unusable(const Topology *t, int id);

/* spm: the nodes to show as kind "spm" (NULL: none known) */
void topology_print_nodes(const Topology *t, const NodeMask *spm, FILE *f);
void topology_print_devices(const Topology *t, FILE *f);
/* "dax0.0 <- region0 <- mem0 (0x1234)": the dax device in system-ram mode on node id, into buf; "-" */
const char *topology_node_backing(const Topology *t, int id, char *buf, size_t len);
/* "movable" or "normal": the zone of the node's onlined dax memory; "-" */
const char *topology_node_zone(const Topology *t, int id);
/* "spm-private" (a private node: nothing reaches it unasked), "spm" (in spm), "sysram" */
const char *topology_node_kind(const NodeInfo *n, const NodeMask *spm);
