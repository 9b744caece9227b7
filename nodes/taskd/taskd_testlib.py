"""taskd_testlib: start, stop and talk to taskd nodes on loopback.

Shared by the end-to-end tests (taskd_cluster.py, taskd_single.py) and the
benchmark (bench_taskd.py); python3 standard library only. The binary is
$FAULTLINE_BIN/taskd; FAULTLINE_SLOW (set for sanitizer builds) gives
everything more time.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.path.join(os.environ.get("FAULTLINE_BIN", "bin"), "taskd")
SLOW = os.environ.get("FAULTLINE_SLOW", "") != ""
WAIT = 20.0 if SLOW else 10.0
SANITIZER_SIGNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


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
        self.threshold = cluster.threshold
        self.flags = list(cluster.flags)
        self.join = False  # started with --join: no --peer, no bootstrap
        self.ignored = False  # left out of Cluster.leader() (spare, removed)

    @property
    def client(self):
        return f"127.0.0.1:{self.client_port}"

    @property
    def events_path(self):
        return os.path.join(self.cluster.dir, f"n{self.id}.events.jsonl")

    @property
    def log_path(self):
        return os.path.join(self.cluster.dir, f"n{self.id}.log")

    def args(self, extra=()):
        args = [BIN, "--id", str(self.id), "--data", self.data,
                "--raft", f"127.0.0.1:{self.raft_port}",
                "--client", self.client,
                "--election-timeout", str(self.cluster.election_timeout),
                "--heartbeat", str(self.cluster.heartbeat),
                "--snapshot-threshold", str(self.threshold),
                "--snapshot-trailing", "4"]
        if self.join:
            args.append("--join")
        else:
            for nid, (rp, cp) in sorted(self.cluster.bootstrap_ports.items()):
                args += ["--peer", f"{nid},127.0.0.1:{rp},127.0.0.1:{cp}"]
        return args + self.flags + list(extra)

    @property
    def raft(self):
        return f"127.0.0.1:{self.raft_port}"

    def start(self, extra=(), wrapper=(), env=None, wait=True):
        """Start the node (under @wrapper, e.g. fiu-run, with @env added);
        with @wait, until its client port answers."""
        out = open(self.events_path, "ab")
        err = open(self.log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(list(wrapper) + self.args(extra), stdout=out,
                                     stderr=err, env=full_env)
        out.close()
        err.close()
        if not wait:
            return
        deadline = time.time() + WAIT
        while time.time() < deadline:
            check(self.proc.poll() is None,
                  f"node {self.id} exited at start: {self.proc.returncode}")
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

    def wait_exit(self, timeout=None):
        """Wait for the node to exit on its own; its return code."""
        rc = self.proc.wait(timeout=timeout or WAIT)
        self.proc = None
        return rc

    @property
    def alive(self):
        return self.proc is not None

    def status(self):
        return call(self.client_port, {"id": "status", "op": "status"}, timeout=2.0)

    def events(self):
        with open(self.events_path, "rb") as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_event(self, name, after=0, pred=lambda e: True):
        """Wait for event @name among the events after the first @after."""
        deadline = time.time() + WAIT
        while time.time() < deadline:
            for e in self.events()[after:]:
                if e["event"] == name and pred(e):
                    return e
            time.sleep(0.05)
        raise TestFailure(f"node {self.id}: no {name} event")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def check_sanitizers(self):
        log = self.log()
        for sign in SANITIZER_SIGNS:
            check(sign not in log, f"node {self.id}: sanitizer report in n{self.id}.log")


class Cluster:
    def __init__(self, n=3, election_timeout=600, heartbeat=60, threshold=1024,
                 flags=(), prefix="taskd-test-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        ports = free_ports(2 * n)
        self.ports = {i + 1: (ports[2 * i], ports[2 * i + 1]) for i in range(n)}
        self.bootstrap_ports = dict(self.ports)  # the --peer list
        self.election_timeout = election_timeout
        self.heartbeat = heartbeat
        self.threshold = threshold
        self.flags = list(flags)
        self.nodes = {i: Node(self, i) for i in self.ports}
        self.next_id = 0

    def new_node(self, nid, join=True):
        """A node @nid, not started, on fresh ports; with @join it starts
        with --join (its own id and addresses only) to be added later."""
        self.ports[nid] = tuple(free_ports(2))
        node = Node(self, nid)
        node.join = join
        self.nodes[nid] = node
        return node

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
                if not node.alive or node.ignored:
                    continue
                try:
                    seen.append(node.status())
                except (OSError, TestFailure, ValueError):
                    seen = []
                    break
            leaders = {s["leader"] for s in seen}
            if seen and len(leaders) == 1 and None not in leaders:
                lid = leaders.pop()
                if self.nodes[lid].alive and any(s["state"] == "leader" and s["node"] == lid
                                                 for s in seen):
                    return self.nodes[lid]
            time.sleep(0.05)
        raise TestFailure("no stable leader")

    def followers(self):
        leader = self.leader()
        return [n for n in self.nodes.values()
                if n is not leader and n.alive and not n.ignored]

    def rid(self):
        self.next_id += 1
        return self.next_id

    def request(self, op, retry_on=("not_leader",)):
        """Send @op to the leader until it answers with something other than
        an error in @retry_on (or a broken connection); return the reply."""
        deadline = time.time() + WAIT
        last = None
        while time.time() < deadline:
            try:
                leader = self.leader()
                reply = call(leader.client_port, dict(op, id=self.rid()))
            except (OSError, TestFailure) as e:
                last = e
                time.sleep(0.05)
                continue
            if reply["ok"] or reply["error"] not in retry_on:
                return reply
            last = reply
            time.sleep(0.05)
        raise TestFailure(f"could not complete {op}: last {last}")

    def wait_caught_up(self):
        """Wait until every live node applied the leader's commit index."""
        leader = self.leader()
        call(leader.client_port, {"id": "barrier", "op": "read", "key": "-"})
        target = leader.status()["commit_index"]
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if all(n.status()["applied_index"] >= target for n in self.nodes.values()
                   if n.alive and not n.ignored):
                return
            time.sleep(0.05)
        raise TestFailure(f"nodes never applied index {target}")

    def dump_logs(self, out):
        for nid, node in self.nodes.items():
            try:
                tail = node.log()[-3000:]
            except OSError:
                continue
            print(f"--- n{nid}.log (tail)\n{tail}", file=out)
        print(f"files kept in {self.dir}", file=out)
