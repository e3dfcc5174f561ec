#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spmd as a process: argv, --check-config, sd_notify, watchdog, SIGHUP reload, SIGTERM.

Talks to the real binary through a real $NOTIFY_SOCKET, the way systemd
does. Prints TAP.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SPMD = sys.argv[1]
results = []


def ok(cond, name, detail=""):
    results.append((bool(cond), name, detail))
    print(("ok" if cond else "not ok") + f" {len(results)} - {name}")
    if not cond and detail:
        for line in str(detail).splitlines():
            print(f"# {line}")
    sys.stdout.flush()


GOOD = """[Daemon]
LogLevel=info
[Device]
Match=dax0.0
"""
GOOD2 = GOOD + """[Device]
Match=serial:0x1234
[Access]
User=root
"""
PLANTED = """[Daemon]
LogLevel=loud
[Device]
Match=dax0.0
Zone=fast
[Pressure]
FreeWarn=ten
"""


class Notify:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait_for(self, pred, timeout=10.0):
        """Collect messages until one satisfies pred; return it or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append(fields)
            if pred(fields):
                return fields
        return None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    tmp = tempfile.mkdtemp(prefix="test-spmd-")
    conf = os.path.join(tmp, "spmd.conf")

    # argv
    r = subprocess.run([SPMD, "--version"], capture_output=True, text=True)
    ok(r.returncode == 0 and r.stdout.startswith("spmd "), "--version prints the version", r.stdout)
    r = subprocess.run([SPMD, "--help"], capture_output=True, text=True)
    ok(r.returncode == 0 and "--check-config" in r.stdout, "--help lists the options")
    r = subprocess.run([SPMD, "--no-such-option"], capture_output=True, text=True)
    ok(r.returncode == 1, "an unknown option fails", r.stderr)
    r = subprocess.run([SPMD, "--log-level=chatty"], capture_output=True, text=True)
    ok(r.returncode == 1 and "chatty" in r.stderr, "a bad --log-level is named", r.stderr)

    # --check-config
    write(conf, GOOD)
    r = subprocess.run([SPMD, "--check-config", conf], capture_output=True, text=True)
    ok(r.returncode == 0 and "0 error(s)" in r.stderr, "--check-config PATH accepts a good file", r.stderr)
    bad = os.path.join(tmp, "planted.conf")
    write(bad, PLANTED)
    r = subprocess.run([SPMD, f"--check-config={bad}"], capture_output=True, text=True)
    errs = [l for l in r.stderr.splitlines() if ": error: " in l]
    ok(r.returncode == 1 and len(errs) == 3, "--check-config reports all three planted mistakes", r.stderr)
    want = [f"{bad}:2: error: [Daemon] LogLevel=loud", f"{bad}:5: error: [Device] Zone=fast",
            f"{bad}:7: error: [Pressure] FreeWarn=ten"]
    ok(all(any(l.startswith(w) for l in errs) for w in want), "each error names file:line and key", r.stderr)
    # a private node's opt-ins the kernel would refuse at online: refused before any write, naming both
    demo = os.path.join(tmp, "private.conf")
    write(demo, "[Device]\nMatch=dax0.0\nPrivate=yes\nPrivateServices=user_numa demotion\n")
    r = subprocess.run([SPMD, "--check-config", demo], capture_output=True, text=True)
    ok(r.returncode == 1 and f"{demo}:4: error:" in r.stderr and "demotion without reclaim" in r.stderr
       and "user_numa demotion" in r.stderr, "--check-config rejects demotion without reclaim, naming both",
       r.stderr)
    r = subprocess.run([SPMD, "--check-config", "--dump-config", conf], capture_output=True, text=True)
    ok(r.returncode == 0 and "Match=dax0.0" in r.stdout and "[Reclaim]" in r.stdout,
       "--dump-config prints the effective configuration", r.stdout[:400])
    r = subprocess.run([SPMD, "--config", bad], capture_output=True, text=True, timeout=20)
    ok(r.returncode == 1 and "refusing to start" in r.stderr and f"{bad}:5:" in r.stderr,
       "a bad config at start is refused with its errors", r.stderr)
    r = subprocess.run([SPMD, "--config", os.path.join(tmp, "missing.conf")], capture_output=True, text=True,
                       timeout=20)
    ok(r.returncode == 1 and "missing.conf" in r.stderr, "a missing --config file is an error", r.stderr)

    # the running daemon (its lock in a directory of its own: a real spmd on this host is left alone)
    state = os.path.join(tmp, "state")
    write(conf, GOOD.replace("[Daemon]\n", f"[Daemon]\nStateDirectory={state}\n"))
    notify = Notify(os.path.join(tmp, "notify"))
    env = dict(os.environ, NOTIFY_SOCKET=notify.sock.getsockname(), WATCHDOG_USEC="200000")
    env.pop("WATCHDOG_PID", None)
    err = open(os.path.join(tmp, "stderr"), "w+")
    p = subprocess.Popen([SPMD, "--config", conf], env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        ready = notify.wait_for(lambda m: m.get("READY") == "1")
        ok(ready is not None and "1 SPM device rule(s)" in ready.get("STATUS", ""),
           "READY=1 with STATUS after start", notify.messages)
        err.flush()
        log = open(err.name).read()
        layer = re.search(r"Enforcement layer cpuset: (active: .*|unavailable: .+)\.$", log, re.M)
        ok(layer is not None and re.search(r"cpuset wall: (active|unavailable)", ready.get("STATUS", "")),
           "the cpuset layer is reported active or unavailable with its reason", log)
        print(f"# {layer.group(0) if layer else 'no cpuset layer line'}")
        layer = re.search(r"Enforcement layer observe: (active \(.*|unavailable: .+)\.$", log, re.M)
        ok(layer is not None and re.search(r"observe: (active, 0 violation\(s\)|unavailable)",
                                           ready.get("STATUS", "")),
           "the observe layer is reported active or unavailable with its reason", log)
        layer = re.search(r"Enforcement layer guard: (active \(.*|unavailable: .+)\.$", log, re.M)
        ok(layer is not None and re.search(r"guard: (active, 0 denial\(s\)|unavailable)", ready.get("STATUS", "")),
           "the BPF-LSM guard is reported active or unavailable with its reason", log)
        ok(re.search(r"Enforcement layer struct_ops: (unavailable: no memory-placement struct_ops in this kernel's "
                     r"BTF \(it offers: [^)]*\)|this kernel offers \w+)", log),
           "struct_ops is looked for in the kernel's BTF and reported", log)
        ok(re.search(r"Enforcement layer native-spm: (unavailable: no SPM/private-node support|this kernel has)", log),
           "native SPM support is looked for and reported", log)

        # one spmd per host: a second one (here without a bus, too) exits naming the first
        env2nd = dict(os.environ)
        env2nd.pop("NOTIFY_SOCKET", None)
        r = subprocess.run([SPMD, "--config", conf, "--log-target=console"], env=env2nd, capture_output=True,
                           text=True, timeout=20)
        ok(r.returncode == 1 and f"Another spmd already manages this host: pid {p.pid} (spmd) holds {state}/spmd.lock"
           in r.stderr and "Enforcement layer" not in r.stderr and p.poll() is None,
           "a second spmd exits 1 before doing anything, naming the first; the first runs on", r.stderr)
        ok(open(os.path.join(state, "spmd.lock")).read().strip() == str(p.pid), "the lock file holds the first's pid")

        n_before = sum(1 for m in notify.messages if m.get("WATCHDOG") == "1")
        time.sleep(0.6)
        notify.wait_for(lambda m: False, timeout=0.2)
        pings = sum(1 for m in notify.messages if m.get("WATCHDOG") == "1") - n_before
        ok(pings >= 3, f"WATCHDOG=1 at half of WATCHDOG_USEC ({pings} pings in 0.8 s)")

        # a reload with errors keeps the running configuration
        write(conf, PLANTED)
        p.send_signal(signal.SIGHUP)
        reloading = notify.wait_for(lambda m: m.get("RELOADING") == "1")
        ok(reloading is not None and "MONOTONIC_USEC" in reloading, "SIGHUP sends RELOADING=1 with MONOTONIC_USEC")
        after = notify.wait_for(lambda m: m.get("READY") == "1")
        status = (after or {}).get("STATUS", "")
        ok("Reload failed: 3 error(s)" in status and "1 SPM device rule(s)" in status,
           "a bad reload says why and keeps the old configuration", status)
        ok(p.poll() is None, "spmd still runs after a bad reload")
        err.flush()
        err.seek(0)
        log = err.read()
        ok(f"{conf}:2: [Daemon] LogLevel=loud" in log and f"{conf}:5:" in log and f"{conf}:7:" in log,
           "the bad reload logs every error with file:line", log)

        # a good reload takes effect
        write(conf, GOOD2)
        p.send_signal(signal.SIGHUP)
        after = notify.wait_for(lambda m: m.get("READY") == "1" and "reloaded" in m.get("STATUS", ""))
        ok(after is not None and "2 SPM device rule(s), 1 access rule(s)" in after["STATUS"],
           "a good reload takes effect", notify.messages[-3:])

        # drop-ins are read on reload too
        os.mkdir(conf + ".d")
        write(conf + ".d/50-more.conf", "[Access]\nGroup=wheel\n")
        p.send_signal(signal.SIGHUP)
        after = notify.wait_for(lambda m: m.get("READY") == "1" and "reloaded" in m.get("STATUS", ""))
        ok(after is not None and "2 access rule(s)" in after["STATUS"], "a reload reads new drop-ins",
           notify.messages[-3:])

        p.send_signal(signal.SIGTERM)
        stopping = notify.wait_for(lambda m: m.get("STOPPING") == "1")
        ok(stopping is not None, "SIGTERM sends STOPPING=1")
        rc = p.wait(timeout=10)
        ok(rc == 0, f"SIGTERM exits cleanly (status {rc})")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # SIGINT stops it as well
    err2 = open(os.path.join(tmp, "stderr2"), "w+")
    env2 = dict(os.environ, NOTIFY_SOCKET=notify.sock.getsockname())
    p = subprocess.Popen([SPMD, "--config", conf, "--log-target=console"], env=env2,
                         stdout=subprocess.DEVNULL, stderr=err2)
    notify.messages.clear()
    ready = notify.wait_for(lambda m: m.get("READY") == "1")
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=10)
    err2.seek(0)
    log2 = err2.read()
    ok(ready is not None and rc == 0 and "Received Interrupt" in log2, "SIGINT stops spmd cleanly", log2)

    failed = sum(1 for r in results if not r[0])
    print(f"1..{len(results)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
