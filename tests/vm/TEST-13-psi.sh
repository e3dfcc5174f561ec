# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# Memory PSI as a pressure source: spmd follows memory.pressure of the
# granted cgroups that hold an SPM node, with a kernel trigger at PsiWarn=.
# A granted workload thrashes for real (memory.max well below what it
# touches, zram swap), the node's level rises on its stall time, reclaim
# leaves the stalling cgroup alone, and the level comes back once it stops.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd "$CG/jobs"
        echo +memory >"$CG/cgroup.subtree_control"
        echo +memory >"$CG/jobs/cgroup.subtree_control"
        mkdir -p "$CG/jobs/thrash"
        echo 24M >"$CG/jobs/thrash/memory.max"
        vm_modprobe zram
        echo 512M >/sys/block/zram0/disksize
        mkswap /dev/zram0 >/dev/null
        swapon /dev/zram0
        cat >"$CONF" <<EOF2
[Device]
Match=dax0.0
[Enforcement]
CgroupGuard=no
TaskMoveMemory=no
[Pressure]
FreeWarn=1%
FreeCritical=0.5%
PsiWarn=5%
PsiCritical=95%
PsiWindow=1s
Hysteresis=2%
RecoverAfter=2s
RefuseGrantsAt=never
[Reclaim]
At=warn
Step=1M
MinInterval=100ms
[Evacuation]
Enable=no
[Grant]
Name=thrash
Cgroup=/jobs/thrash
Nodes=1
EOF2
        vm_private_bus
}

node1() { # node1 KEY
        "$SPMCTL" --json status | python3 -c '
import json, sys
print([a for a in json.load(sys.stdin)["NodeActivity"] if a["node"] == 1][0][sys.argv[1]])' "$1"
}

testcase_psi_followed() {
        spmd_start "$CONF"
        grep 'SPM node 1: pressure ok (free [0-9.]*%); sources: free memory, memory PSI of its granted cgroups.' /tmp/spmd.log
        "$SPMCTL" status | grep -E 'Memory PSI: system [0-9.]+% over PsiWindow=1.0s; granted cgroups followed: 1'
        [ "$(node1 level)" = ok ]
        python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0 else 1)" "$(node1 psi)"
}

testcase_thrashing_raises_the_level() {
        # 64 MiB touched over and over with 24 MiB allowed: every pass swaps
        sh -c 'echo $$ >"$1/cgroup.procs" && exec python3 -c "
import mmap, time
buf = mmap.mmap(-1, 64 << 20)
end = time.time() + 120
while time.time() < end:
    for off in range(0, len(buf), 4096):
        buf[off] = (buf[off] + 1) % 256
"' - "$CG/jobs/thrash" >/dev/null 2>/tmp/thrash.err &
        echo $! >/tmp/thrash.pid
        spmd_wait_log 'SPM node 1: pressure ok -> warn (memory PSI [0-9.]*% >= PsiWarn=5.0%)'
        spmd_wait_log 'SPM node 1: reclaim starts'
        spmd_wait_log "SPM node 1: reclaim leaves $CG/jobs/thrash alone while its memory PSI is"
        grep 'memory.pressure\|PSI trigger' /tmp/spmd.log || true
        [ "$(node1 reclaim_backoffs)" -gt 0 ]
        python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 3 else 1)" "$(node1 psi)"
        "$SPMCTL" top -n 1 | grep -E '^1 +(warn|critical) .* [0-9.]+%'
}

testcase_level_recovers() {
        kill "$(cat /tmp/thrash.pid)"
        spmd_wait_log 'SPM node 1: pressure [a-z]* -> ok'
        [ "$(node1 level)" = ok ]
        grep 'SPM node 1: reclaim stops' /tmp/spmd.log
}

# spmd's open PSI triggers (fds on a memory.pressure file)
# spmd's descriptors on memory.pressure files of KIND: "trigger" (opened read-write: the kernel's
# trigger) or "read" (read-only: a file held open for the samples read on the loop)
pressure_fds() {
        local pid fd flags n=0
        pid=$(cat /tmp/spmd.pid)
        for fd in /proc/"$pid"/fd/*; do
                case $(readlink "$fd" 2>/dev/null) in *memory.pressure) ;; *) continue ;; esac
                flags=""
                # read by the shell: a guest slowed by another one runs each fork in tenths of a second
                while read -r key value; do
                        [ "$key" = flags: ] && flags=$value
                done <"/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null || true
                [ -n "$flags" ] || continue
                if (((8#$flags & 3) == 2)); then
                        [ "$1" = trigger ] && n=$((n + 1))
                else
                        [ "$1" = read ] && n=$((n + 1))
                fi
        done
        echo "$n"
}

n_triggers() {
        pressure_fds trigger
}

testcase_ended_grants_triggers_are_closed() {
        local before reads
        before=$(n_triggers)
        [ "$before" -ge 1 ] # /jobs/thrash's
        reads=$(pressure_fds read) # a few granted cgroups' files are held open and read on the loop
        [ "$reads" -ge 1 ]
        # a grant that comes and goes: its cgroup gets a trigger while it holds the node, and its
        # file is held for the samples ... The grant lasts until the test ends it (its command
        # waits on a FIFO): one of fixed length ran out before a slow guest had counted its files
        rm -f /tmp/grant-end
        mkfifo /tmp/grant-end
        "$SPMCTL" run --node 1 -- sh -c 'read -r _ </tmp/grant-end' &
        for _ in $(seq 100); do [ "$(n_triggers)" -gt "$before" ] && break; sleep 0.1; done
        [ "$(n_triggers)" -eq $((before + 1)) ]
        for _ in $(seq 30); do [ "$(pressure_fds read)" -gt "$reads" ] && break; sleep 0.1; done
        [ "$(pressure_fds read)" -eq $((reads + 1)) ]
        timeout 30 sh -c "echo >/tmp/grant-end"
        wait $!
        # ... and loses both when the grant ends (the trigger closed in spmd's trigger thread, not on
        # its loop)
        for _ in $(seq 100); do [ "$(n_triggers)" -le "$before" ] && break; sleep 0.1; done
        [ "$(n_triggers)" -eq "$before" ]
        [ "$(pressure_fds read)" -eq "$reads" ]
        # a new PsiWarn= takes new triggers: the old ones are all closed
        sed -i 's/^PsiWarn=5%/PsiWarn=6%/' "$CONF"
        spmd_reload
        for _ in $(seq 100); do [ "$(n_triggers)" -eq "$before" ] && break; sleep 0.1; done
        [ "$(n_triggers)" -eq "$before" ]
        "$SPMCTL" status | grep -E 'granted cgroups followed: 1'
}

testcase_stop() {
        spmd_stop
        vm_private_bus_stop
}
