/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What memory the machine has: NUMA nodes (libnuma, memory tiers from
 * sysfs), CXL memory devices (libcxl) and dax devices (libdaxctl).
 */
#include <assert.h>
#include <cxl/libcxl.h>
#include <daxctl/libdaxctl.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <numa.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log-libs.h"
#include "log.h"
#include "node-lists.h"
#include "parse-util.h"
#include "topology.h"
#include "dax-private.h"

#define SYSFS_NODE "/sys/devices/system/node"
#define SYSFS_TIERS "/sys/devices/virtual/memory_tiering"

static void nodes_assign_tiers(Topology *t, const char *root) {
        struct dirent **ents = NULL;
        char dir[PATH_MAX];
        int n = scandir(rooted(dir, sizeof dir, root, SYSFS_TIERS), &ents, NULL, alphasort);

        for (int i = 0; i < n; i++) {
                char path[512], list[256];
                unsigned tier;
                NodeMask m;

                if (sscanf(ents[i]->d_name, "memory_tier%u", &tier) == 1) {
                        rooted(path, sizeof path, root, SYSFS_TIERS "/%s/nodelist", ents[i]->d_name);
                        if (read_one_line(path, list, sizeof list) >= 0 && parse_nodemask(list, &m) >= 0)
                                for (size_t k = 0; k < t->n_nodes; k++)
                                        if (nodemask_test(&m, (unsigned) t->nodes[k].id))
                                                t->nodes[k].memory_tier = (int) tier;
                }
                free(ents[i]);
        }
        free(ents);
        t->caps.memory_tiers = n > 0;
}

/* CPUs in a cpulist such as "0-3,8". */
static unsigned cpulist_count(const char *s) {
        unsigned n = 0;

        while (*s) {
                char *end;
                unsigned long a = strtoul(s, &end, 10), b = a;

                if (end == s)
                        break;
                if (*end == '-')
                        b = strtoul(end + 1, &end, 10);
                if (b >= a)
                        n += (unsigned) (b - a + 1);
                s = *end == ',' ? end + 1 : end;
                if (*end != ',')
                        break;
        }
        return n;
}

/*
 * libnuma learns the node set, CPU masks and distances once, when it is
 * loaded, and spmd runs for months while memory is hot-added: nodes that
 * come online after start would stay invisible. So the node set, CPUs and
 * distances come from sysfs on every discovery; sizes come from libnuma,
 * which reads them afresh on each call.
 */
/* "Node 1 MemTotal:  1048576 kB" and MemFree from nodeN/meminfo, in bytes. */
static void node_meminfo(const char *root, unsigned n, uint64_t *ret_total, uint64_t *ret_free) {
        char path[PATH_MAX], line[256];
        unsigned long long kb;
        FILE *f;

        *ret_total = *ret_free = 0;
        f = fopen(rooted(path, sizeof path, root, SYSFS_NODE "/node%u/meminfo", n), "re");
        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                if (sscanf(line, "Node %*u MemTotal: %llu kB", &kb) == 1)
                        *ret_total = kb * 1024;
                else if (sscanf(line, "Node %*u MemFree: %llu kB", &kb) == 1)
                        *ret_free = kb * 1024;
        }
        fclose(f);
}

static int discover_nodes(Topology *t, const char *root) {
        char online[4096], path[PATH_MAX];
        NodeMask m;

        t->caps.numa = root[0] ? true : numa_available() >= 0;
        if (!t->caps.numa) {
                log_debug("libnuma: NUMA is not available on this kernel; reporting no nodes.");
                return 0;
        }
        if (read_one_line(rooted(path, sizeof path, root, SYSFS_NODE "/online"), online, sizeof online) < 0 ||
            parse_nodemask(online, &m) < 0) {
                log_warning("Cannot read the online NUMA nodes from " SYSFS_NODE "/online; reporting no nodes.");
                return 0;
        }
        t->nodes = calloc(SPMD_MAX_NODES, sizeof *t->nodes);
        if (!t->nodes)
                return -ENOMEM;
        NODEMASK_FOREACH(n, &m) {
                NodeInfo *ni = &t->nodes[t->n_nodes++];
                char buf[32], cpus[4096];

                ni->id = (int) n;
                ni->memory_tier = -1;
                node_meminfo(root, n, &ni->size, &ni->free);
                if (read_one_line(rooted(path, sizeof path, root, SYSFS_NODE "/node%u/cpulist", n), cpus,
                                  sizeof cpus) < 0)
                        cpus[0] = '\0';
                ni->n_cpus = cpulist_count(cpus);
                snprintf(ni->cpulist, sizeof ni->cpulist, "%s", cpus); /* for display; may be cut short */
                /* HMAT access class 0: performance seen from the nearest initiator */
                ni->read_latency = ni->read_bandwidth = -1;
                if (read_one_line(rooted(path, sizeof path, root,
                                         SYSFS_NODE "/node%u/access0/initiators/read_latency", n),
                                  buf, sizeof buf) >= 0)
                        ni->read_latency = atoi(buf);
                if (read_one_line(rooted(path, sizeof path, root,
                                         SYSFS_NODE "/node%u/access0/initiators/read_bandwidth", n),
                                  buf, sizeof buf) >= 0)
                        ni->read_bandwidth = atoi(buf);
        }

        /* nodeN/distance lists the distance to every online node, in node order: our order. */
        for (size_t i = 0; i < t->n_nodes; i++) {
                char line[8192], *p = line;

                t->nodes[i].distance = calloc(t->n_nodes, sizeof(int));
                if (!t->nodes[i].distance)
                        return -ENOMEM;
                if (read_one_line(rooted(path, sizeof path, root, SYSFS_NODE "/node%d/distance", t->nodes[i].id), line,
                                  sizeof line) < 0)
                        continue;
                for (size_t j = 0; j < t->n_nodes; j++) {
                        char *end;
                        long d = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        t->nodes[i].distance[j] = (int) d;
                        p = end;
                }
        }
        nodes_assign_tiers(t, root);
        return 0;
}

/* Private memory nodes (the private-node patches): node-lists.h. */
static void discover_private_nodes(Topology *t, const char *root) {
        NodeLists l;

        node_lists_read(root, &l);
        t->caps.public_memory = l.have_public;
        t->caps.user_memory = l.have_user;
        t->caps.private_rfc = l.have_private_rfc;
        t->caps.private_nodes = node_lists_know_private(&l);
        for (size_t i = 0; i < t->n_nodes; i++) {
                NodeInfo *ni = &t->nodes[i];

                ni->private_node = node_lists_private(&l, (unsigned) ni->id);
                ni->user_placeable = node_lists_user_placeable(&l, (unsigned) ni->id);
        }
}

static void discover_caps(Topology *t, const char *root) {
        char buf[32], path[PATH_MAX];

        t->caps.demotion_enabled = -1;
        if (read_one_line(rooted(path, sizeof path, root, "/sys/kernel/mm/numa/demotion_enabled"), buf,
                          sizeof buf) >= 0)
                t->caps.demotion_enabled = buf[0] == 't' || buf[0] == 'y' || buf[0] == '1';
        t->caps.per_node_reclaim = t->n_nodes > 0 &&
                                   access(rooted(path, sizeof path, root, SYSFS_NODE "/node%d/reclaim", t->nodes[0].id),
                                          F_OK) == 0;
        discover_private_nodes(t, root);
}

static void read_health(struct cxl_memdev *memdev, CxlMemdevInfo *m) {
        struct cxl_cmd *cmd = cxl_cmd_new_get_health_info(memdev);
        int r, status;

        m->health_valid = false;
        if (!cmd) {
                snprintf(m->health_error, sizeof m->health_error, "libcxl cannot build a GET_HEALTH_INFO command");
                return;
        }
        r = cxl_cmd_submit(cmd);
        if (r == -ENOTTY)
                /* the kernel only passes commands the device lists in its command effects log */
                snprintf(m->health_error, sizeof m->health_error,
                         "the device does not support GET_HEALTH_INFO (not in its command effects log)");
        else if (r == -EPERM || r == -EACCES)
                snprintf(m->health_error, sizeof m->health_error, "GET_HEALTH_INFO needs root (CAP_SYS_ADMIN)");
        else if (r < 0)
                snprintf(m->health_error, sizeof m->health_error, "GET_HEALTH_INFO failed: %s", strerror(-r));
        else if ((status = cxl_cmd_get_mbox_status(cmd)) != 0)
                snprintf(m->health_error, sizeof m->health_error,
                         "the device answered GET_HEALTH_INFO with mailbox status %d", status);
        else {
                m->health_valid = true;
                m->media_normal = cxl_cmd_health_info_get_media_normal(cmd) > 0;
                m->life_used = cxl_cmd_health_info_get_life_used(cmd);
                m->temperature = cxl_cmd_health_info_get_temperature(cmd);
                m->dirty_shutdowns = cxl_cmd_health_info_get_dirty_shutdowns(cmd);
                /* libcxl returns -EOPNOTSUPP for fields the device marks as not implemented */
                if (m->life_used < 0)
                        m->life_used = -1;
                if (m->temperature == -EOPNOTSUPP)
                        m->temperature = INT32_MIN;
        }
        cxl_cmd_unref(cmd);
}

int topology_memdev_health(const char *name, CxlMemdevInfo *ret) {
        struct cxl_ctx *ctx = NULL;
        struct cxl_memdev *memdev;
        int r = cxl_new(&ctx);

        if (r < 0)
                return r;
        log_hook_cxl(ctx);
        r = -ENODEV;
        cxl_memdev_foreach(ctx, memdev)
                if (streq_ptr(cxl_memdev_get_devname(memdev), name)) {
                        *ret = (CxlMemdevInfo){};
                        snprintf(ret->name, sizeof ret->name, "%s", name);
                        ret->serial = cxl_memdev_get_serial(memdev);
                        read_health(memdev, ret);
                        r = 0;
                        break;
                }
        cxl_unref(ctx);
        return r;
}

static int discover_cxl_regions(Topology *t, struct cxl_ctx *ctx) {
        struct cxl_bus *bus;

        cxl_bus_foreach(ctx, bus) {
                struct cxl_port *port = cxl_bus_get_port(bus);
                struct cxl_decoder *decoder;

                cxl_decoder_foreach(port, decoder) {
                        struct cxl_region *region;

                        cxl_region_foreach(decoder, region) {
                                CxlRegionInfo *n = realloc(t->regions, (t->n_regions + 1) * sizeof *n), *ri;
                                unsigned ways = cxl_region_get_interleave_ways(region);

                                if (!n)
                                        return -ENOMEM;
                                t->regions = n;
                                ri = &t->regions[t->n_regions++];
                                *ri = (CxlRegionInfo){};
                                snprintf(ri->name, sizeof ri->name, "%s", strempty(cxl_region_get_devname(region)));
                                ri->size = cxl_region_get_size(region);
                                for (unsigned i = 0; i < ways && i < CXL_REGION_MAX_TARGETS; i++) {
                                        struct cxl_decoder *target = cxl_region_get_target_decoder(region, (int) i);
                                        struct cxl_memdev *m = target ? cxl_decoder_get_memdev(target) : NULL;

                                        if (!m)
                                                continue;
                                        snprintf(ri->memdev[ri->n_targets], sizeof ri->memdev[0], "%s",
                                                 strempty(cxl_memdev_get_devname(m)));
                                        ri->serial[ri->n_targets++] = cxl_memdev_get_serial(m);
                                }
                        }
                }
        }
        return 0;
}

static int discover_cxl(Topology *t) {
        struct cxl_ctx *ctx = NULL;
        struct cxl_memdev *memdev;
        size_t n = 0;
        int r;

        r = cxl_new(&ctx);
        if (r < 0) {
                t->cxl_error = strdup("libcxl could not be initialised");
                return 0;
        }
        log_hook_cxl(ctx);
        cxl_memdev_foreach(ctx, memdev)
                n++;
        if (n == 0) {
                t->cxl_error = strdup(access("/sys/bus/cxl", F_OK) == 0 ? "no CXL memory devices"
                                                                         : "no CXL bus in this kernel (cxl drivers not loaded)");
                cxl_unref(ctx);
                return 0;
        }
        t->memdevs = calloc(n, sizeof *t->memdevs);
        if (!t->memdevs) {
                cxl_unref(ctx);
                return -ENOMEM;
        }
        cxl_memdev_foreach(ctx, memdev) {
                CxlMemdevInfo *m = &t->memdevs[t->n_memdevs++];
                snprintf(m->name, sizeof m->name, "%s", strempty(cxl_memdev_get_devname(memdev)));
                snprintf(m->host, sizeof m->host, "%s", strempty(cxl_memdev_get_host(memdev)));
                m->serial = cxl_memdev_get_serial(memdev);
                m->ram_size = cxl_memdev_get_ram_size(memdev);
                m->pmem_size = cxl_memdev_get_pmem_size(memdev);
                read_health(memdev, m);
        }
        r = discover_cxl_regions(t, ctx);
        cxl_unref(ctx);
        return r;
}

/* A dax region made by dax_cxl sits below its CXL region: .../regionN/dax_regionN. */
static void dax_region_cxl_parent(struct daxctl_region *region, char *buf, size_t len) {
        char real[PATH_MAX], *slash;
        const char *path = daxctl_region_get_path(region);
        unsigned id;

        buf[0] = '\0';
        if (!path || !realpath(path, real))
                return;
        slash = strrchr(real, '/');
        if (!slash)
                return;
        *slash = '\0';
        slash = strrchr(real, '/');
        if (slash && sscanf(slash + 1, "region%u", &id) == 1 && strstr(real, "/decoder"))
                snprintf(buf, len, "%s", slash + 1);
}

static int discover_dax(Topology *t) {
        struct daxctl_ctx *ctx = NULL;
        struct daxctl_region *region;
        struct daxctl_dev *dev;
        size_t n = 0;

        if (daxctl_new(&ctx) < 0) {
                t->dax_error = strdup("libdaxctl could not be initialised");
                return 0;
        }
        log_hook_daxctl(ctx);
        daxctl_region_foreach(ctx, region) daxctl_dev_foreach(region, dev) n++;
        if (n == 0) {
                t->dax_error = strdup(access("/sys/bus/dax", F_OK) == 0 ? "no dax devices"
                                                                         : "no dax bus in this kernel (dax drivers not loaded)");
                daxctl_unref(ctx);
                return 0;
        }
        t->daxdevs = calloc(n, sizeof *t->daxdevs);
        if (!t->daxdevs) {
                daxctl_unref(ctx);
                return -ENOMEM;
        }
        daxctl_region_foreach(ctx, region) daxctl_dev_foreach(region, dev) {
                DaxDevInfo *d = &t->daxdevs[t->n_daxdevs++];
                struct daxctl_memory *mem;

                snprintf(d->name, sizeof d->name, "%s", strempty(daxctl_dev_get_devname(dev)));
                snprintf(d->region, sizeof d->region, "%s", strempty(daxctl_region_get_devname(region)));
                dax_region_cxl_parent(region, d->cxl_region, sizeof d->cxl_region);
                d->resource = daxctl_dev_get_resource(dev);
                d->size = daxctl_dev_get_size(dev);
                d->target_node = daxctl_dev_get_target_node(dev);
                d->blocks_online = d->blocks_total = d->movable = -1;
                mem = daxctl_dev_get_memory(dev);
                d->system_ram = mem != NULL;
                if (mem) {
                        d->blocks_total = daxctl_memory_num_sections(mem);
                        d->blocks_online = daxctl_memory_is_online(mem);
                        /* libdaxctl answers -ENXIO when no block is online: unknown */
                        d->movable = daxctl_memory_is_movable(mem) < 0 ? -1 : daxctl_memory_is_movable(mem);
                        d->block_size = daxctl_memory_get_block_size(mem);
                }
                DaxPrivateInfo pi;
                if (dax_private_read(NULL, "", d->name, &pi) >= 0) {
                        d->private_attr = pi.has_private;
                        d->private_online = dax_private_is_online(&pi);
                        if (pi.has_private)
                                private_services_format(pi.services, d->private_services, sizeof d->private_services);
                }
        }
        daxctl_unref(ctx);
        return 0;
}

int topology_discover(Topology **ret) {
        Topology *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        r = discover_nodes(t, "");
        if (r >= 0)
                r = discover_cxl(t);
        if (r >= 0)
                r = discover_dax(t);
        if (r < 0) {
                topology_free(t);
                return r;
        }
        discover_caps(t, "");
        *ret = t;
        return 0;
}

int topology_discover_nodes_at(const char *root, Topology **ret) {
        Topology *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        r = discover_nodes(t, root);
        if (r < 0) {
                topology_free(t);
                return r;
        }
        discover_caps(t, root);
        *ret = t;
        return 0;
}

Topology *topology_free(Topology *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_nodes; i++)
                free(t->nodes[i].distance);
        free(t->nodes);
        free(t->memdevs);
        free(t->regions);
        free(t->daxdevs);
        free(t->cxl_error);
        free(t->dax_error);
        free(t);
        return NULL;
}

int topology_node_memory_at(const char *root, unsigned node, HeldFile *meminfo, uint64_t *total,
                            uint64_t *free_bytes, uint64_t *balloon) {
        _cleanup_free_ char *p = NULL;
        char buf[256], line[256];
        uint64_t kb, pages;
        bool got_total = false, got_free = false, counted = false;
        ssize_t k;
        FILE *f;

        assert(root);
        assert(total);
        assert(free_bytes);

        if (asprintf(&p, "%s/sys/devices/system/node/node%u/meminfo", root, node) < 0)
                return -ENOMEM;
        /* the kernel's first two lines: read no further than them (sampled each second) */
        k = held_file_read(meminfo, p, buf, sizeof buf);
        if (k < 0)
                return (int) k;
        for (const char *l = buf; *l && !(got_total && got_free);) {
                unsigned n;
                if (sscanf(l, "Node %u MemTotal: %" SCNu64 " kB", &n, &kb) == 2)
                        *total = kb * 1024, got_total = true;
                else if (sscanf(l, "Node %u MemFree: %" SCNu64 " kB", &n, &kb) == 2)
                        *free_bytes = kb * 1024, got_free = true;
                l = strchrnul(l, '\n');
                l += *l == '\n';
        }
        if (!got_total || !got_free)
                return -EBADMSG;
        if (!balloon)
                return 0;
        *balloon = 0;
        p = mfree(p);
        if (asprintf(&p, "%s/sys/devices/system/node/node%u/vmstat", root, node) < 0)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return 0;
        while (!counted && fgets(line, sizeof line, f))
                if (strncmp(line, "nr_balloon_pages ", 17) == 0 && sscanf(line + 17, "%" SCNu64, &pages) == 1) {
                        *balloon = pages * (uint64_t) sysconf(_SC_PAGESIZE);
                        counted = true;
                }
        fclose(f);
        return counted;
}

int topology_node_pcp_pages(const char *root, unsigned node, uint64_t *ret) {
        _cleanup_free_ char *p = NULL, *line = NULL;
        size_t cap = 0;
        uint64_t sum = 0;
        bool in = false, seen = false;
        FILE *f;

        assert(root);
        assert(ret);
        if (asprintf(&p, "%s/proc/zoneinfo", root) < 0)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                const char *l = line + strspn(line, " \t");
                unsigned n;
                uint64_t v;

                if (sscanf(line, "Node %u, zone", &n) == 1) {
                        if (seen && n != node)
                                break; /* the kernel lists a node's zones together: the rest is not read */
                        in = n == node;
                        seen = seen || in;
                } else if (in && strncmp(l, "count:", 6) == 0 && sscanf(l + 6, "%" SCNu64, &v) == 1)
                        sum += v;
        }
        fclose(f);
        *ret = sum;
        return 0;
}

const char *topology_damon_unusable(const Topology *t, int id) {
        const NodeInfo *n = t ? topology_node(t, id) : NULL;

        if (n && n->private_node)
                return "it is a private node, and DAMON skips private nodes";
        return NULL;
}

const NodeInfo *topology_node(const Topology *t, int id) {
        for (size_t i = 0; i < t->n_nodes; i++)
                if (t->nodes[i].id == id)
                        return &t->nodes[i];
        return NULL;
}

const DaxDevInfo *topology_dax(const Topology *t, const char *name) {
        for (size_t i = 0; i < t->n_daxdevs; i++)
                if (strcmp(t->daxdevs[i].name, name) == 0)
                        return &t->daxdevs[i];
        return NULL;
}

const CxlRegionInfo *topology_cxl_region(const Topology *t, const char *name) {
        for (size_t i = 0; i < t->n_regions; i++)
                if (strcmp(t->regions[i].name, name) == 0)
                        return &t->regions[i];
        return NULL;
}

const char *topology_node_backing(const Topology *t, int id, char *buf, size_t len) {
        for (size_t i = 0; i < t->n_daxdevs; i++) {
                const DaxDevInfo *d = &t->daxdevs[i];
                const CxlRegionInfo *r;
                int k;

                if (d->target_node != id || !d->system_ram)
                        continue;
                k = snprintf(buf, len, "%s", d->name);
                r = d->cxl_region[0] ? topology_cxl_region(t, d->cxl_region) : NULL;
                if (r && k >= 0 && (size_t) k < len) {
                        k += snprintf(buf + k, len - (size_t) k, " <- %s", r->name);
                        for (unsigned j = 0; j < r->n_targets && k >= 0 && (size_t) k < len; j++)
                                k += snprintf(buf + k, len - (size_t) k, "%s%s (0x%" PRIx64 ")", j ? ", " : " <- ",
                                              r->memdev[j], r->serial[j]);
                }
                return buf;
        }
        return "-";
}

const char *topology_node_zone(const Topology *t, int id) {
        for (size_t i = 0; i < t->n_daxdevs; i++) {
                const DaxDevInfo *d = &t->daxdevs[i];
                if (d->target_node == id && d->system_ram && d->blocks_online > 0)
                        return d->movable == 1 ? "movable" : "normal";
        }
        return "-";
}

const char *topology_node_kind(const NodeInfo *n, const NodeMask *spm) {
        if (n->private_node)
                return "spm-private";
        return spm && nodemask_test(spm, (unsigned) n->id) ? "spm" : "sysram";
}

void topology_print_nodes(const Topology *t, const NodeMask *spm, FILE *f) {
        char s1[32], s2[32], b[160];

        if (t->n_nodes == 0) {
                fprintf(f, "No NUMA nodes: libnuma reports no NUMA support on this kernel.\n");
                return;
        }
        fprintf(f, "%-5s %-*s %-10s %9s %9s %5s %-8s %s\n", "NODE", t->caps.private_nodes ? 11 : 7, "KIND", "CPUS",
                "SIZE", "FREE", "TIER", "ZONE", "BACKING");
        for (size_t i = 0; i < t->n_nodes; i++) {
                const NodeInfo *n = &t->nodes[i];
                char tier[16] = "-";

                if (n->memory_tier >= 0)
                        snprintf(tier, sizeof tier, "%d", n->memory_tier);
                fprintf(f, "%-5d %-*s %-10s %9s %9s %5s %-8s %s%s\n", n->id, t->caps.private_nodes ? 11 : 7,
                        topology_node_kind(n, spm), n->n_cpus ? n->cpulist : "-", format_size(s1, sizeof s1, n->size),
                        format_size(s2, sizeof s2, n->free), tier, topology_node_zone(t, n->id),
                        topology_node_backing(t, n->id, b, sizeof b),
                        n->private_node && n->user_placeable == 0 ? " (not user-placeable: no user_numa)" : "");
        }
}

void topology_print_devices(const Topology *t, FILE *f) {
        char s1[32], s2[32];

        fprintf(f, "CXL memory devices:\n");
        if (t->n_memdevs == 0)
                fprintf(f, "  none (%s)\n", strna(t->cxl_error));
        for (size_t i = 0; i < t->n_memdevs; i++) {
                const CxlMemdevInfo *m = &t->memdevs[i];
                fprintf(f, "  %-8s serial 0x%" PRIx64 "  ram %s  pmem %s  host %s\n", m->name, m->serial,
                        format_size(s1, sizeof s1, m->ram_size), format_size(s2, sizeof s2, m->pmem_size),
                        m->host);
                if (!m->health_valid)
                        fprintf(f, "           health: unavailable: %s\n", m->health_error);
                else {
                        fprintf(f, "           health: media %s", m->media_normal ? "normal" : "NOT NORMAL");
                        if (m->life_used >= 0)
                                fprintf(f, ", life used %d%%", m->life_used);
                        if (m->temperature != INT32_MIN)
                                fprintf(f, ", %d C", m->temperature);
                        fprintf(f, ", %d dirty shutdown(s)\n", m->dirty_shutdowns);
                }
        }
        fprintf(f, "dax devices:\n");
        if (t->n_daxdevs == 0)
                fprintf(f, "  none (%s)\n", strna(t->dax_error));
        for (size_t i = 0; i < t->n_daxdevs; i++) {
                const DaxDevInfo *d = &t->daxdevs[i];
                fprintf(f, "  %-8s %-11s %-8s size %s  target node %d  %s", d->name, d->region,
                        d->cxl_region[0] ? d->cxl_region : "-",
                        format_size(s1, sizeof s1, d->size), d->target_node,
                        d->private_online ? "private" : d->system_ram ? "system-ram" : "devdax");
                if (d->private_online)
                        fprintf(f, "  services %s", d->private_services);
                if (d->system_ram)
                        fprintf(f, "  blocks online %d/%d  %s", d->blocks_online, d->blocks_total,
                                d->blocks_online == 0 ? "offline"
                                : d->movable == 1   ? "movable"
                                : d->movable == 0   ? "not movable"
                                                    : "movable: unknown");
                fputc('\n', f);
        }
}

bool topology_native_spm(const Topology *t, const char *root, char *buf, size_t len) {
        char path[PATH_MAX], list[512] = "";
        size_t n_private = 0, n_user = 0;
        bool dax_private = false, spm_attr = false, sysram;
        glob_t g = {};

        for (size_t i = 0; i < t->n_nodes; i++)
                if (t->nodes[i].private_node) {
                        n_private++;
                        n_user += t->nodes[i].user_placeable == 1;
                }
        if (glob(rooted(path, sizeof path, root, "/sys/bus/dax/devices/*/private"), 0, NULL, &g) == 0)
                dax_private = g.gl_pathc > 0;
        globfree(&g);
        if (glob(rooted(path, sizeof path, root, "/sys/bus/dax/devices/*/spm_node"), 0, NULL, &g) == 0)
                spm_attr = g.gl_pathc > 0;
        globfree(&g);
        sysram = access(rooted(path, sizeof path, root, "/sys/fs/cgroup/cpuset.mems.sysram"), F_OK) == 0;

        if (!t->caps.private_nodes && !dax_private && !spm_attr && !sysram) {
                snprintf(buf, len, "no SPM/private-node support in this kernel (looked for node/has_public_memory, "
                                   "node/has_user_memory and the dax private attribute of the private-node "
                                   "patches; node/has_private_memory, dax spm_node and cpuset.mems.sysram of the "
                                   "earlier RFCs)");
                return false;
        }
        snprintf(list, sizeof list, "%s%s%s%s%s%s", t->caps.public_memory ? "node/has_public_memory " : "",
                 t->caps.user_memory ? "node/has_user_memory " : "", dax_private ? "dax private " : "",
                 t->caps.private_rfc ? "node/has_private_memory (RFC v4) " : "",
                 spm_attr ? "dax spm_node (RFC v2) " : "", sysram ? "cpuset.mems.sysram (RFC v2) " : "");
        if (list[0])
                list[strlen(list) - 1] = '\0'; /* the last separating space */
        snprintf(buf, len, "this kernel has private memory nodes (%s): %zu private node(s), %zu of them placeable by "
                           "userspace (user_numa); [Device] Private=auto|yes onlines devices as private nodes, "
                           "the cpuset wall keeps granting user_numa nodes and the BPF guard stops privileged "
                           "escapes",
                 list, n_private, n_user);
        return true;
}
