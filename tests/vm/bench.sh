# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The benchmarks that need a kernel with BPF-LSM and trampolines, or a real
# SPM node, run in the guest by scripts/bench (a --demo run: output as is,
# no TAP).
echo "# in the guest: $(uname -r), lsm=$(cat /sys/kernel/security/lsm)"
# these measure BPF programs of their own: before spmd attaches its
for b in "$VM_BUILD"/bench/bench-*; do
        [ -f "$b" ] && [ -x "$b" ] || continue
        case "$(basename "$b")" in bench-grant-latency | bench-evacuate | bench-reaction | bench-idle | bench-loop-latency) continue ;; esac
        "$b" 2>/dev/null || echo "# $(basename "$b"): exit $?"
done

# the broker: spmd with an SPM node on a private system bus; a compression ratio in a file that
# bench-loop-latency turns down to drive an evacuation (it stays at 3 for the rest)
dax=$(vm_nvdimm_create_devdax)
mkdir -p /etc/spmd
echo 3.00 >/tmp/ratio
printf "[Device]\nMatch=%s\nCompressionRatioPath=/tmp/ratio\nPhysicalCapacity=256M\n[Pressure]\nRefuseGrantsAt=never\n" \
        "$dax" >/etc/spmd/spmd.conf
vm_private_bus
spmd_start /etc/spmd/spmd.conf
"$VM_BUILD/bench/bench-grant-latency" || echo "# bench-grant-latency: exit $?"
# Ping while 200 clients ask for grants, a reload every second and an evacuation run at once
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
"$VM_BUILD/bench/bench-loop-latency" /tmp/ratio || echo "# bench-loop-latency: exit $?"
spmd_stop
vm_private_bus_stop
# the guard stays pinned after spmd (PersistAfterExit=yes): the benches below set up cgroups of their own
"$SPMCTL" detach-bpf >/dev/null

# the evacuation engine: node 1 stays online as spmd left it (ShutdownPolicy=keep)
"$VM_BUILD/bench/bench-evacuate" 128 || echo "# bench-evacuate: exit $?"

# reaction to pressure: its own spmd on the same node, swap for its reclaim to go to
vm_modprobe zram
echo 256M >/sys/block/zram0/disksize
mkswap /dev/zram0 >/dev/null
swapon /dev/zram0
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
"$VM_BUILD/bench/bench-reaction" "$SPMD" "$dax" 100 || echo "# bench-reaction: exit $?"

# idle footprint: spmd with the node and nothing happening for 60 s
"$VM_BUILD/bench/bench-idle" "$SPMD" "$dax" 60 || echo "# bench-idle: exit $?"
