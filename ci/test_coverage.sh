#!/usr/bin/env bash
# ci/coverage.py and ci/nightly's coverage: the signature of small
# hand-made events files (pairs of protocol events per node, repeats
# coalesced, other events and bad lines skipped; the election features),
# the tally and its curve, Steer's picks the same for a seed on a recorded
# sequence of new counts; then ci/nightly with a stand-in faultline that
# writes node events: the coverage file's lines, the curve, passing run
# directories deleted after their coverage was counted, and --steer picking
# the same scenarios twice for one seed. No cluster.
# test-quick
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../test/lib.sh"

# 1. The module, on events files written here.
/usr/bin/python3 - "$tmp/unit" <<'PY' || fail "unit tests of ci/coverage.py"
import json, os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, "ci")
import coverage as cov

root = sys.argv[1]
def run(name, nodes):
    """A run directory root/SCENARIO/T-1 with nodes/nK/events.jsonl; a node
    given as None has a folder and no file."""
    d = os.path.join(root, name, "T-1")
    for k, lines in enumerate(nodes, 1):
        nd = os.path.join(d, "nodes", "n%d" % k)
        os.makedirs(nd, exist_ok=True)
        if lines is None:
            continue
        with open(os.path.join(nd, "events.jsonl"), "w") as f:
            for l in lines:
                f.write(l if isinstance(l, str) else json.dumps(l))
                f.write("\n")
    return d

def ev(name, **kw):
    kw["event"] = name
    return kw

checks = 0
def eq(got, want, what):
    global checks
    checks += 1
    if got != want:
        print("FAIL %s:\n  got  %s\n  want %s" % (what, sorted(got) if
              isinstance(got, set) else got, sorted(want) if
              isinstance(want, set) else want))
        sys.exit(1)

# One follower: repeats coalesced, command_applied and client events
# skipped, a line that is not JSON and one without "event" skipped, a
# restart right after a vote (vote_persisted>start).
d = run("a", [[
    ev("start"), ev("recovered", term=1, voted_for=0, last_index=1,
                    fsm_applied_index=1),
    ev("term", term=1), ev("became_follower", term=1),
    ev("append_persisted", first=2, last=2, n=1),
    ev("append_persisted", first=3, last=3, n=1),
    ev("command_applied", index=2), ev("client_connected", conn=1),
    ev("append_persisted", first=4, last=4, n=1),
    "{not json", json.dumps({"no_event": 1}), "[1, 2]",
    ev("commit_advanced", commit=4), ev("commit_advanced", commit=5),
    ev("truncated", index=4),
    ev("term_persisted", term=2), ev("vote_persisted", term=2, vote=2),
    ev("start"),
    ev("recovered", term=2, voted_for=2, last_index=9, fsm_applied_index=3),
], None])
eq(cov.signature(d), {
    "start>recovered", "recovered>term", "term>became_follower",
    "became_follower>append_persisted", "append_persisted>commit_advanced",
    "commit_advanced>truncated", "truncated>term_persisted",
    "term_persisted>vote_persisted", "vote_persisted>start",
    "truncated_as_follower", "recovered_with_vote", "recovered_mid_log",
    "terms=2-3", "leaders=0"}, "follower run")

# Pairs are per node (no pair across two files), member_* and
# transfer_* count, a leader's truncation, an install on a follower,
# io_error by source, leaders bucketed.
d = run("b", [
    [ev("start"), ev("became_leader", term=5), ev("member_added", id=4),
     ev("transfer_started", target=2), ev("truncated", index=3),
     ev("io_error", source="sqlite")],
    [ev("became_follower", term=5), ev("snapshot_install_start", index=9),
     ev("snapshot_install_end", index=9), ev("became_leader", term=9),
     ev("became_leader", term=9)],
    [],
])
eq(cov.signature(d), {
    "start>became_leader", "became_leader>member_added",
    "member_added>transfer_started", "transfer_started>truncated",
    "truncated>io_error", "became_follower>snapshot_install_start",
    "snapshot_install_start>snapshot_install_end",
    "snapshot_install_end>became_leader", "truncated_as_leader",
    "install_as_follower", "io_error=sqlite", "terms=8-15", "leaders=2-3"},
   "leader run")

eq(cov.signature(os.path.join(root, "none")), set(), "no run directory")
eq([cov.bucket(n) for n in (0, 1, 2, 3, 4, 7, 8, 31, 32, 500)],
   ["0", "1", "2-3", "2-3", "4-7", "4-7", "8-15", "16-31", "32+", "32+"],
   "bucket")

# The tally: new items overall and per scenario, and the curve.
t = cov.Tally()
eq(t.add("x", {"a", "b"}), ({"a", "b"}, {"a", "b"}), "tally 1")
eq(t.add("y", {"b", "c"}), ({"c"}, {"b", "c"}), "tally 2")
eq(t.add("x", {"a"}), (set(), set()), "tally 3")
eq(t.curve, [2, 3, 3], "overall curve")
eq(t.curves, {"x": [2, 2], "y": [2]}, "scenario curves")
eq(cov.curve_points(list(range(1, 11))), [(1, 1), (2, 2), (4, 4), (8, 8),
                                         (10, 10)], "curve points")
eq(cov.format_curve(t).splitlines()[-1].split(), ["overall", "1:2", "2:3",
                                                  "3:3"], "curve text")

# Steer: the same seed and the same recorded new counts give the same
# picks; a scenario that keeps finding new items gets most runs, the
# others still some.
names = ["p", "q", "r", "s"]
recorded = {"p": [30, 12, 9, 7, 5, 5, 4, 4] * 40, "q": [25, 0, 0] + [0] * 300,
            "r": [20, 1] + [0] * 300, "s": [0] * 300}
def picks(seed, n=200):
    st = cov.Steer(names, seed)
    used = {k: 0 for k in names}
    out = []
    for _ in range(n):
        p = st.pick(names)
        st.record(p, recorded[p][used[p]])
        used[p] += 1
        out.append(p)
    return out
a, b = picks(7), picks(7)
eq(a, b, "steer: same seed, same picks")
eq(picks(8) != a, True, "steer: another seed, other picks")
eq(sorted(a[:4]), names, "steer: every scenario run once first")
counts = {k: a.count(k) for k in names}
eq(counts["p"] > 100, True, "steer: p found the most, ran most: %s" % counts)
eq(min(counts.values()) >= 5, True, "steer: every scenario still runs: %s"
   % counts)
# A scenario's first run does not count (its new items say which ran
# first); the later ones do, decayed.
st = cov.Steer(["p", "q"], 3)
st.record("p", 100)
st.record("q", 0)
eq(st.score, {"p": 0.0, "q": 0.0}, "steer: first runs left out")
st.record("q", 4)
st.record("q", 2)
eq(st.score, {"p": 0.0, "q": 4.0}, "steer: 0.5 * 4 + 2")
# A score that decayed to near 0 does not keep every pick: the others
# (score 0) get about half of them (weights score + 1).
st = cov.Steer(["p", "q"], 4)
for n in ("p", "q", "p"):
    st.record(n, 0)
st.record("p", 1)
got = [st.pick(["p", "q"]) for _ in range(400)]
eq(got.count("q") > 150, True, "steer: a score of 1 does not take all: %d"
   % got.count("q"))
# Candidates not in the hunt any more are never picked.
st = cov.Steer(names, 1)
eq(set(st.pick(["q", "s"]) for _ in range(50)) <= {"q", "s"}, True,
   "steer: only candidates")
print("ci/coverage.py: %d checks passed" % checks)
PY

# 2. ci/nightly with a stand-in faultline whose runs write node events:
# scenario "wide" shows two new pairs at each of its first 20 seeds, "flat"
# the same events whatever the seed, "bad" is invalid from seed 3.
mkdir -p "$tmp/stub"
cat >"$tmp/stub/faultline" <<'SH'
#!/usr/bin/env bash
scen=$2; seed=; runs=histories/runs
shift 2
while [ $# -gt 0 ]; do
  case $1 in --seed) seed=$2; shift ;; --runs-dir) runs=$2; shift ;; esac; shift
done
name=$(basename "$scen" .json)
dir=$runs/$name/T-$seed; mkdir -p "$dir/nodes/n1" "$dir/nodes/n2"
echo "faultline: run directory $dir"
e() { printf '{"event":"%s"}\n' "$@"; }
{ e start recovered became_follower
  if [ "$name" = wide ] && [ "$seed" -le 20 ]; then e "member_x$seed"; fi
  e vote_persisted start; } >"$dir/nodes/n1/events.jsonl"
e start became_leader >"$dir/nodes/n2/events.jsonl"
if [ "$name" = bad ] && [ "$seed" -ge 3 ]; then
  echo 'faultline: invalid: set: 1 lost'; exit 1
fi
echo "faultline: valid: linearizable (cas-register, 10 ops, 1 keys)"
SH
chmod +x "$tmp/stub/faultline"
for n in wide flat bad; do
  echo "{\"name\":\"$n\",\"duration_s\":1,\"recovery_s\":0}" >"$tmp/$n.json"
done

ci/nightly --bin "$tmp/stub" --scenarios "$tmp/wide.json" "$tmp/flat.json" \
  "$tmp/bad.json" --seed 1 --max-runs 4 --budget 5 --runs-dir "$tmp/rr" \
  >"$tmp/rr.out" 2>&1; code=$?
[ "$code" -eq 1 ] || fail "nightly exited $code, want 1"
cf=$tmp/rr/nightly-coverage.jsonl
[ "$(wc -l <"$cf")" -eq 11 ] || fail "coverage file: want 11 lines (4 wide, 4 flat, 3 bad): $(cat "$cf")"
/usr/bin/python3 - "$cf" <<'PY' || fail "coverage file: its lines"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
# Round-robin: wide 1, flat 1, bad 1, wide 2, ...
assert [(r["scenario"], r["seed"]) for r in rows[:3]] == \
    [("wide", 1), ("flat", 1), ("bad", 1)], rows[:3]
# The first run: start>recovered, recovered>became_follower,
# became_follower>member_x1, member_x1>vote_persisted,
# vote_persisted>start (n1), start>became_leader (n2), leaders=1.
assert rows[0]["items"] == rows[0]["new"] == rows[0]["cumulative"] == 7, rows[0]
# flat: the same as wide but the member pairs: 1 of its 6 items new
# (became_follower>vote_persisted), then nothing.
assert rows[1]["new"] == 1 and rows[1]["new_in_scenario"] == 6, rows[1]
assert all(r["new"] == 0 for r in rows if r["scenario"] != "wide"
           and r is not rows[1]), rows
wide = [r for r in rows if r["scenario"] == "wide"]
assert [r["new"] for r in wide] == [7, 2, 2, 2], wide
assert wide[1]["new_items"] == ["became_follower>member_x2",
                                "member_x2>vote_persisted"], wide[1]
cum = 0
for r in rows:
    cum += r["new"]
    assert r["cumulative"] == cum, (r, cum)
assert [r["verdict"] for r in rows if r["scenario"] == "bad"] == \
    ["valid", "valid", "invalid"], rows
PY
grep -qE '^ci/nightly: coverage after 1, 2, 4' "$tmp/rr.out" || fail "nightly: no curve"
grep -qE '^wide +1:7 +2:9 +4:13$' "$tmp/rr.out" || fail "nightly: wide's curve: $(grep ^wide "$tmp/rr.out")"
grep -qE '^overall +1:7 +2:8 +4:10 +8:12 +11:14$' "$tmp/rr.out" || fail "nightly: the overall curve: $(grep ^overall "$tmp/rr.out")"
grep -qE '^wide +4 +0 +- +13 +-$' "$tmp/rr.out" || fail "nightly: wide's coverage in the table: $(grep ^wide "$tmp/rr.out")"
[ ! -d "$tmp/rr/wide" ] || fail "nightly: passing run directories kept: $(ls "$tmp/rr/wide")"
[ -d "$tmp/rr/bad/T-3" ] || fail "nightly: the failing run directory is gone"

# 3. --steer: the same seed picks the same scenarios; every scenario runs;
# --total-runs stops the hunt; --coverage names the file; --keep keeps
# passing runs for ci/coverage below.
for k in 1 2; do
  ci/nightly --bin "$tmp/stub" --scenarios "$tmp/wide.json" "$tmp/flat.json" \
    --seed 5 --steer --keep --total-runs 14 --budget 5 --runs-dir "$tmp/s$k" \
    --coverage "$tmp/s$k.jsonl" >"$tmp/s$k.out" 2>&1 || fail "steer $k: exit $?"
  /usr/bin/python3 -c 'import json,sys; print(" ".join("%s:%s" % (r["scenario"], r["seed"]) for r in map(json.loads, open(sys.argv[1]))))' \
    "$tmp/s$k.jsonl" >"$tmp/s$k.seq"
done
grep -q "steered" "$tmp/s1.out" || fail "steer: the header does not say steered"
[ "$(wc -w <"$tmp/s1.seq")" -eq 14 ] || fail "steer: --total-runs 14: $(cat "$tmp/s1.seq")"
cmp -s "$tmp/s1.seq" "$tmp/s2.seq" || fail "steer: seed 5 twice, two sequences: $(cat "$tmp/s1.seq") / $(cat "$tmp/s2.seq")"
grep -q "flat:5" "$tmp/s1.seq" && grep -q "wide:5" "$tmp/s1.seq" || fail "steer: a scenario never ran: $(cat "$tmp/s1.seq")"
# Run k of a scenario uses seed + k: each scenario's seeds count up.
/usr/bin/python3 - "$tmp/s1.seq" <<'PY' || fail "steer: seeds: $(cat "$tmp/s1.seq")"
import sys
seen = {}
for tok in open(sys.argv[1]).read().split():
    name, seed = tok.split(":")
    want = 5 + seen.get(name, 0)
    assert int(seed) == want, (tok, want)
    seen[name] = seen.get(name, 0) + 1
# wide keeps finding pairs (through seed 20), flat never after its first:
# wide should get most of the 14 runs.
assert seen["wide"] >= 9 and seen["flat"] >= 1, seen
PY

# 4. ci/coverage RUN_DIR...: per run, then the curve per scenario (the
# run directory's parent folder) and overall.
ci/coverage "$tmp/s1/wide/T-5" "$tmp/s1/wide/T-6" "$tmp/s1/flat/T-5" \
  >"$tmp/c.out" 2>&1 || fail "ci/coverage exited non-zero: $(cat "$tmp/c.out")"
grep -qE 'wide/T-6: 7 items, 2 new, 9 in all$' "$tmp/c.out" || fail "ci/coverage: T-6: $(cat "$tmp/c.out")"
grep -qE '^wide +1:7 +2:9$' "$tmp/c.out" || fail "ci/coverage: wide's curve: $(cat "$tmp/c.out")"
grep -qE '^overall +1:7 +2:9 +3:10$' "$tmp/c.out" || fail "ci/coverage: curve: $(cat "$tmp/c.out")"
ci/coverage "$tmp/nope" >/dev/null 2>&1; code=$?
[ "$code" -eq 3 ] || fail "ci/coverage: a missing directory: exit $code, want 3"

if [ "$failures" -ne 0 ]; then
  echo "test_coverage: $failures failed"
  exit 1
fi
echo "test_coverage: ok"
