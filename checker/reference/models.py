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


MODELS = {"cas-register": Register, "kv": KV}
