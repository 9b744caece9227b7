"""Sequential specifications for the reference checker, written from the
model descriptions (checker/model.h, histories/FORMAT.md), not from the C.

A state is an immutable value; apply(state, op) returns the next state, or
None when the op cannot happen in that state. States are dicts frozen into
sorted tuples of (key, value), so the whole history can be searched as one
piece (no splitting by key)."""


def _get(state, key, default):
    for k, v in state:
        if k == key:
            return v
    return default


def _set(state, key, value):
    d = dict(state)
    d[key] = value
    return tuple(sorted(d.items()))


class Register:
    """Compare-and-set register per key, starting unset (None)."""
    name = "cas-register"

    @staticmethod
    def apply(state, op):
        cur = _get(state, op["key"], None)
        if op["f"] == "read":
            return state if op["out"] == cur else None
        if op["f"] == "write":
            return _set(state, op["key"], op["arg"])
        if op["f"] == "cas":
            old, new = op["arg"]
            if cur is None or cur != old:
                return None
            return _set(state, op["key"], new)
        raise ValueError("unknown op " + op["f"])


class KV:
    """Strings per key, starting as ""."""
    name = "kv"

    @staticmethod
    def apply(state, op):
        cur = _get(state, op["key"], "")
        if op["f"] == "get":
            return state if op["out"] == cur else None
        if op["f"] == "put":
            return _set(state, op["key"], op["arg"])
        if op["f"] == "append":
            return _set(state, op["key"], cur + op["arg"])
        raise ValueError("unknown op " + op["f"])


class TaskRecord:
    """Task records per task id (histories/FORMAT.md, "Task operations"):
    absent, or (status, version). create needs it absent and makes it
    ("pending", 1); update needs the expected status and/or version and
    bumps the version; delete needs it present; get returns the record or
    None. A mutation with a result ("out") must produce exactly that
    record. Retries share a rid: reference.merge_requests() makes each
    logical request one op before the search."""
    name = "task-record"
    by_request = True

    @staticmethod
    def record(state, key):
        return _get(state, key, None)

    @staticmethod
    def apply(state, op):
        cur = _get(state, op["key"], None)
        f, arg = op["f"], op["arg"] or {}
        if f == "get":
            want = op["out"]
            want = None if want is None else (want["status"], want["version"])
            return state if want == cur else None
        if f == "create":
            if cur is not None:
                return None
            new = ("pending", 1)
        elif f == "update":
            if cur is None:
                return None
            if "expect_status" in arg and arg["expect_status"] != cur[0]:
                return None
            if "expect_version" in arg and arg["expect_version"] != cur[1]:
                return None
            new = (arg["status"], cur[1] + 1)
        elif f == "delete":
            if cur is None:
                return None
            return tuple(kv for kv in state if kv[0] != op["key"])
        else:
            raise ValueError("unknown op " + f)
        out = op.get("out")
        if op.get("ret") is not None and out is not None and \
                (out["status"], out["version"]) != new:
            return None
        return _set(state, op["key"], new)

    @staticmethod
    def output(state, op):
        """The ok value of a mutation that left @state."""
        if op["f"] == "delete":
            return None
        st, ver = _get(state, op["key"], None)
        return {"status": st, "version": ver}


TOKENS = "\x00token"  # the last fencing token handed out (generation)


class Lease:
    """Leases per scope (FORMAT.md, "Lease operations"; taskd's rules in
    nodes/taskd/README.md). A scope maps to (holder, token, expires,
    floor); holder None is free; floor is the largest token the scope ever
    had; clock is the scope's latest acquire now (a clock per scope: the
    system has one, but the C checker splits by scope). An acquire succeeds
    when the scope is free, expired (expires <=
    now) or already the caller's; the caller keeps its token, anyone else
    gets a token above the floor; expires = now + ttl. A release succeeds
    for the holder (expired or not) and frees the scope. A holder read
    shows the holder, token and expiry when held and not expired at its
    now, else null. Acquire and holder replies carry now_ms, which never
    goes back in the order a scope's ops take effect (an acquire moves the
    scope's clock; a read only needs now >= it). An acquire with an unknown
    outcome leaves
    token and expiry unknown ("?") until a reply shows them."""
    name = "lease"
    by_request = True

    @staticmethod
    def apply(state, op):
        f, arg, out = op["f"], op["arg"] or {}, op.get("out")
        known = op.get("ret") is not None
        holder, token, expires, floor, clock = _get(
            state, op["key"], (None, None, None, 0, None))
        if f == "holder":
            now = out["now_ms"]
            if clock is not None and now < clock:
                return None
            if out["holder"] is None:
                ok = holder is None or expires == "?" or expires <= now
                return state if ok else None
            if holder != out["holder"] or out["expires_ms"] <= now:
                return None
            if token == "?":
                if out["token"] <= floor:
                    return None
                token = out["token"]
                floor = max(floor, token)
            elif token != out["token"]:
                return None
            if expires == "?":
                expires = out["expires_ms"]
            elif expires != out["expires_ms"]:
                return None
            return _set(state, op["key"],
                        (holder, token, expires, floor, clock))
        if f == "release":
            if holder is None or holder != arg["holder"]:
                return None
            return _set(state, op["key"], (None, None, None, floor, clock))
        if f != "acquire":
            raise ValueError("unknown op " + f)
        me = arg["holder"]
        mine = holder is not None and holder == me
        if not known:
            new = (me, token if mine else "?", "?", floor, clock)
            return _set(state, op["key"], new)
        now = out["now_ms"]
        if clock is not None and now < clock:
            return None
        if out["holder"] != me or out["expires_ms"] <= now:
            return None
        if holder is not None and not mine and expires != "?" \
                and expires > now:
            return None
        if mine and token != "?":
            if out["token"] != token:
                return None
        elif out["token"] <= floor:
            return None
        return _set(state, op["key"], (me, out["token"], out["expires_ms"],
                                       max(floor, out["token"]), now))

    @staticmethod
    def perform(state, op, lp):
        """What taskd does with @op at linearization point @lp: (next
        state, ok value), or (None, error) when it refuses."""
        now = 1000 + int(lp * 100)
        f, arg = op["f"], op["arg"] or {}
        holder, token, expires, floor, _ = _get(state, op["key"],
                                                (None, None, None, 0, None))
        live = holder is not None and expires > now
        if f == "holder":
            if live:
                out = {"holder": holder, "token": token, "now_ms": now,
                       "expires_ms": expires}
            else:
                out = {"holder": None, "token": None, "now_ms": now,
                       "expires_ms": None}
            return state, out
        if f == "release":
            if holder != arg["holder"]:
                return None, "not_holder"
            return _set(state, op["key"],
                        (None, None, None, floor, now)), None
        me = arg["holder"]
        if live and holder != me:
            return None, "held"
        if holder != me:
            token = _get(state, TOKENS, 0) + 1
            state = _set(state, TOKENS, token)
        expires = now + arg["ttl_ms"]
        state = _set(state, op["key"], (me, token, expires,
                                        max(floor, token), now))
        return state, {"holder": me, "token": token, "now_ms": now,
                       "expires_ms": expires}


MODELS = {"cas-register": Register, "kv": KV, "task-record": TaskRecord,
          "lease": Lease}
