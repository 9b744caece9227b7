/* repro: run a stored run again, with its scenario, seed, bug and recorded
 * fault schedule, and say whether the same anomaly came back. */
#ifndef FAULTLINE_REPRO_H
#define FAULTLINE_REPRO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define REPRO_MAX_ANOMALIES 32

/* Exit code of `faultline repro` when the anomaly's class came back (the
 * same checker and kind) but never the anomaly itself: above the codes
 * every command shares (runner/run.h). */
#define REPRO_EXIT_SAME_CLASS 6

/* One anomaly of a verdict, as repro compares them. */
struct repro_anomaly {
    char checker[32]; /* "linearizable", "set"... */
    char kind[48];    /* the anomaly's kind ("lost"), else "invalid" */
    char key[96];     /* the key, task or scope it is about; "" if none */
    char op[48];      /* its operation's type ("read", "cas", and "read ->
                       * null" for a read of nothing); "" if it names none */
    char text[192];   /* for people: "key \"k0\": read -> 4 (index 940)" */
};

/* The anomalies of a verdict object (borrowed, a verdict.json): for each
 * checker that found the history invalid (its "checkers" object when
 * there is one, else the top level), the linearizability checker's
 * "anomaly", or each example of each kind in the other checkers'
 * "anomalies" (a kind without examples: one anomaly naming no key).
 * Writes at most @max into @out; returns how many (0: not invalid). */
int repro_anomalies(const json_t *verdict, struct repro_anomaly *out, int max);

/* What a new run's verdict is, against the original's. */
enum repro_outcome {
    REPRO_SAME_ANOMALY,  /* the same checker and kind, and the same key or
                          * the same operation type (when both name none:
                          * the same checker and kind) */
    REPRO_SAME_CLASS,    /* invalid with the same checker and kind, but
                          * another key and another operation type */
    REPRO_OTHER_ANOMALY, /* invalid, but no checker and kind in common */
    REPRO_VALID,
    REPRO_UNKNOWN,
    REPRO_N_OUTCOMES,
};

/* "same anomaly", "same class", "other anomaly", "valid", "unknown". */
const char *repro_outcome_name(enum repro_outcome o);

/* Classify the verdict @again (borrowed) against @original (borrowed): the
 * best match over every pair of their anomalies. A valid or unknown
 * @again is REPRO_VALID or REPRO_UNKNOWN whatever @original was. Writes
 * a phrase for people into @why (what matched, or what differed:
 * "key \"k3\" (was \"k0\"), read -> null (was read)"). */
enum repro_outcome repro_classify(const json_t *original, const json_t *again,
                                  char *why, size_t size);

/* The rate over attempts, from how many had each outcome: "same anomaly
 * 2 of 5, same class 1 of 5, valid 2 of 5" (an invalid original: those
 * three always, the others when they happened; a valid original: "valid
 * N of M", and "invalid K of M" when it happened). */
void repro_rate(bool original_invalid, const int counts[REPRO_N_OUTCOMES],
                char *buf, size_t size);

/* repro's exit code from how many attempts had each outcome (repro_run). */
int repro_exit_code(bool original_invalid, const int counts[REPRO_N_OUTCOMES]);

struct repro_options {
    const char *run_dir;  /* the run to reproduce (borrowed) */
    const char *bin_dir;  /* where taskd is */
    const char *runs_dir; /* where the new run directories go */
    int attempts;         /* new runs to make (1 when 0) */
};

/* Run @o->run_dir's resolved scenario (its scenario.json: seed and bug
 * included) again against a fresh cluster, @o->attempts times, injecting
 * the faults its history.jsonl records at the same times (from the start
 * of the fault phase, read from its runner.log) on the same nodes. Each
 * new run goes to a new run directory, which gets a repro.json (the
 * original, both runs' anomalies, the outcome). Prints each outcome, and
 * the rate over the attempts when there are several.
 *
 * For an invalid original, returns EXIT_VALID (0) when the same anomaly
 * came back at least once, REPRO_EXIT_SAME_CLASS (6) when only its class
 * did, EXIT_INVALID (1) when neither (valid, unknown, another anomaly);
 * for a valid or unknown original, 0 when every new run was valid, 1 when
 * one was not. EXIT_BAD_INPUT for a missing or unreadable run
 * directory, scenario or history; EXIT_HARNESS or EXIT_INTERRUPTED when a
 * new run could not finish (the attempts stop there). */
int repro_run(const struct repro_options *o);

#endif /* FAULTLINE_REPRO_H */
