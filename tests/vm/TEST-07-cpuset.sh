# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
#
# The cpuset wall on a real cgroup2 tree: cgroups without a grant cannot
# place memory on the SPM node (the kernel refuses the policy and nothing
# lands there), granted ones can; new cgroups are walled as they appear; a
# delegated child cannot widen its own cpuset.mems; reloads grant and revoke;
# the walls stay when spmd stops. The guest runs busybox as init, so no
# service manager owns the tree and spmd writes cgroupfs itself.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup

scenario_setup() {
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd
        write_conf grant
}

# The wall on its own: the BPF-LSM guard (TEST-08) would refuse this untrusted
# script moving processes into the granted cgroups.
write_conf() { # write_conf grant|nogrant [EXTRA-LINES]
        printf '[Device]\nName=nv\nMatch=dax0.0\n[Enforcement]\nCgroupGuard=no\nTaskMoveMemory=no\n%s\n' "${2:-}" >"$CONF"
        if [ "$1" = grant ]; then
                printf '[Grant]\nName=granted\nCgroup=/granted\n' >>"$CONF"
                printf '[Grant]\nName=deep\nCgroup=/gw/inner\nNodes=1\n' >>"$CONF"
        fi
}

in_cgroup() { # in_cgroup CGROUP CMD...: run CMD as a member of CGROUP
        sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG$1" "${@:2}"
}

probe() { # probe CGROUP: the probe's verdict for node 1 from inside CGROUP
        in_cgroup "$1" python3 "$VM_SRC/tests/vm/probe.py" 1
}

mems() { cat "$CG$1/cpuset.mems"; }
effective() { cat "$CG$1/cpuset.mems.effective"; }

testcase_wall_at_start() {
        mkdir -p "$CG/work" "$CG/granted"
        spmd_start "$CONF"
        grep 'dax0.0: online as movable system RAM on node 1' /tmp/spmd.log
        grep 'Enforcement layer cpuset: active' /tmp/spmd.log
        grep -qw cpuset "$CG/cgroup.subtree_control"
        test "$(mems /work)" = 0
        test "$(effective /work)" = 0
        test "$(effective /granted)" = 0-1
        probe /work | tee /tmp/p-work
        grep -q 'set_mempolicy=Invalid argument pages_on_node1=0' /tmp/p-work
        probe /granted | tee /tmp/p-granted
        grep -q 'set_mempolicy=ok' /tmp/p-granted
        pages=$(sed -n 's/.*pages_on_node1=//p' /tmp/p-granted)
        [ "$pages" -ge 4096 ]   # the whole 16 MiB landed on the SPM node
        # numactl is refused as well
        ! in_cgroup /work numactl --membind=1 true
}

testcase_root_cgroup_is_reported() {
        # busybox init and this script live in the root cgroup: outside every wall, and said so
        grep -E 'Enforcement layer cpuset: active: [0-9]+ cgroup\(s\) walled off the SPM nodes, 1 grant\(s\) in force, 1 waiting for their cgroup, 0 failed write\(s\); [1-9][0-9]* process\(es\) in the root cgroup \([1-9][0-9]* kernel thread\(s\)\) stay outside every wall' /tmp/spmd.log
        # spmd finds the kernel threads as kthreadd's children; counted here by their PF_KTHREAD flag
        # right after a reload counted them again (workqueue threads come and go: a few either way)
        spmd_reload
        k=$(grep 'Enforcement layer cpuset: active' /tmp/spmd.log | tail -n1 |
                sed -n 's/.*; \([0-9]*\) process(es) in the root cgroup (\([0-9]*\) kernel thread(s)).*/\2/p')
        own=$(python3 -c '
n = 0
for pid in open("/sys/fs/cgroup/cgroup.procs").read().split():
    try:
        stat = open("/proc/%s/stat" % pid).read()
    except OSError:
        continue
    n += int(stat[stat.rindex(")") + 2:].split()[6]) & 0x00200000 != 0
print(n)')
        echo "kernel threads in the root cgroup: spmd $k, by their flags $own"
        [ "$k" -ge $((own - 3)) ] && [ "$k" -le $((own + 3)) ] && [ "$own" -ge 10 ]
}

testcase_new_cgroups_are_walled() {
        python3 - <<'PY'
import os, time
cg = "/sys/fs/cgroup/late"
t0 = time.monotonic()
os.mkdir(cg)
while open(cg + "/cpuset.mems").read().strip() != "0":
    if time.monotonic() - t0 > 5:
        raise SystemExit("new cgroup not walled after 5 s: cpuset.mems=%r" % open(cg + "/cpuset.mems").read())
    time.sleep(0.001)
print("new cgroup walled %.1f ms after mkdir" % ((time.monotonic() - t0) * 1000))
PY
        probe /late | tee /tmp/p-late
        grep -q 'pages_on_node1=0' /tmp/p-late
        # a grant's ancestor appears: it opens, its other children are walled, the granted one sees node 1
        mkdir "$CG/gw"
        mkdir "$CG/gw/inner" "$CG/gw/other"
        for _ in $(seq 100); do
                [ "$(effective /gw)" = 0-1 ] && [ "$(mems /gw/other)" = 0 ] && break
                sleep 0.05
        done
        test "$(effective /gw)" = 0-1
        test "$(mems /gw/other)" = 0
        test "$(effective /gw/inner)" = 0-1
        probe /gw/other | grep 'pages_on_node1=0'
        probe /gw/inner | grep 'set_mempolicy=ok'
}

testcase_delegated_child_cannot_widen() {
        echo +cpuset >"$CG/work/cgroup.subtree_control"
        mkdir "$CG/work/child"
        echo 0-1 >"$CG/work/child/cpuset.mems"   # the kernel takes the value...
        test "$(mems /work/child)" = 0-1
        test "$(effective /work/child)" = 0       # ...but the parent's wall bounds it
        probe /work/child | tee /tmp/p-child
        grep -q 'set_mempolicy=Invalid argument pages_on_node1=0' /tmp/p-child
}

testcase_violations_are_reported() {
        # trampolines work in these kernels: fentry, which costs other syscalls nothing
        grep 'Enforcement layer observe: active .* via fentry' /tmp/spmd.log
        pid=$(in_cgroup /work sh -c 'echo $$; exec python3 "$VM_SRC/tests/vm/probe.py" 1 >/dev/null')
        spmd_wait_log "Violation: python3 (pid $pid, uid 0) in cgroup /work called set_mempolicy naming SPM node(s) 1 without a grant."
        # a grant covers its subtree: nothing reported from below /granted
        mkdir -p "$CG/granted/sub"
        pid=$(in_cgroup /granted/sub sh -c 'echo $$; exec python3 "$VM_SRC/tests/vm/probe.py" 1 >/dev/null')
        sleep 0.5
        (! grep "Violation: .*(pid $pid," /tmp/spmd.log)
        # the delegated child writing its own cpuset.mems is seen too when it asks
        pid=$(in_cgroup /work/child sh -c 'echo $$; exec python3 "$VM_SRC/tests/vm/probe.py" 1 >/dev/null')
        spmd_wait_log "Violation: python3 (pid $pid, uid 0) in cgroup /work/child called set_mempolicy"
}

testcase_violation_action_kill() {
        write_conf grant '[Enforcement]
ViolationAction=kill'
        spmd_reload
        grep 'ViolationAction=kill)' /tmp/spmd.log
        rc=0
        in_cgroup /work python3 "$VM_SRC/tests/vm/probe.py" 1 || rc=$?
        test "$rc" = 137   # SIGKILL, after the kernel refused the call
        spmd_wait_log "called set_mempolicy naming SPM node(s) 1 without a grant; killed it (ViolationAction=kill)"
        # granted callers are left alone
        probe /granted | grep 'set_mempolicy=ok'
        write_conf grant
        spmd_reload
        grep -c 'ViolationAction=log)' /tmp/spmd.log | grep -qx 2
}

testcase_reload_revokes_and_grants() {
        write_conf nogrant
        spmd_reload
        grep -c 'Configuration reloaded' /tmp/spmd.log
        test "$(effective /granted)" = 0
        test "$(effective /gw)" = 0
        probe /granted | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
        # a broken reload keeps the running configuration: still no grant
        printf '[Grant]\nCgroup=relative\n' >>"$CONF"
        spmd_reload
        grep 'Reload failed' /tmp/spmd.log
        test "$(effective /granted)" = 0
        write_conf grant
        spmd_reload
        test "$(effective /granted)" = 0-1
        probe /granted | grep 'set_mempolicy=ok'
}

rmtree_cgroups() { # rmtree_cgroups PATH: remove the cgroup PATH and everything below it, deepest first
        python3 -c 'import os, sys
for d, _, _ in sorted(os.walk(sys.argv[1]), key=lambda t: -len(t[0])):
    os.rmdir(d)' "$CG$1"
}

testcase_deep_grant_walls_every_level() {
        # A grant 70 levels down (a client may nest its own cgroups that deep): every cgroup beside
        # its path is walled, however deep. The walk once stopped at 64 levels and then opened the
        # cgroup it stopped at, so everything below that saw the SPM node. (Deeper than the walk
        # goes at all, a grant through the broker: TEST-10.)
        deep=/deep
        for _ in $(seq 70); do deep=$deep/d; done
        mkdir -p "$CG$deep/leaf" "$CG$deep/other" "$CG${deep%/d}/side"
        write_conf grant "[Grant]
Name=deep70
Cgroup=$deep/leaf
Nodes=1"
        spmd_reload
        grep 'Configuration reloaded\|Reload failed' /tmp/spmd.log | tail -n1 | grep 'Configuration reloaded'
        test "$(effective "$deep/leaf")" = 0-1
        test "$(effective "$deep/other")" = 0
        test "$(effective "${deep%/d}/side")" = 0
        probe "$deep/other" | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
        probe "$deep/leaf" | grep 'set_mempolicy=ok'
        write_conf grant
        spmd_reload
        test "$(effective "$deep/leaf")" = 0
        rmtree_cgroups /deep
}

testcase_walls_stay_when_spmd_stops() {
        spmd_stop
        test "$(mems /work)" = 0
        probe /work | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
        # and a restart changes nothing that is already right
        spmd_start "$CONF" --log-level=debug
        grep -q 'Enforcement layer cpuset: active' /tmp/spmd.log
        (! grep 'cpuset.mems .* ->' /tmp/spmd.log)
        test "$(mems /work)" = 0
        test "$(effective /granted)" = 0-1
        spmd_stop
}
