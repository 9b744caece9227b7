#!/usr/bin/python3
"""make_run: write a synthetic run directory, for testing report.py at
sizes no quick real run reaches.

usage: make_run.py OUT_DIR [--ops N] [--seed S] [--clients C]
                   [--verdict flat|checkers|none] [--shrunk]

What it writes follows the real formats (histories/FORMAT.md, taskd's
events, runner.log): register ops from C clients at about 200 ops/s (ok,
fail, info with a fresh process afterwards, a few left open), a fault every
5 s of every kind the nemesis has, three nodes' events (starts, elections,
snapshots, an I/O error, applies), and a verdict naming some ops: the flat
linearizability verdict of today, or a "checkers" object with several
checkers' verdicts. Prints its seed; the same seed gives the same run."""
import argparse
import json
import os
import random
import sys

MS = 1_000_000  # ns
WALL0 = 1_795_333_086_099_000_000  # 2026-11-22T07:38:06.099Z
MONO0 = 11_838_400_000_000

FAULTS = [  # start f, end f, value
    ("kill", "start", lambda r: [r.choice(["n1", "n2", "n3"])]),
    ("partition", "heal", lambda r: {"shape": "isolate-one",
                                     "drops": {"n1": ["n2", "n3"],
                                               "n2": ["n1"],
                                               "n3": ["n1"]}}),
    ("pause", "resume", lambda r: [r.choice(["n1", "n2", "n3"])]),
    ("clock", "clock-reset", lambda r: {"mode": "bump",
                                        "offset_ms": r.uniform(-6e4, 6e4),
                                        "nodes": ["n2"]}),
    ("disk", "disk-heal", lambda r: {"op": "fsync", "errno": "EIO",
                                     "probability": 1.0, "nodes": ["n3"]}),
    ("loss", "loss-stop", lambda r: {"shape": "halves",
                                     "probability": 0.3,
                                     "drops": {"n1": ["n3"]}}),
    ("stop", "start", lambda r: [r.choice(["n1", "n2", "n3"])]),
    ("lose-unsynced-on-kill", "start",
     lambda r: [r.choice(["n1", "n2", "n3"])]),
    ("disk-full", "disk-full-heal", lambda r: {"nodes": ["n2"],
                                               "files": "raft"}),
]


def line(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--verdict", choices=("flat", "checkers", "none"),
                    default="checkers")
    ap.add_argument("--shrunk", action="store_true")
    a = ap.parse_args(argv[1:])
    seed = a.seed if a.seed is not None else random.randrange(2**31)
    print(f"make_run: seed {seed}, {a.ops} ops, {a.clients} clients")
    r = random.Random(seed)
    os.makedirs(os.path.join(a.out, "nodes"), exist_ok=True)

    # Client ops: each client issues one op at a time, 200 ops/s in all.
    events = []  # (time ns, process, type, f, key, value, error, node)
    gap = a.clients / 200.0 * 1000 * MS
    procs = list(range(a.clients))
    clock = [r.uniform(800, 900) * MS for _ in range(a.clients)]
    issued = 0
    while issued < a.ops:
        c = min(range(a.clients), key=lambda k: clock[k])
        t = int(clock[c])
        p = procs[c]
        f = r.choices(("read", "write", "cas"), (5, 3, 2))[0]
        key = f"k{r.randrange(8)}"
        v = None if f == "read" else (r.randrange(5) if f == "write"
                                      else [r.randrange(5), r.randrange(5)])
        events.append((t, p, "invoke", f, key, v, None, None))
        issued += 1
        if issued > a.ops - 3:  # the last few stay open
            clock[c] = float("inf")
            continue
        x = r.random()
        if x < 0.03:
            lat, ty, err = 1500 * MS, "info", "timeout"
            procs[c] += a.clients
        elif x < 0.2:
            lat, ty, err = int(r.lognormvariate(0, 0.8) * MS), "fail", \
                ("cas_mismatch" if f == "cas" else "not leader")
        else:
            lat, ty, err = int(r.lognormvariate(0, 0.8) * MS), "ok", None
        res = r.randrange(5) if (f == "read" and ty == "ok") else v
        events.append((t + lat, p, ty, f, key, res, err,
                       "n%d" % (1 + r.randrange(3))))
        clock[c] = t + lat + r.uniform(0.5, 1.5) * gap
    end = max(e[0] for e in events)

    # Faults: every 5 s, for 2 s, cycling through every kind.
    k = 0
    t = 5000 * MS
    while t + 2000 * MS < end:
        start_f, end_f, value = FAULTS[k % len(FAULTS)]
        v = value(r)
        events.append((t, "nemesis", "invoke", start_f, None, v, None, None))
        events.append((t + MS, "nemesis", "info", start_f, None, v, None,
                       None))
        events.append((t + 2000 * MS, "nemesis", "invoke", end_f, None, v,
                       None, None))
        events.append((t + 2001 * MS, "nemesis", "info", end_f, None, v,
                       None, None))
        k += 1
        t += 5000 * MS
    events.sort(key=lambda e: e[0])

    index_of_invoke = []
    with open(os.path.join(a.out, "history.jsonl"), "w") as out:
        out.write(line({"format": "faultline-history", "version": 1,
                        "scenario": "synthetic", "seed": seed,
                        "start_wall": "2026-11-22T07:38:06.099Z"}))
        for i, (t, p, ty, f, key, v, err, node) in enumerate(events):
            o = {"index": i, "time": t, "process": p, "type": ty, "f": f}
            if key is not None:
                o["key"] = key
            if v is not None:
                o["value"] = v
            if err is not None:
                o["error"] = err
            if node is not None:
                o["node"] = node
            out.write(line(o))
            if ty == "invoke" and p != "nemesis":
                index_of_invoke.append(i)

    scenario = {"name": "synthetic", "description": "make_run.py: a "
                "synthetic run for report tests", "nodes": 3,
                "duration_s": round(end / 1e9), "recovery_s": 0,
                "seed": seed, "db": {"name": "taskd", "bug": ""},
                "workload": {"name": "register", "clients": a.clients}}
    with open(os.path.join(a.out, "scenario.json"), "w") as f:
        json.dump(scenario, f, indent=2)

    named = sorted(r.sample(index_of_invoke, 3))
    lin = {"valid": False, "checker": "linearizable",
           "model": "cas-register", "ops": a.ops, "keys": 8,
           "partial": False,
           "anomaly": {"key": "k1", "op": {
               "index": named[0], "process": 0, "f": "read", "value": 3,
               "type": "ok", "call": 1, "return": 2,
               "description": "read -> 3"}, "linearized_prefix": 10,
               "key_ops": 100, "state": "1"},
           "stats": {"steps": 10, "states": 2}}
    if a.verdict == "flat":
        verdict = lin
    else:
        verdict = {"valid": False, "checkers": {
            "linearizable": lin,
            "set": {"valid": False, "ok": 40,
                    "lost": {"count": 2, "examples": named[1:]},
                    "duplicated": {"count": 0, "examples": []}},
            "queue": {"valid": "unknown",
                      "reason": "no final drain: the history ends early"}}}
    if a.verdict != "none":
        with open(os.path.join(a.out, "verdict.json"), "w") as f:
            json.dump(verdict, f, indent=2)

    if a.shrunk:
        sub = [{"index": 0, "time": 1000 * MS, "process": 0,
                "type": "invoke", "f": "write", "key": "k1", "value": 3},
               {"index": 1, "time": 1002 * MS, "process": 0, "type": "ok",
                "f": "write", "key": "k1", "value": 3},
               {"index": 2, "time": 1001 * MS, "process": 1,
                "type": "invoke", "f": "write", "key": "k1", "value": 1},
               {"index": 3, "time": 1003 * MS, "process": 1, "type": "ok",
                "f": "write", "key": "k1", "value": 1},
               {"index": 4, "time": 1010 * MS, "process": 2,
                "type": "invoke", "f": "read", "key": "k1"},
               {"index": 5, "time": 1011 * MS, "process": 2, "type": "ok",
                "f": "read", "key": "k1", "value": 0}]
        sub.sort(key=lambda e: e["time"])
        with open(os.path.join(a.out, "shrunk.jsonl"), "w") as f:
            f.write(line({"format": "faultline-history", "version": 1}))
            for e in sub:
                f.write(line(e))
        with open(os.path.join(a.out, "shrunk.verdict.json"), "w") as f:
            json.dump({"valid": False, "checker": "linearizable",
                       "anomaly": {"key": "k1", "op": {
                           "index": 4, "process": 2, "f": "read",
                           "type": "ok", "description": "read -> 0"}}},
                      f)

    # Nodes: n1 leads, then n2 after the first fault; applies on all.
    log = []
    for n in (1, 2, 3):
        d = os.path.join(a.out, "nodes", f"n{n}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            def ev(t_ns, name, **kw):
                o = {"time": WALL0 + t_ns, "mono": MONO0 + t_ns, "node": n,
                     "event": name}
                o.update(kw)
                f.write(line(o))
            ev(100 * MS, "start", pid=20 + n, bugs=[], applied_index=0)
            log.append((100 * MS, f"n{n}: started pid {20 + n}"))
            ev(500 * MS, "became_leader" if n == 1 else "became_follower",
               term=1, leader=1, commit_index=0, applied_index=0)
            for j in range(a.ops // 30):
                ev(900 * MS + j * (end // max(1, a.ops // 30)),
                   "command_applied", index=j + 1, op="write", term=1)
            for j in range(1, 6):
                ev(j * end // 6, "snapshot_taken", index=j * 100,
                   applied_index=j * 100, bytes=4096)
            if n == 2:
                ev(5200 * MS, "became_leader", term=2, leader=2,
                   commit_index=10, applied_index=10)
            if n == 1:
                ev(5100 * MS, "became_follower", term=2, leader=0,
                   commit_index=10, applied_index=10)
            if n == 3:
                ev(9000 * MS, "io_error", source="raft", op="append",
                   code=5, message="injected")
                log.append((9010 * MS, "n3: pid 23 exited (status 0, "
                            "signal 6): not caused by faultline"))
                ev(10100 * MS, "start", pid=40, bugs=[], applied_index=50)
                log.append((10100 * MS, "n3: started pid 40"))
            ev(end + 50 * MS, "shutdown", reason="SIGTERM")
            log.append((end + 60 * MS, f"n{n}: pid {20 + n} exited "
                        "(status 0, signal 0)"))
        with open(os.path.join(d, "stderr.log"), "w") as f:
            f.write(f"taskd: node {n} shut down\n")
    with open(os.path.join(a.out, "runner.log"), "w") as f:
        tod0 = (WALL0 // MS) % 86_400_000
        for t, text in sorted(log):
            ms = tod0 + t // MS
            f.write("%02d:%02d:%02d.%03d cluster: %s\n" % (
                ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60,
                ms % 1000, text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
