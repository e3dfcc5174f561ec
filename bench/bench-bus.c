/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench-bus.h"

uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

uint64_t pct(const uint64_t *v, size_t n, double p) {
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

int request(sd_bus *bus, const char *cgroup, char *path, size_t len) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *p;
        int r;

        r = sd_bus_call_method(bus, "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "RequestAccess", &e, &reply,
                               "sauta{sv}", cgroup, 0, (uint64_t) 0, 0);
        if (r < 0) {
                fprintf(stderr, "RequestAccess %s: %s\n", cgroup, e.message ? e.message : strerror(-r));
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read(reply, "o", &p);
        if (r >= 0)
                snprintf(path, len, "%s", p);
        sd_bus_message_unref(reply);
        return r;
}

int release(sd_bus *bus, const char *path) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "ReleaseAccess", &e, NULL, "o",
                                   path);
        if (r < 0) {
                fprintf(stderr, "ReleaseAccess %s: %s\n", path, e.message ? e.message : strerror(-r));
                sd_bus_error_free(&e);
        }
        return r;
}

int ping(sd_bus *bus) {
        return sd_bus_call_method(bus, "org.spmd1", "/org/spmd1", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                  NULL);
}

int spm_node(sd_bus *bus, unsigned *ret) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const uint32_t *v;
        size_t size;
        int r;

        r = sd_bus_get_property(bus, "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "SpmNodes", &e, &reply, "au");
        if (r < 0) {
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_read_array(reply, 'u', (const void **) &v, &size);
        if (r >= 0 && size < sizeof *v)
                r = -ENODEV;
        if (r >= 0)
                *ret = v[0];
        sd_bus_message_unref(reply);
        return r;
}
