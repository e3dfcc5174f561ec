#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""probe.py NODE: ask the kernel to bind the calling process to NODE
(set_mempolicy MPOL_BIND), allocate and touch 16 MiB, and count the pages
that landed on NODE. Prints

    set_mempolicy=<ok-or-error> pages_on_nodeN=<pages>

Used by TEST-07-cpuset and TEST-15-systemd from walled and granted cgroups.
Syscall numbers are x86_64's."""
import ctypes, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
node = int(sys.argv[1])
mask = ctypes.c_ulong(1 << node)
MPOL_BIND, SYS_set_mempolicy = 2, 238
r = libc.syscall(SYS_set_mempolicy, MPOL_BIND, ctypes.byref(mask), 64)
err = 0 if r == 0 else ctypes.get_errno()
buf = mmap.mmap(-1, 16 << 20)
for off in range(0, len(buf), 4096):
    buf[off] = 1
pages = 0
for line in open("/proc/self/numa_maps"):
    for f in line.split():
        if f.startswith("N%d=" % node):
            pages += int(f.split("=")[1])
print("set_mempolicy=%s pages_on_node%d=%d" % ("ok" if r == 0 else os.strerror(err), node, pages))
