"""taskd_raft: end-to-end tests of taskd's Raft layer (python3, standard
library only). Run by test_taskd_raft.sh.

Each case starts a small cluster on loopback, drives it into one protocol
window with kills and restarts, and reads what the node recovered from disk
(its `recovered` event) or what it serves. Every case runs once without the
bug (the control: what a correct node recovers) and once with it, and the
two must differ the way BUGS.md says:

1. election: the protocol events of an election and of replication are
   there, in order (vote_persisted after term_persisted of its term,
   became_leader after its own vote, append_persisted ranges that follow
   each other, commit_advanced going up); a node SIGKILLed after voting
   recovers its term and vote. --bug vote-not-persisted: it recovers no
   vote; --bug term-not-persisted: an older term.
2. append-early-ack (one node): SIGKILL right after an acknowledged write;
   the restarted node's log ends before what its database applied.
3. truncate-skipped: a deposed leader's uncommitted entries, truncated
   when it rejoins, come back after its restart (its recovered log is
   longer than the log it had).
4. snapshot-off-by-one: a follower that installs the leader's snapshot
   misses one write (read locally with --bug stale-read, both runs).
5. quorum: a leader whose two followers are dead is sent a write, then a
   lone node is started with the other two dead. A correct leader does not
   commit the write (it steps down) and a lone node is never elected.
   --bug commit-quorum-short: the write is acknowledged; --bug
   vote-quorum-short: the lone node becomes leader.
6. vote-ignores-log: a node that missed a committed write asks the one
   node that has it (which will not time out itself) for its vote. A
   correct voter refuses; with the bug it grants, and the short log leads:
   the committed write is gone from what it serves.
"""

import contextlib
import os
import shutil
import signal
import sys
import time

from taskd_testlib import WAIT, Cluster, Conn, TestFailure, call, check


def after(events, mark, name):
    return [e for e in events[mark:] if e["event"] == name]


def wait_status(node, pred, what):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        try:
            s = node.status()
            if pred(s):
                return s
        except (OSError, ValueError, TestFailure):
            pass
        time.sleep(0.02)
    raise TestFailure(f"node {node.id}: never {what}")


@contextlib.contextmanager
def running(cl):
    """Yield @cl; after the body, check every node's log for sanitizer
    reports. The nodes are killed either way; the cluster's directory is
    removed only when the body passed (a failure leaves it to look at)."""
    try:
        yield cl
        for n in cl.nodes.values():
            n.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)


def durable_term_vote(events):
    """The term and vote this node's events say are on disk."""
    term, vote = None, 0
    for e in events:
        if e["event"] == "recovered":
            term, vote = e["term"], e["voted_for"]
        elif e["event"] == "term_persisted":
            term, vote = e["term"], 0
        elif e["event"] == "vote_persisted":
            check(e["term"] == term, f"vote_persisted {e} in term {term}")
            vote = e["vote"]
    return term, vote


def check_event_order(node):
    """The invariants of the new events, over one node's whole life."""
    life = []
    lives = []
    for e in node.events():
        if e["event"] == "start":
            life = []
            lives.append(life)
        life.append(e)
    for life in lives:
        commit = 0
        next_first = None
        term = None
        own_vote = {}
        for e in life:
            ev = e["event"]
            if ev == "recovered":
                term = e["term"]
                next_first = e["last_index"] + 1
            elif ev == "term_persisted":
                check(term is None or e["term"] > term, f"n{node.id}: term back: {e}")
                term = e["term"]
            elif ev == "vote_persisted":
                check(e["term"] == term, f"n{node.id}: vote in term {term}: {e}")
                if e["vote"] == node.id:
                    own_vote[term] = e["mono"]
            elif ev == "became_leader":
                check(e["term"] in own_vote and own_vote[e["term"]] <= e["mono"],
                      f"n{node.id}: leader of term {e['term']} without its own vote first")
            elif ev == "truncated":
                next_first = e["index"]
            elif ev == "snapshot_install_end":
                next_first = e["index"] + 1
            elif ev == "append_persisted":
                check(e["n"] == e["last"] - e["first"] + 1 and e["n"] > 0, f"n{node.id}: {e}")
                check(next_first is None or e["first"] <= next_first,
                      f"n{node.id}: append {e} after a gap (next {next_first})")
                next_first = e["last"] + 1
            elif ev == "commit_advanced":
                check(e["commit"] > commit, f"n{node.id}: commit back: {e} after {commit}")
                commit = e["commit"]


def election(flags):
    """Elect, kill the leader, elect again; SIGKILL and restart the two
    that voted. Returns [(node, (term, vote) on disk by the events,
    (term, voted_for) recovered)]."""
    cl = Cluster(n=3, election_timeout=300, heartbeat=30, flags=flags,
                 prefix="taskd-raft-election-")
    try:
        cl.start_all()
        for i in range(5):
            cl.request({"op": "write", "key": "k", "value": i})
        cl.leader().kill()
        new = cl.leader()
        cl.request({"op": "write", "key": "k", "value": 9})
        out = []
        for node in [new] + [n for n in cl.followers()]:
            before = durable_term_vote(node.events())
            node.kill()
            mark = len(node.events())
            node.start()
            rec = node.wait_event("recovered", mark)
            out.append((node.id == new.id, before, (rec["term"], rec["voted_for"])))
        cl.leader()
        if not flags:
            for node in cl.nodes.values():
                check_event_order(node)
                node.check_sanitizers()
        cl.kill_all()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return out


def test_election():
    got = election([])
    for is_new_leader, before, recovered in got:
        check(before == recovered, f"correct node: durable {before}, recovered {recovered}")
        if is_new_leader:
            check(before[1] != 0, f"the new leader recovered no vote: {before}")
    got = election(["--bug", "vote-not-persisted"])
    leader = next(g for g in got if g[0])
    check(leader[1][1] != 0 and leader[2] == (leader[1][0], 0),
          f"vote-not-persisted: new leader durable {leader[1]}, recovered {leader[2]}")
    got = election(["--bug", "term-not-persisted"])
    leader = next(g for g in got if g[0])
    check(leader[2][0] < leader[1][0],
          f"term-not-persisted: new leader durable {leader[1]}, recovered {leader[2]}")


def ack_then_kill(flags):
    """One node; 20 writes, SIGKILL as soon as the last is acked; the
    restarted node's recovered log index and database index."""
    cl = Cluster(n=1, election_timeout=100, heartbeat=20, flags=flags,
                 prefix="taskd-raft-ack-")
    node = cl.nodes[1]
    try:
        node.start()
        wait_status(node, lambda s: s["state"] == "leader", "leader")
        c = Conn(node.client_port)
        for i in range(20):
            check(c.call({"id": i, "op": "write", "key": "k", "value": i})["ok"], "write")
        node.kill()
        c.close()
        mark = len(node.events())
        node.start()
        rec = node.wait_event("recovered", mark)
        node.kill(signal.SIGTERM)
        node.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return rec


def test_append_early_ack():
    rec = ack_then_kill([])
    check(rec["last_index"] >= rec["fsm_applied_index"] >= 20, f"correct node: {rec}")
    # The kill must land within the 20 ms group commit: almost always on
    # the first try, but a loaded machine may deschedule us.
    for _ in range(3):
        rec = ack_then_kill(["--bug", "append-early-ack"])
        if rec["last_index"] < rec["fsm_applied_index"]:
            return
    raise TestFailure(f"append-early-ack: nothing lost in 3 tries: {rec}")


def deposed_leader_restart(flags):
    """A leader alone appends 5 entries it cannot commit; the others elect
    a new leader and commit; the old one rejoins (truncating the 5), is
    SIGKILLed and restarted. Its log index before the kill and after."""
    with running(Cluster(n=3, election_timeout=300, heartbeat=30, flags=flags,
                         prefix="taskd-raft-trunc-")) as cl:
        cl.start_all()
        for i in range(3):
            cl.request({"op": "write", "key": "k", "value": i})
        cl.wait_caught_up()
        old = cl.leader()
        others = cl.followers()
        for f in others:
            f.kill()
        base = old.status()["last_index"]
        c = Conn(old.client_port)
        for i in range(5):
            c.send({"id": i, "op": "write", "key": "k", "value": 100 + i})
        wait_status(old, lambda s: s["last_index"] >= base + 5, "appended 5 alone")
        old.kill()
        c.close()
        for f in others:
            f.start()
        for i in range(3):
            cl.request({"op": "write", "key": "k", "value": 200 + i})
        mark = len(old.events())
        old.start()
        cl.wait_caught_up()
        cut = old.wait_event("truncated", mark)
        check(cut["index"] <= base + 1, f"truncated {cut}, base {base}")
        before = old.status()["last_index"]
        old.kill()
        mark = len(old.events())
        old.start()
        rec = old.wait_event("recovered", mark)
    return before, rec["last_index"]


def test_truncate_skipped():
    before, recovered = deposed_leader_restart([])
    check(recovered == before, f"correct node: log {before} before, {recovered} recovered")
    before, recovered = deposed_leader_restart(["--bug", "truncate-skipped"])
    check(recovered > before,
          f"truncate-skipped: log {before} before, {recovered} recovered")


def install_then_read(flags):
    """Keys w0..w39 written while a follower is down, then read on it after
    it installed the leader's snapshot (stale-read: from its own state).
    Returns the keys it lacks, and its install and restore events."""
    flags = ["--bug", "stale-read"] + flags
    with running(Cluster(n=3, election_timeout=300, heartbeat=30, threshold=16, flags=flags,
                         prefix="taskd-raft-snap-")) as cl:
        cl.start_all()
        cl.request({"op": "write", "key": "w", "value": 0})
        cl.wait_caught_up()
        f = cl.followers()[0]
        f.kill()
        for i in range(40):
            check(cl.request({"op": "write", "key": f"w{i}", "value": i})["ok"], "write")
        mark = len(f.events())
        f.start()
        end = f.wait_event("snapshot_install_end", mark)
        restored = f.wait_event("snapshot_restored", mark, lambda e: not e["at_start"])
        cl.wait_caught_up()
        missing = [i for i in range(40)
                   if call(f.client_port, {"id": i, "op": "read", "key": f"w{i}"})["value"] != i]
    return missing, end, restored


def test_snapshot_off_by_one():
    missing, end, restored = install_then_read([])
    check(not missing and end["index"] == restored["applied_index"],
          f"correct node: missing {missing}, install {end}, restored {restored}")
    missing, end, restored = install_then_read(["--bug", "snapshot-off-by-one"])
    check(len(missing) == 1 and end["index"] == restored["applied_index"] + 1,
          f"snapshot-off-by-one: missing {missing}, install {end}, restored {restored}")


def leader_within(node, seconds):
    """Whether @node becomes leader within @seconds (a bounded wait: this
    asks whether something happens at all)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if node.status()["state"] == "leader":
                return True
        except (OSError, ValueError, TestFailure):
            pass
        time.sleep(0.02)
    return False


def restart_and_watch(cl, node):
    """Start @node and say whether it becomes leader within ten election
    timeouts (where a correct node's pre-votes fail each time)."""
    mark = len(node.events())
    node.start()
    node.wait_event("recovered", mark)
    return leader_within(node, 10 * cl.election_timeout / 1000)


def alone(flags):
    """Returns (whether a leader with both followers dead acknowledged a
    write, whether a lone node was elected)."""
    with running(Cluster(n=3, election_timeout=300, heartbeat=30, flags=flags,
                         prefix="taskd-raft-quorum-")) as cl:
        cl.start_all()
        for i in range(3):
            cl.request({"op": "write", "key": "k", "value": i})
        cl.wait_caught_up()
        old = cl.leader()
        others = cl.followers()
        for f in others:
            f.kill()
        c = Conn(old.client_port, timeout=WAIT)
        try:
            acked = c.call({"id": "alone", "op": "write", "key": "k", "value": 100})["ok"]
        except OSError:
            acked = False
        c.close()
        old.kill()
        elected = restart_and_watch(cl, others[0])
    return acked, elected


def test_quorum():
    got = alone([])
    check(got == (False, False), f"correct nodes: (acked alone, elected alone) {got}")
    got = alone(["--bug", "commit-quorum-short"])
    check(got == (True, False), f"commit-quorum-short: (acked alone, elected alone) {got}")
    got = alone(["--bug", "vote-quorum-short"])
    check(got == (False, True), f"vote-quorum-short: (acked alone, elected alone) {got}")


def short_log_asks(flags):
    """Returns (whether the node that missed a committed write became
    leader, the value it then serves for the key of that write)."""
    with running(Cluster(n=3, election_timeout=300, heartbeat=30, flags=flags,
                         prefix="taskd-raft-vote-")) as cl:
        cl.start_all()
        cl.request({"op": "write", "key": "k", "value": 1})
        cl.wait_caught_up()
        leader = cl.leader()
        short, full = cl.followers()
        short.kill()
        check(cl.request({"op": "write", "key": "k", "value": 2})["ok"], "write 2")
        full.kill()
        leader.kill()
        # The full log waits far longer than the window below: only the
        # short log runs elections, and the full log only answers them.
        full.start(extra=("--election-timeout", "30000", "--heartbeat", "100"))
        elected = restart_and_watch(cl, short)
        value = None
        if elected:
            value = call(short.client_port, {"id": "r", "op": "read", "key": "k"}).get("value")
    return elected, value


def test_vote_ignores_log():
    got = short_log_asks([])
    check(got == (False, None), f"correct nodes: (short log elected, its value) {got}")
    got = short_log_asks(["--bug", "vote-ignores-log"])
    check(got == (True, 1), f"vote-ignores-log: (short log elected, its value) {got}")


def main():
    started = time.time()
    steps = []
    try:
        for name, fn in (("election", test_election),
                         ("append-early-ack", test_append_early_ack),
                         ("truncate-skipped", test_truncate_skipped),
                         ("snapshot-off-by-one", test_snapshot_off_by_one),
                         ("quorum", test_quorum),
                         ("vote-ignores-log", test_vote_ignores_log)):
            if len(sys.argv) > 1 and name not in sys.argv[1:]:
                continue
            t = time.time()
            fn()
            steps.append(f"{name} {time.time() - t:.1f}s")
    except TestFailure as e:
        print(f"taskd_raft: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"taskd_raft: ok ({time.time() - started:.1f}s: {', '.join(steps)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
