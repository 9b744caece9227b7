"""taskd_cluster: end-to-end tests of taskd on a real 3-node cluster on
loopback, started and stopped here (python3, standard library only).

Run by test_taskd.sh. Checks, in order: bad flags; leader election and
not_leader redirects; malformed requests (bad JSON, unknown op, missing
fields, an oversized line: an error reply, the connection and the node
survive); registers; pipelined requests and clients hanging up; a follower
killed and restarted (log replay must not apply anything twice); the
leader killed under concurrent creates retried with request ids (no acked
write lost, no retry applied twice); an explicit retry across a leader
change; claim exclusivity; lease exclusivity; snapshots (taken, kept at
restart, installed on a lagging follower); --bug stale-read; SIGTERM under
load; the three SQLite files compared row for row; and, losing quorum, the
timeout errors of a correct leader against --bug ack-before-commit and
--bug leader-local-read.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from taskd_testlib import (BIN, WAIT, Cluster, Conn, TestFailure, call, check)

KEY = "k"


class Register:
    """What the successful writes and cas on KEY should have left."""

    def __init__(self, cl):
        self.cl = cl
        self.ok_updates = 0
        self.last_value = None

    def update(self, op):
        reply = self.cl.request(dict(op, key=KEY))
        if reply["ok"]:
            self.ok_updates += 1
            self.last_value = op["value"] if op["op"] == "write" else op["to"]
            return reply
        check(reply["error"] == "cas_mismatch" and reply["definite"] is True,
              f"unexpected failure (leader was stable): {op} -> {reply}")
        return reply

    def writes(self, n):
        for _ in range(n):
            self.update({"op": "write", "value": self.ok_updates * 10 + 1})

    def check_read(self, where):
        reply = self.cl.request({"op": "read", "key": KEY})
        check(reply["ok"], f"{where}: read failed: {reply}")
        check(reply["value"] == self.last_value and reply["version"] == self.ok_updates,
              f"{where}: read {reply}, expected value {self.last_value} "
              f"version {self.ok_updates}")


def leader_port(cl):
    """The client port of the node the live nodes call leader, or None.
    Safe to call from any thread: it only talks to ports."""
    for _, cport in cl.ports.values():
        try:
            s = call(cport, {"id": "s", "op": "status"}, timeout=1.0)
        except (OSError, TestFailure, ValueError):
            continue
        if s["state"] == "leader":
            return cport
    return None


def retrying(cl, op, deadline):
    """Send @op (with a rid) until it has a definite outcome, the way a
    careful client does: same rid on every retry. Returns the final reply."""
    port = None
    while time.time() < deadline:
        if port is None:
            port = leader_port(cl)
            if port is None:
                time.sleep(0.05)
                continue
        try:
            reply = call(port, dict(op, id=op["rid"]), timeout=3.0)
        except (OSError, TestFailure, ValueError):
            port = None
            continue
        if reply["ok"] or reply["definite"] and reply["error"] != "not_leader":
            return reply
        port = None  # not_leader, or in doubt: find the leader, retry
        time.sleep(0.02)
    raise TestFailure(f"no definite outcome for {op}")


def test_bad_flags():
    def run(*args):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=WAIT)
        return p.returncode, p.stderr
    good = ["--id", "1", "--data", "/nonexistent/x", "--raft", "127.0.0.1:1",
            "--client", "127.0.0.1:2", "--peer", "1,127.0.0.1:1,127.0.0.1:2"]
    for bad, flag in ((["--id", "x", *good[2:]], "--id"),
                      ([*good, "--bug", "no-such-bug"], "--bug"),
                      ([*good, "--peer", "2,127.0.0.1:3"], "--peer"),
                      ([*good, "--heartbeat", "2000"], "--heartbeat"),
                      ([*good, "--request-timeout", "0"], "--request-timeout"),
                      ([*good, "--dedup-window", "x"], "--dedup-window"),
                      (good[:-2], "--peer"),
                      ([*good, "--frobnicate"], "--frobnicate")):
        rc, err = run(*bad)
        check(rc == 2 and flag in err, f"{bad}: rc {rc}: {err}")
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=WAIT)
    check(p.returncode == 0 and "stale-read" in p.stdout and "lost-claim" in p.stdout,
          "--help")
    # --list-bugs: NAME<TAB>description, one a line, exit 0; each NAME is
    # one --bug accepts, and the names of --help.
    p = subprocess.run([BIN, "--list-bugs"], capture_output=True, text=True, timeout=WAIT)
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    check(p.returncode == 0 and p.stderr == "" and len(rows) >= 14
          and all(len(r) == 2 and r[0] and r[1] for r in rows), f"--list-bugs: {p}")
    for name, _ in rows:
        rc, err = run("--bug", name, "--help")
        check(rc == 0, f"--bug {name} --help: rc {rc}: {err}")
    for name in ("stale-read", "vote-not-persisted", "snapshot-off-by-one"):
        check(name in [r[0] for r in rows], f"--list-bugs lacks {name}")
    rc, err = run("--bug", "nope", "--list-bugs")
    check(rc == 2 and "--bug nope" in err, f"unknown bug before --list-bugs: rc {rc}: {err}")


def test_election_and_redirects(cl):
    leader = cl.leader()
    follower = cl.followers()[0]
    reply = call(follower.client_port, {"id": "r1", "op": "read", "key": KEY})
    check(reply == {"id": "r1", "ok": False, "error": "not_leader", "definite": True,
                    "leader": leader.client, "message": reply.get("message")},
          f"follower read: {reply}")
    for op in ({"op": "write", "key": KEY, "value": 1},
               {"op": "create", "task_id": "x", "payload": 1},
               {"op": "list"}, {"op": "claim", "worker": "w", "lease_ms": 5}):
        reply = call(follower.client_port, dict(op, id=5))
        check(reply["error"] == "not_leader" and reply["leader"] == leader.client
              and reply["definite"] is True, f"follower {op}: {reply}")
    for node in cl.nodes.values():
        e = node.wait_event("recovered")
        check(e["last_index"] >= 1, f"recovered: {e}")
    check(any(e["event"] == "became_leader" for e in leader.events()), "no became_leader event")


def test_malformed(cl):
    """Every kind of bad input gets a bad_request; connection and node live."""
    leader = cl.leader()
    c = Conn(leader.client_port)
    c.send_raw(b"{not json\n")
    r = c.recv()
    check(r["ok"] is False and r["error"] == "bad_request" and r["definite"] is True
          and r["id"] is None and "column" in r["message"], f"{r}")
    c.send_raw(b"[1,2]\n\n\r\n")
    r = c.recv()
    check(r["error"] == "bad_request" and "object" in r["message"], f"{r}")
    for bad, says in (({"id": 1, "op": "frob"}, "unknown op"),
                      ({"id": 2, "op": "write", "key": KEY, "value": 1.5}, "value"),
                      ({"id": 3, "op": "read"}, "key"),
                      ({"id": [1], "op": "status"}, "id"),
                      ({"op": "status"}, "id"),
                      ({"id": 4, "op": "cas", "key": KEY, "from": 1}, "to"),
                      ({"id": 5}, "op"),
                      ({"id": 6, "op": "create", "task_id": "t"}, "payload"),
                      ({"id": 7, "op": "update_status", "task_id": "t", "status": "x"},
                       "expect_"),
                      ({"id": 8, "op": "claim", "worker": "w", "lease_ms": -1}, "lease_ms"),
                      ({"id": 9, "op": "acquire", "scope": "s", "holder": "h"}, "ttl_ms"),
                      ({"id": 10, "op": "create", "task_id": "t", "payload": 1, "rid": 7},
                       "rid")):
        c.send(bad)
        r = c.recv()
        check(r["ok"] is False and r["error"] == "bad_request" and r["definite"] is True
              and says in r["message"] and r["id"] == bad.get("id"), f"{bad} -> {r}")
    # An oversized line: one error, then the same connection carries on.
    c.send_raw(b'{"id":"big","op":"write","key":"' + b"x" * 70000 + b'","value":1}\n')
    r = c.recv()
    check(r["error"] == "bad_request" and "longer than" in r["message"], f"oversized: {r}")
    check(c.call({"id": "after", "op": "status"})["ok"], "connection dead after oversized line")
    c.close()
    check(leader.status()["state"] == "leader", "leader did not survive bad requests")


def test_registers(cl, reg):
    reply = cl.request({"op": "read", "key": "unset"})
    check({k: reply[k] for k in ("ok", "value", "version")} ==
          {"ok": True, "value": None, "version": 0}, f"unset read: {reply}")
    reply = reg.update({"op": "cas", "from": 0, "to": 1})
    check(reply["error"] == "cas_mismatch", f"cas on unset key: {reply}")
    reg.writes(5)
    check(reg.update({"op": "cas", "from": reg.last_value, "to": 1000})["ok"], "cas")
    reply = reg.update({"op": "cas", "from": 999, "to": 5})
    check(reply["error"] == "cas_mismatch" and reply["value"] == 1000, f"cas mismatch: {reply}")
    reg.check_read("after writes")


def test_pipelined_and_hangups(cl):
    leader = cl.leader()
    c = Conn(leader.client_port)
    for i in range(10):
        c.send({"id": f"w{i}", "op": "write", "key": "pipelined", "value": i})
        c.send({"id": f"r{i}", "op": "read", "key": "pipelined"})
    ids = {c.recv()["id"] for _ in range(20)}
    check(ids == {f"w{i}" for i in range(10)} | {f"r{i}" for i in range(10)},
          f"pipelined replies: {ids}")
    for i in range(10):
        c.send({"id": i, "op": "write", "key": "abandoned", "value": i})
        c.send({"id": -i, "op": "read", "key": "abandoned"})
        c.send({"id": f"l{i}", "op": "list"})
    c.close()  # replies will find the connection gone
    leader.wait_event("client_disconnected")


def test_follower_restart_replay(cl, reg):
    """SIGKILL a follower, write on, restart it: with no snapshot yet it
    replays its whole log, and must skip what SQLite already has."""
    cl.wait_caught_up()
    victim = cl.followers()[0]
    victim.kill()
    reg.writes(3)
    mark = len(victim.events())
    victim.start()
    cl.wait_caught_up()
    victim.wait_event("apply_skipped", mark)
    reg.check_read("after follower restart")


def test_leader_kill_loses_no_acked_write(cl):
    """Concurrent creates, each retried with its rid until definite, while
    the leader is SIGKILLed and restarted: every task acked is there, once;
    no retry was applied twice (that would answer "exists")."""
    results = {}
    errors = []
    deadline = time.time() + 3 * WAIT

    def writer(w):
        try:
            for i in range(25):
                tid = f"kill-{w}-{i}"
                op = {"op": "create", "task_id": tid, "payload": {"w": w, "i": i},
                      "rid": f"rid-{tid}"}
                results[tid] = retrying(cl, op, deadline)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    old = cl.leader()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    old.kill()
    for t in threads:
        t.join()
    check(not errors, f"writers: {errors}")
    check(cl.leader() is not old, "leader did not change")
    old.start()
    cl.wait_caught_up()
    bad = {tid: r for tid, r in results.items() if not r["ok"]}
    check(not bad, f"creates failed (a retry applied twice?): {bad}")
    dups = sum(1 for r in results.values() if r.get("duplicate"))
    tasks = cl.request({"op": "list"})["tasks"]
    ids = [t["task_id"] for t in tasks if t["task_id"].startswith("kill-")]
    check(len(ids) == len(set(ids)), "a task listed twice")
    check(set(ids) == set(results), f"acked {len(results)}, listed {len(ids)}")
    check(all(t["version"] == 1 for t in tasks if t["task_id"].startswith("kill-")),
          "a create applied twice")
    return f"{len(results)} acked, {dups} answered as duplicates"


def test_retry_across_leader_change(cl):
    old = cl.leader()
    first = call(old.client_port, {"id": 1, "op": "create", "task_id": "retry-me",
                                   "payload": "x", "rid": "retry-1"})
    check(first["ok"] and "duplicate" not in first, f"first attempt: {first}")
    old.kill()
    again = cl.request({"op": "create", "task_id": "retry-me", "payload": "x",
                        "rid": "retry-1"})
    check(cl.leader() is not old, "leader did not change")
    check(again["ok"] and again["duplicate"] is True and again["index"] == first["index"]
          and again["task"] == first["task"], f"retry on the new leader: {again}")
    old.start()
    cl.wait_caught_up()
    # The restarted old leader's own database has it once too.
    got = cl.request({"op": "get", "task_id": "retry-me"})
    check(got["task"]["version"] == 1, f"{got}")


def test_claim_exclusivity(cl):
    """Workers claiming concurrently never get the same task."""
    n_tasks = 24
    for i in range(n_tasks):
        r = cl.request({"op": "enqueue", "task_id": f"job-{i:02}", "payload": i,
                        "rid": f"enq-job-{i}"})
        check(r["ok"], f"enqueue: {r}")
    claims = []
    errors = []
    lock = threading.Lock()
    start = threading.Barrier(6)
    deadline = time.time() + 2 * WAIT

    def worker(w):
        try:
            start.wait()
            n = 0
            while True:
                n += 1
                r = retrying(cl, {"op": "claim", "worker": f"worker-{w}",
                                  "lease_ms": 60000, "rid": f"claim-{w}-{n}"}, deadline)
                if not r["ok"]:
                    check(r["error"] == "empty", f"claim: {r}")
                    return
                with lock:
                    claims.append((r["task"]["task_id"], f"worker-{w}"))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"workers: {errors}")
    tids = [tid for tid, _ in claims]
    check(len(tids) == len(set(tids)), f"a task claimed twice: {sorted(tids)}")
    check(set(tids) == {f"job-{i:02}" for i in range(n_tasks)}, f"claimed {sorted(tids)}")
    tid, worker_id = claims[0]
    r = cl.request({"op": "ack", "task_id": tid, "worker": "someone-else"})
    check(r["error"] == "not_holder" and r["task"]["worker"] == worker_id, f"{r}")
    for tid, worker_id in claims:
        r = cl.request({"op": "ack", "task_id": tid, "worker": worker_id})
        check(r["ok"] and r["task"]["status"] == "done", f"ack: {r}")


def test_lease_exclusivity(cl):
    """Holders racing for one scope: one wins, the others see it."""
    replies = {}
    start = threading.Barrier(6)
    deadline = time.time() + WAIT

    def contender(h):
        start.wait()
        replies[h] = retrying(cl, {"op": "acquire", "scope": "lock", "holder": f"h{h}",
                                   "ttl_ms": 60000, "rid": f"acq-{h}"}, deadline)

    threads = [threading.Thread(target=contender, args=(h,)) for h in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [h for h, r in replies.items() if r["ok"]]
    check(len(winners) == 1, f"lease winners: {replies}")
    winner = f"h{winners[0]}"
    for r in replies.values():
        check(r["ok"] or (r["error"] == "held" and r["holder"] == winner), f"{r}")
    r = cl.request({"op": "holder", "scope": "lock"})
    check(r["holder"] == winner, f"holder: {r}")
    check(cl.request({"op": "release", "scope": "lock", "holder": winner})["ok"], "release")
    # A short lease expires: then, and only then, another holder gets it.
    a = cl.request({"op": "acquire", "scope": "lock", "holder": "a", "ttl_ms": 400})
    check(a["ok"], f"acquire a: {a}")
    b = cl.request({"op": "acquire", "scope": "lock", "holder": "b", "ttl_ms": 400})
    check(b["error"] == "held" and b["holder"] == "a", f"acquire b while held: {b}")
    time.sleep((a["expires_ms"] - a["now_ms"]) / 1000 + 0.1)
    b = cl.request({"op": "acquire", "scope": "lock", "holder": "b", "ttl_ms": 60000})
    check(b["ok"] and b["token"] > a["token"], f"acquire b after expiry: {b} (a: {a})")
    r = cl.request({"op": "holder", "scope": "lock"})
    check(r["holder"] == "b" and r["token"] == b["token"], f"holder: {r}")


def test_snapshots(cl, reg):
    check(not any(e["event"] == "snapshot_taken" for n in cl.nodes.values() for e in n.events()),
          "snapshot before the snapshot phase")
    # Restart every node, one by one, with a small threshold.
    for node in cl.nodes.values():
        node.kill(signal.SIGTERM)
        node.threshold = 16
        node.start()
        cl.wait_caught_up()
    reg.writes(20)
    cl.wait_caught_up()
    for node in cl.nodes.values():
        node.wait_event("snapshot_taken")
    check(all(n.status()["snapshot_index"] > 0 for n in cl.nodes.values()), "no snapshot index")

    # A restart after snapshots is offered the last one, which the database
    # already holds: kept, then the log replayed.
    victim = cl.followers()[0]
    victim.kill()
    mark = len(victim.events())
    victim.start()
    cl.wait_caught_up()
    victim.wait_event("snapshot_restore_skipped", mark)
    reg.check_read("after restart with snapshots")

    # A follower that falls behind the leader's log gets the leader's
    # snapshot sent, and restores it.
    victim = cl.followers()[0]
    victim.kill()
    mark = len(victim.events())
    reg.writes(30)
    victim.start()
    cl.wait_caught_up()
    victim.wait_event("snapshot_restored", mark, lambda e: not e["at_start"])
    reg.check_read("after snapshot install")


def test_stale_read_bug(cl, reg):
    cl.wait_caught_up()
    follower = cl.followers()[0]
    follower.kill(signal.SIGTERM)
    follower.start(["--bug", "stale-read"])
    reply = call(follower.client_port, {"id": "stale", "op": "read", "key": KEY})
    check(reply["ok"] is True and "value" in reply, f"stale-read follower: {reply}")
    reply = call(follower.client_port, {"id": "stale", "op": "list"})
    check(reply["ok"] is True, f"stale-read follower list: {reply}")
    follower.kill(signal.SIGTERM)
    follower.start()
    cl.wait_caught_up()
    reg.check_read("after stale-read")


def test_sigterm_under_load(cl, reg):
    """SIGTERM a leader with appends in flight: a clean exit, every time
    (libraft 0.15 used to crash here; see io_wrap.c)."""
    for _ in range(3):
        leader = cl.leader()
        c = Conn(leader.client_port)
        for i in range(300):
            c.send({"id": i, "op": "write", "key": "load", "value": i})
        time.sleep(0.05)
        rc = leader.kill(signal.SIGTERM)
        c.close()
        check(rc == 0, f"node {leader.id}: SIGTERM under load: exit code {rc}")
        leader.start()
    cl.wait_caught_up()
    reg.check_read("after SIGTERM under load")


def compare_databases(cl, reg):
    """Clean shutdown, then the three databases must agree row for row."""
    for node in cl.nodes.values():
        rc = node.kill(signal.SIGTERM)
        check(rc == 0, f"node {node.id}: SIGTERM exit code {rc}")
        check(node.events()[-1]["event"] == "shutdown", f"node {node.id}: last event not shutdown")
    states = []
    for node in cl.nodes.values():
        db = sqlite3.connect(os.path.join(node.data, "taskd.db"))
        state = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                 for t in ("kv", "tasks", "leases", "requests", "meta")}
        db.close()
        states.append(state)
    for t in states[0]:
        check(all(s[t] == states[0][t] for s in states), f"databases differ in table {t}")
    kv = {k: (v, ver) for k, v, ver in states[0]["kv"]}
    check(kv[KEY] == (reg.last_value, reg.ok_updates), f"database: {kv[KEY]}")
    check(kv["pipelined"][1] == 10, f"pipelined: {kv['pipelined']}")
    for node in cl.nodes.values():
        bad = [e for e in node.events() if e["event"] == "io_error"]
        check(not bad, f"node {node.id}: {bad}")
        node.check_sanitizers()


def lose_quorum(cl, flags):
    """Restart all nodes with @flags, then kill the leader's followers and
    at once send it a write and a read. Returns their replies."""
    for node in cl.nodes.values():
        if node.alive:
            node.kill(signal.SIGTERM)
        node.flags = ["--request-timeout", "300"] + flags
        node.start()
    leader = cl.leader()
    cl.wait_caught_up()
    for f in cl.followers():
        f.kill()
    c = Conn(leader.client_port)
    c.send({"id": "w", "op": "write", "key": "q", "value": 1})
    c.send({"id": "r", "op": "read", "key": "q"})
    # More reads queue behind the first one's barrier; when the leader steps
    # down they must fail cleanly (the next barrier must not be started from
    # inside libraft's callback: that crashed).
    for i in range(5):
        c.send({"id": f"more{i}", "op": "read", "key": "q"})
    replies = {}
    for _ in range(7):
        r = c.recv()
        replies[r["id"]] = r
    c.close()
    time.sleep(0.8)  # past the step-down
    check(leader.proc.poll() is None, f"node {leader.id} died losing quorum")
    return replies


def test_quorum_loss(cl):
    """A leader that lost its followers: no ack, and the errors say what a
    client may assume. With the bugs, an ok for each."""
    r = lose_quorum(cl, [])
    w, rd = r["w"], r["r"]
    check(not w["ok"] and w["error"] in ("timeout", "leadership_lost")
          and w["definite"] is False, f"write without quorum: {w}")
    check(not rd["ok"] and rd["error"] in ("timeout", "leadership_lost")
          and rd["definite"] is True, f"read without quorum: {rd}")
    r = lose_quorum(cl, ["--bug", "ack-before-commit", "--bug", "leader-local-read"])
    check(r["w"]["ok"] is True, f"ack-before-commit, no quorum: {r['w']}")
    check(r["r"]["ok"] is True, f"leader-local-read, no quorum: {r['r']}")
    cl.kill_all()


def main():
    started = time.time()
    test_bad_flags()
    cl = Cluster()
    reg = Register(cl)
    ok = False
    steps = []
    try:
        cl.start_all()
        for name, fn in (("election", lambda: test_election_and_redirects(cl)),
                         ("malformed", lambda: test_malformed(cl)),
                         ("registers", lambda: test_registers(cl, reg)),
                         ("pipelined", lambda: test_pipelined_and_hangups(cl)),
                         ("replay", lambda: test_follower_restart_replay(cl, reg)),
                         ("leader-kill", lambda: test_leader_kill_loses_no_acked_write(cl)),
                         ("retry", lambda: test_retry_across_leader_change(cl)),
                         ("claims", lambda: test_claim_exclusivity(cl)),
                         ("leases", lambda: test_lease_exclusivity(cl)),
                         ("snapshots", lambda: test_snapshots(cl, reg)),
                         ("stale-read", lambda: test_stale_read_bug(cl, reg)),
                         ("sigterm", lambda: test_sigterm_under_load(cl, reg)),
                         ("compare", lambda: compare_databases(cl, reg)),
                         ("quorum-loss", lambda: test_quorum_loss(cl))):
            t = time.time()
            note = fn()
            steps.append(f"{name} {time.time() - t:.1f}s" +
                         (f" ({note})" if note is not None else ""))
        ok = True
    except TestFailure as e:
        print(f"taskd_cluster: FAILED: {e}", file=sys.stderr)
    finally:
        cl.kill_all()
    if ok:
        shutil.rmtree(cl.dir)
        print(f"taskd_cluster: ok ({time.time() - started:.1f}s: {', '.join(steps)})")
        return 0
    cl.dump_logs(sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
