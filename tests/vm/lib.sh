# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for scenarios, sourced inside the guest. A scenario defines
# testcase_* functions (run in file order, each in a subshell with set -eux)
# and optionally scenario_setup (the firmware-like preparation; if it fails,
# every testcase fails with its output). A testcase may call
#   skip "reason"        - the feature is unavailable here (counted as skipped)
# Environment: VM_SRC, VM_BUILD, VM_SERIES, VM_KERNEL_DIR, VM_TOPOLOGY.

SPMD=${VM_BUILD:-}/daemon/core/spmd
SPMCTL=${VM_BUILD:-}/spmctl/spmctl

# The system bus of the scenarios that talk to spmd over D-Bus: a real dbus-daemon with spmd's
# bus policy, started by vm_private_bus (busybox init starts none). Without it spmd reports
# its broker unavailable. A guest booted with systemd ("# vm-init: systemd") has the real one.
VM_BUSDIR=/tmp/bus
[ "${VM_INIT:-}" = systemd ] || export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$VM_BUSDIR/system_bus_socket
vm_private_bus() {
        "$VM_SRC/tests/dbus/private-bus" "$VM_BUSDIR" "$VM_SRC/config/org.spmd1.conf" >/dev/null
}
vm_private_bus_stop() {
        kill "$(cat "$VM_BUSDIR/pid")"
}

skip() {
        echo "SKIP: $*" >&2
        echo "$*" >"${VM_SKIP_FILE:-/dev/null}"
        exit 77
}

# Load a guest kernel module (the guest's /lib/modules is the cached image's).
vm_modprobe() {
        modprobe "$@"
}

kernel_at_least() { # kernel_at_least 6 3
        local maj min
        IFS=. read -r maj min _ <<<"$(uname -r)"
        [ "$maj" -gt "$1" ] || { [ "$maj" -eq "$1" ] && [ "$min" -ge "$2" ]; }
}

# Write VALUE to a sysfs PATH; on failure say which file refused which value
# and the kernel's reason (bash alone prints only "write error: ...").
sysfs_write() { # sysfs_write VALUE PATH
        local err
        if ! err=$({ printf '%s\n' "$1" >"$2"; } 2>&1); then
                echo "cannot write '$1' to $2: ${err##*: }" >&2
                return 1
        fi
}

# The CXL drivers, as a distribution would load them at boot.
vm_cxl_load() {
        vm_modprobe -a cxl_acpi cxl_pci cxl_mem cxl_port 2>/dev/null || vm_modprobe -a cxl_acpi cxl_pci cxl_mem
        vm_modprobe -a dax_cxl 2>/dev/null || true
        vm_modprobe -a kmem device_dax
        # cxl_pci probes asynchronously
        for _ in $(seq 50); do
                [ -n "$(ls /sys/bus/cxl/devices 2>/dev/null | grep '^mem')" ] && return 0
                sleep 0.1
        done
        echo "no CXL memdev appeared under /sys/bus/cxl/devices" >&2
        return 1
}

# Commit a volatile (RAM) region on the first memdev and bind it, as firmware
# or an administrator would: through the kernel's sysfs ABI, because
# bookworm's cxl create-region (ndctl 76) cannot create RAM regions.
# Prints the region name. Needs kernel >= 6.3.
vm_cxl_create_ram_region() {
        local size=${1:-} root=/sys/bus/cxl/devices/decoder0.0 ep region mem dpa
        [ -e "$root/create_ram_region" ] ||
                { echo "unavailable: $root/create_ram_region missing (CXL RAM regions need kernel >= 6.3)" >&2; return 77; }
        mem=$(ls /sys/bus/cxl/devices | grep -m1 '^mem')
        # the memdev's endpoint decoder: endpointN/decoderN.0 whose memdev is ours
        ep=$(for d in /sys/bus/cxl/devices/endpoint*/; do
                [ "$(basename "$(readlink -f "$d/uport")")" = "$mem" ] && ls -d "$d"decoder*.0 && break
        done | head -n1)
        ep=$(basename "$ep")
        [ -n "$ep" ] || { echo "no endpoint decoder for $mem" >&2; return 1; }
        [ -n "$size" ] || size=$(cat "/sys/bus/cxl/devices/$mem/ram/size")
        region=$(cat "$root/create_ram_region")
        sysfs_write "$region" "$root/create_ram_region"
        local r=/sys/bus/cxl/devices/$region e=/sys/bus/cxl/devices/$ep
        sysfs_write 1 "$r/interleave_ways"
        sysfs_write 256 "$r/interleave_granularity"
        sysfs_write ram "$e/mode"
        sysfs_write "$((size))" "$e/dpa_size"
        sysfs_write "$((size))" "$r/size"
        sysfs_write "$ep" "$r/target0"
        sysfs_write 1 "$r/commit"
        sysfs_write "$region" /sys/bus/cxl/drivers/cxl_region/bind
        # the dax device shows up asynchronously
        for _ in $(seq 50); do
                ls -d /sys/bus/cxl/devices/"$region"/dax_region* >/dev/null 2>&1 && break
                sleep 0.1
        done
        echo "$region"
}

# NVDIMM -> devdax namespace (works on 6.1 as well). Prints the dax device.
vm_nvdimm_create_devdax() {
        vm_modprobe -a nfit nd_pmem dax_pmem device_dax kmem
        for _ in $(seq 50); do
                [ -e /sys/bus/nd/devices/region0 ] && break
                sleep 0.1
        done
        ndctl create-namespace -f -e namespace0.0 -m devdax >/dev/null
        for _ in $(seq 50); do
                ls /sys/bus/dax/devices 2>/dev/null | grep -q '^dax' && break
                sleep 0.1
        done
        daxctl list | sed -n 's/.*"chardev":"\(dax[0-9.]*\)".*/\1/p' | head -n1
}

# A testcase that fails between spmd_start and spmd_stop leaves its spmd running, holding the
# host lock. Later testcases may use that spmd on purpose (TEST-14's stop_gives_damon_back), so
# it stays; the next spmd_start stops it, so that the failure is reported once and not again by
# every testcase that starts its own.
vm_note_leftover_spmd() {
        local pid
        pid=$(cat /tmp/spmd.pid 2>/dev/null) || return 0
        kill -0 "$pid" 2>/dev/null || return 0
        echo "$pid" >/tmp/spmd.left-by-failure
        echo "# spmd (pid $pid) still runs after the failed testcase; the next spmd_start stops it"
}

vm_run_scenario() {
        local scenario=$1 n=0 passed=0 failed=0 skipped=0 f rc log
        local start=$SECONDS setup_failed=""
        # shellcheck source=/dev/null
        . "$scenario"
        echo "# $(basename "$scenario") on $(uname -r), topology ${VM_TOPOLOGY:-?}"
        export VM_SKIP_FILE=/tmp/vm-skip
        if declare -F scenario_setup >/dev/null; then
                log=$( (set -eux; scenario_setup) 2>&1 )
                rc=$?
                if [ "$rc" -ne 0 ]; then
                        setup_failed=$log
                        [ "$rc" -eq 77 ] && setup_failed="SKIP:$(echo "$log" | grep -v '^+' | grep -m1 'unavailable' || echo "$log" | tail -n1)"
                fi
        fi
        # in the order the scenario file defines them
        for f in $(sed -n 's/^\(testcase_[A-Za-z0-9_]*\) *() *{.*/\1/p' "$scenario"); do
                n=$((n + 1))
                if [ -n "$setup_failed" ]; then
                        if [ "${setup_failed#SKIP:}" != "$setup_failed" ]; then
                                echo "ok $n - $f # SKIP ${setup_failed#SKIP:}"
                                skipped=$((skipped + 1))
                        else
                                echo "not ok $n - $f (scenario_setup failed)"
                                echo "$setup_failed" | sed 's/^/# /'
                                failed=$((failed + 1))
                        fi
                        continue
                fi
                rm -f "$VM_SKIP_FILE"
                log=$( (set -eux; "$f") 2>&1 )
                rc=$?
                if [ "$rc" -eq 0 ]; then
                        echo "ok $n - $f"
                        passed=$((passed + 1))
                elif [ "$rc" -eq 77 ]; then
                        echo "ok $n - $f # SKIP $(cat "$VM_SKIP_FILE" 2>/dev/null)"
                        skipped=$((skipped + 1))
                else
                        echo "not ok $n - $f (exit $rc)"
                        echo "$log" | tail -n 60 | sed 's/^/# /'
                        failed=$((failed + 1))
                        vm_note_leftover_spmd
                        # last: what a CI log keeps of a run is its end
                        [ -s /tmp/spmd.log ] && { echo "# the spmd log's last lines:"
                                                  tail -n 40 /tmp/spmd.log | sed 's/^/#   /'; }
                fi
                [ -n "${VM_VERBOSE:-}" ] && echo "$log" | sed 's/^/#   /'
        done
        echo "1..$n"
        echo "# $((SECONDS - start)) s in the guest"
        echo "$passed passed, $failed failed, $skipped skipped"
        [ "$failed" -eq 0 ] || return 1
        [ "$passed" -gt 0 ] || return 77
        return 0
}

# spmd as a background daemon for scenarios. Logs go to /tmp/spmd.log.
spmd_start() { # spmd_start CONFIG [SPMD-ARGS...]
        local left
        if left=$(cat /tmp/spmd.left-by-failure 2>/dev/null); then
                rm -f /tmp/spmd.left-by-failure
                if kill -0 "$left" 2>/dev/null; then
                        echo "stopping spmd (pid $left), left running by an earlier failed testcase"
                        kill -TERM "$left"
                        for _ in $(seq 300); do kill -0 "$left" 2>/dev/null || break; sleep 0.1; done
                fi
        fi
        : >/tmp/spmd.log
        "$SPMD" --config "$@" >>/tmp/spmd.log 2>&1 &
        echo $! >/tmp/spmd.pid
        spmd_wait_log "running with" 1
}

# Wait until the log holds at least N lines matching PATTERN (default 1).
spmd_wait_log() { # spmd_wait_log PATTERN [N]
        for _ in $(seq 600); do
                [ "$(grep -c -- "$1" /tmp/spmd.log)" -ge "${2:-1}" ] && return 0
                kill -0 "$(cat /tmp/spmd.pid)" 2>/dev/null || { echo "spmd died:"; cat /tmp/spmd.log; return 1; }
                sleep 0.1
        done
        echo "timed out waiting for '$1' in the spmd log:"
        cat /tmp/spmd.log
        return 1
}

spmd_log_count() { # spmd_log_count PATTERN: lines of the spmd log matching PATTERN so far
        grep -c -- "$1" /tmp/spmd.log || true
}

spmd_reload() {
        local n
        n=$(grep -c "Configuration reloaded\|Reload failed" /tmp/spmd.log || true)
        kill -HUP "$(cat /tmp/spmd.pid)"
        spmd_wait_log "Configuration reloaded\|Reload failed" $((n + 1))
}

# Wait until cgroup PATH (relative to /sys/fs/cgroup) no longer reaches NODE (default 1):
# spmd walls a new cgroup within milliseconds, and until then the guard keeps untrusted tasks out.
wait_walled() { # wait_walled PATH [NODE]
        local f=/sys/fs/cgroup$1/cpuset.mems.effective
        for _ in $(seq 100); do
                python3 - "$f" "${2:-1}" <<'PY' && return 0
import sys
nodes = set()
for part in open(sys.argv[1]).read().strip().split(","):
    if part:
        a, _, b = part.partition("-")
        nodes.update(range(int(a), int(b or a) + 1))
sys.exit(int(sys.argv[2]) in nodes)
PY
                sleep 0.1
        done
        echo "$1 still reaches node ${2:-1}: $(cat "$f")"
        return 1
}

# Fail unless CMD fails (a negated command that set -e cannot ignore).
assert_fails() { # assert_fails CMD...
        if "$@"; then
                echo "expected to fail: $*"
                return 1
        fi
}

spmd_stop() {
        local pid
        pid=$(cat /tmp/spmd.pid)
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        grep -q "spmd stopped" /tmp/spmd.log
}

# Every memory block of dax device $1 is online (and there is at least one).
dax_all_online() {
        daxctl list -d "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
sys.exit(0 if d.get("online_memblocks", 0) > 0 and d["online_memblocks"] == d["total_memblocks"] else 1)'
}
