"""taskd_cluster: end-to-end test of taskd: a 3-node cluster on loopback.

Run by test_taskd.sh (python3, standard library only). Uses $FAULTLINE_BIN/taskd.
Checks: leader election, writes and cas through the leader, not_leader with the
leader's client address, bad requests, SIGKILL of a follower and of the leader
with restarts (log replay must not apply anything twice), snapshots (taken,
restored at start, installed on a lagging follower), clients hanging up with
requests in flight, --bug stale-read, bad flags, clean SIGTERM shutdown, and at
the end the three SQLite files, which must agree value for value and version
for version.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.path.join(os.environ.get("FAULTLINE_BIN", "bin"), "taskd")
SLOW = os.environ.get("FAULTLINE_SLOW", "") != ""  # more time under ASan
WAIT = 20.0 if SLOW else 10.0
KEY = "k"


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Conn:
    """One client connection; requests may be pipelined."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rwb")

    def send(self, obj):
        self.file.write(json.dumps(obj).encode() + b"\n")
        self.file.flush()

    def send_raw(self, data):
        self.file.write(data)
        self.file.flush()

    def recv(self):
        line = self.file.readline()
        if not line:
            raise TestFailure("connection closed by taskd")
        return json.loads(line)

    def call(self, obj):
        self.send(obj)
        reply = self.recv()
        check(reply.get("id") == obj.get("id"), f"reply id mismatch: {obj} -> {reply}")
        return reply

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


def call(port, obj, timeout=5.0):
    c = Conn(port, timeout)
    try:
        return c.call(obj)
    finally:
        c.close()


class Node:
    def __init__(self, cluster, nid):
        self.cluster = cluster
        self.id = nid
        self.raft_port, self.client_port = cluster.ports[nid]
        self.data = os.path.join(cluster.dir, f"n{nid}")
        self.proc = None
        self.threshold = 1024

    @property
    def client(self):
        return f"127.0.0.1:{self.client_port}"

    def args(self, extra=()):
        args = [BIN, "--id", str(self.id), "--data", self.data,
                "--raft", f"127.0.0.1:{self.raft_port}",
                "--client", self.client,
                "--election-timeout", "600", "--heartbeat", "60",
                "--snapshot-threshold", str(self.threshold),
                "--snapshot-trailing", "4"]
        for nid, (rp, cp) in sorted(self.cluster.ports.items()):
            args += ["--peer", f"{nid},127.0.0.1:{rp},127.0.0.1:{cp}"]
        return args + list(extra)

    def start(self, extra=()):
        out = open(os.path.join(self.cluster.dir, f"n{self.id}.events.jsonl"), "ab")
        err = open(os.path.join(self.cluster.dir, f"n{self.id}.log"), "ab")
        self.proc = subprocess.Popen(self.args(extra), stdout=out, stderr=err)
        out.close()
        err.close()
        deadline = time.time() + WAIT
        while time.time() < deadline:
            check(self.proc.poll() is None, f"node {self.id} exited at start: {self.proc.returncode}")
            try:
                self.status()
                return
            except OSError:
                time.sleep(0.05)
        raise TestFailure(f"node {self.id} client port never opened")

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=WAIT)
        self.proc = None
        return rc

    @property
    def alive(self):
        return self.proc is not None

    def status(self):
        return call(self.client_port, {"id": "status", "op": "status"}, timeout=2.0)

    def wait_event(self, name, after=0):
        """Wait for event @name among the events after the first @after."""
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if any(e["event"] == name for e in self.events()[after:]):
                return
            time.sleep(0.1)
        raise TestFailure(f"node {self.id}: no {name} event")

    def events(self):
        path = os.path.join(self.cluster.dir, f"n{self.id}.events.jsonl")
        with open(path, "rb") as f:
            return [json.loads(line) for line in f if line.strip()]


class Cluster:
    def __init__(self, n=3):
        self.dir = tempfile.mkdtemp(prefix="taskd-test-")
        ports = free_ports(2 * n)
        self.ports = {i + 1: (ports[2 * i], ports[2 * i + 1]) for i in range(n)}
        self.nodes = {i: Node(self, i) for i in self.ports}
        self.ok_updates = 0  # successful writes and cas on KEY
        self.last_value = None
        self.next_id = 0

    def start_all(self):
        for node in self.nodes.values():
            node.start()

    def kill_all(self):
        for node in self.nodes.values():
            if node.alive:
                try:
                    node.kill()
                except Exception:
                    pass

    def leader(self):
        """Wait for a leader all live nodes agree on; return its Node."""
        deadline = time.time() + WAIT
        while time.time() < deadline:
            seen = []
            for node in self.nodes.values():
                if not node.alive:
                    continue
                try:
                    seen.append(node.status())
                except (OSError, TestFailure, ValueError):
                    seen = []
                    break
            leaders = {s["leader"] for s in seen}
            if seen and len(leaders) == 1 and None not in leaders:
                lid = leaders.pop()
                if self.nodes[lid].alive and any(s["state"] == "leader" and s["node"] == lid for s in seen):
                    return self.nodes[lid]
            time.sleep(0.1)
        raise TestFailure("no stable leader")

    def rid(self):
        self.next_id += 1
        return self.next_id

    def update(self, op):
        """Send a write or cas to the leader, retrying while there is none.
        Returns the reply; counts definite successes."""
        deadline = time.time() + WAIT
        while time.time() < deadline:
            leader = self.leader()
            req = dict(op, id=self.rid())
            try:
                reply = call(leader.client_port, req)
            except OSError:
                continue
            if reply["ok"]:
                self.ok_updates += 1
                self.last_value = op["value"] if op["op"] == "write" else op["to"]
                return reply
            if reply["error"] == "not_leader":
                check(reply["definite"] is True, f"not_leader must be definite: {reply}")
                time.sleep(0.1)
                continue
            if reply["error"] == "cas_mismatch":
                check(reply["definite"] is True, f"cas_mismatch must be definite: {reply}")
                return reply
            raise TestFailure(f"unexpected failure (leader was stable): {req} -> {reply}")
        raise TestFailure(f"could not complete {op}")

    def read(self):
        leader = self.leader()
        reply = call(leader.client_port, {"id": self.rid(), "op": "read", "key": KEY})
        check(reply["ok"], f"read failed: {reply}")
        return reply

    def check_read(self, where):
        reply = self.read()
        check(reply["value"] == self.last_value and reply["version"] == self.ok_updates,
              f"{where}: read {reply}, expected value {self.last_value} version {self.ok_updates}")

    def wait_caught_up(self):
        """Wait until every live node applied the leader's commit index."""
        leader = self.leader()
        self.read()  # a barrier: the leader's commit index is current
        target = leader.status()["commit_index"]
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if all(n.status()["applied_index"] >= target for n in self.nodes.values() if n.alive):
                return
            time.sleep(0.05)
        raise TestFailure(f"nodes never applied index {target}")


def writes(cl, n):
    for _ in range(n):
        v = cl.ok_updates * 10 + 1
        cl.update({"op": "write", "key": KEY, "value": v})


def test_bad_flags():
    def run(*args):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=WAIT)
        return p.returncode, p.stderr
    good = ["--id", "1", "--data", "/nonexistent/x", "--raft", "127.0.0.1:1",
            "--client", "127.0.0.1:2", "--peer", "1,127.0.0.1:1,127.0.0.1:2"]
    rc, err = run("--id", "x", *good[2:])
    check(rc == 2 and "--id" in err, f"--id x: rc {rc}: {err}")
    rc, err = run(*good, "--bug", "no-such-bug")
    check(rc == 2 and "--bug" in err, f"--bug: rc {rc}: {err}")
    rc, err = run(*good, "--peer", "2,127.0.0.1:3")
    check(rc == 2 and "--peer" in err, f"--peer: rc {rc}: {err}")
    rc, err = run(*good, "--heartbeat", "2000")
    check(rc == 2 and "--heartbeat" in err, f"--heartbeat: rc {rc}: {err}")
    rc, err = run(*good[:-2])
    check(rc == 2 and "--peer" in err, f"no --peer: rc {rc}: {err}")
    rc, err = run(*good, "--frobnicate")
    check(rc == 2 and "--frobnicate" in err, f"unknown flag: rc {rc}: {err}")
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=WAIT)
    check(p.returncode == 0 and "stale-read" in p.stdout, "--help")


def test_cluster(cl):
    cl.start_all()
    leader = cl.leader()

    # Followers redirect to the leader's client address.
    follower = next(n for n in cl.nodes.values() if n is not leader)
    reply = call(follower.client_port, {"id": "r1", "op": "read", "key": KEY})
    check(reply == {"id": "r1", "ok": False, "error": "not_leader", "definite": True,
                    "leader": leader.client, "message": reply.get("message")},
          f"follower read: {reply}")
    reply = call(follower.client_port, {"id": 5, "op": "write", "key": KEY, "value": 1})
    check(reply["error"] == "not_leader" and reply["leader"] == leader.client,
          f"follower write: {reply}")

    # Bad requests leave the connection open.
    c = Conn(follower.client_port)
    c.send_raw(b"{not json\n")
    r = c.recv()
    check(r["ok"] is False and r["error"] == "bad_request" and r["definite"] is True and r["id"] is None, f"{r}")
    for bad in ({"id": 1, "op": "frob"}, {"id": 2, "op": "write", "key": KEY, "value": 1.5},
                {"id": 3, "op": "read"}, {"id": [1], "op": "status"},
                {"id": 4, "op": "cas", "key": KEY, "from": 1}):
        c.send(bad)
        r = c.recv()
        check(r["ok"] is False and r["error"] == "bad_request", f"{bad} -> {r}")
    check(c.call({"id": "s", "op": "status"})["ok"], "connection closed after bad requests")
    c.close()

    # Reads of an unset key, writes, cas.
    reply = call(leader.client_port, {"id": 7, "op": "read", "key": "unset"})
    check(reply == {"id": 7, "ok": True, "value": None, "version": 0}, f"unset read: {reply}")
    reply = cl.update({"op": "cas", "key": KEY, "from": 0, "to": 1})
    check(reply["ok"] is False and reply["error"] == "cas_mismatch", f"cas on unset key: {reply}")
    writes(cl, 5)
    reply = cl.update({"op": "cas", "key": KEY, "from": cl.last_value, "to": 1000})
    check(reply["ok"], f"cas: {reply}")
    reply = cl.update({"op": "cas", "key": KEY, "from": 999, "to": 5})
    check(reply["ok"] is False and reply["error"] == "cas_mismatch", f"cas mismatch: {reply}")
    cl.check_read("after writes")

    # Several requests in flight on one connection; then hang up with more.
    leader = cl.leader()
    c = Conn(leader.client_port)
    for i in range(10):
        c.send({"id": f"w{i}", "op": "write", "key": "pipelined", "value": i})
    ids = {c.recv()["id"] for _ in range(10)}
    check(ids == {f"w{i}" for i in range(10)}, f"pipelined replies: {ids}")
    for i in range(10):
        c.send({"id": i, "op": "write", "key": "abandoned", "value": i})
        c.send({"id": -i, "op": "read", "key": "abandoned"})
    c.close()  # replies will find the connection gone

    # SIGKILL a follower, write on, restart it: with no snapshot yet it
    # replays its whole log, and must skip what SQLite already has.
    cl.wait_caught_up()
    victim = next(n for n in cl.nodes.values() if n is not cl.leader())
    victim.kill()
    writes(cl, 3)
    mark = len(victim.events())
    victim.start()
    cl.wait_caught_up()
    victim.wait_event("apply_skipped", mark)
    cl.check_read("after follower restart")

    # SIGKILL the leader, restart it.
    old = cl.leader()
    old.kill()
    writes(cl, 3)
    check(cl.leader() is not old, "leader did not change")
    cl.check_read("after leader kill")
    mark = len(old.events())
    old.start()
    cl.wait_caught_up()
    old.wait_event("apply_skipped", mark)
    cl.check_read("after leader restart")
    check(not any(e["event"] == "snapshot_taken" for n in cl.nodes.values() for e in n.events()),
          "snapshot before the snapshot phase")

    # Snapshots: restart every node, one by one, with a small threshold.
    for node in cl.nodes.values():
        node.kill(signal.SIGTERM)
        node.threshold = 16
        node.start()
        cl.wait_caught_up()
    writes(cl, 20)
    cl.wait_caught_up()
    for node in cl.nodes.values():
        node.wait_event("snapshot_taken")
    check(all(n.status()["snapshot_index"] > 0 for n in cl.nodes.values()), "no snapshot index")

    # A restart after snapshots restores the last one, then replays.
    victim = next(n for n in cl.nodes.values() if n is not cl.leader())
    victim.kill()
    mark = len(victim.events())
    victim.start()
    cl.wait_caught_up()
    victim.wait_event("snapshot_restored", mark)
    cl.check_read("after restart with snapshots")

    # A follower that falls behind the leader's log gets a snapshot sent:
    # one restore at its start (its own snapshot), one from the leader.
    victim = next(n for n in cl.nodes.values() if n is not cl.leader())
    victim.kill()
    mark = len(victim.events())
    writes(cl, 30)
    victim.start()
    cl.wait_caught_up()
    restored = [e for e in victim.events()[mark:] if e["event"] == "snapshot_restored"]
    check(len(restored) >= 2, f"lagging follower: {len(restored)} snapshot_restored since restart")
    cl.check_read("after snapshot install")

    # --bug stale-read: a follower serves reads itself.
    cl.wait_caught_up()
    follower = next(n for n in cl.nodes.values() if n is not cl.leader())
    follower.kill(signal.SIGTERM)
    follower.start(["--bug", "stale-read"])
    reply = call(follower.client_port, {"id": "stale", "op": "read", "key": KEY})
    check(reply["ok"] is True and "value" in reply, f"stale-read follower: {reply}")
    follower.kill(signal.SIGTERM)
    follower.start()
    cl.wait_caught_up()
    cl.check_read("end")

    # SIGTERM a leader with appends in flight: a clean exit, every time
    # (libraft 0.15 used to crash here; see io_wrap.c).
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
    cl.check_read("after SIGTERM under load")

    # Clean shutdown, then compare the three databases.
    for node in cl.nodes.values():
        rc = node.kill(signal.SIGTERM)
        check(rc == 0, f"node {node.id}: SIGTERM exit code {rc}")
        check(node.events()[-1]["event"] == "shutdown", f"node {node.id}: last event not shutdown")
    states = []
    for node in cl.nodes.values():
        db = sqlite3.connect(os.path.join(node.data, "taskd.db"))
        rows = db.execute("SELECT key, value, version FROM kv ORDER BY key").fetchall()
        applied = db.execute("SELECT applied_index FROM meta").fetchone()[0]
        db.close()
        states.append((rows, applied))
    check(all(s == states[0] for s in states), f"databases differ: {states}")
    kv = {k: (v, ver) for k, v, ver in states[0][0]}
    check(kv[KEY] == (cl.last_value, cl.ok_updates), f"database: {kv[KEY]}")
    check(kv["pipelined"][1] == 10, f"pipelined: {kv['pipelined']}")
    for node in cl.nodes.values():
        bad = [e for e in node.events() if e["event"] == "io_error"]
        check(not bad, f"node {node.id}: {bad}")
        with open(os.path.join(cl.dir, f"n{node.id}.log"), errors="replace") as f:
            log = f.read()
        for sign in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            check(sign not in log, f"node {node.id}: sanitizer report in n{node.id}.log")


def main():
    started = time.time()
    test_bad_flags()
    cl = Cluster()
    ok = False
    try:
        test_cluster(cl)
        ok = True
    except TestFailure as e:
        print(f"taskd_cluster: FAILED: {e}", file=sys.stderr)
    finally:
        cl.kill_all()
    if ok:
        shutil.rmtree(cl.dir)
        print(f"taskd_cluster: ok ({time.time() - started:.1f}s, "
              f"{cl.ok_updates} updates on {KEY!r})")
        return 0
    for nid in cl.nodes:
        path = os.path.join(cl.dir, f"n{nid}.log")
        with open(path, errors="replace") as f:
            tail = f.read()[-3000:]
        print(f"--- n{nid}.log (tail)\n{tail}", file=sys.stderr)
    print(f"taskd_cluster: files kept in {cl.dir}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
