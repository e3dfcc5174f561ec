/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spmctl-topology.h"

static json_object *node_json(const Topology *t, const NodeInfo *n, const NodeMask *spm) {
        json_object *o = json_object_new_object(), *dist = json_object_new_array();
        char b[160];

        json_add(o, "node", json_object_new_int(n->id));
        json_add(o, "kind", json_object_new_string(topology_node_kind(n, spm)));
        json_add(o, "private", json_object_new_boolean(n->private_node));
        json_add(o, "user_placeable", n->user_placeable < 0 ? NULL : json_object_new_boolean(n->user_placeable));
        json_add(o, "cpus", json_object_new_string(n->cpulist));
        json_add(o, "size", json_object_new_uint64(n->size));
        json_add(o, "free", json_object_new_uint64(n->free));
        json_add(o, "tier", json_object_new_int(n->memory_tier));
        json_add(o, "zone", json_object_new_string(topology_node_zone(t, n->id)));
        json_add(o, "backing", json_object_new_string(topology_node_backing(t, n->id, b, sizeof b)));
        json_add(o, "read_latency", json_object_new_int(n->read_latency));
        json_add(o, "read_bandwidth", json_object_new_int(n->read_bandwidth));
        for (size_t j = 0; j < t->n_nodes; j++)
                json_object_array_add(dist, json_object_new_int(n->distance[j]));
        json_add(o, "distance", dist);
        return o;
}

static json_object *memdev_json(const CxlMemdevInfo *m) {
        json_object *o = json_object_new_object();

        json_add(o, "name", json_object_new_string(m->name));
        json_add(o, "serial", json_object_new_uint64(m->serial));
        json_add(o, "ram_size", json_object_new_uint64(m->ram_size));
        json_add(o, "pmem_size", json_object_new_uint64(m->pmem_size));
        json_add(o, "host", json_object_new_string(m->host));
        if (m->health_valid) {
                json_object *h = json_object_new_object();
                json_add(h, "media_normal", json_object_new_boolean(m->media_normal));
                json_add(h, "life_used", json_object_new_int(m->life_used));
                json_add(h, "temperature", json_object_new_int(m->temperature == INT32_MIN ? -1 : m->temperature));
                json_add(h, "dirty_shutdowns", json_object_new_int(m->dirty_shutdowns));
                json_add(o, "health", h);
        } else
                json_add(o, "health_error", json_object_new_string(m->health_error));
        return o;
}

static json_object *region_json(const CxlRegionInfo *r) {
        json_object *o = json_object_new_object(), *targets = json_object_new_array();

        json_add(o, "name", json_object_new_string(r->name));
        json_add(o, "size", json_object_new_uint64(r->size));
        for (unsigned j = 0; j < r->n_targets; j++) {
                json_object *x = json_object_new_object();
                json_add(x, "memdev", json_object_new_string(r->memdev[j]));
                json_add(x, "serial", json_object_new_uint64(r->serial[j]));
                json_object_array_add(targets, x);
        }
        json_add(o, "targets", targets);
        return o;
}

static json_object *daxdev_json(const DaxDevInfo *d) {
        json_object *o = json_object_new_object();

        json_add(o, "name", json_object_new_string(d->name));
        json_add(o, "region", json_object_new_string(d->region));
        json_add(o, "cxl_region", json_object_new_string(d->cxl_region));
        json_add(o, "size", json_object_new_uint64(d->size));
        json_add(o, "target_node", json_object_new_int(d->target_node));
        json_add(o, "mode", json_object_new_string(d->private_online ? "private" : d->system_ram ? "system-ram" : "devdax"));
        json_add(o, "blocks_online", json_object_new_int(d->blocks_online));
        json_add(o, "blocks_total", json_object_new_int(d->blocks_total));
        json_add(o, "movable", json_object_new_int(d->movable));
        return o;
}

json_object *json_topology(const Topology *t, const NodeMask *spm) {
        json_object *o = json_object_new_object(), *a, *k;

        if (!o)
                return NULL;
        a = json_object_new_array();
        for (size_t i = 0; i < t->n_nodes; i++)
                json_object_array_add(a, node_json(t, &t->nodes[i], spm));
        json_add(o, "nodes", a);
        a = json_object_new_array();
        for (size_t i = 0; i < t->n_memdevs; i++)
                json_object_array_add(a, memdev_json(&t->memdevs[i]));
        json_add(o, "cxl_memdevs", a);
        a = json_object_new_array();
        for (size_t i = 0; i < t->n_regions; i++)
                json_object_array_add(a, region_json(&t->regions[i]));
        json_add(o, "cxl_regions", a);
        a = json_object_new_array();
        for (size_t i = 0; i < t->n_daxdevs; i++)
                json_object_array_add(a, daxdev_json(&t->daxdevs[i]));
        json_add(o, "dax_devices", a);
        k = json_object_new_object();
        json_add(k, "numa", json_object_new_boolean(t->caps.numa));
        json_add(k, "memory_tiers", json_object_new_boolean(t->caps.memory_tiers));
        json_add(k, "demotion_enabled", json_object_new_int(t->caps.demotion_enabled));
        json_add(k, "per_node_reclaim", json_object_new_boolean(t->caps.per_node_reclaim));
        json_add(k, "private_nodes", json_object_new_boolean(t->caps.private_nodes));
        json_add(k, "has_public_memory", json_object_new_boolean(t->caps.public_memory));
        json_add(k, "has_user_memory", json_object_new_boolean(t->caps.user_memory));
        json_add(k, "has_private_memory", json_object_new_boolean(t->caps.private_rfc));
        json_add(o, "kernel", k);
        return o;
}
