#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scripts/check-layering passes on the tree, and fails, naming the includes, on a copy of the
tree where one folder includes a header of a folder above it (so the check can fail), and on a
header name two folders share. TAP. Usage: test-layering.py SOURCE_ROOT"""
import os
import shutil
import subprocess
import sys
import tempfile

root = os.path.abspath(sys.argv[1])
tool = os.path.join(root, "scripts", "check-layering")
n, failed = 0, False

def ok(cond, what, out=""):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    if not cond:
        for line in out.splitlines():
            print(f"# {line}")
    failed |= not cond

def run(tree):
    p = subprocess.run([sys.executable, tool, tree], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr

rc, out = run(root)
ok(rc == 0, "the tree's folders include each other without a cycle", out)
order = [l.split("/:")[0] + "/" for l in out.splitlines() if "/: uses" in l]
ok(order.index("daemon/basic/") < order.index("daemon/shared/") < order.index("daemon/policy/")
   < order.index("daemon/core/") if {"daemon/basic/", "daemon/shared/", "daemon/policy/", "daemon/core/"} <= set(order)
   else False, "basic/, shared/, policy/ and core/ come in that order", out)

with tempfile.TemporaryDirectory() as tmp:
    copy = os.path.join(tmp, "src")
    shutil.copytree(os.path.join(root, "daemon"), os.path.join(copy, "daemon"))
    shutil.copytree(os.path.join(root, "spmctl"), os.path.join(copy, "spmctl"))
    victim = os.path.join(copy, "daemon", "basic", "strv.c")
    with open(victim, "a") as f:
        f.write('\n#include "manager.h"\n')
    rc, out = run(copy)
    ok(rc == 1 and "include cycle" in out and "daemon/basic/strv.c includes manager.h" in out,
       "a basic/ file including core/'s manager.h is a cycle, named by its include", out)
    os.remove(victim)
    shutil.copy(os.path.join(root, "daemon", "basic", "strv.c"), victim)
    shutil.copy(os.path.join(copy, "daemon", "basic", "strv.h"), os.path.join(copy, "daemon", "core", "strv.h"))
    rc, out = run(copy)
    ok(rc == 2 and "ambiguous: strv.h" in out, "a header name in two folders is refused", out)
print(f"1..{n}")
sys.exit(1 if failed else 0)
