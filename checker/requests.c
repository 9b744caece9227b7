/* requests: pair invokes with completions, group attempts by rid.
 *
 * The set, queue and lease checkers and the task-record model all judge
 * logical requests, not attempts: a workload that retries after `info`
 * sends the same rid again from a new process. Pairing follows FORMAT.md
 * ("Types and pairing"), the same rules the linearizability checker
 * applies. */
#include "checker/requests.h"
#include "checker/pairing.h"

#include "checker/registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool requests_is(const struct request_op *o, const char *f)
{
    return strcmp(o->invoke->f, f) == 0;
}

bool requests_value_int(json_t *obj, const char *name, int64_t *v)
{
    json_t *x = json_object_get(obj, name);
    if (!json_is_integer(x)) {
        return false;
    }
    *v = json_integer_value(x);
    return true;
}

bool requests_clock_faults(const struct history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->events[i].process == HISTORY_NEMESIS &&
            strncmp(h->events[i].f, "clock", 5) == 0) {
            return true;
        }
    }
    return false;
}

const char *requests_rid(const struct history_event *invoke)
{
    json_t *rid = json_is_object(invoke->value)
                      ? json_object_get(invoke->value, "rid")
                      : NULL;
    return json_is_string(rid) ? json_string_value(rid) : NULL;
}

bool requests_is_refusal(const char *error)
{
    static const char *const refusals[] = {
        "exists", "not_found", "cas_mismatch", "not_holder", "held", "empty",
    };
    if (error == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        if (strcmp(error, refusals[i]) == 0) {
            return true;
        }
    }
    return false;
}

struct rid_ref {
    const char *rid;
    const char *f;
    size_t op;
};

static int by_rid(const void *a, const void *b)
{
    const struct rid_ref *x = a, *y = b;
    int c = strcmp(x->rid, y->rid);
    if (c == 0) {
        c = strcmp(x->f, y->f);
    }
    return c != 0 ? c : (x->op > y->op) - (x->op < y->op);
}

static int by_first(const void *a, const void *b)
{
    const struct request *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

static bool is_duplicate_reply(const struct history_event *done)
{
    json_t *d = json_is_object(done->value)
                    ? json_object_get(done->value, "duplicate")
                    : NULL;
    return json_is_true(d);
}

/* Fill in a request's outcome from its attempts, once r->ops[].req is set. */
static void judge(struct requests *r)
{
    for (size_t q = 0; q < r->nreqs; q++) {
        struct request *rq = &r->reqs[q];
        rq->attempts = 0;
        rq->ok = rq->refused = SIZE_MAX;
        rq->ret = REQUESTS_OPEN;
        rq->fresh_oks = 0;
    }
    bool *unknown = calloc(r->nreqs + 1, sizeof *unknown);
    for (size_t i = 0; i < r->nops; i++) {
        const struct request_op *o = &r->ops[i];
        struct request *rq = &r->reqs[o->req];
        rq->attempts++;
        if (o->type == HISTORY_OK) {
            if (rq->ok == SIZE_MAX || o->ret < rq->ret) {
                rq->ok = i;
                rq->ret = o->ret;
            }
            rq->fresh_oks += !is_duplicate_reply(o->done);
        } else if (o->type == HISTORY_FAIL) {
            if (requests_is_refusal(o->done->error) &&
                rq->refused == SIZE_MAX) {
                rq->refused = i;
            }
        } else if (unknown != NULL) {
            unknown[o->req] = true;
        }
    }
    for (size_t q = 0; q < r->nreqs; q++) {
        struct request *rq = &r->reqs[q];
        if (rq->ok != SIZE_MAX) {
            rq->outcome = REQUEST_OK;
        } else if (rq->refused != SIZE_MAX) {
            rq->outcome = REQUEST_FAILED;
        } else if (unknown == NULL || unknown[q]) {
            rq->outcome = REQUEST_UNKNOWN;
        } else {
            rq->outcome = REQUEST_FAILED;
        }
    }
    free(unknown);
}

int requests_build(const struct history *h, struct requests *r, char *err,
                   size_t errlen)
{
    struct rid_ref *refs = NULL;
    size_t nrefs = 0;
    int rv;

    memset(r, 0, sizeof *r);
    rv = pairing_request_ops(h, r, err, errlen);
    if (rv != 0) {
        goto err;
    }
    r->reqs = malloc((r->nops + 1) * sizeof *r->reqs);
    refs = malloc((r->nops + 1) * sizeof *refs);
    if (r->reqs == NULL || refs == NULL) {
        rv = -ENOMEM;
        goto err;
    }
    for (size_t i = 0; i < r->nops; i++) {
        const char *rid = requests_rid(r->ops[i].invoke);
        r->ops[i].req = SIZE_MAX;
        if (rid != NULL) {
            refs[nrefs++] = (struct rid_ref){rid, r->ops[i].invoke->f, i};
        }
    }
    qsort(refs, nrefs, sizeof *refs, by_rid);
    /* One request per rid (its attempts sorted by op index, so the first
     * is the earliest), and one per op without a rid. */
    for (size_t k = 0; k < nrefs; k++) {
        if (k == 0 || strcmp(refs[k].rid, refs[k - 1].rid) != 0 ||
            strcmp(refs[k].f, refs[k - 1].f) != 0) {
            r->reqs[r->nreqs] = (struct request){.first = refs[k].op};
            r->ops[refs[k].op].req = r->nreqs++;
        }
    }
    for (size_t i = 0; i < r->nops; i++) {
        if (requests_rid(r->ops[i].invoke) == NULL) {
            r->reqs[r->nreqs] = (struct request){.first = i};
            r->ops[i].req = r->nreqs++;
        }
    }
    /* Requests in order of their first attempt; renumber the ops. */
    qsort(r->reqs, r->nreqs, sizeof *r->reqs, by_first);
    for (size_t q = 0; q < r->nreqs; q++) {
        r->ops[r->reqs[q].first].req = q;
        r->reqs[q].call = r->ops[r->reqs[q].first].call;
    }
    /* The other attempts join their first one's request. */
    for (size_t k = 0; k < nrefs;) {
        size_t j = k;
        while (j < nrefs && strcmp(refs[j].rid, refs[k].rid) == 0 &&
               strcmp(refs[j].f, refs[k].f) == 0) {
            j++;
        }
        /* refs[k..j) are sorted by op index: refs[k] is the first. */
        for (size_t m = k + 1; m < j; m++) {
            r->ops[refs[m].op].req = r->ops[refs[k].op].req;
        }
        k = j;
    }
    judge(r);
    free(refs);
    return 0;

err:
    free(refs);
    requests_free(r);
    return rv;
}

void requests_free(struct requests *r)
{
    free(r->ops);
    free(r->reqs);
    memset(r, 0, sizeof *r);
}

struct timed {
    int64_t time;
    int order; /* invokes before completions at one instant */
    size_t req;
};

static int by_time(const void *a, const void *b)
{
    const struct timed *x = a, *y = b;
    if (x->time != y->time) {
        return (x->time > y->time) - (x->time < y->time);
    }
    if (x->order != y->order) {
        return x->order - y->order;
    }
    return (x->req > y->req) - (x->req < y->req);
}

static bool skipped(const char *f, const char *const *skip)
{
    for (; skip != NULL && *skip != NULL; skip++) {
        if (strcmp(f, *skip) == 0) {
            return true;
        }
    }
    return false;
}

struct lane {
    int process;
    int64_t busy_until; /* INT64_MAX after an unknown outcome */
};

static int by_process(const void *a, const void *b)
{
    const struct lane *x = a, *y = b;
    return (x->process > y->process) - (x->process < y->process);
}

/* Give each request the process of its first attempt when that process
 * is free by then (so verdicts name real processes), else a new one. */
static int assign_processes(const struct requests *r, int *proc)
{
    struct lane *lanes = malloc((r->nops + 1) * sizeof *lanes);
    size_t n = 0, u = 0;
    int fresh = 0;

    if (lanes == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < r->nops; i++) {
        lanes[n++] = (struct lane){r->ops[i].invoke->process, INT64_MIN};
        if (r->ops[i].invoke->process >= fresh) {
            fresh = r->ops[i].invoke->process + 1;
        }
    }
    qsort(lanes, n, sizeof *lanes, by_process);
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || lanes[u - 1].process != lanes[i].process) {
            lanes[u++] = lanes[i];
        }
    }
    for (size_t q = 0; q < r->nreqs; q++) {
        const struct request *rq = &r->reqs[q];
        struct lane key = {r->ops[rq->first].invoke->process, 0};
        struct lane *l = bsearch(&key, lanes, u, sizeof *lanes, by_process);
        if (l != NULL && rq->call > l->busy_until) {
            proc[q] = l->process;
            l->busy_until = rq->outcome == REQUEST_OK       ? rq->ret
                            : rq->outcome == REQUEST_FAILED ? rq->call
                                                            : INT64_MAX;
        } else {
            proc[q] = fresh++;
        }
    }
    free(lanes);
    return 0;
}

int requests_history(const struct history *h, const struct requests *r,
                     const char *const *skip, struct history *out)
{
    struct timed *ev = malloc((2 * r->nreqs + 1) * sizeof *ev);
    int *proc = malloc((r->nreqs + 1) * sizeof *proc);
    size_t n = 0;
    int rv = 0;

    history_init(out);
    if (ev == NULL || proc == NULL || assign_processes(r, proc) != 0) {
        free(ev);
        free(proc);
        return -ENOMEM;
    }
    out->header.version = h->header.version;
    out->partial = h->partial;
    for (size_t q = 0; q < r->nreqs; q++) {
        const struct request *rq = &r->reqs[q];
        if (skipped(r->ops[rq->first].invoke->f, skip)) {
            continue;
        }
        ev[n++] = (struct timed){rq->call, 0, q};
        ev[n++] = (struct timed){rq->outcome == REQUEST_OK ? rq->ret : rq->call,
                                 1, q};
    }
    qsort(ev, n, sizeof *ev, by_time);
    for (size_t k = 0; k < n && rv == 0; k++) {
        const struct request *rq = &r->reqs[ev[k].req];
        const struct request_op *first = &r->ops[rq->first];
        struct history_event e = *first->invoke;
        if (ev[k].order == 1) {
            if (rq->outcome == REQUEST_OK) {
                e = *r->ops[rq->ok].done;
            } else {
                /* A request without a result completes at its call: the
                 * completion carries no time of its own. */
                e.type =
                    rq->outcome == REQUEST_FAILED ? HISTORY_FAIL : HISTORY_INFO;
                e.value = json_null();
                e.error = NULL;
                e.node = NULL;
                if (rq->outcome == REQUEST_FAILED && rq->refused != SIZE_MAX) {
                    e = *r->ops[rq->refused].done;
                }
                e.time = rq->call;
            }
        }
        e.process = proc[ev[k].req];
        rv = history_add(out, &e);
        if (rv == 0) {
            out->events[out->n - 1].index =
                ev[k].order == 0 ? first->invoke->index : e.index;
        }
    }
    free(ev);
    free(proc);
    if (rv != 0) {
        history_close(out);
    }
    return rv;
}

int requests_linearizable(const struct history *h, const struct model *m,
                          const struct checker_limits *lim,
                          const char *const *skip, struct verdict *out)
{
    struct requests r;
    struct history merged;
    char err[256];
    int rv;

    rv = requests_build(h, &r, err, sizeof err);
    if (rv == 0) {
        rv = requests_history(h, &r, skip, &merged);
        requests_free(&r);
        err[0] = '\0';
    }
    if (rv != 0) {
        verdict_init(out);
        out->result = VERDICT_UNKNOWN;
        out->model = m->name;
        snprintf(out->reason, sizeof out->reason, "%s",
                 rv == -ENOMEM ? "out of memory" : err);
        return rv;
    }
    rv = checker_linearizable(&merged, m, lim, out);
    history_close(&merged);
    return rv;
}

bool requests_model_by_request(const struct model *m)
{
    return registry_by_request(m->name); /* as its workload declares */
}

int requests_check(const struct history *h, const struct model *m,
                   const struct checker_limits *lim, struct verdict *out)
{
    static const char *const not_records[] = {"list", NULL};

    if (requests_model_by_request(m)) {
        return requests_linearizable(h, m, lim, not_records, out);
    }
    return checker_linearizable(h, m, lim, out);
}
