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

/* One check, phase to phase: read the task names, find the drain,
 * collect the enqueues, claims and settles, judge the clock, the claims
 * and each task, report. */
struct queue_check {
    struct report *out;
    struct requests r;
    struct names names;
    struct task *tasks;
    struct claim *claims;
    struct settle *settles;
    size_t nclaims, nsettles;
    int64_t drain; /* call of the drain's empty claim, or REQUESTS_OPEN */
    bool clock_faults;
    int c_ok, c_lost, c_double, c_dup, c_phantom, c_failed, c_back;
    int c_unacked, c_unchecked;
    char err[256];
};

static void declare_classes(struct queue_check *c)
{
    c->c_ok = report_class(c->out, "ok", false);
    c->c_lost = report_class(c->out, "lost", true);
    c->c_double = report_class(c->out, "double_claim", true);
    c->c_dup = report_class(c->out, "duplicated", true);
    c->c_phantom = report_class(c->out, "phantom", true);
    c->c_failed = report_class(c->out, "claimed_but_failed", true);
    c->c_back = report_class(c->out, "clock_went_back", true);
    c->c_unacked = report_class(c->out, "unacked", false);
    c->c_unchecked = report_class(c->out, "unchecked", false);
}

/* Task names, from enqueues, acks, nacks and ok claims. */
static int read_tasks(struct queue_check *c)
{
    char w[32];
    int rv = 0;

    for (size_t i = 0; i < c->r.nops && rv == 0; i++) {
        const struct request_op *o = &c->r.ops[i];
        pairing_where(o->invoke, w, sizeof w);
        if (requests_is(o, "enqueue") || requests_is(o, "ack") ||
            requests_is(o, "nack")) {
            if (o->invoke->key == NULL) {
                snprintf(c->err, sizeof c->err,
                         "%s: %s without a key (task id)", w, o->invoke->f);
                return -EINVAL;
            }
            rv = names_add(&c->names, o->invoke->key);
        } else if (requests_is(o, "claim") && o->type == HISTORY_OK) {
            json_t *t = json_object_get(o->done->value, "task");
            if (!json_is_string(t)) {
                pairing_where(o->done, w, sizeof w);
                snprintf(c->err, sizeof c->err,
                         "%s: ok claim value: expected {\"task\": string, "
                         "\"worker\", \"now_ms\", \"expires_ms\"}",
                         w);
                return -EINVAL;
            }
            rv = names_add(&c->names, json_string_value(t));
        }
    }
    if (rv == 0) {
        names_seal(&c->names);
    }
    return rv;
}

/* The drain: a claim answered empty that began after every enqueue
 * completed and every claim of unknown outcome could have expired. */
static void find_drain(struct queue_check *c)
{
    int64_t last_enqueue = INT64_MIN, unknown_claim_end = INT64_MIN;

    for (size_t i = 0; i < c->r.nops; i++) {
        const struct request_op *o = &c->r.ops[i];
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
    if (c->clock_faults && unknown_claim_end != INT64_MIN) {
        unknown_claim_end = INT64_MAX;
    }
    c->drain = REQUESTS_OPEN;
    for (size_t i = 0; i < c->r.nops; i++) {
        const struct request_op *o = &c->r.ops[i];
        if (requests_is(o, "claim") && o->type == HISTORY_FAIL &&
            o->done->error && strcmp(o->done->error, "empty") == 0 &&
            o->call > last_enqueue && o->call > unknown_claim_end &&
            c->drain == REQUESTS_OPEN) {
            c->drain = o->call;
        }
    }
}

static void collect_enqueue(struct queue_check *c, const struct request *rq)
{
    const struct requests *r = &c->r;
    const struct request_op *o = &r->ops[rq->first];
    struct task *t = &c->tasks[names_find(&c->names, o->invoke->key)];

    t->attempted = true;
    if (rq->outcome != REQUEST_FAILED) {
        t->any_not_failed = true;
    } else {
        size_t f = rq->refused != SIZE_MAX ? rq->refused : rq->first;
        t->failed_index =
            r->ops[f].done ? r->ops[f].done->index : r->ops[f].invoke->index;
    }
    if (rq->outcome == REQUEST_OK && rq->ret < t->acked) {
        t->acked = rq->ret;
        t->acked_index = r->ops[rq->ok].done->index;
    }
}

static int collect_claim(struct queue_check *c, const struct request *rq)
{
    const struct request_op *o = &c->r.ops[rq->first];
    const struct history_event *done = c->r.ops[rq->ok].done;
    struct claim *cl = &c->claims[c->nclaims];
    const char *worker =
        json_string_value(json_object_get(done->value, "worker"));
    char w[32];

    if (worker == NULL) {
        worker = json_string_value(json_object_get(o->invoke->value, "worker"));
    }
    if (worker == NULL ||
        !requests_value_int(done->value, "now_ms", &cl->now_ms) ||
        !requests_value_int(done->value, "expires_ms", &cl->expires_ms)) {
        pairing_where(done, w, sizeof w);
        snprintf(c->err, sizeof c->err,
                 "%s: ok claim value: expected \"worker\" (string), "
                 "\"now_ms\" and \"expires_ms\" (integers)",
                 w);
        return -EINVAL;
    }
    cl->task = (size_t)names_find(
        &c->names, json_string_value(json_object_get(done->value, "task")));
    cl->worker = worker;
    cl->lease_ms = cl->expires_ms - cl->now_ms;
    requests_value_int(o->invoke->value, "lease_ms", &cl->lease_ms);
    cl->call = rq->call;
    cl->ret = rq->ret;
    cl->index = done->index;
    c->tasks[cl->task].claims++;
    c->nclaims++;
    return 0;
}

static void collect_settle(struct queue_check *c, const struct request *rq)
{
    const struct request_op *o = &c->r.ops[rq->first];
    struct settle *s = &c->settles[c->nsettles++];

    s->task = (size_t)names_find(&c->names, o->invoke->key);
    s->worker = json_string_value(json_object_get(o->invoke->value, "worker"));
    s->ack = requests_is(o, "ack");
    s->call = rq->call;
    s->ret = rq->ret;
    if (s->worker == NULL) {
        s->worker = "";
    }
}

static int collect(struct queue_check *c)
{
    c->tasks = calloc(c->names.n + 1, sizeof *c->tasks);
    c->claims = calloc(c->r.nreqs + 1, sizeof *c->claims);
    c->settles = calloc(c->r.nreqs + 1, sizeof *c->settles);
    if (c->tasks == NULL || c->claims == NULL || c->settles == NULL) {
        return -ENOMEM;
    }
    for (size_t t = 0; t < c->names.n; t++) {
        c->tasks[t].acked = c->tasks[t].done = REQUESTS_OPEN;
    }
    find_drain(c);
    for (size_t q = 0; q < c->r.nreqs; q++) {
        const struct request *rq = &c->r.reqs[q];
        const struct request_op *o = &c->r.ops[rq->first];
        if (requests_is(o, "enqueue")) {
            collect_enqueue(c, rq);
        } else if (requests_is(o, "claim") && rq->outcome == REQUEST_OK) {
            int rv = collect_claim(c, rq);
            if (rv != 0) {
                return rv;
            }
        } else if ((requests_is(o, "ack") || requests_is(o, "nack")) &&
                   rq->outcome == REQUEST_OK) {
            collect_settle(c, rq);
        }
    }
    return 0;
}

/* The system's clock never goes back across claims ordered in real
 * time: sweep the claims by invoke, keeping the largest now_ms among
 * those that returned before. */
static int judge_clock(struct queue_check *c)
{
    struct claim *claims = c->claims;
    size_t nclaims = c->nclaims, k = 0, best = SIZE_MAX;
    size_t *order;

    qsort(claims, nclaims, sizeof *claims, by_call);
    order = malloc((nclaims + 1) * sizeof *order);
    if (order == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < nclaims; i++) {
        order[i] = i;
    }
    qsort_r(order, nclaims, sizeof *order, by_ret, claims);
    for (size_t i = 0; i < nclaims; i++) {
        const struct claim *cl = &claims[i];
        for (; k < nclaims && claims[order[k]].ret < cl->call; k++) {
            if (best == SIZE_MAX ||
                claims[order[k]].now_ms > claims[best].now_ms) {
                best = order[k];
            }
        }
        if (best != SIZE_MAX && claims[best].now_ms > cl->now_ms) {
            json_t *ex = report_example(
                "task", c->names.v[cl->task],
                "claim at index %" PRId64 " judged at now_ms %" PRId64
                ", after the claim at index %" PRId64
                " returned now_ms %" PRId64,
                cl->index, cl->now_ms, claims[best].index, claims[best].now_ms);
            report_add(c->out, c->c_back, ex);
        }
    }
    free(order);
    return 0;
}

/* Claim @cl against @p, the claim of its task before it in now_ms
 * order: two leases that overlap, in the system's clock or in real
 * time. */
static void judge_overlap(struct queue_check *c, const struct claim *p,
                          const struct claim *cl)
{
    const char *id = c->names.v[cl->task];
    json_t *ex;

    if (settled_between(c->settles, c->nsettles, p, cl->ret)) {
        return;
    }
    if (cl->now_ms < p->expires_ms) {
        ex = report_example(
            "task", id,
            "%s claimed by %s at now_ms %" PRId64 " (index %" PRId64
            ") while %s held it until %" PRId64 " (index %" PRId64 ")",
            id, cl->worker, cl->now_ms, cl->index, p->worker, p->expires_ms,
            p->index);
    } else if (!c->clock_faults && cl->ret < p->call + p->lease_ms * 1000000) {
        ex = report_example(
            "task", id,
            "%s claimed by %s (index %" PRId64 ") %.3f s after %s claimed "
            "it (index %" PRId64 ") for %" PRId64 " ms, in real time",
            id, cl->worker, cl->index, (double)(cl->ret - p->call) / 1e9,
            p->worker, p->index, p->lease_ms);
    } else {
        return;
    }
    json_object_set_new(
        ex, "claims",
        json_pack("[I,I]", (json_int_t)p->index, (json_int_t)cl->index));
    report_add(c->out, c->c_double, ex);
}

/* Overlapping claims and claims after done, per task. */
static void judge_claims(struct queue_check *c)
{
    /* The first ack of each task that returned. */
    for (size_t k = 0; k < c->nsettles; k++) {
        struct task *t = &c->tasks[c->settles[k].task];
        if (c->settles[k].ack && c->settles[k].ret < t->done) {
            t->done = c->settles[k].ret;
        }
    }
    qsort(c->settles, c->nsettles, sizeof *c->settles, by_task_call);
    qsort(c->claims, c->nclaims, sizeof *c->claims, by_task_now);
    for (size_t i = 0; i < c->nclaims; i++) {
        const struct claim *cl = &c->claims[i];
        const char *id = c->names.v[cl->task];
        if (c->tasks[cl->task].done < cl->call) {
            json_t *ex = report_example("task", id,
                                        "%s claimed (index %" PRId64
                                        ") after an ack of it returned",
                                        id, cl->index);
            json_object_set_new(ex, "claim", json_integer(cl->index));
            report_add(c->out, c->c_dup, ex);
        }
        if (i > 0 && c->claims[i - 1].task == cl->task) {
            judge_overlap(c, &c->claims[i - 1], cl);
        }
    }
}

/* Each task falls in one class. */
static void judge_task(struct queue_check *c, size_t t)
{
    const struct task *tk = &c->tasks[t];
    const char *id = c->names.v[t];
    json_t *ex;

    if (tk->claims > 0 && !tk->attempted) {
        report_add(
            c->out, c->c_phantom,
            report_example("task", id, "%s claimed but never enqueued", id));
    } else if (tk->claims > 0 && !tk->any_not_failed) {
        ex = report_example(
            "task", id,
            "%s claimed though its enqueue failed (index %" PRId64 ")", id,
            tk->failed_index);
        json_object_set_new(ex, "enqueue", json_integer(tk->failed_index));
        report_add(c->out, c->c_failed, ex);
    } else if (tk->claims > 0) {
        report_add(c->out, c->c_ok, NULL);
    } else if (tk->acked == REQUESTS_OPEN) {
        report_add(c->out, c->c_unacked, NULL);
    } else if (c->drain != REQUESTS_OPEN) {
        ex = report_example("task", id,
                            "%s acked (index %" PRId64 ") but never claimed, "
                            "though the queue was drained",
                            id, tk->acked_index);
        json_object_set_new(ex, "enqueue", json_integer(tk->acked_index));
        report_add(c->out, c->c_lost, ex);
    } else {
        report_add(c->out, c->c_unchecked, NULL);
    }
}

static void report_counts(struct queue_check *c)
{
    json_t *info = c->out->info;

    for (size_t t = 0; t < c->names.n; t++) {
        judge_task(c, t);
    }
    if (c->drain == REQUESTS_OPEN) {
        report_unknown(c->out, "no drain: no claim answered empty after every "
                               "enqueue completed and every lease of a claim "
                               "with an unknown outcome ran out, so lost tasks "
                               "can't be told");
    }
    json_object_set_new(info, "tasks", json_integer((json_int_t)c->names.n));
    json_object_set_new(info, "claims", json_integer((json_int_t)c->nclaims));
    json_object_set_new(info, "clock_faults", json_boolean(c->clock_faults));
    c->out->ops = c->r.nops;
    report_finish(c->out);
}

static void queue_check_close(struct queue_check *c)
{
    free(c->tasks);
    free(c->claims);
    free(c->settles);
    names_free(&c->names);
    requests_free(&c->r);
}

int checker_queue(const struct history *h, struct report *out)
{
    struct queue_check c = {.out = out};
    int rv;

    names_init(&c.names);
    rv = report_init(out, "queue");
    if (rv != 0) {
        return rv;
    }
    declare_classes(&c);
    rv = requests_build(h, &c.r, c.err, sizeof c.err);
    if (rv == 0) {
        c.clock_faults = requests_clock_faults(h);
        rv = read_tasks(&c);
    }
    if (rv == 0) {
        rv = collect(&c);
    }
    if (rv == 0) {
        rv = judge_clock(&c);
    }
    if (rv == 0) {
        judge_claims(&c);
        report_counts(&c);
    } else {
        report_fail(out, rv, c.err);
    }
    queue_check_close(&c);
    return rv;
}
