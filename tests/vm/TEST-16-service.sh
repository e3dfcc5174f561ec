# SPDX-License-Identifier: LGPL-2.1-or-later
# vm-topology: nvdimm
# vm-init: systemd
# vm-timeout: 600
#
# spmd as a site runs it: installed by meson install, started by systemd from
# its own unit (its hardening, Type=notify, WatchdogSec=, Restart=, BusName=,
# ExecReload=) with the guard and the observer on, asked over the real system
# bus by the installed spmctl. Killed, it is restarted while its walls and
# pinned BPF hold; hung, the watchdog restarts it; the first client's call
# activates it through D-Bus; its journal entries carry their fields; the
# metrics timer's service writes the exposition.

CONF=/etc/spmd/spmd.conf
CG=/sys/fs/cgroup
UNIT_DIR=/usr/local/lib/systemd/system
CTL=/usr/local/bin/spmctl

scenario_setup() {
        [ "$(cat /proc/1/comm)" = systemd ]
        dax=$(vm_nvdimm_create_devdax)
        test "$dax" = dax0.0
        # what a site does: meson install (prefix /usr/local), then the configuration
        meson install -C "$VM_BUILD" --no-rebuild --quiet
        test -x /usr/local/libexec/spmd
        test -f "$UNIT_DIR/spmd.service"
        test -f /etc/dbus-1/system.d/org.spmd1.conf
        test -f /usr/local/share/dbus-1/system-services/org.spmd1.service
        printf '[Device]\nName=nv\nMatch=dax0.0\n[Grant]\nName=svc\nCgroup=/system.slice/spmd-granted.service\n' >"$CONF"
        systemctl daemon-reload
        systemctl try-reload-or-restart dbus  # running already: read the new policy; else it reads it as it starts
        # a service it walls and one the [Grant] opens
        systemd-run --quiet --unit=spmd-walled.service sleep infinity
        systemd-run --quiet --unit=spmd-granted.service sleep infinity
}

probe() { # probe CGROUP: the probe's verdict for node 1 from inside CGROUP
        sh -c 'echo $$ >"$0/cgroup.procs" && exec python3 "$VM_SRC/tests/vm/probe.py" 1' "$CG$1"
}
wait_for() { # wait_for 'SHELL CONDITION' [SECONDS]: until it holds
        for _ in $(seq "$((${2:-10} * 10))"); do eval "$1" && return 0; sleep 0.1; done
        eval "$1"
}
restarts() { systemctl show -p NRestarts --value spmd; }
main_pid() { systemctl show -p MainPID --value spmd; }

testcase_started_by_systemd() {
        systemctl start spmd
        systemctl is-active spmd
        journalctl -u spmd --no-pager | tail -n 40
        "$CTL" status | tee /tmp/status.txt
        grep -E '^● spmd [0-9.]+: running for ' /tmp/status.txt
        grep -E '^ +SPM nodes: 1 ' /tmp/status.txt
        grep -E '^guard +active ' /tmp/status.txt
        grep -E '^observe +active ' /tmp/status.txt
        grep -E '^cpuset +active ' /tmp/status.txt
        grep -E '^broker +active ' /tmp/status.txt
        [ "$(cat "$CG/system.slice/spmd-walled.service/cpuset.mems.effective")" = 0 ]
        [ "$(cat "$CG/system.slice/spmd-granted.service/cpuset.mems.effective")" = 0-1 ]
        # a service started now, under the slice the grant keeps open: systemd's child puts itself in
        # the new cgroup before spmd walls it (the guard trusts PID 1's executable as root), then walled
        systemd-run --quiet --unit=spmd-late.service sleep infinity
        systemctl is-active spmd-late.service || { journalctl -u spmd --no-pager | grep -E 'Denied|PID 1'; exit 1; }
        wait_for '[ "$(cat "$CG/system.slice/spmd-late.service/cpuset.mems.effective")" = 0 ]'
        journalctl -u spmd --no-pager | grep 'Enforcement layer guard: active'
}

testcase_security_exposure() {
        systemd-analyze security spmd --no-pager | tail -n 3 | tee /tmp/sec.txt
        level=$(sed -n 's/.*Overall exposure level for spmd.service: \([0-9.]*\).*/\1/p' /tmp/sec.txt)
        awk -v l="$level" 'BEGIN { exit !(l < 3.0) }'
}

testcase_reload_good_and_bad() {
        cp "$CONF" /tmp/good.conf
        printf '[Daemon]\nLogLevel=debug\n' >>"$CONF"
        systemctl reload spmd
        wait_for '"$CTL" --json status | grep -q "\"Reloads\":1"'
        printf '[Pressure]\nFreeWarn=lots\n' >>"$CONF"
        systemctl reload spmd
        wait_for '"$CTL" --json status | grep -q "\"FailedReloads\":1"'
        journalctl -u spmd --no-pager | grep 'FreeWarn=lots'
        systemctl is-active spmd
        cp /tmp/good.conf "$CONF"
        systemctl reload spmd
        wait_for '"$CTL" --json status | grep -q "\"Reloads\":2"'
}

testcase_kill_restart_walls_hold() {
        mkdir -p "$CG/jobs"
        "$CTL" request --persistent --cgroup /jobs | tee /tmp/req.out
        before=$(restarts)
        pid=$(main_pid)
        systemctl kill -s KILL spmd
        # the gap: spmd is gone, its walls and pinned BPF are not
        probe /system.slice/spmd-walled.service | tee /tmp/gap.txt
        grep -q 'pages_on_node1=0$' /tmp/gap.txt
        wait_for '[ "$(restarts)" -gt "$before" ] && systemctl is-active -q spmd' 30
        [ "$(main_pid)" != "$pid" ]
        wait_for '"$CTL" grants | grep -q " /jobs "' 20
        journalctl -u spmd --no-pager | grep 'Grant [0-9]* of /jobs to uid 0 stays in force (persistent)'
        journalctl -u spmd --no-pager | grep 'Enforcement layer guard: active .*re-adopted'
        [ "$(cat "$CG/jobs/cpuset.mems.effective")" = 0-1 ]
        [ "$(cat "$CG/system.slice/spmd-walled.service/cpuset.mems.effective")" = 0 ]
}

testcase_journal_fields() {
        # a walled process asks for node 1: the kernel refuses, the observer reports it with its fields
        probe /system.slice/spmd-walled.service
        wait_for 'journalctl -u spmd --no-pager SPMD_SYSCALL=set_mempolicy | grep -q .' 20
        journalctl -u spmd --no-pager -o verbose SPMD_SYSCALL=set_mempolicy | grep -E 'SPMD_(SYSCALL|PID|CGROUP)=' | head
}

testcase_metrics_timer_service() {
        mkdir -p /var/lib/prometheus/node-exporter
        systemctl start spmd-metrics.service || { journalctl -u spmd-metrics.service --no-pager | tail -n 20; exit 1; }
        cat /var/lib/prometheus/node-exporter/spmd.prom | head -n 20
        grep -x 'spmd_up 1' /var/lib/prometheus/node-exporter/spmd.prom
        grep -E '^spmd_node_size_bytes\{node="1"\} [1-9]' /var/lib/prometheus/node-exporter/spmd.prom
        # the kernel's counts by kind: the violation of testcase_journal_fields is there
        grep -E '^spmd_violations_by_syscall_total\{syscall="set_mempolicy"\} [1-9]' \
                /var/lib/prometheus/node-exporter/spmd.prom
        grep -E '^spmd_denials_by_kind_total\{kind="cgroup.procs"\} [0-9]' /var/lib/prometheus/node-exporter/spmd.prom
        systemctl start spmd-metrics.timer
        systemctl is-active spmd-metrics.timer
}

testcase_watchdog_restarts_a_hung_spmd() {
        before=$(restarts)
        systemctl kill -s STOP spmd
        # WatchdogSec=30s: systemd kills the silent spmd and Restart= starts a new one
        wait_for '[ "$(restarts)" -gt "$before" ] && systemctl is-active -q spmd' 90
        journalctl -u spmd --no-pager | grep -i 'watchdog timeout'
        "$CTL" status | head -n 3
}

testcase_dbus_activation() {
        # the metrics timer's spmctl would start it again through the bus (every 15 s): a fresh-clone run
        # saw its start job cancel this stop ("Job for spmd.service canceled")
        systemctl stop spmd-metrics.timer spmd-metrics.service
        systemctl stop spmd
        (! systemctl is-active -q spmd)
        # the first client's call starts it (org.spmd1.service: SystemdService=spmd.service); under TCG the
        # start may outlast the call's timeout, so the verdict is systemd's and dbus-daemon's
        timeout 120 "$CTL" status >/tmp/act.txt 2>&1 || true
        cat /tmp/act.txt
        wait_for 'systemctl is-active -q spmd' 60
        journalctl -u dbus --no-pager | grep "Activating via systemd: service name='org.spmd1' unit='spmd.service'"
        "$CTL" status | head -n 3
}

testcase_second_spmd_refused() {
        # bounded: an spmd that is not refused runs until stopped, and would hold the scenario
        (! timeout 60 /usr/local/libexec/spmd 2>/tmp/second.err)
        cat /tmp/second.err
        grep "Another spmd already manages this host: pid $(main_pid) (spmd)" /tmp/second.err
        systemctl stop spmd spmd-metrics.timer
}
