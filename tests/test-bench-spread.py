#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scripts/bench-spread folds five runs into one judged figure: stable within 2% and under the
target passes; a spread over 2%, fewer than five runs or a missed target fails. TAP.
Usage: test-bench-spread.py SOURCE_ROOT"""
import os
import subprocess
import sys

tool = os.path.join(sys.argv[1], "scripts", "bench-spread")
n, failed = 0, False

def run(lines):
    p = subprocess.run([sys.executable, tool, "icount"], input="".join(l + "\n" for l in lines),
                       capture_output=True, text=True)
    return p.returncode, p.stdout

def ok(cond, what, out):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    if not cond:
        print("".join(f"# {l}\n" for l in out.splitlines()), end="")
    failed |= not cond

def fig(r, t="1.02"):
    return f"bench/enforcement-overhead: guard getpid = {r}x baseline (10.0 ns -> 10.1 ns); target <= {t}x: met"

rc, out = run([fig(x) for x in ("1.010", "1.011", "1.009", "1.012", "1.010")])
ok(rc == 0 and "= 1.010x over 5 run(s)" in out and ": stable" in out and "met" in out,
   "five runs within 2% under the target: stable, met", out)
rc, out = run([fig(x) for x in ("1.010", "1.011", "1.009", "1.012", "1.040")])
ok(rc == 1 and "NOT STABLE" in out, "one run 3% off: not stable", out)
rc, out = run([fig(x) for x in ("1.010", "1.011", "1.009")])
ok(rc == 1 and "NOT STABLE" in out, "three runs are not enough", out)
rc, out = run([fig(x, "1.00") for x in ("1.010", "1.011", "1.009", "1.012", "1.010")])
ok(rc == 1 and "MISSED" in out, "a stable figure over its target misses it", out)
rc, out = run(["bench/idle: CPU = 0.50x the 0.1% target (0.050% of one CPU); target met: yes"] * 5)
ok(rc == 0 and "target <= 1.00x: met" in out, "a ratio to the target itself (bench-idle) is judged against 1x", out)
rc, out = run(["# nothing measured"])
ok(rc == 1, "no figures at all fail", out)
print(f"1..{n}")
sys.exit(1 if failed else 0)
