# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl2+node
#
# The harness's larger topology: two CXL memory devices and a plain
# CPU-less DRAM node, as spmd's "only onto a dedicated node" and
# "all-unclaimed" policies will need them.

testcase_two_memdevs() {
        vm_cxl_load
        for _ in $(seq 50); do
                [ "$(ls /sys/bus/cxl/devices | grep -c '^mem')" = 2 ] && break
                sleep 0.1
        done
        "$SPMCTL" --json devices | tee /tmp/devices.json
        python3 - <<'PY'
import json
t = json.load(open("/tmp/devices.json"))
serials = sorted(m["serial"] for m in t["cxl_memdevs"])
assert serials == [0x1234, 0x5678], serials
assert all(m["ram_size"] == 1 << 30 for m in t["cxl_memdevs"]), t
PY
}

testcase_plain_cpuless_node() {
        "$SPMCTL" --json nodes | tee /tmp/nodes.json
        python3 - <<'PY'
import json
t = json.load(open("/tmp/nodes.json"))
n = {x["node"]: x for x in t["nodes"]}
assert n[0]["cpus"] == "0-1", n
assert n[1]["cpus"] == "" and n[1]["size"] > 256 << 20, n[1]
assert n[0]["distance"][1] == 21, n[0]
PY
}
