/* model: a sequential specification the linearizability checker runs ops on. */
#ifndef FAULTLINE_MODEL_H
#define FAULTLINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histories/history.h"

/* The largest model state, in bytes. */
#define MODEL_STATE_MAX 64

/* What model_op_from_events() may return besides an error. */
enum {
    MODEL_KEEP = 0, /* the op takes part in the search */
    MODEL_DROP = 1, /* the op constrains nothing (a read with no result) */
};

/* One operation, translated from its events into the model's terms. */
struct model_op {
    int f;         /* the model's operation code */
    int64_t in[2]; /* arguments (write N: in[0]; cas A B: in[0], in[1]) */
    int64_t out;   /* result, when !out_nil and !open */
    bool out_nil;  /* the result is nil (a read of an unset register) */
    bool open;     /* no result: it may or may not have taken effect */
};

/* A model is this table; a new model is one file defining one. States are
 * plain bytes of size state_size, so the checker can copy and cache them:
 * a model must keep every byte of a state meaningful (no padding holes). */
struct model {
    const char *name;  /* "cas-register" */
    size_t state_size; /* at most MODEL_STATE_MAX */

    /* Fill @op from an invoke and its completion. @done is the ok event, or
     * NULL when the outcome is unknown (info, or the history ended first);
     * fail completions never get here (those ops did not happen). Returns
     * MODEL_KEEP, MODEL_DROP, or -EINVAL with a message (naming the field,
     * not the line) written to @err. Both events are borrowed. */
    int (*op_from_events)(const struct history_event *invoke,
                          const struct history_event *done, struct model_op *op,
                          char *err, size_t errlen);

    /* Write the initial state into @state. */
    void (*init)(void *state);

    /* Apply @op to @state: return false if the op can't happen in that
     * state (its result disagrees), else true with the new state written to
     * @next (which never aliases @state). For an open op, true means "it
     * took effect here". */
    bool (*step)(const void *state, const struct model_op *op, void *next);

    bool (*equal)(const void *a, const void *b);
    uint64_t (*hash)(const void *state);

    /* Short text for people: "read -> 3", "cas 1 -> 2"; "3", "null". */
    void (*describe_op)(const struct model_op *op, char *buf, size_t size);
    void (*describe_state)(const void *state, char *buf, size_t size);

    /* Optional pruning (both or neither; NULL: none). resets(op): can @op
     * leave the state anything at all (a write, a put)? reachable(state,
     * op): can @op (one with a result) still apply after some sequence of
     * ops none of which resets, starting from @state? Must never say no
     * wrongly; "yes" is always safe. The search uses them when no reset
     * can come before the next op that must be linearized: a read whose
     * value can't be reached from the current state ends that branch at
     * once instead of after every order of the ops before it. */
    bool (*resets)(const struct model_op *op);
    bool (*reachable)(const void *state, const struct model_op *op);

    /* Optional (NULL: never): does @op, when it applies, leave a state
     * that does not depend on the state before (a register write)? The
     * search then never takes an open such op right after another open
     * op at the same point: taking it alone gives the same state with
     * fewer open ops used, which covers that branch. */
    bool (*overwrites)(const struct model_op *op);

    /* Optional (both or neither; NULL: none): tokens for the check the
     * search makes first, in linear time, for an op whose result no op
     * could have produced (checker/linearizable.c, "Unwritten results").
     * A token is a 64-bit name of something a state may carry ("the
     * register holds 7", "task t1 is {done, 3}"). writes(op, add, arg)
     * calls add(arg, token) for each token a state @op leaves may carry
     * that the state before it did not have to (a write N: "holds N"; an
     * op of unknown outcome counts, it may take effect). needs(op, add,
     * arg), for an op with a result: add the tokens any one of which some
     * other op must have written, and taken effect before @op, for @op to
     * apply; return what that is in words ("a value", "an expected
     * value"), or NULL when @op needs nothing (the initial state may do:
     * a read of nil). Over-approximate writes, under-approximate needs:
     * the check is then sound for invalid only, and a token collision
     * only makes it miss. Called on the thread that translated the ops,
     * before the searches. */
    void (*writes)(const struct model_op *op, void (*add)(void *, uint64_t),
                   void *arg);
    const char *(*needs)(const struct model_op *op,
                         void (*add)(void *, uint64_t), void *arg);

    /* Optional (false: no): the model is a product of independent keys
     * (P-compositional, Horn & Kroening 2015): its state is a map from
     * each op's key to that key's state, an op reads and changes only its
     * key's part, and its result depends only on it. A history is then
     * linearizable iff each key's sub-history is (Herlihy & Wing's
     * locality), so a check asked not to split by key may still search
     * key by key and say so. */
    bool per_key;

    /* Optional (NULL: none): free what the model keeps between ops in
     * static storage. The checker calls it before it translates a
     * history's ops and after the search; two checks with such a model
     * must not run at once, and its keys are searched on one thread. */
    void (*reset)(void);

    /* Optional (NULL: none), for a model that keeps tables between ops
     * per check instead (kv interns its strings), so that checks and keys
     * may run on several threads. check_begin() makes a check's context
     * (NULL: out of memory) and makes it current on the calling thread,
     * which then translates the ops; check_end() frees it. Around each
     * key's search, on the thread that runs it, search_begin(ctx) (0 or
     * -ENOMEM) and search_end(ctx): during searches the context is shared
     * read-only, and what a search adds (new states) is its thread's own,
     * freed by search_end. search_bytes() (optional) says how much memory
     * the current search's additions hold, for the memory limit. */
    void *(*check_begin)(void);
    void (*check_end)(void *ctx);
    int (*search_begin)(void *ctx);
    void (*search_end)(void *ctx);
    size_t (*search_bytes)(void);
};

/* The compare-and-set register (model_register.c): starts unset; read
 * returns the value or nil; write N; cas [A, B] succeeds iff the value is A. */
extern const struct model model_register;

/* How model_register reads a history; the zero value is the default
 * above. Jepsen's EDN histories are read as Knossos' cas-register does:
 * an ok read of nil means "value not known" (legal in any state), and a
 * test usually starts the register at a known value. */
struct model_register_config {
    bool has_initial; /* the register starts at @initial, not unset */
    int64_t initial;
    bool nil_read_unknown; /* an ok read of null constrains nothing */
};

/* Set the configuration (copied; NULL: the default) for the checks that
 * follow; not while one runs. */
void model_register_configure(const struct model_register_config *c);

/* Key-value strings (model_kv.c): every key starts as ""; get returns
 * the string; put sets it; append concatenates. Values are strings. */
extern const struct model model_kv;

/* Task records (model_task.c): per task id, create, get, update with an
 * expected status or version, delete (FORMAT.md, "Task operations"). */
extern const struct model model_task;

/* Leader leases (model_lease.c): per scope, acquire, release and holder
 * reads, with fencing tokens and the system's clock (FORMAT.md, "Lease
 * operations"). */
extern const struct model model_lease;

/* A token for writes() and needs(): a hash of @tag and two words. */
uint64_t model_token(uint64_t tag, uint64_t a, uint64_t b);

/* The model called @name ("cas-register" or its alias "register"; "kv";
 * "task-record" or its alias "task"; "lease"), or NULL when there is none. */
const struct model *model_find(const char *name);

#endif /* FAULTLINE_MODEL_H */
