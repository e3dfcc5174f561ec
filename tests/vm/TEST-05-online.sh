# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
#
# spmd onlines the configured CXL device as an SPM node and gives it back:
# CPU-less, ZONE_MOVABLE, its own lower tier, backed by mem0 (serial 0x1234)
# through region0/dax0.0; restarts change nothing; devices that do not
# exist, or vanish, are reported and nothing crashes.

CONF=/etc/spmd/spmd.conf

scenario_setup() {
        kernel_at_least 6 3 || { echo "unavailable: CXL RAM regions need kernel >= 6.3 ($(uname -r))"; return 77; }
        vm_cxl_load
        vm_cxl_create_ram_region >/dev/null
        mkdir -p /etc/spmd
        printf '[Device]\nName=expander0\nMatch=serial:0x1234\n' >"$CONF"
}

blocks_state() {
        daxctl list -d dax0.0
        cat /sys/devices/system/node/node1/meminfo | grep MemTotal
        ls /sys/devices/system/memory | wc -l
}

testcase_online_as_spm_node() {
        # the kernel left the region's memory offline (memhp_default_state=offline)
        daxctl list -d dax0.0 | grep -q '"online_memblocks":0'
        spmd_start "$CONF"
        grep 'dax0.0: online as movable system RAM on node 1 (8 memory blocks, 1.0G)' /tmp/spmd.log
        "$SPMCTL" nodes | tee /tmp/nodes.txt
        grep -E '^1 +spm +- +[0-9.]+[MG] +[0-9.]+[MG] +[0-9]+ movable +dax0\.0 <- region0 <- mem0 \(0x1234\)$' /tmp/nodes.txt
        grep -E '^0 +sysram +0-1 ' /tmp/nodes.txt
        # daxctl agrees
        daxctl list -d dax0.0 | tee /tmp/dax.json
        grep -q '"mode":"system-ram"' /tmp/dax.json
        grep -q '"online_memblocks":8' /tmp/dax.json
        grep -q '"movable":true' /tmp/dax.json
        "$SPMCTL" --json nodes >/tmp/nodes.json
        python3 - <<'PY'
import json
n = {x["node"]: x for x in json.load(open("/tmp/nodes.json"))["nodes"]}
assert n[1]["kind"] == "spm" and n[0]["kind"] == "sysram", n
assert n[1]["tier"] > n[0]["tier"], n
assert n[1]["zone"] == "movable", n[1]
PY
        spmd_stop
        # ShutdownPolicy=keep (default): still online
        daxctl list -d dax0.0 | grep -q '"online_memblocks":8'
}

testcase_restart_changes_nothing() {
        blocks_state >/tmp/before
        spmd_start "$CONF"
        grep 'dax0.0: already online as movable system RAM on node 1' /tmp/spmd.log
        (! grep -q 'dax0.0: online as' /tmp/spmd.log)
        blocks_state >/tmp/after
        diff /tmp/before /tmp/after
        spmd_stop
}

# The CXL device behind the node is a pressure source: its health through libcxl (GET_HEALTH_INFO),
# read at start and every 10 s. QEMU 10's type-3 device does not take the command (the kernel
# answers ENOTTY): spmd must say so, with the reason, and keep the node at ok.
testcase_health_is_a_source() {
        spmd_start "$CONF"
        grep -E 'SPM node 1: pressure ok \(.*\); sources: free memory, CXL health of mem0, memory PSI' /tmp/spmd.log
        grep -E 'SPM node 1: CXL mem0: (media normal, life used [0-9]+%|health unavailable: the device does not support GET_HEALTH_INFO \(not in its command effects log\))\.' /tmp/spmd.log
        (! grep -E 'CXL mem0: (gone|media not normal)' /tmp/spmd.log)
        spmd_stop
}

testcase_release_on_config_change() {
        spmd_start "$CONF"
        printf '[Daemon]\nLogLevel=info\n' >"$CONF"
        spmd_reload
        grep 'dax0.0: no longer claimed by the configuration, releasing.' /tmp/spmd.log
        grep 'dax0.0: released, back in devdax mode' /tmp/spmd.log
        daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
        (! grep -q 'Node 1 MemTotal: *[1-9]' /sys/devices/system/node/node1/meminfo)
        # claimed again: onlined again, without a restart
        printf '[Device]\nName=expander0\nMatch=serial:0x1234\n' >"$CONF"
        spmd_reload
        grep -c 'dax0.0: online as movable system RAM on node 1' /tmp/spmd.log | grep -qx 1
        daxctl list -d dax0.0 | grep -q '"movable":true'
        spmd_stop
}

testcase_missing_devices_are_reported() {
        printf '[Device]\nMatch=serial:0x9999\n[Device]\nMatch=dax7.0\n[Device]\nMatch=region:region5\n' >/tmp/missing.conf
        spmd_start /tmp/missing.conf
        grep -F 'Match=serial:0x9999: no CXL memory device has this serial' /tmp/spmd.log
        grep -F 'Match=dax7.0: no dax device named dax7.0' /tmp/spmd.log
        grep -F 'Match=region:region5: no CXL region named region5' /tmp/spmd.log
        kill -0 "$(cat /tmp/spmd.pid)"
        "$SPMCTL" -c /tmp/missing.conf devices | grep -F 'problem: [Device] at /tmp/missing.conf:1 Match=serial:0x9999'
        spmd_stop
}

testcase_vanished_device_is_reported() {
        # the device goes away under a running spmd: released, then its region destroyed
        spmd_start "$CONF"
        "$SPMCTL" device release expander0 | tee /tmp/release.txt
        grep -F 'dax0.0: released, back in devdax mode' /tmp/release.txt
        grep -F 'spmd onlines it again on its next reload' /tmp/release.txt
        cxl disable-region region0
        cxl destroy-region region0 || cxl destroy-region -f region0
        (! ls /sys/bus/dax/devices/dax0.0 2>/dev/null)
        spmd_reload
        grep -F "Match=serial:0x1234: mem0 (serial 0x1234) is in no committed CXL region" /tmp/spmd.log
        kill -0 "$(cat /tmp/spmd.pid)"
        "$SPMCTL" device release dax0.0 && exit 1
        spmd_stop
}
