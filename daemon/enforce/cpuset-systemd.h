/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cpuset.h"

/* On a host booted with systemd, route the walls on its units through it (AllowedMemoryNodes=),
 * over *bus: opened on event's loop when NULL, kept by the caller, who closes it
 * (sd_bus_flush_close_unref) after the wall is gone or detached. 1 when the walls go through
 * systemd, 0 without systemd, <0 (logged) when systemd cannot be reached: cgroupfs only then. */
int cpuset_systemd_attach(CpusetWall *w, sd_event *event, sd_bus **bus);
