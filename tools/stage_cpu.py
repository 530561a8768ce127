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

CPU of threads that ended between two samples (or lived less than one) is not lost: the process's own
total in /proc/PID/stat includes ended threads, and the difference is printed as "threads that ended
before a sample". This script's own CPU counts as "idle (or other processes)". Exit code: the command's,
or 2 when a window never opened or closed (a regex that matched nothing), 128+N when a signal N ended it.

The same script profiles any commit's benchmark, which is how docs/benchmarks.md compares the
pipeline before and after issue #13's changes. tools/jfr_threads.py is its JFR counterpart (Java
threads only, with stacks); both fold digits in thread names the same way.
"""
import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")

# first matching prefix wins; a thread name is Linux's first 15 characters of the Java name
STAGES = [
    ("decode", ("canopy-decode", "canopy-serve-de")),
    # replicas run the engine; ONNX Runtime's pool threads are named after the thread that made the session
    ("model (engine threads included)", ("canopy-replica", "canopy-model")),
    # the naive pipeline fetches, decodes and runs the model on these
    ("Spark task threads", ("Executor task l",)),
    ("HTTP server (Jetty)", ("JettyServerThre", "qtp")),
    ("load generator (bench clients)", ("bench-client",)),
    ("fetch and file I/O", ("canopy-file-io", "aws-java-sdk", "sdk-async")),
    ("JIT compiler", ("C1 CompilerThre", "C2 CompilerThre")),
    ("GC and VM", ("GC Thread", "G1 ", "VM Thread", "VM Periodic", "Common-Cleaner")),
]
ENDED = "threads that ended before a sample"


def stage_of(name):
    for stage, prefixes in STAGES:
        if name.startswith(prefixes):
            return stage
    return "other"


def fold(name):
    return re.sub(r"\d+", "N", name)


def stat_ticks(path):
    """(name, utime + stime, starttime) from a /proc stat file; the name may hold spaces and parentheses."""
    with open(path, errors="replace") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # stat fields 14 and 15 (CPU), 22 (start time: tells a reused thread id from the thread that had it)
    return s[s.index("(") + 1:s.rindex(")")], int(fields[11]) + int(fields[12]), int(fields[19])


def read_tasks(pid):
    """(tid, starttime) -> (name, ticks) for every thread alive now, and the whole process's ticks (ended threads included)."""
    out = {}
    try:
        process = stat_ticks(f"/proc/{pid}/stat")[1]
        tids = os.listdir(f"/proc/{pid}/task")
    except (OSError, ValueError):
        return out, None
    for tid in tids:
        try:
            name, ticks, started = stat_ticks(f"/proc/{pid}/task/{tid}/stat")
        except (OSError, ValueError, IndexError):
            continue  # the thread ended while listing
        out[(tid, started)] = (name, ticks)
    return out, process


class Sampler:
    """Keeps each thread's latest CPU ticks, so a thread that ended before a window closed still counts up to its last sample."""

    def __init__(self, pid):
        self.pid = pid
        self.latest = {}
        self.lock = threading.Lock()
        self.done = False

    def sample(self):
        # read under the lock: an older reading by the other thread must not overwrite a newer one
        with self.lock:
            at = time.monotonic()
            now, process = read_tasks(self.pid)
            for key, (name, ticks) in now.items():
                old = self.latest.get(key)
                if old is None or ticks >= old[1]:
                    self.latest[key] = (name, ticks)  # a thread that renames itself keeps its key, so keeps its count
            try:
                cores = len(os.sched_getaffinity(self.pid))  # the command's own affinity (taskset), read when it is the JVM
            except OSError:
                cores = os.cpu_count()
            return dict(self.latest), process, at, cores

    def run(self):
        while not self.done:
            try:
                self.sample()
            except Exception as e:  # keep sampling; say why once
                sys.stderr.write(f"stage_cpu: sampling failed: {e}\n")
            time.sleep(0.2)


def report(label, start, end, out, items=None):
    (t0, p0, at0, _), (t1, p1, at1, cores) = start, end
    wall = at1 - at0
    by_stage = collections.Counter()
    by_name = collections.Counter()
    stage_of_folded = {}
    for key, (name, ticks) in t1.items():
        before = t0.get(key)
        used = (ticks - (before[1] if before else 0)) / TICK
        by_stage[stage_of(name)] += max(0.0, used)
        by_name[fold(name)] += max(0.0, used)
        stage_of_folded[fold(name)] = stage_of(name)
    total = (p1 - p0) / TICK if p0 is not None and p1 is not None else sum(by_stage.values())
    by_stage[ENDED] = max(0.0, total - sum(by_stage.values()))
    avail = wall * cores
    out.write(f"\nwindow {label}: {wall:.1f} s wall, {cores} cores = {avail:.1f} CPU-s; the process used {total:.1f} CPU-s\n")
    if wall < 1:
        out.write("  WARNING: under a second between the lines: is the command's output buffered?\n")
    per_item = f" {'ms/item':>8s}" if items else ""
    out.write(f"  {'stage':36s} {'CPU-s':>8s} {'of cores':>9s}{per_item}\n")
    for stage in [s for s, _ in STAGES] + ["other", ENDED]:
        ms = f" {1000 * by_stage[stage] / items:8.2f}" if items else ""
        out.write(f"  {stage:36s} {by_stage[stage]:8.1f} {100 * by_stage[stage] / avail:8.0f}%{ms}\n")
    idle = max(0.0, avail - total)
    out.write(f"  {'idle (or other processes)':36s} {idle:8.1f} {100 * idle / avail:8.0f}%\n")
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
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, errors="replace", bufsize=1)
    sampler = Sampler(proc.pid)
    threading.Thread(target=sampler.run, daemon=True).start()
    opened, reports = {}, []
    try:
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
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        code = proc.wait()
    sampler.done = True
    missing = False
    for label, _, _ in windows:
        if label not in opened:
            sys.stdout.write(f"\nwindow {label}: its start line never appeared\n")
            missing = True
        elif opened[label] is not None:
            sys.stdout.write(f"\nwindow {label}: its end line never appeared\n")
            missing = True
    for label, start, end in reports:
        report(label, start, end, sys.stdout, a.items)
    if code < 0:
        sys.exit(128 - code)
    sys.exit(code if code != 0 else (2 if missing else 0))


if __name__ == "__main__":
    main()
