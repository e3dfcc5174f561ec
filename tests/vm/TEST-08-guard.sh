# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
# vm-timeout: 400
#
# The BPF-LSM guard keeps privileged tasks from stepping around the cpuset
# wall: root cannot move itself into the root cgroup or a granted one (by
# cgroup.procs or by clone3(CLONE_INTO_CGROUP)), nor into a cgroup made while
# spmd is down; cannot rewrite the wall's cpuset.mems or drop the cpuset
# controller; cannot move a granted workload's pages; cannot remove, rename or
# unmount spmd's pins or take its maps and links by id. A TrustedExecutable=
# can. This script runs as root in the root cgroup and is itself untrusted.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup

scenario_setup() {
        if ! grep -qw bpf /sys/kernel/security/lsm; then
                echo "unavailable: bpf is not in the active LSM list ($(cat /sys/kernel/security/lsm))"
                return 77
        fi
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        # as systemd would: spmd pins its programs there
        mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
        mkdir -p /etc/spmd /tmp/trusted
        cp /usr/bin/tee /tmp/trusted/tee
        cp "$(readlink -f "$(command -v python3)")" /tmp/trusted/python3
        cat >"$CONF" <<'EOF'
[Device]
Name=nv
Match=dax0.0
[Enforcement]
CgroupGuard=yes
TaskMoveMemory=yes
TrustedExecutable=/tmp/trusted/tee
TrustedExecutable=/tmp/trusted/python3
[Grant]
Name=granted
Cgroup=/granted
EOF
        mkdir -p "$CG/work" "$CG/granted"
        cat >/tmp/holder.py <<'PY'
import mmap, os, signal, sys
buf = mmap.mmap(-1, 16 << 20)
for off in range(0, len(buf), 4096):
    buf[off] = 1
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()
PY
}

# CMD as a member of CGROUP, joined by an untrusted shell or through the trusted tee
in_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG$1" "${@:2}"; }
in_cgroup_trusted() { sh -c 'echo $$ | /tmp/trusted/tee "$0/cgroup.procs" >/dev/null && exec "$@"' "$CG$1" "${@:2}"; }

clone_into() { python3 "$VM_SRC/tests/vm/clone_into.py" "$@"; }

node_pages() { grep -o "N$2=[0-9]*" "/proc/$1/numa_maps" | awk -F= '{s += $2} END {print s + 0}'; }

testcase_guard_active() {
        spmd_start "$CONF"
        grep 'Enforcement layer guard: active (BPF-LSM: cgroupfs writes, task_movememory); pinned in /sys/fs/bpf/spmd/guard' /tmp/spmd.log
        grep 'Enforcement layer cpuset: active' /tmp/spmd.log
}

testcase_no_escape_from_the_wall() {
        # into the root cgroup
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/cgroup.procs' 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        spmd_wait_log 'Denied: sh (pid [0-9]*, uid 0) in cgroup /work, writing cgroup.procs of cgroup / (not a trusted executable'
        # into a granted cgroup
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/granted/cgroup.procs' 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        spmd_wait_log 'writing cgroup.procs of cgroup /granted'
        # moving between walled cgroups stays allowed, once spmd has walled the new one
        mkdir -p "$CG/other"
        wait_walled /other
        in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/other/cgroup.procs'
}

testcase_no_clone_into_cgroup() {
        # clone3(CLONE_INTO_CGROUP) with an O_PATH fd: no cgroupfs file is opened for writing
        assert_fails in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG" true >/tmp/out
        grep 'clone3: Operation not permitted' /tmp/out
        spmd_wait_log 'starting a process (clone3 with CLONE_INTO_CGROUP) in cgroup / '
        assert_fails in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG/granted" true >/tmp/out
        grep 'clone3: Operation not permitted' /tmp/out
        spmd_wait_log 'starting a process (clone3 with CLONE_INTO_CGROUP) in cgroup /granted'
        # into a walled cgroup it works, and the child is there
        in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG/other" cat /proc/self/cgroup >/tmp/out
        grep -x '0::/other' /tmp/out
        # a trusted executable may: spmd's guard judges the clone's caller
        in_cgroup /work /tmp/trusted/python3 "$VM_SRC/tests/vm/clone_into.py" "$CG/granted" cat /proc/self/cgroup \
                >/tmp/out
        grep -x '0::/granted' /tmp/out
}

testcase_wall_files_are_locked() {
        assert_fails sh -c "echo 0-1 >$CG/work/cpuset.mems" 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        test "$(cat $CG/work/cpuset.mems)" = 0
        assert_fails sh -c "echo -cpuset >$CG/cgroup.subtree_control" 2>/tmp/err
        grep -qw cpuset "$CG/cgroup.subtree_control"
        spmd_wait_log 'writing cpuset.mems of cgroup /work'
        spmd_wait_log 'writing cgroup.subtree_control of cgroup /'
        # below the wall a delegated subtree still manages itself
        echo +cpuset >"$CG/work/cgroup.subtree_control"
        mkdir -p "$CG/work/child"
        echo 0 >"$CG/work/child/cpuset.mems"
}

testcase_trusted_executable_may() {
        in_cgroup_trusted /granted python3 -c 'print(open("/proc/self/cgroup").read().strip())' | tee /tmp/cg
        grep -x '0::/granted' /tmp/cg
}

testcase_granted_pages_are_not_others_to_move() {
        rm -f /tmp/ready
        # its output goes to a file: a failing check must not leave it holding the test's pipe
        in_cgroup_trusted /granted numactl --membind=1 python3 /tmp/holder.py /tmp/ready >/tmp/holder.log 2>&1 &
        trap 'kill $(cat /tmp/ready 2>/dev/null) 2>/dev/null || true' EXIT
        for _ in $(seq 100); do [ -s /tmp/ready ] && break; sleep 0.1; done
        test -s /tmp/ready
        holder=$(cat /tmp/ready)   # the python process itself
        before=$(node_pages "$holder" 1)
        [ "$before" -ge 4096 ]
        # root in a walled cgroup tries to pull the granted workload's pages off node 1
        # (straight migrate_pages(2): numactl's migratepages already balks at node 1, outside its cpuset)
        in_cgroup /work python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
old, new = ctypes.c_ulong(1 << 1), ctypes.c_ulong(1 << 0)
r = libc.syscall(256, int(sys.argv[1]), 64, ctypes.byref(old), ctypes.byref(new))  # SYS_migrate_pages
print("migrate_pages:", "ok" if r >= 0 else os.strerror(ctypes.get_errno()))
' "$holder" | tee /tmp/mig
        grep 'migrate_pages: Operation not permitted' /tmp/mig
        spmd_wait_log "python3 (pid [0-9]*, uid 0) in cgroup /work, moving the pages of pid $holder, which holds a grant in cgroup /granted"
        [ "$(node_pages "$holder" 1)" -ge "$before" ]
        kill "$holder"
        wait 2>/dev/null || true
        trap - EXIT
}

guard_links() { ls /sys/fs/bpf/spmd/guard | grep -c '^link_'; }
guard_progs() { bpftool prog list | grep -c 'name guard_' || true; }
# Programs are freed after an RCU grace period: wait up to 10 s for the count.
wait_guard_progs() { for _ in $(seq 100); do [ "$(guard_progs)" = "$1" ] && return 0; sleep 0.1; done; guard_progs; return 1; }

testcase_guard_outlives_spmd() {
        spmd_stop
        grep 'Denied:' /tmp/spmd.log
        [ "$(grep -c 'Denied:' /tmp/spmd.log)" -ge 5 ]
        grep 'PersistAfterExit=yes: the BPF programs pinned under /sys/fs/bpf/spmd stay attached' /tmp/spmd.log
        ls -l /sys/fs/bpf/spmd/guard
        [ "$(guard_links)" = 7 ]
        # only root may touch the pins
        [ "$(stat -c %a /sys/fs/bpf/spmd/guard)" = 700 ]
        [ "$(stat -c %a /sys/fs/bpf/spmd/guard/granted_cgroups)" = 600 ]
        # spmd is gone; the guard is not
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/granted/cgroup.procs' 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        assert_fails in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG" true >/tmp/out
        grep 'clone3: Operation not permitted' /tmp/out
}

testcase_cgroup_made_while_down_is_no_way_in() {
        # spmd is down: nothing walls a new top-level cgroup, and node 1 reaches it
        mkdir "$CG/fresh"
        grep -q 1 "$CG/fresh/cpuset.mems.effective"
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/fresh/cgroup.procs' 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        assert_fails in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG/fresh" true >/tmp/out
        grep 'clone3: Operation not permitted' /tmp/out
        # nor can its wall be written by an untrusted task, nor its parent's controller dropped
        assert_fails sh -c "echo 0-1 >$CG/fresh/cpuset.mems" 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        # a trusted mover may fill it (what it places there is walled when spmd returns)
        in_cgroup_trusted /fresh cat /proc/self/cgroup | tee /tmp/out
        grep -x '0::/fresh' /tmp/out
}

testcase_pins_cannot_be_removed() {
        local ids id
        # (the order matters to testcase 11: spmd logs 10 denials a second and counts the rest)
        assert_fails umount /sys/fs/bpf
        assert_fails umount -l /sys/fs/bpf
        mountpoint -q /sys/fs/bpf
        assert_fails rm -rf /sys/fs/bpf/spmd 2>/tmp/err
        cat /tmp/err
        test -e /sys/fs/bpf/spmd/guard/granted_cgroups
        [ "$(guard_links)" = 7 ]
        assert_fails mv /sys/fs/bpf/spmd /sys/fs/bpf/elsewhere
        test -d /sys/fs/bpf/spmd/guard
        # spmd's maps cannot be opened writable, by their pins or by id; its programs stay visible
        assert_fails bpftool map update pinned /sys/fs/bpf/spmd/guard/granted_cgroups \
                key hex 01 00 00 00 00 00 00 00 value hex 01 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        ids=$(bpftool -j prog show name guard_file_open | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
print(" ".join(str(i) for i in d["map_ids"]))')
        [ -n "$ids" ]
        for id in $ids; do
                assert_fails bpftool map update id "$id" key hex 01 00 00 00 00 00 00 00 value hex 01 2>/tmp/err
                grep "get map by id ($id): Operation not permitted" /tmp/err
        done
        [ "$(guard_progs)" = 7 ]
        # the guard still works: nothing above switched it off
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/granted/cgroup.procs'
}

testcase_kill9_then_readopt_without_gap() {
        spmd_start "$CONF"
        grep 'Enforcement layer guard: active .*; re-adopted the pins in /sys/fs/bpf/spmd/guard' /tmp/spmd.log
        # the attempt made while spmd was down was queued in the pinned ring buffer: logged now
        spmd_wait_log 'Denied: sh (pid [0-9]*, uid 0) in cgroup /work, writing cgroup.procs of cgroup /granted'
        # the cgroup made while spmd was down is walled now, and open to moves between walled cgroups
        wait_walled /fresh
        in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/fresh/cgroup.procs'
        # the pins' removal attempts made while spmd was down were queued and are logged now
        spmd_wait_log "Denied: umount (pid [0-9]*, uid 0) in cgroup [^ ]*, unmounting the bpffs of spmd's BPF pins" 2
        spmd_wait_log "Denied: rm (pid [0-9]*, uid 0) in cgroup [^ ]*, removing, adding or opening for writing spmd's BPF pins"
        kill -9 "$(cat /tmp/spmd.pid)"
        sleep 0.3
        assert_fails in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/cgroup.procs' 2>/tmp/err
        grep 'Operation not permitted' /tmp/err
        assert_fails in_cgroup /work python3 "$VM_SRC/tests/vm/clone_into.py" "$CG/granted" true >/tmp/out
        grep 'clone3: Operation not permitted' /tmp/out
        assert_fails rm -rf /sys/fs/bpf/spmd
        spmd_start "$CONF"
        grep 're-adopted the pins in /sys/fs/bpf/spmd/guard' /tmp/spmd.log
        spmd_wait_log 'Denied: sh (pid [0-9]*, uid 0) in cgroup /work, writing cgroup.procs of cgroup / '
        # the dead spmd's links were replaced, not added to: seven programs attached, not fourteen
        [ "$(guard_links)" = 7 ]
        wait_guard_progs 7
        bpftool prog list | grep 'name guard_'
        spmd_stop
}

testcase_detach_bpf_ends_it() {
        # on purpose, through spmd's own executable, and said so
        "$SPMCTL" -c "$CONF" detach-bpf 2>&1 | tee /tmp/detach.txt
        grep '/sys/fs/bpf/spmd/guard: removed' /tmp/detach.txt
        grep "Detaching spmd's BPF enforcement on request: uid 0" /tmp/detach.txt
        wait_guard_progs 0
        in_cgroup /work sh -c 'echo $$ >/sys/fs/cgroup/granted/cgroup.procs'
}

testcase_upgraded_spmd_readopts() {
        # spmd installed where meson puts it, while the spmd of the build tree runs: an upgrade that
        # brings a new executable; the running spmd trusts the file installed as it stops
        # (the pins were detached by the testcase before: this spmd makes them anew)
        local exe
        exe=$(strings "$SPMD" | grep -m1 '/libexec/spmd$')
        spmd_start "$CONF"
        mkdir -p "$(dirname "$exe")"
        cp "$SPMD" "$exe"
        spmd_stop
        SPMD=$exe spmd_start "$CONF"
        grep 'Enforcement layer guard: active .*; re-adopted the pins in /sys/fs/bpf/spmd/guard' /tmp/spmd.log
        # and a package upgrade replacing that file (a new inode, as dpkg leaves it) while it runs
        cp "$SPMD" "$exe.new"
        mv "$exe.new" "$exe"
        spmd_stop
        SPMD=$exe spmd_start "$CONF"
        grep 'Enforcement layer guard: active .*; re-adopted the pins in /sys/fs/bpf/spmd/guard' /tmp/spmd.log
        spmd_stop
        # what spmctl detach-bpf runs on an installed system: the installed spmd
        "$exe" -c "$CONF" --detach-bpf
        wait_guard_progs 0
        rm -f "$exe"
}
