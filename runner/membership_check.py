#!/usr/bin/env python3
"""Does a run's final configuration agree with the membership changes its
history says were committed?

`membership_check.py RUN_DIR [--json]` reads RUN_DIR/history.jsonl (the
nemesis's change records: f add, assign, remove with an info whose
"outcome" is committed, failed or unknown; nemesis/membership.h) and
RUN_DIR/configuration.json (the newest configuration a node reported at the
end, runner/configuration.h). For each node, the last change that touched
it decides what it must be at the end, when it was committed and no change
of unknown outcome touched the node after it: add -> a member (any role,
a later assign decides which), assign R -> role R, remove -> not a member.
A node whose last change is unknown is not judged. Exit 0 when every judged
node agrees, 1 when one does not (a committed change that is not there:
what an acknowledged-but-lost change looks like), 3 when the files are
missing or unreadable. Standard library only.

Runs recorded since the runner writes its nemesis "configuration" record
are judged by the `membership` checker in the verdict (checker/membership.c,
which also lets an unknown change excuse only the state it would leave);
this script is for run directories recorded before that.
"""
import json
import os
import sys


def expected_roles(history_path):
    """node -> (kind, role, index) of its last committed change, or None
    when a later change of unknown outcome touched it."""
    last = {}
    with open(history_path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("process") != "nemesis" or e.get("type") != "info":
                continue
            v = e.get("value")
            if not isinstance(v, dict) or e.get("f") not in ("add", "assign", "remove"):
                continue
            node, outcome = v.get("node"), v.get("outcome")
            if outcome == "committed":
                role = {"add": None, "remove": ""}.get(e["f"], v.get("role"))
                last[node] = (e["f"], role, e.get("index"))
            elif outcome == "unknown":
                last[node] = None
    return last


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv
    if len(args) != 1:
        print("usage: membership_check.py RUN_DIR [--json]", file=sys.stderr)
        return 3
    run = args[0]
    try:
        last = expected_roles(os.path.join(run, "history.jsonl"))
        with open(os.path.join(run, "configuration.json")) as f:
            conf = json.load(f)["configuration"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("membership_check: %s: %s" % (run, e), file=sys.stderr)
        return 3
    if not isinstance(conf, dict):
        print("membership_check: %s: no node reported a configuration" % run)
        return 3
    final = {}
    for role, key in (("voter", "voters"), ("standby", "standbys"), ("spare", "spares")):
        for n in conf.get(key, []):
            final[n] = role
    wrong = []
    for node, change in sorted(last.items()):
        if change is None:
            continue
        kind, role, index = change
        have = final.get(node, "")
        if kind == "remove" and have != "":
            wrong.append("%s: removed (committed, history index %s) but a %s at the end" % (node, index, have))
        elif kind == "add" and have == "":
            wrong.append("%s: added (committed, history index %s) but not a member at the end" % (node, index))
        elif kind == "assign" and have != role:
            wrong.append("%s: made %s (committed, history index %s) but %s at the end" % (node, role, index, have or "not a member"))
    if as_json:
        print(json.dumps({"valid": not wrong, "anomalies": wrong, "final": final}))
    elif wrong:
        print("membership: invalid: %d committed change(s) missing from the final configuration" % len(wrong))
        for w in wrong:
            print("  " + w)
    else:
        print("membership: valid: %d node(s) judged, final %s" % (sum(1 for c in last.values() if c), final))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
