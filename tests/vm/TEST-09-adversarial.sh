# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
# vm-disk: 1G
# vm-timeout: 420
#
# Every route we know to get memory onto an SPM node, from a cgroup without a
# grant (as root): each must leave zero pages there; the same routes from a
# granted cgroup must reach it. Prints a table: route, what the kernel said,
# what blocked it, pages on the node. The privileged escapes around the wall
# (moving to the root cgroup, rewriting cpuset.mems) are TEST-08's.
# Residual, documented: page cache is shared. File pages a granted process
# read onto the SPM node stay there, and a walled process that maps the same
# file uses them; it never allocates new pages there (testcase 3 shows both).
# DRAM exhausted: the walled cgroup writes more than node 0 holds into tmpfs
# (zram swap takes the overflow, so no OOM) and then allocates anonymous
# memory, then reads a 384 MiB file from an ext4 filesystem on a virtio
# disk (the scenario's own block device: real page cache, read under DRAM
# pressure); neither the anonymous memory nor the page cache spills onto
# node 1 (testcase 3).
# The ways around the wall, as root from a walled cgroup against the real
# BPF-LSM guard (testcases 5, 6 and 8): clone3(CLONE_INTO_CGROUP) and cgroup.procs
# into the root and the granted cgroup, while spmd runs and after kill -9,
# and into a cgroup made while spmd is down: refused, the routes never run
# there, 0 pages. A trusted mover's workload placed while spmd is down leaves
# the node when spmd is back (the time is printed); granted tasks still get
# through. The kernel's own demotion, which ignores cpuset.mems, moves a
# walled process's pages onto node 1 when it is on; spmd keeps it off
# (testcase 7).

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup
ROUTES="$VM_SRC/tests/vm/routes.py"

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        # the memory controller counts each cgroup's page cache per node (testcase 3)
        echo +memory >"$CG/cgroup.subtree_control"
        mkdir -p /etc/spmd /tmp/trusted "$CG/work" "$CG/granted" "$CG/other"
        cp /usr/bin/tee /tmp/trusted/tee
        printf '[Device]\nName=nv\nMatch=dax0.0\n[Grant]\nCgroup=/granted\n[Enforcement]\nTrustedExecutable=/tmp/trusted/tee\n' >"$CONF"
}

in_cgroup() { sh -c 'echo $$ | /tmp/trusted/tee "$0/cgroup.procs" >/dev/null && exec "$@"' "$CG$1" "${@:2}"; }

testcase_walled_routes_leak_nothing() {
        spmd_start "$CONF"
        grep 'dax0.0: online as movable system RAM on node 1' /tmp/spmd.log
        in_cgroup /work python3 "$ROUTES" 1 >/tmp/walled.txt
        printf '%-36s %-26s %-34s %s\n' ROUTE KERNEL BLOCKED-BY PAGES-ON-NODE1
        n=0
        while read -r _ name res pages; do
                n=$((n + 1))
                case "$res" in
                ok) by="cpuset (policy cut to allowed nodes)" ;;
                *) by="cpuset (kernel refused)" ;;
                esac
                printf '%-36s %-26s %-34s %s\n' "$name" "$res" "$by" "$pages"
                [ "$pages" = 0 ] || { echo "LEAK: $name put $pages pages on node 1"; return 1; }
        done </tmp/walled.txt
        [ "$n" -ge 11 ]
        # and the observer saw the calls that named node 1
        sleep 0.5
        grep -c 'Violation: python3 .* in cgroup /work' /tmp/spmd.log
        [ "$(grep -c 'Violation: python3 .* in cgroup /work' /tmp/spmd.log)" -ge 8 ]
}

testcase_granted_routes_reach_the_node() {
        in_cgroup /granted python3 "$ROUTES" 1 >/tmp/granted.txt
        cat /tmp/granted.txt
        while read -r _ name res pages; do
                if [ "$name" = set_mempolicy_weighted_interleave ] && ! kernel_at_least 6 9; then
                        echo "$name: not in kernel $(uname -r) (6.9+), $res"
                        continue
                fi
                [ "$res" = ok ] || { echo "FAIL: $name from a granted cgroup: $res"; return 1; }
                [ "$pages" -gt 0 ] || { echo "FAIL: $name from a granted cgroup put no page on node 1"; return 1; }
        done </tmp/granted.txt
        ! grep 'Violation: .* in cgroup /granted' /tmp/spmd.log
}

node_kb() { # node_kb NODE KEY: a field of the node's meminfo, KiB
        awk -v k="$2:" '$3 == k {print $4}' "/sys/devices/system/node/node$1/meminfo"
}

file_mib=384

work_file() { # work_file NODE: the walled cgroup's file pages (page cache and shmem) on NODE, bytes
        awk -v n="N$1=" '$1 == "file" { for (i = 2; i <= NF; i++) if (index($i, n) == 1) print substr($i, length(n) + 1) }' \
                "$CG/work/memory.numa_stat"
}

testcase_dram_exhausted_no_spill() {
        # a real filesystem on a block device, with a file larger than what DRAM will have free,
        # written and then dropped from the page cache, so that reading it needs new page cache
        echo "the walled cgroup's file pages on node 1 at the start: $(work_file 1) bytes"
        grep -E '^(anon|file|shmem|file_mapped) ' "$CG/work/memory.numa_stat"
        vm_modprobe virtio_blk
        vm_modprobe ext4
        for _ in $(seq 50); do [ -b "$VM_DISK" ] && break; sleep 0.1; done
        mkfs.ext4 -q -F "$VM_DISK"
        mkdir -p /mnt/disk
        mount -t ext4 "$VM_DISK" /mnt/disk
        in_cgroup /work dd if=/dev/zero of=/mnt/disk/big bs=1M count=$file_mib conv=fsync 2>/dev/null
        sync
        echo 3 >/proc/sys/vm/drop_caches
        # swap for the overflow: tmpfs pages of zeros, which zram keeps in next to nothing
        vm_modprobe zram
        echo 4G >/sys/block/zram0/disksize
        mkswap /dev/zram0 >/dev/null
        swapon /dev/zram0
        mkdir -p /tmp/spmd-fill
        mount -t tmpfs -o size=6G spmd-fill /tmp/spmd-fill
        trap 'rm -f /tmp/spmd-fill/f; umount /tmp/spmd-fill; swapoff /dev/zram0; umount /mnt/disk' EXIT # the testcase's subshell
        shm1=$(node_kb 1 Shmem)
        file1=$(node_kb 1 FilePages)
        used1=$(( $(node_kb 1 MemTotal) - $(node_kb 1 MemFree) ))
        mib=$(( $(node_kb 0 MemTotal) / 1024 + 256 ))
        in_cgroup /work dd if=/dev/zero of=/tmp/spmd-fill/f bs=1M count="$mib" 2>/tmp/dd.err
        tail -n1 /tmp/dd.err
        echo "node 0: $(node_kb 0 MemFree) KiB free of $(node_kb 0 MemTotal) after $mib MiB written;" \
                "swap used: $(( $(awk '/SwapTotal/ {print $2}' /proc/meminfo) - $(awk '/SwapFree/ {print $2}' /proc/meminfo) )) KiB"
        # DRAM still full (the file holds it): an anonymous allocation from the walled cgroup
        anon=$(in_cgroup /work python3 -c '
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
buf = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, len(buf), 4096):
    buf[off] = 1
n = len(buf) // 4096
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
pages = (ctypes.c_void_p * n)(*[base + i * 4096 for i in range(n)])
status = (ctypes.c_int * n)()
libc.syscall(279, 0, n, pages, None, status, 0)
print(sum(1 for s in status if s == 1))')
        echo "walled: $anon anonymous page(s) on node 1; node 1 Shmem $shm1 -> $(node_kb 1 Shmem) KiB," \
                "in use $used1 -> $(( $(node_kb 1 MemTotal) - $(node_kb 1 MemFree) )) KiB"
        [ "$anon" = 0 ]
        [ "$(node_kb 1 Shmem)" -le "$shm1" ]
        # the file went somewhere: DRAM and swap, not node 1
        [ "$(stat -c %s /tmp/spmd-fill/f)" -eq $((mib << 20)) ]
        # DRAM still full: page cache for a file read from the walled cgroup (readahead included)
        read0=$(( $(node_kb 0 FilePages) ))
        before1=$(work_file 1)
        in_cgroup /work dd if=/mnt/disk/big of=/dev/null bs=1M 2>/tmp/dd.err
        tail -n1 /tmp/dd.err
        echo "page cache: node 0 $read0 -> $(node_kb 0 FilePages) KiB, node 1 $file1 -> $(node_kb 1 FilePages) KiB;" \
                "the walled cgroup's file pages on node 0 $(work_file 0), on node 1 $before1 -> $(work_file 1) bytes;" \
                "node 0 free $(node_kb 0 MemFree) KiB"
        # the cgroup's own count (node 1's FilePages also holds what tasks outside the wall, in the
        # root cgroup, may put there when DRAM is this full: shown above, not asserted)
        [ "$(work_file 1)" -le "$before1" ]
        # and it was read through the page cache, in DRAM: the walled cgroup holds some of it there
        [ "$(work_file 0)" -gt $((16 << 20)) ]
}

# start_holder CGROUP MIB [NODE]: a process placed in CGROUP by the trusted mover that touches MIB of
# anonymous memory (bound to NODE if given) and waits; its pid in /tmp/ready, killed when the
# testcase's subshell exits
start_holder() {
        rm -f /tmp/ready
        in_cgroup "$1" python3 -c '
import ctypes, mmap, os, signal, sys
if len(sys.argv) > 2:   # set_mempolicy(MPOL_BIND, {NODE})
    mask = ctypes.c_ulong(1 << int(sys.argv[2]))
    assert ctypes.CDLL(None, use_errno=True).syscall(238, 2, ctypes.byref(mask), 64) == 0
buf = mmap.mmap(-1, int(sys.argv[1]) << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, len(buf), 4096):
    buf[off] = 1
open("/tmp/ready.tmp", "w").write(str(os.getpid()))
os.rename("/tmp/ready.tmp", "/tmp/ready")
signal.pause()
' "${@:2}" >/dev/null 2>&1 &
        trap 'kill $(cat /tmp/ready 2>/dev/null) 2>/dev/null || true' EXIT
        for _ in $(seq 100); do [ -s /tmp/ready ] && break; sleep 0.1; done
        test -s /tmp/ready
}

testcase_root_on_another_walled_process() {
        start_holder /other 4
        victim=$(cat /tmp/ready)
        in_cgroup /work python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
old, new = ctypes.c_ulong(1), ctypes.c_ulong(2)
r = libc.syscall(256, pid, 64, ctypes.byref(old), ctypes.byref(new))
print("migrate_pages on pid %d: %s" % (pid, "ok" if r >= 0 else os.strerror(ctypes.get_errno())))
' "$victim"
        # anonymous pages only: file pages in the page cache are shared, and the granted
        # cgroup's python (testcase 2) may have read some of the same files onto node 1
        on1=$(grep -v 'file=' "/proc/$victim/numa_maps" | grep -o 'N1=[0-9]*' | awk -F= '{s += $2} END {print s + 0}')
        shared=$(grep 'file=' "/proc/$victim/numa_maps" | grep -o 'N1=[0-9]*' | awk -F= '{s += $2} END {print s + 0}')
        echo "victim's anonymous pages on node 1: $on1; page-cache pages it maps there (shared, read by others): $shared"
        [ "$on1" = 0 ]
        kill "$victim"
        trap - EXIT
        spmd_stop
}

# ---- the ways around the wall, as root, against the real guard ----

in_cgroup_untrusted() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG$1" "${@:2}"; }
CLONE="$VM_SRC/tests/vm/clone_into.py"

# ROUTES-OUTPUT-FILE: every route left 0 pages on node 1 (a file that is empty: nothing ran)
no_pages() {
        local n=0
        while read -r _ name _ pages; do
                n=$((n + 1))
                [ "$pages" = 0 ] || { echo "LEAK: $name put $pages pages on node 1"; return 1; }
        done <"$1"
        echo "$n route(s) ran, 0 pages on node 1"
}

escapes() { # escapes TAG: every way from /work into a cgroup node 1 reaches, then the routes
        local cg out
        for cg in "" /granted; do
                out=/tmp/esc-$1${cg//\//-}
                (! in_cgroup_untrusted /work python3 "$CLONE" "$CG$cg" python3 "$ROUTES" 1 >"$out-clone.txt")
                grep -q 'clone3: Operation not permitted' "$out-clone.txt"
                (! grep -v '^clone3' "$out-clone.txt")
                (! in_cgroup_untrusted /work sh -c "echo \$\$ >$CG$cg/cgroup.procs && exec python3 $ROUTES 1" \
                        >"$out-procs.txt" 2>/dev/null)
                no_pages "$out-procs.txt"
        done
        echo "$1: clone3 and cgroup.procs into / and /granted refused; nothing ran there"
}

testcase_escapes_refused_while_spmd_runs_and_after_kill9() {
        spmd_start "$CONF"
        grep -q 'Enforcement layer guard: active' /tmp/spmd.log ||
                skip "unavailable: $(grep -o 'Enforcement layer guard: unavailable: .*' /tmp/spmd.log)"
        escapes running
        # a cgroup made a moment ago: refused until spmd has walled it, then the routes find the wall
        mkdir "$CG/new1"
        in_cgroup_untrusted /work sh -c 'echo $$ >/sys/fs/cgroup/new1/cgroup.procs && exec python3 "$0" 1' \
                "$ROUTES" >/tmp/new1.txt 2>/dev/null || echo "new1: refused before its wall"
        no_pages /tmp/new1.txt
        kill -9 "$(cat /tmp/spmd.pid)"
        sleep 0.3
        escapes killed
        # while spmd is down a new top-level cgroup reaches node 1: an untrusted task cannot get in
        mkdir "$CG/down"
        grep -q 1 "$CG/down/cpuset.mems.effective"
        (! in_cgroup_untrusted /work python3 "$CLONE" "$CG/down" python3 "$ROUTES" 1 >/tmp/down-clone.txt)
        grep -q 'clone3: Operation not permitted' /tmp/down-clone.txt
        (! in_cgroup_untrusted /work sh -c 'echo $$ >/sys/fs/cgroup/down/cgroup.procs && exec python3 "$0" 1' \
                "$ROUTES" >/tmp/down-procs.txt 2>/dev/null)
        no_pages /tmp/down-procs.txt
}

testcase_trusted_placement_while_down_is_walled_on_return() {
        # a trusted mover (the container runtime's part) starts a workload in /down while spmd is down;
        # node 1 reaches /down, and the workload binds its memory there
        start_holder /down 16 1
        pid=$(cat /tmp/ready)
        pages() { grep -o 'N1=[0-9]*' "/proc/$pid/numa_maps" | awk -F= '{s += $2} END {print s + 0}'; }
        before=$(pages)
        echo "while spmd is down: $before page(s) of the trusted workload on node 1"
        [ "$before" -ge 4096 ]
        t0=$(date +%s%N)
        spmd_start "$CONF"
        for _ in $(seq 300); do [ "$(pages)" = 0 ] && break; sleep 0.1; done
        t1=$(date +%s%N)
        echo "spmd back: /down walled, the workload's pages left node 1 $(( (t1 - t0) / 1000000 )) ms after spmd started" \
                "(guest clock, TCG), $(pages) left"
        [ "$(pages)" = 0 ]
        test "$(cat "$CG/down/cpuset.mems.effective")" = 0
        kill "$pid"
        trap - EXIT
}

testcase_kernel_demotion_kept_off() {
        # The kernel's own demotion ignores cpuset.mems (demote_folio_list()): with demotion_enabled,
        # reclaim of a walled cgroup moves its pages onto node 1, which dax kmem put a memory tier
        # below node 0. Shown with KernelDemotion=yes, which leaves the kernel's setting alone; then
        # spmd (KernelDemotion=no, the default) turns it off, and off again when something turns it on.
        demoted() { # a walled process's 64 MiB of anonymous memory, reclaimed from its cgroup: its pages
                    # on node 1 (of that buffer only: file pages a granted process read onto node 1 are
                    # shared, the residual testcase 3 shows)
                rm -f /tmp/anon.out
                ( in_cgroup /work python3 -c 'import ctypes, mmap, os, sys, time
b = mmap.mmap(-1, 64 << 20)
for o in range(0, len(b), 4096):
    b[o] = 1
print(os.getpid(), "%x" % ctypes.addressof(ctypes.c_char.from_buffer(b)), flush=True)
time.sleep(600)' >/tmp/anon.out & )
                for _ in $(seq 100); do [ -s /tmp/anon.out ] && break; sleep 0.1; done
                read -r pid addr </tmp/anon.out
                echo 48M >"$CG/work/memory.reclaim" 2>/dev/null || true  # EAGAIN: less was reclaimable
                n=$(awk -v a="$addr" '$1 == a { for (i = 2; i <= NF; i++) if ($i ~ /^N1=/) { split($i, kv, "="); s += kv[2] } }
                        END { print s + 0 }' "/proc/$pid/numa_maps")
                kill "$pid"
                echo "$n"
        }
        printf 'KernelDemotion=yes\n' >>"$CONF"   # [Enforcement] is the file's last section
        # the reload first: turned on before it, the once-a-second check could still find the old
        # KernelDemotion=no in force and turn it off again (a CI run saw that on 6.1)
        spmd_reload
        echo true >/sys/kernel/mm/numa/demotion_enabled
        spmd_wait_log 'SPM node 1 is in a lower memory tier: reclaim can demote any cgroup.s pages onto it, as the kernel ignores cpuset.mems when it demotes; left so by KernelDemotion=yes'
        n=$(demoted)
        echo "demotion on: $n page(s) of a walled process demoted onto node 1 ($(uname -r))"
        [ "$n" -gt 0 ]

        sed -i '/^KernelDemotion=/d' "$CONF"
        spmd_reload
        spmd_wait_log "Turned the kernel's demotion off (/sys/kernel/mm/numa/demotion_enabled=false): SPM node 1 is in a lower memory tier"
        [ "$(cat /sys/kernel/mm/numa/demotion_enabled)" = false ]
        n=$(demoted)
        echo "demotion kept off by spmd: $n page(s) on node 1"
        [ "$n" = 0 ]
        # turned on behind spmd's back: off again within a second's sample
        echo true >/sys/kernel/mm/numa/demotion_enabled
        spmd_wait_log "Turned the kernel's demotion off (/sys/kernel/mm/numa/demotion_enabled=false) again: something turned it on"
        [ "$(cat /sys/kernel/mm/numa/demotion_enabled)" = false ]
}

testcase_granted_tasks_still_get_through() {
        # a trusted mover into the grant, and a task already inside it moving within it
        in_cgroup /granted python3 "$ROUTES" 1 >/tmp/granted2.txt
        awk '$3 == "ok" && $4 > 0' /tmp/granted2.txt | head -n 3
        [ "$(awk '$3 == "ok" && $4 > 0' /tmp/granted2.txt | wc -l)" -ge 8 ]
        mkdir -p "$CG/granted/sub"
        in_cgroup /granted sh -c 'echo $$ >/sys/fs/cgroup/granted/sub/cgroup.procs && exec python3 "$0" 1' \
                "$ROUTES" >/tmp/granted-sub.txt
        [ "$(awk '$3 == "ok" && $4 > 0' /tmp/granted-sub.txt | wc -l)" -ge 8 ]
        in_cgroup /granted python3 "$CLONE" "$CG/granted/sub" python3 "$ROUTES" 1 >/tmp/granted-clone.txt
        [ "$(awk '$3 == "ok" && $4 > 0' /tmp/granted-clone.txt | wc -l)" -ge 8 ]
        spmd_stop
        "$SPMCTL" -c "$CONF" detach-bpf
}
