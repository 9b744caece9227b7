"""taskd_single: end-to-end tests of one-node taskd clusters (python3,
standard library only). Run by test_taskd_single.sh.

1. The golden transcript: testdata/golden.jsonl is a request sequence
   covering every op and error code, with the replies a correct node gives
   (times normalized). A node with no --bug must answer exactly that: this
   is the proof that the bug flags, off, change nothing.
2. Each bug whose effect shows on one node, deterministically, changes the
   answer it should: no-dedup, dedup-in-memory, lost-claim, unsynced-state.
   (stale-read, leader-local-read and ack-before-commit need followers:
   taskd_cluster.py; lease-local-clock needs two clocks: test_fsm.c.)
3. The libfiu points: each, enabled on a running node the way the nemesis
   does it, makes the node log an io_error event and abort (set_term and
   set_vote on a 3-node cluster: only elections write them).

Usage: taskd_single.py [--regen]   (--regen rewrites the golden file from
the binary under test; review the diff before committing it.)
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from taskd_testlib import BIN, WAIT, Cluster, Conn, TestFailure, call, check

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "testdata", "golden.jsonl")
TIME_FIELDS = ("now_ms", "expires_ms", "lease_expires_ms")
ASAN_PRELOAD_OK = {"ASAN_OPTIONS": "verify_asan_link_order=0"}
# An ASan binary under libfiu's POSIX preload (fiu-run -x) crashes at start:
# the preload's libc wrappers and ASan's interceptors clash. Sanitizer
# builds go through the plain preload, which opens the same FIFOs.
PRELOAD = ["fiu-run"] if "asan" in BIN else ["fiu-run", "-x"]


def normalize(reply):
    """Times are the leader's clock: replace them, after checking that each
    expiry is now + the duration asked for."""
    def walk(v):
        if isinstance(v, dict):
            return {k: ("<ms>" if k in TIME_FIELDS and isinstance(x, int) else walk(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return walk(reply)


def check_times(req, reply):
    if not reply.get("ok"):
        return
    if req["op"] == "claim":
        t = reply["task"]
        check(t["lease_expires_ms"] - reply["now_ms"] == req["lease_ms"], f"{req} -> {reply}")
    if req["op"] == "acquire":
        check(reply["expires_ms"] - reply["now_ms"] == req["ttl_ms"], f"{req} -> {reply}")


def single(name, flags=(), threshold=1024):
    cl = Cluster(n=1, election_timeout=100, heartbeat=20, threshold=threshold,
                 flags=flags, prefix=f"taskd-single-{name}-")
    return cl, cl.nodes[1]


def start_leader(node, **kw):
    node.start(**kw)
    deadline = time.time() + WAIT
    while time.time() < deadline:
        if node.status()["state"] == "leader":
            return
        time.sleep(0.02)
    raise TestFailure(f"node {node.id} never became leader")


def test_golden(regen):
    with open(GOLDEN) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    cl, node = single("golden")
    try:
        start_leader(node)
        c = Conn(node.client_port)
        got = []
        for case in cases:
            req = case["request"]
            reply = c.call(req)
            check_times(req, reply)
            got.append({"request": req, "reply": normalize(reply)})
            if not regen:
                check(got[-1]["reply"] == case["reply"],
                      f"golden: {json.dumps(req)}\n  got      {json.dumps(got[-1]['reply'])}"
                      f"\n  expected {json.dumps(case['reply'])}")
        c.close()
        if regen:
            with open(GOLDEN, "w") as f:
                for g in got:
                    f.write(json.dumps(g) + "\n")
            print(f"taskd_single: wrote {len(got)} cases to {GOLDEN}")
        check(node.kill(signal.SIGTERM) == 0, "SIGTERM")
        node.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return len(cases)


def retry_after_restart(flags):
    """create with a rid; restart the node; the same request again."""
    cl, node = single("dedup", flags)
    try:
        start_leader(node)
        req = {"id": 1, "op": "create", "task_id": "t", "payload": 1, "rid": "r"}
        first = call(node.client_port, req)
        again = call(node.client_port, req)
        node.kill(signal.SIGTERM)
        start_leader(node)
        late = call(node.client_port, req)
        node.kill(signal.SIGTERM)
        node.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return first, again, late


def test_dedup_bugs():
    first, again, late = retry_after_restart([])
    check(first["ok"] and again["ok"] and again["duplicate"] and late["ok"] and late["duplicate"],
          f"correct node: {first} / {again} / {late}")
    first, again, late = retry_after_restart(["--bug", "no-dedup"])
    check(first["ok"] and again["error"] == "exists" and again["definite"] is True,
          f"no-dedup: {first} / {again}")
    first, again, late = retry_after_restart(["--bug", "dedup-in-memory"])
    check(first["ok"] and again["ok"] and again["duplicate"], f"dedup-in-memory: {again}")
    check(late["error"] == "exists", f"dedup-in-memory after restart: {late}")


def two_claims_at_once(flags):
    cl, node = single("claim", flags)
    try:
        start_leader(node)
        c = Conn(node.client_port)
        for tid in ("a", "b"):
            check(c.call({"id": tid, "op": "enqueue", "task_id": tid, "payload": 0})["ok"],
                  "enqueue")
        c.send_raw(b'{"id":1,"op":"claim","worker":"w1","lease_ms":60000}\n'
                   b'{"id":2,"op":"claim","worker":"w2","lease_ms":60000}\n')
        replies = {r["id"]: r for r in (c.recv(), c.recv())}
        c.close()
        node.kill(signal.SIGTERM)
        node.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return replies[1], replies[2]


def test_lost_claim_bug():
    one, two = two_claims_at_once([])
    check(one["ok"] and two["ok"] and one["task"]["task_id"] != two["task"]["task_id"],
          f"correct node: {one} / {two}")
    one, two = two_claims_at_once(["--bug", "lost-claim"])
    check(one["ok"] and two["ok"] and one["task"]["task_id"] == two["task"]["task_id"] == "a",
          f"lost-claim: {one} / {two}")


def writes_then_crash(flags):
    """10 writes, SIGKILL, restart: the version of the key after replay."""
    cl, node = single("crash", flags)
    try:
        start_leader(node)
        c = Conn(node.client_port)
        for i in range(10):
            check(c.call({"id": i, "op": "write", "key": "k", "value": i})["ok"], "write")
        c.close()
        node.kill()
        start_leader(node)
        reply = call(node.client_port, {"id": "r", "op": "read", "key": "k"})
        node.kill(signal.SIGTERM)
        node.check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)
    return reply


def test_unsynced_state_bug():
    reply = writes_then_crash([])
    check(reply["value"] == 9 and reply["version"] == 10, f"correct node: {reply}")
    reply = writes_then_crash(["--bug", "unsynced-state"])
    check(reply["value"] == 9 and reply["version"] == 20, f"unsynced-state: {reply}")


def fiu_ctrl(prefix, pid, command):
    p = subprocess.run(["fiu-ctrl", "-f", prefix, "-c", command, str(pid)],
                       capture_output=True, text=True, timeout=WAIT)
    check(p.returncode == 0 and "rror" not in p.stdout, f"fiu-ctrl {command}: {p.stdout}{p.stderr}")


def expect_failstop(node, source, op, point):
    rc = node.wait_exit()
    check(rc == -signal.SIGABRT, f"{point}: exit code {rc}, expected SIGABRT")
    errors = [e for e in node.events() if e["event"] == "io_error"]
    check(len(errors) == 1, f"{point}: io_error events: {errors}")
    e = errors[0]
    check(e["source"] == source and e["op"] == op and point in e["message"],
          f"{point}: io_error {e}")
    check(f"fail-stop: {source} {op} failed" in node.log(), f"{point}: no fail-stop line")


def test_fiu_points():
    """The nemesis' way: the fault enabled on a running node with fiu-ctrl,
    through the control FIFOs of TASKD_FIU_FIFO or of libfiu's preload
    (fiu-run -x, as the runner starts nodes)."""
    done = []
    for point, source, op, how in (
            ("taskd/raft/append", "raft", "append", "env"),
            ("taskd/sqlite/commit", "sqlite", "apply", "preload"),
            ("taskd/raft/snapshot_put", "raft", "snapshot_put", "env")):
        cl, node = single("fiu", threshold=8)
        prefix = os.path.join(cl.dir, "fiu")
        try:
            if how == "env":
                start_leader(node, env={"TASKD_FIU_FIFO": prefix})
            else:
                start_leader(node, wrapper=PRELOAD + ["-f", prefix], env=ASAN_PRELOAD_OK)
            check(os.path.exists(f"{prefix}-{node.proc.pid}.in"), f"{point}: no FIFO")
            fiu_ctrl(prefix, node.proc.pid, f"enable name={point},failnum=1,failinfo=5")
            c = Conn(node.client_port)
            for i in range(12):  # past the snapshot threshold
                c.send({"id": i, "op": "write", "key": "k", "value": i})
            expect_failstop(node, source, op, point)
            c.close()
            node.check_sanitizers()
            done.append(point)
        finally:
            cl.kill_all()
        shutil.rmtree(cl.dir)
    return done


def test_fiu_election_points():
    """set_term and set_vote are written in elections only: enable the
    point on both followers, kill the leader; the one that persists a term
    or a vote first fail-stops."""
    done = []
    for point, op in (("taskd/raft/set_term", "set_term"),
                      ("taskd/raft/set_vote", "set_vote")):
        cl = Cluster(n=3, election_timeout=300, heartbeat=30, prefix="taskd-single-vote-")
        prefix = os.path.join(cl.dir, "fiu")
        try:
            for node in cl.nodes.values():
                node.start(env={"TASKD_FIU_FIFO": prefix})
            leader = cl.leader()
            followers = cl.followers()
            for f in followers:
                fiu_ctrl(prefix, f.proc.pid, f"enable name={point},failnum=1,failinfo=5")
            leader.kill()
            deadline = time.time() + WAIT
            stopped = None
            while stopped is None and time.time() < deadline:
                stopped = next((f for f in followers if f.proc.poll() is not None), None)
                time.sleep(0.02)
            check(stopped is not None, f"{point}: no follower stopped")
            expect_failstop(stopped, "raft", op, point)
            for f in followers:
                if f.alive:
                    f.kill()
                f.check_sanitizers()
            done.append(point)
        finally:
            cl.kill_all()
        shutil.rmtree(cl.dir)
    return done


def main():
    regen = "--regen" in sys.argv[1:]
    started = time.time()
    steps = []
    try:
        n = test_golden(regen)
        steps.append(f"golden {n} requests")
        if not regen:
            test_dedup_bugs()
            test_lost_claim_bug()
            test_unsynced_state_bug()
            steps.append("bugs no-dedup dedup-in-memory lost-claim unsynced-state")
            steps.append("fiu " + " ".join(test_fiu_points() + test_fiu_election_points()))
    except TestFailure as e:
        print(f"taskd_single: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"taskd_single: ok ({time.time() - started:.1f}s: {'; '.join(steps)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
