/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "pressure.h"

typedef struct Manager Manager;

/* One SPM node's pressure as spmd follows it. */
typedef struct NodePressure {
        unsigned node;
        char *ratio_path;       /* CompressionRatioPath= of the [Device] behind it, or NULL */
        bool ratio_failing;     /* the last read of ratio_path failed (logged once) */
        PressureState state;
        PressureSample last;
        char why[160];          /* what the last sample said */
} NodePressure;

/* Follow the SPM nodes now (after start, reload, device changes), keeping the levels of those that stay. */
void manager_setup_pressure(Manager *m);
void manager_free_pressure(Manager *m);
/* The node's pressure, or NULL when it is not an SPM node spmd follows. */
const NodePressure *manager_node_pressure(const Manager *m, unsigned node);
