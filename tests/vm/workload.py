#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A granted workload for the VM scenarios: binds itself to a node, fills a
buffer with checksummed data, then answers commands on stdin, one a line:

  check   verify every MiB against its checksum: "intact N" or "corrupt I"
  where   "nodes N0=PAGES N1=PAGES ..." for the buffer (move_pages status)
  exit

usage: workload.py NODE MIB
"""
import ctypes
import hashlib
import mmap
import os
import sys

MIB = 1 << 20
MPOL_BIND = 2
SYS_set_mempolicy = 238
SYS_move_pages = 279

libc = ctypes.CDLL(None, use_errno=True)


def bind(node):
    mask = ctypes.c_ulong(1 << node)
    if libc.syscall(SYS_set_mempolicy, MPOL_BIND, ctypes.byref(mask), 64) != 0:
        sys.exit(f"set_mempolicy(MPOL_BIND, node {node}): {os.strerror(ctypes.get_errno())}")


def where(buf, size):
    """Pages of the buffer per node, asked of the kernel (nothing moves)."""
    n = size // 4096
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    pages = (ctypes.c_void_p * n)(*[base + i * 4096 for i in range(n)])
    status = (ctypes.c_int * n)()
    if libc.syscall(SYS_move_pages, 0, ctypes.c_ulong(n), pages, None, status, 0) != 0:
        return "error " + os.strerror(ctypes.get_errno())
    count = {}
    for s in status:
        key = f"N{s}" if s >= 0 else f"E{-s}"
        count[key] = count.get(key, 0) + 1
    return "nodes " + " ".join(f"{k}={v}" for k, v in sorted(count.items()))


def main():
    node, mib = int(sys.argv[1]), int(sys.argv[2])
    bind(node)
    size = mib * MIB
    buf = mmap.mmap(-1, size)
    sums = []
    for i in range(mib):
        chunk = os.urandom(MIB)
        buf[i * MIB:(i + 1) * MIB] = chunk
        sums.append(hashlib.sha1(chunk).digest())
    print("filled", mib, flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "check":
            bad = [i for i in range(mib) if hashlib.sha1(buf[i * MIB:(i + 1) * MIB]).digest() != sums[i]]
            print(f"corrupt {bad[0]}" if bad else f"intact {mib}", flush=True)
        elif cmd == "where":
            print(where(buf, size), flush=True)
        elif cmd == "exit":
            break
        else:
            print(f"unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
