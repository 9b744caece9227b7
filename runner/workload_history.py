#!/usr/bin/python3
"""Check that a run's history follows histories/FORMAT.md for its workload.

Usage: workload_history.py RUN_DIR

Reads RUN_DIR/scenario.json and RUN_DIR/history.jsonl and checks, for the
tasks, queue and lease workloads: every event's fields and types; invoke and
completion values (a rid may be missing when workload.rids < 1) of every op as FORMAT.md tables them; that a rid is reused
only by retries (the same request, from the same logical client's next
process, after an info of the previous attempt, at most 1 + retries times);
and the final phase (tasks: a final list that began after every other op
completed; queue: a drain whose last claim found the queue empty, every
acknowledged enqueue claimed); and the convergence probes (FORMAT.md,
"Convergence"): at most one digest op per node, after every client op,
its ok value {node, applied_index, digest, ...}. Prints what it checked; exit 0 when the
history conforms, 1 with each problem (history.jsonl:LINE: what) otherwise,
3 on unreadable input.
"""
import json
import sys

EVENT_FIELDS = ["index", "time", "process", "type", "f", "key", "value",
                "error", "node"]
TYPES = {"invoke", "ok", "fail", "info"}

# f -> (has key, invoke value fields (None: null), read-only)
OPS = {
    "tasks": {
        "create": (True, {"rid"}, False),
        "get": (True, None, True),
        "update": (True, {"rid", "status", "expect_status|expect_version"},
                   False),
        "delete": (True, {"rid"}, False),
        "list": (False, None, True),
    },
    "queue": {
        "enqueue": (True, {"rid"}, False),
        "claim": (False, {"rid", "worker", "lease_ms"}, False),
        "ack": (True, {"rid", "worker"}, False),
        "nack": (True, {"rid", "worker"}, False),
    },
    "lease": {
        "acquire": (True, {"rid", "holder", "ttl_ms"}, False),
        "release": (True, {"rid", "holder"}, False),
        "holder": (True, None, True),
    },
}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def int_or_null(v):
    return v is None or is_int(v)


def record_ok(v):
    return (isinstance(v, dict) and set(v) == {"status", "version"}
            and isinstance(v["status"], str) and is_int(v["version"]))


def ok_value_problem(f, v, invoke):
    """What is wrong with the ok value @v of op @f, or None."""
    if f in ("create", "update"):
        if not record_ok(v):
            return "expected {status, version}"
        if f == "create" and v != {"status": "pending", "version": 1}:
            return "a create's record is pending, version 1"
        if f == "update" and v["status"] != invoke["status"]:
            return "an update's record has the status it set"
    elif f == "get":
        if v is not None and not record_ok(v):
            return "expected {status, version} or null"
    elif f == "list":
        if not isinstance(v, list) or not all(
                isinstance(t, dict) and set(t) == {"id", "status", "version"}
                and isinstance(t["id"], str) for t in v):
            return "expected [{id, status, version}, ...]"
    elif f in ("delete", "release"):
        if v is not None:
            return "expected null"
    elif f == "enqueue":
        if v != {"status": "queued"}:
            return 'expected {"status": "queued"}'
    elif f == "ack":
        if v != {"status": "done"}:
            return 'expected {"status": "done"}'
    elif f == "nack":
        if v != {"status": "queued"}:
            return 'expected {"status": "queued"}'
    elif f == "claim":
        if not (isinstance(v, dict)
                and set(v) == {"task", "worker", "now_ms", "expires_ms"}
                and isinstance(v["task"], str) and is_int(v["now_ms"])
                and is_int(v["expires_ms"])):
            return "expected {task, worker, now_ms, expires_ms}"
        if v["worker"] != invoke["worker"]:
            return "the claim's worker is not the one that claimed"
    elif f == "acquire":
        if not (isinstance(v, dict)
                and set(v) == {"holder", "token", "now_ms", "expires_ms"}
                and is_int(v["token"]) and is_int(v["now_ms"])
                and is_int(v["expires_ms"])):
            return "expected {holder, token, now_ms, expires_ms}"
        if v["holder"] != invoke["holder"]:
            return "the acquire's holder is not the one that acquired"
    elif f == "holder":
        if not (isinstance(v, dict)
                and set(v) == {"holder", "token", "now_ms", "expires_ms"}
                and is_int(v["now_ms"]) and int_or_null(v["token"])
                and int_or_null(v["expires_ms"])
                and (v["holder"] is None or isinstance(v["holder"], str))):
            return "expected {holder, token, now_ms, expires_ms}"
    return None


def invoke_problem(workload, f, key, v, client, rid_optional):
    has_key, fields, _ = OPS[workload][f]
    if has_key and not isinstance(key, str):
        return "a %s has a key" % f
    if not has_key and key is not None:
        return "a %s has no key" % f
    if fields is None:
        return None if v is None else "a %s's invoke value is null" % f
    if not isinstance(v, dict):
        return "a %s's invoke value is an object" % f
    want = set()
    if rid_optional and "rid" not in v:
        fields = fields - {"rid"}
    for name in fields:
        alts = name.split("|")
        got = [a for a in alts if a in v]
        if len(got) != 1:
            return "a %s's value has %s" % (f, " or ".join(alts))
        want.add(got[0])
    if set(v) != want:
        return "a %s's value has exactly %s" % (f, sorted(want))
    if "rid" in v and (not isinstance(v["rid"], str) or not v["rid"]):
        return "rid is a non-empty string"
    for name in ("worker", "holder"):
        if name in v and v[name] != "c%d" % client:
            return "%s is the logical client's name c%d" % (name, client)
    for name in ("lease_ms", "ttl_ms", "expect_version"):
        if name in v and not is_int(v[name]):
            return "%s is an integer" % name
    return None


DIGEST_PROCESS = 1000000  # run.c's CONVERGE_PROCESS: node i's is this + i


def digest_problem(e, n, digests, last_client, bad):
    """A convergence probe: invoke then ok (or fail), once per node,
    after every client op."""
    node = e.get("key")
    if not isinstance(node, str) or e["process"] < DIGEST_PROCESS:
        bad(n, "a digest op names its node as key, from its own process")
        return
    if e["type"] == "invoke":
        if node in digests:
            bad(n, "a second digest of %s" % node)
        if e["time"] < last_client or e.get("value") is not None:
            bad(n, "a digest invoke comes after every client op, value null")
        digests[node] = (n, e["time"])
        return
    if node not in digests or e.get("node") != node:
        bad(n, "a digest completion without its invoke, or from another "
            "node")
    if e["type"] == "ok":
        v = e.get("value")
        if not (isinstance(v, dict) and v.get("node") == node
                and is_int(v.get("applied_index"))
                and isinstance(v.get("digest"), str)):
            bad(n, "digest ok value: expected {node, applied_index, "
                "digest, ...}")
    elif "error" not in e:
        bad(n, "a digest %s without an error" % e["type"])


def check(run_dir):
    problems = []
    with open(run_dir + "/scenario.json") as fh:
        scenario = json.load(fh)
    workload = scenario["workload"]["name"]
    clients = scenario["workload"]["clients"]
    retries = scenario["workload"]["retries"]
    rid_optional = scenario["workload"].get("rids", 1) < 1
    if workload not in OPS:
        raise ValueError("workload %r has no FORMAT.md table here" % workload)
    lines = open(run_dir + "/history.jsonl").read().split("\n")
    header = json.loads(lines[0])
    if header.get("format") != "faultline-history":
        problems.append("history.jsonl:1: no header")

    def bad(line, text):
        problems.append("history.jsonl:%d: %s" % (line, text))

    open_ops = {}          # process -> (line, event)
    dead = set()           # processes whose op ended info
    ops = []               # completed ops: dict(invoke, end, line)
    rids = {}              # rid -> list of attempts (op dicts)
    counts = {}
    digests = {}           # node -> (line, invoke time)
    last_client = -1       # time of the last client event
    for n, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        e = json.loads(text)
        if list(e) != [k for k in EVENT_FIELDS if k in e]:
            bad(n, "fields out of order or unknown: %s" % list(e))
        if e["process"] == "nemesis":
            continue
        p, t, f = e["process"], e["type"], e["f"]
        if t not in TYPES or not is_int(p) or p < 0:
            bad(n, "bad type or process")
            continue
        if f == "digest":
            digest_problem(e, n, digests, last_client, bad)
            continue
        if f not in OPS[workload]:
            bad(n, "op %r is not a %s op" % (f, workload))
            continue
        last_client = max(last_client, e["time"])
        counts[(f, t)] = counts.get((f, t), 0) + 1
        client = p % clients
        if t == "invoke":
            if p in open_ops:
                bad(n, "process %d invokes with an op open" % p)
            if p in dead:
                bad(n, "process %d invokes after an info" % p)
            why = invoke_problem(workload, f, e.get("key"), e.get("value"),
                                 client, rid_optional)
            if why:
                bad(n, why)
            open_ops[p] = (n, e)
            continue
        if p not in open_ops:
            bad(n, "a completion without an invoke")
            continue
        ln, inv = open_ops.pop(p)
        if inv["f"] != f or inv.get("key") != e.get("key"):
            bad(n, "completion's f/key differ from the invoke's")
        if "node" not in e and t == "ok":
            bad(n, "an ok without the node that served it")
        _, fields, read = OPS[workload][f]
        if t == "ok":
            why = ok_value_problem(f, e.get("value"), inv.get("value") or {})
            if why:
                bad(n, "%s ok value: %s" % (f, why))
        else:
            if "error" not in e:
                bad(n, "a %s without an error" % t)
            want = None if read else inv.get("value")
            if e.get("value") != want:
                bad(n, "a %s %s records %s" % (
                    t, f, "null" if read else "the invoke value"))
        if t == "info":
            dead.add(p)
        op = {"invoke": inv, "end": e, "line": ln, "client": client}
        ops.append(op)
        if not read and "rid" in (inv.get("value") or {}):
            rids.setdefault(inv["value"]["rid"], []).append(op)

    # Request ids: one logical request each; reuse only by retries.
    retried = 0
    for rid, attempts in rids.items():
        first = attempts[0]
        if len(attempts) > 1 + retries:
            bad(first["line"], "rid %s has %d attempts (at most %d)"
                % (rid, len(attempts), 1 + retries))
        for prev, op in zip(attempts, attempts[1:]):
            retried += 1
            if (op["invoke"]["f"], op["invoke"].get("key"),
                    op["invoke"]["value"]) != (
                    first["invoke"]["f"], first["invoke"].get("key"),
                    first["invoke"]["value"]):
                bad(op["line"], "rid %s reused for another request" % rid)
            if prev["end"]["type"] != "info":
                bad(op["line"], "rid %s reused after a %s, not an info"
                    % (rid, prev["end"]["type"]))
            if op["client"] != prev["client"] or \
                    op["invoke"]["process"] == prev["invoke"]["process"]:
                bad(op["line"], "rid %s retried by another logical client "
                    "or the same process" % rid)
            if op["invoke"]["time"] < prev["end"]["time"]:
                bad(op["line"], "rid %s retried before its info" % rid)

    # The final phase.
    if workload == "tasks":
        lists = [o for o in ops if o["invoke"]["f"] == "list"]
        last = lists[-1] if lists else None
        if last is None or last["end"]["type"] != "ok":
            problems.append("history.jsonl: no final list that succeeded")
        else:
            t0 = last["invoke"]["time"]
            late = [o for o in ops if o is not last
                    and o["end"]["time"] > t0]
            if late:
                bad(late[0]["line"], "an op completed after the final list "
                    "began")
    if workload == "queue":
        claims = [o for o in ops if o["invoke"]["f"] == "claim"]
        if not claims or claims[-1]["end"].get("error") != "empty":
            problems.append("history.jsonl: the last claim did not find the "
                            "queue empty: no drain")
        enqueued = {o["invoke"]["key"] for o in ops
                    if o["invoke"]["f"] == "enqueue"
                    and o["end"]["type"] == "ok"}
        claimed = {o["end"]["value"]["task"] for o in ops
                   if o["invoke"]["f"] == "claim" and o["end"]["type"] == "ok"}
        missing = sorted(enqueued - claimed)
        if missing:
            problems.append("history.jsonl: %d acknowledged enqueues never "
                            "claimed, e.g. %s" % (len(missing), missing[:5]))
    summary = ", ".join("%s %s %d" % (f, t, c)
                        for (f, t), c in sorted(counts.items()) if t != "invoke")
    nodes = scenario.get("members") or scenario.get("nodes", 0)
    if len(digests) != nodes:
        problems.append("history.jsonl: %d digest ops for %d nodes"
                        % (len(digests), nodes))
    print("workload_history: %s: %d ops (%s); %d retries over %d rids; "
          "%d digests" % (workload, len(ops), summary, retried, len(rids),
                          len(digests)))
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 3
    try:
        problems = check(argv[1])
    except (OSError, ValueError, KeyError) as err:
        print("workload_history: %s: %s" % (argv[1], err), file=sys.stderr)
        return 3
    for p in problems[:20]:
        print("workload_history: %s/%s" % (argv[1], p))
    if problems:
        print("workload_history: %d problems" % len(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
