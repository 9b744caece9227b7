"""A deliberately simple linearizability checker: exhaustive search over
orders of a small history, with no code shared with the C engine.

An operation is a dict: process, f, key, arg, out, call, ret (None when its
outcome is unknown), and status ("ok" or "info"; "fail" ops are dropped
before the search). Intervals are closed: A must precede B only when A
returned strictly before B was called. An op whose outcome is unknown may
take effect at any time after its call, or never; a read whose outcome is
unknown constrains nothing and is dropped."""

import json


def ops_from_jsonl(lines):
    """Pair invokes with completions, per process, from our history format."""
    open_by_proc = {}
    ops = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        e = json.loads(line)
        if "format" in e or e.get("process") == "nemesis":
            continue
        p = e["process"]
        if e["type"] == "invoke":
            op = {"process": p, "f": e["f"], "key": e.get("key"),
                  "arg": e.get("value"), "out": None,
                  "call": e["time"], "ret": None, "status": "info",
                  "error": None}
            open_by_proc[p] = op
            ops.append(op)
        else:
            op = open_by_proc.pop(p)
            op["status"] = e["type"]
            op["error"] = e.get("error")
            if e["type"] == "ok":
                op["ret"] = e["time"]
                op["out"] = e.get("value")
    return ops


REFUSALS = ("exists", "not_found", "cas_mismatch", "not_holder", "held",
            "empty")


def merge_requests(ops):
    """One op per logical request: attempts sharing a rid (and f) are one
    request (FORMAT.md, "Request ids and retries"). It is called at its
    first attempt; it happened (ok, with the earliest ok's result and
    return) if any attempt was ok; else it did not happen if the system
    refused an attempt (a retry gets the first outcome) or every attempt
    failed; else its outcome is unknown."""
    groups = {}
    order = []
    for op in ops:
        rid = op["arg"].get("rid") if isinstance(op["arg"], dict) else None
        k = (op["f"], rid) if rid is not None else ("#", id(op))
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(op)
    merged = []
    for k in order:
        atts = groups[k]
        m = dict(atts[0])
        m["call"] = min(a["call"] for a in atts)
        oks = [a for a in atts if a["status"] == "ok"]
        if oks:
            first = min(oks, key=lambda a: a["ret"])
            m.update(status="ok", ret=first["ret"], out=first["out"])
        elif any(a["status"] == "fail" and a.get("error") in REFUSALS
                 for a in atts):
            m.update(status="fail", ret=None)
        elif all(a["status"] == "fail" for a in atts):
            m.update(status="fail", ret=None)
        else:
            m.update(status="info", ret=None)
        merged.append(m)
    return merged


def _prepare(ops):
    kept = []
    for op in ops:
        if op["status"] == "fail":
            continue
        if op["status"] != "ok" and op["f"] in ("read", "get", "list",
                                                "holder"):
            continue
        if op["status"] != "ok":
            op = dict(op, ret=None)
        kept.append(op)
    return kept


def linearizable(ops, model):
    """True when some order of @ops is legal for @model and real time."""
    if getattr(model, "by_request", False):
        ops = merge_requests(ops)
    ops = _prepare(ops)
    n = len(ops)
    seen = set()

    def search(done, state):
        required_left = [i for i in range(n)
                         if not done & (1 << i) and ops[i]["ret"] is not None]
        if not required_left:
            return True
        if (done, state) in seen:
            return False
        seen.add((done, state))
        # The earliest return among ops not yet placed bounds who may go
        # next: nobody called after it.
        first_ret = min(ops[i]["ret"] for i in required_left)
        for i in range(n):
            if done & (1 << i) or ops[i]["call"] > first_ret:
                continue
            nxt = model.apply(state, ops[i])
            if nxt is not None and search(done | (1 << i), nxt):
                return True
        return False

    return search(0, ())
