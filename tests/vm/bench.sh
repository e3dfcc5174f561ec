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
        [ "$(basename "$b")" = bench-grant-latency ] && continue
        "$b" 2>/dev/null || echo "# $(basename "$b"): exit $?"
done

# the broker: spmd with an SPM node on a private system bus
dax=$(vm_nvdimm_create_devdax)
mkdir -p /etc/spmd
printf "[Device]\nMatch=%s\n" "$dax" >/etc/spmd/spmd.conf
vm_private_bus
spmd_start /etc/spmd/spmd.conf
"$VM_BUILD/bench/bench-grant-latency" || echo "# bench-grant-latency: exit $?"
spmd_stop
vm_private_bus_stop
