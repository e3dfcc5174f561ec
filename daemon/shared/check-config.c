/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check-config.h"
#include "conf.h"

int check_config_and_report(const char *path, bool required, bool dump) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfDiags d = {};
        int r;

        r = config_load(path, required, &c, &d);
        conf_diags_print(&d, stderr);
        if (r < 0 && r != -EINVAL)
                fprintf(stderr, "%s: failed to load configuration: %s\n", path, strerror(-r));
        else
                fprintf(stderr, "%s: %zu error(s), %zu warning(s)\n", path, d.n_errors, d.n - d.n_errors);
        if (r >= 0 && dump)
                config_dump(c, stdout);
        conf_diags_clear(&d);
        return r < 0 ? 1 : 0;
}
