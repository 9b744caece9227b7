/* queue: the work-queue checker.
 *
 * Attempts are grouped into logical requests by rid (checker/requests.h);
 * a claim is its ok request's reply {task, worker, now_ms, expires_ms}.
 * Times are of two kinds: real time (the history's `time`, one monotonic
 * clock) and the system's clock (now_ms, expires_ms: taskd's state-machine
 * clock, which judges expiry: a lease has expired when expires_ms <= the
 * now_ms of a later claim). The rules, per task:
 *
 *   ok                 an acked enqueue that was claimed
 *   lost               an acked enqueue never claimed, although the queue
 *                      was drained: a claim answered `empty` that began
 *                      after every enqueue completed and after every claim
 *                      with an unknown outcome could have expired (its
 *                      invoke + its lease_ms; never certain when the
 *                      history has clock faults). Without such a drain,
 *                      lost can't be told: `unknown`
 *   double_claim       two claims of the task whose leases overlap: taking
 *                      its claims in the order of now_ms, the next one's
 *                      now_ms < the previous one's expires_ms, with no ok
 *                      ack or nack of the previous one by its worker
 *                      invoked between the previous claim's invoke and the
 *                      next one's return. Also in real time, where that is
 *                      certain: the next claim returned less than lease_ms
 *                      after the previous one was invoked (only when the
 *                      history has no clock faults, since a clock fault
 *                      moves the system's clock legitimately)
 *   duplicated         claimed again after an ack of it (done) returned
 *   phantom            claimed, but no enqueue of it was ever attempted
 *   claimed_but_failed claimed, though every enqueue request of it failed
 *                      (a lost idempotency table: the retry of an applied
 *                      enqueue is refused with `exists`)
 *   clock_went_back    a claim that began after another returned has a
 *                      smaller now_ms (the system's clock never goes back)
 *   unacked            an enqueue never acked and never claimed (fine)
 *   unchecked          an acked enqueue never claimed, with no drain
 *
 * An expired lease claimed again is fine: that is the expiry rule. */
#include "checker/queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/names.h"
#include "checker/pairing.h"
#include "checker/requests.h"

struct claim {
    size_t task;
    const char *worker;
    int64_t now_ms, expires_ms, lease_ms;
    int64_t call, ret;
    int64_t index; /* the ok reply's event */
};

struct settle {
    size_t task;
    const char *worker;
    bool ack; /* ack (done) or nack (queued again) */
    int64_t call, ret;
};

struct task {
    bool attempted, any_not_failed;
    int64_t acked; /* first ok enqueue return, or REQUESTS_OPEN */
    int64_t acked_index;
    int64_t failed_index;
    int64_t done; /* return of its first ok ack, or REQUESTS_OPEN */
    size_t claims;
};

static int by_task_now(const void *a, const void *b)
{
    const struct claim *x = a, *y = b;
    if (x->task != y->task) {
        return (x->task > y->task) - (x->task < y->task);
    }
    if (x->now_ms != y->now_ms) {
        return (x->now_ms > y->now_ms) - (x->now_ms < y->now_ms);
    }
    return (x->call > y->call) - (x->call < y->call);
}

static int by_call(const void *a, const void *b)
{
    const struct claim *x = a, *y = b;
    return (x->call > y->call) - (x->call < y->call);
}

static int by_task_call(const void *a, const void *b)
{
    const struct settle *x = a, *y = b;
    if (x->task != y->task) {
        return (x->task > y->task) - (x->task < y->task);
    }
    return (x->call > y->call) - (x->call < y->call);
}

/* An ok ack or nack of claim @c by its worker invoked in [c.call, until);
 * @s sorted by_task_call. */
static bool settled_between(const struct settle *s, size_t n,
                            const struct claim *c, int64_t until)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the first settle of c's task with call >= c.call */
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].task < c->task ||
            (s[mid].task == c->task && s[mid].call < c->call)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < n && s[lo].task == c->task && s[lo].call < until; lo++) {
        if (strcmp(s[lo].worker, c->worker) == 0) {
            return true;
        }
    }
    return false;
}

static int by_ret(const void *a, const void *b, void *arg)
{
    const struct claim *c = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (c[x].ret > c[y].ret) - (c[x].ret < c[y].ret);
}

int checker_queue(const struct history *h, struct report *out)
{
    struct requests r;
    struct names names;
    struct task *tasks = NULL;
    struct claim *claims = NULL;
    struct settle *settles = NULL;
    size_t nclaims = 0, nsettles = 0;
    int64_t last_enqueue = INT64_MIN, unknown_claim_end = INT64_MIN;
    int64_t drain = REQUESTS_OPEN; /* call of the drain's empty claim */
    bool clock_faults = false;
    char err[256], w[32];
    int rv;

    names_init(&names);
    memset(&r, 0, sizeof r);
    rv = report_init(out, "queue");
    if (rv != 0) {
        return rv;
    }
    int c_ok = report_class(out, "ok", false);
    int c_lost = report_class(out, "lost", true);
    int c_double = report_class(out, "double_claim", true);
    int c_dup = report_class(out, "duplicated", true);
    int c_phantom = report_class(out, "phantom", true);
    int c_failed = report_class(out, "claimed_but_failed", true);
    int c_back = report_class(out, "clock_went_back", true);
    int c_unacked = report_class(out, "unacked", false);
    int c_unchecked = report_class(out, "unchecked", false);

    err[0] = '\0';
    rv = requests_build(h, &r, err, sizeof err);
    if (rv != 0) {
        goto fail;
    }
    clock_faults = requests_clock_faults(h);

    /* Task names, from enqueues, acks, nacks and ok claims. */
    for (size_t i = 0; i < r.nops && rv == 0; i++) {
        const struct request_op *o = &r.ops[i];
        pairing_where(o->invoke, w, sizeof w);
        if (requests_is(o, "enqueue") || requests_is(o, "ack") ||
            requests_is(o, "nack")) {
            if (o->invoke->key == NULL) {
                snprintf(err, sizeof err, "%s: %s without a key (task id)", w,
                         o->invoke->f);
                rv = -EINVAL;
                goto fail;
            }
            rv = names_add(&names, o->invoke->key);
        } else if (requests_is(o, "claim") && o->type == HISTORY_OK) {
            json_t *t = json_object_get(o->done->value, "task");
            if (!json_is_string(t)) {
                pairing_where(o->done, w, sizeof w);
                snprintf(err, sizeof err,
                         "%s: ok claim value: expected {\"task\": string, "
                         "\"worker\", \"now_ms\", \"expires_ms\"}",
                         w);
                rv = -EINVAL;
                goto fail;
            }
            rv = names_add(&names, json_string_value(t));
        }
    }
    if (rv != 0) {
        goto fail;
    }
    names_seal(&names);
    tasks = calloc(names.n + 1, sizeof *tasks);
    claims = calloc(r.nreqs + 1, sizeof *claims);
    settles = calloc(r.nreqs + 1, sizeof *settles);
    if (tasks == NULL || claims == NULL || settles == NULL) {
        rv = -ENOMEM;
        goto fail;
    }
    for (size_t t = 0; t < names.n; t++) {
        tasks[t].acked = tasks[t].done = REQUESTS_OPEN;
    }

    for (size_t i = 0; i < r.nops; i++) {
        const struct request_op *o = &r.ops[i];
        if (requests_is(o, "enqueue")) {
            int64_t done = o->done ? o->done->time : o->call;
            last_enqueue = done > last_enqueue ? done : last_enqueue;
        } else if (requests_is(o, "claim") && o->type == HISTORY_INFO) {
            int64_t lease = 0;
            requests_value_int(o->invoke->value, "lease_ms", &lease);
            if (o->call + lease * 1000000 > unknown_claim_end) {
                unknown_claim_end = o->call + lease * 1000000;
            }
        }
    }
    /* Under clock faults the system's clock may stand still while real
     * time runs (a leader whose clock is behind the state machine's), so a
     * lease may outlast lease_ms of real time by any amount: with claims
     * of unknown outcome, no drain is certain. */
    if (clock_faults && unknown_claim_end != INT64_MIN) {
        unknown_claim_end = INT64_MAX;
    }
    for (size_t i = 0; i < r.nops; i++) {
        const struct request_op *o = &r.ops[i];
        if (requests_is(o, "claim") && o->type == HISTORY_FAIL &&
            o->done->error && strcmp(o->done->error, "empty") == 0 &&
            o->call > last_enqueue && o->call > unknown_claim_end &&
            drain == REQUESTS_OPEN) {
            drain = o->call;
        }
    }

    for (size_t q = 0; q < r.nreqs; q++) {
        const struct request *rq = &r.reqs[q];
        const struct request_op *o = &r.ops[rq->first];
        if (requests_is(o, "enqueue")) {
            struct task *t = &tasks[names_find(&names, o->invoke->key)];
            t->attempted = true;
            if (rq->outcome != REQUEST_FAILED) {
                t->any_not_failed = true;
            } else {
                size_t f = rq->refused != SIZE_MAX ? rq->refused : rq->first;
                t->failed_index = r.ops[f].done ? r.ops[f].done->index
                                                : r.ops[f].invoke->index;
            }
            if (rq->outcome == REQUEST_OK && rq->ret < t->acked) {
                t->acked = rq->ret;
                t->acked_index = r.ops[rq->ok].done->index;
            }
        } else if (requests_is(o, "claim") && rq->outcome == REQUEST_OK) {
            const struct history_event *done = r.ops[rq->ok].done;
            struct claim *c = &claims[nclaims];
            const char *worker =
                json_string_value(json_object_get(done->value, "worker"));
            if (worker == NULL) {
                worker = json_string_value(
                    json_object_get(o->invoke->value, "worker"));
            }
            if (worker == NULL ||
                !requests_value_int(done->value, "now_ms", &c->now_ms) ||
                !requests_value_int(done->value, "expires_ms",
                                    &c->expires_ms)) {
                pairing_where(done, w, sizeof w);
                snprintf(err, sizeof err,
                         "%s: ok claim value: expected \"worker\" (string), "
                         "\"now_ms\" and \"expires_ms\" (integers)",
                         w);
                rv = -EINVAL;
                goto fail;
            }
            c->task = (size_t)names_find(
                &names,
                json_string_value(json_object_get(done->value, "task")));
            c->worker = worker;
            c->lease_ms = c->expires_ms - c->now_ms;
            requests_value_int(o->invoke->value, "lease_ms", &c->lease_ms);
            c->call = rq->call;
            c->ret = rq->ret;
            c->index = done->index;
            tasks[c->task].claims++;
            nclaims++;
        } else if ((requests_is(o, "ack") || requests_is(o, "nack")) &&
                   rq->outcome == REQUEST_OK) {
            struct settle *s = &settles[nsettles++];
            s->task = (size_t)names_find(&names, o->invoke->key);
            s->worker =
                json_string_value(json_object_get(o->invoke->value, "worker"));
            s->ack = requests_is(o, "ack");
            s->call = rq->call;
            s->ret = rq->ret;
            if (s->worker == NULL) {
                s->worker = "";
            }
        }
    }

    /* The system's clock never goes back across claims ordered in real
     * time: sweep the claims by invoke, keeping the largest now_ms among
     * those that returned before. */
    qsort(claims, nclaims, sizeof *claims, by_call);
    {
        size_t *order = malloc((nclaims + 1) * sizeof *order), k = 0;
        size_t best = SIZE_MAX;
        if (order == NULL) {
            rv = -ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < nclaims; i++) {
            order[i] = i;
        }
        qsort_r(order, nclaims, sizeof *order, by_ret, claims);
        for (size_t i = 0; i < nclaims; i++) {
            const struct claim *c = &claims[i];
            for (; k < nclaims && claims[order[k]].ret < c->call; k++) {
                if (best == SIZE_MAX ||
                    claims[order[k]].now_ms > claims[best].now_ms) {
                    best = order[k];
                }
            }
            if (best != SIZE_MAX && claims[best].now_ms > c->now_ms) {
                json_t *ex = report_example(
                    "task", names.v[c->task],
                    "claim at index %" PRId64 " judged at now_ms %" PRId64
                    ", after the claim at index %" PRId64
                    " returned now_ms %" PRId64,
                    c->index, c->now_ms, claims[best].index,
                    claims[best].now_ms);
                report_add(out, c_back, ex);
            }
        }
        free(order);
    }

    /* The first ack of each task that returned. */
    for (size_t k = 0; k < nsettles; k++) {
        struct task *t = &tasks[settles[k].task];
        if (settles[k].ack && settles[k].ret < t->done) {
            t->done = settles[k].ret;
        }
    }
    qsort(settles, nsettles, sizeof *settles, by_task_call);

    /* Overlapping claims and claims after done, per task. */
    qsort(claims, nclaims, sizeof *claims, by_task_now);
    for (size_t i = 0; i < nclaims; i++) {
        const struct claim *c = &claims[i];
        const char *id = names.v[c->task];
        if (tasks[c->task].done < c->call) {
            json_t *ex = report_example("task", id,
                                        "%s claimed (index %" PRId64
                                        ") after an ack of it returned",
                                        id, c->index);
            json_object_set_new(ex, "claim", json_integer(c->index));
            report_add(out, c_dup, ex);
        }
        if (i == 0 || claims[i - 1].task != c->task) {
            continue;
        }
        const struct claim *p = &claims[i - 1];
        if (settled_between(settles, nsettles, p, c->ret)) {
            continue;
        }
        if (c->now_ms < p->expires_ms) {
            json_t *ex = report_example(
                "task", id,
                "%s claimed by %s at now_ms %" PRId64 " (index %" PRId64
                ") while %s held it until %" PRId64 " (index %" PRId64 ")",
                id, c->worker, c->now_ms, c->index, p->worker, p->expires_ms,
                p->index);
            json_object_set_new(
                ex, "claims",
                json_pack("[I,I]", (json_int_t)p->index, (json_int_t)c->index));
            report_add(out, c_double, ex);
        } else if (!clock_faults && c->ret < p->call + p->lease_ms * 1000000) {
            json_t *ex = report_example(
                "task", id,
                "%s claimed by %s (index %" PRId64 ") %.3f s after %s claimed "
                "it (index %" PRId64 ") for %" PRId64 " ms, in real time",
                id, c->worker, c->index, (double)(c->ret - p->call) / 1e9,
                p->worker, p->index, p->lease_ms);
            json_object_set_new(
                ex, "claims",
                json_pack("[I,I]", (json_int_t)p->index, (json_int_t)c->index));
            report_add(out, c_double, ex);
        }
    }

    for (size_t t = 0; t < names.n; t++) {
        const struct task *tk = &tasks[t];
        const char *id = names.v[t];
        json_t *ex;
        if (tk->claims > 0 && !tk->attempted) {
            report_add(out, c_phantom,
                       report_example("task", id,
                                      "%s claimed but never enqueued", id));
        } else if (tk->claims > 0 && !tk->any_not_failed) {
            ex = report_example(
                "task", id,
                "%s claimed though its enqueue failed (index %" PRId64 ")", id,
                tk->failed_index);
            json_object_set_new(ex, "enqueue", json_integer(tk->failed_index));
            report_add(out, c_failed, ex);
        } else if (tk->claims > 0) {
            report_add(out, c_ok, NULL);
        } else if (tk->acked == REQUESTS_OPEN) {
            report_add(out, c_unacked, NULL);
        } else if (drain != REQUESTS_OPEN) {
            ex = report_example("task", id,
                                "%s acked (index %" PRId64
                                ") but never claimed, "
                                "though the queue was drained",
                                id, tk->acked_index);
            json_object_set_new(ex, "enqueue", json_integer(tk->acked_index));
            report_add(out, c_lost, ex);
        } else {
            report_add(out, c_unchecked, NULL);
        }
    }
    if (drain == REQUESTS_OPEN) {
        report_unknown(out, "no drain: no claim answered empty after every "
                            "enqueue completed and every lease of a claim "
                            "with an unknown outcome ran out, so lost tasks "
                            "can't be told");
    }
    json_object_set_new(out->info, "tasks", json_integer((json_int_t)names.n));
    json_object_set_new(out->info, "claims", json_integer((json_int_t)nclaims));
    json_object_set_new(out->info, "clock_faults", json_boolean(clock_faults));
    out->ops = r.nops;
    report_finish(out);
    rv = 0;
    goto out;

fail:
    report_fail(out, rv, err);
out:
    free(tasks);
    free(claims);
    free(settles);
    names_free(&names);
    requests_free(&r);
    return rv;
}
