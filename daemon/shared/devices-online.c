/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Onlining and releasing dax devices through libdaxctl (see devices.h). */
#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dax-private.h"
#include "devices.h"
#include "fileio.h"
#include "log-libs.h"
#include "log.h"
#include "parse-util.h"

static void daxctl_unrefp(struct daxctl_ctx **ctx) {
        if (*ctx)
                daxctl_unref(*ctx);
}

static struct daxctl_dev *find_dev(struct daxctl_ctx *ctx, const char *name) {
        struct daxctl_region *region;
        struct daxctl_dev *dev;

        daxctl_region_foreach(ctx, region) daxctl_dev_foreach(region, dev) {
                const char *n = daxctl_dev_get_devname(dev);
                if (n && strcmp(n, name) == 0)
                        return dev;
        }
        return NULL;
}

int device_daxctl_open(const char *name, struct daxctl_ctx **ret_ctx, struct daxctl_dev **ret_dev) {
        struct daxctl_ctx *ctx = NULL;
        int r = daxctl_new(&ctx);

        if (r < 0)
                return r;
        log_hook_daxctl(ctx);
        *ret_dev = find_dev(ctx, name);
        *ret_ctx = ctx;
        return *ret_dev ? 0 : -ENODEV;
}

/* The memory blocks of dev that are online, as "memoryN memoryM", or "" */
static char *online_blocks(struct daxctl_dev *dev, struct daxctl_memory *mem) {
        uint64_t bs = daxctl_memory_get_block_size(mem), start = daxctl_dev_get_resource(dev),
                 size = daxctl_dev_get_size(dev);
        char *list = NULL;
        size_t len = 0;
        bool first = true;
        FILE *out;

        out = open_memstream(&list, &len);
        if (!out)
                return NULL;
        for (uint64_t b = bs ? start / bs : 0; bs && b < (start + size) / bs; b++) {
                char path[96], state[32] = "";
                FILE *f;

                snprintf(path, sizeof path, "/sys/devices/system/memory/memory%" PRIu64 "/state", b);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(state, sizeof state, f) && strncmp(state, "online", 6) == 0) {
                        fprintf(out, "%smemory%" PRIu64, first ? "" : " ", b);
                        first = false;
                }
                fclose(f);
        }
        fclose(out);
        return list;
}

/* Set the kernel's spm_node attribute (SPM-node patches) on the dax device or its CXL region. */
static int set_spm_attribute(const DeviceClaim *claim, const DaxDevInfo *info, char **ret_message) {
        char paths[2][128];
        Tristate want = claim->conf->spm_attribute;

        snprintf(paths[0], sizeof paths[0], "/sys/bus/dax/devices/%s/spm_node", claim->dax);
        snprintf(paths[1], sizeof paths[1], "/sys/bus/cxl/devices/%s/spm_node", info->cxl_region);
        if (want == TRISTATE_NO)
                return 0;
        for (int i = 0; i < 2; i++) {
                int r;

                if (i == 1 && !info->cxl_region[0])
                        break;
                if (access(paths[i], F_OK) < 0)
                        continue;
                r = write_one_value(paths[i], "1\n", 0);
                if (r < 0)
                        return set_message(ret_message, r, "%s: cannot set %s: %s", claim->dax, paths[i], strerror(-r));
                log_debug("%s: set %s", claim->dax, paths[i]);
                return 1;
        }
        if (want == TRISTATE_YES)
                return set_message(ret_message, -EOPNOTSUPP,
                           "%s: SpmAttribute=yes, but this kernel has no spm_node attribute (SPM-node patches)",
                           claim->dax);
        return 0;
}

static int check_dedicated(const DeviceClaim *claim, const DaxDevInfo *info, const Topology *t, char **ret_message) {
        const NodeInfo *n = topology_node(t, info->target_node);
        uint64_t ours = info->system_ram && info->blocks_online > 0 && info->block_size
                                ? (uint64_t) info->blocks_online * info->block_size
                                : 0;
        char s1[32];

        if (!claim->conf->require_dedicated_node || !n)
                return 0;
        if (n->n_cpus > 0)
                return set_message(ret_message, -EBUSY,
                           "%s: target node %d has CPUs (%s); an SPM node must be CPU-less "
                           "(RequireDedicatedNode=no to allow it)",
                           claim->dax, n->id, n->cpulist);
        /* node memory beyond this device's own online blocks belongs to something else
         * (MemTotal is a little less than the blocks: the kernel's own memmap lives there) */
        if (n->size > ours)
                return set_message(ret_message, -EBUSY,
                           "%s: target node %d already holds %s of other memory; an SPM node must hold "
                           "only its device (RequireDedicatedNode=no to allow it)",
                           claim->dax, n->id, format_size(s1, sizeof s1, n->size - ours));
        return 0;
}

/* Undo our devdax -> kmem step after a later failure: offline, unbind, devdax again.
 * Returns the words to append to the failure message, true to what happened. */
static const char *revert_to_devdax(struct daxctl_dev *dev, struct daxctl_memory *mem, bool bound) {
        if (!bound)
                return "";
        if (mem && daxctl_memory_offline(mem) < 0)
                return "; it stays bound to kmem because its blocks could not be offlined";
        if (daxctl_dev_disable(dev) < 0 || daxctl_dev_enable_devdax(dev) < 0)
                return "; returning it to devdax failed, see 'daxctl list'";
        return "; returned it to devdax";
}

/* The message and result of a device online as asked. */
static int online_message(char **ret_message, const char *dax, const DaxDevInfo *info, bool movable, bool changed,
                          int blocks) {
        char size[32];

        set_message(ret_message, 0, "%s: %s as %s on node %d (%d memory blocks, %s)", dax,
                    changed ? "online" : "already online", movable ? "movable system RAM" : "system RAM (ZONE_NORMAL)",
                    info->target_node, blocks, format_size(size, sizeof size, info->size));
        return changed ? DEVICE_ONLINED : DEVICE_ALREADY_ONLINE;
}

int device_online(const DeviceClaim *claim, const Topology *t, char **ret_message) {
        _cleanup_(daxctl_unrefp) struct daxctl_ctx *ctx = NULL;
        const DaxDevInfo *info = topology_dax(t, claim->dax);
        bool movable = claim->conf->zone == MEM_ZONE_MOVABLE, changed = false, bound = false;
        struct daxctl_memory *mem;
        struct daxctl_dev *dev;
        int r, total, online;

        if (!info)
                return set_message(ret_message, -ENODEV, "%s: the dax device is gone", claim->dax);
        if (claim->conf->private_node != TRISTATE_NO) {
                DaxPrivateInfo pi = {};
                char why[384];

                (void) dax_private_read(NULL, "", claim->dax, &pi);
                switch (device_private_choice(claim->conf->private_node, t->caps.public_memory, &pi, claim->dax, why,
                                              sizeof why)) {
                case PRIVATE_CHOICE_ERROR:
                        return set_message(ret_message, -EOPNOTSUPP, "%s", why);
                case PRIVATE_CHOICE_PRIVATE:
                        if (!dax_private_is_online(&pi)) {
                                r = check_dedicated(claim, info, t, ret_message);
                                if (r < 0)
                                        return r;
                        }
                        return dax_private_online(NULL, "", claim->dax, claim->private_services, claim->conf->zone,
                                                  ret_message);
                case PRIVATE_CHOICE_PUBLIC:
                        break;
                }
        }
        /* policy first, before touching the device */
        r = check_dedicated(claim, info, t, ret_message);
        if (r < 0)
                return r;
        /* Online as asked when the topology was read a moment ago (libdaxctl's state, as below): nothing
         * to do, and no second libdaxctl context on the event loop (a reload checks every claim). */
        if (info->system_ram && info->blocks_total > 0 && info->blocks_online == info->blocks_total &&
            info->movable == (movable ? 1 : 0)) {
                return online_message(ret_message, claim->dax, info, movable, false, info->blocks_total);
        }
        if (device_daxctl_open(claim->dax, &ctx, &dev) < 0)
                return set_message(ret_message, -ENODEV, "%s: the dax device is gone", claim->dax);

        mem = daxctl_dev_get_memory(dev);
        if (!mem) {
                /* devdax: hand it to kmem, as daxctl reconfigure-device --mode=system-ram does */
                r = set_spm_attribute(claim, info, ret_message);
                if (r < 0)
                        return r;
                if (daxctl_dev_is_enabled(dev)) {
                        r = daxctl_dev_disable(dev);
                        if (r < 0)
                                return set_message(ret_message, r, "%s: cannot disable the devdax device (in use?): %s",
                                           claim->dax, strerror(-r));
                }
                r = daxctl_dev_enable_ram(dev);
                if (r < 0) {
                        (void) daxctl_dev_enable_devdax(dev); /* leave it as we found it */
                        return set_message(ret_message, r, "%s: cannot bind it to kmem: %s", claim->dax, strerror(-r));
                }
                changed = bound = true;
                mem = daxctl_dev_get_memory(dev);
                if (!mem)
                        return set_message(ret_message, -EIO, "%s: bound to kmem but no memory blocks appeared%s",
                                   claim->dax, revert_to_devdax(dev, NULL, bound));
        }

        total = daxctl_memory_num_sections(mem);
        online = daxctl_memory_is_online(mem);
        if (total <= 0 || online < 0)
                return set_message(ret_message, total <= 0 ? -EIO : online, "%s: cannot read its memory blocks%s",
                           claim->dax, revert_to_devdax(dev, mem, bound));

        if (online > 0 && (daxctl_memory_is_movable(mem) == 1) != movable) {
                /* Online in the other zone: the kernel auto-onlined it (memhp_default_state=online
                 * puts it in ZONE_NORMAL), or the operator changed Zone=. Offline and online again. */
                log_info("%s: %d memory block(s) online in %s, the configuration asks for %s; re-onlining them.",
                         claim->dax, online, movable ? "ZONE_NORMAL" : "ZONE_MOVABLE",
                         movable ? "ZONE_MOVABLE" : "ZONE_NORMAL");
                r = daxctl_memory_offline(mem);
                online = daxctl_memory_is_online(mem);
                if (r < 0 || online > 0) {
                        _cleanup_free_ char *blocks = online_blocks(dev, mem);
                        /* offline may have taken some: bring those back as they were */
                        (void) (movable ? daxctl_memory_online_no_movable(mem) : daxctl_memory_online(mem));
                        set_message(ret_message, 0,
                            "%s: blocks %s cannot be taken offline (pages in use) to change their zone; it "
                            "stays online in %s%s",
                            claim->dax, strempty(blocks), movable ? "ZONE_NORMAL" : "ZONE_MOVABLE",
                            movable ? ", so its pages may not all be migratable" : "");
                        return DEVICE_ONLINE_DEGRADED;
                }
                changed = true;
        }
        if (online < total) {
                r = movable ? daxctl_memory_online(mem) : daxctl_memory_online_no_movable(mem);
                if (r < 0)
                        return set_message(ret_message, r, "%s: onlining its memory failed: %s%s", claim->dax,
                                   strerror(-r), revert_to_devdax(dev, mem, bound));
                changed = true;
        }
        online = daxctl_memory_is_online(mem);
        if (online != total)
                return set_message(ret_message, -EIO, "%s: only %d of %d memory blocks came online%s", claim->dax, online,
                           total, revert_to_devdax(dev, mem, bound));
        if ((daxctl_memory_is_movable(mem) == 1) != movable)
                return set_message(ret_message, -EIO, "%s: online, but not in %s%s", claim->dax,
                           movable ? "ZONE_MOVABLE" : "ZONE_NORMAL", revert_to_devdax(dev, mem, bound));

        return online_message(ret_message, claim->dax, info, movable, changed, total);
}

int device_release(const char *dax, char **ret_message) {
        _cleanup_(daxctl_unrefp) struct daxctl_ctx *ctx = NULL;
        struct daxctl_memory *mem;
        struct daxctl_dev *dev;
        DaxPrivateInfo pi;
        int r;

        if (dax_private_read(NULL, "", dax, &pi) >= 0 && pi.private_on)
                return dax_private_release(NULL, "", dax, ret_message);
        if (device_daxctl_open(dax, &ctx, &dev) < 0)
                return set_message(ret_message, -ENODEV, "%s: no such dax device", dax);
        mem = daxctl_dev_get_memory(dev);
        if (mem && daxctl_memory_is_online(mem) > 0) {
                /* Offlining migrates each block's movable pages to other nodes first. */
                r = daxctl_memory_offline(mem);
                if (daxctl_memory_is_online(mem) > 0) {
                        _cleanup_free_ char *blocks = online_blocks(dev, mem);
                        return set_message(ret_message, -EBUSY,
                                   "%s: memory blocks %s could not be taken offline (%s); the device stays "
                                   "online and nothing was lost",
                                   dax, strempty(blocks), r < 0 ? strerror(-r) : "pages in use");
                }
        }
        if (mem) {
                r = daxctl_dev_disable(dev);
                if (r < 0)
                        return set_message(ret_message, r, "%s: memory is offline but the device cannot be unbound from kmem: %s",
                                   dax, strerror(-r));
        }
        if (!daxctl_dev_is_enabled(dev)) {
                r = daxctl_dev_enable_devdax(dev);
                if (r < 0)
                        return set_message(ret_message, r, "%s: cannot return it to devdax: %s", dax, strerror(-r));
        }
        return set_message(ret_message, 0, "%s: released, back in devdax mode", dax);
}
