/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmd's D-Bus names, shared by the daemon, spmctl and the tests. The API
 * itself (methods, properties, signals) is documented in docs/dbus-api.md
 * when the broker lands; these names are fixed now so that nothing else
 * invents its own spelling.
 */
#ifndef SPMD_BUS_H
#define SPMD_BUS_H

#define SPMD_BUS_NAME              "org.spmd1"
#define SPMD_BUS_PATH              "/org/spmd1"
#define SPMD_BUS_MANAGER_INTERFACE "org.spmd1.Manager"
#define SPMD_BUS_GRANT_INTERFACE   "org.spmd1.Grant"
#define SPMD_BUS_GRANT_PATH_PREFIX "/org/spmd1/grant/"

#endif
