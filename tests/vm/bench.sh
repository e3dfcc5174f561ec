# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The benchmarks that need a kernel with BPF-LSM and trampolines, run in the
# guest by scripts/bench (a --demo run: output as is, no TAP).
echo "# in the guest: $(uname -r), lsm=$(cat /sys/kernel/security/lsm)"
for b in "$VM_BUILD"/bench/bench-*; do
        [ -f "$b" ] && [ -x "$b" ] || continue
        "$b" 2>/dev/null || echo "# $(basename "$b"): exit $?"
done
