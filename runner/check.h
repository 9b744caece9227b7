/* check: run the checkers over a stored history and write the verdict. */
#ifndef FAULTLINE_CHECK_H
#define FAULTLINE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct check_options {
    const char *format; /* "jsonl", "edn", "etcd-log", "kv-edn"; NULL or
                         * "auto": detected from the content */
    const char *model;  /* the linearizability model; NULL: from the format
                         * (etcd-log: cas-register, kv-edn: kv), the run's
                         * workload, or the ops' names. Given alone, it
                         * runs the linearizability checker only */
    const char *checkers; /* "set,linearizable": the checkers to run; NULL:
                           * the workload's (runner/check.c) */
    double time_limit_s; /* <= 0: from the scenario, else 60 */
    int memory_mb;       /* <= 0: from the scenario, else 1024 */
    int threads;         /* keys searched at once; <= 0: from the scenario,
                          * else one per core */
    bool whole;          /* do not split the history by key */
    const char *initial; /* the register's first value (an integer);
                          * NULL: unset */
    const char *export_edn; /* write the history as Jepsen EDN here ("-":
                             * stdout) instead of checking it */
};

struct check_result {
    int code;           /* an EXIT_* code from runner/run.h */
    int64_t ops;        /* operations checked */
    char summary[1024]; /* one line for people */
    json_t *verdict;    /* owned: the verdict object, or NULL */
};

/* Check @path, a run directory (its history.jsonl, with the limits of its
 * scenario.json; the verdict is written to verdict.json there) or a history
 * file in any format histories/import.h reads. Errors are described in res->summary. Returns res->code. Free
 * res->verdict with json_decref. */
int check_path(const char *path, const struct check_options *o,
               struct check_result *res);

#endif /* FAULTLINE_CHECK_H */
