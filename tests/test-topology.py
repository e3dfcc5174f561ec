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


overlays = tempfile.TemporaryDirectory()


def tree_root(tree):
    """A recorded tree as it is; a tree built from an ABI (a BASE file naming the recorded tree it
    starts from) as that tree with its own files laid over it."""
    root = os.path.join(fixtures, tree)
    base = os.path.join(root, "BASE")
    if not os.path.exists(base):
        return root
    merged = os.path.join(overlays.name, tree)
    shutil.copytree(os.path.join(fixtures, open(base).read().strip()), merged)
    shutil.copytree(os.path.join(root, "sys"), os.path.join(merged, "sys"), dirs_exist_ok=True)
    return merged


for tree in sorted(os.listdir(fixtures)):
    if not os.path.isdir(os.path.join(fixtures, tree)):
        continue
    live = json.load(open(os.path.join(fixtures, tree, "spmctl-nodes.json")))
    root = tree_root(tree)
    r, got = run(root)
    ok(got is not None, f"{tree}: read", r.stderr)
    if got is None:
        continue
    ok(len(got["nodes"]) == len(live["nodes"]), f"{tree}: {len(live['nodes'])} nodes", got["nodes"])
    for a, b in zip(got["nodes"], live["nodes"]):
        for key in ("node", "cpus", "size", "tier", "read_latency", "read_bandwidth", "distance", "kind"):
            ok(a[key] == b[key], f"{tree}: node {b['node']} {key} = {b[key]}", f"read {a[key]!r}")
        # private nodes (recorded trees predate the keys: no private node, no has_user_memory there)
        for key, default in (("private", False), ("user_placeable", None)):
            ok(a[key] == b.get(key, default), f"{tree}: node {b['node']} {key} = {b.get(key, default)}",
               f"read {a[key]!r}")
        # free memory moved a little between the live reading and the copy
        ok(abs(a["free"] - b["free"]) <= b["size"] // 50, f"{tree}: node {b['node']} free ~ {b['free']}",
           f"read {a['free']}")
    for key in ("numa", "memory_tiers", "demotion_enabled", "per_node_reclaim", "private_nodes",
                "has_public_memory", "has_user_memory", "has_private_memory"):
        want = live["kernel"].get(key, False)
        ok(got["kernel"][key] == want, f"{tree}: kernel {key} = {want}", f"read {got['kernel'][key]!r}")

    # what the native-spm layer reports: the names it found, or every name it looked for
    r = subprocess.run([dump, root, "--native-spm"], capture_output=True, text=True, timeout=30)
    k = live["kernel"]
    if k.get("private_nodes"):
        n_priv = sum(1 for x in live["nodes"] if x.get("private"))
        n_user = sum(1 for x in live["nodes"] if x.get("private") and x.get("user_placeable"))
        names = [nm for nm, on in (("node/has_public_memory", k.get("has_public_memory")),
                                   ("node/has_user_memory", k.get("has_user_memory")),
                                   ("node/has_private_memory (RFC v4)", k.get("has_private_memory"))) if on]
        ok(r.stdout.startswith("found: ") and all(nm in r.stdout for nm in names) and
           f"{n_priv} private node(s), {n_user} of them placeable by userspace" in r.stdout,
           f"{tree}: native-spm names {', '.join(names)}, {n_priv} private, {n_user} user-placeable", r.stdout)
    else:
        ok(r.stdout.startswith("none: ") and "has_public_memory" in r.stdout and "has_private_memory" in r.stdout
           and "spm_node" in r.stdout, f"{tree}: native-spm: none, naming the newer and the older names", r.stdout)

# Broken trees: no crash, an honest partial answer.
base = os.path.join(fixtures, sorted(d for d in os.listdir(fixtures)
                                     if os.path.isdir(os.path.join(fixtures, d)) and
                                     not os.path.exists(os.path.join(fixtures, d, "BASE")))[0])
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
