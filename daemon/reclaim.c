/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "reclaim.h"

static int write_reclaim(const char *path, uint64_t bytes, int swappiness) {
        _cleanup_close_ int fd = -EBADF;
        char buf[64];
        int n;

        if (swappiness >= 0)
                n = snprintf(buf, sizeof buf, "%" PRIu64 " swappiness=%d", bytes, swappiness);
        else
                n = snprintf(buf, sizeof buf, "%" PRIu64, bytes);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, buf, (size_t) n) < 0)
                return -errno;
        return 0;
}

int reclaim_cgroup(const char *cgroup_dir, uint64_t bytes, int swappiness) {
        char path[4096];

        if ((size_t) snprintf(path, sizeof path, "%s/memory.reclaim", cgroup_dir) >= sizeof path)
                return -ENAMETOOLONG;
        return write_reclaim(path, bytes, swappiness);
}

bool reclaim_node_supported(unsigned node) {
        char path[96];

        snprintf(path, sizeof path, "/sys/devices/system/node/node%u/reclaim", node);
        return access(path, W_OK) == 0;
}

int reclaim_node(unsigned node, uint64_t bytes, int swappiness) {
        char path[96];

        snprintf(path, sizeof path, "/sys/devices/system/node/node%u/reclaim", node);
        return write_reclaim(path, bytes, swappiness);
}
