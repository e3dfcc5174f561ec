/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* topology-dump ROOT [--native-spm]: the nodes part of the topology read from a recorded sysfs tree, as
 * spmctl --json prints it; or what the native-spm layer reports of it. */
#include <stdio.h>
#include <string.h>

#include "spmctl-topology.h"
#include "topology.h"

int main(int argc, char **argv) {
        Topology *t = NULL;
        NodeMask none = {};
        int r;

        if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--native-spm") != 0)) {
                fprintf(stderr, "usage: %s SYSFS-ROOT [--native-spm]\n", argv[0]);
                return 2;
        }
        r = topology_discover_nodes_at(argv[1], &t);
        if (r < 0) {
                fprintf(stderr, "topology_discover_nodes_at(%s) failed: %d\n", argv[1], r);
                return 1;
        }
        if (argc == 3) {
                char what[1024];
                printf("%s: %s\n", topology_native_spm(t, argv[1], what, sizeof what) ? "found" : "none", what);
        } else
                (void) json_print(json_topology(t, &none), stdout);
        topology_free(t);
        return 0;
}
