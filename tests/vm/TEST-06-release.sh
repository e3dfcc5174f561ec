# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# Taking a device back loses nothing: the pages of a process living on the
# SPM node move off it (checksummed), a block that cannot be offlined keeps
# the device online and is named, and release/online cycles leak nothing.
# Uses the RAM-backed NVDIMM node: data paths under TCG are far faster there
# than on the emulated CXL window.

CONF=/etc/spmd/spmd.conf

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd
        printf '[Device]\nName=nv\nMatch=dax0.0\n' >"$CONF"
}

node_pages() { # node_pages PID NODE: pages of PID on NODE
        grep -o "N$2=[0-9]*" "/proc/$1/numa_maps" | awk -F= '{s += $2} END {print s + 0}'
}

testcase_release_keeps_data() {
        spmd_start "$CONF"
        grep 'dax0.0: online as movable system RAM on node 1' /tmp/spmd.log
        cat >/tmp/holder.py <<'PY'
import hashlib, mmap, os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
buf = mmap.mmap(-1, 64 << 20)
for off in range(0, len(buf), 1 << 20):
    buf[off:off + (1 << 20)] = os.urandom(1 << 20)
open(sys.argv[1] + ".tmp", "w").write(hashlib.sha256(buf).hexdigest())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.sigwait([signal.SIGUSR1])
open(sys.argv[2], "w").write(hashlib.sha256(buf).hexdigest())
PY
        rm -f /tmp/h1 /tmp/h2
        numactl --membind=1 python3 /tmp/holder.py /tmp/h1 /tmp/h2 &
        pid=$!
        for _ in $(seq 300); do [ -s /tmp/h1 ] && break; sleep 0.1; done
        test -s /tmp/h1
        on1=$(node_pages "$pid" 1)
        echo "pages on node 1 before release: $on1"
        [ "$on1" -ge 16384 ]   # the 64 MiB buffer at least
        spmd_stop

        "$SPMCTL" -c "$CONF" device release nv
        daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
        [ "$(node_pages "$pid" 1)" = 0 ]
        echo "pages on node 0 after release: $(node_pages "$pid" 0)"
        kill -USR1 "$pid"
        wait "$pid"
        cmp /tmp/h1 /tmp/h2
}

testcase_twenty_cycles_leak_nothing() {
        daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
        spmd_start "$CONF"
        blocks0=$(ls /sys/devices/system/memory | grep -c '^memory')
        total0=$(awk '/MemTotal/ {print $4}' /sys/devices/system/node/node1/meminfo)
        rss0=$(awk '/VmRSS/ {print $2}' "/proc/$(cat /tmp/spmd.pid)/status")
        for i in $(seq 20); do
                "$SPMCTL" -c "$CONF" device release nv >/dev/null
                daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
                spmd_reload
                dax_all_online dax0.0
                [ "$(ls /sys/devices/system/memory | grep -c '^memory')" = "$blocks0" ]
                [ "$(awk '/MemTotal/ {print $4}' /sys/devices/system/node/node1/meminfo)" = "$total0" ]
        done
        [ "$(grep -c 'dax0.0: online as movable' /tmp/spmd.log)" = 21 ]
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$(cat /tmp/spmd.pid)/status")
        echo "spmd RSS: $rss0 kB before, $rss kB after 20 cycles"
        [ "$rss" -le $((rss0 + 512)) ]
        spmd_stop
}

testcase_shutdown_policy_release() {
        dax_all_online dax0.0 || { spmd_start "$CONF"; spmd_stop; }
        printf '[Daemon]\nShutdownPolicy=release\n[Device]\nName=nv\nMatch=dax0.0\n' >/tmp/release.conf
        spmd_start /tmp/release.conf
        dax_all_online dax0.0
        spmd_stop
        grep 'dax0.0: released, back in devdax mode' /tmp/spmd.log
        daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
        # and the next start onlines it again
        spmd_start "$CONF"
        dax_all_online dax0.0
        spmd_stop
}

testcase_kernel_auto_onlined_becomes_movable() {
        # What a kernel booted with memhp_default_state=online leaves behind: the
        # blocks came online in ZONE_NORMAL the moment dax0.0 was bound to kmem.
        dax_all_online dax0.0 && "$SPMCTL" -c "$CONF" device release nv
        daxctl list -d dax0.0 | grep -q '"mode":"devdax"'
        # daxctl refuses while the kernel auto-onlines, so bind to kmem by hand, as a boot would
        echo online_kernel >/sys/devices/system/memory/auto_online_blocks
        echo dax0.0 >/sys/bus/dax/drivers/device_dax/unbind
        echo dax0.0 >/sys/bus/dax/drivers/kmem/new_id 2>/dev/null || true
        [ -e /sys/bus/dax/drivers/kmem/dax0.0 ] || echo dax0.0 >/sys/bus/dax/drivers/kmem/bind
        echo offline >/sys/devices/system/memory/auto_online_blocks
        daxctl list -d dax0.0 | tee /tmp/auto.json
        grep -q '"movable":false' /tmp/auto.json
        dax_all_online dax0.0
        spmd_start "$CONF"
        grep 'dax0.0: [0-9]\+ memory block(s) online in ZONE_NORMAL, the configuration asks for ZONE_MOVABLE; re-onlining them' /tmp/spmd.log
        daxctl list -d dax0.0 | grep -q '"movable":true'
        dax_all_online dax0.0
        spmd_stop
}

testcase_busy_block_keeps_device_online() {
        # Last: it leaves the device online with kernel memory on it.
        # Kernel memory is not movable: online the node as ZONE_NORMAL and let
        # a process bound to it fill slab caches there, then try to take it back.
        printf '[Device]\nName=nv\nMatch=dax0.0\nZone=normal\n' >/tmp/normal.conf
        # the cycles left it online movable: spmd moves it to the zone asked for
        dax_all_online dax0.0
        spmd_start /tmp/normal.conf
        grep 'dax0.0: [0-9]\+ memory block(s) online in ZONE_MOVABLE, the configuration asks for ZONE_NORMAL' /tmp/spmd.log
        grep 'dax0.0: online as system RAM (ZONE_NORMAL) on node 1' /tmp/spmd.log
        daxctl list -d dax0.0 | grep -q '"movable":false'
        spmd_stop
        mkdir -p /run/slab
        numactl --membind=1 python3 -c '
import os
for i in range(60000):
    os.mkdir("/run/slab/d%d" % i)
'
        if "$SPMCTL" -c /tmp/normal.conf device release nv >/tmp/release.txt 2>&1; then
                cat /tmp/release.txt
                rm -rf /run/slab
                skip "unavailable: could not make a memory block unofflinable here (the kernel reclaimed it)"
        fi
        cat /tmp/release.txt
        grep -E 'dax0\.0: memory blocks (memory[0-9]+ ?)+ could not be taken offline .*the device stays online and nothing was lost' /tmp/release.txt
        daxctl list -d dax0.0 | grep -q '"mode":"system-ram"'
        # every block named as online is still online
        for b in $(grep -o 'memory[0-9][0-9]*' /tmp/release.txt); do
                grep -qx online "/sys/devices/system/memory/$b/state"
        done
}
