/* repro: run a stored run again, with its scenario, seed, bug and recorded
 * fault schedule, and say whether the same anomaly came back. */
#ifndef FAULTLINE_REPRO_H
#define FAULTLINE_REPRO_H

#include <stddef.h>

#include <jansson.h>

#define REPRO_MAX_CLASSES 16

/* The anomaly classes of a verdict object (borrowed), as "checker kind"
 * strings ("linearizable invalid", "set lost"): one per checker that found
 * the history invalid, from its "checkers" object when there is one, else
 * from the top-level verdict. The kind is the anomaly's "kind" field when it
 * has one, else "invalid". Writes at most @max into @out; returns how many
 * (0: no anomaly). */
int repro_anomaly_classes(const json_t *verdict, char out[][64], int max);

struct repro_options {
    const char *run_dir;  /* the run to reproduce (borrowed) */
    const char *bin_dir;  /* where taskd is */
    const char *runs_dir; /* where the new run directory goes */
};

/* Run @o->run_dir's resolved scenario (its scenario.json: seed and bug
 * included) again against a fresh cluster, injecting the faults its
 * history.jsonl records at the same times (from the start of the fault
 * phase, read from its runner.log) on the same nodes. The new run goes to a
 * new run directory, which gets a repro.json (original, anomaly classes of
 * both, reproduced or not). Prints the outcome.
 *
 * Returns EXIT_VALID (0) when the new run shows one of the original's
 * anomaly classes (or, for a valid original, when it is valid too),
 * EXIT_INVALID (1) when not; EXIT_BAD_INPUT for a missing or unreadable
 * run directory, scenario or history; EXIT_HARNESS or EXIT_INTERRUPTED
 * when the new run could not finish. */
int repro_run(const struct repro_options *o);

#endif /* FAULTLINE_REPRO_H */
