/* report.js: draws a faultline run's report from the data embedded in the
 * page (report.py inlines this file). Canvas for everything that grows with
 * the run (operations, latency points, throughput bins), so that a 100,000-
 * operation run stays small and quick; the few-row parts are HTML. When it
 * has drawn everything it sets body[data-rendered]; the tests look for it. */
"use strict";

var D = JSON.parse(document.getElementById("data").textContent);
var OPS = D.ops, T = D.tables, META = D.meta;
var N = OPS.t.length;
/* Unpack (runload.pack_ops): start times and indexes are deltas, times are
 * in 10 us units; from here on they are milliseconds and indexes. */
(function () {
  var t = new Float64Array(N), d = new Float64Array(N), idx = new Array(N);
  var st = 0, si = 0;
  for (var i = 0; i < N; i++) {
    st += OPS.t[i];
    si += OPS.idx[i];
    t[i] = st / 100;
    idx[i] = si;
    d[i] = OPS.d[i] < 0 ? -1 : OPS.d[i] / 100;
  }
  OPS.t = t;
  OPS.d = d;
  OPS.idx = idx;
})();
var TYPE_COLOR = ["#2e9e4f", "#d64545", "#e8a33d", "#9aa0a6"];
var FAULT_COLOR = {
  kill: "214,69,69", restart: "232,120,40", pause: "128,90,213",
  partition: "36,86,198", loss: "22,160,180", clock: "200,160,0",
  disk: "140,90,50", "disk-error": "160,100,40", "disk-full": "120,80,60",
  "lose-unsynced": "170,40,110", "torn-write": "150,30,90"
};
var MARK_STYLE = {
  start: ["#2e9e4f", "up"], became_leader: ["#2456c6", "star"],
  became_candidate: ["#7d8fb3", "dot"], leader_changed: ["#2456c6", "dot"],
  io_error: ["#d64545", "x"], snapshot_taken: ["#8a6d3b", "square"],
  snapshot_restored: ["#8a6d3b", "diamond"], shutdown: ["#667085", "down"],
  crash: ["#d64545", "down"]
};
var END = Math.max(META.end || 0, 1);
var view = {t0: 0, t1: END};
var highlightKey = -1;
var named = {};          /* op position -> named-op records */
var charts = [];

function $(id) { return document.getElementById(id); }
function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
  });
}
function faultColor(kind, a) {
  return "rgba(" + (FAULT_COLOR[kind] || "120,120,120") + "," + a + ")";
}
function fmtMs(ms) {
  if (ms < 0) return "never";
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 1000) return ms.toFixed(1) + " ms";
  return (ms / 1000).toFixed(3) + " s";
}
function fmtT(ms) { return (ms / 1000).toFixed(3) + " s"; }
function verdictClass(v) {
  return v === true ? "valid" : v === false ? "invalid" :
         v === "unknown" ? "unknown" : "none";
}
function verdictWord(v) {
  return v === true ? "VALID" : v === false ? "INVALID" :
         v === "unknown" ? "UNKNOWN" : "NOT CHECKED";
}

/* --- the header and the small tables ------------------------------------ */

function faultCounts() {
  var c = {};
  D.faults.forEach(function (f) { c[f.kind] = (c[f.kind] || 0) + 1; });
  return Object.keys(c).map(function (k) { return k + " " + c[k]; })
               .join(", ") || "none";
}

/* "cas_mismatch 1790, not_leader 61", each reason marked by what it
 * says: the op's own answer (expected) or the cluster's availability. */
function failSplit() {
  var F = D.fails;
  if (!F || !F.total) return "";
  return ": " + F.reasons.map(function (r) {
    return "<span class='fail-" + esc(r[2]) + "' title='" +
           esc(FAIL_WORDS[r[2]]) + "'>" + esc(r[0]) + " " + r[1] + "</span>";
  }).join(", ");
}

var FAIL_WORDS = {
  expected: "expected: the operation's own answer (a compare that did not " +
            "match, a task that exists or is gone, a lease held by " +
            "another): normal on a healthy cluster",
  availability: "availability: the cluster could not serve the request " +
                "then (no leader, a node down or cut off, a timeout)",
  other: "other: neither; look at the nodes' stderr.log"
};

function drawHeader() {
  var v = D.verdict, m = META, c = m.counts;
  var h = "<h1>faultline: " + esc(m.scenario) + ", seed " + esc(m.seed) +
          "</h1><span class='badge " + verdictClass(v && v.valid) + "'>" +
          verdictWord(v && v.valid) + "</span>";
  h += "<span class='facts'><b>" + m.n_ops + "</b> ops: <span class=t-ok>" +
       c.ok + " ok</span>, <span class=t-fail>" + c.fail +
       " fail</span>" + failSplit() + ", <span class=t-info>" + c.info +
       " info</span>" +
       (c.open ? ", " + c.open + " open" : "") + " &middot; faults: <b>" +
       esc(faultCounts()) + "</b> &middot; " +
       (m.nodes ? esc(m.nodes) + " nodes, " : "") +
       esc(m.clients || m.n_lanes) + " clients" +
       (m.bug ? " &middot; bug <b>" + esc(m.bug) + "</b>" : "") +
       (m.workload ? " &middot; " + (m.system ? esc(m.system) + ", " : "") +
        "workload <b>" + esc(m.workload) + "</b>" +
        (m.checkers ? " (" + esc(m.checkers.join(", ")) +
         (m.model ? ", model " + esc(m.model) : "") + ")" : "") : "") +
       " &middot; " + fmtT(END) +
       (m.start_wall ? " from " + esc(m.start_wall) : "") + "</span>";
  $("head").innerHTML = h;
  var notes = (m.notes || []).map(function (n) {
    return "<div class=note>" + esc(n) + "</div>";
  }).join("");
  $("notes").innerHTML = notes +
      (m.description ? "<div class=muted>" + esc(m.description) + "</div>"
                     : "") +
      "<div class=muted>run directory <code>" + esc(m.dir) + "</code></div>";
}

function drawVerdict() {
  var v = D.verdict;
  if (!v) {
    $("verdict").innerHTML = "<h2>Verdict</h2><div class=note>no " +
        "verdict.json: check the run with <code>faultline check " +
        esc(META.dir) + "</code></div>";
    return;
  }
  var h = "<h2>Verdict</h2><table><tr><th>checker</th><th>verdict</th>" +
          "<th>what it found</th></tr>";
  v.checkers.forEach(function (c) {
    h += "<tr><td>" + esc(c.name) + "</td><td><span class='badge " +
         verdictClass(c.valid) + "'>" + verdictWord(c.valid) +
         "</span></td><td>" + esc(c.text) +
         (c.detail ? "<details><summary class=muted>details</summary><pre>" +
                     esc(c.detail) + "</pre></details>" : "") + "</td></tr>";
  });
  h += "</table>";
  if (D.explanation && D.explanation.length) {
    h += "<h3>In words</h3><ul id=explanation>" +
         D.explanation.map(function (t) {
           return "<li>" + esc(t) + "</li>";
         }).join("") + "</ul>";
  }
  $("verdict").innerHTML = h;
}

function opRow(i, extra) {
  var ty = D.types[OPS.type[i]];
  return "<td class=num><a class=op data-op=" + i + ">" + OPS.idx[i] +
         "</a></td><td class=num>" + OPS.proc[i] + "</td><td>" +
         esc(T.f[OPS.f[i]]) + "</td><td>" + esc(T.key[OPS.key[i]]) +
         "</td><td class=mono>" + esc(T.v[OPS.v[i]]) + "</td><td class=t-" +
         ty + ">" + ty + (T.err[OPS.err[i]] ? " (" + esc(T.err[OPS.err[i]]) +
         ")" : "") + "</td><td class=num>" + fmtT(OPS.t[i]) +
         "</td><td class=num>" + fmtMs(OPS.d[i]) + "</td><td>" +
         esc(T.node[OPS.node[i]]) + "</td>" + (extra || "");
}

function drawAnomaly() {
  if (!D.named.length) {
    $("anomaly").style.display = "none";
    return;
  }
  var h = "<h2>Anomaly: the operations the verdict names</h2>" +
          "<table><tr><th class=num>index</th><th class=num>process</th>" +
          "<th>f</th><th>key</th><th>value</th><th>result</th>" +
          "<th class=num>invoked</th><th class=num>latency</th><th>node</th>" +
          "<th>checker: why</th></tr>";
  var prev = null, rows = 0, MAX_ROWS = 50;
  D.named.forEach(function (n) {
    if (n.op != null) (named[n.op] = named[n.op] || []).push(n);
    if (++rows === MAX_ROWS + 1) {
      h += "</table><details><summary>" + (D.named.length - MAX_ROWS) +
           " more</summary><table>";
    }
    /* Several ops of one example share its description: say it once. */
    var why = n.checker + (n.where ? " (" + n.where + ")" : "") + ": " +
              n.text;
    var shown = why === prev ? "<span class=muted>\u3003 the same</span>" :
                esc(why);
    prev = why;
    if (n.op == null) {
      h += "<tr><td class=num>" + n.index + "</td><td colspan=8 " +
           "class=muted>not an operation of this history</td><td>" + shown +
           "</td></tr>";
      return;
    }
    h += "<tr class=hl>" + opRow(n.op, "<td>" + shown +
         (n.index !== OPS.idx[n.op] ? " <span class=muted>(names event " +
          n.index + ", its completion)</span>" : "") + "</td>") + "</tr>";
  });
  if (rows > MAX_ROWS) h += "</table></details><table>";
  h += "</table><div class=muted>Outlined in black on the timeline and " +
       "the latency chart; click an index to zoom there.</div>";
  $("anomaly").innerHTML = h;
}

function drawNodes() {
  if (!D.nodes.length) {
    $("nodes").innerHTML = "<h2>Nodes</h2><div class=muted>no node " +
                           "event logs</div>";
    return;
  }
  var h = "<h2>Nodes</h2><table><tr><th>node</th><th class=num>" +
          "elections won</th><th class=num>restarts</th><th class=num>" +
          "crashes</th><th class=num>applies</th><th class=num>snapshots " +
          "taken / restored</th><th class=num>I/O errors</th><th " +
          "class=num>last term</th><th class=num>applied index</th><th>" +
          "last state</th><th>stderr (tail)</th></tr>";
  D.nodes.forEach(function (n) {
    h += "<tr" + (n.io_errors || n.crashes ? " class=hl" : "") + "><td>" +
         esc(n.name) + (n.bugs.length ? " <span class=muted>(bug " +
         esc(n.bugs.join(", ")) + ")</span>" : "") + "</td><td class=num>" +
         n.elections + "</td><td class=num>" + n.restarts +
         "</td><td class=num>" + n.crashes + "</td><td class=num>" +
         n.applies + "</td><td class=num>" + n.snapshots + " / " +
         n.restored + "</td><td class=num>" + n.io_errors +
         "</td><td class=num>" + esc(n.last_term) + "</td><td class=num>" +
         esc(n.applied_index) + "</td><td>" + esc(n.last_state) +
         (n.bad_lines ? " <span class=muted>(" + n.bad_lines +
                        " unreadable lines)</span>" : "") +
         "</td><td><pre>" + esc(n.stderr) + "</pre></td></tr>";
  });
  $("nodes").innerHTML = h + "</table>";
}

function drawFaultTable() {
  if (!D.faults.length) {
    $("faults").innerHTML = "<h2>Faults</h2><div class=muted>no faults " +
                            "injected</div>";
    return;
  }
  var h = "<h2>Faults</h2><table><tr><th>kind</th><th>targets</th>" +
          "<th class=num>start</th><th class=num>end</th><th class=num>" +
          "lasted</th><th>ended by</th></tr>";
  D.faults.forEach(function (f) {
    h += "<tr><td><span class=sw style='background:" +
         faultColor(f.kind, 0.6) + "'></span> " + esc(f.kind) +
         "</td><td>" + esc(f.targets) + "</td><td class=num>" +
         fmtT(f.start) + "</td><td class=num>" + fmtT(f.end) +
         "</td><td class=num>" + fmtMs(f.end - f.start) + "</td><td>" +
         esc(f.end_f || "the end of the run") + "</td></tr>";
  });
  h += "</table>";
  if (D.faults.length > 40) {
    h = "<h2>Faults</h2><details><summary>" + D.faults.length +
        " faults: " + esc(faultCounts()) + "</summary>" +
        h.replace("<h2>Faults</h2>", "") + "</details>";
  }
  $("faults").innerHTML = h;
}

/* The shrunk sub-history: few operations, so SVG and a table. Drawn by
 * event order, not to scale: what matters in a dozen operations is which
 * overlap and which follow each other. */
var shrunkOps = {};      /* op position -> true, for the timeline */
function drawShrunk() {
  var s = D.shrunk;
  if (!s) {
    $("shrunk").style.display = "none";
    return;
  }
  var ev = s.events, procs = [], ops = [], open = {}, namedSet = {};
  (s.named || []).forEach(function (i) { namedSet[i] = true; });
  var order = ev.map(function (e, k) { return k; });
  order.sort(function (a, b) { return ev[a].t - ev[b].t || a - b; });
  var slot = {};
  order.forEach(function (k, n) { slot[k] = n; });
  var nemesis = [];
  ev.forEach(function (e, k) {
    if (e.op != null) shrunkOps[e.op] = true;
    if (e.process === "nemesis") {
      if (e.type !== "invoke") nemesis.push({a: slot[k], f: e.f, v: e.value});
      return;
    }
    if (procs.indexOf(e.process) < 0) procs.push(e.process);
    if (e.type === "invoke") {
      open[e.process] = {p: e.process, a: slot[k], b: null, f: e.f,
                         key: e.key, v: e.value, type: "open",
                         index: e.index, named: !!namedSet[e.index]};
      ops.push(open[e.process]);
    } else if (open[e.process]) {
      var o = open[e.process];
      o.b = slot[k];
      o.type = e.type;
      o.r = e.value;
      o.named = o.named || !!namedSet[e.index];
      delete open[e.process];
    }
  });
  var W = 1000, rowH = 28, L = 90, slots = Math.max(ev.length, 1);
  var H = (procs.length + (nemesis.length ? 1 : 0)) * rowH + 8,
      cell = (W - L - 10) / slots;
  function x(n) { return L + n * cell; }
  var svg = "<svg viewBox='0 0 " + W + " " + H + "' width='100%' " +
            "style='max-width:" + W + "px'>";
  if (nemesis.length) {
    var ny = procs.length * rowH;
    svg += "<text x=4 y=" + (ny + 18) + " font-size=12 fill='#667085'>" +
           "nemesis</text>";
    nemesis.forEach(function (n) {
      var kind = n.f;
      svg += "<rect x=" + (x(n.a) + 1).toFixed(1) + " y=" + (ny + 4) +
             " width=" + Math.max(3, cell - 2).toFixed(1) + " height=" +
             (rowH - 8) + " rx=3 fill='" + faultColor(kind, 0.5) +
             "'><title>" + esc(n.f + " " + (n.v || "")) + "</title></rect>" +
             "<text x=" + (x(n.a) + 4).toFixed(1) + " y=" + (ny + 19) +
             " font-size=12>" + esc(n.f.slice(0, Math.max(1,
                 Math.floor(cell / 7)))) + "</text>";
    });
  }
  procs.forEach(function (p, k) {
    svg += "<text x=4 y=" + (k * rowH + 18) + " font-size=12 " +
           "fill='#667085'>process " + esc(p) + "</text>";
  });
  ops.forEach(function (o) {
    var k = procs.indexOf(o.p), x0 = x(o.a) + 2,
        x1 = x(o.b == null ? slots : o.b + 1) - 2;
    var col = TYPE_COLOR[D.types.indexOf(o.type)] || TYPE_COLOR[3];
    var label = o.f + (o.v ? " " + o.v : "") +
                (o.r && o.r !== o.v ? " \u2192 " + o.r : "");
    svg += "<rect x=" + x0.toFixed(1) + " y=" + (k * rowH + 4) + " width=" +
           Math.max(3, x1 - x0).toFixed(1) + " height=" + (rowH - 8) +
           " fill='" + col + "' rx=3" +
           (o.named ? " stroke='#000' stroke-width=2.5" : "") + "><title>" +
           esc(label + ": " + o.type) + "</title></rect>";
    svg += "<text x=" + (x0 + 4).toFixed(1) + " y=" + (k * rowH + 19) +
           " font-size=12 fill='#fff'>" +
           esc(label.slice(0, Math.max(1, Math.floor((x1 - x0) / 7)))) +
           "</text>";
  });
  svg += "</svg>";
  var h = "<h2>Shrunk history: " + ops.length + " operations" +
          (s.verdict && s.verdict.valid === false ? " that are still " +
           "invalid" : "") + "</h2>";
  if (s.verdict) {
    s.verdict.checkers.forEach(function (c) {
      h += "<div><span class='badge " + verdictClass(c.valid) + "'>" +
           verdictWord(c.valid) + "</span> " + esc(c.name) + ": " +
           esc(c.text) + "</div>";
    });
  }
  h += "<div class=muted>In the order of their events (not to scale); " +
       "outlined in purple on the timeline above.</div>" + svg +
       "<table><tr><th class=num>index</th><th class=num>time</th>" +
       "<th>process</th><th>type</th><th>f</th><th>key</th><th>value</th>" +
       "<th>error</th><th>node</th><th class=num>in the run</th></tr>";
  ev.forEach(function (e) {
    h += "<tr" + (namedSet[e.index] ? " class=hl" : "") + "><td class=num>" +
         esc(e.index) + "</td><td class=num>" + fmtT(e.t) + "</td><td>" +
         esc(e.process) + "</td><td class=t-" + esc(e.type) + ">" +
         esc(e.type) + "</td><td>" + esc(e.f) + "</td><td>" + esc(e.key) +
         "</td><td class=mono>" + esc(e.value) + "</td><td>" +
         esc(e.error) + "</td><td>" + esc(e.node) + "</td><td class=num>" +
         (e.op != null ? "<a class=op data-op=" + e.op + ">op " +
                         OPS.idx[e.op] + "</a>" : "") + "</td></tr>";
  });
  $("shrunk").innerHTML = h + "</table>";
}

/* --- canvases ----------------------------------------------------------- */

var LEFT = 64, RIGHT = 12;

function Chart(canvas, height, draw, hover) {
  this.c = canvas;
  this.h = height;
  this.draw = draw;
  this.hover = hover;
  var self = this;
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var t = self.tAt(e.offsetX), k = e.deltaY > 0 ? 1.25 : 0.8;
    zoomTo(t - (t - view.t0) * k, t + (view.t1 - t) * k);
  }, {passive: false});
  var dragX = null;
  canvas.addEventListener("mousedown", function (e) { dragX = e.offsetX; });
  canvas.addEventListener("mouseup", function (e) {
    if (dragX != null && Math.abs(e.offsetX - dragX) > 5) {
      var a = self.tAt(Math.min(dragX, e.offsetX)),
          b = self.tAt(Math.max(dragX, e.offsetX));
      zoomTo(a, b);
    }
    dragX = null;
  });
  canvas.addEventListener("mousemove", function (e) {
    var text = self.hover ? self.hover(e.offsetX, e.offsetY) : null;
    var tip = $("tip");
    if (!text) { tip.style.display = "none"; return; }
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 470) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () {
    $("tip").style.display = "none";
  });
}
Chart.prototype.setup = function () {
  var dpr = window.devicePixelRatio || 1;
  var w = this.c.clientWidth || 1200;
  this.w = w;
  this.c.width = Math.round(w * dpr);
  this.c.height = Math.round(this.h * dpr);
  this.c.style.height = this.h + "px";
  var g = this.c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, this.h);
  return g;
};
Chart.prototype.x = function (t) {
  return LEFT + (t - view.t0) / (view.t1 - view.t0) * (this.w - LEFT - RIGHT);
};
Chart.prototype.tAt = function (px) {
  return view.t0 + (px - LEFT) / (this.w - LEFT - RIGHT) * (view.t1 - view.t0);
};

function zoomTo(a, b) {
  var span = Math.max(b - a, 1);
  a = Math.max(0, a);
  b = Math.min(END, a + span);
  a = Math.max(0, b - span);
  view.t0 = a;
  view.t1 = b;
  redraw();
}

function redraw() {
  charts.forEach(function (c) { c.draw(c); });
  $("range").textContent = fmtT(view.t0) + " \u2013 " + fmtT(view.t1);
}

/* Fault windows behind a plot, from y0 to y1; labels when @label. */
function shadeFaults(ch, g, y0, y1, label) {
  D.faults.forEach(function (f) {
    if (f.end < view.t0 || f.start > view.t1) return;
    var a = Math.max(ch.x(f.start), LEFT), b = Math.min(ch.x(f.end), ch.w - RIGHT);
    g.fillStyle = faultColor(f.kind, 0.13);
    g.fillRect(a, y0, Math.max(1, b - a), y1 - y0);
    g.fillStyle = faultColor(f.kind, 0.8);
    g.fillRect(a, y0, Math.max(1, b - a), 3);
    if (label && b - a > 30) {
      g.font = "10px sans-serif";
      g.fillText((f.kind + " " + f.targets).slice(0, Math.floor((b - a) / 6)),
                 a + 2, y0 + 13);
    }
  });
}

function timeAxis(ch, g, y) {
  var span = view.t1 - view.t0, step = 1;
  var steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
               20000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
  for (var i = 0; i < steps.length; i++) {
    step = steps[i];
    if (span / step <= (ch.w - LEFT) / 90) break;
  }
  g.fillStyle = "#667085";
  g.strokeStyle = "#e4e7ec";
  g.font = "11px sans-serif";
  g.textAlign = "center";
  for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
    var x = ch.x(t);
    g.beginPath();
    g.moveTo(x, 0);
    g.lineTo(x, y);
    g.stroke();
    g.fillText(step >= 1000 ? (t / 1000) + " s" : (t / 1000).toFixed(3) + " s",
               x, y + 12);
  }
  g.textAlign = "left";
}

/* First op position whose start is >= t (ops are sorted by start). */
function lowerBound(t) {
  var lo = 0, hi = N;
  while (lo < hi) {
    var mid = (lo + hi) >> 1;
    if (OPS.t[mid] < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}
var MAXD = 0;
for (var q = 0; q < N; q++) if (OPS.d[q] > MAXD) MAXD = OPS.d[q];

/* Positions of the ops overlapping [t0, t1]. */
function visible(t0, t1) {
  return [lowerBound(t0 - MAXD), lowerBound(t1 + 0.001)];
}

/* --- the timeline ------------------------------------------------------- */

var nodeNames = [];
D.nodes.forEach(function (n) { nodeNames.push(n.name); });
D.spans.concat(D.marks).forEach(function (s) {
  if (nodeNames.indexOf(s.node) < 0) nodeNames.push(s.node);
});
var LANES = Math.max(META.n_lanes, 1);
var LANE_H = Math.max(4, Math.min(18, Math.floor(420 / LANES)));
var NODE_H = 18, TOP = 18;
var NODES_H = nodeNames.length * NODE_H + 6;
var TL_H = TOP + NODES_H + LANES * LANE_H + 24;

function laneY(l) { return TOP + NODES_H + l * LANE_H; }

function drawMark(g, kind, x, y) {
  var st = MARK_STYLE[kind] || ["#333", "dot"];
  g.fillStyle = st[0];
  g.strokeStyle = st[0];
  g.lineWidth = 1.5;
  g.beginPath();
  switch (st[1]) {
  case "up": g.moveTo(x, y - 5); g.lineTo(x + 4, y + 3); g.lineTo(x - 4, y + 3);
    g.fill(); break;
  case "down": g.moveTo(x, y + 5); g.lineTo(x + 4, y - 3);
    g.lineTo(x - 4, y - 3); g.fill(); break;
  case "x": g.moveTo(x - 4, y - 4); g.lineTo(x + 4, y + 4);
    g.moveTo(x + 4, y - 4); g.lineTo(x - 4, y + 4); g.stroke(); break;
  case "square": g.rect(x - 3, y - 3, 6, 6); g.fill(); break;
  case "diamond": g.moveTo(x, y - 4); g.lineTo(x + 4, y); g.lineTo(x, y + 4);
    g.lineTo(x - 4, y); g.fill(); break;
  case "star": g.arc(x, y, 4.5, 0, 7); g.fill(); g.fillStyle = "#fff";
    g.beginPath(); g.arc(x, y, 1.8, 0, 7); g.fill(); break;
  default: g.arc(x, y, 3, 0, 7); g.fill();
  }
  g.lineWidth = 1;
}

function drawTimeline(ch) {
  var g = ch.setup(), bottom = TL_H - 20;
  shadeFaults(ch, g, 0, bottom, true);
  timeAxis(ch, g, bottom);
  g.font = "11px sans-serif";
  /* Nodes: a grey bar while the process is up, blue while it leads. */
  nodeNames.forEach(function (name, k) {
    var y = TOP + k * NODE_H;
    g.fillStyle = "#1d2330";
    g.fillText(name, 4, y + 12);
    D.spans.forEach(function (s) {
      if (s.node !== name || s.end < view.t0 || s.start > view.t1) return;
      var a = Math.max(ch.x(s.start), LEFT), b = Math.min(ch.x(s.end), ch.w - RIGHT);
      g.fillStyle = s.what === "leader" ? "rgba(36,86,198,0.55)" :
                    "rgba(29,35,48,0.10)";
      if (s.what === "leader") g.fillRect(a, y + 5, Math.max(1, b - a), 8);
      else g.fillRect(a, y + 3, Math.max(1, b - a), 12);
    });
    D.marks.forEach(function (m) {
      if (m.node !== name || m.t < view.t0 || m.t > view.t1) return;
      drawMark(g, m.ev, ch.x(m.t), y + 9);
    });
  });
  g.fillStyle = "#667085";
  var step = Math.max(1, Math.ceil(11 / LANE_H));
  for (var l = 0; l < LANES; l += step) {
    g.fillText("c" + l, 4, laneY(l) + Math.min(LANE_H, 12));
  }
  /* Ops, one pass per type (one fillStyle each). */
  var r = visible(view.t0, view.t1), pad = LANE_H > 6 ? 1 : 0;
  var keyOn = highlightKey >= 0;
  for (var ty = 0; ty < 4; ty++) {
    g.fillStyle = TYPE_COLOR[ty];
    g.globalAlpha = keyOn ? 0.15 : 1;
    for (var i = r[0]; i < r[1]; i++) {
      if (OPS.type[i] !== ty) continue;
      if (keyOn && OPS.key[i] === highlightKey) continue;
      opRect(ch, g, i, pad);
    }
    if (keyOn) {
      g.globalAlpha = 1;
      for (i = r[0]; i < r[1]; i++) {
        if (OPS.type[i] === ty && OPS.key[i] === highlightKey) {
          opRect(ch, g, i, pad);
        }
      }
    }
  }
  g.globalAlpha = 1;
  /* The shrunk sub-history's ops, in purple. */
  g.strokeStyle = "#7c3aed";
  g.lineWidth = 2;
  Object.keys(shrunkOps).forEach(function (k) {
    var b = opBox(ch, +k, 0);
    if (b[0] > ch.w || b[0] + b[2] < LEFT) return;
    g.strokeRect(b[0] - 2, b[1] - 1, Math.max(b[2], 3) + 4, b[3] + 2);
  });
  g.lineWidth = 1;
  /* The anomaly: outlined, with a line across. */
  Object.keys(named).forEach(function (k) {
    var i = +k, x = ch.x(OPS.t[i]);
    g.strokeStyle = "#000";
    g.setLineDash([4, 3]);
    g.beginPath();
    g.moveTo(x, TOP);
    g.lineTo(x, bottom);
    g.stroke();
    g.setLineDash([]);
    g.lineWidth = 2.5;
    var b = opBox(ch, i, 0);
    g.strokeRect(b[0] - 1, b[1] - 1, Math.max(b[2], 3) + 2, b[3] + 2);
    g.lineWidth = 1;
  });
}

function opBox(ch, i, pad) {
  var end = OPS.d[i] < 0 ? END : OPS.t[i] + OPS.d[i];
  var a = ch.x(OPS.t[i]), b = ch.x(end);
  var y = laneY(OPS.lane[i]) + pad;
  var h = OPS.d[i] < 0 ? Math.max(2, (LANE_H - 2 * pad) / 2) : LANE_H - 2 * pad;
  return [a, y, Math.max(1, b - a), h];
}

function opRect(ch, g, i, pad) {
  var b = opBox(ch, i, pad);
  if (b[0] > ch.w || b[0] + b[2] < LEFT) return;
  g.fillRect(b[0], b[1], b[2], b[3]);
}

function opText(i) {
  var ty = D.types[OPS.type[i]];
  var s = "op " + OPS.idx[i] + ": process " + OPS.proc[i] + " " +
          T.f[OPS.f[i]] + (T.key[OPS.key[i]] ? " " + T.key[OPS.key[i]] : "") +
          (T.v[OPS.v[i]] ? " " + T.v[OPS.v[i]] : "") + "\n" + ty +
          (T.err[OPS.err[i]] ? " (" + T.err[OPS.err[i]] + ")" : "") +
          (T.node[OPS.node[i]] ? " from " + T.node[OPS.node[i]] : "") +
          "\ninvoked at " + fmtT(OPS.t[i]) + ", latency " + fmtMs(OPS.d[i]);
  (named[i] || []).forEach(function (n) {
    s += "\nnamed by " + n.checker + ": " + n.text;
  });
  return s;
}

function timelineHover(px, py) {
  var t = this.tAt(px), tol = (view.t1 - view.t0) / (this.w - LEFT) * 3;
  if (py < TOP + NODES_H) {
    var k = Math.floor((py - TOP) / NODE_H), name = nodeNames[k], best = null;
    D.marks.forEach(function (m) {
      if (m.node === name && Math.abs(m.t - t) <= tol * 2 &&
          (!best || Math.abs(m.t - t) < Math.abs(best.t - t))) best = m;
    });
    if (best) return best.node + " at " + fmtT(best.t) + ": " + best.text;
    var f = faultAt(t);
    return f ? f : null;
  }
  var lane = Math.floor((py - TOP - NODES_H) / LANE_H);
  if (lane < 0 || lane >= LANES) return null;
  var r = visible(t - tol, t + tol), hit = -1;
  for (var i = r[0]; i < r[1]; i++) {
    if (OPS.lane[i] !== lane) continue;
    var end = OPS.d[i] < 0 ? END : OPS.t[i] + OPS.d[i];
    if (OPS.t[i] - tol <= t && t <= end + tol) hit = i;
  }
  if (hit < 0) return faultAt(t);
  var f2 = faultAt(t);
  return opText(hit) + (f2 ? "\n\n" + f2 : "");
}

function faultAt(t) {
  var out = [];
  D.faults.forEach(function (f) {
    if (f.start <= t && t <= f.end) {
      out.push("fault " + f.kind + " " + f.targets + " (" + fmtT(f.start) +
               " \u2013 " + fmtT(f.end) + ")");
    }
  });
  return out.join("\n") || null;
}

/* --- latency and throughput --------------------------------------------- */

var LAT_H = 260, THR_H = 200;
var LAT_MIN = Infinity, LAT_MAX = 0;
for (q = 0; q < N; q++) {
  if (OPS.d[q] > 0) {
    LAT_MIN = Math.min(LAT_MIN, OPS.d[q]);
    LAT_MAX = Math.max(LAT_MAX, OPS.d[q]);
  }
}
if (!(LAT_MIN < Infinity)) { LAT_MIN = 0.1; LAT_MAX = 10; }
LAT_MIN = Math.pow(10, Math.floor(Math.log10(LAT_MIN)));
LAT_MAX = Math.pow(10, Math.ceil(Math.log10(Math.max(LAT_MAX, LAT_MIN * 10))));

function latY(d) {
  var a = Math.log10(LAT_MIN), b = Math.log10(LAT_MAX);
  return 8 + (1 - (Math.log10(Math.max(d, LAT_MIN)) - a) / (b - a)) *
             (LAT_H - 30);
}

function drawLatency(ch) {
  var g = ch.setup(), bottom = LAT_H - 20;
  shadeFaults(ch, g, 0, bottom, false);
  timeAxis(ch, g, bottom);
  g.fillStyle = "#667085";
  g.font = "11px sans-serif";
  for (var v = LAT_MIN; v <= LAT_MAX * 1.001; v *= 10) {
    var y = latY(v);
    g.fillText(fmtMs(v), 2, y + 4);
    g.strokeStyle = "#e4e7ec";
    g.beginPath();
    g.moveTo(LEFT, y);
    g.lineTo(ch.w - RIGHT, y);
    g.stroke();
  }
  var r = visible(view.t0, view.t1), keyOn = highlightKey >= 0;
  /* info last, on top: they are few and matter most. */
  [0, 1, 2].forEach(function (ty) {
    g.fillStyle = TYPE_COLOR[ty];
    for (var i = r[0]; i < r[1]; i++) {
      if (OPS.type[i] !== ty || OPS.d[i] < 0) continue;
      if (keyOn && OPS.key[i] !== highlightKey) continue;
      g.fillRect(ch.x(OPS.t[i]) - 1, latY(OPS.d[i]) - 1, 2.5, 2.5);
    }
  });
  Object.keys(named).forEach(function (k) {
    var i = +k;
    if (OPS.d[i] < 0) return;
    g.strokeStyle = "#000";
    g.lineWidth = 2;
    g.beginPath();
    g.arc(ch.x(OPS.t[i]), latY(OPS.d[i]), 6, 0, 7);
    g.stroke();
    g.lineWidth = 1;
  });
}

function latencyHover(px, py) {
  var t = this.tAt(px), tol = (view.t1 - view.t0) / (this.w - LEFT) * 3;
  var r = visible(t - tol, t + tol), best = -1, bd = 1e9;
  for (var i = r[0]; i < r[1]; i++) {
    if (OPS.d[i] < 0 || Math.abs(OPS.t[i] - t) > tol) continue;
    var dy = Math.abs(latY(OPS.d[i]) - py);
    if (dy < 5 && dy < bd) { bd = dy; best = i; }
  }
  return best >= 0 ? opText(best) : faultAt(t);
}

var bins = null;
function drawThroughput(ch) {
  var g = ch.setup(), bottom = THR_H - 20;
  shadeFaults(ch, g, 0, bottom, false);
  timeAxis(ch, g, bottom);
  var nb = Math.max(10, Math.floor((ch.w - LEFT - RIGHT) / 5));
  var width = (view.t1 - view.t0) / nb;
  var c = [new Float64Array(nb), new Float64Array(nb), new Float64Array(nb)];
  var r = visible(view.t0, view.t1), keyOn = highlightKey >= 0;
  for (var i = Math.max(0, r[0]); i < Math.min(N, r[1] + 1); i++) {
    if (OPS.d[i] < 0 || OPS.type[i] > 2) continue;
    if (keyOn && OPS.key[i] !== highlightKey) continue;
    var b = Math.floor((OPS.t[i] + OPS.d[i] - view.t0) / width);
    if (b >= 0 && b < nb) c[OPS.type[i]][b] += 1;
  }
  var max = 1;
  for (b = 0; b < nb; b++) max = Math.max(max, c[0][b] + c[1][b] + c[2][b]);
  var perS = 1000 / width, top = max * perS;
  var scale = (bottom - 10) / top;
  g.fillStyle = "#667085";
  g.font = "11px sans-serif";
  g.fillText(Math.round(top) + "/s", 2, 14);
  g.fillText("0", 2, bottom);
  for (b = 0; b < nb; b++) {
    var x = ch.x(view.t0 + b * width), w = Math.max(1, ch.x(view.t0 +
            (b + 1) * width) - x - 0.5), y = bottom;
    for (var ty = 0; ty < 3; ty++) {
      var h = c[ty][b] * perS * scale;
      if (h <= 0) continue;
      g.fillStyle = TYPE_COLOR[ty];
      g.fillRect(x, y - h, w, h);
      y -= h;
    }
  }
  bins = {n: nb, width: width, c: c};
}

function throughputHover(px) {
  if (!bins) return null;
  var t = this.tAt(px), b = Math.floor((t - view.t0) / bins.width);
  if (b < 0 || b >= bins.n) return null;
  var perS = 1000 / bins.width;
  var s = fmtT(view.t0 + b * bins.width) + " \u2013 " +
          fmtT(view.t0 + (b + 1) * bins.width) + ": " +
          Math.round((bins.c[0][b] + bins.c[1][b] + bins.c[2][b]) * perS) +
          " ops/s completed (" + Math.round(bins.c[0][b] * perS) + " ok, " +
          Math.round(bins.c[1][b] * perS) + " fail, " +
          Math.round(bins.c[2][b] * perS) + " info)";
  var f = faultAt(t);
  return f ? s + "\n" + f : s;
}

/* --- wiring ------------------------------------------------------------- */

function legend() {
  var h = "";
  ["ok", "fail", "info", "open (never completed)"].forEach(function (n, k) {
    h += "<span><i class=sw style='background:" + TYPE_COLOR[k] + "'></i>" +
         n + "</span>";
  });
  var kinds = {};
  D.faults.forEach(function (f) { kinds[f.kind] = 1; });
  Object.keys(kinds).forEach(function (k) {
    h += "<span><i class=sw style='background:" + faultColor(k, 0.45) +
         "'></i>" + esc(k) + "</span>";
  });
  h += "<span><i class=sw style='border:2px solid #000'></i>named by the " +
       "verdict</span>";
  if (D.shrunk) {
    h += "<span><i class=sw style='border:2px solid #7c3aed'></i>shrunk " +
         "sub-history</span>";
  }
  h += "<span><i class=sw style='background:rgba(36,86,198,0.55)'></i>" +
       "leader</span><span><i class=sw style='background:rgba(29,35,48," +
       "0.15)'></i>node up</span>";
  var marks = {became_leader: "elected", start: "start", shutdown: "shutdown",
               crash: "crash", io_error: "I/O error",
               snapshot_taken: "snapshot"};
  Object.keys(marks).forEach(function (k) {
    h += "<span><canvas width=12 height=12 data-mark=" + k +
         " style='width:12px;height:12px;display:inline'></canvas>" +
         marks[k] + "</span>";
  });
  // Which fails are the operations' own answers, which the cluster's.
  var F = D.fails, seen = {};
  if (F && F.total) {
    F.reasons.forEach(function (r) {
      (seen[r[2]] = seen[r[2]] || []).push(r[0]);
    });
    h += "<div class=fail-legend>fail, by reason: " +
         ["expected", "availability", "other"].filter(function (k) {
           return seen[k];
         }).map(function (k) {
           return "<span class='fail-" + k + "'><b>" + esc(seen[k].join(", ")) +
                  "</b></span>: " + esc(FAIL_WORDS[k]);
         }).join("; ") + "</div>";
  }
  $("legend").innerHTML = h;
  var cs = $("legend").querySelectorAll("canvas[data-mark]");
  for (var i = 0; i < cs.length; i++) {
    drawMark(cs[i].getContext("2d"), cs[i].getAttribute("data-mark"), 6, 6);
  }
}

function keySelect() {
  var sel = $("key"), h = "<option value=-1>(all keys)</option>";
  var counts = new Array(T.key.length).fill(0);
  for (var i = 0; i < N; i++) counts[OPS.key[i]]++;
  var first = -1;
  D.named.forEach(function (n) {
    if (n.op != null && first < 0) first = OPS.key[n.op];
  });
  T.key.forEach(function (k, c) {
    if (T.key.length > 2000 && c !== first) return;
    h += "<option value=" + c + ">" + esc(k || "(no key)") + " (" +
         counts[c] + " ops)" + (c === first ? " \u2013 the anomaly's" : "") +
         "</option>";
  });
  sel.innerHTML = h;
  sel.addEventListener("change", function () {
    highlightKey = +sel.value;
    redraw();
  });
}

function main() {
  drawHeader();
  drawVerdict();
  drawAnomaly();
  drawShrunk();
  drawNodes();
  drawFaultTable();
  legend();
  keySelect();
  charts.push(new Chart($("timeline"), TL_H, drawTimeline, timelineHover));
  charts.push(new Chart($("latency"), LAT_H, drawLatency, latencyHover));
  charts.push(new Chart($("throughput"), THR_H, drawThroughput,
                        throughputHover));
  $("reset").addEventListener("click", function () { zoomTo(0, END); });
  document.addEventListener("click", function (e) {
    var op = e.target.getAttribute && e.target.getAttribute("data-op");
    if (op == null) return;
    var i = +op, end = OPS.d[i] < 0 ? END : OPS.t[i] + OPS.d[i];
    var pad = Math.max(200, (end - OPS.t[i]) * 4);
    zoomTo(OPS.t[i] - pad, end + pad);
    $("timeline").scrollIntoView();
  });
  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; redraw(); });
  });
  redraw();
  document.body.setAttribute("data-rendered", "yes");
  if (location.hash === "#selftest") selfTest();
}

/* report.html#selftest: what a person would do (zoom, hover everywhere,
 * highlight a key, follow an op link, wheel), so that the tests reach the
 * code behind the mouse too; an exception lands in #js-errors. */
function selfTest() {
  var hovers = 0;
  zoomTo(END * 0.25, END * 0.5);
  charts.forEach(function (c) {
    for (var x = 0; x <= c.w; x += Math.max(1, c.w / 97)) {
      for (var y = 0; y <= c.h; y += 7) {
        if (c.hover.call(c, x, y) != null) hovers++;
      }
    }
  });
  zoomTo(0, END);
  charts.forEach(function (c) {
    for (var x = 0; x <= c.w; x += Math.max(1, c.w / 53)) {
      for (var y = 0; y <= c.h; y += 5) c.hover.call(c, x, y);
    }
  });
  var sel = $("key");
  if (sel.options.length > 1) {
    sel.selectedIndex = sel.options.length - 1;
    sel.dispatchEvent(new Event("change"));
  }
  var link = document.querySelector("a.op");
  if (link) link.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  $("timeline").dispatchEvent(new WheelEvent("wheel", {deltaY: 100,
                                                       clientX: 300}));
  $("reset").dispatchEvent(new MouseEvent("click", {bubbles: true}));
  document.body.setAttribute("data-selftest", hovers > 0 ? "passed" :
                             "no hover found anything");
}

main();
