"""bench_taskd: throughput and latency of a local 3-node taskd cluster.

Starts three nodes on loopback (temporary data directories, removed after),
then runs one phase per operation: CLIENTS threads, each with its own
connection to the leader, send one request at a time for SECONDS seconds.
Prints ops/s and p50/p99 latency per phase. No assertions: the numbers are
for the record (they depend on the machine, and the Python clients are part
of what is measured).

With --faultfs, each node's data directory is a faultfs mount
($FAULTLINE_BIN/faultfs, nemesis/faultfs/) over itself, in a private mount
namespace (the script re-runs itself under `unshare -m`; needs root): the
same phases, to compare with the plain directory.

Then the same load against a local 3-member etcd 3.4 (Debian's
/usr/bin/etcd, when installed; --no-etcd skips it): puts and linearizable
ranges through its v3 JSON gateway, one keep-alive HTTP/1.1 connection per
client, to the leader; the etcd rows, for comparison.

Then the same load against a local Redis 7 (Debian's redis-server, when
installed; --no-redis skips it), set up as faultline's Redis scenarios set
it up (nodes/redis_db.c): a primary and two replicas, AOF on with
appendfsync everysec; SET, SET then `WAIT 1 100` (the scenarios' -wait
mode), and GET, all at the primary, one connection per client speaking
RESP. No Sentinel: it is not on the path of an operation.

Usage: bench_taskd.py [--clients N] [--seconds S] [--faultfs [--no-sync]]
       [--no-etcd] [--no-redis]   ($FAULTLINE_BIN/taskd)
"""

import argparse
import base64
import http.client
import json
import os
import socket
import tempfile
import shutil
import subprocess
import sys
import threading
import time

from taskd_testlib import BIN, Cluster, Conn, TestFailure

FAULTFS = os.path.join(os.environ.get("FAULTLINE_BIN", "bin"), "faultfs")


def mount_faultfs(cl, extra=()):
    """Mount faultfs over every node's data directory; return the daemons."""
    procs = []
    for node in cl.nodes.values():
        os.makedirs(node.data, exist_ok=True)
        r, w = os.pipe()
        procs.append(subprocess.Popen(
            [FAULTFS, *extra, "--log", node.data + ".faultfs.log", "--ready-fd",
             str(w), node.data, node.data], pass_fds=(w,)))
        os.close(w)
        ready = os.read(r, 1)
        os.close(r)
        if ready != b"1":
            raise TestFailure(f"faultfs did not mount on {node.data}")
    return procs


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def phase(port, clients, seconds, make_request, connect=None):
    """Run @clients threads against @port for @seconds; each sends
    make_request(client, n) and waits for the reply (on a taskd Conn, or
    what connect(port) returns). Returns (ops, errors, latencies in
    seconds, elapsed)."""
    lat = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = [0.0]

    def run(c):
        conn = (connect or (lambda p: Conn(p, timeout=10.0)))(port)
        n = 0
        start.wait()
        while time.perf_counter() < stop[0]:
            req = make_request(c, n)
            t = time.perf_counter()
            reply = conn.call(req)
            lat[c].append(time.perf_counter() - t)
            if not reply["ok"]:
                errors[c] += 1
            n += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    stop[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    all_lat = sorted(x for l in lat for x in l)
    return len(all_lat), sum(errors), all_lat, elapsed


class EtcdConn:
    """One keep-alive HTTP/1.1 connection to etcd's JSON gateway; call()
    takes (path, body) and answers {"ok": bool}."""

    def __init__(self, port):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)

    def call(self, req):
        path, body = req
        self.http.request("POST", path, json.dumps(body),
                          {"Content-Type": "application/json"})
        resp = self.http.getresponse()
        reply = json.loads(resp.read() or b"{}")
        return {"ok": resp.status == 200 and "error" not in reply}

    def close(self):
        self.http.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def bench_etcd(args):
    """The etcd rows: a 3-member cluster on loopback, puts and linearizable
    ranges at its leader."""
    etcd = "/usr/bin/etcd"
    if not os.access(etcd, os.X_OK):
        print("bench-etcd: skipped (no /usr/bin/etcd: Debian's etcd-server)")
        return 0
    top = tempfile.mkdtemp(prefix="etcd-bench-")
    ports = free_ports(6)
    names = ["n1", "n2", "n3"]
    cluster = ",".join(f"{n}=http://127.0.0.1:{ports[3 + i]}"
                       for i, n in enumerate(names))
    procs = []
    try:
        for i, n in enumerate(names):
            procs.append(subprocess.Popen(
                [etcd, f"--name={n}", f"--data-dir={top}/{n}",
                 f"--listen-client-urls=http://127.0.0.1:{ports[i]}",
                 f"--advertise-client-urls=http://127.0.0.1:{ports[i]}",
                 f"--listen-peer-urls=http://127.0.0.1:{ports[3 + i]}",
                 f"--initial-advertise-peer-urls=http://127.0.0.1:{ports[3 + i]}",
                 f"--initial-cluster={cluster}", "--initial-cluster-state=new",
                 "--election-timeout=1000", "--heartbeat-interval=100",
                 "--logger=zap", f"--log-outputs={top}/{n}.log"]))
        leader = None
        deadline = time.monotonic() + 20
        while leader is None and time.monotonic() < deadline:
            for i in range(3):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", ports[i], timeout=1)
                    c.request("POST", "/v3/maintenance/status", "{}")
                    st = json.loads(c.getresponse().read())
                    c.close()
                    if st.get("leader") == st["header"]["member_id"]:
                        leader = i
                except (OSError, KeyError, ValueError):
                    pass
            if leader is None:
                time.sleep(0.1)  # a poll of processes we just started
        if leader is None:
            print("bench-etcd: FAILED: no leader after 20 s", file=sys.stderr)
            return 1
        print(f"bench-etcd: {etcd}, 3 members on loopback, leader "
              f"{names[leader]}, {args.clients} clients, {args.seconds:g} s per "
              f"phase, JSON gateway (HTTP/1.1 keep-alive)")
        phases = (
            ("put       (register)",
             lambda c, n: ("/v3/kv/put", {"key": b64(f"k{c}"),
                                          "value": b64(str(n))})),
            ("range     (register, linearizable)",
             lambda c, n: ("/v3/kv/range", {"key": b64(f"k{c}")})),
        )
        for name, make in phases:
            ops, errors, lat, elapsed = phase(ports[leader], args.clients,
                                              args.seconds, make, EtcdConn)
            print(f"  {name:36} {ops / elapsed:8.0f} ops/s   "
                  f"p50 {percentile(lat, 50) * 1000:6.2f} ms   "
                  f"p99 {percentile(lat, 99) * 1000:6.2f} ms   "
                  f"({ops} ops, {errors} errors)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(top, ignore_errors=True)
    return 0


class RedisConn:
    """One RESP connection to redis-server; call() takes a list of commands
    (each a list of strings), sends them at once and answers {"ok": bool}:
    false when any reply is an error, or a WAIT saw no replica."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        self.buf = self.sock.makefile("rb")

    def reply(self):
        line = self.buf.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            return False, rest
        if kind == b":":
            return True, int(rest)
        if kind == b"$":
            n = int(rest)
            return True, None if n < 0 else self.buf.read(n + 2)[:-2]
        if kind == b"*":
            items = [self.reply()[1] for _ in range(max(int(rest), 0))]
            return True, items
        return True, rest  # "+OK"

    def call(self, commands):
        out = b"".join(
            b"*%d\r\n" % len(cmd) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in cmd)
            for cmd in commands)
        self.sock.sendall(out)
        ok = True
        for cmd in commands:
            good, value = self.reply()
            ok = ok and good and not (cmd[0] == "WAIT" and value < 1)
        return {"ok": ok}

    def close(self):
        self.sock.close()


def bench_redis(args):
    """The Redis rows: a primary and two replicas on loopback (AOF,
    everysec), SET, SET + WAIT 1 100 and GET at the primary."""
    server = shutil.which("redis-server")
    if server is None:
        print("bench-redis: skipped (no redis-server: Debian's redis-server)")
        return 0
    top = tempfile.mkdtemp(prefix="redis-bench-")
    ports = free_ports(3)
    procs = []
    try:
        for i, port in enumerate(ports):
            os.makedirs(f"{top}/n{i + 1}")
            procs.append(subprocess.Popen(
                [server, "--bind", "127.0.0.1", "--port", str(port),
                 "--dir", f"{top}/n{i + 1}", "--save", "",
                 "--appendonly", "yes", "--appendfsync", "everysec",
                 "--daemonize", "no", "--logfile", f"{top}/n{i + 1}.log",
                 *(["--replicaof", "127.0.0.1", str(ports[0])] if i else [])]))
        deadline = time.monotonic() + 20
        replicas = 0
        while replicas < 2 and time.monotonic() < deadline:
            try:
                c = RedisConn(ports[0])
                c.sock.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")
                text = c.reply()[1].decode()
                c.close()
                replicas = text.count("state=online")
            except (OSError, ValueError, AttributeError):
                pass
            if replicas < 2:
                time.sleep(0.1)  # a poll of processes we just started
        if replicas < 2:
            print("bench-redis: FAILED: replicas not online after 20 s",
                  file=sys.stderr)
            return 1
        print(f"bench-redis: {server}, a primary and 2 replicas on loopback, "
              f"AOF appendfsync everysec, {args.clients} clients, "
              f"{args.seconds:g} s per phase, RESP")
        phases = (
            ("SET       (register)",
             lambda c, n: [["SET", f"k{c}", str(n)]]),
            ("SET + WAIT 1 100 (register, -wait)",
             lambda c, n: [["SET", f"k{c}", str(n)], ["WAIT", "1", "100"]]),
            ("GET       (register, at the primary)",
             lambda c, n: [["GET", f"k{c}"]]),
        )
        for name, make in phases:
            ops, errors, lat, elapsed = phase(ports[0], args.clients,
                                              args.seconds, make, RedisConn)
            print(f"  {name:36} {ops / elapsed:8.0f} ops/s   "
                  f"p50 {percentile(lat, 50) * 1000:6.2f} ms   "
                  f"p99 {percentile(lat, 99) * 1000:6.2f} ms   "
                  f"({ops} ops, {errors} errors)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(top, ignore_errors=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--faultfs", action="store_true",
                    help="run every node's data directory on faultfs")
    ap.add_argument("--no-etcd", action="store_true",
                    help="skip the etcd rows")
    ap.add_argument("--no-redis", action="store_true",
                    help="skip the Redis rows")
    ap.add_argument("--no-sync", action="store_true",
                    help="with --faultfs: faultfs --no-sync (syncs stay in "
                         "the model, not passed to the disk)")
    args = ap.parse_args()
    if args.faultfs and os.environ.get("BENCH_TASKD_UNSHARED") != "1":
        os.environ["BENCH_TASKD_UNSHARED"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private",
                              sys.executable] + sys.argv)

    cl = Cluster(n=3, election_timeout=1000, heartbeat=100, prefix="taskd-bench-")
    daemons = []
    try:
        if args.faultfs:
            daemons = mount_faultfs(cl, ["--no-sync"] if args.no_sync else [])
        cl.start_all()
        leader = cl.leader()
        port = leader.client_port
        phases = (
            ("write     (register, raft_apply)",
             lambda c, n: {"id": n, "op": "write", "key": f"k{c}", "value": n}),
            ("create    (task, with rid)",
             lambda c, n: {"id": n, "op": "create", "task_id": f"t{c}-{n}",
                           "payload": {"n": n}, "rid": f"r{c}-{n}"}),
            ("read      (register, linearizable)",
             lambda c, n: {"id": n, "op": "read", "key": f"k{c}"}),
            ("get       (task, linearizable)",
             lambda c, n: {"id": n, "op": "get", "task_id": f"t{c}-{n // 2}"}),
        )
        print(f"bench-taskd: {BIN}, 3 nodes on loopback, leader n{leader.id}, "
              f"{args.clients} clients, {args.seconds:g} s per phase, data on "
              f"{'faultfs' if args.faultfs else 'the plain directory'}"
              f"{' --no-sync' if args.faultfs and args.no_sync else ''}")
        for name, make in phases:
            ops, errors, lat, elapsed = phase(port, args.clients, args.seconds, make)
            print(f"  {name:36} {ops / elapsed:8.0f} ops/s   "
                  f"p50 {percentile(lat, 50) * 1000:6.2f} ms   "
                  f"p99 {percentile(lat, 99) * 1000:6.2f} ms   "
                  f"({ops} ops, {errors} errors)")
        st = leader.status()
        print(f"  log: commit index {st['commit_index']}, snapshot index "
              f"{st['snapshot_index']}")
    except TestFailure as e:
        print(f"bench-taskd: FAILED: {e}", file=sys.stderr)
        cl.kill_all()
        cl.dump_logs(sys.stderr)
        return 1
    finally:
        cl.kill_all()
        for node in cl.nodes.values():
            if node.proc is not None:
                node.proc.wait()
        for d in daemons:
            d.terminate()
            d.wait()
    shutil.rmtree(cl.dir)
    if args.faultfs:
        return 0
    rv = 0 if args.no_etcd else bench_etcd(args)
    return rv or (0 if args.no_redis else bench_redis(args))


if __name__ == "__main__":
    sys.exit(main())
