/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The machine's memory as spmctl's local commands show it in JSON (spmctl-local, and
 * tests/topology-dump): the only part of spmctl's JSON that needs the topology's libraries.
 */
#pragma once

#include "nodemask.h"
#include "spmctl-json.h"
#include "topology.h"

/* spmctl nodes --json (and spmctl devices --json): nodes, CXL memdevs and regions, dax devices,
 * what the kernel offers. spm: the nodes to show as kind "spm" (NULL: none known). */
json_object *json_topology(const Topology *t, const NodeMask *spm);
