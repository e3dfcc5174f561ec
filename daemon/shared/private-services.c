/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of a private node's opt-ins (PrivateServices=), declared in dax-private.h: apart from
 * the onlining code, so that the configuration's parser links no libdaxctl. */
#include <stdio.h>
#include <string.h>

#include "dax-private.h"
#include "macro.h"

static const char *const service_names[PRIVATE_SERVICE_COUNT] = {
        "reclaim", "user_numa", "hotunplug", "demotion", "numa_balancing", "ltpin", "dax_file",
};

const char *private_service_name(unsigned i) {
        return i < PRIVATE_SERVICE_COUNT ? service_names[i] : NULL;
}

uint32_t private_service_from_string(const char *s) {
        for (unsigned i = 0; i < PRIVATE_SERVICE_COUNT; i++)
                if (strcmp(service_names[i], s) == 0)
                        return 1u << i;
        return 0;
}

char *private_services_format(uint32_t mask, char *buf, size_t len) {
        size_t at = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < PRIVATE_SERVICE_COUNT; i++)
                if (mask & (1u << i)) {
                        int n = snprintf(buf + at, at < len ? len - at : 0, "%s%s", at ? " " : "", service_names[i]);
                        if (n > 0)
                                at += (size_t) n;
                }
        if (at == 0)
                snprintf(buf, len, "none");
        return buf;
}
