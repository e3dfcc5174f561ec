# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: cxl
#
# The guest itself: what every later scenario stands on.

testcase_kernel_and_root() {
        uname -r
        test -x "$SPMD"
        # the host root is shared read-only, with a writable overlay
        touch /etc/spmd-vm-probe
        test -d /lib/modules/"$(uname -r)"
}

testcase_cgroup2_cpuset_memory() {
        grep -qw cpuset /sys/fs/cgroup/cgroup.controllers
        grep -qw memory /sys/fs/cgroup/cgroup.controllers
        echo "+cpuset +memory" >/sys/fs/cgroup/cgroup.subtree_control
        mkdir /sys/fs/cgroup/probe
        test -e /sys/fs/cgroup/probe/cpuset.mems
        test -e /sys/fs/cgroup/probe/memory.reclaim
        test -e /sys/fs/cgroup/probe/memory.numa_stat
        echo 0 >/sys/fs/cgroup/probe/cpuset.mems
        test "$(cat /sys/fs/cgroup/probe/cpuset.mems)" = 0
        echo $$ >/sys/fs/cgroup/probe/cgroup.procs
        echo $$ >/sys/fs/cgroup/cgroup.procs
        rmdir /sys/fs/cgroup/probe
}

testcase_spmd_runs() {
        "$SPMD" --version
        "$SPMCTL" nodes
}
