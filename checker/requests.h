/* requests: a history's client operations, paired, and grouped by rid. */
#ifndef FAULTLINE_REQUESTS_H
#define FAULTLINE_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checker/linearizable.h"
#include "histories/history.h"

/* The return time of an op or request with no ok completion. */
#define REQUESTS_OPEN INT64_MAX

/* One attempt: an invoke and its completion (events borrowed from the
 * history, which must outlive this). */
struct request_op {
    const struct history_event *invoke;
    const struct history_event *done; /* NULL when the history ended first */
    enum history_type type; /* ok, fail or info (info also when open) */
    int64_t call;           /* invoke time */
    int64_t ret;            /* completion time; REQUESTS_OPEN if not ok */
    size_t req;             /* the logical request it belongs to */
};

enum request_outcome {
    REQUEST_OK,      /* an attempt ended ok: it happened */
    REQUEST_UNKNOWN, /* no ok, no refusal, an attempt ended info or open */
    REQUEST_FAILED,  /* every attempt failed, or the system refused one */
};

/* One logical request: the attempts sharing a rid (FORMAT.md, "Request ids
 * and retries"), or one op without a rid. With deduplication a retry gets
 * the first outcome, so a refusal by the state machine (error exists,
 * not_found, cas_mismatch, not_holder, held, empty) on any attempt is the
 * outcome of the request: it did not happen. */
struct request {
    size_t first;    /* index in ops of its first attempt (by call) */
    size_t attempts; /* how many */
    enum request_outcome outcome;
    size_t ok;        /* index in ops of the first ok attempt (by return), or
                       * SIZE_MAX */
    size_t refused;   /* index in ops of a refused attempt, or SIZE_MAX */
    int64_t call;     /* the first attempt's invoke time */
    int64_t ret;      /* the first ok return, or REQUESTS_OPEN */
    size_t fresh_oks; /* ok attempts not marked "duplicate":true: more than
                       * one means the request was applied twice */
};

struct requests {
    struct request_op *ops; /* owned; in invoke order */
    size_t nops;
    struct request *reqs; /* owned; in order of their first attempt */
    size_t nreqs;
};

/* Pair the client events of @h (borrowed; kept referenced) per process and
 * group the ops into requests. Returns 0; -EINVAL when the history can't be
 * paired (an invoke while one is open, a completion without invoke or of
 * another op, an invoke after info), with a message naming the line in
 * @err; or -ENOMEM. On failure @r is empty. Free with requests_free(). */
int requests_build(const struct history *h, struct requests *r, char *err,
                   size_t errlen);

void requests_free(struct requests *r);

/* The rid of an invoke, or NULL (borrowed from the event's value). */
const char *requests_rid(const struct history_event *invoke);

/* True when @error is a refusal by the state machine (see above). */
bool requests_is_refusal(const char *error);

/* A copy of @h with each logical request as one op (in @out, initialized
 * here; free with history_close): invoked at its first attempt's invoke
 * (event copied, index kept), completed ok at its first ok (the ok event's
 * value), info when unknown, fail when failed. A request keeps the process
 * of its first attempt when that process has nothing open then, else it
 * gets a new number, so attempts that overlapped in time pair cleanly. Ops
 * whose f is in @skip (NULL-terminated; NULL: none) are left out. Returns 0 or
 * -ENOMEM. */
int requests_history(const struct history *h, const struct requests *r,
                     const char *const *skip, struct history *out);

/* checker_linearizable() over the logical requests of @h (one op per
 * request, requests_history() leaving out @skip), for models whose
 * requests carry rids (task-record). Same contract as
 * checker_linearizable(); out->reason names the line on -EINVAL. */
int requests_linearizable(const struct history *h, const struct model *m,
                          const struct checker_limits *lim,
                          const char *const *skip, struct verdict *out);

/* The linearizability check a model's histories get: by logical request
 * (requests_linearizable(), list ops left out) for the models whose ops
 * carry rids (task-record, lease), else checker_linearizable(). check,
 * shrink and repro all judge through this, so they agree. */
bool requests_model_by_request(const struct model *m);
int requests_check(const struct history *h, const struct model *m,
                   const struct checker_limits *lim, struct verdict *out);

/* True when @o is an op of @f ("create", "claim", ...). */
bool requests_is(const struct request_op *o, const char *f);

/* The integer member @name of @obj (borrowed; any JSON) into *@v; false,
 * *@v unchanged, when there is none. */
bool requests_value_int(json_t *obj, const char *name, int64_t *v);

/* True when the nemesis moved a clock in @h (its "clock..." faults): the
 * system's clock may then stand still while real time runs. */
bool requests_clock_faults(const struct history *h);

#endif /* FAULTLINE_REQUESTS_H */
