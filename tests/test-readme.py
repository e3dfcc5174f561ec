#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""README's file list describes the tree as it is: each C folder (daemon/*/, spmctl/) has an entry
"- `FOLDER/`:" naming every .c and .h file in it, and every file named there exists in that folder.
TAP. Usage: test-readme.py SOURCE_ROOT"""
import os
import re
import sys

root = sys.argv[1]
text = open(os.path.join(root, "README.md")).read()
folders = sorted(os.path.join("daemon", d) + "/" for d in os.listdir(os.path.join(root, "daemon"))
                 if os.path.isdir(os.path.join(root, "daemon", d))) + ["spmctl/"]

n, failed = 0, False
def ok(cond, what, notes=()):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    for x in notes:
        print(f"# {x}")
    failed |= not cond

for f in folders:
    m = re.search(r"^\s*- `" + re.escape(f) + r"`[,:](.*?)(?=^\s*- `|^#|\Z)", text, re.M | re.S)
    named = set()
    if m:
        for tok in re.findall(r"`([\w.\-\[\]]+)`", m.group(1)):
            if tok.endswith(".[ch]"):
                named |= {tok[:-5] + ".c", tok[:-5] + ".h"}
            elif tok.endswith((".c", ".h")):
                named.add(tok)
    tree = {x for x in os.listdir(os.path.join(root, f)) if x.endswith((".c", ".h"))}
    ok(m is not None, f"README has a file list for {f}")
    ok(not tree - named, f"every file of {f} is in it", [f"not in README: {f}{x}" for x in sorted(tree - named)])
    ok(not named - tree, f"every file it names is in {f}",
       [f"README names {f}{x}, which is not there" for x in sorted(named - tree)])
print(f"1..{n}")
sys.exit(1 if failed else 0)
