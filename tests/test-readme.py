#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""README's file list describes the tree as it is: every file of daemon/ is named in its
"- `daemon/`:" entry, and every file named there exists. TAP. Usage: test-readme.py SOURCE_ROOT"""
import os
import re
import sys

root = sys.argv[1]
text = open(os.path.join(root, "README.md")).read()
m = re.search(r"^- `daemon/`[,:](.*?)(?=^- `|^#|\Z)", text, re.M | re.S)
named = set()
if m:
    for tok in re.findall(r"`([\w.\-\[\]]+)`", m.group(1)):
        if tok.endswith(".[ch]"):
            named |= {tok[:-5] + ".c", tok[:-5] + ".h"}
        elif tok.endswith((".c", ".h")):
            named.add(tok)
tree = {f for f in os.listdir(os.path.join(root, "daemon")) if f.endswith((".c", ".h"))}
missing = sorted(tree - named)
stale = sorted(named - tree)
print("1..3")
print(f"{'ok' if m else 'not ok'} 1 - README has a file list for daemon/")
print(f"{'ok' if not missing else 'not ok'} 2 - every file of daemon/ is in it")
for f in missing:
    print(f"# not in README: daemon/{f}")
print(f"{'ok' if not stale else 'not ok'} 3 - every file it names exists")
for f in stale:
    print(f"# README names daemon/{f}, which does not exist")
sys.exit(1 if missing or stale or not m else 0)
