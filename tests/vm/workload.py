#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A granted workload for the VM scenarios: binds itself to a node (or, with
NODE "any", takes the kernel's default placement), fills a buffer with
checksummed data, then answers commands on stdin, one a line:

  check     verify every MiB against its checksum: "intact N" or "corrupt I"
  where     "nodes N0=PAGES N1=PAGES ..." for the buffer (move_pages status)
  wherehot  the same for the hot buffer
  heat      from now on touch the buffer too, as the hot one: "heating"
  addrs     "addrs COLD HOT": where the buffers start (0 for no hot buffer)
  exit

With HOT_MIB, a second buffer of that size is filled too and a thread reads
one byte of each of its pages over and over: DAMON sees it accessed, and the
first buffer, which nothing touches, cold. "check" covers both.

usage: workload.py NODE|any MIB [HOT_MIB]
"""
import ctypes
import hashlib
import mmap
import os
import sys
import threading
import time

MIB = 1 << 20
MPOL_BIND = 2
SYS_set_mempolicy = 238
SYS_move_pages = 279

libc = ctypes.CDLL(None, use_errno=True)


def bind(node):
    mask = ctypes.c_ulong(1 << node)
    if libc.syscall(SYS_set_mempolicy, MPOL_BIND, ctypes.byref(mask), 64) != 0:
        sys.exit(f"set_mempolicy(MPOL_BIND, node {node}): {os.strerror(ctypes.get_errno())}")


def addr(buf):
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


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


def fill(mib):
    # private anonymous memory, as a heap is (mmap.mmap(-1, n) alone would be shared: shmem)
    buf = mmap.mmap(-1, mib * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    sums = []
    for i in range(mib):
        chunk = os.urandom(MIB)
        buf[i * MIB:(i + 1) * MIB] = chunk
        sums.append(hashlib.sha1(chunk).digest())
    return buf, sums


def toucher(bufs):
    """Read a byte of every page of the buffers in bufs, for ever (a list: heat adds one)."""
    while True:
        for buf in list(bufs):
            for off in range(0, len(buf), 4096):
                buf[off]
        time.sleep(0.005)


def check(buf, sums):
    return [i for i in range(len(sums)) if hashlib.sha1(buf[i * MIB:(i + 1) * MIB]).digest() != sums[i]]


def main():
    mib = int(sys.argv[2])
    hot_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if sys.argv[1] != "any":
        bind(int(sys.argv[1]))
    size = mib * MIB
    buf, sums = fill(mib)
    hot, hot_sums = fill(hot_mib) if hot_mib else (None, [])
    touched = [hot] if hot else []
    if hot:
        threading.Thread(target=toucher, args=(touched,), daemon=True).start()
    print("filled", mib, flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "check":
            bad = check(buf, sums) + (check(hot, hot_sums) if hot else [])
            print(f"corrupt {bad[0]}" if bad else f"intact {mib + hot_mib}", flush=True)
        elif cmd == "where":
            print(where(buf, size), flush=True)
        elif cmd == "wherehot" and hot:
            print(where(hot, hot_mib * MIB), flush=True)
        elif cmd == "addrs":
            print(f"addrs {addr(buf):#x} {addr(hot) if hot else 0:#x}", flush=True)
        elif cmd == "heat":
            if not hot:
                threading.Thread(target=toucher, args=(touched,), daemon=True).start()
            touched.append(buf)
            print("heating", flush=True)
        elif cmd == "exit":
            break
        else:
            print(f"unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
