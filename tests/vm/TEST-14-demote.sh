# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# Demotion ([Demotion], DAMON): a granted workload placed in DRAM (node 0)
# by the kernel's default policy holds two checksummed buffers, one it reads
# over and over (hot) and one it never touches (cold). spmd has DAMON move
# the granted cgroup's cold anonymous pages onto the SPM node: the cold
# buffer ends up there, the hot one stays in DRAM. A process of another
# cgroup with an idle buffer just like it is never moved (the memcg filter).
# Pressure on the SPM node pauses demotion; Promote=yes brings pages that
# turn hot back to DRAM. Evacuation at critical moves the pages DAMON saw
# cold first: with a budget smaller than a bound workload's cold buffer, the
# cold buffer goes and the hot one (lower in the address space, so first in
# address order) stays. spmd gives DAMON back when it stops, and leaves it
# alone when another tool holds it. Data stays intact throughout.
# Debian's 6.1 has no DAMON (CONFIG_DAMON unset): spmd must say so.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup
KD=/sys/kernel/mm/damon/admin/kdamonds
COLD_MIB=24
HOT_MIB=8

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd "$CG/jobs"
        echo +memory >"$CG/cgroup.subtree_control"
        echo +memory >"$CG/jobs/cgroup.subtree_control"
        mkdir -p "$CG/jobs/tier" "$CG/jobs/other"
        write_conf no 10%
        vm_private_bus
}

write_conf() { # write_conf PROMOTE FREEWARN [FREECRITICAL [HYSTERESIS]]
        cat >"$CONF" <<EOF
[Device]
Name=nv
Match=dax0.0
${DEVICE_EXTRA:-}
[Enforcement]
CgroupGuard=no
TaskMoveMemory=no
[Pressure]
FreeWarn=$2
FreeCritical=${3:-1%}
Hysteresis=${4:-2%}
RecoverAfter=1s
RefuseGrantsAt=never
[Reclaim]
Enable=no
[Evacuation]
At=critical
BatchPages=256
[Demotion]
Enable=yes
ColdAge=2s
MaxRate=${MAXRATE:-256M}
Promote=$1
[Grant]
Name=tier
Cgroup=/jobs/tier
Nodes=1
EOF
}

have_damon() {
        [ -e "$KD/nr_kdamonds" ]
}

status_json() {
        "$SPMCTL" --json status
}

node1() { # node1 KEY: a key of node 1's NodeActivity
        status_json | python3 -c '
import json, sys
print([a for a in json.load(sys.stdin)["NodeActivity"] if a["node"] == 1][0][sys.argv[1]])' "$1"
}

demotion_state() {
        status_json | python3 -c 'import json, sys; print(json.load(sys.stdin)["Demotion"]["state"])'
}

# start_workload NAME CGROUP ARGS...: workload.py ARGS in CGROUP, commands through /tmp/NAME-in
start_workload() {
        local name=$1 cg=$2
        shift 2
        mkfifo "/tmp/$name-in"
        : >"/tmp/$name.out"
        sleep infinity >"/tmp/$name-in" 2>/dev/null &
        echo $! >"/tmp/$name-holder.pid"
        sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec python3 "$@"' - "$cg" "$VM_SRC/tests/vm/workload.py" "$@" \
                <"/tmp/$name-in" >>"/tmp/$name.out" 2>"/tmp/$name.err" &
        echo $! >"/tmp/$name.pid"
        for _ in $(seq 1200); do grep -q filled "/tmp/$name.out" && return 0; sleep 0.1; done
        cat "/tmp/$name.err" >&2
        return 1
}

ask() { # ask NAME COMMAND: send a workload a command, print its answer
        local n
        n=$(wc -l <"/tmp/$1.out")
        echo "$2" >"/tmp/$1-in"
        for _ in $(seq 1200); do
                [ "$(wc -l <"/tmp/$1.out")" -gt "$n" ] && { tail -n1 "/tmp/$1.out"; return 0; }
                kill -0 "$(cat "/tmp/$1.pid")" || { echo "workload $1 died" >&2; return 1; }
                sleep 0.1
        done
        echo "workload $1 did not answer '$2'" >&2
        return 1
}

pages() { # pages NAME WHERE-COMMAND NODE: pages of that buffer on NODE
        ask "$1" "$2" | tr ' ' '\n' | sed -n "s/^N$3=//p" | grep . || echo 0
}

# wait_pages NAME WHERE-COMMAND NODE AT-LEAST [TENTHS]
wait_pages() {
        local n
        for _ in $(seq "${5:-1200}"); do
                n=$(pages "$1" "$2" "$3")
                [ "$n" -ge "$4" ] && { echo "$1 $2: $n pages on node $3"; return 0; }
                sleep 0.1
        done
        echo "$1 $2: $n pages on node $3, not $4: $(ask "$1" "$2")" >&2
        return 1
}

testcase_no_damon_is_reported() {
        have_damon && skip "$(uname -r) has DAMON: the other testcases cover it"
        spmd_start "$CONF"
        spmd_wait_log 'Demotion unavailable: no DAMON sysfs interface'
        [ "$(demotion_state)" = "unavailable: no DAMON sysfs interface ($KD/nr_kdamonds: No such file or directory; the kernel needs CONFIG_DAMON_SYSFS)" ]
        "$SPMCTL" status | grep 'Demotion: unavailable: no DAMON sysfs interface'
        spmd_stop
}

testcase_cold_demoted_hot_stays() {
        have_damon || skip "no DAMON in $(uname -r) (CONFIG_DAMON is not set)"
        [ "$(cat "$KD/nr_kdamonds")" = 0 ]
        # both workloads first, the hot one's reader running, then spmd: on a slow run filling the
        # buffers can take longer than ColdAge=, and the hot buffer must not look cold meanwhile
        start_workload tier "$CG/jobs/tier" any "$COLD_MIB" "$HOT_MIB"
        start_workload other "$CG/jobs/other" any "$COLD_MIB"
        # the kernel put both in DRAM: node 0 is the only node with CPUs
        [ "$(pages tier where 0)" -eq $((COLD_MIB * 256)) ]
        [ "$(pages tier wherehot 0)" -eq $((HOT_MIB * 256)) ]
        [ "$(pages other where 0)" -eq $((COLD_MIB * 256)) ]
        spmd_start "$CONF"
        spmd_wait_log 'Demotion: DAMON kdamond 0 (pid [0-9]*) demotes the anonymous pages of 1 granted cgroup(s) untouched for 2.0s to SPM node(s) 1'
        [ "$(cat "$KD/0/state")" = on ]
        [ "$(cat "$KD/0/contexts/0/schemes/0/filters/0/memcg_path")" = /jobs/tier ]
        # 90% of the cold buffer on the SPM node
        wait_pages tier where 1 $((COLD_MIB * 256 * 9 / 10))
        hot1=$(pages tier wherehot 1)
        echo "hot buffer: $hot1 of $((HOT_MIB * 256)) pages on node 1"
        # the hot one stays in DRAM. Not to the page: DAMON checks a page's accessed bit at one
        # moment, and a transparent huge page (512 pages) caught between two reads goes whole
        [ "$hot1" -le $((HOT_MIB * 256 / 2)) ]
        # the other cgroup's idle buffer is not the granted workload's: not a page moves
        [ "$(pages other where 0)" -eq $((COLD_MIB * 256)) ]
        [ "$(pages other where 1)" -eq 0 ]
        # DAMON's count, as GetStatus reports it, covers the cold buffer
        for _ in $(seq 100); do
                [ "$(node1 demoted_bytes)" -ge $((COLD_MIB * 9 / 10 << 20)) ] && break
                sleep 0.1
        done
        echo "demoted_bytes: $(node1 demoted_bytes)"
        [ "$(node1 demoted_bytes)" -ge $((COLD_MIB * 9 / 10 << 20)) ]
        [ "$(demotion_state | cut -d: -f1)" = active ]
        "$SPMCTL" status | grep -E 'Demotion: active: DAMON kdamond 0 .*; 0B promoted'
        "$SPMCTL" status | grep -E ' Activity: node 1: .*; demoted [0-9.]+M'
}

testcase_pressure_pauses() {
        have_damon || skip "no DAMON in $(uname -r)"
        # FreeWarn=99%: node 1 (~26% used by now) is at warn, demotion must stop
        write_conf no 99%
        spmd_reload
        spmd_wait_log 'Demotion to SPM node 1 pauses: the node is at warn'
        spmd_wait_log 'Demotion: DAMON kdamond 0 stopped (no granted cgroup on an SPM node with room)'
        [ "$(cat "$KD/0/state")" = off ]
        # what is left is kdamond 1's watch of the SPM nodes for evacuation
        demotion_state | grep '^active: DAMON kdamond 1 (pid [0-9]*) watches the SPM nodes for cold pages'
        (! demotion_state | grep 'kdamond 0')
        write_conf no 10%
        # counted from here: an earlier testcase may have logged kdamond 0's setup more than once
        # (a changed setup is committed and logged again), so "the second line" can be an old one
        # and the state is read before the new setup is written
        starts=$(spmd_log_count 'Demotion to SPM node 1 starts')
        setups=$(spmd_log_count 'Demotion: DAMON kdamond 0 (pid')
        spmd_reload
        spmd_wait_log 'Demotion to SPM node 1 starts' $((starts + 1))
        spmd_wait_log 'Demotion: DAMON kdamond 0 (pid' $((setups + 1))
        [ "$(cat "$KD/0/state")" = on ]
}

testcase_promote() {
        have_damon || skip "no DAMON in $(uname -r)"
        write_conf yes 10%
        spmd_reload
        spmd_wait_log 'Demotion: DAMON kdamond 1 (pid [0-9]*) watches the SPM nodes for cold pages (evacuation moves them first) and promotes hot anonymous pages on them to node 0'
        [ "$(cat "$KD/1/state")" = on ]
        # the cold buffer turns hot: it is read as often as the hot one from now on
        ask tier heat | grep heating
        wait_pages tier where 0 $((COLD_MIB * 256 / 2)) 900
        promoted=$(status_json | python3 -c 'import json, sys; print(json.load(sys.stdin)["Demotion"]["promoted_bytes"])')
        echo "promoted_bytes: $promoted"
        for _ in $(seq 100); do
                [ "$promoted" -gt 0 ] && break
                sleep 0.1
                promoted=$(status_json | python3 -c 'import json, sys; print(json.load(sys.stdin)["Demotion"]["promoted_bytes"])')
        done
        [ "$promoted" -gt 0 ]
}

testcase_data_intact() {
        have_damon || skip "no DAMON in $(uname -r)"
        ask tier check | grep "intact $((COLD_MIB + HOT_MIB))"
        ask other check | grep "intact $COLD_MIB"
}

numa_stat_on1() { # numa_stat_on1 CGROUP: bytes the cgroup holds on node 1 (anon + file)
        awk '$1 == "anon" || $1 == "file" { for (i = 2; i <= NF; i++) if ($i ~ /^N1=/) { sub("N1=", "", $i); s += $i } }
             END { print s + 0 }' "$1/memory.numa_stat"
}

testcase_demotion_within_grant_limit() {
        have_damon || skip "no DAMON in $(uname -r)"
        write_conf no 10%
        spmd_reload
        # 24 MiB idle in DRAM, then a D-Bus grant of 8M: DAMON's quota counts all the memory it goes
        # over, not one cgroup's pages, so spmd moves this cgroup's cold pages itself, counting them
        mkdir -p "$CG/jobs/lim"
        start_workload lim "$CG/jobs/lim" any "$COLD_MIB"
        "$SPMCTL" request --cgroup /jobs/lim --node 1 --max-bytes 8M >/tmp/lim.out 2>/tmp/lim.err &
        echo $! >/tmp/lim-client.pid
        for _ in $(seq 100); do grep -q '^/org/spmd1/grant/' /tmp/lim.out && break; sleep 0.1; done
        grep '^/org/spmd1/grant/' /tmp/lim.out
        spmd_wait_log 'Demotion for /jobs/lim: grant [0-9]* holds .* of its MaxBytes=8.0M on its nodes, .* in DRAM; spmd moves its cold pages itself, within the room'
        spmd_wait_log 'Demotion: DAMON kdamond 0 (pid [0-9]*) demotes the anonymous pages of 2 granted cgroup(s) (of them near a grant.s MaxBytes=: 1 moved by spmd within it, 0 at it)'
        # until it settles (the same bytes on node 1 for 3 s, 4 MiB at least), never over the limit
        local last=-1 same=0 held=0
        for _ in $(seq 240); do
                held=$(numa_stat_on1 "$CG/jobs/lim")
                [ "$held" -le $((8 << 20)) ] || { echo "over the limit: $held bytes on node 1"; return 1; }
                if [ "$held" = "$last" ]; then same=$((same + 1)); else same=0; fi
                last=$held
                [ "$same" -ge 12 ] && [ "$held" -ge $((4 << 20)) ] && break
                sleep 0.25
        done
        grep 'Demotion' /tmp/spmd.log | tail -n 4
        on1=$(pages lim where 1)
        echo "settled: the cgroup holds $held bytes on node 1 (limit $((8 << 20))), its buffer $on1 pages;" \
                "demoted_bytes $(node1 demoted_bytes)"
        [ "$same" -ge 12 ]
        [ "$held" -ge $((4 << 20)) ]
        [ "$on1" -ge $((4 * 256)) ]
        ask lim check | grep "intact $COLD_MIB"
        # the grant ends with its client: the cgroup is no longer demoted at all
        one='Demotion: DAMON kdamond 0 (pid [0-9]*) demotes the anonymous pages of 1 granted cgroup(s) untouched'
        n=$(grep -c -- "$one" /tmp/spmd.log)
        kill "$(cat /tmp/lim-client.pid)"
        spmd_wait_log "$one" $((n + 1))
        echo exit >/tmp/lim-in
}

node1_kb() { # node1_kb MemTotal|MemFree
        awk -v k="$1:" '$3 == k {print $4}' /sys/devices/system/node/node1/meminfo
}

testcase_evacuation_coldest_first() {
        have_damon || skip "no DAMON in $(uname -r)"
        write_conf no 10%
        spmd_reload
        # the tiered workload leaves; one bound to node 1 holds a cold and a hot buffer there
        echo exit >/tmp/tier-in
        start_workload bound "$CG/jobs/tier" 1 "$COLD_MIB" "$HOT_MIB"
        [ "$(pages bound where 1)" -eq $((COLD_MIB * 256)) ]
        [ "$(pages bound wherehot 1)" -eq $((HOT_MIB * 256)) ]
        # the test tells the orders apart only if address order would take the hot buffer first
        addrs=$(ask bound addrs)
        cold_at=$(echo "$addrs" | cut -d' ' -f2)
        hot_at=$(echo "$addrs" | cut -d' ' -f3)
        echo "cold buffer at $cold_at, hot at $hot_at"
        [ $((hot_at)) -lt $((cold_at)) ]
        # DAMON sees the cold buffer untouched for a second and more: its regions take a few
        # aggregations to split along the buffers under TCG (after 3 s, one run's cold pass found
        # only 4 MiB of the 24 MiB buffer, and the rest went in address order, the hot buffer first)
        sleep 8
        # critical through the media left of a compressed device (as in TEST-12: a ratio the test
        # sets), so that the target, node 0, stays far above FreeCritical=: the media is what is
        # in use now, the ratio such that moving 16 MiB leaves 32% (FreeCritical=30% + 2%)
        used=$(( ($(node1_kb MemTotal) - $(node1_kb MemFree)) * 1024 ))
        need=$((16 << 20))
        awk -v u="$used" -v n="$need" 'BEGIN {printf "%.4f\n", (u - n) / (0.68 * u)}' >/tmp/ratio
        echo "node 1: $used bytes in use; ratio $(cat /tmp/ratio): $(awk -v r="$(cat /tmp/ratio)" \
                'BEGIN {printf "%.1f", 100 - 100 / r}')% of the media left"
        DEVICE_EXTRA="CompressionRatioPath=/tmp/ratio
PhysicalCapacity=$used" write_conf no 45% 30%
        spmd_reload
        spmd_wait_log 'SPM node 1: evacuation moves cold pages first: DAMON saw [0-9]* region(s)'
        spmd_wait_log 'SPM node 1: evacuation stops'
        grep 'SPM node 1: evacuation stops' /tmp/spmd.log | tail -n1
        cold0=$(pages bound where 0)
        hot0=$(pages bound wherehot 0)
        echo "moved to node 0: $cold0 of $((COLD_MIB * 256)) cold pages, $hot0 of $((HOT_MIB * 256)) hot ones;" \
                "evacuated_cold_pages $(node1 evacuated_cold_pages) of $(node1 evacuated_pages)"
        # in address order the whole hot buffer (below the cold one, and smaller than the need)
        # would have gone before the first cold page; cold first, the cold one went and most of the
        # hot one stayed. A huge page of it in a region DAMON sampled as cold goes whole: under a
        # loaded host (TCG) the workload touches its hot buffer less often per sample, and a CI run
        # saw 2 of its 4 huge pages go (1024 pages), with 5632 cold ones
        [ "$hot0" -le $((HOT_MIB * 256 / 2)) ]
        [ "$cold0" -gt $((2 * hot0)) ]
        [ "$(node1 evacuated_cold_pages)" -gt 0 ]
        ask bound check | grep "intact $((COLD_MIB + HOT_MIB))"
        write_conf no 10%
        spmd_reload
}

testcase_stop_gives_damon_back() {
        have_damon || skip "no DAMON in $(uname -r)"
        spmd_stop
        [ "$(cat "$KD/nr_kdamonds")" = 0 ]
        [ ! -e /run/spmd/damon ]
}

testcase_damon_in_use() {
        have_damon || skip "no DAMON in $(uname -r)"
        # another tool's kdamond, off or on: spmd must not take it
        echo 1 >"$KD/nr_kdamonds"
        spmd_start "$CONF"
        spmd_wait_log 'Demotion unavailable: DAMON is in use: 1 kdamond(s) in /sys/kernel/mm/damon/admin/kdamonds that spmd did not set up'
        demotion_state | grep '^unavailable: DAMON is in use'
        [ "$(cat "$KD/nr_kdamonds")" = 1 ]
        spmd_stop
        [ "$(cat "$KD/nr_kdamonds")" = 1 ]
        echo 0 >"$KD/nr_kdamonds"
}

testcase_cleanup() {
        for w in tier other bound lim; do
                [ -e "/tmp/$w-in" ] || continue
                # a fifo without a reader would block the write: only to a workload still there
                kill -0 "$(cat "/tmp/$w.pid")" 2>/dev/null && echo exit >"/tmp/$w-in"
                kill "$(cat "/tmp/$w-holder.pid")" || true
        done
        vm_private_bus_stop
}
