#!/usr/bin/python3
"""report: write RUN_DIR/report.html, a self-contained page about one run.

usage: report.py [-o OUT] RUN_DIR

The page needs no network: its CSS, its script (report.css, report.js
beside this file) and the run's data (runload.py) are all inside it.
Exit codes as faultline's: 0 written, 3 bad input (no run directory, no
history, a malformed history line), 4 the page could not be written."""
import argparse
import html
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runload  # noqa: E402

EXIT_BAD_INPUT = 3
EXIT_HARNESS = 4
# What its messages on stderr begin with: "faultline report" when run by
# faultline (runner/report.c sets it), else the script's own name.
PROG = os.environ.get("FAULTLINE_PREFIX") or "report"
HERE = os.path.dirname(os.path.abspath(__file__))

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script>
/* Before anything else: errors are kept in the page, where a person and
 * the tests (report/test_report.sh) can see them. */
window.reportErrors = [];
function reportError(text) {{
  window.reportErrors.push(String(text));
  var el = document.getElementById("js-errors");
  if (el) el.textContent = window.reportErrors.join("\\n");
  document.documentElement.setAttribute("data-errors",
                                        window.reportErrors.length);
}}
window.onerror = function (msg, src, line, col) {{
  reportError("error: " + msg + " (line " + line + ":" + col + ")");
}};
window.addEventListener("unhandledrejection", function (e) {{
  reportError("unhandled rejection: " + e.reason);
}});
(function () {{
  var err = console.error;
  console.error = function () {{
    reportError("console.error: " + Array.prototype.join.call(arguments, " "));
    return err.apply(console, arguments);
  }};
}})();
</script>
<style>
{css}
</style>
</head>
<body>
<pre id="js-errors"></pre>
<header id="head"><h1>{title}</h1></header>
<main>
<div id="notes"></div>
<section id="verdict"></section>
<section id="anomaly"></section>
<section>
  <h2>Timeline: operations per client, faults, node events</h2>
  <div class="row">
    <div class="legend" id="legend"></div>
  </div>
  <div class="row" style="margin:6px 0">
    <span class="muted">Wheel to zoom, drag to zoom into a range, hover
    for details.</span>
    <button id="reset">whole run</button>
    <span class="muted" id="range"></span>
    <label class="muted">highlight <select id="key"></select></label>
  </div>
  <canvas id="timeline"></canvas>
</section>
<section id="shrunk"></section>
<section>
  <h2>Latency of each operation, by when it was invoked (log scale)</h2>
  <canvas id="latency"></canvas>
</section>
<section>
  <h2>Throughput: operations completed per second</h2>
  <canvas id="throughput"></canvas>
</section>
<section id="nodes"></section>
<section id="faults"></section>
<div class="muted">written by faultline {version} report.py at {generated}</div>
</main>
<div id="tip"></div>
<script id="data" type="application/json">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""


def embed_json(obj):
    """JSON that can sit inside <script>: no "<" at all (so no "</script>"
    or "<!--"); "\\u003c" reads back as "<"."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.replace("<", "\\u003c")


def render(data):
    with open(os.path.join(HERE, "report.css"), encoding="utf-8") as f:
        css = f.read()
    with open(os.path.join(HERE, "report.js"), encoding="utf-8") as f:
        js = f.read()
    m = data["meta"]
    title = f"faultline report: {m['scenario']}, seed {m['seed']}"
    return PAGE.format(
        title=html.escape(title), css=css, js=js.replace("</script", "<\\/script"),
        data=embed_json(data),
        version=html.escape(m.get("version") or ""),
        generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))


def write_explanation(run_dir, sentences):
    """verdict.json's "explanation": the anomalies in words (explain.py),
    for the runner and `faultline check` to print; left out when there is
    none. verdict.json is replaced whole, never half-written."""
    path = os.path.join(run_dir, "verdict.json")
    try:
        with open(path, encoding="utf-8") as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        return
    if not isinstance(verdict, dict) or \
            verdict.get("explanation", []) == sentences:
        return
    if sentences:
        verdict["explanation"] = sentences
    else:
        verdict.pop("explanation", None)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(verdict, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        print(f"{PROG}: {path}: {e.strerror}", file=sys.stderr)


def main(argv):
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("-o", "--output",
                    help="where to write the page (RUN_DIR/report.html)")
    try:
        args = ap.parse_args(argv[1:])
    except SystemExit as e:
        return 0 if e.code == 0 else EXIT_BAD_INPUT
    run_dir = args.run_dir
    if not os.path.isdir(run_dir):
        print(f"{PROG}: {run_dir}: " + ("not a directory (expected a run "
              "directory)" if os.path.exists(run_dir) else
              "No such file or directory"), file=sys.stderr)
        return EXIT_BAD_INPUT
    history = os.path.join(run_dir, "history.jsonl")
    if not os.path.isfile(history):
        print(f"{PROG}: {history}: no such file: not a run directory",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.monotonic()
    try:
        data = runload.load_run(run_dir)
    except runload.LoadError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    write_explanation(run_dir, data["explanation"])
    page = render(data)
    out = args.output or os.path.join(run_dir, "report.html")
    tmp = out + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, out)
    except OSError as e:
        print(f"{PROG}: {e.filename or out}: {e.strerror}", file=sys.stderr)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return EXIT_HARNESS
    print(f"report: wrote {out} ({len(page.encode('utf-8')) / 1e6:.1f} MB, "
          f"{data['meta']['n_ops']} ops, {len(data['faults'])} faults, "
          f"{time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
