#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spmctl's bus verbs link no BPF or device library: spmctl's ELF dependencies (readelf -d) hold
none of libbpf, libcxl, libdaxctl, libnuma, while spmctl-local, which runs the local verbs, holds
libcxl and libdaxctl (so the check sees what it looks for). TAP.
usage: test-spmctl-links.py SPMCTL SPMCTL-LOCAL"""
import re
import shutil
import subprocess
import sys

HEAVY = ("libbpf.so", "libcxl.so", "libdaxctl.so", "libnuma.so")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def main():
    if not shutil.which("readelf"):
        print("1..0 # SKIP no readelf (binutils)")
        return 0
    spmctl, local = sys.argv[1], sys.argv[2]
    print("1..2")
    ok = True
    libs = needed(spmctl)
    heavy = [n for n in libs if n.startswith(HEAVY)]
    print(f"# spmctl needs: {' '.join(libs)}")
    if heavy:
        ok = False
        print(f"not ok 1 - spmctl links {' '.join(heavy)}")
    else:
        print("ok 1 - spmctl links none of libbpf, libcxl, libdaxctl, libnuma")
    libs = needed(local)
    print(f"# spmctl-local needs: {' '.join(libs)}")
    want = [w for w in ("libcxl.so", "libdaxctl.so") if not any(n.startswith(w) for n in libs)]
    if want:
        ok = False
        print(f"not ok 2 - spmctl-local lacks {' '.join(want)}: the check would not see them")
    else:
        print("ok 2 - spmctl-local links libcxl and libdaxctl")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
