"""Differential test: the C engine (faultline check), the reference checker
and the construction must agree on seeded random small histories.

usage: differential.py [--bin DIR] [--count N] [--seed S] [--models a,b]
Every history is derived from (seed, model, i), so a failure is replayed
with the same seed; failing histories are kept under --keep DIR."""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import generate
import reference
from models import MODELS


def c_verdict(binary, path, model):
    r = subprocess.run([binary, "check", "--model", model, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        return "error %d: %s" % (r.returncode,
                                 (r.stdout + r.stderr).decode()[:300])
    return r.returncode == 0


def one(args, model, i, tmp):
    rng = random.Random("%d/%s/%d" % (args.seed, model, i))
    ops = generate.construct(rng, model)
    kind = ("valid", "mutated", "random", "late")[i % 4]
    expect = True
    if kind in ("mutated", "late"):
        m = (generate.mutate if kind == "mutated" else
             generate.mutate_late)(rng, model, ops)
        if m is None:
            kind = "valid"
        else:
            ops, expect = m, False
    elif kind == "random":
        ops, expect = generate.scramble(rng, model, ops), None
    text = generate.to_jsonl(ops)
    path = os.path.join(tmp, "%s-%d.jsonl" % (model, i))
    with open(path, "w") as f:
        f.write(text)
    ref = reference.linearizable(
        reference.ops_from_jsonl(text.splitlines()), MODELS[model])
    c = c_verdict(args.bin, path, model)
    ok = c == ref and (expect is None or ref == expect)
    if ok:
        os.unlink(path)
    return kind, ok, c, ref, expect, path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("FAULTLINE_BIN", "bin"))
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--models", default="cas-register,kv,task-record,lease")
    ap.add_argument("--keep", default=None)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 31)
    args.bin = os.path.join(args.bin, "faultline")
    print("differential: seed %d, %d histories per model" %
          (args.seed, args.count), flush=True)
    tmp = args.keep or tempfile.mkdtemp(prefix="faultline-diff-")
    os.makedirs(tmp, exist_ok=True)
    failures = 0
    t0 = time.time()
    for model in args.models.split(","):
        counts = {}
        with ThreadPoolExecutor(args.jobs) as pool:
            results = pool.map(lambda i: one(args, model, i, tmp),
                               range(args.count))
            for kind, ok, c, ref, expect, path in results:
                counts.setdefault(kind, [0, 0, 0])
                counts[kind][0] += 1
                counts[kind][2] += ref is True
                if not ok:
                    counts[kind][1] += 1
                    failures += 1
                    if failures <= 10:
                        print("DISAGREE %s: C %s, reference %s, construction "
                              "%s" % (path, c, ref, expect))
        print("  %-12s %s" % (model, ", ".join(
            "%s %d (%d linearizable, %d disagree)" % (k, v[0], v[2], v[1])
            for k, v in sorted(counts.items()))), flush=True)
    print("differential: %d disagreements in %.1f s (seed %d)%s" %
          (failures, time.time() - t0, args.seed,
           "; failing histories in " + tmp if failures else ""))
    if not failures and args.keep is None:
        os.rmdir(tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
