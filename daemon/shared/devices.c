/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices spmd manages: which dax device each [Device] claims, onlining it
 * as an SPM node (system RAM, ZONE_MOVABLE by default, on a node of its
 * own) and taking it back. Onlining follows what "daxctl reconfigure-device
 * --mode=system-ram" does: disable the device, enable it with the kmem
 * driver, online its memory blocks.
 */
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
#include "log.h"
#include "strv.h"

_printf_(2, 3) static int plan_problem(DevicePlan *p, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = strv_push(&p->problems, s);
        if (r < 0)
                free(s);
        return r;
}

static int plan_claim(DevicePlan *p, const DeviceConf *d, const DaxDevInfo *dax) {
        DeviceClaim *n;

        for (size_t i = 0; i < p->n_claims; i++)
                if (strcmp(p->claims[i].dax, dax->name) == 0) {
                        if (p->claims[i].conf == d)
                                return 0;
                        return plan_problem(p, "[Device] at %s:%u Match=%s: %s is already claimed by the [Device] at %s:%u",
                                            d->source.file, d->source.line, d->match, dax->name,
                                            p->claims[i].conf->source.file, p->claims[i].conf->source.line);
                }
        n = realloc(p->claims, (p->n_claims + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->claims = n;
        p->claims[p->n_claims] = (DeviceClaim){ .conf = d, .node = dax->target_node };
        snprintf(p->claims[p->n_claims].dax, sizeof p->claims[0].dax, "%s", dax->name);
        p->n_claims++;
        return 0;
}

/* Claim the dax devices of every CXL region that has memdev (by name or serial) as a target. */
static int plan_by_memdev(DevicePlan *p, const DeviceConf *d, const Topology *t, const char *memdev_name) {
        const CxlMemdevInfo *m = NULL;
        unsigned claimed = 0, regions = 0;
        int r;

        for (size_t i = 0; i < t->n_memdevs; i++)
                if (memdev_name ? strcmp(t->memdevs[i].name, memdev_name) == 0
                                : t->memdevs[i].serial == d->match_serial)
                        m = &t->memdevs[i];
        if (!m)
                return plan_problem(p, "[Device] at %s:%u Match=%s: no CXL memory device %s%s", d->source.file,
                                    d->source.line, d->match, memdev_name ? "named " : "has this serial",
                                    memdev_name ? memdev_name : t->n_memdevs == 0 ? " (no CXL memory devices at all)" : "");
        for (size_t i = 0; i < t->n_regions; i++) {
                const CxlRegionInfo *ri = &t->regions[i];
                bool has = false;

                for (unsigned k = 0; k < ri->n_targets; k++)
                        has |= strcmp(ri->memdev[k], m->name) == 0;
                if (!has)
                        continue;
                regions++;
                for (size_t j = 0; j < t->n_daxdevs; j++)
                        if (strcmp(t->daxdevs[j].cxl_region, ri->name) == 0) {
                                r = plan_claim(p, d, &t->daxdevs[j]);
                                if (r < 0)
                                        return r;
                                claimed++;
                        }
        }
        if (regions == 0)
                return plan_problem(p, "[Device] at %s:%u Match=%s: %s (serial 0x%" PRIx64 ") is in no committed CXL "
                                       "region; the firmware or an administrator must create one first",
                                    d->source.file, d->source.line, d->match, m->name, m->serial);
        if (claimed == 0)
                return plan_problem(p, "[Device] at %s:%u Match=%s: the CXL region of %s has no dax device "
                                       "(is dax_cxl loaded?)",
                                    d->source.file, d->source.line, d->match, m->name);
        return 0;
}

int device_plan_build(Config *c, const Topology *t, DevicePlan *ret) {
        DevicePlan p = {};
        int r = 0;

        /* Explicit matches first, so that all-unclaimed gets what nobody named. */
        for (int pass = 0; pass < 2 && r >= 0; pass++)
                for (size_t i = 0; i < c->n_devices && r >= 0; i++) {
                        const DeviceConf *d = c->devices[i];
                        const char *v = d->match;
                        unsigned claimed = 0;

                        if (!d->match_set || (pass == 0) == (d->match_kind == DEVICE_MATCH_UNCLAIMED))
                                continue;
                        switch (d->match_kind) {
                        case DEVICE_MATCH_DAX: {
                                const DaxDevInfo *x = topology_dax(t, v);
                                r = x ? plan_claim(&p, d, x)
                                      : plan_problem(&p, "[Device] at %s:%u Match=%s: no dax device named %s", d->source.file,
                                                     d->source.line, v, v);
                                break;
                        }
                        case DEVICE_MATCH_SERIAL:
                                r = plan_by_memdev(&p, d, t, NULL);
                                break;
                        case DEVICE_MATCH_MEMDEV:
                                r = plan_by_memdev(&p, d, t, v + strlen("memdev:"));
                                break;
                        case DEVICE_MATCH_REGION:
                                if (!topology_cxl_region(t, v + strlen("region:"))) {
                                        r = plan_problem(&p, "[Device] at %s:%u Match=%s: no CXL region named %s",
                                                         d->source.file, d->source.line, v, v + strlen("region:"));
                                        break;
                                }
                                for (size_t j = 0; j < t->n_daxdevs && r >= 0; j++)
                                        if (strcmp(t->daxdevs[j].cxl_region, v + strlen("region:")) == 0) {
                                                r = plan_claim(&p, d, &t->daxdevs[j]);
                                                claimed++;
                                        }
                                if (r >= 0 && claimed == 0)
                                        r = plan_problem(&p, "[Device] at %s:%u Match=%s: the region has no dax device",
                                                         d->source.file, d->source.line, v);
                                break;
                        case DEVICE_MATCH_UNCLAIMED:
                                for (size_t j = 0; j < t->n_daxdevs && r >= 0; j++)
                                        if (!device_plan_find(&p, t->daxdevs[j].name))
                                                r = plan_claim(&p, d, &t->daxdevs[j]);
                                break;
                        }
                }
        if (r < 0) {
                device_plan_clear(&p);
                return r;
        }
        for (size_t i = 0; i < p.n_claims; i++)
                p.claims[i].private_services = device_private_services(c, p.claims[i].conf);
        p.config = config_ref(c);
        *ret = p;
        return 0;
}

void device_plan_clear(DevicePlan *p) {
        config_free(p->config);
        free(p->claims);
        strv_free(p->problems);
        *p = (DevicePlan){};
}

const DeviceClaim *device_plan_find(const DevicePlan *p, const char *dax_or_name) {
        for (size_t i = 0; i < p->n_claims; i++)
                if (strcmp(p->claims[i].dax, dax_or_name) == 0 ||
                    (p->claims[i].conf->name && strcmp(p->claims[i].conf->name, dax_or_name) == 0))
                        return &p->claims[i];
        return NULL;
}

void device_plan_target_nodes(const DevicePlan *p, const Topology *t, NodeMask *ret) {
        NodeMask m = {};

        for (size_t i = 0; i < p->n_claims; i++) {
                const DaxDevInfo *d = topology_dax(t, p->claims[i].dax);
                if (d && d->target_node >= 0)
                        nodemask_set(&m, (unsigned) d->target_node);
        }
        *ret = m;
}

void device_plan_spm_nodes(const DevicePlan *p, const Topology *t, NodeMask *ret) {
        NodeMask m = {};

        for (size_t i = 0; t && i < p->n_claims; i++) {
                const DaxDevInfo *d = topology_dax(t, p->claims[i].dax);
                if (d && ((d->system_ram && d->blocks_online > 0) || d->private_online) && d->target_node >= 0)
                        nodemask_set(&m, (unsigned) d->target_node);
        }
        *ret = m;
}
