#!/usr/bin/python3
"""test_runload: runload.py's pieces on small hand-made inputs (fault
windows, ops the verdicts name, verdict rows, history reading). Run by
report/test_report.sh; standalone: python3 report/test_runload.py."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runload  # noqa: E402

MS = 1_000_000


def nem(t_ms, ty, f, value):
    return {"index": 0, "time": t_ms * MS, "process": "nemesis", "type": ty,
            "f": f, "value": value}


class FaultWindows(unittest.TestCase):
    def test_kill_and_restart_are_ended_by_start_of_the_same_nodes(self):
        ev = [nem(100, "invoke", "kill", ["n1"]),
              nem(101, "info", "kill", ["n1"]),
              nem(200, "invoke", "stop", ["n2"]),
              nem(201, "info", "stop", ["n2"]),
              nem(300, "invoke", "start", ["n2"]),
              nem(305, "info", "start", ["n2"]),
              nem(400, "invoke", "start", ["n1"]),
              nem(402, "info", "start", ["n1"])]
        w = runload.build_faults(ev, 1000.0)
        self.assertEqual([(x["kind"], x["targets"], x["start"], x["end"])
                          for x in w],
                         [("kill", "n1", 100.0, 402.0),
                          ("restart", "n2", 200.0, 305.0)])

    def test_overlapping_faults_of_one_kind_end_in_order(self):
        ev = [nem(100, "info", "partition", {"shape": "halves"}),
              nem(150, "info", "partition", {"shape": "bridge"}),
              nem(200, "info", "heal", {"shape": "bridge"}),
              nem(300, "info", "heal", {"shape": "halves"})]
        w = runload.build_faults(ev, 1000.0)
        self.assertEqual([(x["targets"], x["end"]) for x in w],
                         [("halves", 300.0), ("bridge", 200.0)])

    def test_a_fault_never_ended_lasts_to_the_end(self):
        w = runload.build_faults([nem(100, "info", "pause", ["n3"])], 900.0)
        self.assertEqual((w[0]["kind"], w[0]["end"], w[0]["end_f"]),
                         ("pause", 900.0, None))

    def test_an_unknown_kind_pairs_by_its_suffix(self):
        ev = [nem(100, "info", "fs-delay", {"nodes": ["n1"]}),
              nem(300, "info", "fs-delay-heal", {"nodes": ["n1"]})]
        w = runload.build_faults(ev, 1000.0)
        self.assertEqual([(x["kind"], x["end"]) for x in w],
                         [("fs-delay", 300.0)])

    def test_power_loss_is_one_window_with_its_details(self):
        ev = [nem(100, "invoke", "lose-unsynced-on-kill", ["n2"]),
              nem(101, "info", "lose-unsynced-on-kill", ["n2"]),
              nem(120, "info", "lose-unsynced",
                  {"node": "n2", "result": "dropped 3 writes", "ok": True}),
              nem(300, "invoke", "start", ["n2"]),
              nem(301, "info", "start", ["n2"]),
              nem(400, "info", "disk-full", {"nodes": ["n1"]}),
              nem(500, "info", "disk-full-heal", {"nodes": ["n1"]})]
        w = runload.build_faults(ev, 1000.0)
        self.assertEqual([(x["kind"], x["targets"], x["end"]) for x in w],
                         [("lose-unsynced",
                           "n2; lose-unsynced n2 dropped 3 writes", 301.0),
                          ("disk-full", "n1", 500.0)])

    def test_client_events_are_not_faults(self):
        ev = [{"index": 0, "time": 5, "process": 1, "type": "invoke",
               "f": "read"}]
        self.assertEqual(runload.build_faults(ev, 10.0), [])


class NamedOps(unittest.TestCase):
    def test_flat_linearizable_verdict(self):
        v = {"valid": False, "checker": "linearizable",
             "anomaly": {"key": "k0", "op": {"index": 46, "process": 0,
                                             "f": "read",
                                             "description": "read -> null"}},
             "stats": {"steps": 12}}
        n = runload.named_ops(v)
        self.assertEqual([(x["index"], x["checker"], x["text"]) for x in n],
                         [(46, "linearizable", "read -> null")])

    def test_checkers_with_examples_and_index_lists(self):
        v = {"valid": False, "checkers": {
            "set": {"anomalies": {"lost": {"count": 1, "examples": [
                {"task": "t2", "description": "t2 lost", "create": 3,
                 "read": 4}]}}, "final_read": 4, "tasks": 2},
            "queue": {"anomalies": {"double_claim": {"count": 1,
                                                     "examples": [{
                "task": "q1", "description": "twice",
                "claims": [15, 17], "now_ms": 99999}]}}},
            "other": {"op_indexes": [7, 8]}}}
        got = sorted((x["index"], x["checker"]) for x in
                     runload.named_ops(v))
        self.assertEqual(got, [(3, "set"), (4, "set"), (7, "other"),
                               (8, "other"), (15, "queue"), (17, "queue")])

    def test_a_valid_verdict_names_nothing(self):
        self.assertEqual(runload.named_ops({"valid": True, "ops": 5}), [])
        self.assertEqual(runload.named_ops(None), [])


class VerdictRows(unittest.TestCase):
    def test_one_row_per_checker(self):
        v = {"valid": "unknown", "checkers": {
            "set": {"valid": True, "counts": {"ok": 5, "lost": 0}},
            "queue": {"valid": "unknown", "reason": "no drain"}}}
        rows = runload.verdict_view(v)["checkers"]
        self.assertEqual([(r["name"], r["valid"], r["text"]) for r in rows],
                         [("set", True, "ok 5"),
                          ("queue", "unknown", "no drain")])

    def test_a_flat_verdict_is_one_row(self):
        v = {"valid": True, "checker": "linearizable", "ops": 9, "keys": 2,
             "model": "cas-register"}
        rows = runload.verdict_view(v)["checkers"]
        self.assertEqual(rows[0]["text"], "9 ops, 2 keys, model cas-register")


class ReadHistory(unittest.TestCase):
    def write(self, text):
        fd, path = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_a_cut_last_line_is_dropped_and_marked(self):
        p = self.write('{"format":"faultline-history","version":1}\n'
                       '{"time":1,"process":0,"type":"invoke","f":"read"}\n'
                       '{"time":2,"proc')
        header, events = runload.read_history(p)
        self.assertTrue(header["partial"])
        self.assertEqual(len(events), 1)

    def test_a_bad_line_names_file_and_line(self):
        p = self.write('{"time":1,"process":0,"type":"invoke","f":"read"}\n'
                       '{"time":2,"process":0,"type":"done","f":"read"}\n')
        with self.assertRaisesRegex(runload.LoadError,
                                    r":2: field \"type\""):
            runload.read_history(p)

    def test_ops_pair_and_reads_of_nothing_say_null(self):
        p = self.write(
            '{"time":1000000,"process":0,"type":"invoke","f":"read",'
            '"key":"k"}\n'
            '{"time":3000000,"process":0,"type":"ok","f":"read","key":"k"}\n'
            '{"time":4000000,"process":1,"type":"invoke","f":"write",'
            '"value":2}\n')
        _, events = runload.read_history(p)
        ops, tables, lanes = runload.build_ops(events, 10)
        self.assertEqual(ops["t"], [1.0, 4.0])
        self.assertEqual(ops["d"], [2.0, -1])
        self.assertEqual([runload.TYPES[t] for t in ops["type"]],
                         ["ok", "open"])
        self.assertEqual(tables["v"][ops["v"][0]], "null")
        self.assertEqual(lanes, 10)



class RunMeta(unittest.TestCase):
    def run_dir(self, header, scenario):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: [os.unlink(os.path.join(d, f))
                                 for f in os.listdir(d)] and os.rmdir(d))
        with open(os.path.join(d, "history.jsonl"), "w") as f:
            f.write(json.dumps(header) + "\n")
            f.write('{"time":1,"process":0,"type":"invoke","f":"read"}\n')
        if scenario is not None:
            with open(os.path.join(d, "scenario.json"), "w") as f:
                json.dump(scenario, f)
        return d

    def test_the_header_names_workload_checkers_and_model(self):
        d = self.run_dir({"format": "faultline-history", "version": 1,
                          "workload": "lease", "checkers": ["lease"],
                          "model": None, "system": "taskd"},
                         {"workload": {"name": "register"}})
        m = runload.load_run(d)["meta"]
        self.assertEqual((m["workload"], m["checkers"], m["model"],
                          m["system"]), ("lease", ["lease"], None, "taskd"))

    def test_an_old_header_falls_back_to_the_scenario(self):
        d = self.run_dir({"format": "faultline-history", "version": 1},
                         {"workload": {"name": "queue"}})
        m = runload.load_run(d)["meta"]
        self.assertEqual((m["workload"], m["checkers"]), ("queue", None))


class ReproNotes(unittest.TestCase):
    def test_the_outcome_and_why_when_repro_json_names_them(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "repro.json"), "w") as f:
                json.dump({"original": "runs/x", "faults_replayed": 3,
                           "original_anomalies": ["linearizable invalid"],
                           "anomalies": ["linearizable invalid"],
                           "reproduced": False, "outcome": "same class",
                           "why": "linearizable invalid, but key \"k3\" "
                                  "(was \"k0\"), read -> null (was read)"},
                          f)
            notes = runload._repro_notes(d, [])
        self.assertEqual(len(notes), 1)
        self.assertTrue(notes[0].endswith(
            ": same class (linearizable invalid, but key \"k3\" (was "
            "\"k0\"), read -> null (was read))"), notes[0])

    def test_an_older_repro_json_says_reproduced_or_not(self):
        self.assertEqual(runload._repro_outcome({"reproduced": True}),
                         "reproduced")
        self.assertEqual(runload._repro_outcome({}), "not reproduced")


if __name__ == "__main__":
    unittest.main(verbosity=1)
