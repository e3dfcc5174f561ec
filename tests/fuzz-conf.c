/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: any bytes as spmd.conf, through parse, verify and dump. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FILE *devnull;
        ConfDiags d = {};
        Config *c;

        if (!devnull)
                devnull = fopen("/dev/null", "we");
        c = config_new();
        if (!c)
                return 0;
        (void) config_parse_buffer(c, "fuzz.conf", (const char *) data, size, &d);
        (void) config_verify(c, &d);
        config_dump(c, devnull);
        /* every diagnostic must be printable */
        conf_diags_print(&d, devnull);
        conf_diags_clear(&d);
        config_free(c);
        return 0;
}
