# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
#
# The emulated CXL type-3 device (1 GiB volatile, serial 0x1234) as the
# kernel, libcxl and spmctl see it; a RAM region committed through sysfs;
# its dax device; BPF programs loading in this kernel.

testcase_memdev_via_libcxl() {
        vm_cxl_load
        cxl list -M | tee /tmp/memdevs.json
        grep -q '"memdev":"mem0"' /tmp/memdevs.json
        grep -q '"serial":4660' /tmp/memdevs.json
        grep -q '"ram_size":1073741824' /tmp/memdevs.json
        "$SPMCTL" devices | tee /tmp/devices.txt
        grep -E '^  mem0 +serial 0x1234 +ram 1\.0G' /tmp/devices.txt
        # health: the values, or why there are none - never silence
        grep -E '^ +health: (media (normal|NOT NORMAL)|unavailable: .+)' /tmp/devices.txt
        "$SPMCTL" --json devices >/tmp/devices.json
        python3 - <<'PY'
import json
m = json.load(open("/tmp/devices.json"))["cxl_memdevs"][0]
assert ("health" in m) != bool(m.get("health_error")), m
PY
}

testcase_ram_region_commits() {
        kernel_at_least 6 3 || skip "unavailable: CXL RAM regions need kernel >= 6.3 (this is $(uname -r))"
        region=$(vm_cxl_create_ram_region)
        test "$(cat /sys/bus/cxl/devices/"$region"/commit)" = 1
        test "$(( $(cat /sys/bus/cxl/devices/"$region"/size) ))" = "$((1 << 30))"
        test "$(basename "$(readlink -f /sys/bus/cxl/devices/"$region"/driver)")" = cxl_region
        echo "$region" >/tmp/region
}

testcase_dax_device_with_target_node() {
        kernel_at_least 6 3 || skip "unavailable: no CXL RAM region on $(uname -r), so no dax device from CXL"
        daxctl list | tee /tmp/dax.json
        grep -q '"chardev":"dax0.0"' /tmp/dax.json
        grep -q '"target_node":1' /tmp/dax.json
        "$SPMCTL" --json devices | tee /tmp/devices.json
        python3 - <<'PY'
import json
t = json.load(open("/tmp/devices.json"))
d = [x for x in t["dax_devices"] if x["name"] == "dax0.0"]
assert d, t
assert d[0]["target_node"] == 1, d
assert d[0]["size"] == 1 << 30, d
m = [x for x in t["cxl_memdevs"] if x["name"] == "mem0"]
assert m and m[0]["serial"] == 0x1234, t
PY
}

testcase_cxl_node_in_a_lower_tier() {
        kernel_at_least 6 3 || skip "unavailable: no CXL RAM region on $(uname -r)"
        test -d /sys/devices/virtual/memory_tiering || skip "unavailable: no memory tiers in $(uname -r)"
        # online the region's memory (movable) to see where the kernel ranks it
        daxctl online-memory dax0.0
        "$SPMCTL" devices | grep -E 'dax0\.0 .*blocks online ([0-9]+)/\1 +movable'
        "$SPMCTL" --json nodes | tee /tmp/nodes.json
        python3 - <<'PY'
import json
n = {x["node"]: x for x in json.load(open("/tmp/nodes.json"))["nodes"]}
assert n[1]["cpus"] == "" and n[1]["size"] > 900 << 20, n[1]
assert n[1]["tier"] > n[0]["tier"] >= 0, (n[0]["tier"], n[1]["tier"])
PY
        daxctl offline-memory dax0.0
}

testcase_bpf_lsm_loads() {
        "$VM_BUILD/tests/test-bpf-lsm"
}

testcase_bpf_observer_loads() {
        "$VM_BUILD/tests/test-bpf-observe"
}
