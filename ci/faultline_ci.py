"""faultline_ci: what ci/gate, ci/nightly and ci/gate-mutants share: running
one scenario with bin/faultline, reading its outcome, and writing JUnit XML.

Standard library only."""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

# Exit codes of faultline (README, "Exit codes"), and of these scripts.
VALID, INVALID, UNKNOWN, BAD_INPUT, HARNESS, INTERRUPTED = range(6)
OUTCOME = {VALID: "valid", INVALID: "invalid", UNKNOWN: "unknown",
           BAD_INPUT: "bad input", HARNESS: "harness error",
           INTERRUPTED: "interrupted"}

# Scenarios that only repeat a fault family another scenario covers: the
# gate leaves them out (default.json and smoke.json are kill runs, like
# kill.json). Every other scenarios/*.json is in the gate, so a scenario
# added for a new fault or workload joins it by existing.
GATE_SKIP = {"default", "smoke"}

# The gate runs these first, then the rest by name: the workload scenarios
# have the checkers that see the most (lost, duplicated and phantom tasks,
# double claims, two lease holders, task records) and are the shortest, so
# a gate that is going to fail mostly fails in its first minutes. The
# scenarios aimed at the Raft layer come right after tasks: their
# crash-restarts on vote_persisted, term_persisted and append_persisted
# let the raft checker see a lost vote, term or log entry in one run.
GATE_FIRST = ["tasks", "elections", "raft-durability", "retry-window",
              "isolate-leader", "truncation", "snapshot-install",
              "membership-window", "queue", "lease", "power-loss",
              "rack-cut"]

# Seconds a run takes beyond its fault phase besides recovery_s: starting
# the nodes, electing a leader, draining, stopping, checking.
OVERHEAD_S = 12


class ArgParser(argparse.ArgumentParser):
    """argparse with our exit code for bad usage (3, not 2: 2 is unknown)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print("%s: %s" % (self.prog, message), file=sys.stderr)
        sys.exit(BAD_INPUT)


def gate_scenarios(root):
    """The gate's fixed scenario list: scenarios/*.json but GATE_SKIP,
    GATE_FIRST first."""
    def name(p):
        return os.path.splitext(os.path.basename(p))[0]

    def rank(p):
        n = name(p)
        return (GATE_FIRST.index(n) if n in GATE_FIRST else len(GATE_FIRST),
                n)
    return sorted((p for p in taskd_scenarios(root)
                   if name(p) not in GATE_SKIP), key=rank)


def taskd_scenarios(root):
    """scenarios/*.json that test taskd, by name: what the gate and the
    soak run. Other systems' scenarios (etcd, Redis) report on those
    systems, whose known anomalies are findings, not harness faults."""
    paths = glob.glob(os.path.join(root, "scenarios", "*.json"))
    return sorted(p for p in paths if scenario_db(p) == "taskd")


def scenario_db(path):
    """The system a scenario file tests ("taskd" when it does not say): the
    gate is taskd's; other systems' scenarios are not in it."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError):
        return "taskd"  # scenario_info reports it
    db = s.get("db") if isinstance(s.get("db"), dict) else {}
    return db.get("name", "taskd")


def gate_time_limit(paths, budget_min, time_limit=None):
    """The fault phase for every run of a gate: @time_limit, else the
    scenarios' longest, cut so that every run fits in @budget_min minutes
    (faultline also cuts it to each scenario's own duration)."""
    if time_limit:
        return time_limit
    fixed = sum(estimate_s(p, 0.001) for p in paths)
    longest = max(scenario_info(p)[1] for p in paths)
    share = (budget_min * 60 - fixed) / max(len(paths), 1)
    return max(5.0, min(longest, share))


def scenario_info(path):
    """(name, duration_s, recovery_s) of a scenario file; ValueError with
    the file's name when it does not read."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("%s: %s" % (path, e))
    name = s.get("name") or os.path.splitext(os.path.basename(path))[0]
    return name, float(s.get("duration_s", 60)), float(s.get("recovery_s", 10))


def estimate_s(path, time_limit):
    """How long a run of the scenario at @path takes, roughly."""
    _, duration, recovery = scenario_info(path)
    return (time_limit or duration) + recovery + OVERHEAD_S


class Result:
    """The outcome of one run."""

    def __init__(self, scenario, seed, bug):
        self.scenario = scenario  # name
        self.path = None          # scenario file
        self.seed = seed
        self.bug = bug
        self.code = None          # faultline's exit code
        self.summary = ""         # the verdict line, or what went wrong
        self.run_dir = None
        self.seconds = 0.0
        self.output = ""

    @property
    def outcome(self):
        return OUTCOME.get(self.code, "exit %s" % self.code)

    @property
    def failed(self):
        """Invalid or unknown: what the gate is there to catch."""
        return self.code in (INVALID, UNKNOWN)


def run_one(faultline, path, seed, time_limit=None, bug=None, runs_dir=None,
            log=None):
    """Run the scenario at @path once; return a Result."""
    name, _, _ = scenario_info(path)
    r = Result(name, seed, bug)
    r.path = path
    cmd = [faultline, "run", path, "--seed", str(seed)]
    if time_limit:
        cmd += ["--time-limit", "%g" % time_limit]
    if bug:
        cmd += ["--bug", bug]
    if runs_dir:
        cmd += ["--runs-dir", runs_dir]
    if log:
        log("$ " + " ".join(cmd))
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    r.seconds = time.monotonic() - t0
    r.code = p.returncode
    r.output = p.stdout.decode("utf-8", "replace")
    for line in r.output.splitlines():
        m = re.match(r"faultline: run directory (.*)$", line)
        if m:
            r.run_dir = m.group(1).strip()
        m = re.match(r"faultline: ((valid|invalid|unknown|partial history)"
                     r".*)$", line)
        if m:
            r.summary = m.group(1)
    if not r.summary:
        # What went wrong: the last line that is not a path.
        # Warnings say "faultline run: warning: ..." (one prefix per
        # command, runner/msg.c).
        lines = [l for l in r.output.splitlines() if l.strip() and not
                 re.match(r"faultline( run)?: (run directory|report|warning|"
                          r"run \w+; history kept)", l)]
        r.summary = "%s (exit %d)%s" % (r.outcome, r.code,
                                        ": " + lines[-1] if lines else "")
    return r


def remove_run_dir(r):
    if r.run_dir and os.path.isdir(r.run_dir):
        shutil.rmtree(r.run_dir, ignore_errors=True)
        parent = os.path.dirname(r.run_dir)
        try:
            os.rmdir(parent)  # the scenario's folder, when now empty
        except OSError:
            pass


def write_junit(path, suite, results):
    """JUnit XML: one testcase per run; an invalid or unknown verdict is a
    <failure> (message: the verdict line), anything else non-zero an
    <error>; the run directory is in the text and in system-out."""
    failures = sum(1 for r in results if r.failed)
    errors = sum(1 for r in results if r.code not in (VALID, INVALID, UNKNOWN))
    root = ET.Element("testsuites", name="faultline", tests=str(len(results)),
                      failures=str(failures), errors=str(errors),
                      time="%.1f" % sum(r.seconds for r in results))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(failures), errors=str(errors),
                       time="%.1f" % sum(r.seconds for r in results))
    for r in results:
        name = r.scenario + (" seed %s" % r.seed)
        if r.bug:
            name += " bug %s" % r.bug
        tc = ET.SubElement(ts, "testcase", classname="faultline." + suite,
                           name=name, time="%.1f" % r.seconds)
        if r.code == VALID:
            pass
        elif r.failed:
            f = ET.SubElement(tc, "failure", message=r.summary, type=r.outcome)
            f.text = "run directory: %s\n" % r.run_dir
        else:
            e = ET.SubElement(tc, "error", message=r.summary, type=r.outcome)
            e.text = "run directory: %s\n%s" % (r.run_dir, r.output[-4000:])
        out = ET.SubElement(tc, "system-out")
        out.text = "run directory: %s\n" % r.run_dir
    tree = ET.ElementTree(root)
    ET.indent(tree) if hasattr(ET, "indent") else None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def exit_code(results, interrupted=False):
    """0 all valid; 1 any invalid or unknown; 4 a run could not be done;
    5 interrupted."""
    if interrupted or any(r.code == INTERRUPTED for r in results):
        return INTERRUPTED
    if any(r.failed for r in results):
        return INVALID
    if any(r.code != VALID for r in results):
        return HARNESS
    return VALID


def table(rows, header):
    """A plain-text table, columns padded."""
    rows = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
