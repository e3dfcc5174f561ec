#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""clone_into.py CGROUP_DIR [COMMAND...]: start COMMAND (default: true) as a child created
directly in CGROUP_DIR by clone3(CLONE_INTO_CGROUP), with an O_PATH fd of the directory, as a
container runtime does. No cgroupfs file is opened for writing. Prints "clone3: ok" and exits
with the child's status, or prints "clone3: <error>" and exits 1."""
import ctypes
import os
import struct
import sys

SYS_clone3 = 435
CLONE_INTO_CGROUP = 0x200000000
SIGCHLD = 17

path = sys.argv[1]
cmd = sys.argv[2:] or ["true"]
fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
# struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
# set_tid, set_tid_size, cgroup (all __u64)
args = struct.pack("=11Q", CLONE_INTO_CGROUP, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, fd)
buf = ctypes.create_string_buffer(args, len(args))
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
sys.stdout.flush()
pid = libc.syscall(SYS_clone3, buf, ctypes.c_size_t(len(args)))
if pid < 0:
    print("clone3:", os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
print("clone3: ok", flush=True)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
