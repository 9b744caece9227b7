#!/usr/bin/python3
"""report: write RUN_DIR/report.html, a self-contained page about one run."""
import html
import json
import os
import sys

EXIT_BAD_INPUT = 3
EXIT_HARNESS = 4


def main(argv):
    if len(argv) != 2:
        print("usage: report.py RUN_DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    run_dir = argv[1]
    history = os.path.join(run_dir, "history.jsonl")
    if not os.path.isfile(history):
        print(f"report: {history}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    verdict = {}
    try:
        with open(os.path.join(run_dir, "verdict.json")) as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        pass
    out = os.path.join(run_dir, "report.html")
    try:
        with open(out, "w") as f:
            f.write("<!doctype html><meta charset=utf-8><title>faultline"
                    "</title><pre>%s</pre>\n"
                    % html.escape(json.dumps(verdict, indent=2)))
    except OSError as e:
        print(f"report: {out}: {e.strerror}", file=sys.stderr)
        return EXIT_HARNESS
    print(f"report: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
