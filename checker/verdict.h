/* verdict: what a checker concluded about a history, and the evidence. */
#ifndef FAULTLINE_VERDICT_H
#define FAULTLINE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "histories/history.h"

enum verdict_result {
    VERDICT_VALID = 0,
    VERDICT_INVALID,
    VERDICT_UNKNOWN, /* the checker gave up or could not read the history */
};

/* An operation of the history, enough to find it and to read it. */
struct verdict_op {
    int64_t index;      /* history index of its invoke */
    int64_t done_index; /* history index of its completion, or -1 */
    int process;
    char f[32];
    enum history_type type; /* how it completed: ok, or info when unknown */
    json_t *value;          /* owned reference: the result for a read (the
                             * completion's value), else the invoke's */
    int64_t call;           /* invoke time, ns */
    int64_t ret;            /* completion time, ns, or -1 when open */
    char desc[96];          /* the model's words: "read -> 3" */
};

struct verdict {
    enum verdict_result result;
    const char *checker; /* static string: "linearizable" */
    const char *model;   /* static string: the model's name */
    size_t ops;          /* client operations (invokes) in the history */
    size_t keys;         /* distinct keys among them */
    bool partial;        /* the history file ended in a truncated line */

    /* Invalid: the key (owned; NULL for ops without a key), the operation
     * that could not be linearized, and the deepest dead end the search
     * met: how many of the key's ops with a result it had linearized
     * (prefix) out of how many (key_ops), and the model state there.
     * Unknown: the key where the checker stopped, and its op count. */
    char *key;
    bool has_key; /* key is meaningful (it may still be NULL: no key) */
    bool whole;   /* the search took the whole history as one part (not
                   * split by key): the verdict names no key */
    struct verdict_op op;
    size_t prefix;
    size_t key_ops;
    char state[96];
    /* Invalid, found before the search: why the op can't be placed ("a
     * value never written"); then prefix and state mean nothing. Empty
     * when the search found it. */
    char why[192];
    /* The history was asked to be searched whole (not split), and was
     * searched key by key since the model is a product of keys: the
     * verdict is the same (locality), and says so. */
    bool per_key;

    /* Unknown: why ("time limit of 10 s reached", a history error...). */
    char reason[256];

    /* Effort: search steps and cached states, summed over keys. */
    uint64_t steps;
    uint64_t states;
    double seconds;
};

/* Make @v an empty valid verdict. */
void verdict_init(struct verdict *v);

/* Free what @v holds. */
void verdict_close(struct verdict *v);

/* "valid", "invalid" or "unknown". */
const char *verdict_result_name(enum verdict_result r);

/* The verdict as a new JSON object:
 *   {"valid": true|false|"unknown", "checker": "linearizable",
 *    "model": "cas-register", "ops": N, "keys": K, "partial": bool,
 *    "anomaly": {...} (invalid), "reason": "..." (unknown),
 *    "stats": {"steps": N, "states": N}}
 * Returns NULL when out of memory. */
json_t *verdict_to_json(const struct verdict *v);

/* One line for people, without newline, e.g.
 *   "invalid: key \"k1\": read -> 3 (process 4, index 57) cannot be
 *    linearized; longest linearizable prefix 12 of 40 ops; state 2"
 * Truncated to fit @size. A partial history is not said here: whoever
 * read it says so once, before the line ("partial history (the last line
 * was cut off): ", runner/check.c). */
void verdict_summary(const struct verdict *v, char *buf, size_t size);

#endif /* FAULTLINE_VERDICT_H */
