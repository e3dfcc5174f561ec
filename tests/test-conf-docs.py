#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference config and the man page describe exactly the keys spmd knows,
and the defaults written in config/spmd.conf are spmd's real defaults.

The key list and the defaults come from `spmd --check-config --dump-config`
on a config with one [Device], one [Access] and one [Grant], so a new key without
documentation, or a changed default, fails here. Prints TAP.
"""
import os
import re
import subprocess
import sys
import tempfile

spmd, reference, manpage = sys.argv[1:4]
n = 0
failed = 0


def check(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {name}")
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print(f"# {line}")


with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
    f.write("[Device]\nMatch=dax0.0\n[Access]\nUser=root\n[Grant]\nCgroup=/a.slice\n")
    minimal = f.name
dump = subprocess.run([spmd, "--check-config", minimal, "--dump-config"], capture_output=True, text=True,
                      check=True).stdout
os.unlink(minimal)

# (section, key) -> default, from the dump
defaults = {}
section = None
for line in dump.splitlines():
    m = re.match(r"^\[(\w+)\]$", line)
    if m:
        section = m.group(1)
    elif section and "=" in line and not line.startswith("#"):
        k, v = line.split("=", 1)
        if (section, k) in (("Device", "Match"), ("Access", "User"), ("Grant", "Cgroup")):
            continue  # the values we put in, not defaults
        defaults[(section, k)] = v
check(len(defaults) > 40, f"the dump lists the schema ({len(defaults)} keys)")

# (section, key) -> documented default, from "#Key=value" lines of the reference config
documented = {}
section = None
for line in open(reference):
    m = re.match(r"^#?\[(\w+)\]\s*$", line.strip())
    if m:
        section = m.group(1)
        continue
    m = re.match(r"^#(\w+)=(.*)$", line.strip())
    if m and section:
        documented.setdefault((section, m.group(1)), m.group(2))

for (sec, key), value in sorted(defaults.items()):
    if (sec, key) not in documented:
        check(False, f"config/spmd.conf documents [{sec}] {key}=")
        continue
    doc = documented[(sec, key)]
    # example values in the commented [Device]/[Access] blocks are examples, not defaults
    example_ok = sec in ("Device", "Access", "Grant") and key in ("Name", "Match", "Unit", "Cgroup", "User", "Group")
    # LogLevel: empty in the dump means "info unless --log-level"
    same = doc == value or example_ok or (sec, key) == ("Daemon", "LogLevel") and doc == "info" and value == ""
    check(same, f"config/spmd.conf: [{sec}] {key}={doc} is the real default", f"spmd's default: {key}={value}")

for key in documented:
    check(key in defaults or key in (("Device", "Match"), ("Access", "User"), ("Grant", "Cgroup")),
          f"config/spmd.conf documents only real keys: [{key[0]}] {key[1]}")

man = open(manpage).read()
for sec, key in sorted(defaults):
    check(f"*{key}=*" in man, f"spmd.conf(5) documents [{sec}] {key}=")
for sec in sorted({s for s, _ in defaults}):
    check(f"# [{sec}]" in man, f"spmd.conf(5) has a section for [{sec}]")

print(f"1..{n}")
sys.exit(1 if failed else 0)
