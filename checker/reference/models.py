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


MODELS = {"cas-register": Register, "kv": KV, "task-record": TaskRecord}
