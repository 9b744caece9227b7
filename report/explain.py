"""explain: a run's verdict in words, and its failures by reason.

One plain sentence per anomaly, from the verdict's anomaly fields (the
linearizability checker's key and op; the set, queue and lease checkers'
first example of each anomaly class), the history (who served the op, the
last write before it) and the nodes' own events (nodes/nN/events.jsonl:
who was leader, who a follower, in which term):

  n3 answered a read of k0 with 4 at 3.28 s, after a write of 2 to k0 had
  completed at 3.10 s; n3 was a follower then (leader n2).

report.py writes them into verdict.json ("explanation"), where the runner
and `faultline check` print them, and into the page. Standard library only.
"""

import os
import statistics

import runload

# What a fail's error code says. The same table is in runner/summary.c;
# runner/test_summary.sh checks that the two agree.
FAIL_EXPECTED = ("cas_mismatch", "exists", "not_found", "not_holder", "held",
                 "empty")
FAIL_AVAILABILITY = ("not_leader", "no_leader", "unreachable", "timeout",
                     "request_timeout", "leader_changed", "leadership_lost",
                     "shutting_down", "connection_lost", "raft_error",
                     "io_error")

READS = ("read", "get", "holder", "list", "status")


def fail_code(error):
    """An error's code: the text before a ':' ("timeout: no node accepted
    the op" is a timeout)."""
    return (error or "").split(":", 1)[0].strip() or "no reason"


def fail_class(error):
    error = fail_code(error)
    if error in FAIL_EXPECTED:
        return "expected"
    if error in FAIL_AVAILABILITY:
        return "availability"
    return "other"


def fail_split(events):
    """{"total": N, "reasons": [[error, count, class], ...]}, the largest
    first, over the client operations that ended in fail."""
    counts = {}
    for e in events:
        if e["type"] == "fail" and e["process"] != "nemesis":
            err = fail_code(e.get("error"))
            counts[err] = counts.get(err, 0) + 1
    reasons = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"total": sum(counts.values()),
            "reasons": [[r, n, fail_class(r)] for r, n in reasons]}


def _s(ns):
    return "%.3f s" % (ns / 1e9)


def _node_timelines(run_dir, wall0_ns):
    """Each node's role changes as (ns since time 0, event), in order."""
    nodes_dir = os.path.join(run_dir, "nodes")
    try:
        names = sorted(d for d in os.listdir(nodes_dir)
                       if os.path.isdir(os.path.join(nodes_dir, d)))
    except OSError:
        return {}
    loaded, all_skews = [], []
    for d in names:
        _, evs, skews = runload.read_node(
            os.path.join(nodes_dir, d, "events.jsonl"), d)
        loaded.append((d, evs))
        all_skews.extend(skews)
    if not wall0_ns:
        return {}
    # wall - mono is one constant but for nodes under a clock fault.
    skew = statistics.median(all_skews) if all_skews else None
    out = {}
    for d, evs in loaded:
        line = []
        for e in evs:
            if skew is not None and isinstance(e.get("mono"), int):
                t = e["mono"] + skew - wall0_ns
            elif isinstance(e.get("time"), int):
                t = e["time"] - wall0_ns
            else:
                continue
            line.append((t, e))
        line.sort(key=lambda te: te[0])
        out[d] = line
    return out


def _name(n):
    if isinstance(n, int):
        return "n%d" % n
    return str(n) if n else None


def _state_at(line, t):
    """A node's (role, term, leader it knew, since) at @t ns."""
    role, term, leader, since = "down", None, None, None
    for te, e in line:
        if te > t:
            break
        ev = e.get("event")
        if ev == "start":
            role, leader, since = "starting", None, te
        elif ev == "became_leader":
            role, term, leader, since = "leader", e.get("term"), None, te
        elif ev == "became_follower":
            role, term, since = "follower", e.get("term", term), te
            leader = _name(e.get("leader"))
        elif ev == "became_candidate":
            role, term, since = "candidate", e.get("term"), te
        elif ev == "leader_changed":
            leader = _name(e.get("leader"))
            term = e.get("term", term)
        elif ev == "term":
            term = e.get("term", term)
        elif ev in ("shutdown", "stopping"):
            role, since = "down", te
    return role, term, leader, since


def role_sentence(timelines, node, t):
    """"n3 was a follower then (leader n2)", or None when unknown."""
    if node not in timelines:
        return None
    role, term, leader, _ = _state_at(timelines[node], t)
    # The cluster's leader then: the leader of the highest term.
    top = None
    for other, line in timelines.items():
        r, tm, _, since = _state_at(line, t)
        if r == "leader" and tm is not None and (top is None or tm > top[1]):
            top = (other, tm, since)
    if role == "follower":
        lead = leader or (top[0] if top else None)
        return "%s was a follower then (%s)" % (
            node, "leader " + lead if lead else "it knew no leader")
    if role == "leader":
        if top and top[0] != node and term is not None and top[1] > term:
            return ("%s still took itself for the leader of term %s then, "
                    "while %s had led term %s since %s" % (
                        node, term, top[0], top[1], _s(top[2])))
        return "%s was the leader then (term %s)" % (node, term)
    if role == "candidate":
        return "%s was a candidate in an election then (term %s)" % (
            node, term)
    if role == "down":
        return "%s was not running then, by its own events" % node
    return None


class _Ops:
    """The history's operations: invoke index -> (invoke, completion)."""

    def __init__(self, events):
        self.by_index = {}
        self.pairs = []
        open_op = {}
        for e in events:
            p = e["process"]
            if p == "nemesis":
                continue
            if e["type"] == "invoke":
                pair = [e, None]
                open_op[p] = pair
                self.pairs.append(pair)
                self.by_index[e["index"]] = pair
            elif p in open_op:
                pair = open_op.pop(p)
                pair[1] = e
                self.by_index[e["index"]] = pair

    def get(self, index):
        return self.by_index.get(index)


def _write_words(inv, done):
    f, key, v = inv["f"], inv.get("key"), inv.get("value")
    if f == "write":
        return "a write of %s to %s" % (runload._short(v), key)
    if f == "cas" and isinstance(v, list) and len(v) == 2:
        return "a cas of %s from %s to %s" % (key, runload._short(v[0]),
                                               runload._short(v[1]))
    return "%s %s %s" % (f, key, runload._short(v) if v is not None else "")


def _last_write_before(ops, key, t):
    """The mutating op on @key that completed ok last before @t."""
    best = None
    for inv, done in ops.pairs:
        if inv.get("key") != key or inv["f"] in READS:
            continue
        if done is None or done["type"] != "ok" or done["time"] >= t:
            continue
        if best is None or done["time"] > best[1]["time"]:
            best = (inv, done)
    return best


def explain_linearizable(v, ops, timelines):
    a = v.get("anomaly") or {}
    op = a.get("op") or {}
    key = a.get("key")
    pair = ops.get(op.get("index"))
    if not pair:
        return None
    inv, done = pair
    node = done.get("node") if done else None
    t_ret = done["time"] if done else inv["time"]
    who = node or "the cluster"
    key = key if key is not None else inv.get("key")
    if inv["f"] in READS:
        value = done.get("value") if done else None
        text = "%s answered a %s of %s with %s at %s" % (
            who, inv["f"], key,
            runload._short(value) if value is not None else "null",
            _s(t_ret))
    else:
        text = "%s acknowledged %s at %s" % (
            who, (op.get("description") or inv["f"]) +
            (" on %s" % key if key is not None else ""), _s(t_ret))
    last = _last_write_before(ops, key, inv["time"])
    if last:
        text += ", after %s had completed at %s%s" % (
            _write_words(*last), _s(last[1]["time"]),
            " (on %s)" % last[1]["node"] if last[1].get("node") else "")
    else:
        text += ", which no order of %s's operations explains" % key
    role = role_sentence(timelines, node, inv["time"]) if node else None
    return text + ("; " + role if role else "") + "."


def _indexes(example):
    out = []
    for k, val in example.items():
        if isinstance(val, int) and not isinstance(val, bool) and \
                k not in ("count",):
            out.append(val)
        elif isinstance(val, list):
            out.extend(x for x in val if isinstance(x, int) and
                       not isinstance(x, bool))
    return out


def explain_classes(name, v, ops, timelines):
    """One sentence per anomaly class of a set, queue or lease verdict."""
    out = []
    for kind, a in (v.get("anomalies") or {}).items():
        examples = a.get("examples") or []
        if not examples or not isinstance(examples[0], dict):
            continue
        ex = examples[0]
        text = "%s: %s %s" % (name, a.get("count", len(examples)),
                              kind.replace("_", " "))
        if ex.get("description"):
            text += ", e.g. " + ex["description"]
        served = []
        for idx in _indexes(ex):
            pair = ops.get(idx)
            if not pair or not pair[1] or not pair[1].get("node"):
                continue
            inv, done = pair
            role = role_sentence(timelines, done["node"], inv["time"])
            served.append("%s (index %d) was served by %s at %s%s" % (
                inv["f"] + (" " + inv["key"] if inv.get("key") else ""),
                inv["index"], done["node"],
                _s(done["time"]), " (" + role + ")" if role else ""))
            if len(served) == 2:
                break
        if served:
            text += "; " + "; ".join(served)
        out.append(text + ".")
    return out


def explain(run_dir, verdict, events, wall0_ns):
    """The sentences for @verdict (the verdict.json object)."""
    if not isinstance(verdict, dict) or verdict.get("valid") is not False:
        return []
    ops = _Ops(events)
    timelines = _node_timelines(run_dir, wall0_ns) if run_dir else {}
    checkers = verdict.get("checkers")
    if not isinstance(checkers, dict):
        checkers = {verdict.get("checker") or "linearizable": verdict}
    out = []
    for name, v in checkers.items():
        if not isinstance(v, dict) or v.get("valid") is not False:
            continue
        if isinstance(v.get("anomaly"), dict):
            s = explain_linearizable(v, ops, timelines)
            if s:
                out.append(s)
        elif isinstance(v.get("anomalies"), dict):
            out.extend(explain_classes(name, v, ops, timelines))
    return out
