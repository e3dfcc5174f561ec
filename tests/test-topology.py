#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Topology discovery on recorded sysfs trees (tests/fixtures/sysfs) must give
what spmctl reported live in the guest the tree was recorded in; broken trees
give an empty or partial answer, never a crash. Prints TAP."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

dump, fixtures = sys.argv[1:3]
n = failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {name}")
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print(f"# {line}")


def run(root):
    r = subprocess.run([dump, root], capture_output=True, text=True, timeout=30)
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


for tree in sorted(os.listdir(fixtures)):
    root = os.path.join(fixtures, tree)
    if not os.path.isdir(root):
        continue
    live = json.load(open(os.path.join(root, "spmctl-nodes.json")))
    r, got = run(root)
    ok(got is not None, f"{tree}: read", r.stderr)
    if got is None:
        continue
    ok(len(got["nodes"]) == len(live["nodes"]), f"{tree}: {len(live['nodes'])} nodes", got["nodes"])
    for a, b in zip(got["nodes"], live["nodes"]):
        for key in ("node", "cpus", "size", "tier", "read_latency", "read_bandwidth", "distance", "kind"):
            ok(a[key] == b[key], f"{tree}: node {b['node']} {key} = {b[key]}", f"read {a[key]!r}")
        # free memory moved a little between the live reading and the copy
        ok(abs(a["free"] - b["free"]) <= b["size"] // 50, f"{tree}: node {b['node']} free ~ {b['free']}",
           f"read {a['free']}")
    for key in ("numa", "memory_tiers", "demotion_enabled", "per_node_reclaim", "private_nodes"):
        ok(got["kernel"][key] == live["kernel"][key], f"{tree}: kernel {key} = {live['kernel'][key]}",
           f"read {got['kernel'][key]!r}")

# Broken trees: no crash, an honest partial answer.
base = os.path.join(fixtures, sorted(d for d in os.listdir(fixtures) if os.path.isdir(os.path.join(fixtures, d)))[0])
with tempfile.TemporaryDirectory() as tmp:
    t = os.path.join(tmp, "t")
    shutil.copytree(base, t)
    node = os.path.join(t, "sys/devices/system/node")
    open(os.path.join(node, "node1/distance"), "w").write("garbage\n")
    open(os.path.join(node, "node1/meminfo"), "w").write("")
    shutil.rmtree(os.path.join(t, "sys/devices/virtual/memory_tiering"))
    r, got = run(t)
    ok(got is not None and len(got["nodes"]) == 2, "broken node1 files: still two nodes", r.stdout + r.stderr)
    if got:
        n1 = got["nodes"][1]
        ok(n1["size"] == 0 and n1["distance"] == [0, 0] and n1["tier"] == -1,
           "broken node1 files: size 0, distances unknown, no tier", n1)
        ok(got["kernel"]["memory_tiers"] is False, "no memory_tiering directory: no tiers reported", got["kernel"])
    os.unlink(os.path.join(node, "online"))
    r, got = run(t)
    ok(got is not None and got["nodes"] == [], "no node/online: no nodes, and a warning", r.stdout + r.stderr)
    ok("Cannot read the online NUMA nodes" in r.stderr, "the warning names the file", r.stderr)

print(f"1..{n}")
sys.exit(1 if failed else 0)
