#!/usr/bin/env python3
"""Fault-effect checks for faultline's nemesis, on real runs.

Driven by nemesis/test_faults.sh. `test_faults.py run CHECK ...` starts
`faultline run` on a short scenario, tails its history.jsonl as it is
written, and whenever the nemesis reports a fault, probes the nodes from
outside the sandbox: it finds each node's host pid (the taskd whose --data
is RUN/nodes/nN/data, among the children of the sandbox's PID 1) and enters
its network namespace with nsenter to connect to a peer's raft port or to
send a status request to the node's own client port.

A probe counts only when it ran wholly inside the fault's window: after the
fault's "info" and before the "invoke" of its end, which is checked by
re-reading the history once the probe is over. A probe that overran the
window is reported as inconclusive, never as a pass. Each CHECK needs at
least one conclusive pass of each of its observations and no failure; the
run itself must end valid (exit 0), and no node may exit on its own except
right after an io_error event (a segfault under a partition fails the run).

Clock faults are judged after the run: every node's events.jsonl is tailed
live and each line stamped with the real time it was read, so an event's
skew (its "time", faked by libfaketime, minus the real time) is measured to
within the read delay; it must match the offset recorded in the history
inside the fault's window and be ~0 after the reset, allowing
--clock-lag seconds around each change for libfaketime to re-read its file.

Checks: partition, pause, kill, disk, clock, schedule (see the handlers).
Only the standard library; exits 0 when everything passed, 1 otherwise.
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RAFT_PORT = 7000
CLIENT_PORT = 8000

# Runs inside a node's network namespace (nsenter ... python3 -c PROBE).
PROBE = r"""
import json, socket, sys, time
mode, host, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
def out(**kw):
    kw["elapsed"] = round(time.monotonic() - t0, 3)
    print(json.dumps(kw)); sys.exit(0)
try:
    s = socket.create_connection((host, port), timeout=timeout)
except socket.timeout:
    out(ok=False, error="connect timed out")
except OSError as e:
    out(ok=False, error="connect: " + (e.strerror or str(e)))
if mode == "connect":
    out(ok=True)
s.settimeout(timeout)
try:
    s.sendall(b'{"id":1,"op":"status"}\n')
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            out(ok=False, error="connection closed without a reply")
        buf += chunk
except socket.timeout:
    out(ok=False, error="no reply within %.1f s" % timeout)
except OSError as e:
    out(ok=False, error="status: " + (e.strerror or str(e)))
try:
    reply = json.loads(buf.split(b"\n")[0])
except ValueError:
    out(ok=False, error="unparsable reply")
out(ok=True, reply=reply)
"""


def node_ip(name):
    return "10.77.0.%d" % (10 + int(name[1:]))


def probe(pid, mode, host, port, timeout=1.0):
    """Run PROBE in pid's network namespace. Returns a dict with ok (True,
    False, or None when the probe could not run at all), error, elapsed and,
    for status, reply."""
    if pid is None:
        return {"ok": None, "error": "no process"}
    cmd = ["nsenter", "--net=/proc/%d/ns/net" % pid, "--", PY, "-S", "-c",
           PROBE, mode, host, str(port), str(timeout)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout * 2 + 5)
    except subprocess.TimeoutExpired:
        return {"ok": None, "error": "probe hung"}
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": None, "error": "probe failed: " + p.stderr.strip()[-200:]}


def status_ok(r):
    return r.get("ok") is True and r.get("reply", {}).get("ok") is True


def fmt_status(r):
    if status_ok(r):
        rep = r["reply"]
        return "%s (term %s, leader %s) in %.2f s" % (
            rep.get("state"), rep.get("term"), rep.get("leader"), r["elapsed"])
    return r.get("error", "?")


def parse_wall(s):
    return datetime.datetime.strptime(
        s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()


class Results:
    """PASS / FAIL / INCONCLUSIVE observations, printed as they happen."""

    def __init__(self, label):
        self.label = label
        self.items = []
        self.lock = threading.Lock()

    def add(self, kind, check, msg):
        with self.lock:
            self.items.append((kind, check, msg))
            print("  [%s] %-12s %-22s %s" % (self.label, kind, check, msg),
                  flush=True)

    def ok(self, check, msg):
        self.add("PASS", check, msg)

    def fail(self, check, msg):
        self.add("FAIL", check, msg)

    def skip(self, check, msg):
        self.add("INCONCLUSIVE", check, msg)

    def note(self, check, msg):
        self.add("note", check, msg)

    def expect(self, check, cond, msg):
        (self.ok if cond else self.fail)(check, msg)

    def count(self, kind, check=None):
        return sum(1 for k, c, _ in self.items
                   if k == kind and (check is None or c == check))


class History:
    """history.jsonl, read incrementally (whole lines only)."""

    def __init__(self, path):
        self.path = path
        self.events = []
        self.header = None
        self.pos = 0
        self.buf = b""
        self.lock = threading.Lock()

    def refresh(self):
        """Read what was appended; returns [(position, event)] of new ones."""
        with self.lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.pos)
                    data = f.read()
            except FileNotFoundError:
                return []
            self.pos += len(data)
            self.buf += data
            new = []
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if not line.strip():
                    continue
                e = json.loads(line)
                if "format" in e:
                    self.header = e
                    continue
                self.events.append(e)
                new.append((len(self.events) - 1, e))
            return new

    def find_after(self, pos, pred):
        """The first event after position pos matching pred, re-reading the
        file first (so the answer is exact as of now), or None."""
        self.refresh()
        with self.lock:
            for e in self.events[pos + 1:]:
                if pred(e):
                    return e
        return None

    def wait_after(self, pos, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            e = self.find_after(pos, pred)
            if e is not None or time.monotonic() > deadline:
                return e
            time.sleep(0.05)

    def nemesis(self, f, type_, names=None):
        def pred(e):
            if e.get("process") != "nemesis" or e.get("f") != f or \
                    e.get("type") != type_:
                return False
            if names is None:
                return True
            v = e.get("value")
            nodes = v.get("nodes") if isinstance(v, dict) else v
            return bool(set(names) & set(nodes or []))
        return pred

    def wall(self, t_ns):
        """Wall-clock time (s) of history time t_ns (header's start_wall)."""
        return parse_wall(self.header["start_wall"]) + t_ns / 1e9


class Pids(threading.Thread):
    """Host pids of the run's taskd processes, polled every 50 ms among the
    children of the sandbox's PID 1 (the child of our faultline process)."""

    def __init__(self, outer_pid, run_dir, names):
        super().__init__(daemon=True)
        self.outer = outer_pid
        self.run_dir = run_dir
        self.names = names
        self.lock = threading.Lock()
        self.current = {n: None for n in names}
        self.last = {n: None for n in names}
        self.nspid = {}
        self.stop = False

    def _children(self, pid):
        kids = []
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return kids

    def scan(self):
        found = {n: None for n in self.names}
        for inside in self._children(self.outer):
            for pid in self._children(inside):
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if b"--data" not in argv or \
                        not os.path.basename(argv[0]).startswith(b"taskd"):
                    continue  # not a node yet (or `ip netns exec`)
                data = argv[argv.index(b"--data") + 1].decode()
                for n in self.names:
                    if data == "%s/nodes/%s/data" % (self.run_dir, n):
                        found[n] = pid
                        if pid not in self.nspid:
                            self.nspid[pid] = self._nspid(pid)
        with self.lock:
            self.current = found
            for n, pid in found.items():
                if pid is not None:
                    self.last[n] = pid
        return found

    @staticmethod
    def _nspid(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        return int(line.split()[-1])
        except OSError:
            pass
        return None

    def run(self):
        while not self.stop:
            self.scan()
            time.sleep(0.05)

    def get(self, name, fresh=True):
        if fresh:
            return self.scan()[name]
        with self.lock:
            return self.current[name]

    def last_seen(self, name):
        with self.lock:
            return self.last[name]


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class EventLogs:
    """Tails every node's events.jsonl, stamping each line with the real
    wall time at which it was read (within ~50 ms of its writing)."""

    def __init__(self, run_dir, names):
        self.paths = {n: "%s/nodes/%s/events.jsonl" % (run_dir, n)
                      for n in names}
        self.pos = {n: 0 for n in names}
        self.buf = {n: b"" for n in names}
        self.samples = []  # (read wall s, node, event dict)

    def poll(self):
        now = time.time()
        for n, path in self.paths.items():
            try:
                with open(path, "rb") as f:
                    f.seek(self.pos[n])
                    data = f.read()
            except FileNotFoundError:
                continue
            self.pos[n] += len(data)
            self.buf[n] += data
            while b"\n" in self.buf[n]:
                line, self.buf[n] = self.buf[n].split(b"\n", 1)
                try:
                    self.samples.append((now, n, json.loads(line)))
                except ValueError:
                    pass


class Run:
    def __init__(self, args, res):
        self.args = args
        self.res = res
        self.names = ["n%d" % (i + 1) for i in range(args.nodes)]
        self.threads = []
        self.out_lines = []
        self.run_dir = None
        self.handlers = {}
        self.end_time = None

    def spawn(self, fn, *a):
        t = threading.Thread(target=self._guard, args=(fn,) + a, daemon=True)
        t.start()
        self.threads.append(t)

    def _guard(self, fn, *a):
        try:
            fn(*a)
        except Exception as e:  # a bug in a check is a failure, not a hang
            import traceback
            traceback.print_exc()
            self.res.fail("internal", "%s: %r" % (fn.__name__, e))

    def _read_stdout(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.out_lines.append(line)
            m = re.match(r"faultline: run directory (.*?)/?$", line)
            if m and self.run_dir is None:
                self.run_dir = m.group(1)
            if self.args.verbose or not line.startswith("["):
                print("  [%s] | %s" % (self.res.label, line), flush=True)

    def execute(self):
        a = self.args
        cmd = [os.path.join(a.bin, "faultline"), "run", a.scenario, "--seed",
               str(a.seed), "--runs-dir", a.runs_dir]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     bufsize=1)
        reader = threading.Thread(target=self._read_stdout, daemon=True)
        reader.start()
        try:
            self._watch()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            reader.join(5)
        self.code = self.proc.wait()
        self.elapsed = time.monotonic() - t0
        for t in self.threads:
            t.join(max(0.1, 20 - (time.monotonic() - self.end_time)))
        self.hist.refresh()
        self._final()

    def _watch(self):
        deadline = time.monotonic() + 30
        while self.run_dir is None or \
                not os.path.exists(self.run_dir + "/history.jsonl"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.res.fail("run", "no run directory / history appeared")
                self.hist = History("/nonexistent")
                self.end_time = time.monotonic()
                return
            time.sleep(0.02)
        self.hist = History(self.run_dir + "/history.jsonl")
        self.pids = Pids(self.proc.pid, self.run_dir, self.names)
        self.pids.start()
        self.logs = EventLogs(self.run_dir, self.names)
        while True:
            done = self.proc.poll() is not None
            self.logs.poll()
            for pos, e in self.hist.refresh():
                if e.get("process") == "nemesis" and e.get("type") == "info":
                    h = self.handlers.get(e.get("f"))
                    if h is not None:
                        self.spawn(h, pos, e)
            if done:
                break
            time.sleep(0.05)
        self.pids.stop = True
        self.end_time = time.monotonic()

    def _final(self):
        a = self.args
        res = self.res
        verdict = None
        if self.run_dir:
            try:
                with open(self.run_dir + "/verdict.json") as f:
                    verdict = json.load(f)
            except (OSError, ValueError):
                pass
        res.expect("verdict", self.code == 0 and verdict is not None and
                   verdict.get("valid") is True,
                   "faultline exit %d, verdict.json valid=%s (run %.0f s, %s)"
                   % (self.code, None if verdict is None else
                      verdict.get("valid"), self.elapsed, self.run_dir))
        for line in self.out_lines:
            if re.match(r"faultline: \d+ ops", line):
                res.note("summary", line[len("faultline: "):])
        if self.run_dir:
            self._unplanned_exits()

    def _unplanned_exits(self):
        """A node may exit on its own only after an io_error (disk faults):
        any other crash is a failure, whatever the fault checks saw."""
        with open(self.run_dir + "/runner.log") as f:
            exits = re.findall(r"(n\d+): pid (\d+) exited \((.*?)\): not "
                               r"caused by faultline", f.read())
        io_errors = {}
        for n in self.names:
            try:
                with open("%s/nodes/%s/events.jsonl" % (self.run_dir, n)) as f:
                    io_errors[n] = sum(1 for line in f if '"io_error"' in line)
            except OSError:
                io_errors[n] = 0
        bad = []
        for n in self.names:
            mine = [e for e in exits if e[0] == n]
            if len(mine) > io_errors[n]:
                bad += ["%s pid %s (%s)" % e for e in mine]
        self.res.expect("exits", not bad,
                        "unplanned node exits: %d, io_error events: %d%s" % (
                            len(exits), sum(io_errors.values()),
                            "" if not bad else "; CRASHES not caused by a "
                            "disk fault: " + ", ".join(bad)))

    # --- partition -------------------------------------------------------

    def on_partition(self, pos, e):
        res, v = self.res, e["value"]
        drops = v.get("drops", {})

        def cut(x, y):
            return y in drops.get(x, []) or x in drops.get(y, [])
        # Sides: components of the graph of pairs that are not cut.
        sides, seen = [], set()
        for n in self.names:
            if n in seen:
                continue
            side, todo = [], [n]
            while todo:
                x = todo.pop()
                if x in seen:
                    continue
                seen.add(x)
                side.append(x)
                todo += [y for y in self.names if y not in seen and not cut(x, y)]
            sides.append(sorted(side))
        sides.sort(key=len)
        label = "partition %s %s" % (v.get("shape"), " | ".join(
            ",".join(s) for s in sides))
        if v.get("failed_rules"):
            res.fail("partition", "%s: %s iptables rules failed (runner.log)"
                     % (label, v["failed_rules"]))
        if len(sides) != 2:
            res.skip("partition", "%s: not two sides, not probed" % label)
            return
        minority, majority = sides
        pid = {n: self.pids.get(n, fresh=False) for n in self.names}
        out = {}

        def cut_probe(key, a, b):
            out[key] = (a, b, probe(pid[a], "connect", node_ip(b), RAFT_PORT))

        def leader_probe():
            t_end = time.monotonic() + 3.0
            tries = 0
            while True:
                for m in majority:
                    r = probe(pid[m], "status", node_ip(m), CLIENT_PORT)
                    tries += 1
                    if status_ok(r) and r["reply"].get("state") == "leader":
                        out["leader"] = (m, r, tries)
                        return
                if time.monotonic() > t_end:
                    out["leader"] = (None, None, tries)
                    return
                time.sleep(0.1)
        t_start = time.monotonic()
        jobs = [threading.Thread(target=cut_probe,
                                 args=("cut", minority[0], majority[0])),
                threading.Thread(target=cut_probe,
                                 args=("cut-back", majority[-1], minority[-1])),
                threading.Thread(target=leader_probe)]
        for side in sides:
            if len(side) >= 2:
                jobs.append(threading.Thread(
                    target=cut_probe, args=("same:" + side[0], side[0], side[1])))
        for j in jobs:
            j.start()
        for j in jobs:
            j.join()
        heal = self.hist.find_after(pos, self.hist.nemesis("heal", "invoke"))
        took = time.monotonic() - t_start
        if heal is not None:
            res.skip("partition", "%s: probes took %.1f s and overran the "
                     "window (heal already invoked)" % (label, took))
        else:
            for key in ("cut", "cut-back"):
                a, b, r = out[key]
                res.expect("partition-cut", r["ok"] is False and
                           "timed out" in r.get("error", ""),
                           "%s: %s -> %s:%d during the partition: %s"
                           % (label, a, node_ip(b), RAFT_PORT,
                              "connected" if r["ok"] else r.get("error")))
            for key in out:
                if key.startswith("same:"):
                    a, b, r = out[key]
                    res.expect("partition-same-side", r["ok"] is True,
                               "%s: %s -> %s:%d (same side): %s"
                               % (label, a, node_ip(b), RAFT_PORT,
                                  "connected in %.2f s" % r["elapsed"]
                                  if r["ok"] else r.get("error")))
            m, r, tries = out["leader"]
            res.expect("partition-leader", m is not None,
                       "%s: majority side %s has leader %s" % (
                           label, ",".join(majority),
                           "%s: %s (%d status probes)" % (m, fmt_status(r), tries)
                           if m else "NONE after 3 s (%d probes)" % tries))
        # After the heal, the minority reaches the majority again.
        healed = self.hist.wait_after(pos, self.hist.nemesis("heal", "info"),
                                      self.args.fault_s + 5)
        if healed is None:
            res.fail("partition-heal", "%s: no heal recorded" % label)
            return
        hpos = self.hist.events.index(healed)
        a, b = minority[0], majority[0]
        t_end = time.monotonic() + 3.0
        while True:
            r = probe(self.pids.get(a), "connect", node_ip(b), RAFT_PORT)
            again = self.hist.find_after(hpos, self.hist.nemesis("partition", "invoke"))
            if r["ok"] or time.monotonic() > t_end:
                break
            if again is not None:
                break
            time.sleep(0.2)
        if not r["ok"] and again is not None:
            res.skip("partition-heal", "%s: next partition began before the "
                     "heal could be seen" % label)
        else:
            res.expect("partition-heal", r["ok"] is True,
                       "%s: after heal %s -> %s:%d: %s" % (
                           label, a, node_ip(b), RAFT_PORT,
                           "connected" if r["ok"] else r.get("error")))

    # --- pause -------------------------------------------------------------

    def on_pause(self, pos, e):
        for name in e["value"]:
            self.spawn(self._pause_one, pos, name)

    def _pause_one(self, pos, name):
        res = self.res
        pid = self.pids.get(name, fresh=False) or self.pids.last_seen(name)
        if pid is None:
            res.fail("pause", "%s: its pid was never seen" % name)
            return
        state = None
        t_end = time.monotonic() + 0.5
        while time.monotonic() < t_end:
            state = proc_state(pid)
            if state == "T":
                break
            time.sleep(0.02)
        r = probe(pid, "status", node_ip(name), CLIENT_PORT, 1.0)
        if self.hist.find_after(pos, self.hist.nemesis("resume", "invoke", [name])):
            res.skip("pause", "%s pid %d: probe overran the window" % (name, pid))
        else:
            res.expect("pause-stopped", state == "T",
                       "%s pid %d while paused: /proc state %s" % (name, pid, state))
            res.expect("pause-silent", r["ok"] is False and "no reply" in r.get("error", ""),
                       "%s pid %d while paused: status probe: %s" % (
                           name, pid, fmt_status(r) if r["ok"] else r.get("error")))
        resumed = self.hist.wait_after(pos, self.hist.nemesis("resume", "info", [name]),
                                       self.args.fault_s + 5)
        if resumed is None:
            res.fail("pause-resume", "%s: no resume recorded" % name)
            return
        t_res = time.monotonic()
        while True:
            r = probe(pid, "status", node_ip(name), CLIENT_PORT, 1.0)
            if status_ok(r) or time.monotonic() - t_res > 3:
                break
            time.sleep(0.1)
        res.expect("pause-resume", status_ok(r) and proc_state(pid) not in ("T", None),
                   "%s pid %d after resume: state %s, status %s (%.1f s after resume)" % (
                       name, pid, proc_state(pid), fmt_status(r),
                       time.monotonic() - t_res))

    # --- kill ----------------------------------------------------------------

    def on_kill(self, pos, e):
        for name in e["value"]:
            self.spawn(self._kill_one, pos, name)

    def _wait_new_pid(self, name, old, timeout):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            pid = self.pids.get(name)
            if pid is not None and pid != old:
                return pid
            time.sleep(0.05)
        return None

    def _answers(self, name, pid, timeout):
        t0 = time.monotonic()
        while True:
            r = probe(pid, "status", node_ip(name), CLIENT_PORT, 1.0)
            if status_ok(r) or time.monotonic() - t0 > timeout:
                return r, time.monotonic() - t0
            time.sleep(0.2)

    def _kill_one(self, pos, name):
        res = self.res
        old = self.pids.last_seen(name)
        if old is None:
            res.fail("kill", "%s: its pid was never seen" % name)
            return
        t_end = time.monotonic() + 1.5
        while alive(old) and time.monotonic() < t_end:
            time.sleep(0.02)
        gone = not alive(old)
        down = self.pids.get(name)
        if self.hist.find_after(pos, self.hist.nemesis("start", "invoke", [name])):
            res.skip("kill", "%s: window over before the checks" % name)
        else:
            res.expect("kill-gone", gone, "%s: old pid %d %s after the kill" % (
                name, old, "is gone" if gone else "STILL ALIVE"))
            res.expect("kill-down", down is None,
                       "%s: no process while killed%s" % (
                           name, "" if down is None else ": FOUND pid %d" % down))
        started = self.hist.wait_after(pos, self.hist.nemesis("start", "info", [name]),
                                       self.args.fault_s + 5)
        if started is None:
            res.fail("kill-restart", "%s: no start recorded" % name)
            return
        new = self._wait_new_pid(name, old, 3)
        if new is None:
            res.fail("kill-restart", "%s: no new process within 3 s of start" % name)
            return
        r, took = self._answers(name, new, 5)
        res.expect("kill-restart", status_ok(r),
                   "%s: new pid %d (old %d) answers status: %s (%.1f s after start)"
                   % (name, new, old, fmt_status(r), took))

    # --- disk ----------------------------------------------------------------

    def on_disk(self, pos, e):
        v = e["value"]
        if not v.get("enabled"):
            self.res.skip("disk", "%s on %s: fiu-ctrl enabled nothing" % (
                v.get("op"), v.get("nodes")))
        for name in v.get("enabled", []):
            self.spawn(self._disk_one, pos, e, name)

    def _disk_one(self, pos, e, name):
        res, v = self.res, e["value"]
        op = v["op"]
        old = self.pids.last_seen(name)
        if old is None:
            res.fail("disk", "%s: its pid was never seen" % name)
            return
        oldns = self.pids.nspid.get(old)
        since = self.hist.wall(e["time"]) - 1.0
        path = "%s/nodes/%s/events.jsonl" % (self.run_dir, name)
        t_end = time.monotonic() + self.args.fault_s + 3
        err = None
        while err is None and time.monotonic() < t_end:
            try:
                with open(path) as f:
                    for line in f:
                        try:
                            ev = json.loads(line)
                        except ValueError:
                            continue
                        if ev.get("event") == "io_error" and ev["time"] / 1e9 >= since:
                            err = ev
                            break
            except OSError:
                pass
            time.sleep(0.1)
        if err is None:
            res.fail("disk-io-error", "%s %s on %s pid %d: no io_error event "
                     "within the fault window + 3 s (the fault never fired)"
                     % (op, v.get("errno"), name, old))
            return
        res.ok("disk-io-error", "%s %s on %s pid %d: io_error %s/%s: %s" % (
            op, v.get("errno"), name, old, err.get("source"), err.get("op"),
            err.get("message")))
        t_end = time.monotonic() + 3
        while alive(old) and time.monotonic() < t_end:
            time.sleep(0.05)
        res.expect("disk-exit", not alive(old), "%s: pid %d %s" % (
            name, old, "exited" if not alive(old) else "is STILL ALIVE"))
        exited = re.compile(r"%s: pid %s exited \(.*\): not caused by faultline"
                            % (name, oldns))
        restarting = "%s: restarting after a crash" % name
        t_end = time.monotonic() + 3
        found = (False, False)
        while time.monotonic() < t_end:
            with open(self.run_dir + "/runner.log") as f:
                text = f.read()
            m = exited.search(text)
            found = (m is not None,
                     m is not None and restarting in text[m.end():])
            if all(found):
                break
            time.sleep(0.1)
        res.expect("disk-crash-logged", all(found),
                   "%s: runner.log %s 'pid %s exited ...: not caused by "
                   "faultline' and %s '%s'" % (
                       name, "has" if found[0] else "LACKS", oldns,
                       "then" if found[1] else "LACKS", restarting))
        new = self._wait_new_pid(name, old, 4)
        if new is None:
            res.fail("disk-restart", "%s: no new process" % name)
            return
        r, took = self._answers(name, new, 5)
        res.expect("disk-restart", status_ok(r),
                   "%s: new pid %d answers status: %s" % (name, new, fmt_status(r)))

    # --- clock (analysed after the run, from the tailed event logs) ----------

    def clock_final(self):
        res, h = self.res, self.hist
        lag = self.args.clock_lag
        tol = self.args.clock_tol
        windows = []  # node -> list of (start wall, end wall, offset s, mode)
        for pos, e in enumerate(h.events):
            if e.get("process") != "nemesis" or e.get("type") != "info" or \
                    e.get("f") != "clock":
                continue
            v = e["value"]
            end = h.find_after(pos, h.nemesis("clock-reset", "invoke", v["nodes"]))
            windows.append({"start": h.wall(e["time"]),
                            "end": h.wall(end["time"]) if end else float("inf"),
                            "offset": v.get("offset_ms", 0) / 1000.0,
                            "rate": v.get("rate", 1.0),
                            "mode": v["mode"], "nodes": v["nodes"],
                            "seen": 0, "effect": 0, "n": len(windows) + 1})
        if not windows:
            res.fail("clock", "no clock fault in the run")
            return
        for w in windows:
            res.note("clock", "fault %d: %s %s on %s, %.1f s" % (
                w["n"], w["mode"],
                "x%.3f" % w["rate"] if w["mode"] == "drift"
                else "%+.3f s" % w["offset"], ",".join(w["nodes"]),
                w["end"] - w["start"]))
        bad = []
        after_reset = 0
        for seen_at, node, ev in self.logs.samples:
            if "time" not in ev:
                continue
            skew = ev["time"] / 1e9 - seen_at  # fake - real (minus read delay)
            mine = [w for w in windows if node in w["nodes"]]
            cur = [w for w in mine if w["start"] <= seen_at < w["end"]]
            prev = [w for w in mine if w["end"] <= seen_at]

            def near(x):
                return -tol <= skew - x <= 0.3  # reading only adds delay

            def still_prev():
                # libfaketime re-reads its file within lag s: for that long
                # after a reset the node may still show the last fault's
                # offset (or anything its drift reached), even if the next
                # fault has begun.
                if not prev or seen_at >= prev[-1]["end"] + lag:
                    return False
                p = prev[-1]
                drifted = (p["rate"] - 1) * (p["end"] - p["start"])
                return near(0) or near(p["offset"]) or \
                    min(0, drifted) - tol <= skew <= max(0, drifted) + 0.3

            if cur and cur[0]["mode"] == "drift":
                # The clock runs at rate r from when libfaketime re-reads
                # its file (within lag s of the fault): the skew grows to
                # between (r-1)(t-lag) and (r-1)t.
                w = cur[0]
                w["seen"] += 1
                t = seen_at - w["start"]
                a = (w["rate"] - 1) * max(0.0, t - lag)
                b = (w["rate"] - 1) * t
                lo, hi = min(a, b), max(a, b)
                if lo - tol <= skew <= hi + 0.3:
                    if abs(b) >= tol:
                        w["effect"] += 1
                    continue
                if t < lag and still_prev():
                    continue
                bad.append("%s %s at +%.1f s into fault %d (drift x%.3f): "
                           "skew %+.2f s, expected %+.2f..%+.2f s"
                           % (node, ev.get("event"), t, w["n"], w["rate"],
                              skew, lo, hi))
            elif cur:
                w = cur[0]
                w["seen"] += 1
                if near(w["offset"]):
                    w["effect"] += 1
                    continue
                if near(0) and (w["mode"] == "strobe" or seen_at < w["start"] + lag):
                    continue
                if seen_at < w["start"] + lag and still_prev():
                    continue
                bad.append("%s %s at +%.1f s into fault %d (%s %+.1f s): skew %+.2f s"
                           % (node, ev.get("event"), seen_at - w["start"],
                              w["n"], w["mode"], w["offset"], skew))
            elif prev and seen_at < prev[-1]["end"] + lag:
                if not still_prev():
                    bad.append("%s %s %.1f s after reset of fault %d: skew %+.2f s"
                               % (node, ev.get("event"), seen_at - prev[-1]["end"],
                                  prev[-1]["n"], skew))
            else:
                if prev:
                    after_reset += 1
                if not near(0):
                    bad.append("%s %s outside any clock fault%s: skew %+.2f s" % (
                        node, ev.get("event"),
                        " (%.1f s after reset of fault %d)" % (
                            seen_at - prev[-1]["end"], prev[-1]["n"]) if prev else "",
                        skew))
        for w in windows:
            res.note("clock", "fault %d: %d samples from its nodes in the window, "
                     "%d at the offset" % (w["n"], w["seen"], w["effect"]))
        res.expect("clock-consistent", not bad,
                   "%d event times checked against the recorded offsets "
                   "(tolerance %.1f s, %.1f s for libfaketime to re-read)%s" % (
                       len(self.logs.samples), tol, lag,
                       "" if not bad else ": " + "; ".join(bad[:6])))
        strong = [w for w in windows if abs(w["offset"]) >= 2 * tol]
        bumps = [w for w in strong if w["mode"] == "bump"]
        if bumps:
            res.expect("clock-offset", all(w["effect"] > 0 for w in bumps),
                       "bump windows with samples at the offset: %s" % ", ".join(
                           "fault %d %+.1f s: %d/%d" % (w["n"], w["offset"],
                                                       w["effect"], w["seen"])
                           for w in bumps))
        elif strong:
            res.note("clock-offset", "no bump window with this seed (modes are "
                     "drawn); judging the strobe windows instead")
            res.expect("clock-offset", any(w["effect"] > 0 for w in strong),
                       "strobe windows with samples at the offset: %s" % ", ".join(
                           "fault %d %+.1f s: %d/%d" % (w["n"], w["offset"],
                                                       w["effect"], w["seen"])
                           for w in strong))
        else:
            drifts = [w for w in windows if w["mode"] == "drift" and
                      abs(w["rate"] - 1) * (w["end"] - w["start"]) >= 2 * tol]
            if drifts:
                res.note("clock-offset", "no bump or strong strobe with this "
                         "seed; judging the drift windows instead")
                res.expect("clock-offset", any(w["effect"] > 0 for w in drifts),
                           "drift windows with samples on the drifted clock: %s"
                           % ", ".join("fault %d x%.3f: %d/%d" % (
                               w["n"], w["rate"], w["effect"], w["seen"])
                               for w in drifts))
            else:
                res.fail("clock-offset", "every drawn offset is below %.1f s: "
                         "cannot tell an offset from none" % (2 * tol))
        res.expect("clock-reset", after_reset > 0,
                   "%d samples logged %.1f s or more after a clock-reset, all "
                   "within %.1f s of real time" % (after_reset, lag, tol)
                   if after_reset else "no sample logged after a clock-reset")

    # --- schedule --------------------------------------------------------------

    def schedule_final(self):
        res, h = self.res, self.hist
        with open(self.args.plan) as f:
            plan = [(float(m.group(1)), m.group(2)) for m in
                    (re.match(r"\s*([\d.]+) s\s+(\S+)\s+for", line) for line in f)
                    if m]
        starts = {"kill", "pause", "partition", "loss", "clock", "disk"}
        got = [e for e in h.events if e.get("process") == "nemesis" and
               e.get("type") == "info" and e.get("f") in starts]
        first_op = next((e["time"] for e in h.events
                         if isinstance(e.get("process"), int)), None)
        if first_op is None:
            res.fail("schedule", "no client op in the history")
            return
        kinds_plan = [k for _, k in plan]
        kinds_run = [e["f"] for e in got]
        res.expect("schedule-kinds", kinds_plan == kinds_run,
                   "planned %s, ran %s" % (" ".join(kinds_plan), " ".join(kinds_run)))
        if kinds_plan != kinds_run:
            return
        diffs = [(e["time"] - first_op) / 1e9 - at for (at, _), e in zip(plan, got)]
        res.expect("schedule-times", all(abs(d) <= 1.0 for d in diffs),
                   "actual - planned start (from the first client op): %s s"
                   % " ".join("%+.3f" % d for d in diffs))


def main():
    # Stopped by the shell script: unwind, so that faultline is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["run"])
    ap.add_argument("checks", help="comma-separated: partition, pause, kill, "
                    "disk, clock, schedule")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("--bin", default="bin")
    ap.add_argument("--label", default=None)
    ap.add_argument("--plan", help="`faultline schedule` output (schedule)")
    ap.add_argument("--fault-s", type=float, default=3.0,
                    help="nemesis.duration_s of the scenario")
    ap.add_argument("--clock-lag", type=float, default=2.4,
                    help="libfaketime re-reads its file every 1-2 s")
    ap.add_argument("--clock-tol", type=float, default=1.0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    with open(a.scenario) as f:
        sc = json.load(f)
    a.nodes = sc.get("nodes", 3)
    a.fault_s = sc.get("nemesis", {}).get("duration_s", a.fault_s)
    a.runs_dir = os.path.abspath(a.runs_dir)
    a.bin = os.path.abspath(a.bin)
    checks = a.checks.split(",")
    res = Results(a.label or a.checks)
    run = Run(a, res)
    required = ["verdict", "exits"]
    if "partition" in checks:
        run.handlers["partition"] = run.on_partition
        required += ["partition-cut", "partition-same-side", "partition-leader",
                     "partition-heal"]
    if "pause" in checks:
        run.handlers["pause"] = run.on_pause
        required += ["pause-stopped", "pause-silent", "pause-resume"]
    if "kill" in checks:
        run.handlers["kill"] = run.on_kill
        required += ["kill-gone", "kill-down", "kill-restart"]
    if "disk" in checks:
        run.handlers["disk"] = run.on_disk
        required += ["disk-io-error", "disk-exit", "disk-crash-logged",
                     "disk-restart"]
    if "clock" in checks:
        required += ["clock-consistent", "clock-offset", "clock-reset"]
    if "schedule" in checks:
        required += ["schedule-kinds", "schedule-times"]
    print("  [%s] faultline run %s --seed %s" % (res.label, a.scenario, a.seed),
          flush=True)
    run.execute()
    if "clock" in checks and run.run_dir:
        run.clock_final()
    if "schedule" in checks and run.run_dir:
        run.schedule_final()
    missing = [c for c in required
               if res.count("PASS", c) == 0 and res.count("FAIL", c) == 0]
    failed = res.count("FAIL")
    for c in missing:
        res.add("FAIL", c, "no conclusive observation in this run")
    ok = not missing and failed == 0
    print("  [%s] %s: %d passed, %d failed, %d inconclusive, run %.0f s" % (
        res.label, "OK" if ok else "FAILED", res.count("PASS"), res.count("FAIL"),
        res.count("INCONCLUSIVE"), run.elapsed), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
