# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
# Deliberately broken firmware step: a 64 GiB region on a 1 GiB device.
# test-harness expects this scenario to FAIL with the kernel's own error.

testcase_impossible_region() {
        vm_cxl_load
        vm_cxl_create_ram_region $((64 << 30))
}
