# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
# vm-timeout: 900
# make demo, inside the guest: a transcript, not a test.
set -e
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }

step "Guest: Debian kernel $(uname -r) under QEMU, one emulated CXL type-3 device (1 GiB, serial 0x1234)"
step "Before: no CXL drivers loaded yet"
run "$SPMCTL" devices

step "Boot-time drivers (cxl_acpi cxl_pci cxl_mem dax_cxl kmem), as the distribution loads them"
vm_cxl_load
run "$SPMCTL" devices

step "Firmware step: commit a 1 GiB RAM region through the kernel's CXL sysfs ABI"
region=$(vm_cxl_create_ram_region)
echo "  committed $region"
run cxl list -R
step "After: the region's dax device, on CPU-less node $(daxctl list | sed -n 's/.*"target_node":\([0-9]*\).*/\1/p')"
run "$SPMCTL" devices
run "$SPMCTL" nodes
echo "  (memory blocks stay offline: the guest boots with memhp_default_state=offline so that"
echo "   spmd, not the kernel, decides the zone)"

mkdir -p /etc/spmd
cat >/etc/spmd/spmd.conf <<'CONF'
[Device]
Name=expander0
Match=serial:0x1234

[Grant]
Name=demo
Cgroup=/granted

[Enforcement]
TrustedExecutable=/tmp/trusted/tee
CONF
# the system bus (busybox init starts none): a real dbus-daemon with spmd's bus policy
vm_private_bus
mkdir -p /sys/fs/cgroup/granted /sys/fs/cgroup/other /tmp/trusted
cp /usr/bin/tee /tmp/trusted/tee
step "spmd onlines the configured device as an SPM node"
run cat /etc/spmd/spmd.conf
run "$SPMD" --check-config
"$SPMD" >>/tmp/spmd.log 2>&1 &
echo $! >/tmp/spmd.pid
spmd_wait_log "running with" >/dev/null
sed 's/^/  /' /tmp/spmd.log
run "$SPMCTL" nodes
run "$SPMCTL" devices
run daxctl list -d dax0.0

step "Isolation: the cpuset wall (cgroups /granted and /other existed before spmd started)"
for cg in granted other; do
        echo "  /$cg: cpuset.mems=$(cat /sys/fs/cgroup/$cg/cpuset.mems) effective=$(cat /sys/fs/cgroup/$cg/cpuset.mems.effective)"
done
# a shell's own pages, as numa_maps counts them: small, as every access to QEMU's emulated CXL
# memory is slow (a program the size of python3 living there takes minutes)
cat >/tmp/pages1.sh <<'SH'
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^N1=/) n += substr($i, 4) }
     END { printf "  %d pages of this shell on node 1\n", n }' "/proc/$$/numa_maps"
SH
echo "\$ numactl --membind=1 sh pages1.sh    # from /granted, joined through the trusted tee"
sh -c 'echo $$ | /tmp/trusted/tee /sys/fs/cgroup/granted/cgroup.procs >/dev/null
        exec numactl --membind=1 sh /tmp/pages1.sh' 2>&1
echo "\$ numactl --membind=1 sh pages1.sh    # from /other"
sh -c 'echo $$ >/sys/fs/cgroup/other/cgroup.procs; exec numactl --membind=1 sh /tmp/pages1.sh' 2>&1 |
        grep -E 'Warning|invalid|pages' | sed 's/^/  /'
echo "  (numactl sees node 1 outside this cgroup's cpuset; set_mempolicy/mbind would get EINVAL)"
mkdir /sys/fs/cgroup/late
sleep 0.2
echo "  a cgroup made now: /late cpuset.mems=$(cat /sys/fs/cgroup/late/cpuset.mems)"

step "Isolation: the BPF-LSM guard stops root from stepping around the wall"
echo "\$ echo \$\$ > /sys/fs/cgroup/cgroup.procs      # root, from /other"
sh -c 'echo $$ >/sys/fs/cgroup/other/cgroup.procs; echo $$ >/sys/fs/cgroup/cgroup.procs' 2>&1 | sed 's/^/  /'
echo "\$ echo 0-1 > /sys/fs/cgroup/other/cpuset.mems"
sh -c 'echo 0-1 >/sys/fs/cgroup/other/cpuset.mems' 2>&1 | sed 's/^/  /'
sleep 0.3
grep -E 'Denied:' /tmp/spmd.log | sed 's/^/  /'

step "The broker: org.spmd1 on the guest's system bus (clients, grants and pressure: the next guest)"
run "$SPMCTL" status

step "Restart: nothing changes"
spmd_stop
: >/tmp/spmd.log
"$SPMD" >>/tmp/spmd.log 2>&1 &
echo $! >/tmp/spmd.pid
spmd_wait_log "running with" >/dev/null
grep -E 'dax0.0|SPM' /tmp/spmd.log | sed 's/^/  /'

step "Taking it back: spmctl device release (memory offlined, pages migrate off, devdax again)"
run "$SPMCTL" device release expander0
run "$SPMCTL" nodes
step "...and spmd onlines it again on reload, since spmd.conf still claims it"
spmd_reload >/dev/null
grep -E 'dax0.0: online' /tmp/spmd.log | tail -n1 | sed 's/^/  /'
run "$SPMCTL" nodes
spmd_stop

step "BPF in this kernel"
if "$VM_BUILD/tests/test-bpf-lsm" >/tmp/lsm.log 2>&1; then
        echo "  BPF-LSM: available (lsm/task_movememory program loaded, attached and saw migrate_pages)"
else
        echo "  BPF-LSM: unavailable: $(grep -m1 SKIP /tmp/lsm.log || tail -n1 /tmp/lsm.log)"
fi
vm_private_bus_stop
