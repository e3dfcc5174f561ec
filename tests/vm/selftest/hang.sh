# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
# A guest that never finishes: test-harness expects the timeout to end it.

testcase_hang() {
        sleep infinity
}
