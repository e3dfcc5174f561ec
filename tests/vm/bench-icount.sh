# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The enforcement-overhead and idle benchmarks, five times each, in a guest booted with
# run-scenario --icount (scripts/bench): the guest's clock counts executed instructions, so
# each figure counts the work the hooks and spmd add, whatever the host's load. scripts/bench
# takes the five runs' spread and judges the targets on these figures.
echo "# in the instruction-counted guest: $(uname -r), lsm=$(cat /sys/kernel/security/lsm)"
dax=$(vm_nvdimm_create_devdax)
for run in 1 2 3 4 5; do
        echo "# run $run"
        # idle first: its spmd onlines the device as node 1, and set_mempolicy costs more with that
        # node there, so every run's overhead figures see the same machine (the first run's did not)
        "$VM_BUILD/bench/bench-idle" "$SPMD" "$dax" 20 || echo "# bench-idle: exit $?"
        "$VM_BUILD/bench/bench-enforcement-overhead" 5000 2>/dev/null || echo "# bench-enforcement-overhead: exit $?"
done
