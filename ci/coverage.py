"""coverage: which protocol behaviour a run showed, as a set of strings
(its signature), so that a hunt over many seeds can count what each run
added; and the steering of ci/nightly --steer by those counts.

The signature of a run directory, from its nodes/*/events.jsonl (one JSON
object per line with a field "event"; a line that does not parse, or has
no "event", is skipped; a missing file is an empty one):

- Pairs "A>B": event B came right after event A on one node, counting only
  the protocol events (PROTOCOL below, and any member_* or transfer_*),
  the other events (command_applied, client_*, applied, ...) skipped, and
  repeats of one event in a row counted once (append_persisted x 40 is one
  append_persisted). A node's file spans its restarts, so "vote_persisted>
  start" is a node restarted right after persisting a vote, before it
  logged anything else. The pairs of every node are pooled: the signature
  says what happened, not where.
- A few coarse features of the election history, "feature=value":
  terms=B    the highest term any node reached, bucketed by powers of two
             (1, 2-3, 4-7, 8-15, 16-31, 32+)
  leaders=B  how many became_leader events the run had, same buckets
             (0 for none)
  recovered_with_vote   a node came back (recovered) with voted_for set
  recovered_mid_log     a node came back with entries beyond its snapshot
                        it had not applied (last_index > fsm_applied_index)
  truncated_as_follower a truncation while the node was a follower (its
                        role as its own events last said: became_*, and
                        start/recovered make it a follower)
  truncated_as_leader / truncated_as_candidate  likewise
  install_as_follower   a snapshot install began on a follower
  io_error=SOURCE       an io_error from raft or sqlite

A feature is a string like a pair ("terms=4-7"), so coverage is one set.
A new run's "new" coverage is its signature minus the union of the
signatures before it; the curve is the size of that union after 1, 2, 4,
8, ... runs.

Steer (ci/nightly --steer) picks the next scenario to run: first every
scenario once (drawn uniformly among those not run yet); then, with
probability EPSILON, any scenario uniformly, else one drawn with
probability proportional to its score + FLOOR (uniform when every score
is 0; without FLOOR one scenario with a score of 1 above others' 0 took
every non-random pick, its score halving towards 0 but never to it:
README).
The score is what a scenario's runs after its first found new to the
hunt, decayed by DECAY at each of its runs (score = DECAY * score + new).
A scenario's first run does not count: it finds every pair common to all
scenarios as new if it comes first, and nothing of them if it comes last,
which says more about the order than about the scenario (counting it gave
the first scenario run most of the next runs, finding nothing: README).
A scenario whose seeds keep finding new pairs keeps a score; one that
stopped halves at each of its runs and is left the EPSILON share. The
draws come from one random.Random(seed), two per pick: the same seed and
the same sequence of recorded new counts give the same picks.

As a command: ci/coverage RUN_DIR... prints, per run in the order given,
its signature size, the new items and the cumulative count, then the curve;
--items prints each run's new items.

Standard library only."""

import glob
import json
import os
import random
import sys

# The protocol events whose order makes the signature; member_* and
# transfer_* are protocol events too (protocol_event()).
PROTOCOL = frozenset([
    "start", "recovered", "term", "became_follower", "became_candidate",
    "became_leader", "leader_changed", "term_persisted", "vote_persisted",
    "append_persisted", "truncated", "snapshot_install_start",
    "snapshot_install_end", "snapshot_taken", "snapshot_restored",
    "commit_advanced", "configuration", "io_error"])

ROLE_OF = {"became_follower": "follower", "became_candidate": "candidate",
           "became_leader": "leader", "start": "follower",
           "recovered": "follower"}

# Steering.
EPSILON = 0.2
DECAY = 0.5
FLOOR = 1.0


def protocol_event(name):
    return name in PROTOCOL or name.startswith("member_") or \
        name.startswith("transfer_")


def bucket(n):
    """A count by powers of two: "0", "1", "2-3", "4-7", ... "32+"."""
    if n <= 0:
        return "0"
    if n >= 32:
        return "32+"
    lo = 1
    while lo * 2 <= n:
        lo *= 2
    return "1" if lo == 1 else "%d-%d" % (lo, 2 * lo - 1)


def read_events(path):
    """The events of one events.jsonl, as dicts, in file order; lines that
    do not parse or have no "event" skipped; [] when the file is missing."""
    out = []
    try:
        f = open(path, "rb")
    except OSError:
        return out
    with f:
        for line in f:
            try:
                e = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(e, dict) and isinstance(e.get("event"), str):
                out.append(e)
    return out


class _Run:
    """What the nodes of one run add up to, fed node by node."""

    def __init__(self):
        self.items = set()
        self.max_term = 0
        self.leaders = 0

    def node(self, events):
        role = None
        last = None
        for e in events:
            ev = e["event"]
            term = e.get("term")
            if isinstance(term, int) and not isinstance(term, bool) and \
                    ev in ("term", "term_persisted", "became_leader",
                           "became_candidate", "became_follower",
                           "recovered", "leader_changed"):
                self.max_term = max(self.max_term, term)
            if ev == "became_leader":
                self.leaders += 1
            if ev == "recovered":
                if e.get("voted_for") not in (None, 0, "0"):
                    self.items.add("recovered_with_vote")
                li, fa = e.get("last_index"), e.get("fsm_applied_index")
                if isinstance(li, int) and isinstance(fa, int) and li > fa:
                    self.items.add("recovered_mid_log")
            elif ev == "truncated":
                self.items.add("truncated_as_%s" % (role or "unknown"))
            elif ev == "snapshot_install_start" and role == "follower":
                self.items.add("install_as_follower")
            elif ev == "io_error":
                self.items.add("io_error=%s" % e.get("source", "?"))
            role = ROLE_OF.get(ev, role)
            if not protocol_event(ev) or ev == last:
                continue
            if last is not None:
                self.items.add("%s>%s" % (last, ev))
            last = ev

    def signature(self):
        s = set(self.items)
        if self.max_term:
            s.add("terms=%s" % bucket(self.max_term))
        s.add("leaders=%s" % bucket(self.leaders))
        return s


def signature_of_events(nodes):
    """The signature of a run whose nodes' events are @nodes: a list of
    event lists (one per node, each in file order)."""
    run = _Run()
    for events in nodes:
        run.node(events)
    return run.signature()


def signature(run_dir):
    """The signature (a set of strings) of the run directory @run_dir; an
    empty set when it has no nodes/*/events.jsonl at all."""
    paths = sorted(glob.glob(os.path.join(run_dir, "nodes", "*",
                                          "events.jsonl")))
    if not paths:
        return set()
    return signature_of_events([read_events(p) for p in paths])


class Tally:
    """Cumulative coverage over runs, overall and per scenario."""

    def __init__(self):
        self.seen = set()
        self.by_scenario = {}
        self.curve = []           # cumulative size after each run, overall
        self.curves = {}          # the same per scenario

    def add(self, scenario, sig):
        """Count one run's signature; returns (new, new in its scenario):
        the items no run before had, overall and in its scenario."""
        new = sig - self.seen
        mine = self.by_scenario.setdefault(scenario, set())
        new_here = sig - mine
        self.seen |= sig
        mine |= sig
        self.curve.append(len(self.seen))
        self.curves.setdefault(scenario, []).append(len(mine))
        return new, new_here


def curve_points(curve):
    """[(runs, cumulative)] at 1, 2, 4, 8, ... runs and at the last."""
    pts = []
    n = 1
    while n <= len(curve):
        pts.append((n, curve[n - 1]))
        n *= 2
    if curve and pts[-1][0] != len(curve):
        pts.append((len(curve), curve[-1]))
    return pts


def format_curve(tally):
    """The curve as text: one line per scenario and one overall,
    "runs:cumulative" at 1, 2, 4, 8, ... runs."""
    lines = []
    width = max([len(n) for n in tally.curves] + [len("overall")])
    for name in sorted(tally.curves):
        pts = curve_points(tally.curves[name])
        lines.append("%-*s  %s" % (width, name, "  ".join(
            "%d:%d" % p for p in pts)))
    lines.append("%-*s  %s" % (width, "overall", "  ".join(
        "%d:%d" % p for p in curve_points(tally.curve))))
    return "\n".join(lines)


class Steer:
    """The scenario picker of ci/nightly --steer (the header comment)."""

    def __init__(self, names, seed, epsilon=EPSILON, decay=DECAY):
        self.rng = random.Random(seed)
        self.epsilon = epsilon
        self.decay = decay
        self.score = {n: 0.0 for n in names}
        self.runs = {n: 0 for n in names}

    def pick(self, candidates):
        """One of @candidates (names, in a fixed order); two draws each
        time, whatever the branch, so a pick never shifts the next ones'
        draws."""
        explore = self.rng.random()
        x = self.rng.random()
        untried = [c for c in candidates if not self.runs[c]]
        if untried:
            return untried[min(int(x * len(untried)), len(untried) - 1)]
        if explore < self.epsilon:
            return candidates[min(int(x * len(candidates)),
                                  len(candidates) - 1)]
        weights = [self.score[c] + FLOOR for c in candidates]
        total = sum(weights)
        if total <= 0:
            return candidates[min(int(x * len(candidates)),
                                  len(candidates) - 1)]
        x *= total
        for c, w in zip(candidates, weights):
            if x < w:
                return c
            x -= w
        return candidates[-1]

    def record(self, name, new):
        """A run of @name found @new new items (its first run's count is
        left out: the header comment)."""
        if self.runs[name]:
            self.score[name] = self.decay * self.score[name] + new
        self.runs[name] += 1


def scenario_of(run_dir):
    """The scenario name of a run directory: its parent folder's name
    (histories/runs/SCENARIO/STAMP-SEED)."""
    return os.path.basename(os.path.dirname(os.path.abspath(run_dir)))


def main(argv):
    import argparse
    p = argparse.ArgumentParser(
        prog="ci/coverage", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--items", action="store_true",
                   help="print each run's new items")
    a = p.parse_args(argv)
    tally = Tally()
    for d in a.runs:
        if not os.path.isdir(d):
            print("ci/coverage: %s: not a directory" % d, file=sys.stderr)
            return 3
        sig = signature(d)
        new, _ = tally.add(scenario_of(d), sig)
        print("%s: %d items, %d new, %d in all" % (d, len(sig), len(new),
                                                   len(tally.seen)))
        if a.items:
            for item in sorted(new):
                print("  + %s" % item)
    print()
    print("coverage after 1, 2, 4, ... runs (runs:items)")
    print(format_curve(tally))
    return 0
