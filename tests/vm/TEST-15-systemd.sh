# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
# vm-init: systemd
#
# The cpuset wall where systemd owns the cgroup tree: the guest boots systemd
# as PID 1 (with dbus), and spmd asks systemd for the walls on its units
# (SetUnitProperties, AllowedMemoryNodes=, runtime) instead of writing their
# cpuset.mems behind its back. systemd writes a unit's cpuset.mems again from
# its own settings whenever it applies them (shown here: a value written
# behind its back is undone), so only walls set through it last. Cgroups
# that are not systemd's units (made by hand) are written directly.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup

scenario_setup() {
        [ "$(cat /proc/1/comm)" = systemd ]
        echo "systemd booted; uptime $(cut -d' ' -f1 /proc/uptime) s"
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        mkdir -p /etc/spmd
        # two services running before spmd: one it grants node 1 to, one it walls
        systemd-run --quiet --unit=spmd-granted.service sleep infinity
        systemd-run --quiet --unit=spmd-other.service sleep infinity
        printf '[Device]\nName=nv\nMatch=dax0.0\n[Enforcement]\nCgroupGuard=no\nTaskMoveMemory=no\n' >"$CONF"
        printf '[Grant]\nName=svc\nCgroup=/system.slice/spmd-granted.service\n' >>"$CONF"
}

allowed() { systemctl show -p AllowedMemoryNodes --value "$1"; }
mems() { cat "$CG$1/cpuset.mems"; }
effective() { cat "$CG$1/cpuset.mems.effective"; }
probe() { # probe CGROUP: the probe's verdict for node 1 from inside CGROUP
        sh -c 'echo $$ >"$0/cgroup.procs" && exec python3 "$VM_SRC/tests/vm/probe.py" 1' "$CG$1"
}
wait_for() { # wait_for 'SHELL CONDITION': until it holds, 10 s at most
        for _ in $(seq 100); do eval "$1" && return 0; sleep 0.1; done
        eval "$1"
}

testcase_walls_through_systemd() {
        spmd_start "$CONF"
        spmd_wait_log 'Enforcement layer cpuset: systemd owns the cgroup tree: the walls on its units are its AllowedMemoryNodes= (runtime)'
        spmd_wait_log 'dax0.0: online as movable system RAM on node 1'
        spmd_wait_log 'Enforcement layer cpuset: active: [0-9]* cgroup(s) walled off the SPM nodes ([1-9][0-9]* of them systemd units, through AllowedMemoryNodes=), 1 grant(s) in force, 0 waiting for their cgroup, 0 failed write(s)'
        grep 'Enforcement layer cpuset: active' /tmp/spmd.log | tail -n1
        for u in system.slice init.scope spmd-other.service spmd-granted.service; do
                echo "$u: AllowedMemoryNodes=$(allowed "$u")"
        done
        # the slice above the grant lets node 1 through (it inherits everything: nothing to set),
        # its other units and the root's other children are walled, as systemd's own settings
        [ "$(effective /system.slice)" = 0-1 ]
        # spmd writes the walls at once and asks systemd for them without waiting for its answer
        wait_for '[ "$(allowed spmd-other.service)" = 0 ]'
        wait_for '[ "$(allowed init.scope)" = 0 ]'
        (! grep 'systemd did not take AllowedMemoryNodes' /tmp/spmd.log)
        [ "$(effective /system.slice/spmd-other.service)" = 0 ]
        [ "$(effective /system.slice/spmd-granted.service)" = 0-1 ]
        [ "$(effective /init.scope)" = 0 ]
}

testcase_kernel_holds_the_wall() {
        probe /system.slice/spmd-other.service | tee /tmp/other.txt
        grep -q 'set_mempolicy=Invalid argument pages_on_node1=0' /tmp/other.txt
        probe /system.slice/spmd-granted.service | tee /tmp/granted.txt
        grep -q 'set_mempolicy=ok' /tmp/granted.txt
        [ "$(sed -n 's/.*pages_on_node1=//p' /tmp/granted.txt)" -gt 0 ]
}

testcase_systemd_reapplying_keeps_the_wall() {
        # systemd writes a unit's cgroup settings again when one of them changes: a value written
        # behind its back goes, the one it holds stays
        echo 0-1 >"$CG/system.slice/spmd-other.service/cpuset.mems"
        [ "$(mems /system.slice/spmd-other.service)" = 0-1 ]
        systemctl set-property --runtime spmd-other.service CPUWeight=50
        wait_for '[ "$(mems /system.slice/spmd-other.service)" = 0 ]'
        systemctl daemon-reload
        systemctl set-property --runtime spmd-other.service CPUWeight=60
        [ "$(allowed spmd-other.service)" = 0 ]
        [ "$(mems /system.slice/spmd-other.service)" = 0 ]
        [ "$(effective /system.slice/spmd-other.service)" = 0 ]
}

testcase_new_unit_walled() {
        # a unit started later below the open slice is walled through systemd as it appears
        systemd-run --quiet --unit=spmd-late.service sleep infinity
        wait_for '[ "$(allowed spmd-late.service)" = 0 ]'
        [ "$(effective /system.slice/spmd-late.service)" = 0 ]
        probe /system.slice/spmd-late.service | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
}

testcase_hand_made_cgroup_written_directly() {
        # not a unit of systemd's: spmd writes it itself, systemd knows nothing of it
        mkdir "$CG/jobs"
        wait_for '[ "$(mems /jobs)" = 0 ]'
        [ "$(effective /jobs)" = 0 ]
        probe /jobs | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
}

testcase_hand_made_cgroup_of_a_unit_name() {
        # a directory named like a unit that systemd does not run, made by hand below the open
        # slice: spmd's own write walls it, whatever systemd answers (it once waited for systemd
        # to write it, counted a failed write and left it inheriting the slice's node 1), and the
        # slice stays open for the grant
        mkdir "$CG/system.slice/spmd-handmade.service"
        wait_for '[ "$(mems /system.slice/spmd-handmade.service)" = 0 ]'
        [ "$(effective /system.slice/spmd-handmade.service)" = 0 ]
        probe /system.slice/spmd-handmade.service | grep 'set_mempolicy=Invalid argument pages_on_node1=0'
        [ "$(effective /system.slice/spmd-granted.service)" = 0-1 ]
        rmdir "$CG/system.slice/spmd-handmade.service"
}

testcase_unit_resolved_by_systemd() {
        # the broker on the real system bus, with spmd's bus policy
        cp "$VM_SRC/config/org.spmd1.conf" /etc/dbus-1/system.d/
        systemctl reload dbus
        spmd_stop
        spmd_start "$CONF"
        spmd_wait_log 'Broker: active'
        # a directory of the unit's name planted inside another unit's (delegated) subtree
        mkdir "$CG/system.slice/spmd-other.service/spmd-late.service"
        timeout 60 "$SPMCTL" request --unit spmd-late.service >/tmp/req.out 2>&1 &
        req=$!
        wait_for '"$SPMCTL" grants | grep -q spmd-late.service'
        "$SPMCTL" grants | tee /tmp/grants.txt
        grep -q ' /system.slice/spmd-late.service ' /tmp/grants.txt
        (! grep -q 'spmd-other.service/spmd-late.service' /tmp/grants.txt)
        wait_for '[ "$(effective /system.slice/spmd-late.service)" = 0-1 ]'
        # the planted one stays behind its unit's wall (no cpuset of its own: it inherits)
        [ "$(effective /system.slice/spmd-other.service)" = 0 ]
        # a unit systemd does not know: refused with systemd's answer
        (! "$SPMCTL" request --unit no-such-unit.service 2>/tmp/err)
        grep 'no-such-unit.service' /tmp/err
        kill "$req"
        wait_for '! "$SPMCTL" grants | grep -q spmd-late.service'
        rmdir "$CG/system.slice/spmd-other.service/spmd-late.service"
}

testcase_spmctl_run_in_transient_scope() {
        # a systemd host: the command runs in a transient scope systemd made and knows, in spmd-run.slice
        # (below spmd.slice, as systemd nests slices by their dashes)
        "$SPMCTL" run --node 1 -- sh -c 'cat /proc/self/cgroup
u=$(basename "$(cut -d: -f3 /proc/self/cgroup)")
systemctl show -p ActiveState -p Slice "$u"
exec python3 "$VM_SRC/tests/vm/probe.py" 1' | tee /tmp/run.out
        grep -E '^0::/spmd.slice/spmd-run.slice/spmctl-run-[0-9]+\.scope$' /tmp/run.out
        grep -x 'ActiveState=active' /tmp/run.out
        grep -x 'Slice=spmd-run.slice' /tmp/run.out
        grep -q 'set_mempolicy=ok' /tmp/run.out
        # the scope goes with its command; a refused run leaves no unit and no directory
        wait_for '[ -z "$(systemctl list-units --all --plain --no-legend "spmctl-run-*")" ]'
        (! "$SPMCTL" run --node 0 -- touch /tmp/must-not-exist 2>/tmp/e-run)
        grep 'not SPM nodes' /tmp/e-run
        test ! -e /tmp/must-not-exist
        wait_for '[ -z "$(systemctl list-units --all --plain --no-legend "spmctl-run-*")" ]'
        test -z "$(ls "$CG/spmd.slice/spmd-run.slice" 2>/dev/null | grep spmctl-run || true)"
}

testcase_walls_stay_after_stop() {
        spmd_stop
        [ "$(allowed spmd-other.service)" = 0 ]
        [ "$(effective /system.slice/spmd-other.service)" = 0 ]
        systemctl stop spmd-granted.service spmd-other.service spmd-late.service
}
