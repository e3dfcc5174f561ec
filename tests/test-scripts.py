#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shell scripts (VM scenarios, their harness, scripts/): no negated command whose status
set -e ignores, and shellcheck's warnings. TAP.

set -e does not act on a command that starts with "!": "! cmd" only fails a function (or a
testcase's subshell) when it is the last command of it. Anywhere else it checks nothing; use
"(! cmd)" or assert_fails. Usage: test-scripts.py SOURCE_ROOT [FILE...] (FILE: check only these,
e.g. a planted example)."""
import os
import re
import shutil
import subprocess
import sys

root = sys.argv[1]
results = []


def ok(cond, name, detail=""):
    results.append(cond)
    print(f"{'ok' if cond else 'not ok'} {len(results)} - {name}")
    if not cond and detail:
        for line in detail.rstrip().splitlines():
            print(f"# {line}")


def shell_scripts():
    out = []
    for d in ("tests/vm", "scripts", "tests/dbus", "tests"):
        for f in sorted(os.listdir(os.path.join(root, d))):
            p = os.path.join(root, d, f)
            if not os.path.isfile(p):
                continue
            head = open(p, errors="replace").readline()
            if f.endswith(".sh") or ("sh" in head and head.startswith("#!") and "python" not in head):
                out.append(p)
    return out


def dead_negations(path):
    """Lines "! cmd" that are not the last command of their function (or file)."""
    lines = open(path, errors="replace").read().split("\n")
    found = []
    for i, line in enumerate(lines):
        if not re.match(r"^\s+! ", line):
            continue
        k = i
        while k < len(lines) - 1 and lines[k].rstrip().endswith("\\"):
            k += 1
        j = k + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].strip().startswith("#")):
            j += 1
        if j < len(lines) and lines[j].strip() == "}":
            continue
        found.append(f"{os.path.relpath(path, root)}:{i + 1}: {line.strip()}")
    return found


# The check itself can fail: a planted testcase with a negation in its middle is found,
# one whose negation is its last command, or is wrapped in a subshell, is not.
import tempfile
with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as planted:
    planted.write("testcase_a() {\n        ! false\n        true\n}\n"
                  "testcase_b() {\n        (! false)\n        ! false\n}\n")
found = dead_negations(planted.name)
os.unlink(planted.name)
ok(len(found) == 1 and found[0].endswith(":2: ! false"), "a planted '! cmd' in the middle of a testcase is found",
   "\n".join(found))

files = sys.argv[2:] or shell_scripts()
dead = [d for f in files for d in dead_negations(f)]
ok(not dead, f"no negated command that set -e ignores, in {len(files)} script(s) "
   "(use '(! cmd)' or assert_fails)", "\n".join(dead))

if len(sys.argv) > 2:
    pass  # a planted file: the negation check alone
elif not shutil.which("shellcheck"):
    print("# SKIP shellcheck: not installed (scripts/install-deps installs it)")
else:
    # SC2010 (ls | grep over names we made), SC2034 (a loop counter) and SC2054 (QEMU's
    # comma-separated options in arrays) are intended here; every other warning or error fails.
    r = subprocess.run(["shellcheck", "-s", "bash", "-x", "--severity=warning", "-e", "SC2010,SC2034,SC2054"] + files,
                       capture_output=True, text=True, cwd=root)
    ok(r.returncode == 0, f"shellcheck (warnings and errors) over {len(files)} script(s)", r.stdout + r.stderr)

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)
