# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
# vm-timeout: 900
# make demo, second guest: a client's workload on the SPM node, pressure and spmd's answer.
# A transcript, not a test. The node is RAM-backed NVDIMM memory (QEMU emulates each access
# to its CXL memory, far too slowly for a workload of 64 MiB).
set -e
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
CG=/sys/fs/cgroup
RATIO=/tmp/ratio
WL_MIB=64

step "Guest: Debian kernel $(uname -r); node 1 is a 1 GiB RAM-backed NVDIMM, slower by HMAT"
dax=$(vm_nvdimm_create_devdax 2>/dev/null)
run daxctl list -d "$dax"

# There is no emulator of a compressed CXL device: the compression ratio is read from a file
# named by CompressionRatioPath=, as a driver's sysfs attribute would be, and this demo writes it.
echo 5.00 >"$RATIO"
mkdir -p /etc/spmd
cat >/etc/spmd/spmd.conf <<EOF
[Device]
Name=expander0
Match=$dax
# a compressed device: 32 MiB of media, its ratio in a file (no emulator has one)
CompressionRatioPath=$RATIO
PhysicalCapacity=32M

[Access]
Name=batch
User=nobody
Cgroup=/jobs/*

[Pressure]
FreeWarn=45%
FreeCritical=30%
Hysteresis=2%
RecoverAfter=2s

[Reclaim]
At=warn
Step=4M
MinInterval=100ms
Swappiness=200

[Evacuation]
At=critical
BatchPages=1024
EOF
vm_private_bus
cp "$VM_SRC/tests/vm/workload.py" /tmp/workload.py
echo +memory >"$CG/cgroup.subtree_control"
mkdir -p "$CG/jobs"
echo +memory >"$CG/jobs/cgroup.subtree_control"
# swap for reclaim to put anonymous memory in
vm_modprobe zram
echo 512M >/sys/block/zram0/disksize
mkswap /dev/zram0 >/dev/null
swapon /dev/zram0

step "spmd onlines the device as an SPM node and walls it"
run cat /etc/spmd/spmd.conf
: >/tmp/spmd.log
"$SPMD" >>/tmp/spmd.log 2>&1 &
echo $! >/tmp/spmd.pid
spmd_wait_log "running with" >/dev/null
sed 's/^/  /' /tmp/spmd.log
run "$SPMCTL" nodes

step "A client asks for the node over D-Bus"
"$SPMCTL" monitor >/tmp/monitor.out 2>/tmp/monitor.err &
mon=$!
for _ in $(seq 100); do grep -q Following /tmp/monitor.err && break; sleep 0.1; done
mkdir "$CG/jobs/batch1"
# the job's shell is placed in its cgroup by root (as systemd or a batch system would), walled
# like every cgroup until a grant opens it; it waits for the grant, then runs as nobody
mkfifo /tmp/go /tmp/wl-in
: >/tmp/wl.out
sh -c 'echo $$ >"$1/cgroup.procs"; read -r _ </tmp/go; exec setpriv --reuid=65534 --regid=65534 --clear-groups \
        python3 "$2" 1 "$3" </tmp/wl-in >>/tmp/wl.out 2>&1' - "$CG/jobs/batch1" /tmp/workload.py "$WL_MIB" &
wl=$!
sleep infinity >/tmp/wl-in &   # holds the workload's stdin open between commands
holder=$!
mems() { echo "  the job's $(grep Mems_allowed_list "/proc/$wl/status" | tr -s '\t' ' ')"; }
sleep 0.2
mems
echo "\$ setpriv --reuid=1000 spmctl request --cgroup /jobs/batch1    # no rule admits uid 1000"
setpriv --reuid=1000 --regid=1000 --clear-groups "$SPMCTL" request --cgroup /jobs/batch1 2>&1 | sed 's/^/  /' || true
echo "\$ setpriv --reuid=nobody spmctl request --cgroup /jobs/batch1 &    # [Access] batch admits nobody"
setpriv --reuid=65534 --regid=65534 --clear-groups "$SPMCTL" request --cgroup /jobs/batch1 >/tmp/req.out 2>&1 &
req=$!
for _ in $(seq 100); do "$SPMCTL" grants | grep -q /jobs/batch1 && break; sleep 0.1; done
sed 's/^/  /' /tmp/req.out
mems
run "$SPMCTL" grants

step "nobody's workload binds to node 1 and fills $WL_MIB MiB with checksummed data"
wl() { # wl COMMAND: send the workload a command, print its answer
        local n
        n=$(wc -l </tmp/wl.out)
        echo "$1" >/tmp/wl-in
        for _ in $(seq 1200); do
                [ "$(wc -l </tmp/wl.out)" -gt "$n" ] && { tail -n1 /tmp/wl.out; return 0; }
                sleep 0.1
        done
        echo "the workload did not answer '$1'" >&2
        return 1
}
echo "\$ python3 workload.py 1 $WL_MIB    # in /jobs/batch1 as nobody: set_mempolicy(MPOL_BIND, node 1)"
echo go >/tmp/go
for _ in $(seq 1200); do grep -q filled /tmp/wl.out && break; sleep 0.1; done
sed 's/^/  /' /tmp/wl.out
echo "  where its pages are: $(wl where)"
run "$SPMCTL" grants
run "$SPMCTL" top -n 1

# the ratio at which SHARE of the media is left, with what is on node 1 now
ratio_for() {
        awk -v share="$1" '/MemTotal/ {t=$4} /MemFree/ {f=$4}
                END {printf "%.2f", (t - f) * 1024 / ((1 - share) * 32 * 1048576)}' /sys/devices/system/node/node1/meminfo
}
set_ratio() {
        ratio_for "$1" >"$RATIO.new" && mv "$RATIO.new" "$RATIO"
        echo "\$ echo $(cat "$RATIO") > ratio    # the data compresses worse: $2 of the media left"
}
show_log() { # show_log FROM-LINE: spmd's log lines about node 1 since
        tail -n +"$1" /tmp/spmd.log | grep 'SPM node 1' | sed 's/^/  /'
}

step "Pressure: the data stops compressing, the media runs short (warn), spmd reclaims"
from=$(($(wc -l </tmp/spmd.log) + 1))
set_ratio 0.37 37%
spmd_wait_log 'SPM node 1: reclaim stops' >/dev/null
spmd_wait_log 'SPM node 1: pressure warn -> ok' >/dev/null
show_log "$from"
echo "  where its pages are: $(wl where)    (the rest went to swap, zram)"
run "$SPMCTL" top -n 1

step "Worse still (critical): spmd also moves the workload's pages to node 0 (move_pages)"
from=$(($(wc -l </tmp/spmd.log) + 1))
set_ratio 0.15 15%
spmd_wait_log 'SPM node 1: evacuation stops' >/dev/null
for _ in $(seq 600); do
        "$SPMCTL" --json status | python3 -c '
import json, sys
sys.exit([a for a in json.load(sys.stdin)["NodeActivity"] if a["node"] == 1][0]["level"] != "ok")' && break
        sleep 0.1
done
show_log "$from"
echo "  where its pages are: $(wl where)"
run "$SPMCTL" top -n 1
echo "\$ echo check > workload    # every MiB against its checksum"
echo "  $(wl check)"

step "The client goes: its grant ends, the kernel moves the job's pages off the node"
echo "\$ kill %request"
kill "$req"
wait "$req" 2>/dev/null || true
for _ in $(seq 100); do "$SPMCTL" grants | grep -q /jobs/batch1 || break; sleep 0.1; done
mems
echo "  where its pages are: $(wl where)"
echo "  $(wl check)"
run "$SPMCTL" grants
kill "$mon"
echo "\$ spmctl monitor    # what it printed meanwhile (grants; property changes left out here)"
grep -E '^Grant' /tmp/monitor.out | sed 's/^/  /'
echo exit >/tmp/wl-in
wait "$wl" 2>/dev/null || true
kill "$holder" 2>/dev/null || true

step "spmctl run: a command in a cgroup of its own with a grant for its lifetime (root here: without systemd, only root makes cgroups)"
cat >/tmp/alloc.py <<'PY'
import mmap
buf = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, len(buf), 4096):
    buf[off] = 1
print(open("/proc/self/cgroup").read().strip())
n = sum(int(f[3:]) for l in open("/proc/self/numa_maps") for f in l.split() if f.startswith("N1="))
print("%d pages on node 1 (the 4096-page buffer and the interpreter's own)" % n)
PY
run "$SPMCTL" run --node 1 -- numactl --membind=1 python3 /tmp/alloc.py
echo "  left behind: $("$SPMCTL" grants | tail -n1 | tr -d .), $(find "$CG/spmd-run.slice" -mindepth 1 -type d 2>/dev/null | wc -l) cgroup(s) in /spmd-run.slice"
run "$SPMCTL" status
spmd_stop
vm_private_bus_stop
