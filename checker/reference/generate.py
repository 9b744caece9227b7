"""Seeded random histories for the differential test.

construct(): linearizable by construction. Every op that takes effect gets
a linearization point inside its interval (or, for an op whose outcome is
left unknown, anywhere after its call); the model is run in that order and
the results recorded, so that order is a witness.
mutate(): the same history with one ok read's result replaced by a value
no op ever writes, which no order can explain: invalid by construction.
mutate_late(): the same, plus one op that writes that value, of unknown
outcome, invoked after the read returned (too late for it): invalid too.
scramble(): results drawn at random: no expected verdict, for comparing
checkers only."""

import json
import random

from models import MODELS

VALUES = 4
LETTERS = "abc"
NEVER = {"cas-register": 99, "kv": "#",
         "task-record": {"status": "never", "version": 99}}
HOLDERS = ["c0", "c1", "c2"]
STATUSES = ["pending", "running", "done"]
READS = ("read", "get", "holder")


def _random_task_op(rng, key, rid):
    f = rng.choice(["get", "get", "create", "update", "update", "delete"])
    if f == "get":
        arg = None
    elif f == "update":
        arg = {"rid": rid, "status": rng.choice(STATUSES)}
        r = rng.random()
        if r < 0.45:
            arg["expect_status"] = rng.choice(STATUSES)
        elif r < 0.9:
            arg["expect_version"] = rng.randint(1, 3)
        else:
            arg["expect_status"] = rng.choice(STATUSES)
            arg["expect_version"] = rng.randint(1, 3)
    else:
        arg = {"rid": rid}
    return {"f": f, "key": key, "arg": arg}


def _random_lease_op(rng, key, rid):
    f = rng.choice(["acquire", "acquire", "acquire", "release", "holder",
                    "holder"])
    if f == "holder":
        return {"f": f, "key": key, "arg": None}
    arg = {"rid": rid, "holder": rng.choice(HOLDERS)}
    if f == "acquire":
        arg["ttl_ms"] = rng.choice([50, 100, 300])
    return {"f": f, "key": key, "arg": arg}


def _random_op(rng, model, keys, n=0):
    key = rng.choice(keys)
    if model == "task-record":
        return _random_task_op(rng, key, "r%d" % n)
    if model == "lease":
        return _random_lease_op(rng, key, "r%d" % n)
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
    if model == "task-record":
        keys = ["t1", "t2"][:len(keys)]
    if model == "lease":
        keys = ["s1", "s2"][:len(keys)]
    for n in range(nops):
        c = rng.randrange(nclients)
        op = _random_op(rng, model, keys, n)
        op["process"] = procs[c]
        op["call"] = clock[c] + rng.randrange(3)
        op["ret"] = op["call"] + rng.randrange(5)
        clock[c] = op["ret"] + 1
        r = rng.random()
        op["status"] = "ok" if r < 0.8 else ("info" if r < 0.9 else "fail")
        if op["status"] == "info":
            procs[c] = next_proc  # its old request may still be in flight
            next_proc += 1
        elif (op["status"] == "ok" and isinstance(op["arg"], dict)
              and op["ret"] - op["call"] >= 2 and rng.random() < 0.3):
            # A first attempt timed out (info); the retry, from a new
            # process with the same rid, got the outcome.
            op["retry"] = {"process": next_proc,
                           "at": op["call"] + rng.randrange(
                               1, op["ret"] - op["call"])}
            procs[c] = next_proc
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
    for lp, i in points:
        op = ops[i]
        if hasattr(spec, "perform"):
            nxt, out = spec.perform(state, op, lp)
            if nxt is None:  # refused
                if op["status"] == "ok":
                    op["status"] = "fail"
                    op["error"] = out
                    op.pop("retry", None)
                continue
            state = nxt
            op["out"] = out
            continue
        if op["f"] in READS:
            d = dict(state)
            op["out"] = d.get(op["key"], None if model != "kv" else "")
            if model == "task-record" and op["out"] is not None:
                op["out"] = {"status": op["out"][0],
                             "version": op["out"][1]}
            nxt = state
        else:
            nxt = spec.apply(state, op)
        if nxt is None:  # its precondition did not hold: it was refused
            if op["status"] == "ok":
                op["status"] = "fail"
                op["error"] = "refused"
                op.pop("retry", None)
            continue
        state = nxt
        if hasattr(spec, "output") and op["f"] not in READS:
            op["out"] = spec.output(state, op)
    for op in ops:
        if op["status"] == "ok" and op["f"] in READS and "out" not in op:
            op["out"] = None
        if op["status"] == "fail" and "error" not in op:
            op["error"] = "unavailable"  # refused before it could happen
    if model == "task-record":
        for op in ops:
            if op.get("error") == "refused":
                op["error"] = {"create": "exists", "update": "cas_mismatch",
                               "delete": "not_found"}[op["f"]]
    return ops


def mutate(rng, model, ops):
    """A copy with one ok read made impossible, or None if it has none."""
    reads = [i for i, op in enumerate(ops)
             if op["status"] == "ok" and op["f"] in READS]
    if not reads:
        return None
    ops = [dict(op) for op in ops]
    i = rng.choice(reads)
    if model == "lease":  # a holder that never tried to acquire
        now = ops[i]["out"]["now_ms"]
        ops[i]["out"] = {"holder": "zz", "token": 1, "now_ms": now,
                         "expires_ms": now + 1}
    else:
        ops[i]["out"] = NEVER[model]
    return ops


def mutate_late(rng, model, ops):
    """mutate(), and an op writing the read's value invoked only after the
    read returned (outcome unknown), or None if there is no ok read."""
    m = mutate(rng, model, ops)
    if m is None:
        return None
    i = next(i for i, (a, b) in enumerate(zip(ops, m)) if a is not b and
             a.get("out") != b.get("out"))
    r = m[i]
    key, call = r["key"], r["ret"] + 1 + rng.randrange(3)
    if model == "cas-register":
        op = {"f": "write", "arg": NEVER[model]}
    elif model == "kv":
        op = {"f": rng.choice(["put", "append"]), "arg": NEVER[model]}
    elif model == "task-record":
        op = {"f": "update", "arg": {"rid": "late", "status": "never",
                                     "expect_status": "pending"}}
    else:
        op = {"f": "acquire", "arg": {"rid": "late", "holder": "zz",
                                      "ttl_ms": 100}}
    op.update(key=key, call=call, ret=call + rng.randrange(3),
              status="info",
              process=1 + max(o["process"] for o in m) +
              max([o["retry"]["process"] for o in m if o.get("retry")] or
                  [0]))
    return m + [op]


def _random_holder(rng, now):
    if rng.random() < 0.3:
        return {"holder": None, "token": None, "now_ms": now,
                "expires_ms": None}
    return {"holder": rng.choice(HOLDERS), "token": rng.randint(1, 4),
            "now_ms": now, "expires_ms": now + rng.choice([1, 50, 200])}


def _random_record(rng):
    if rng.random() < 0.3:
        return None
    return {"status": rng.choice(STATUSES), "version": rng.randint(1, 3)}


def scramble(rng, model, ops):
    """A copy with every ok read's result drawn at random."""
    ops = [dict(op) for op in ops]
    for op in ops:
        # Results of writes too, where a write has one.
        if op["status"] == "ok" and op["f"] == "acquire" and \
                rng.random() < 0.5:
            out = dict(op["out"])
            out["token"] = rng.randint(1, 4)
            if rng.random() < 0.5:
                out["now_ms"] -= rng.choice([0, 50, 200])
            if rng.random() < 0.5:
                out["expires_ms"] = out["now_ms"] + rng.choice([1, 50, 300])
            op["out"] = out
        if op["status"] == "ok" and op["f"] in ("create", "update") and \
                rng.random() < 0.3:
            op["out"] = _random_record(rng) or {"status": "pending",
                                                "version": 1}
        if op["status"] == "ok" and op["f"] in READS:
            if model == "cas-register":
                op["out"] = rng.choice([None] + list(range(VALUES)))
            elif model == "task-record":
                op["out"] = _random_record(rng)
            elif model == "lease":
                op["out"] = _random_holder(rng, op["out"]["now_ms"])
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
        done = dict(base, type=op["status"])
        if op["f"] in READS or "out" in op:
            done["value"] = op.get("out") if op["status"] == "ok" else None
        else:
            done["value"] = op["arg"]
        if op["status"] == "fail":
            done["error"] = op.get("error", "unavailable")
        retry = op.get("retry")
        if retry:
            events.append((retry["at"], 1, n, dict(base, type="info",
                                                   error="timeout")))
            base = dict(base, process=retry["process"])
            events.append((retry["at"], 0, n, dict(base, type="invoke",
                                                   value=op["arg"])))
            done = dict(done, process=retry["process"])
            if isinstance(done.get("value"), dict):
                done["value"] = dict(done["value"], duplicate=True)
        events.append((op["ret"], 1, n, done))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    lines = []
    for i, (t, _, _, e) in enumerate(events):
        out = {"index": i, "time": t, "process": e["process"],
               "type": e["type"], "f": e["f"], "key": e["key"]}
        if e.get("value") is not None:
            out["value"] = e["value"]
        if e.get("error") is not None:
            out["error"] = e["error"]
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
