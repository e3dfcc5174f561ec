#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The D-Bus broker on a real dbus-daemon: org.spmd1 through busctl and through
python3-dbus (a second, independent client library), as root and as
unprivileged uids (setpriv), against spmd's own bus policy file.

This machine has no SPM node, so a grant cannot be handed out here: the
requests that pass authorisation end in org.spmd1.Error.NoSpmNodes. Grant
lifetime (disconnect, restart, cgroup removal, reload) is tested in the VM
(tests/vm/TEST-10-broker.sh). Prints TAP.

usage: test-broker.py SPMD SPMCTL POLICY INTROSPECTION-XML PRIVATE-BUS
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SPMD, SPMCTL, POLICY, XML, PRIVATE_BUS = sys.argv[1:6]
results = []


def ok(cond, name, detail=""):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + f" {len(results)} - {name}")
    if not cond and detail:
        for line in str(detail).splitlines()[-30:]:
            print(f"# {line}")
    sys.stdout.flush()


def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


if os.geteuid() != 0:
    skip_all("needs root: it runs clients as other uids and spmd owns a name only root may own")
for tool in ("dbus-daemon", "busctl", "setpriv"):
    if not shutil.which(tool):
        skip_all(f"unavailable: {tool} is not installed (scripts/install-deps installs it)")
try:
    import dbus
except ImportError:
    skip_all("unavailable: python3-dbus is not installed (scripts/install-deps installs it)")

tmp = tempfile.mkdtemp(prefix="spmd-broker-")
os.chmod(tmp, 0o755)
busdir = os.path.join(tmp, "bus")
address = subprocess.run([PRIVATE_BUS, busdir, POLICY], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[0]
# without the guid: a bus daemon started again at this path is the same system bus to its clients
address = re.sub(r",guid=[0-9a-f]+", "", address)
bus_pid = int(open(os.path.join(busdir, "pid")).read().split()[0])
env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address

CONF = os.path.join(tmp, "spmd.conf")
STATE = os.path.join(tmp, "state")
BASE = f"""[Daemon]
StateDirectory={STATE}
BpfPinDirectory={tmp}/pins
[Enforcement]
Cpuset=no
Observe=no
CgroupGuard=no
TaskMoveMemory=no
"""
RULE = """[Access]
Name=batch
User=nobody
Cgroup=/jobs/*
"""
open(CONF, "w").write(BASE + RULE)
log = open(os.path.join(tmp, "spmd.log"), "w+")
spmd = None


def start_spmd():
    global spmd
    spmd = subprocess.Popen([SPMD, "--config", CONF, "--log-target=console", "--log-level=debug"], stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    for _ in range(100):
        r = subprocess.run(["busctl", "--system", "status", "org.spmd1"], capture_output=True, env=env)
        if r.returncode == 0:
            return True
        if spmd.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def spmd_log():
    log.flush()
    return open(log.name).read()


def busctl(*args, uid=None):
    cmd = ["busctl", "--system"] + list(args)
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def spmctl(*args, uid=None):
    cmd = [SPMCTL] + list(args)
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def as_uid(uid, code):
    """Run python-dbus code as another uid; returns (exit, stdout+stderr)."""
    prog = "import dbus, sys\nbus = dbus.SystemBus()\nm = dbus.Interface(bus.get_object('org.spmd1', " \
           "'/org/spmd1'), 'org.spmd1.Manager')\n" + code
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c", prog]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r.returncode, r.stdout + r.stderr


def dbus_error(fn):
    try:
        fn()
    except dbus.exceptions.DBusException as e:
        return e.get_dbus_name(), e.get_dbus_message()
    return None, None


try:
    ok(start_spmd(), "spmd owns org.spmd1 on a private system bus with spmd's own policy file", spmd_log())
    ok("Broker: active" in spmd_log(), "spmd reports the broker layer active", spmd_log())

    # ---- introspection: what busctl shows is what docs/org.spmd1.Manager.xml documents ----
    r = busctl("introspect", "--xml-interface", "org.spmd1", "/org/spmd1")
    live = ET.fromstring(r.stdout)
    shipped = ET.parse(XML).getroot()

    def members(root, iface):
        for i in root.iter("interface"):
            if i.get("name") == iface:
                out = set()
                for m in i:
                    sig = ",".join(f"{a.get('direction', '')}{a.get('type')}" for a in m.iter("arg"))
                    out.add((m.tag, m.get("name"), sig or m.get("type", "")))
                return out
        return set()

    lm, sm = members(live, "org.spmd1.Manager"), members(shipped, "org.spmd1.Manager")
    ok(lm and lm == sm, "busctl introspect shows exactly the org.spmd1.Manager API shipped in the XML",
       f"live only: {sorted(lm - sm)}\nshipped only: {sorted(sm - lm)}")
    for name in ("RequestAccess", "ReleaseAccess", "ListGrants", "ListNodes", "ListDevices", "GetStatus", "Reload",
                 "GrantAdded", "GrantRemoved", "Violation", "EnforcementLayers"):
        if not any(m[1] == name for m in lm):
            ok(False, f"introspection has {name}")
    r = busctl("introspect", "org.spmd1", "/org/spmd1")
    ok(r.returncode == 0 and ".RequestAccess" in r.stdout and "sauta{sv}" in r.stdout,
       "busctl introspect (table) shows RequestAccess(sauta{sv})", r.stdout + r.stderr)

    # ---- read-only methods: busctl and python-dbus agree with the machine ----
    bus = dbus.SystemBus()
    mgr = dbus.Interface(bus.get_object("org.spmd1", "/org/spmd1"), "org.spmd1.Manager")
    props = dbus.Interface(bus.get_object("org.spmd1", "/org/spmd1"), "org.freedesktop.DBus.Properties")
    nodes = mgr.ListNodes()
    sys_nodes = sorted(int(d[4:]) for d in os.listdir("/sys/devices/system/node") if re.fullmatch(r"node\d+", d))
    ok(sorted(int(n[0]) for n in nodes) == sys_nodes and not any(bool(n[1]) for n in nodes),
       "ListNodes lists the nodes in sysfs, none of them SPM", f"{nodes} vs {sys_nodes}")
    size0 = [int(n[3]) for n in nodes if int(n[0]) == sys_nodes[0]][0]
    meminfo = open(f"/sys/devices/system/node/node{sys_nodes[0]}/meminfo").read()
    total_kb = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1))
    ok(abs(size0 - total_kb * 1024) <= 64 << 20, "ListNodes' size matches the node's MemTotal",
       f"{size0} vs {total_kb * 1024}")
    r = busctl("call", "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "ListNodes")
    ok(r.returncode == 0 and r.stdout.startswith(f"a(ubuttis) {len(sys_nodes)} "),
       "busctl ListNodes returns the same number of nodes", r.stdout + r.stderr)
    devs = mgr.ListDevices()
    n_dax = len(os.listdir("/sys/bus/dax/devices")) if os.path.isdir("/sys/bus/dax/devices") else 0
    ok(len(devs) == n_dax, f"ListDevices lists the {n_dax} dax device(s) of this machine", str(devs))
    st = mgr.GetStatus()
    version = subprocess.run([SPMD, "--version"], capture_output=True, text=True).stdout.split()[-1]
    ok(st["Version"] == version and st["ConfigPath"] == CONF and int(st["Grants"]) == 0 and
       len(st["EnforcementLayers"]) == 6, "GetStatus: version, config path, no grants, six layers", str(st))
    layers = {str(l[0]): (str(l[1]), str(l[2])) for l in props.Get("org.spmd1.Manager", "EnforcementLayers")}
    ok(layers.get("cpuset") == ("off", "Cpuset=no") and layers["broker"][0] == "active" and
       layers["struct_ops"][0] == "unavailable" and layers["struct_ops"][1],
       "EnforcementLayers property: each layer with its state and reason", str(layers))
    # the loop's own dispatches: at least those that served the calls above, the longest no shorter
    # than the p99, both under the watchdog's 30 s
    loop = mgr.GetStatus()
    ok(int(loop["LoopDispatches"]) >= 3 and 0 < int(loop["LoopLatencyP99USec"]) <= int(loop["LoopLatencyMaxUSec"])
       < 30_000_000, "GetStatus: the event loop's dispatch count, p99 and longest over the last minute", str(loop))
    ok(props.Get("org.spmd1.Manager", "Version") == version and int(props.Get("org.spmd1.Manager", "NGrants")) == 0,
       "Version and NGrants properties")
    ok(list(mgr.ListGrants()) == [], "ListGrants: none")
    r = spmctl("status")
    ok(r.returncode == 0 and re.search(r"broker\s+active", r.stdout) and re.search(r"cpuset\s+off\s+Cpuset=no", r.stdout),
       "spmctl status lists each layer with state and reason", r.stdout + r.stderr)
    first = r.stdout.splitlines()[0] if r.stdout else ""
    ok(re.match(rf"● spmd {re.escape(version)}: running for [0-9]+ (s|min [0-9]+ s)$", first)
       and re.search(r"^ +Config: .*spmd.conf \(0 reload\(s\), 0 failed\)$", r.stdout, re.M)
       and re.search(r"^ +SPM nodes: - \(0 device\(s\) online", r.stdout, re.M)
       and re.search(r"^ +Event loop: longest dispatch [0-9.]+ ms, p99 [0-9.]+ ms over the last minute "
                     r"\([1-9][0-9]* dispatch\(es\)\)$", r.stdout, re.M)
       and "USec" not in r.stdout and "RootCgroupProcesses" not in r.stdout,
       "spmctl status reads like systemctl status: a header with the state, labelled values in human units",
       r.stdout)
    r = spmctl("--json", "status")
    import json
    try:
        js = json.loads(r.stdout)
    except ValueError:
        js = {}
    ok(r.returncode == 0 and js.get("Version") == version and len(js.get("EnforcementLayers", [])) == 6
       and js.get("SpmNodes") == [], "spmctl --json status parses; SpmNodes is an array", r.stdout + r.stderr)
    r = spmctl("grants", uid=65534)
    ok(r.returncode == 0 and "0 grant(s)" in r.stdout, "an unprivileged uid may list grants", r.stdout + r.stderr)

    # ---- spmctl's edges: what the man page says is what it does ----
    r = spmctl("top", "--json", "-n", "1")
    try:
        top = json.loads(r.stdout)
    except ValueError:
        top = {}
    ok(r.returncode == 0 and top.get("nodes") == [] and "usec" in top, "spmctl top --json: one JSON object",
       r.stdout + r.stderr)
    r = spmctl("request", "--cgroup", "/jobs/a", "--unit", "b.service")
    ok(r.returncode == 2 and "give one of them" in r.stderr, "request --cgroup X --unit Y: a usage error",
       r.stderr)
    r = spmctl("request", "--node", "5000")
    ok(r.returncode == 2 and "out of range (nodes are 0 to 1023)" in r.stderr, "--node 5000 names the range",
       r.stderr)
    if not os.path.exists("/run/systemd/system"):
        # no systemd here: the cgroupfs path; a failure (here: no cgroup v2 at /sys/fs/cgroup, or no SPM
        # node to grant) leaves no directory and no file behind
        before = set(os.listdir("/sys/fs/cgroup"))
        r = spmctl("run", "--", "true")
        ok(r.returncode == 1 and set(os.listdir("/sys/fs/cgroup")) == before,
           "spmctl run that fails leaves nothing in /sys/fs/cgroup", r.stderr)
    r = spmctl("device", "release", "dax0.0", uid=65534)
    ok(r.returncode == 4 and "device release needs root" in r.stderr, "device release as uid 65534: needs root",
       r.stderr)
    mon = subprocess.Popen([SPMCTL, "--json", "monitor"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    for _ in range(100):  # subscribed once it says so on stderr
        if mon.stderr.readline().startswith("Following"):
            break
    spmctl("reload")
    time.sleep(0.5)
    mon.terminate()
    out = mon.communicate(timeout=10)[0]
    events = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    changed = [e for e in events if e.get("signal") == "PropertiesChanged"]
    ok(changed and changed[0].get("interface") == "org.spmd1.Manager"
       and isinstance(changed[0].get("changed", {}).get("EnforcementLayers"), list)
       and changed[0]["changed"].get("SpmNodes") == [],
       "monitor --json: PropertiesChanged with the interface and the changed values", out)

    # ---- RequestAccess: authorisation first, then the arguments ----
    code, out = as_uid(1, "m.RequestAccess('', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "org.freedesktop.DBus.Error.AccessDenied" in out and "no [Access] rule admits uid 1" in out,
       "uid 1 without a rule: AccessDenied naming the missing rule (python-dbus)", out)
    r = spmctl("request", "--cgroup", "/jobs/a", uid=1)
    ok(r.returncode == 4 and "no [Access] rule admits uid 1" in r.stderr, "spmctl request as uid 1: exit 4, says why",
       f"{r.returncode}\n{r.stderr}")
    code, out = as_uid(65534, "m.RequestAccess('/', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "root cgroup cannot hold a grant" in out, "the root cgroup is refused",
       out)
    code, out = as_uid(65534, "m.RequestAccess('x/y', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "neither a cgroup path" in out, "a target that is neither path nor unit",
       out)
    code, out = as_uid(65534, "m.RequestAccess('/a/../b', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "is not a cgroup path" in out, "'..' in a cgroup path", out)
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([5000], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "Node 5000 is out of range" in out, "an out-of-range node", out)
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({'colour': dbus.Boolean(True)}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "Unknown option 'colour'" in out, "an unknown option is named", out)
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({'persistent': 'yes'}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "'persistent' takes a boolean" in out, "an option of the wrong type",
       out)
    r = busctl("call", "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "RequestAccess", "s", "x", uid=65534)
    ok(r.returncode != 0, "busctl RequestAccess with the wrong signature is refused", r.stdout + r.stderr)
    # admitted, well-formed, but nothing to grant on this machine
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "org.spmd1.Error.NoSpmNodes" in out and "no SPM nodes" in out,
       "nobody for /jobs/a: passes the rule, then NoSpmNodes (this machine has none)", out)
    r = busctl("call", "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "RequestAccess", "sauta{sv}", "/jobs/a",
               "0", "0", "0")
    ok(r.returncode != 0 and "no SPM nodes" in r.stderr, "root via busctl: NoSpmNodes too", r.stdout + r.stderr)

    # ---- who is calling: established or refused, never guessed ----
    FORKER = r"""
import dbus, os, sys, time
bus = dbus.SystemBus()
m = dbus.Interface(bus.get_object('org.spmd1', '/org/spmd1'), 'org.spmd1.Manager')
time.sleep(0.1)         # start times are in clock ticks (10 ms): a pid reused within one tick is not told apart
if os.fork():
    print(os.getpid(), flush=True)
    os._exit(0)
sys.stdin.readline()    # the connecting process is gone: go on with its connection
try:
    m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))
    print('no error')
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
"""

    def forked_client(reuse):
        """A client connects, forks and exits; its child asks with the connection. With reuse,
        a new process of the same uid gets the connecting process's pid first (ns_last_pid)."""
        p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                              FORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env)
        line = p.stdout.readline()
        if not line.strip().isdigit():
            p.kill()
            return line + p.stdout.read(), None
        first = int(line)
        os.waitpid(first, 0)  # the connecting process is ours (setpriv execs): reap it, its pid is free now
        squatter, got = None, None
        if reuse:
            for _ in range(20):
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(first - 1))
                squatter = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                             "sleep", "30"])
                if squatter.pid == first:
                    got = first
                    for _ in range(200):  # setpriv has changed uid and run sleep
                        if open(f"/proc/{got}/comm").read().strip() == "sleep":
                            break
                        time.sleep(0.01)
                    break
                squatter.kill()
                squatter.wait()
        p.stdin.write("go\n")
        p.stdin.flush()
        out = p.stdout.read()
        p.wait()
        if squatter:
            squatter.kill()
            squatter.wait()
        return out, got

    out, _ = forked_client(False)
    ok("org.freedesktop.DBus.Error.AccessDenied" in out and "had exited when spmd first heard from it" in out,
       "a client that forks and exits before asking: refused, saying its process is gone", out)
    if os.path.exists("/proc/sys/kernel/ns_last_pid"):
        out, got = forked_client(True)
        if got:
            ok("org.freedesktop.DBus.Error.AccessDenied" in out and "its pid was reused" in out,
               f"pid {got} reused by another process of the same uid before the first request: refused",
               out + "\n".join(l for l in spmd_log().splitlines() if "Caller pid" in l or "connected" in l)[-1500:])
        else:
            print("# SKIP pid reuse: could not hand the exited client's pid to a new process here")
    ok(re.search(r"Refused a grant to uid 65534 \(pid [0-9]+\): The process that opened", spmd_log()),
       "the refusal is logged with its reason", spmd_log()[-1500:])

    # ---- bounded under abuse: replies quote a bounded prefix, refusals are logged at a bounded rate ----
    code, out = as_uid(65534, f"m.RequestAccess('/a/../' + 'x' * {1 << 20}, dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "InvalidArgs" in out and "(1048582 bytes)" in out and len(out) < 4096,
       "a 1 MiB target: InvalidArgs quoting 64 bytes of it", out[:300])
    before = spmd_log().count("Refused a grant to uid 1 ")
    code, out = as_uid(1, "for _ in range(200):\n    try:\n        m.RequestAccess('/jobs/a', dbus.Array([], 'u'), "
                          "dbus.UInt64(0), dbus.Dictionary({}, 'sv'))\n    except dbus.exceptions.DBusException:\n"
                          "        pass\nprint('done')")
    time.sleep(1.2)
    as_uid(1, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))")
    logged = spmd_log().count("Refused a grant to uid 1 ") - before
    ok("done" in out and logged <= 30 and re.search(r"[0-9]+ more refused request\(s\) in the last second", spmd_log()),
       f"200 refused requests: {logged} logged one by one, the rest counted", spmd_log()[-800:])

    # ---- who is calling: asked of the bus daemon once per connection, forgotten when it leaves ----
    def pidfds():
        n = 0
        for fd in os.listdir(f"/proc/{spmd.pid}/fd"):
            try:
                n += os.readlink(f"/proc/{spmd.pid}/fd/{fd}") == "anon_inode:[pidfd]"
            except OSError:
                pass
        return n

    spmd_name = str(dbus.SystemBus().get_name_owner("org.spmd1"))
    mon = subprocess.Popen(["busctl", "--system", "--json=short", "monitor", "--match",
                            "type='method_call',interface='org.freedesktop.DBus',member='GetConnectionCredentials'"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    seen = False
    # the monitor is on the bus once it shows a call of ours
    for _ in range(50):
        busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
               "GetConnectionCredentials", "s", spmd_name)
        if select.select([mon.stdout], [], [], 0.2)[0]:
            seen = bool(mon.stdout.readline())
            break
    fds_before = pidfds()
    many = 150
    clients = subprocess.Popen([sys.executable, "-c", r"""
import dbus, sys
conns = [dbus.bus.BusConnection(sys.argv[1]) for _ in range(int(sys.argv[2]))]
for _ in range(2):
    for c in conns:
        m = dbus.Interface(c.get_object('org.spmd1', '/org/spmd1'), 'org.spmd1.Manager')
        try:
            m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), dbus.Dictionary({}, 'sv'))
        except dbus.exceptions.DBusException:
            pass
print('done', len(conns), flush=True)
sys.stdin.readline()
""", address, str(many)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    done = clients.stdout.readline()
    fds_connected = pidfds()
    clients.communicate("\n", timeout=30)
    # the bus daemon's last word on them has reached spmd when a call after it is answered
    for _ in range(50):
        mgr.GetStatus()
        if pidfds() <= fds_before:
            break
        time.sleep(0.1)
    fds_after = pidfds()
    mon.terminate()
    out = mon.communicate(timeout=10)[0]
    asked = 0
    for line in out.splitlines():
        try:
            asked += json.loads(line).get("sender") == spmd_name
        except ValueError:
            pass
    ok(seen and done.startswith(f"done {many}") and asked == many,
       f"{many} clients asking twice each, in turn: spmd asked the bus who they are {many} times",
       f"asked {asked} times; {done}")
    ok(fds_connected >= fds_before + many and fds_after <= fds_before,
       f"a pidfd each while they are connected, closed once they left ({fds_before} before, {fds_connected} "
       f"connected, {fds_after} after)")

    # ---- ReleaseAccess, ReleaseDevice ----
    name, msg = dbus_error(lambda: mgr.ReleaseAccess(dbus.ObjectPath("/org/spmd1/grant/77")))
    ok(name == "org.spmd1.Error.NoSuchGrant" and "/org/spmd1/grant/77" in msg, "releasing a grant that does not exist",
       f"{name}: {msg}")
    r = spmctl("release", "77")
    ok(r.returncode == 1 and "No grant /org/spmd1/grant/77" in r.stderr, "spmctl release 77: exit 1, says why",
       r.stderr)
    r = spmctl("release", "seventy")
    ok(r.returncode == 2, "spmctl release with a malformed id: usage error", r.stderr)
    code, out = as_uid(1, "m.ReleaseDevice('dax0.0')")
    ok(code != 0 and "AccessDenied" in out and "ReleaseDevice is for root only" in out,
       "ReleaseDevice as uid 1: AccessDenied", out)
    name, msg = dbus_error(lambda: mgr.ReleaseDevice("dax9.9"))
    ok(name == "org.freedesktop.DBus.Error.InvalidArgs" and "dax9.9: no such dax device" in msg,
       "ReleaseDevice of a device that does not exist", f"{name}: {msg}")

    # ---- Reload: root only; a bad policy keeps the running one and says where it is wrong ----
    code, out = as_uid(1, "m.Reload()")
    ok(code != 0 and "AccessDenied" in out and "Reload is for root only (caller uid 1)" in out,
       "Reload as uid 1: AccessDenied", out)
    reloads = int(mgr.GetStatus()["Reloads"])  # the monitor test above reloaded once
    open(CONF, "w").write(BASE + RULE + "[Access]\nName=broken\nUser=nobody\nMaxBytes=lots\n")
    name, msg = dbus_error(lambda: mgr.Reload())
    ok(name == "org.spmd1.Error.ReloadFailed" and f"{CONF}:" in (msg or "") and "MaxBytes" in (msg or ""),
       "Reload of a broken policy: ReloadFailed naming file, line and key", f"{name}: {msg}")
    st = mgr.GetStatus()
    ok(int(st["FailedReloads"]) == 1 and int(st["Reloads"]) == reloads, "the failed reload is counted, nothing else changed",
       str(st))
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok("AccessDenied" not in out, "the running policy still admits nobody after the failed reload", out)
    open(CONF, "w").write(BASE)
    r = spmctl("reload")
    ok(r.returncode == 0 and int(mgr.GetStatus()["Reloads"]) == reloads + 1, "spmctl reload of a good policy", r.stderr)
    code, out = as_uid(65534, "m.RequestAccess('/jobs/a', dbus.Array([], 'u'), dbus.UInt64(0), "
                              "dbus.Dictionary({}, 'sv'))")
    ok(code != 0 and "no [Access] rule admits uid 65534" in out, "after dropping the rule nobody is refused", out)


    # ---- metrics: a Prometheus text exposition, checked by prometheus_client's own parser ----
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None
    if text_string_to_metric_families is None:
        print("# SKIP metrics parser: python3-prometheus-client is not installed (scripts/install-deps installs it)")
    else:
        def parse_metrics(text):
            samples = {}
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
            return samples
        r = spmctl("metrics")
        try:
            got = parse_metrics(r.stdout)
        except Exception as e:  # the parser's verdict is the test
            got = {("parse error", ()): str(e)}
        ok(r.returncode == 0 and got.get(("spmd_up", ())) == 1
           and got.get(("spmd_info", (("version", version),))) == 1
           and got.get(("spmd_layer_state", (("layer", "broker"), ("state", "active")))) == 1
           and got.get(("spmd_layer_state", (("layer", "cpuset"), ("state", "active")))) == 0
           and got.get(("spmd_layer_state", (("layer", "cpuset"), ("state", "off")))) == 1
           and got.get(("spmd_grants", (("source", "dbus"),))) == 0
           and ("spmd_reloads_total", ()) in got and ("spmd_denials_total", ()) in got
           and got.get(("spmd_loop_dispatches", ()), 0) > 0
           and 0 < got.get(("spmd_loop_dispatch_p99_seconds", ()), 0) <= got.get(("spmd_loop_dispatch_max_seconds", ()), 0),
           "spmctl metrics: valid Prometheus text with spmd_up 1, the layers and counters", r.stdout + r.stderr)
        prom = os.path.join(tmp, "spmd.prom")
        r = spmctl("metrics", "--output", prom)
        ok(r.returncode == 0 and parse_metrics(open(prom).read()).get(("spmd_up", ())) == 1
           and not [f for f in os.listdir(tmp) if f.endswith(".tmp")],
           "spmctl metrics --output writes the file whole (renamed into place, nothing left over)", r.stderr)

    # ---- the bus daemon goes away and comes back: spmd is on it again by itself ----
    os.kill(bus_pid, signal.SIGTERM)
    for _ in range(100):
        if not os.path.exists(f"/proc/{bus_pid}"):
            break
        time.sleep(0.05)
    r = spmctl("-c", CONF, "status")
    ok(r.returncode == 3 and f"spmd runs (pid {spmd.pid}) but is not on the system bus" in r.stderr,
       "spmctl status while the bus is down: spmd runs but has no bus, named apart from 'not running'",
       f"{r.returncode}\n{r.stderr}")
    time.sleep(2.5)  # a few attempts fail meanwhile: logged once, not each time
    sock = os.path.join(busdir, "system_bus_socket")
    if os.path.exists(sock):
        os.unlink(sock)
    subprocess.run([PRIVATE_BUS, busdir, POLICY], check=True, capture_output=True)
    bus_pid = int(open(os.path.join(busdir, "pid")).read().split()[0])
    t0 = time.monotonic()
    back = False
    while time.monotonic() - t0 < 15 and not back:
        back = busctl("status", "org.spmd1").returncode == 0
        time.sleep(0.1)
    took = time.monotonic() - t0
    ok(back and spmd.poll() is None, f"the bus daemon restarted: spmd owns org.spmd1 again ({took:.1f} s)",
       spmd_log()[-1500:])
    ok(re.search(r"Lost the connection to the system bus", spmd_log())
       and re.search(r"Broker: active \(org.spmd1 on the system bus\), back on the bus", spmd_log())
       and spmd_log().count("Broker: unavailable") == 1,
       "the loss and the return are logged, the failed attempts between them once", spmd_log()[-1500:])
    r = busctl("call", "org.spmd1", "/org/spmd1", "org.spmd1.Manager", "RequestAccess", "sauta{sv}", "/jobs/a", "0",
               "0", "0")
    ok(r.returncode != 0 and "There are no SPM nodes" in r.stderr,
       "a RequestAccess after the return reaches the broker (no SPM node on this machine to grant)", r.stderr)
    r = spmctl("-c", CONF, "status")
    ok(r.returncode == 0, "spmctl status answers again", r.stderr)

    # ---- spmctl without spmd ----
    spmd.send_signal(signal.SIGTERM)
    spmd.wait(timeout=10)
    r = spmctl("-c", CONF, "status")
    ok(r.returncode == 3 and "spmd is not running" in r.stderr and "runs" not in r.stderr,
       "spmctl status without spmd: exit 3, says so",
       f"{r.returncode}\n{r.stderr}")
    if text_string_to_metric_families:
        r = spmctl("metrics")
        fams = {f.name: f for f in text_string_to_metric_families(r.stdout)}
        ok(r.returncode == 0 and fams["spmd_up"].samples[0].value == 0 and len(fams) == 1,
           "spmctl metrics without spmd: exit 0, spmd_up 0 (a textfile stays valid)", r.stdout + r.stderr)

    # ---- a damaged state file: the bad line is named and dropped, spmd runs ----
    os.makedirs(STATE, exist_ok=True)
    open(os.path.join(STATE, "grants"), "w").write("# header\nid=3\tcgroup=relative\tnodes=1\n")
    ok(start_spmd(), "spmd starts with a damaged grants file", spmd_log())
    ok(re.search(r"grants:2: dropped an unreadable grant: cgroup=relative is not a cgroup path", spmd_log()),
       "the damaged line is reported with file, line and reason", spmd_log()[-2000:])
finally:
    if spmd and spmd.poll() is None:
        spmd.send_signal(signal.SIGTERM)
        try:
            spmd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            spmd.kill()
    os.kill(bus_pid, signal.SIGTERM)
    shutil.rmtree(tmp, ignore_errors=True)

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)
