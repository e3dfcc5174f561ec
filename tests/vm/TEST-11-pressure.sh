# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The pressure level of an SPM node. Two sources: free memory, for real
# (a granted cgroup fills part of the node), and a compression ratio. There
# is no emulator of a compressed CXL device, so the ratio comes from a file
# this test writes, named by CompressionRatioPath= as a driver's sysfs
# attribute would be. Levels rise at once, step down only after RecoverAfter=,
# do not flap under a jittering source, reach the journal and D-Bus
# (PressureChanged, NodePressure), and RefuseGrantsAt= refuses new grants.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup
RATIO=/tmp/ratio

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd
        echo 3.00 >"$RATIO"
        write_conf 1%
        vm_private_bus
        mkdir -p "$CG/jobs/fill"
}

write_conf() { # write_conf FREEWARN
        cat >"$CONF" <<EOF
[Device]
Name=nv
Match=dax0.0
CompressionRatioPath=$RATIO
[Enforcement]
CgroupGuard=no
TaskMoveMemory=no
[Pressure]
FreeWarn=$1
FreeCritical=0.5%
RatioWarn=2.0
RatioCritical=1.5
Hysteresis=5%
RecoverAfter=2s
RefuseGrantsAt=critical
EOF
}

level() { # the level spmd reports for node 1
        "$SPMCTL" --json status | python3 -c '
import json, sys
print([p["level"] for p in json.load(sys.stdin)["NodePressure"] if p["node"] == 1][0])'
}

wait_level() { # wait_level LEVEL
        for _ in $(seq 100); do
                [ "$(level)" = "$1" ] && return 0
                sleep 0.1
        done
        echo "node 1 is at $(level), not $1" >&2
        return 1
}

testcase_ok_at_start() {
        spmd_start "$CONF"
        grep 'SPM node 1: pressure ok (free [0-9.]*%, compression ratio 3.00); sources: free memory, compression ratio from /tmp/ratio' /tmp/spmd.log
        "$SPMCTL" status | grep ' Pressure: node 1 ok'
        "$SPMCTL" --json monitor >/tmp/monitor.json 2>/tmp/monitor.err &
        echo $! >/tmp/monitor.pid
        # subscribed once it says so (its match is in place before it asks spmd anything)
        for _ in $(seq 100); do grep -q "Following spmd's signals" /tmp/monitor.err && break; sleep 0.1; done
        grep -q "Following spmd's signals" /tmp/monitor.err
}

testcase_ratio_rises_at_once() {
        echo 1.80 >"$RATIO"
        wait_level warn
        grep 'SPM node 1: pressure ok -> warn (compression ratio 1.80 <= RatioWarn=2.00)' /tmp/spmd.log
        echo 1.40 >"$RATIO"
        wait_level critical
        grep 'SPM node 1: pressure warn -> critical (compression ratio 1.40 <= RatioCritical=1.50)' /tmp/spmd.log
}

testcase_critical_refuses_grants() {
        mkdir -p "$CG/jobs/new"
        (! "$SPMCTL" request --persistent --cgroup /jobs/new 2>/tmp/e-new)
        cat /tmp/e-new
        # the reason is the latest sample's: "<=" when it rose, "has not cleared" while it stays
        grep -E 'SPM node 1 is at critical pressure \(compression ratio 1.40 (<=|has not cleared) RatioCritical=1.50\); new grants wait until it recovers \(RefuseGrantsAt=critical\)' /tmp/e-new
        test "$("$SPMCTL" --json grants)" = "[]"
}

testcase_no_flapping() {
        # jitter across RatioCritical=1.5 but inside the hysteresis (1.575 clears it): no change
        n=$(grep -c 'SPM node 1: pressure' /tmp/spmd.log)
        for _ in $(seq 10); do
                echo 1.45 >"$RATIO"
                sleep 0.4
                echo 1.55 >"$RATIO"
                sleep 0.4
        done
        test "$(grep -c 'SPM node 1: pressure' /tmp/spmd.log)" = "$n"
        test "$(level)" = critical
        # clearing it, but not for RecoverAfter=2s (back below within a second): still no change
        for _ in $(seq 3); do
                echo 3.00 >"$RATIO"
                sleep 0.8
                echo 1.40 >"$RATIO"
                sleep 1.4   # longer than a sample interval: every round has a sample at critical
        done
        test "$(grep -c 'SPM node 1: pressure' /tmp/spmd.log)" = "$n"
}

testcase_recovers_after_delay() {
        echo 3.00 >"$RATIO"
        t0=$(date +%s%N)
        wait_level ok
        t=$((($(date +%s%N) - t0) / 1000000))
        echo "recovered after $t ms"
        [ "$t" -ge 1800 ]   # RecoverAfter=2s, sampled once a second
        grep 'SPM node 1: pressure critical -> ok' /tmp/spmd.log
        # grants are admitted again
        "$SPMCTL" request --persistent --cgroup /jobs/new >/tmp/req-new.out
        "$SPMCTL" release "$(cat /tmp/req-new.out)"
}

testcase_unreadable_ratio_is_named() {
        echo banana >"$RATIO"
        spmd_wait_log "Node 1: /tmp/ratio reads 'banana', not a compression ratio (a positive number); the ratio is left out until it reads again."
        test "$(level)" = ok
        echo 3.00 >"$RATIO"
        spmd_wait_log 'Node 1: /tmp/ratio reads a compression ratio again (3.00).'
}

testcase_free_memory_is_a_source() {
        # FreeWarn= 7 points below the node's free share now (so that clearing it by Hysteresis=5% is
        # possible again), then a granted cgroup takes 128 MiB (12.7 points) of it
        pct=$(awk '/MemTotal/ {t=$4} /MemFree/ {f=$4} END {printf "%.1f", f * 100 / t - 7}' /sys/devices/system/node/node1/meminfo)
        write_conf "$pct%"
        spmd_reload
        test "$(level)" = ok
        "$SPMCTL" request --persistent --cgroup /jobs/fill >/tmp/req-fill.out
        mkfifo /tmp/fill-in
        (sh -c 'echo $$ >"$0/cgroup.procs" && exec python3 -c "
import ctypes, mmap, sys
libc = ctypes.CDLL(None)
mask = ctypes.c_ulong(2)
libc.syscall(238, 2, ctypes.byref(mask), 64)
buf = mmap.mmap(-1, 128 << 20)
for off in range(0, len(buf), 4096):
    buf[off] = 1
print(\"filled\", flush=True)
sys.stdin.readline()"' "$CG/jobs/fill" </tmp/fill-in >/tmp/fill.out) &
        exec 9>/tmp/fill-in
        for _ in $(seq 300); do grep -q filled /tmp/fill.out && break; sleep 0.1; done
        grep -q filled /tmp/fill.out
        wait_level warn
        grep "SPM node 1: pressure ok -> warn (free [0-9.]*% < FreeWarn=$pct%)" /tmp/spmd.log
        echo "done" >&9
        exec 9>&-
        wait_level ok
        "$SPMCTL" release "$(cat /tmp/req-fill.out)"
}

testcase_monitor_saw_every_change() {
        kill "$(cat /tmp/monitor.pid)"
        cat /tmp/monitor.json
        python3 - <<'PY'
import json
ev = [json.loads(l) for l in open("/tmp/monitor.json")]
seq = [(e["previous"], e["level"]) for e in ev if e["signal"] == "PressureChanged" and e["node"] == 1]
want = [("ok", "warn"), ("warn", "critical"), ("critical", "ok"), ("ok", "warn"), ("warn", "ok")]
assert seq == want, seq
PY
        spmd_stop
        vm_private_bus_stop
}
