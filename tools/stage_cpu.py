#!/usr/bin/env python3
"""Where the CPU went, per pipeline stage, between two lines a command prints: a per-stage profile.

    python3 tools/stage_cpu.py --window b 'warm-up \\(b\\)' '^  \\(b\\) ' \\
                               --window c 'warm-up \\(c\\)' '^  \\(c\\) ' \\
        -- ./canopy bench infer --models small-cnn

Runs the command, echoes its output, and reads /proc/PID/task/*/stat of the command's process (the
canopy launcher execs the JVM, so that PID is the JVM) every 0.2 s and at each line that opens or
closes a window. For each window it prints the CPU seconds of every stage, from thread names, and
of the whole process; "idle" is what the cores had left. Native threads (libtorch, ONNX Runtime)
are counted too: they inherit the name of the Java thread that started them, unlike in a JFR
recording. Thread names are Linux's first 15 characters of the Java names. A window's start line
must come before its end line; a window closes at most once (the first match).

The same script profiles any commit's benchmark, which is how docs/benchmarks.md compares the
pipeline before and after issue #13's changes.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count()

# first matching prefix wins; a thread name is at most 15 characters
STAGES = [
    ("decode", ("canopy-decode", "canopy-serve-de")),
    ("model (engine threads included)", ("canopy-replica", "canopy-naive-mo", "canopy-model")),
    ("Spark task threads", ("Executor task l",)),
    ("fetch and file I/O", ("canopy-file-io", "canopy-fetch", "canopy-shard", "aws-java-sdk", "sdk-async", "s3-", "netty", "nioEventLoop")),
    ("JIT compiler", ("C1 CompilerThre", "C2 CompilerThre")),
    ("GC and VM", ("GC Thread", "G1 ", "VM Thread", "VM Periodic", "Common-Cleaner")),
]


def stage_of(name):
    for stage, prefixes in STAGES:
        if name.startswith(prefixes):
            return stage
    return "other"


def read_tasks(pid):
    """tid -> (name, utime + stime in ticks) for every thread alive now."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[tid] = (name, int(fields[11]) + int(fields[12]))  # utime, stime (fields 14 and 15 of stat)
    return out


class Sampler:
    """Keeps each thread's latest CPU ticks, so a thread that ended before a window closed still counts."""

    def __init__(self, pid):
        self.pid = pid
        self.latest = {}
        self.lock = threading.Lock()
        self.done = False

    def sample(self):
        now = read_tasks(self.pid)
        with self.lock:
            self.latest.update(now)
            return dict(self.latest), time.monotonic()

    def run(self):
        while not self.done:
            self.sample()
            time.sleep(0.2)


def report(label, start, end, out, items=None):
    (t0, at0), (t1, at1) = start, end
    wall = at1 - at0
    by_stage = collections.Counter()
    by_name = collections.Counter()
    stage_of_folded = {}
    for tid, (name, ticks) in t1.items():
        used = (ticks - t0.get(tid, (name, 0))[1]) / TICK
        folded = re.sub(r"\d+", "N", name)
        by_stage[stage_of(name)] += used
        by_name[folded] += used
        stage_of_folded[folded] = stage_of(name)
    total = sum(by_stage.values())
    avail = wall * CORES
    out.write(f"\nwindow {label}: {wall:.1f} s wall, {CORES} cores = {avail:.1f} CPU-s; the process used {total:.1f} CPU-s\n")
    per_item = f" {'ms/item':>8s}" if items else ""
    out.write(f"  {'stage':34s} {'CPU-s':>8s} {'of cores':>9s}{per_item}\n")
    for stage, _ in STAGES + [("other", ())]:
        ms = f" {1000 * by_stage[stage] / items:8.2f}" if items else ""
        out.write(f"  {stage:34s} {by_stage[stage]:8.1f} {100 * by_stage[stage] / avail:8.0f}%{ms}\n")
    out.write(f"  {'idle (or other processes)':34s} {max(0.0, avail - total):8.1f} {100 * max(0.0, avail - total) / avail:8.0f}%\n")
    out.write("  busiest thread names (digits folded):\n")
    for name, used in by_name.most_common(8):
        out.write(f"    {used:7.1f}  {name}  -> {stage_of_folded[name]}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--window", nargs=3, action="append", metavar=("LABEL", "START_REGEX", "END_REGEX"), required=True)
    p.add_argument("--items", type=int, help="items (tiles) each window processes: adds CPU milliseconds per item")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        p.error("give the command after --")
    windows = [(label, re.compile(s), re.compile(e)) for label, s, e in a.window]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    sampler = Sampler(proc.pid)
    threading.Thread(target=sampler.run, daemon=True).start()
    opened, reports = {}, []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        for label, start, end in windows:
            if label not in opened and start.search(line):
                opened[label] = sampler.sample()
            elif label in opened and opened[label] is not None and end.search(line):
                reports.append((label, opened[label], sampler.sample()))
                opened[label] = None  # closed
    code = proc.wait()
    sampler.done = True
    for label, _, _ in windows:
        if label not in opened:
            sys.stdout.write(f"\nwindow {label}: its start line never appeared\n")
        elif opened[label] is not None:
            sys.stdout.write(f"\nwindow {label}: its end line never appeared\n")
    for label, start, end in reports:
        report(label, start, end, sys.stdout, a.items)
    sys.exit(code)


if __name__ == "__main__":
    main()
