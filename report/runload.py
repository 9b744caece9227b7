"""runload: read a run directory into the compact data a report embeds.

Everything here is plain data (dicts, lists, numbers, strings) ready for
json.dumps: columnar arrays for the operations, times in milliseconds since
the history's time 0. A run directory is read as it is: a missing
verdict.json, events.jsonl or scenario.json is noted, not an error; only a
missing or unreadable history.jsonl is (LoadError, which names the file and
line)."""
import datetime
import json
import os
import statistics

TYPES = ("ok", "fail", "info", "open")  # codes 0..3 in ops["type"]
VALUE_CHARS = 48  # op values are cut to this many characters
# Above this many ops the values are left out (the page keeps the timing of
# every op): about 40 bytes an op with them, so 100,000 ops make 4 MB.
VALUES_UP_TO = 250_000

# The nemesis's fault kinds (nemesis/*.c): the f of the action that starts a
# fault, and the f of the action that ends it. "start" ends both a kill and
# a graceful restart (whose start action is "stop").
FAULT_STARTS = {
    "kill": "kill",
    "stop": "restart",
    "pause": "pause",
    "partition": "partition",
    "loss": "loss",
    "clock": "clock",
    "disk": "disk",
    "lose-unsynced-on-kill": "lose-unsynced",
    "torn-write-on-kill": "torn-write",
    "crash-restart": "crash-restart",
}
FAULT_ENDS = {
    "start": ("kill", "stop", "lose-unsynced-on-kill", "torn-write-on-kill",
              "crash-restart"),
    "resume": ("pause",),
    "heal": ("partition",),
    "loss-stop": ("loss",),
    "clock-reset": ("clock",),
    "disk-heal": ("disk",),
}
# Endings of the f of actions that end a fault kind this file does not know
# yet ("disk-full-heal" ends "disk-full").
END_SUFFIXES = ("-heal", "-stop", "-reset", "-end", "-resume")
# Actions that say more about a fault already under way (what the power
# loss of a killed node dropped): noted on its window, not windows of
# their own.
# A membership fault's changes (nemesis/membership.h) are details too, and
# so is the runner's end-of-run read of the configuration.
DETAIL_ACTIONS = ("lose-unsynced", "torn-write", "add", "assign", "remove",
                  "transfer", "wipe", "join", "configuration")

# Node events drawn on the timeline (nodes/taskd/README.md, "Events").
MARKED_EVENTS = {
    "start": "start",
    "became_leader": "leader",
    "became_candidate": "candidate",
    "leader_changed": "leader changed",
    "io_error": "I/O error",
    "snapshot_taken": "snapshot",
    "snapshot_restored": "snapshot restored",
    "stopping": "stopping",
    "shutdown": "shutdown",
}
ROLE_EVENTS = {
    "became_leader": "leader",
    "became_follower": "follower",
    "became_candidate": "candidate",
}
MAX_MARKS_PER_KIND = 5000  # per node and event kind: the page stays small


class LoadError(Exception):
    """A history that can't be read: the message names the file and line."""


def _read_json(path, notes):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        notes.append(f"{os.path.basename(path)}: unreadable ({e})")
        return None


def _ms(ns):
    return round(ns / 1e6, 2)


def _short(value):
    if value is None:
        return ""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 1] + "\u2026"
    return text


class _Table:
    """Strings to small integers, for columns that repeat."""

    def __init__(self):
        self.index = {}
        self.items = []

    def code(self, s):
        c = self.index.get(s)
        if c is None:
            c = self.index[s] = len(self.items)
            self.items.append(s)
        return c


def _targets(value):
    """A few words naming what a nemesis action acted on."""
    if isinstance(value, list):
        return " ".join(v if isinstance(v, str) else _short(v)
                        for v in value)
    if isinstance(value, dict):
        parts = []
        for k in ("node", "nodes", "role", "outcome", "targets", "shape", "mode", "op",
                  "errno", "result", "offset_ms", "rate", "probability",
                  "enabled"):
            v = value.get(k)
            if v is None:
                continue
            if isinstance(v, list):
                v = " ".join(str(x) for x in v)
            elif isinstance(v, float):
                v = f"{v:.3g}" if k != "offset_ms" else f"{v:+.0f}"
            parts.append(v if k in ("node", "nodes", "targets", "shape",
                                    "mode", "op", "errno", "result")
                         else f"{k} {v}")
        return " ".join(str(p) for p in parts) if parts else _short(value)
    return _short(value)


def read_history(path):
    """The header and the events of a history.jsonl, as dicts. A last line
    without a newline that does not parse is dropped (header["partial"])."""
    header = {}
    events = []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise LoadError(f"{path}: {e.strerror}") from e
    with f:
        data = f.read()
    lines = data.split(b"\n")
    last = len(lines) - 1
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as e:
            if n - 1 == last:  # no newline after it: cut by a kill
                header["partial"] = True
                break
            raise LoadError(f"{path}:{n}: not JSON ({e})") from e
        if not isinstance(obj, dict):
            raise LoadError(f"{path}:{n}: expected a JSON object")
        if "format" in obj:
            if n != 1 and events:
                raise LoadError(f"{path}:{n}: field \"format\" on a line "
                                "other than the first")
            header.update(obj)
            continue
        for field in ("time", "process", "type", "f"):
            if field not in obj:
                raise LoadError(f"{path}:{n}: field \"{field}\" missing")
        if obj["type"] not in ("invoke", "ok", "fail", "info"):
            raise LoadError(f"{path}:{n}: field \"type\": expected one of "
                            "invoke|ok|fail|info")
        if not isinstance(obj["time"], (int, float)):
            raise LoadError(f"{path}:{n}: field \"time\": expected an "
                            "integer")
        obj.setdefault("index", len(events))
        events.append(obj)
    return header, events


def _lanes(procs, clients):
    """Lane of each process: process mod clients (a client takes process
    p + clients after an info, as the runner numbers them)."""
    if clients and clients > 0:
        return {p: p % clients for p in procs}, clients
    ordered = sorted(procs)
    return {p: i for i, p in enumerate(ordered)}, len(ordered)


def build_ops(events, clients, values=True):
    """Pair each invoke with its completion: columnar arrays. Without
    @values, every op's value is ""."""
    fs, keys, nodes, vals, errs = (_Table() for _ in range(5))
    open_op = {}
    rows = []
    for e in events:
        p = e["process"]
        if p == "nemesis" or not isinstance(p, int):
            continue
        if e["type"] == "invoke":
            row = [e["index"], p, e["time"], None, 3, e["f"], e.get("key"),
                   None, e.get("value"), None, None]
            open_op[p] = row
            rows.append(row)
            continue
        row = open_op.pop(p, None)
        if row is None:
            continue  # a completion without an invoke: nothing to draw
        row[3] = e["time"]
        row[4] = TYPES.index(e["type"])
        row[7] = e.get("node")
        row[9] = e.get("value")
        row[10] = e.get("error")
    rows.sort(key=lambda r: r[2])  # the page looks ops up by start time
    lane_of, n_lanes = _lanes({r[1] for r in rows}, clients)
    ops = {k: [] for k in ("idx", "proc", "lane", "t", "d", "type", "f",
                           "key", "node", "v", "err")}
    for idx, p, t0, t1, ty, f, key, node, inv, res, err in rows:
        ops["idx"].append(idx)
        ops["proc"].append(p)
        ops["lane"].append(lane_of[p])
        ops["t"].append(_ms(t0))
        ops["d"].append(_ms(t1 - t0) if t1 is not None else -1)
        ops["type"].append(ty)
        ops["f"].append(fs.code(f))
        ops["key"].append(keys.code(key if key is not None else ""))
        ops["node"].append(nodes.code(node or ""))
        if not values:
            ops["v"].append(vals.code(""))
            ops["err"].append(errs.code(err or ""))
            continue
        # Reads say what they read; the rest, what they asked for.
        shown = res if (f in ("read", "get", "holder", "list") and ty == 0) \
            else inv
        text = _short(shown)
        if shown is None and ty == 0 and f in ("read", "get", "holder"):
            text = "null"  # read nothing: say so
        if ty == 0 and f not in ("read", "get", "holder", "list") \
                and res is not None and res != inv:
            text = (text + " \u2192 " if text else "\u2192 ") + _short(res)
        ops["v"].append(vals.code(text))
        ops["err"].append(errs.code(err or ""))
    tables = {"f": fs.items, "key": keys.items, "node": nodes.items,
              "v": vals.items, "err": errs.items}
    return ops, tables, n_lanes


def build_faults(events, end_ms):
    """Fault windows from the nemesis events: each action is an invoke and
    its info (or a lone info); a start action opens a window that the
    matching end action closes; one never closed lasts to the end."""
    actions = []
    pending = {}
    for e in events:
        if e["process"] != "nemesis":
            continue
        f = e["f"]
        if e["type"] == "invoke":
            pending[f] = (e["time"], e.get("value"))
            continue
        start = pending.pop(f, None)
        t0, inv = start if start is not None else (e["time"], e.get("value"))
        actions.append((f, t0, e["time"], inv, e.get("value")))
    for f, (t0, inv) in pending.items():  # invoked, never completed
        actions.append((f, t0, t0, inv, inv))
    actions.sort(key=lambda a: a[1])

    windows = []
    opened = []  # windows not closed yet
    for f, t0, t1, inv, info in actions:
        if f in DETAIL_ACTIONS:
            if opened:
                w = opened[-1]
                w["targets"] += "; " + f + " " + _targets(info)
            continue
        ends = FAULT_ENDS.get(f)
        if ends is None:
            for suffix in END_SUFFIXES:
                if f.endswith(suffix) and f[: -len(suffix)]:
                    ends = (f[: -len(suffix)],)
                    break
        if ends is not None:
            cands = [w for w in opened if w["f"] in ends]
            same = [w for w in cands if w["_inv"] == inv]
            w = (same or cands or [None])[0]
            if w is not None:
                w["end"] = _ms(t1)
                w["end_f"] = f
                opened.remove(w)
                continue
            windows.append({"kind": f, "f": f, "start": _ms(t0),
                            "end": _ms(t1), "targets": _targets(info),
                            "end_f": f, "_inv": inv})
            continue
        w = {"kind": FAULT_STARTS.get(f, f), "f": f, "start": _ms(t0),
             "end": None, "targets": _targets(info), "end_f": None,
             "_inv": inv}
        windows.append(w)
        opened.append(w)
    for w in windows:
        if w["end"] is None:
            w["end"] = end_ms
        del w["_inv"]
    return windows


def _node_name(raw, dirname):
    if isinstance(raw, int):
        return f"n{raw}"
    return str(raw) if raw else dirname


def read_node(path, dirname):
    """One node's events.jsonl: a first summary (counts), the events worth
    drawing, and wall - mono of each (for build_nodes' clock alignment).
    Applies and client connections are counted, not kept."""
    summary = {"name": dirname, "elections": 0, "starts": 0, "applies": 0,
               "snapshots": 0, "restored": 0, "io_errors": 0,
               "shutdowns": 0, "crashes": 0, "last_state": "", "last_term": None,
               "applied_index": None, "bad_lines": 0, "bugs": []}
    raw_events = []
    skews = []
    try:
        f = open(path, "rb")
    except OSError:
        summary["last_state"] = "no events.jsonl"
        return summary, [], []
    with f:
        for line in f:
            # Most lines are applies and client connections: count those
            # without parsing them.
            if b'"event":"command_applied"' in line:
                summary["applies"] += 1
                continue
            if b'"event":"client_' in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                if line.strip():
                    summary["bad_lines"] += 1
                continue
            if not isinstance(e, dict) or "event" not in e:
                summary["bad_lines"] += 1
                continue
            if isinstance(e.get("time"), int) and isinstance(e.get("mono"),
                                                             int):
                skews.append(e["time"] - e["mono"])
            raw_events.append(e)
    return summary, raw_events, skews


def read_runner_log(run_dir, wall0_ns):
    """Node process starts and exits from runner.log ("07:38:09.811
    cluster: n3: pid 26 exited (status 0, signal 9)"), in ms since time 0:
    the runner's wall clock is never faked. A list of (node, ms, what,
    text), what being "started", "exited" or "crashed"."""
    out = []
    if not wall0_ns:
        return out
    day_ns = 86400 * 10**9
    tod0 = wall0_ns % day_ns
    try:
        f = open(os.path.join(run_dir, "runner.log"), encoding="utf-8",
                 errors="replace")
    except OSError:
        return out
    with f:
        for line in f:
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[1] != "cluster:":
                continue
            try:
                h, m, sec = parts[0].split(":")
                tod = (int(h) * 3600 + int(m) * 60) * 10**9 + \
                    int(round(float(sec) * 1e9))
            except ValueError:
                continue
            rel = (tod - tod0) % day_ns
            if rel > day_ns - 3600 * 10**9:
                rel -= day_ns  # a line just before time 0
            node = parts[2].rstrip(":")
            rest = parts[3].strip()
            if rest.startswith("started pid"):
                out.append((node, _ms(rel), "started", rest))
            elif rest.startswith("pid ") and " exited " in rest:
                what = "crashed" if "not caused by faultline" in rest \
                    else "exited"
                out.append((node, _ms(rel), what, rest))
    return out


def build_nodes(run_dir, wall0_ns, end_ms):
    """Every node under nodes/: summaries, marks (elections, restarts, I/O
    errors, snapshots) and spans (leader, up)."""
    nodes_dir = os.path.join(run_dir, "nodes")
    try:
        names = sorted(d for d in os.listdir(nodes_dir)
                       if os.path.isdir(os.path.join(nodes_dir, d)))
    except OSError:
        return [], [], []
    names.sort(key=lambda d: (len(d), d))
    loaded = []
    all_skews = []
    for d in names:
        summary, evs, skews = read_node(
            os.path.join(nodes_dir, d, "events.jsonl"), d)
        loaded.append((d, summary, evs))
        all_skews.extend(skews)
    # wall - mono is one constant on this machine, but for the events of a
    # node under a clock fault: the median ignores those.
    skew = statistics.median(all_skews) if all_skews else None

    def rel_ms(e):
        if skew is not None and isinstance(e.get("mono"), int) and wall0_ns:
            return _ms(e["mono"] + skew - wall0_ns)
        if isinstance(e.get("time"), int) and wall0_ns:
            return _ms(e["time"] - wall0_ns)
        return None

    summaries, marks, spans = [], [], []
    proc_log = read_runner_log(run_dir, wall0_ns)
    for d, summary, evs in loaded:
        name = d
        counts = {}
        role, role_t = None, None
        up_t = None
        last_t = None
        for e in evs:
            ev = e["event"]
            t = rel_ms(e)
            if ev == "start":
                name = _node_name(e.get("node"), d)
                summary["starts"] += 1
                summary["bugs"] = e.get("bugs") or []
                if up_t is not None and last_t is not None:
                    spans.append({"node": name, "what": "up", "start": up_t,
                                  "end": last_t})
                if role == "leader" and role_t is not None \
                        and last_t is not None:
                    # It led until its process died: runner.log knows when
                    # (its own last event may be well before).
                    died = [x[1] for x in proc_log if x[0] == name and
                            x[2] != "started" and t is not None and
                            last_t <= x[1] <= t]
                    spans.append({"node": name, "what": "leader",
                                  "start": role_t,
                                  "end": died[0] if died else last_t})
                role, role_t = None, None
                up_t = t
            elif ev == "became_leader":
                summary["elections"] += 1
            elif ev == "snapshot_taken":
                summary["snapshots"] += 1
            elif ev == "snapshot_restored":
                summary["restored"] += 1
            elif ev == "io_error":
                summary["io_errors"] += 1
            elif ev == "shutdown":
                summary["shutdowns"] += 1
            elif ev == "applied" and isinstance(e.get("applied_index"), int):
                summary["applied_index"] = e["applied_index"]
            if "term" in e and isinstance(e["term"], int) \
                    and ev not in ("command_applied",):
                summary["last_term"] = e["term"]
            for k in ("applied_index",):
                if isinstance(e.get(k), int):
                    summary["applied_index"] = e[k]
            if ev in ROLE_EVENTS:
                if role == "leader" and role_t is not None and t is not None:
                    spans.append({"node": name, "what": "leader",
                                  "start": role_t, "end": t})
                role, role_t = ROLE_EVENTS[ev], t
                summary["last_state"] = role
            if ev == "shutdown":
                summary["last_state"] = "shut down (" + str(
                    e.get("reason", "")) + ")"
                if role == "leader" and role_t is not None and t is not None:
                    spans.append({"node": name, "what": "leader",
                                  "start": role_t, "end": t})
                role, role_t = None, None
                if up_t is not None and t is not None:
                    spans.append({"node": name, "what": "up", "start": up_t,
                                  "end": t})
                up_t = None
            if ev in MARKED_EVENTS and t is not None:
                counts[ev] = counts.get(ev, 0) + 1
                if counts[ev] <= MAX_MARKS_PER_KIND:
                    marks.append({"node": name, "t": t, "ev": ev,
                                  "text": _mark_text(e)})
            if t is not None:
                last_t = t
        if role == "leader" and role_t is not None:
            spans.append({"node": name, "what": "leader", "start": role_t,
                          "end": last_t if summary["last_state"].startswith(
                              "shut") else end_ms})
        if up_t is not None:
            # No shutdown event: killed (its last event is the last sign of
            # life) or still up when the run ended.
            spans.append({"node": name, "what": "up", "start": up_t,
                          "end": last_t if last_t is not None else end_ms})
        procs = [x for x in proc_log if x[0] == name]
        if procs:
            # runner.log knows when the process really started and ended.
            spans[:] = [sp for sp in spans
                        if not (sp["node"] == name and sp["what"] == "up")]
            up = None
            for _, t, what, text in procs:
                if what == "started":
                    up = t if up is None else up
                else:
                    if up is not None:
                        spans.append({"node": name, "what": "up",
                                      "start": up, "end": t})
                    up = None
                    if what == "crashed":
                        summary["crashes"] += 1
                        marks.append({"node": name, "t": t, "ev": "crash",
                                      "text": text})
            if up is not None:
                spans.append({"node": name, "what": "up", "start": up,
                              "end": end_ms})
        summary["name"] = name
        summary["restarts"] = max(0, summary["starts"] - 1)
        summary["stderr"] = _tail(os.path.join(nodes_dir, d, "stderr.log"))
        summaries.append(summary)
    return summaries, marks, spans


def _mark_text(e):
    ev = e["event"]
    if ev == "io_error":
        return "I/O error: %s %s %s" % (e.get("source", ""), e.get("op", ""),
                                        e.get("message", e.get("code", "")))
    if ev in ("became_leader", "became_candidate"):
        return "%s, term %s" % (MARKED_EVENTS[ev], e.get("term"))
    if ev == "leader_changed":
        return "leader now %s (was %s), term %s" % (
            e.get("leader"), e.get("previous"), e.get("term"))
    if ev == "snapshot_taken":
        return "snapshot at index %s, %s bytes" % (e.get("index"),
                                                   e.get("bytes"))
    if ev == "snapshot_restored":
        return "snapshot restored, applied index %s" % e.get("applied_index")
    if ev == "start":
        return "started, pid %s, applied index %s" % (e.get("pid"),
                                                     e.get("applied_index"))
    if ev == "shutdown":
        return "shutdown: %s" % e.get("reason", "")
    return ev


def _tail(path, lines=3, limit=600):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4096))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])[-limit:]


def named_ops(verdict):
    """History indexes of the operations a verdict names, each with the
    checker and the place in the verdict that names it. Finds op objects
    (an integer "index" beside "f", "process" or "type") and integer lists
    under keys that say they hold indexes ("indexes", "op_indexes",
    "examples"...), at any depth; checkers' verdicts sit under
    "checkers"."""
    found = []

    def walk(node, checker, where):
        if isinstance(node, dict):
            if isinstance(node.get("index"), int) and any(
                    k in node for k in ("f", "process", "type")):
                found.append({"index": node["index"], "checker": checker,
                              "where": where,
                              "text": node.get("description")
                              or _short(node)})
            for k, v in node.items():
                if k in ("stats", "history"):
                    continue
                if k == "checkers" and isinstance(v, dict):
                    for name, sub in v.items():
                        walk(sub, name, name)
                    continue
                lk = k.lower()
                here = f"{where}.{k}".strip(".")
                if isinstance(v, list) and ("index" in lk or "example" in lk
                                            or lk in ("ops", "op_ids")):
                    for x in v:
                        if isinstance(x, int) and not isinstance(x, bool):
                            found.append({"index": x, "checker": checker,
                                          "where": here, "text": k})
                        elif isinstance(x, dict) and "example" in lk:
                            # {"task": "t2", "description": ..., "create": 3,
                            #  "read": 4}: its integers are op indexes.
                            for fk, fx in x.items():
                                if fk in ("count", "version") or \
                                        fk.endswith("_ms"):
                                    continue
                                for y in (fx if isinstance(fx, list)
                                          else [fx]):
                                    if isinstance(y, int) and \
                                            not isinstance(y, bool):
                                        found.append({
                                            "index": y, "checker": checker,
                                            "where": f"{here}.{fk}",
                                            "text": x.get("description")
                                            or fk})
                    if lk == "examples" or "example" in lk:
                        continue
                walk(v, checker, f"{where}.{k}".strip("."))
        elif isinstance(node, list):
            for x in node:
                walk(x, checker, where)

    if isinstance(verdict, dict):
        walk(verdict, verdict.get("checker") or "", "")
    seen = set()
    out = []
    for n in found:
        k = (n["index"], n["checker"])
        if k not in seen:
            seen.add(k)
            out.append(n)
    return out


def verdict_view(verdict):
    """The verdict as the page shows it: overall, and one row per checker
    (today's flat object is one checker)."""
    if not isinstance(verdict, dict):
        return None
    view = {"valid": verdict.get("valid"), "checkers": []}

    def row(name, v):
        if not isinstance(v, dict):
            return {"name": name, "valid": None, "text": _short(v)}
        text = v.get("summary") or v.get("reason") or ""
        a = v.get("anomaly")
        anomalies = v.get("anomalies")
        if not text and isinstance(a, dict):
            op = a.get("op") or {}
            text = "key %s: %s (process %s, index %s) cannot be " \
                "linearized" % (json.dumps(a.get("key")),
                                op.get("description", ""),
                                op.get("process"), op.get("index"))
        if not text and isinstance(anomalies, dict) and anomalies:
            # Anomaly classes with counts and examples (checker/report.c).
            parts = []
            for cls, x in anomalies.items():
                if not isinstance(x, dict):
                    continue
                ex = x.get("examples") or []
                first = ex[0].get("description") if ex and \
                    isinstance(ex[0], dict) else None
                parts.append(f"{cls} {x.get('count')}" +
                             (f" (first: {first})" if first else ""))
            text = "; ".join(parts)
        if not text:
            # Counts per class ("counts": {"ok": 3, "lost": 0}, or
            # "lost": {"count": 2, ...}, or "lost": 2): the non-zero ones.
            src = v.get("counts") if isinstance(v.get("counts"), dict) \
                else v
            parts = []
            for k, x in src.items():
                if k in ("ops", "keys", "stats", "valid", "partial"):
                    continue
                if isinstance(x, dict) and isinstance(x.get("count"), int):
                    x = x["count"]
                if isinstance(x, int) and not isinstance(x, bool) and x:
                    parts.append(f"{k} {x}")
            text = ", ".join(parts)
        if not text and v.get("ops") is not None:
            text = "%s ops%s%s" % (
                v.get("ops"),
                f", {v['keys']} keys" if v.get("keys") is not None else "",
                f", model {v['model']}" if v.get("model") else "")
        detail = {k: v[k] for k in v if k not in ("history", "checkers")}
        return {"name": name or v.get("checker") or "checker",
                "valid": v.get("valid"), "text": text,
                "partial": v.get("partial"), "ops": v.get("ops"),
                "detail": json.dumps(detail, indent=1)[:4000]}

    checkers = verdict.get("checkers")
    if isinstance(checkers, dict) and checkers:
        for name, v in checkers.items():
            view["checkers"].append(row(name, v))
    else:
        view["checkers"].append(row(verdict.get("checker"), verdict))
    view["partial"] = verdict.get("partial")
    return view


def _wall_ns(text):
    """ISO 8601 UTC ("2026-11-22T07:38:06.099Z") to ns since the epoch."""
    if not isinstance(text, str):
        return None
    try:
        t = text.rstrip("Z")
        dt = datetime.datetime.fromisoformat(t).replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return int(round(dt.timestamp() * 1e6)) * 1000


def load_shrunk(run_dir, notes, where):
    """RUN_DIR/shrunk.jsonl and shrunk.verdict.json, when they exist. The
    shrunk history numbers its events afresh: @where maps (process, time,
    type) of the run's events to their op's position in the columns, so
    that each shrunk event can point at the op it came from."""
    path = os.path.join(run_dir, "shrunk.jsonl")
    if not os.path.exists(path):
        return None
    try:
        _, events = read_history(path)
    except LoadError as e:
        notes.append(f"shrunk history unreadable: {e}")
        return None
    rows = []
    for e in events:
        rows.append({"index": e.get("index"), "t": _ms(e["time"]),
                     "process": e["process"], "type": e["type"],
                     "f": e["f"], "key": e.get("key"),
                     "value": _short(e.get("value")),
                     "error": e.get("error"), "node": e.get("node"),
                     "op": where.get((e["process"], e["time"], e["type"]))})
    verdict = _read_json(os.path.join(run_dir, "shrunk.verdict.json"), notes)
    return {"events": rows, "verdict": verdict_view(verdict),
            "named": [n["index"] for n in named_ops(verdict)]}


def load_run(run_dir):
    """The whole report's data for @run_dir."""
    notes = []
    history_path = os.path.join(run_dir, "history.jsonl")
    header, events = read_history(history_path)
    scenario = _read_json(os.path.join(run_dir, "scenario.json"), notes) \
        or {}
    verdict = _read_json(os.path.join(run_dir, "verdict.json"), notes)
    if verdict is None:
        notes.append("no verdict.json: the run was not checked")
    if header.get("partial"):
        # The words check uses (runner/check.c).
        notes.append("partial history (the last line was cut off)")
    if os.path.exists(os.path.join(run_dir, "interrupted")):
        notes.append("the run was interrupted")
    notes.extend(_repro_notes(run_dir, notes))
    workload = scenario.get("workload") or {}
    clients = workload.get("clients") if isinstance(workload, dict) else None
    end_ns = max((e["time"] for e in events), default=0)
    end_ms = _ms(end_ns)
    n_invokes = sum(1 for e in events
                    if e["type"] == "invoke" and e["process"] != "nemesis")
    values = n_invokes <= VALUES_UP_TO
    if not values:
        notes.append(f"{n_invokes} operations: their values are left out "
                     f"of this page (kept up to {VALUES_UP_TO}), their "
                     "timing is all here")
    ops, tables, n_lanes = build_ops(events, clients, values)
    faults = build_faults(events, end_ms)
    wall0 = _wall_ns(header.get("start_wall"))
    summaries, marks, spans = build_nodes(run_dir, wall0, end_ms)

    # Ops the verdict names: to their positions in the columns.
    pos = {idx: i for i, idx in enumerate(ops["idx"])}
    named = []
    for n in named_ops(verdict):
        i = pos.get(n["index"])
        if i is None:  # an index of a completion: find its op
            i = _op_of_completion(events, n["index"], pos)
        n["op"] = i
        named.append(n)

    counts = {t: 0 for t in TYPES}
    for ty in ops["type"]:
        counts[TYPES[ty]] += 1
    db = scenario.get("db") if isinstance(scenario.get("db"), dict) else {}
    meta = {
        "scenario": header.get("scenario") or scenario.get("name") or "",
        "description": scenario.get("description", ""),
        "seed": header.get("seed", scenario.get("seed")),
        "start_wall": header.get("start_wall", ""),
        "dir": os.path.normpath(run_dir),  # as the runner printed it
        "bug": db.get("bug", ""),
        "nodes": scenario.get("nodes"),
        "clients": clients,
        # What the history says of itself first (FORMAT.md, line 1).
        "workload": header.get("workload") or (
            workload.get("name") if isinstance(workload, dict) else None),
        "checkers": header.get("checkers")
        if isinstance(header.get("checkers"), list) else None,
        "model": header.get("model")
        if isinstance(header.get("model"), str) else None,
        "system": header.get("system")
        if isinstance(header.get("system"), str) else None,
        "duration_s": scenario.get("duration_s"),
        "recovery_s": scenario.get("recovery_s"),
        "partial": bool(header.get("partial")),
        "counts": counts,
        "n_ops": len(ops["t"]),
        "n_lanes": n_lanes,
        "end": end_ms,
        "notes": notes,
        "version": header.get("faultline_version") or
        os.environ.get("FAULTLINE_VERSION", ""),
    }
    import explain  # noqa: E402 (it imports this module)
    return {
        "meta": meta,
        "fails": explain.fail_split(events),
        "explanation": explain.explain(run_dir, verdict, events, wall0),
        "verdict": verdict_view(verdict),
        "ops": pack_ops(ops),
        "tables": tables,
        "faults": faults,
        "marks": marks,
        "spans": spans,
        "nodes": summaries,
        "named": named,
        "shrunk": load_shrunk(run_dir, notes, _event_ops(events, pos)),
        "types": list(TYPES),
    }


def pack_ops(ops):
    """The columns as the page reads them: start times and op indexes as
    deltas from the previous op, times in units of 10 us (integers, so the
    sums come out exact): a third smaller than plain milliseconds."""
    packed = dict(ops)
    prev_t = prev_i = 0
    dt, di = [], []
    for t, i in zip(ops["t"], ops["idx"]):
        u = int(round(t * 100))
        dt.append(u - prev_t)
        di.append(i - prev_i)
        prev_t, prev_i = u, i
    packed["t"] = dt
    packed["idx"] = di
    packed["d"] = [int(round(d * 100)) if d >= 0 else -1 for d in ops["d"]]
    packed["packed"] = "t, idx: deltas; t, d: 10 us units"
    return packed


def _repro_outcome(repro):
    """What came back: the outcome repro.json names ("same class: ..."),
    or, from an older faultline, reproduced or not."""
    outcome = repro.get("outcome")
    if isinstance(outcome, str):
        why = repro.get("why")
        return outcome + (" (%s)" % why if why else "")
    return "reproduced" if repro.get("reproduced") else "not reproduced"


def _repro_notes(run_dir, notes):
    """A run made by `faultline repro`: what it replays (runner.log) and,
    once repro.json exists, whether the original's anomaly came back."""
    out = []
    repro = _read_json(os.path.join(run_dir, "repro.json"), notes)
    if isinstance(repro, dict):
        out.append("a repro of %s (%s faults replayed): the original's "
                   "anomalies %s, this run's %s: %s" % (
                       repro.get("original"), repro.get("faults_replayed"),
                       ", ".join(map(str, repro.get("original_anomalies")
                                     or [])) or "none",
                       ", ".join(map(str, repro.get("anomalies") or []))
                       or "none",
                       _repro_outcome(repro)))
        return out
    try:
        with open(os.path.join(run_dir, "runner.log"), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                i = line.find(" run: repro of ")
                if i >= 0:
                    out.append("a " + line[i + 6:].strip())
                    break
    except OSError:
        pass
    return out


def _event_ops(events, pos):
    """(process, time, type) of each client event -> its op's position."""
    where = {}
    open_op = {}
    for e in events:
        p = e["process"]
        if p == "nemesis":
            continue
        if e["type"] == "invoke":
            open_op[p] = pos.get(e["index"])
            i = open_op[p]
        else:
            i = open_op.pop(p, None)
        if i is not None:
            where[(p, e["time"], e["type"])] = i
    return where


def _op_of_completion(events, index, pos):
    """The op (position in the columns) whose completion is event @index."""
    by_index = None
    for k, e in enumerate(events):
        if e["index"] == index:
            by_index = k
            break
    if by_index is None:
        return None
    p = events[by_index]["process"]
    for e in reversed(events[:by_index]):
        if e["process"] == p and e["type"] == "invoke":
            return pos.get(e["index"])
    return None
