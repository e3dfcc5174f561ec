# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The route to a dax device that works on every supported kernel, 6.1
# included: a RAM-backed NVDIMM on CPU-less node 1, made a devdax namespace
# with ndctl, onlined as system RAM. HMAT says node 1 is slower, so the
# kernel puts it in a lower memory tier than node 0.

testcase_devdax_namespace() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        daxctl list -d dax0.0 | tee /tmp/dax.json
        grep -q '"target_node":1' /tmp/dax.json
        grep -q '"mode":"devdax"' /tmp/dax.json
}

testcase_online_as_movable_system_ram() {
        daxctl reconfigure-device --mode=system-ram dax0.0
        daxctl list -d dax0.0 | tee /tmp/dax.json
        grep -q '"mode":"system-ram"' /tmp/dax.json
        # node 1: memory, no CPUs
        test -z "$(cat /sys/devices/system/node/node1/cpulist)"
        grep -q 'Node 1 MemTotal: *[1-9]' /sys/devices/system/node/node1/meminfo
        # every block of the device online and movable
        "$SPMCTL" devices | tee /tmp/devices.txt
        grep -E 'dax0\.0 .*target node 1 +system-ram +blocks online ([0-9]+)/\1 +movable' /tmp/devices.txt
}

testcase_lower_memory_tier() {
        test -d /sys/devices/virtual/memory_tiering || skip "unavailable: no memory tiers in $(uname -r)"
        "$SPMCTL" --json nodes | tee /tmp/nodes.json
        python3 - <<'PY'
import json
t = json.load(open("/tmp/nodes.json"))
n = {x["node"]: x for x in t["nodes"]}
assert 0 in n and 1 in n, n
assert n[1]["cpus"] == "", n[1]
assert n[1]["tier"] > n[0]["tier"] >= 0, (n[0]["tier"], n[1]["tier"])
assert n[0]["distance"][1] == 20, n[0]
PY
}

testcase_bpf_lsm_loads() {
        "$VM_BUILD/tests/test-bpf-lsm"
}
