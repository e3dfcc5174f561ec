#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Try every route we know to place memory on NODE from the calling process
and count the pages that land there. Prints one line per route:

    route <name> <errno-or-ok> <pages-on-node>

Used by TEST-09-adversarial from a walled and from a granted cgroup.
Syscall numbers are x86_64's."""
import ctypes
import mmap
import os
import sys

NODE = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS = {"mbind": 237, "set_mempolicy": 238, "migrate_pages": 256, "move_pages": 279, "set_mempolicy_home_node": 450}
MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE = 0, 1, 2, 3
MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE = 5, 6
MPOL_MF_MOVE = 1 << 1
SIZE = 4 << 20
PAGE = 4096


def mask(*nodes):
    return ctypes.c_ulong(sum(1 << n for n in nodes))


def call(name, *args):
    r = libc.syscall(SYS[name], *args)
    return "ok" if r >= 0 else os.strerror(ctypes.get_errno()).replace(" ", "_")


def touch(buf):
    for off in range(0, len(buf), PAGE):
        buf[off] = 1


def addr(buf):
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def pages_on_node(buf):
    """move_pages(2) with nodes=NULL: where each page of buf is now."""
    n = len(buf) // PAGE
    base = addr(buf)
    pages = (ctypes.c_void_p * n)(*[base + i * PAGE for i in range(n)])
    status = (ctypes.c_int * n)()
    libc.syscall(SYS["move_pages"], 0, n, pages, None, status, 0)
    return sum(1 for s in status if s == NODE)


def reset_policy():
    libc.syscall(SYS["set_mempolicy"], MPOL_DEFAULT, None, 0)


def with_policy(mode, m):
    def route():
        res = call("set_mempolicy", mode, ctypes.byref(m), 64)
        buf = mmap.mmap(-1, SIZE)
        touch(buf)
        reset_policy()
        return res, pages_on_node(buf)
    return route


def mbind_move():
    buf = mmap.mmap(-1, SIZE)
    touch(buf)  # first on the default node, then asked to move
    res = call("mbind", ctypes.c_void_p(addr(buf)), SIZE, MPOL_BIND, ctypes.byref(mask(NODE)), 64, MPOL_MF_MOVE)
    return res, pages_on_node(buf)


def home_node():
    buf = mmap.mmap(-1, SIZE)
    a = ctypes.c_void_p(addr(buf))
    libc.syscall(SYS["mbind"], a, SIZE, MPOL_PREFERRED_MANY, ctypes.byref(mask(0, NODE)), 64, 0)
    res = call("set_mempolicy_home_node", a, SIZE, NODE, 0)
    touch(buf)
    return res, pages_on_node(buf)


def move_pages_self():
    buf = mmap.mmap(-1, SIZE)
    touch(buf)
    n = SIZE // PAGE
    base = addr(buf)
    pages = (ctypes.c_void_p * n)(*[base + i * PAGE for i in range(n)])
    nodes = (ctypes.c_int * n)(*([NODE] * n))
    status = (ctypes.c_int * n)()
    res = call("move_pages", 0, n, pages, nodes, status, 0)
    if res == "ok" and status[0] < 0:
        res = "status_" + os.strerror(-status[0]).replace(" ", "_")
    return res, pages_on_node(buf)


def migrate_pages_self():
    buf = mmap.mmap(-1, SIZE)
    touch(buf)
    res = call("migrate_pages", 0, 64, ctypes.byref(mask(0)), ctypes.byref(mask(NODE)))
    return res, pages_on_node(buf)


def fork_inherits():
    """A child forked after the parent asked for NODE: does the child get there?"""
    r, w = os.pipe()
    res = call("set_mempolicy", MPOL_BIND, ctypes.byref(mask(NODE)), 64)
    pid = os.fork()
    if pid == 0:
        buf = mmap.mmap(-1, SIZE)
        touch(buf)
        os.write(w, str(pages_on_node(buf)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    reset_policy()
    return res, int(os.read(r, 64) or b"0")


def shmem_policy():
    """A shared segment with a policy for NODE (set by whoever made it), faulted in here."""
    fd = os.memfd_create("spmd-route")
    os.ftruncate(fd, SIZE)
    buf = mmap.mmap(fd, SIZE)
    res = call("mbind", ctypes.c_void_p(addr(buf)), SIZE, MPOL_BIND, ctypes.byref(mask(NODE)), 64, 0)
    touch(buf)
    return res, pages_on_node(buf)


routes = [
    ("set_mempolicy_bind", with_policy(MPOL_BIND, mask(NODE))),
    ("set_mempolicy_preferred", with_policy(MPOL_PREFERRED, mask(NODE))),
    ("set_mempolicy_preferred_many", with_policy(MPOL_PREFERRED_MANY, mask(NODE))),
    ("set_mempolicy_interleave_all", with_policy(MPOL_INTERLEAVE, mask(0, NODE))),
    ("set_mempolicy_weighted_interleave", with_policy(MPOL_WEIGHTED_INTERLEAVE, mask(0, NODE))),
    ("mbind_bind_mf_move", mbind_move),
    ("set_mempolicy_home_node", home_node),
    ("move_pages_self", move_pages_self),
    ("migrate_pages_self", migrate_pages_self),
    ("fork_inherits", fork_inherits),
    ("shmem_policy", shmem_policy),
]
for name, route in routes:
    try:
        res, pages = route()
    except OSError as e:
        res, pages = "exception_" + e.strerror.replace(" ", "_"), 0
    print(f"route {name} {res} {pages}", flush=True)
