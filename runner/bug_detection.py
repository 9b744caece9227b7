#!/usr/bin/python3
"""Which seeded taskd bugs a workload catches, and how fast.

Usage: bug_detection.py [--bin DIR] [--seeds N ...] [--time-limit S]
                        [--runs-dir DIR] BUG:SCENARIO ...

Runs `faultline run SCENARIO --bug BUG --seed N --time-limit S` for every
pair and seed (BUG "none" runs the healthy taskd: a false alarm shows
there), and prints one row per run: the verdict, the anomaly classes, and
how fast the bug showed: the history time (seconds from the start of the
run) of the earliest operation the verdict names. Not a test: it prints
numbers (nodes/taskd/BUGS.md keeps the table). Exit 0.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


def anomaly_indexes(verdict):
    """Every op index an invalid verdict names."""
    out = []

    def walk(o, key=None):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, k)
        elif isinstance(o, list):
            for v in o:
                walk(v, key)
        elif isinstance(o, str) and key == "description":
            out.extend(int(m) for m in re.findall(r"index (\d+)", o))
        elif isinstance(o, int) and key == "index":
            out.append(o)

    for c in (verdict.get("checkers") or {"": verdict}).values():
        if c.get("valid") is False:
            walk({k: v for k, v in c.items()
                  if k in ("anomaly", "anomalies")})
    return out


def first_time_s(run_dir, indexes):
    if not indexes:
        return None
    want = min(indexes)
    with open(os.path.join(run_dir, "history.jsonl")) as fh:
        for line in fh:
            if ('"index":%d,' % want) in line:
                return json.loads(line)["time"] / 1e9
    return None


def kinds(verdict):
    out = []
    for name, c in (verdict.get("checkers") or {}).items():
        if c.get("valid") is False:
            counts = c.get("counts") or {}
            bad = [k for k, n in counts.items()
                   if n and k not in ("ok", "unacked", "unchecked", "deleted")]
            out.append("%s:%s" % (name, ",".join(bad) if bad else
                                  c.get("kind", "invalid")))
    return " ".join(out) or "-"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default="bin")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--time-limit", type=float, default=10)
    p.add_argument("--runs-dir", default="histories/runs/detection")
    p.add_argument("pairs", nargs="+", metavar="BUG:SCENARIO")
    a = p.parse_args(argv)
    print("%-18s %-22s %5s %-8s %8s %6s  %s" % (
        "bug", "scenario", "seed", "verdict", "first_s", "wall_s", "anomalies"))
    for pair in a.pairs:
        bug, scenario = pair.split(":", 1)
        for seed in a.seeds:
            cmd = [os.path.join(a.bin, "faultline"), "run", scenario,
                   "--seed", str(seed), "--time-limit", str(a.time_limit),
                   "--runs-dir", a.runs_dir]
            if bug != "none":
                cmd += ["--bug", bug]
            t0 = time.monotonic()
            r = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            wall = time.monotonic() - t0
            text = r.stdout.decode(errors="replace")
            dirs = re.findall(r"^faultline: run directory (.*)$", text, re.M)
            verdict, first = {}, None
            if dirs and os.path.exists(os.path.join(dirs[-1], "verdict.json")):
                with open(os.path.join(dirs[-1], "verdict.json")) as fh:
                    verdict = json.load(fh)
                first = first_time_s(dirs[-1], anomaly_indexes(verdict))
            name = {0: "valid", 1: "INVALID", 2: "unknown"}.get(
                r.returncode, "exit %d" % r.returncode)
            print("%-18s %-22s %5d %-8s %8s %6.0f  %s" % (
                bug, os.path.basename(scenario), seed, name,
                "%.1f" % first if first is not None else "-", wall,
                kinds(verdict)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
