/* shrink_run: `faultline shrink`: cut a stored run's invalid history down
 * to a small one that is still invalid, and write it beside the original. */
#ifndef FAULTLINE_SHRINK_RUN_H
#define FAULTLINE_SHRINK_RUN_H

struct shrink_run_options {
    const char *model;   /* NULL: from the run's scenario or the op names */
    const char *checker; /* "linearizable" or "set"; NULL: set first for
                          * task histories, then linearizable */
    double time_s;     /* <= 0: 60 s for the whole shrink */
};

/* Shrink @path: a run directory (its history.jsonl; writes shrunk.jsonl and
 * shrunk.verdict.json there) or a history file (writes PATH.shrunk.jsonl
 * and PATH.shrunk.verdict.json beside it). Prints the kept operations.
 * A set anomaly (task histories) is shrunk on a projection of the history
 * onto the anomaly's task (its ops, and list results cut to its entry),
 * keeping the anomaly class; a linearizability anomaly on its key.
 * Returns EXIT_INVALID (1) when it wrote a shrunk invalid history;
 * EXIT_VALID (0) or EXIT_UNKNOWN (2) when the history is valid or
 * undecided (nothing to shrink; nothing written); EXIT_BAD_INPUT for a
 * missing or malformed input; EXIT_HARNESS when writing failed. */
int shrink_run(const char *path, const struct shrink_run_options *o);

#endif /* FAULTLINE_SHRINK_RUN_H */
