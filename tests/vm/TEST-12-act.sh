# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# spmd acting on pressure: a granted workload fills the SPM node with
# checksummed data; the node is a compressed device with a known physical
# capacity, whose compression ratio this test moves (there is no emulator of
# a compressed CXL device: the ratio comes from a file the test writes, named
# by CompressionRatioPath= as a driver's sysfs attribute would be). As the
# data stops compressing, the physical media left falls through FreeWarn=
# (spmd reclaims the granted cgroup: memory.reclaim, to zram swap), then
# FreeCritical= (spmd moves the workload's pages to node 0 with move_pages)
# until the node is back to ok. Nothing is killed and every checksum holds.
# The free-memory metric is real: only pages leaving node 1 bring it back.
# Reclaim is switched off for the critical step, so that what clears it there
# is the evacuation alone.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup
RATIO=/tmp/ratio
WL_MIB=64

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd
        echo 3.00 >"$RATIO"
        write_conf 0
        vm_private_bus
        mkdir -p "$CG/jobs"
        echo +memory >"$CG/cgroup.subtree_control"
        echo +memory >"$CG/jobs/cgroup.subtree_control"
        mkdir -p "$CG/jobs/fill"
        # swap for reclaim: anonymous memory has nowhere else to go
        vm_modprobe zram
        echo 512M >/sys/block/zram0/disksize
        mkswap /dev/zram0 >/dev/null
        swapon /dev/zram0
}

write_conf() { # write_conf PHYSICAL-BYTES [RECLAIM-ENABLE]
        cat >"$CONF" <<EOF
[Device]
Name=nv
Match=dax0.0
CompressionRatioPath=$RATIO
PhysicalCapacity=$1
[Enforcement]
CgroupGuard=no
TaskMoveMemory=no
[Pressure]
FreeWarn=45%
FreeCritical=30%
Hysteresis=2%
RecoverAfter=2s
RefuseGrantsAt=never
[Reclaim]
Enable=${2:-yes}
At=warn
Step=4M
MinInterval=100ms
Swappiness=200
[Evacuation]
At=critical
BatchPages=1024
[Grant]
Name=fill
Cgroup=/jobs/fill
Nodes=1
EOF
}

status_json() {
        "$SPMCTL" --json status
}

node1() { # node1 KEY: a key of node 1's NodeActivity
        status_json | python3 -c '
import json, sys
print([a for a in json.load(sys.stdin)["NodeActivity"] if a["node"] == 1][0][sys.argv[1]])' "$1"
}

wait_level() { # wait_level LEVEL [TENTHS]: LEVEL may be an ERE such as 'ok|warn'
        for _ in $(seq "${2:-300}"); do
                node1 level | grep -qxE "$1" && return 0
                sleep 0.1
        done
        echo "node 1 is at $(node1 level), not $1 ($(node1 reason))" >&2
        return 1
}

wl() { # wl COMMAND: send the workload a command, print its answer
        local n
        n=$(wc -l </tmp/wl.out)
        echo "$1" >/tmp/wl-in
        for _ in $(seq 1200); do
                [ "$(wc -l </tmp/wl.out)" -gt "$n" ] && { tail -n1 /tmp/wl.out; return 0; }
                kill -0 "$(cat /tmp/wl.pid)" || { echo "the workload died" >&2; return 1; }
                sleep 0.1
        done
        echo "the workload did not answer '$1'" >&2
        return 1
}

pages_on() { # pages_on NODE: the workload's buffer pages on NODE
        wl where | tr ' ' '\n' | sed -n "s/^N$1=//p" | grep . || echo 0
}

proc_pages_on() { # proc_pages_on NODE: all the workload's pages on NODE, as numa_maps counts them
        awk -v key="N$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) n += kv[2] } }
                END { print n + 0 }' "/proc/$(cat /tmp/wl.pid)/numa_maps"
}

node1_used() {
        awk '/MemTotal/ {t=$4} /MemFree/ {f=$4} END {print (t - f) * 1024}' /sys/devices/system/node/node1/meminfo
}

ratio_for() { # ratio_for SHARE: the compression ratio at which SHARE of the media is left now
        awk -v used="$(node1_used)" -v phys="$(cat /tmp/physical)" -v share="$1" \
                'BEGIN {printf "%.2f", used / ((1 - share) * phys)}'
}

testcase_fill() {
        spmd_start "$CONF"
        grep 'SPM node 1: pressure ok' /tmp/spmd.log
        mkfifo /tmp/wl-in
        : >/tmp/wl.out
        sleep infinity >/tmp/wl-in 2>/dev/null &   # holds the fifo open between commands
        echo $! >/tmp/wl-holder.pid
        sh -c 'echo $$ >"$1/cgroup.procs" && exec python3 "$2" 1 "$3" </tmp/wl-in >>/tmp/wl.out' - \
                "$CG/jobs/fill" "$VM_SRC/tests/vm/workload.py" "$WL_MIB" 2>/tmp/wl.err &
        echo $! >/tmp/wl.pid
        for _ in $(seq 1200); do grep -q filled /tmp/wl.out && break; sleep 0.1; done
        grep "filled $WL_MIB" /tmp/wl.out
        on1=$(pages_on 1)
        echo "buffer pages on node 1: $on1"
        [ "$on1" -eq $((WL_MIB * 256)) ]
        # the device's media: as much as is in use now. At ratio 3 two thirds are left.
        used=$(node1_used)
        echo "$used" >/tmp/physical
        write_conf "$used"
        spmd_reload
        grep 'Configuration reloaded' /tmp/spmd.log
        wait_level ok
        [ "$(node1 physical)" = "$used" ]
        "$SPMCTL" status | grep ' Activity: node 1: idle; reclaim 0 write(s)'
}

testcase_warn_reclaims() {
        swap0=$(awk '/SwapFree/ {print $2}' /proc/meminfo)
        # written whole and renamed into place, as a driver's attribute changes: never half-written
        ratio_for 0.37 >"$RATIO.new" && mv "$RATIO.new" "$RATIO"  # 37% of the media left: < FreeWarn=45%, > FreeCritical=30%
        echo "ratio now $(cat "$RATIO")"
        # 37% from MemFree as the test reads it; spmd adds the node's per-CPU free lists once MemFree
        # alone would raise the level (a run saw 40.7%): between the two thresholds either way
        spmd_wait_log 'SPM node 1: pressure ok -> warn (physical free \(3[0-9]\|4[0-4]\)\.[0-9]% < FreeWarn=45.0%)'
        spmd_wait_log 'SPM node 1: reclaim starts'
        # reclaim until 47% (45% + Hysteresis=2%) is left, then the level steps down after RecoverAfter=2s
        spmd_wait_log 'SPM node 1: reclaim stops'
        wait_level ok
        grep 'SPM node 1: pressure warn -> ok' /tmp/spmd.log
        [ "$(node1 reclaim_writes)" -gt 0 ]
        [ "$(node1 reclaim_bytes)" -gt 0 ]
        [ "$(node1 evacuated_pages)" = 0 ]
        (! grep 'evacuation starts' /tmp/spmd.log)
        # the pages went to swap, off the node
        swap1=$(awk '/SwapFree/ {print $2}' /proc/meminfo)
        echo "swapped out: $(((swap0 - swap1) / 1024)) MiB"
        [ "$swap1" -lt "$swap0" ]
        [ "$(pages_on 1)" -lt $((WL_MIB * 256)) ]
        grep 'refuses swappiness' /tmp/spmd.log || echo "swappiness= taken by $(uname -r)"
}

testcase_critical_evacuates() {
        # the workload's own pages that reclaim swapped out come back on node 1 as it
        # runs, which can take the node back to warn for a while: let reclaim settle it
        wait_level ok 600
        # then reclaim off, so that what clears critical is the evacuation alone
        write_conf "$(cat /tmp/physical)" no
        spmd_reload
        grep 'Configuration reloaded' /tmp/spmd.log
        reclaims=$(grep -c 'SPM node 1: reclaim starts' /tmp/spmd.log)
        before0=$(pages_on 0)
        proc_before0=$(proc_pages_on 0)
        ratio_for 0.15 >"$RATIO.new" && mv "$RATIO.new" "$RATIO"  # compressing worse still: 15% of the media left
        echo "ratio now $(cat "$RATIO")"
        spmd_wait_log 'SPM node 1: pressure [a-z]* -> critical (physical free [0-9.]*% < FreeCritical=30.0%)'
        spmd_wait_log 'SPM node 1: evacuation starts'
        spmd_wait_log 'SPM node 1: evacuation stops'
        grep -E 'SPM node 1: evacuation stops \(.*\): [1-9][0-9]* page\(s\) moved to node 0' /tmp/spmd.log
        # out of critical; warn (FreeWarn=45%) is Reclaim's, which is off
        wait_level 'ok|warn' 600
        moved=$(node1 evacuated_pages)
        after0=$(pages_on 0)
        proc_after0=$(proc_pages_on 0)
        # pages go by address: the interpreter's own come before the buffer's, so the
        # buffer need not be among them; the process's pages on node 0 must have grown
        echo "evacuated $moved pages; the workload has $proc_before0 -> $proc_after0 pages on node 0" \
                "($before0 -> $after0 of them in its buffer)"
        [ "$moved" -gt 0 ]
        [ "$proc_after0" -gt "$proc_before0" ]
        [ "$(grep -c 'SPM node 1: reclaim starts' /tmp/spmd.log)" = "$reclaims" ]
        # reclaim back on takes the node the rest of the way
        write_conf "$(cat /tmp/physical)"
        spmd_reload
        wait_level ok 600
        [ "$(node1 acting)" = "" ]
}

testcase_data_intact() {
        wl check | grep "intact $WL_MIB"
        kill -0 "$(cat /tmp/wl.pid)"
        ! dmesg | grep -i 'out of memory\|killed process'
}

testcase_top() {
        "$SPMCTL" top -n 2 -d 200ms >/tmp/top.out
        cat /tmp/top.out
        test "$(grep -c '^NODE LEVEL' /tmp/top.out)" = 2
        grep -E '^1 +[a-z]+ ' /tmp/top.out
        "$SPMCTL" --json top -n 1 | python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
n = [a for a in d["nodes"] if a["node"] == 1][0]
assert n["evacuated_pages"] > 0 and n["reclaim_writes"] > 0, n'
        (! "$SPMCTL" top -n 0 2>/tmp/top.err)
        grep 'positive number' /tmp/top.err
        # the same counters for a monitoring system, read back by prometheus_client's parser
        "$SPMCTL" metrics >/tmp/metrics.prom
        grep '^spmd_node' /tmp/metrics.prom
        python3 - /tmp/metrics.prom <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
s = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for x in f.samples:
        s[(x.name, tuple(sorted(x.labels.items())))] = x.value
node = (("node", "1"),)
assert s[("spmd_up", ())] == 1, s
assert s[("spmd_node_size_bytes", node)] > 0, s
assert s[("spmd_node_reclaim_writes_total", node)] > 0, s
assert s[("spmd_node_evacuated_bytes_total", node)] > 0, s
levels = [v for (n, l), v in s.items() if n == "spmd_node_pressure_level" and ("node", "1") in l]
assert sorted(levels) == [0, 0, 1], levels
PY
}

testcase_stop() {
        cat /tmp/spmd.log
        echo exit >/tmp/wl-in
        kill "$(cat /tmp/wl-holder.pid)" || true
        spmd_stop
        vm_private_bus_stop
}
