/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* topology-dump ROOT: the nodes part of the topology read from a recorded sysfs tree, as spmctl --json prints it. */
#include <stdio.h>

#include "topology.h"

int main(int argc, char **argv) {
        Topology *t = NULL;
        NodeMask none = {};
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s SYSFS-ROOT\n", argv[0]);
                return 2;
        }
        r = topology_discover_nodes_at(argv[1], &t);
        if (r < 0) {
                fprintf(stderr, "topology_discover_nodes_at(%s) failed: %d\n", argv[1], r);
                return 1;
        }
        topology_print_json(t, &none, stdout);
        topology_free(t);
        return 0;
}
