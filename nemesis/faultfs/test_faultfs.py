"""test_faultfs: a real faultfs mount ($FAULTLINE_BIN/faultfs) in a private
mount namespace (unshare -m), driven through its control socket:
  - a write without fsync is gone after lose-unsynced; with fsync it stays
  - a rename without a directory fsync is rolled back; with one it stays
  - O_DSYNC writes survive; an unlink without directory fsync comes back
  - torn-write keeps a prefix of the last write
  - fail rules hit only the matching files and stop after their count;
    fill refuses growth; clear ends both
  - bad commands are errors naming the word (exit 1), no server is exit 4
  - when the process that started faultfs dies, faultfs and its mount go
  - a faultline run with the four faultfs faults (lose-unsynced-on-kill,
    torn-write-on-kill, disk-error, disk-full) injects each of them, the
    rollbacks and rules take, and the run ends valid with no faultfs left;
    one whose faultfs can't mount stops with exit 4
Needs root (mount namespaces). python3 standard library only.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("FAULTLINE_BIN", "bin")
FAULTFS = os.path.join(BIN, "faultfs")
failures = 0


def check(cond, what):
    global failures
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures += 1


def ctl(sock, *words):
    p = subprocess.run([FAULTFS, "ctl", sock, *words], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def mount(tmp):
    d = os.path.join(tmp, "data")
    os.makedirs(d, exist_ok=True)
    r, w = os.pipe()
    proc = subprocess.Popen([FAULTFS, "--log", os.path.join(tmp, "faultfs.log"),
                             "--ready-fd", str(w), "--seed", "5", d, d],
                            pass_fds=(w,))
    os.close(w)
    ready = os.read(r, 1)
    os.close(r)
    if ready != b"1":
        print(open(os.path.join(tmp, "faultfs.log")).read())
        raise SystemExit("faultfs did not mount")
    return d, d + ".sock", proc


def write(path, data, sync=False, flags=0, offset=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    if offset is not None:
        os.lseek(fd, offset, os.SEEK_SET)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def inner(tmp):
    d, sock, proc = mount(tmp)
    try:
        rc, out = ctl(sock, "ping")
        check(rc == 0 and out.startswith("ok"), "ping answers ok")
        check(any(l.split()[1] == d for l in open("/proc/self/mounts")
                  if "faultfs" in l), "mounted over its own backing folder")

        # durable base: a synced file in a synced directory
        write(f"{d}/synced", b"durable", sync=True)
        write(f"{d}/old", b"old name", sync=True)
        fsync_dir(d)
        write(f"{d}/unsynced", b"lost")
        fsync_dir(d)  # the name is durable, its content is not
        write(f"{d}/synced", b"+more", offset=7)
        write(f"{d}/dsync", b"dsync data", flags=os.O_DSYNC)
        fsync_dir(d)
        os.rename(f"{d}/old", f"{d}/new")
        os.unlink(f"{d}/synced")
        rc, out = ctl(sock, "status")
        check(rc == 0 and "dir rename old new" in out and "nondurable=" in out,
              "status lists the non-durable rename and bytes")
        rc, out = ctl(sock, "lose-unsynced")
        check(rc == 0 and out.startswith("ok files="), f"lose-unsynced: {out.strip()}")
        check(read(f"{d}/unsynced") == b"", "a write without fsync is gone")
        check(read(f"{d}/synced") == b"durable",
              "a write with fsync stays; an unsynced append and unlink do not")
        check(read(f"{d}/old") == b"old name" and read(f"{d}/new") is None,
              "a rename without directory fsync is rolled back")
        check(read(f"{d}/dsync") == b"dsync data", "an O_DSYNC write survives")
        os.rename(f"{d}/old", f"{d}/new")
        fsync_dir(d)
        ctl(sock, "lose-unsynced")
        check(read(f"{d}/new") == b"old name" and read(f"{d}/old") is None,
              "a rename with directory fsync stays")

        # torn write: the last non-durable write keeps a prefix
        write(f"{d}/torn", b"", sync=True)
        fsync_dir(d)
        write(f"{d}/torn", b"t" * 8192)
        ctl(sock, "torn-write")
        rc, out = ctl(sock, "lose-unsynced")
        n = len(read(f"{d}/torn"))
        check(rc == 0 and "torn=torn:0+" in out and 0 < n < 8192 and n % 512 == 0,
              f"torn-write kept {n} of 8192 bytes ({out.strip()})")

        # fail rules: only matching files, only COUNT times
        write(f"{d}/a.db", b"x", sync=True)
        write(f"{d}/b.log", b"x", sync=True)
        rc, out = ctl(sock, "fail", "write", "EIO", "2", "*.db")
        check(rc == 0, "fail write EIO 2 *.db accepted")
        e1 = errno_of(lambda: write(f"{d}/a.db", b"y"))
        e_other = errno_of(lambda: write(f"{d}/b.log", b"y"))
        e2 = errno_of(lambda: write(f"{d}/a.db", b"y"))
        e3 = errno_of(lambda: write(f"{d}/a.db", b"y"))
        check((e1, e2, e_other, e3) == (errno.EIO, errno.EIO, 0, 0),
              f"write fails twice on *.db only, then works ({e1}, {e2}, {e_other}, {e3})")
        ctl(sock, "fail", "fsync", "EROFS", "1", "b.*")
        e1 = errno_of(lambda: write(f"{d}/a.db", b"z", sync=True))
        e2 = errno_of(lambda: write(f"{d}/b.log", b"z", sync=True))
        check((e1, e2) == (0, errno.EROFS), "fsync fails on b.* only, with EROFS")
        ctl(sock, "fail", "rename", "ENOSPC")
        e1 = errno_of(lambda: os.rename(f"{d}/a.db", f"{d}/c.db"))
        ctl(sock, "clear")
        e2 = errno_of(lambda: os.rename(f"{d}/a.db", f"{d}/c.db"))
        check((e1, e2) == (errno.ENOSPC, 0), "a rule without count fails until clear")
        ctl(sock, "fill")
        e1 = errno_of(lambda: write(f"{d}/c.db", b"grow", offset=1))
        e2 = errno_of(lambda: write(f"{d}/c.db", b"o"))
        ctl(sock, "clear")
        e3 = errno_of(lambda: write(f"{d}/c.db", b"grow", offset=1))
        check((e1, e2, e3) == (errno.ENOSPC, 0, 0),
              "fill: growth is ENOSPC, an overwrite is not; clear ends it")

        # bad input
        rc, out = ctl(sock, "fail", "write", "EWHAT")
        check(rc == 1 and "unknown errno 'EWHAT'" in out, "unknown errno: exit 1, named")
        rc, out = ctl(sock, "frobnicate")
        check(rc == 1 and "unknown command 'frobnicate'" in out, "unknown command: exit 1")
        rc, out = ctl(os.path.join(tmp, "nothing.sock"), "ping")
        check(rc == 4, "no server: exit 4")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    check(not any("faultfs" in l for l in open("/proc/self/mounts")),
          "SIGTERM unmounts")
    log = open(os.path.join(tmp, "faultfs.log")).read()
    check("Sanitizer" not in log and "runtime error" not in log,
          "no sanitizer report in faultfs.log")


def pids_in_mount_ns(ns):
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/mnt") == ns:
                    pids.append(int(p))
            except OSError:
                pass
    return pids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def death(tmp):
    """The process that started faultfs (standing in for the runner) is
    SIGKILLed: faultfs must exit, and its mount namespace empty out."""
    d = os.path.join(tmp, "death")
    os.makedirs(d)
    script = (f"{FAULTFS} --log {tmp}/death.log {d} {d} & echo $! > {tmp}/pid; "
              f"while ! {FAULTFS} ctl {d}.sock ping >/dev/null 2>&1; do sleep 0.05; done; "
              f"touch {tmp}/up; exec sleep 600")
    runner = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                               "bash", "-c", script])
    deadline = time.time() + 10
    while not os.path.exists(f"{tmp}/up") and time.time() < deadline:
        time.sleep(0.05)
    pid = int(open(f"{tmp}/pid").read())
    ns = os.readlink(f"/proc/{pid}/ns/mnt")
    check(ns != os.readlink("/proc/self/ns/mnt"), "faultfs runs in its own mount namespace")
    members = pids_in_mount_ns(ns)
    runner.kill()
    runner.wait()
    # The namespace (and the mount in it) lives as long as a process in it:
    # none can join it but children of its members.
    deadline = time.time() + 10
    while any(alive(p) for p in members) and time.time() < deadline:
        time.sleep(0.05)
    check(pid in members and not alive(pid),
          "faultfs dies with the process that started it")
    left = [p for p in members if alive(p)]
    check(not left, f"no process is left in its mount namespace: the mount is gone {left}")
    for p in left:
        os.kill(p, signal.SIGKILL)
    check(not any(d in l for l in open("/proc/self/mounts")), "the mount never leaked out")


RUN_SCENARIO = """{
  "name": "faultfs-faults", "nodes": 3, "duration_s": 12, "recovery_s": 4,
  "db": {"name": "taskd", "election_timeout_ms": 500, "heartbeat_ms": 50,
         "snapshot_threshold": 128, "snapshot_trailing": 16},
  "workload": {"name": "register", "clients": 4, "keys": 4, "rate": 50,
               "op_timeout_ms": 1000},
  "nemesis": {"faults": ["lose-unsynced-on-kill", "torn-write-on-kill",
                         "disk-error", "disk-full"],
              "interval_s": 2, "duration_s": 1, "targets": ["one"],
              "fs_ops": ["write"], "fs_files": ["taskd.db*"]}
}
"""
KINDS = ("lose-unsynced-on-kill", "torn-write-on-kill", "disk-error", "disk-full")


def run_faults(tmp):
    """The faults in a real run (seed 7 plans all four kinds)."""
    import json
    faultline = os.path.join(BIN, "faultline")
    scenario = os.path.join(tmp, "faultfs-faults.json")
    with open(scenario, "w") as f:
        f.write(RUN_SCENARIO)
    plan = subprocess.run([faultline, "schedule", scenario, "--seed", "7"],
                          capture_output=True, text=True).stdout
    check(all(k in plan for k in KINDS), "seed 7 plans every faultfs fault")
    p = subprocess.run([faultline, "run", scenario, "--seed", "7", "--runs-dir",
                        os.path.join(tmp, "runs")], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, f"the run ends valid (exit {p.returncode})")
    runs = os.path.join(tmp, "runs", "faultfs-faults")
    run = os.path.join(runs, sorted(os.listdir(runs))[-1])
    events = [json.loads(l) for l in open(os.path.join(run, "history.jsonl"))]
    nem = [e for e in events if e.get("process") == "nemesis"]
    started = {e["f"] for e in nem if e["type"] == "invoke"}
    check(all(k in started for k in KINDS), f"every kind was injected ({sorted(started)})")
    lost = [e["value"] for e in nem if e["f"] == "lose-unsynced"]
    check(lost and all(v["ok"] and v["result"].startswith("ok files=") for v in lost),
          f"every kill rolled back its node's faultfs ({len(lost)} rollbacks)")
    check(any("torn=taskd" in v["result"] or "torn=raft" in v["result"] for v in lost),
          "a torn-write-on-kill tore a write")
    took = [e["value"] for e in nem if e["type"] == "info" and e["f"] in ("disk-error", "disk-full")]
    check(took and all(v["enabled"] for v in took), "disk-error and disk-full took on their nodes")
    errors = sum(open(os.path.join(run, "nodes", n, "events.jsonl")).read().count("io_error")
                 for n in os.listdir(os.path.join(run, "nodes")))
    check(errors > 0, f"disk-error on taskd.db* made a node meet an I/O error ({errors})")
    left = subprocess.run(["pgrep", "-f", f"faultfs.*{run}"], capture_output=True).stdout
    check(not left, "no faultfs left after the run")

    # A faultfs that can't mount: the run stops as a harness failure.
    fake = os.path.join(tmp, "fakebin")
    os.makedirs(fake)
    for prog in ("faultline", "taskd"):  # copies: faultline finds its siblings
        shutil.copy(os.path.join(BIN, prog), fake)  # by /proc/self/exe
    with open(os.path.join(fake, "faultfs"), "w") as f:
        f.write("#!/bin/sh\nexit 4\n")
    os.chmod(os.path.join(fake, "faultfs"), 0o755)
    p = subprocess.run([os.path.join(fake, "faultline"), "run", scenario, "--seed", "7",
                        "--runs-dir", os.path.join(tmp, "runs-fake")],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 4 and "preparing the cluster" in p.stderr,
          f"a faultfs that can't mount stops the run: exit 4 ({p.returncode})")
    return run


def main():
    if os.geteuid() != 0:
        print("test_faultfs: needs root (mount namespaces); skipped")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        inner(sys.argv[2])
        return 1 if failures else 0
    tmp = tempfile.mkdtemp(prefix="test_faultfs.")
    try:
        rc = subprocess.run(["unshare", "-m", "--propagation", "private",
                             sys.executable, __file__, "--inner", tmp]).returncode
        death(tmp)
        run_faults(tmp)
    finally:
        if rc == 0 and failures == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"test_faultfs: files kept in {tmp}")
    return 1 if rc != 0 or failures else 0


if __name__ == "__main__":
    sys.exit(main())
