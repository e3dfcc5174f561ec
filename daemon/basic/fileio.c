/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"

int read_one_line(const char *path, char *buf, size_t len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        if (!fgets(buf, (int) len, f))
                return ferror(f) ? -EIO : -ENODATA;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}
