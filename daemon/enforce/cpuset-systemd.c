/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cpuset wall on a host where systemd owns the cgroup tree. systemd writes
 * its units' cpuset.mems itself from their AllowedMemoryNodes= whenever it
 * applies their settings (a restart, a daemon-reload, a property change), and
 * would undo a value written behind its back; it also enables and disables the
 * cpuset controller in the slices by what its units ask for. So the walls on
 * its units are also asked of it: SetUnitProperties(unit, runtime,
 * AllowedMemoryNodes=) over the system bus, which holds until the next boot.
 * The wall writes cpuset.mems at once and sends the call without waiting (the
 * event loop never waits for systemd); the answer is logged when it comes.
 * Cgroups that are not its units (made by hand, or below a unit that
 * delegates its subtree) are only written, as on a host without systemd.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "cpuset-systemd.h"
#include "cpuset.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

#define SYSTEMD_CALL_USEC (5 * USEC_PER_SEC)

/* One SetUnitProperties under way: what its answer is about. */
typedef struct SetMemsCall {
        char mems[NODEMASK_FORMAT_MAX];
        char unit[];
} SetMemsCall;

static int on_set_unit_mems(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const SetMemsCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        (void) ret_error;
        if (e)
                log_warning("systemd did not take AllowedMemoryNodes=%s on %s (%s: %s): the cpuset.mems spmd wrote "
                            "holds until systemd applies the unit's settings again; spmd's next pass over the "
                            "walls (a reload, a grant) writes it again then.",
                            c->mems, c->unit, e->name, e->message);
        else
                log_debug("systemd took AllowedMemoryNodes=%s on %s.", c->mems, c->unit);
        return 0;
}

static int set_unit_mems(const char *unit, const NodeMask *mems, void *userdata) {
        sd_bus *bus = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        SetMemsCall *c;
        uint8_t bits[SPMD_MAX_NODES / 8] = {};
        size_t n = 0;
        int r;

        /* AllowedMemoryNodes= on the bus: a bit mask, node 0 in the lowest bit of the first byte */
        for (unsigned node = 0; node < SPMD_MAX_NODES; node++)
                if (nodemask_test(mems, node)) {
                        bits[node / 8] |= (uint8_t) (1u << (node % 8));
                        n = node / 8 + 1;
                }
        r = sd_bus_message_new_method_call(bus, &req, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                           "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(req, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_open_container(req, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_open_container(req, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(req, "s", "AllowedMemoryNodes");
        if (r >= 0)
                r = sd_bus_message_open_container(req, 'v', "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(req, 'y', bits, n);
        for (int i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(req);
        if (r < 0)
                return r;
        c = malloc(sizeof *c + strlen(unit) + 1);
        if (!c)
                return -ENOMEM;
        nodemask_format(mems, c->mems, sizeof c->mems);
        strcpy(c->unit, unit);
        r = sd_bus_call_async(bus, &slot, req, on_set_unit_mems, c, SYSTEMD_CALL_USEC);
        if (r < 0) {
                free(c);
                return r;
        }
        /* the bus owns the call from here; C goes with it, answered or not */
        (void) sd_bus_slot_set_destroy_callback(slot, free);
        return sd_bus_slot_set_floating(slot, 1);
}

int cpuset_systemd_attach(CpusetWall *w, sd_event *event, sd_bus **bus) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *b = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        assert(w);
        assert(event);
        assert(bus);

        cpuset_wall_set_manager(w, NULL, NULL);
        if (sd_booted() <= 0)
                return 0; /* no systemd: spmd writes cgroupfs */
        if (!*bus) {
                r = sd_bus_open_system_with_description(&b, "spmd-systemd");
                /* a call that answers proves systemd is on the bus */
                if (r >= 0)
                        r = sd_bus_call_method(b, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.DBus.Peer", "Ping", &error, NULL, "");
                if (r < 0) {
                        log_warning("Enforcement layer cpuset: systemd runs this host but cannot be reached on the "
                                    "system bus (%s); spmd writes cpuset.mems of its units directly, and systemd "
                                    "may undo them when it applies a unit's settings.",
                                    sd_bus_error_is_set(&error) ? error.message : strerror(-r));
                        return r;
                }
                /* the walls' calls are answered on the loop */
                r = sd_bus_attach_event(b, event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return log_error_errno(r, "Cannot attach the connection to systemd to the event loop: %m");
                *bus = TAKE_PTR(b);
        }
        cpuset_wall_set_manager(w, set_unit_mems, *bus);
        log_info("Enforcement layer cpuset: systemd owns the cgroup tree: the walls on its units are its "
                 "AllowedMemoryNodes= (runtime), set over the system bus.");
        return 1;
}
