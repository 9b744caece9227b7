"""taskd_members: the admin ops (add, assign, remove, transfer, members) on
real taskd clusters on loopback (python3, standard library only).

Run by test_taskd_members.sh. Checks, in order: on a 3-node cluster, bad
admin requests (malformed fields, unknown ids, existing ids and addresses,
a role the node has, a transfer to the leader itself, a follower asked):
a clear error each time and the cluster unharmed (a write and a
linearizable read still succeed); a 4th node started with --join (its own
id and addresses only) added as spare, promoted to voter, caught up (it
serves, as leader, a value written before it joined), leadership
transferred to it and then to a named node, `members` the same on every
node; a change while a promotion is stuck (busy) and the promotion given
up (catch_up_failed); the node removed; a transfer to any voter; a
transfer to a node that is down (timeout, definite:false; meanwhile
not_leader and busy). On a
one-node cluster, the last voter can be neither removed nor demoted. Last,
with the followers killed, an add is never acknowledged (timeout or
leadership_lost, definite:false), and under --bug change-before-commit it
is.
"""

import shutil
import signal
import sys
import time

from taskd_testlib import WAIT, Cluster, Conn, TestFailure, call, check


def admin(node, op, **fields):
    return call(node.client_port, dict(fields, op=op, id=op), timeout=WAIT)


def cluster_ok(cl, where):
    """A write and a linearizable read still succeed."""
    value = cl.rid()
    w = cl.request({"op": "write", "key": "alive", "value": value})
    check(w["ok"], f"{where}: write: {w}")
    r = cl.request({"op": "read", "key": "alive"})
    check(r["ok"] and r["value"] == value, f"{where}: read: {r}")


def wait_for(what, fn):
    deadline = time.time() + WAIT
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, TestFailure, ValueError) as e:
            last = e
        time.sleep(0.05)
    raise TestFailure(f"never: {what} (last: {last})")


def agreed_members(nodes, n_servers):
    """`members` on every one of @nodes once they agree on a committed
    configuration of @n_servers servers; its reply."""
    def agree():
        views = [admin(n, "members") for n in nodes]
        first = views[0]
        same = all({k: v[k] for k in ("index", "servers")} ==
                   {k: first[k] for k in ("index", "servers")} and v["committed"]
                   for v in views)
        return first if same and len(first["servers"]) == n_servers else None
    return wait_for(f"{[n.id for n in nodes]} agree on {n_servers} members", agree)


def roles(view):
    return {s["id"]: s["role"] for s in view["servers"]}


def test_bad_requests(cl):
    leader = cl.leader()
    follower = cl.followers()[0]
    other = cl.followers()[1]
    c = Conn(leader.client_port)
    for bad, says in (({"op": "add", "address": "127.0.0.1:1"}, "node_id"),
                      ({"op": "add", "node_id": "9", "address": "127.0.0.1:1"}, "node_id"),
                      ({"op": "add", "node_id": 0, "address": "127.0.0.1:1"}, "node_id"),
                      ({"op": "add", "node_id": -3, "address": "127.0.0.1:1"}, "node_id"),
                      ({"op": "add", "node_id": 9}, "address"),
                      ({"op": "add", "node_id": 9, "address": "localhost:80"}, "address"),
                      ({"op": "assign", "node_id": 2}, "role"),
                      ({"op": "assign", "node_id": 2, "role": "boss"}, "role"),
                      ({"op": "remove"}, "node_id"),
                      ({"op": "transfer", "node_id": 1.5}, "node_id")):
        r = c.call(dict(bad, id="bad"))
        check(r["ok"] is False and r["error"] == "bad_request" and r["definite"] is True
              and says in r["message"], f"{bad} -> {r}")
    for bad, code in (({"op": "assign", "node_id": 99, "role": "voter"}, "unknown_id"),
                      ({"op": "remove", "node_id": 99}, "unknown_id"),
                      ({"op": "transfer", "node_id": 99}, "unknown_id"),
                      ({"op": "add", "node_id": other.id, "address": "127.0.0.1:9"}, "exists"),
                      ({"op": "add", "node_id": 9, "address": other.raft}, "exists"),
                      ({"op": "assign", "node_id": other.id, "role": "voter"}, "bad_role"),
                      ({"op": "transfer", "node_id": leader.id}, "bad_role")):
        r = c.call(dict(bad, id="bad"))
        check(r["ok"] is False and r["error"] == code and r["definite"] is True,
              f"{bad}: expected {code}: {r}")
    c.close()
    r = admin(follower, "add", node_id=9, address="127.0.0.1:9")
    check(r["error"] == "not_leader" and r["leader"] == leader.client and r["definite"],
          f"add on a follower: {r}")
    r = admin(follower, "transfer", node_id=0)
    check(r["error"] == "not_leader", f"transfer on a follower: {r}")
    view = agreed_members(list(cl.nodes.values()), 3)
    check(set(roles(view).values()) == {"voter"}, f"members changed: {view}")
    check(cl.leader() is leader, "leader changed on bad requests")
    cluster_ok(cl, "after bad requests")


def test_join_promote_transfer_remove(cl):
    # Data the new node must catch up with.
    for i in range(30):
        check(cl.request({"op": "write", "key": "before-join", "value": i})["ok"], "write")
    n4 = cl.new_node(4, join=True)
    n4.ignored = True
    n4.start()
    view = admin(n4, "members")
    check(view["servers"] == [] and view["index"] == 0 and view["committed_index"] == 0,
          f"a joining node has no configuration: {view}")
    r = admin(n4, "add", node_id=5, address="127.0.0.1:5")
    check(r["error"] == "not_leader" and r["leader"] is None, f"add on the joiner: {r}")

    leader = cl.leader()
    mark = len(leader.events())
    r = admin(leader, "add", node_id=4, address=n4.raft)
    check(r["ok"] and r["index"] > 0, f"add: {r}")
    e = leader.wait_event("member_added", mark)
    check(e["id"] == 4 and e["address"] == n4.raft and e["index"] == r["index"], f"{e}")
    leader.wait_event("configuration", mark,
                      lambda e: e["index"] == r["index"] and e["committed"])
    view = agreed_members([n for n in cl.nodes.values() if n is not n4], 4)
    check(roles(view)[4] == "spare" and view["index"] == r["index"], f"after add: {view}")
    cluster_ok(cl, "after add")

    r = admin(leader, "assign", node_id=4, role="voter")
    check(r["ok"], f"promote: {r}")
    leader.wait_event("member_assigned", mark, lambda e: e["id"] == 4 and e["role"] == "voter")
    n4.ignored = False
    view = agreed_members(list(cl.nodes.values()), 4)
    check(roles(view) == {1: "voter", 2: "voter", 3: "voter", 4: "voter"}, f"{view}")
    cl.wait_caught_up()
    check(any(e["event"] == "configuration" and e["committed"] and len(e["servers"]) == 4
              for e in n4.events()), "node 4 logged no configuration with itself")
    n4.wait_event("snapshot_restored", 0, lambda e: not e["at_start"])
    cluster_ok(cl, "after promotion")

    # Leadership to the new node: it answers as leader, and serves what was
    # written before it joined.
    leader = cl.leader()
    mark = len(leader.events())
    r = admin(leader, "transfer", node_id=4)
    check(r["ok"] and r["leader"] == 4, f"transfer to 4: {r}")
    check(leader.wait_event("transfer_done", mark)["ok"], "transfer_done")
    check(n4.status()["state"] == "leader", f"node 4 after transfer: {n4.status()}")
    got = call(n4.client_port, {"id": 1, "op": "read", "key": "before-join"})
    check(got["ok"] and got["value"] == 29 and got["version"] == 30, f"read on node 4: {got}")

    # To a named node.
    r = admin(n4, "transfer", node_id=2)
    check(r["ok"] and r["leader"] == 2, f"transfer to 2: {r}")
    check(cl.nodes[2].status()["state"] == "leader", f"{cl.nodes[2].status()}")
    check(cl.leader() is cl.nodes[2], "the cluster follows node 2")
    cluster_ok(cl, "after transfers")

    # A promotion that can't finish (node 5 never starts) blocks every other
    # change (busy) until libraft gives it up: nothing was changed.
    leader = cl.nodes[2]
    check(admin(leader, "add", node_id=5, address="127.0.0.1:5")["ok"], "add 5")
    c = Conn(leader.client_port, timeout=WAIT)
    c.send({"id": "promote", "op": "assign", "node_id": 5, "role": "voter"})
    time.sleep(0.1)  # the assign is in libraft before the next request
    r = admin(leader, "add", node_id=6, address="127.0.0.1:6")
    check(r["error"] == "busy" and r["definite"] is True, f"add during a promotion: {r}")
    r = c.recv()
    c.close()
    check(not r["ok"] and (r["error"] == "catch_up_failed" and r["definite"] is True
                           or r["error"] == "timeout" and r["definite"] is False),
          f"stuck promotion: {r}")
    check(roles(admin(leader, "members"))[5] == "spare", "node 5 promoted")
    check(admin(leader, "remove", node_id=5)["ok"], "remove 5")
    cluster_ok(cl, "after the stuck promotion")

    # Remove node 4: the others agree on three voters.
    mark = len(leader.events())
    r = admin(leader, "remove", node_id=4)
    check(r["ok"], f"remove 4: {r}")
    leader.wait_event("member_removed", mark, lambda e: e["id"] == 4)
    n4.ignored = True
    view = agreed_members([n for n in cl.nodes.values() if n is not n4], 3)
    check(set(roles(view)) == {1, 2, 3}, f"after remove: {view}")
    n4.kill()
    n4.check_sanitizers()
    del cl.nodes[4]
    cluster_ok(cl, "after remove")

    old = cl.leader()
    r = admin(old, "transfer", node_id=0)
    check(r["ok"] and r["leader"] != old.id, f"transfer to any: {r}")
    check(cl.leader().id == r["leader"], "the cluster follows the new leader")
    cluster_ok(cl, "after transfer to any")


def test_transfer_to_a_dead_node(cl):
    """A transfer whose target is down: libraft gives up after an election
    timeout; meanwhile the leader refuses requests (not_leader) and other
    changes (busy); then it serves again."""
    cl.wait_caught_up()
    leader = cl.leader()
    target = cl.followers()[0]
    target.kill()
    mark = len(leader.events())
    c = Conn(leader.client_port, timeout=WAIT)
    c.send({"id": "t", "op": "transfer", "node_id": target.id})
    leader.wait_event("transfer_started", mark)
    w = call(leader.client_port, {"id": 1, "op": "write", "key": "k", "value": 1})
    check(w["error"] == "not_leader" and w["definite"] and "transferring" in w["message"],
          f"write during a transfer: {w}")
    r = admin(leader, "add", node_id=9, address="127.0.0.1:9")
    check(r["error"] == "busy" and r["definite"], f"add during a transfer: {r}")
    r = c.recv()
    c.close()
    check(r["error"] == "timeout" and r["definite"] is False and r["leader"] == leader.id,
          f"transfer to a dead node: {r}")
    e = leader.wait_event("transfer_done", mark)
    check(e["ok"] is False and e["target"] == target.id, f"{e}")
    cluster_ok(cl, "after a failed transfer")
    target.start()
    cl.wait_caught_up()


def test_last_voter():
    cl = Cluster(n=1, prefix="taskd-members-1-")
    try:
        cl.start_all()
        leader = cl.leader()
        for op, fields in (("remove", {}), ("assign", {"role": "spare"}),
                           ("assign", {"role": "standby"})):
            r = admin(leader, op, node_id=1, **fields)
            check(r["error"] == "last_voter" and r["definite"] is True, f"{op} {fields}: {r}")
        r = admin(leader, "assign", node_id=1, role="voter")
        check(r["error"] == "bad_role", f"assign voter to a voter: {r}")
        r = admin(leader, "transfer", node_id=0)
        check(r["error"] == "unknown_id", f"transfer with no other voter: {r}")
        check(roles(admin(leader, "members")) == {1: "voter"}, "members changed")
        cluster_ok(cl, "one node, after last-voter refusals")
        cl.nodes[1].kill(signal.SIGTERM)
        cl.nodes[1].check_sanitizers()
    finally:
        cl.kill_all()
    shutil.rmtree(cl.dir)


def add_without_quorum(cl, flags, nid):
    """Restart every node with @flags, kill the leader's followers, ask the
    leader to add node @nid; its reply. (The entry stays in the leader's
    log: node @nid may be a member once the cluster is back, which is what
    definite:false allows.)"""
    for node in cl.nodes.values():
        if node.alive:
            node.kill(signal.SIGTERM)
        node.flags = ["--request-timeout", "400"] + flags
        node.start()
    leader = cl.leader()
    cl.wait_caught_up()
    for f in cl.followers():
        f.kill()
    return admin(leader, "add", node_id=nid, address=f"127.0.0.1:{nid}")


def test_change_before_commit(cl):
    r = add_without_quorum(cl, [], 7)
    check(not r["ok"] and r["error"] in ("timeout", "leadership_lost")
          and r["definite"] is False, f"add without quorum: {r}")
    r = add_without_quorum(cl, ["--bug", "change-before-commit"], 8)
    check(r["ok"] is True, f"change-before-commit, no quorum: {r}")


def main():
    started = time.time()
    # Snapshots every 16 entries: the joining node catches up by one.
    cl = Cluster(prefix="taskd-members-", threshold=16)
    ok = False
    steps = []
    try:
        cl.start_all()
        for name, fn in (("bad-requests", lambda: test_bad_requests(cl)),
                         ("join", lambda: test_join_promote_transfer_remove(cl)),
                         ("transfer-dead", lambda: test_transfer_to_a_dead_node(cl)),
                         ("last-voter", test_last_voter),
                         ("change-before-commit", lambda: test_change_before_commit(cl))):
            t = time.time()
            fn()
            steps.append(f"{name} {time.time() - t:.1f}s")
        for node in cl.nodes.values():
            node.check_sanitizers()
        ok = True
    except TestFailure as e:
        print(f"taskd_members: FAILED: {e}", file=sys.stderr)
    finally:
        cl.kill_all()
    if ok:
        shutil.rmtree(cl.dir)
        print(f"taskd_members: ok ({time.time() - started:.1f}s: {', '.join(steps)})")
        return 0
    cl.dump_logs(sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
