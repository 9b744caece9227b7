"""Seeded random histories for the differential test.

construct(): linearizable by construction. Every op that takes effect gets
a linearization point inside its interval (or, for an op whose outcome is
left unknown, anywhere after its call); the model is run in that order and
the results recorded, so that order is a witness.
mutate(): the same history with one ok read's result replaced by a value
no op ever writes, which no order can explain: invalid by construction.
scramble(): results drawn at random: no expected verdict, for comparing
checkers only."""

import json
import random

from models import MODELS

VALUES = 4
LETTERS = "abc"
NEVER = {"cas-register": 99, "kv": "#"}


def _random_op(rng, model, keys):
    key = rng.choice(keys)
    if model == "cas-register":
        f = rng.choice(["read", "read", "write", "cas"])
        arg = {"read": None, "write": rng.randrange(VALUES),
               "cas": [rng.randrange(VALUES), rng.randrange(VALUES)]}[f]
    else:
        f = rng.choice(["get", "get", "put", "append", "append"])
        arg = None if f == "get" else rng.choice(LETTERS)
    return {"f": f, "key": key, "arg": arg}


def construct(rng, model, nops=None):
    """A list of ops (dicts) with times, statuses and results."""
    spec = MODELS[model]
    nops = nops or rng.randint(2, 8)
    nclients = rng.randint(1, 4)
    keys = ["x", "y"][:rng.randint(1, 2)]
    clock = [rng.randrange(3) for _ in range(nclients)]
    procs = list(range(nclients))
    next_proc = nclients
    ops = []
    for _ in range(nops):
        c = rng.randrange(nclients)
        op = _random_op(rng, model, keys)
        op["process"] = procs[c]
        op["call"] = clock[c] + rng.randrange(3)
        op["ret"] = op["call"] + rng.randrange(5)
        clock[c] = op["ret"] + 1
        r = rng.random()
        op["status"] = "ok" if r < 0.8 else ("info" if r < 0.9 else "fail")
        if op["status"] == "info":
            procs[c] = next_proc  # its old request may still be in flight
            next_proc += 1
        ops.append(op)
    # Which ops take effect, and where.
    points = []
    for i, op in enumerate(ops):
        if op["status"] == "ok":
            lp = rng.uniform(op["call"], op["ret"])
        elif op["status"] == "info" and rng.random() < 0.5:
            lp = rng.uniform(op["call"], op["call"] + 10)
        else:
            continue
        points.append((lp, i))
    points.sort()
    state = ()
    for _, i in points:
        op = ops[i]
        if op["f"] in ("read", "get"):
            d = dict(state)
            op["out"] = d.get(op["key"], None if model == "cas-register"
                              else "")
            nxt = state
        else:
            nxt = spec.apply(state, op)
        if nxt is None:  # a cas that did not match: it failed
            op["status"] = "fail" if op["status"] == "ok" else op["status"]
            continue
        state = nxt
    for op in ops:
        if op["status"] == "ok" and op["f"] in ("read", "get") \
                and "out" not in op:
            op["out"] = None
    return ops


def mutate(rng, model, ops):
    """A copy with one ok read made impossible, or None if it has none."""
    reads = [i for i, op in enumerate(ops)
             if op["status"] == "ok" and op["f"] in ("read", "get")]
    if not reads:
        return None
    ops = [dict(op) for op in ops]
    ops[rng.choice(reads)]["out"] = NEVER[model]
    return ops


def scramble(rng, model, ops):
    """A copy with every ok read's result drawn at random."""
    ops = [dict(op) for op in ops]
    for op in ops:
        if op["status"] == "ok" and op["f"] in ("read", "get"):
            if model == "cas-register":
                op["out"] = rng.choice([None] + list(range(VALUES)))
            else:
                op["out"] = "".join(rng.choice(LETTERS)
                                    for _ in range(rng.randrange(3)))
    return ops


def to_jsonl(ops):
    """Our history format: events sorted by time, invokes first on ties."""
    events = []
    for n, op in enumerate(ops):
        base = {"process": op["process"], "f": op["f"], "key": op["key"]}
        events.append((op["call"], 0, n, dict(base, type="invoke",
                                              value=op["arg"])))
        if op["status"] != "info" or True:
            done = dict(base, type=op["status"])
            if op["f"] in ("read", "get"):
                done["value"] = op.get("out") if op["status"] == "ok" else None
            else:
                done["value"] = op["arg"]
            t = op["ret"] if op["status"] != "info" else op["ret"]
            events.append((t, 1, n, done))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    lines = []
    for i, (t, _, _, e) in enumerate(events):
        out = {"index": i, "time": t, "process": e["process"],
               "type": e["type"], "f": e["f"], "key": e["key"]}
        if e.get("value") is not None:
            out["value"] = e["value"]
        lines.append(json.dumps(out))
    return "\n".join(lines) + "\n"


def to_reference(ops):
    """The ops as reference.py takes them."""
    out = []
    for op in ops:
        out.append({"process": op["process"], "f": op["f"], "key": op["key"],
                    "arg": op["arg"], "out": op.get("out"),
                    "call": op["call"],
                    "ret": op["ret"] if op["status"] == "ok" else None,
                    "status": op["status"]})
    return out
