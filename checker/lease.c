/* lease: the leader-lease checker.
 *
 * Attempts are grouped into logical requests by rid (checker/requests.h);
 * an acquire is its ok request's reply {holder, token, now_ms, expires_ms},
 * its validity interval [now_ms, expires_ms) in the system's clock (taskd's
 * state-machine clock, which judges expiry). Per scope:
 *
 *   acquires         ok acquires (a count, not a verdict)
 *   two_holders      taking the acquires in the order of now_ms, one by a
 *                    new holder begins (now_ms) before the previous
 *                    holder's validity ends (the largest expires_ms of its
 *                    acquires since it took the scope: renewals by the same
 *                    holder extend it), and no ok release by the previous
 *                    holder was invoked between its taking the scope and
 *                    the new acquire's return. Also in real time, where
 *                    that is certain: a new holder's acquire returned less
 *                    than ttl_ms after the previous holder's acquire was
 *                    invoked, the previous one having returned before the
 *                    new one was invoked, with no release between (a
 *                    release of unknown outcome counts from its invoke
 *                    on) (only when the history has no clock faults)
 *   token_went_back  a fencing token smaller than one already returned:
 *                    in now_ms order when the holder changes, and in real
 *                    time (an acquire that began after another returned
 *                    has a smaller token, or the same token for another
 *                    holder)
 *   clock_went_back  an acquire that began after another returned has a
 *                    smaller now_ms
 *   phantom_holder   a `holder` read names a holder that never tried to
 *                    acquire the scope
 *   holder_disagrees a `holder` read shows a holder with a token that no
 *                    acquire of that holder returned (and it has none with
 *                    an unknown outcome)
 *   stale_holder     a `holder` read that began after an acquire returned
 *                    shows an older token (null is fine: expired)
 *
 * An expired lease acquired by another holder is fine: the expiry rule. */
#include "checker/lease.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/names.h"
#include "checker/pairing.h"
#include "checker/requests.h"

struct acq {
    size_t scope;
    const char *holder;
    int64_t token, now_ms, expires_ms, ttl_ms;
    int64_t call, ret, index;
    bool two_seen, token_seen; /* reported as two_holders, token_went_back */
};

struct rel {
    size_t scope;
    const char *holder;
    int64_t call;
    bool unknown; /* info or open: it may take effect any time later */
};

struct hread {
    size_t scope;
    const char *holder; /* NULL: free */
    int64_t token;
    int64_t call, index;
};

/* An acquire attempted (any outcome) by a holder of a scope. */
struct attempt {
    size_t scope;
    const char *holder;
    bool unknown; /* some attempt's outcome is unknown */
};

static int by_scope_now(const void *a, const void *b)
{
    const struct acq *x = a, *y = b;
    if (x->scope != y->scope) {
        return (x->scope > y->scope) - (x->scope < y->scope);
    }
    if (x->now_ms != y->now_ms) {
        return (x->now_ms > y->now_ms) - (x->now_ms < y->now_ms);
    }
    if (x->token != y->token) {
        return (x->token > y->token) - (x->token < y->token);
    }
    return (x->call > y->call) - (x->call < y->call);
}

static int by_scope_ret(const void *a, const void *b)
{
    const struct acq *x = a, *y = b;
    if (x->scope != y->scope) {
        return (x->scope > y->scope) - (x->scope < y->scope);
    }
    return (x->ret > y->ret) - (x->ret < y->ret);
}

static int by_scope_holder_token(const void *a, const void *b)
{
    const struct acq *x = a, *y = b;
    int c;
    if (x->scope != y->scope) {
        return (x->scope > y->scope) - (x->scope < y->scope);
    }
    c = strcmp(x->holder, y->holder);
    if (c != 0) {
        return c;
    }
    return (x->token > y->token) - (x->token < y->token);
}

static int by_scope_call(const void *a, const void *b)
{
    const struct hread *x = a, *y = b;
    if (x->scope != y->scope) {
        return (x->scope > y->scope) - (x->scope < y->scope);
    }
    return (x->call > y->call) - (x->call < y->call);
}

static int by_call(const void *a, const void *b)
{
    const struct acq *x = a, *y = b;
    return (x->call > y->call) - (x->call < y->call);
}

static int by_ret(const void *a, const void *b, void *arg)
{
    const struct acq *c = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (c[x].ret > c[y].ret) - (c[x].ret < c[y].ret);
}

/* An ok release of @scope by @holder invoked in [from, until). */
static bool released(const struct rel *r, size_t n, size_t scope,
                     const char *holder, int64_t from, int64_t until)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].scope == scope && (r[i].call >= from || r[i].unknown) &&
            r[i].call < until && strcmp(r[i].holder, holder) == 0) {
            return true;
        }
    }
    return false;
}

static const struct attempt *attempted(const struct attempt *a, size_t n,
                                       size_t scope, const char *holder)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].scope == scope && strcmp(a[i].holder, holder) == 0) {
            return &a[i];
        }
    }
    return NULL;
}

/* One check, phase to phase: read the scopes, collect the acquires,
 * releases and holder reads, judge them (tenures in the system's clock,
 * then real time, then the reads), report. */
struct lease_check {
    const struct history *h;
    struct report *out;
    struct requests r;
    struct names names;
    struct acq *acqs;
    struct rel *rels;
    struct hread *reads;
    struct attempt *atts;
    size_t *order;
    size_t nacqs, nrels, nreads, natts;
    bool clock_faults;
    int c_acq, c_two, c_token, c_back, c_phantom, c_disagree, c_stale;
    char err[256];
};

static void declare_classes(struct lease_check *c)
{
    c->c_acq = report_class(c->out, "acquires", false);
    c->c_two = report_class(c->out, "two_holders", true);
    c->c_token = report_class(c->out, "token_went_back", true);
    c->c_back = report_class(c->out, "clock_went_back", true);
    c->c_phantom = report_class(c->out, "phantom_holder", true);
    c->c_disagree = report_class(c->out, "holder_disagrees", true);
    c->c_stale = report_class(c->out, "stale_holder", true);
}

static bool is_lease_op(const struct request_op *o)
{
    return requests_is(o, "acquire") || requests_is(o, "release") ||
           requests_is(o, "holder");
}

/* The scopes: every lease op names one. */
static int read_scopes(struct lease_check *c)
{
    char w[32];
    int rv = 0;

    for (size_t i = 0; i < c->r.nops && rv == 0; i++) {
        const struct request_op *o = &c->r.ops[i];
        if (is_lease_op(o)) {
            if (o->invoke->key == NULL) {
                pairing_where(o->invoke, w, sizeof w);
                snprintf(c->err, sizeof c->err, "%s: %s without a key (scope)",
                         w, o->invoke->f);
                return -EINVAL;
            }
            rv = names_add(&c->names, o->invoke->key);
        }
    }
    if (rv == 0) {
        names_seal(&c->names);
    }
    return rv;
}

static int collect_acquire(struct lease_check *c, const struct request *rq,
                           size_t scope, const char *holder)
{
    const struct history_event *done = c->r.ops[rq->ok].done;
    json_t *in = c->r.ops[rq->first].invoke->value;
    struct acq *a = &c->acqs[c->nacqs];
    char w[32];

    if (!requests_value_int(done->value, "token", &a->token) ||
        !requests_value_int(done->value, "now_ms", &a->now_ms) ||
        !requests_value_int(done->value, "expires_ms", &a->expires_ms)) {
        pairing_where(done, w, sizeof w);
        snprintf(c->err, sizeof c->err,
                 "%s: ok acquire value: expected \"token\", "
                 "\"now_ms\" and \"expires_ms\" (integers)",
                 w);
        return -EINVAL;
    }
    a->scope = scope;
    a->holder = holder;
    a->ttl_ms = a->expires_ms - a->now_ms;
    requests_value_int(in, "ttl_ms", &a->ttl_ms);
    a->call = rq->call;
    a->ret = rq->ret;
    a->index = done->index;
    c->nacqs++;
    return 0;
}

static int collect_read(struct lease_check *c, const struct request *rq,
                        size_t scope)
{
    const struct history_event *done = c->r.ops[rq->ok].done;
    struct hread *hr = &c->reads[c->nreads];
    json_t *hv = json_object_get(done->value, "holder");
    char w[32];

    hr->scope = scope;
    hr->holder = json_string_value(hv);
    hr->token = -1;
    hr->call = rq->call;
    hr->index = done->index;
    if (hr->holder != NULL &&
        !requests_value_int(done->value, "token", &hr->token)) {
        pairing_where(done, w, sizeof w);
        snprintf(c->err, sizeof c->err,
                 "%s: ok holder value: a holder without an integer "
                 "\"token\"",
                 w);
        return -EINVAL;
    }
    c->nreads++;
    return 0;
}

/* One logical request: an attempt to acquire, a release that may have
 * happened, an ok acquire or an ok holder read. */
static int collect_request(struct lease_check *c, const struct request *rq)
{
    const struct request_op *o = &c->r.ops[rq->first];
    json_t *in = o->invoke->value;
    const char *holder = json_string_value(json_object_get(in, "holder"));
    size_t scope;
    char w[32];

    if (!is_lease_op(o)) {
        return 0;
    }
    scope = (size_t)names_find(&c->names, o->invoke->key);
    pairing_where(o->invoke, w, sizeof w);
    if (!requests_is(o, "holder") && holder == NULL) {
        snprintf(c->err, sizeof c->err,
                 "%s: %s value: expected {\"holder\": string, ...}", w,
                 o->invoke->f);
        return -EINVAL;
    }
    if (requests_is(o, "acquire") && rq->outcome != REQUEST_FAILED) {
        struct attempt *a =
            (struct attempt *)attempted(c->atts, c->natts, scope, holder);
        if (a == NULL) {
            a = &c->atts[c->natts++];
            *a = (struct attempt){scope, holder, false};
        }
        a->unknown |= rq->outcome == REQUEST_UNKNOWN;
    }
    if (requests_is(o, "release") && rq->outcome != REQUEST_FAILED) {
        c->rels[c->nrels++] = (struct rel){scope, holder, rq->call,
                                           rq->outcome == REQUEST_UNKNOWN};
        return 0;
    }
    if (rq->outcome != REQUEST_OK) {
        return 0;
    }
    if (requests_is(o, "acquire")) {
        return collect_acquire(c, rq, scope, holder);
    }
    return collect_read(c, rq, scope);
}

static int collect(struct lease_check *c)
{
    size_t n = c->r.nreqs + 1;
    int rv = 0;

    c->acqs = calloc(n, sizeof *c->acqs);
    c->rels = calloc(n, sizeof *c->rels);
    c->reads = calloc(n, sizeof *c->reads);
    c->atts = calloc(n, sizeof *c->atts);
    c->order = calloc(n, sizeof *c->order);
    if (c->acqs == NULL || c->rels == NULL || c->reads == NULL ||
        c->atts == NULL || c->order == NULL) {
        return -ENOMEM;
    }
    for (size_t q = 0; q < c->r.nreqs && rv == 0; q++) {
        rv = collect_request(c, &c->r.reqs[q]);
    }
    return rv;
}

/* The system's clock: tenures in now_ms order. */
static void judge_tenures(struct lease_check *c)
{
    struct acq *acqs = c->acqs;
    size_t nacqs = c->nacqs;

    qsort(acqs, nacqs, sizeof *acqs, by_scope_now);
    for (size_t i = 0; i < nacqs;) {
        size_t j = i + 1;
        const struct acq *tenure = &acqs[i]; /* first acquire of the tenure */
        int64_t until = acqs[i].expires_ms;
        for (; j < nacqs && acqs[j].scope == acqs[i].scope; j++) {
            const struct acq *a = &acqs[j];
            const char *scope = c->names.v[a->scope];
            if (strcmp(a->holder, tenure->holder) == 0) {
                until = a->expires_ms > until ? a->expires_ms : until;
                continue;
            }
            if (a->now_ms < until &&
                !released(c->rels, c->nrels, a->scope, tenure->holder,
                          tenure->call, a->ret)) {
                report_add(
                    c->out, c->c_two,
                    report_example("scope", scope,
                                   "%s acquired by %s at now_ms %" PRId64
                                   " (index %" PRId64 ") while %s held it "
                                   "until %" PRId64 " (index %" PRId64 ")",
                                   scope, a->holder, a->now_ms, a->index,
                                   tenure->holder, until, tenure->index));
                acqs[j].two_seen = true;
            }
            if (a->token <= tenure->token) {
                report_add(c->out, c->c_token,
                           report_example("scope", scope,
                                          "%s passed from %s (token %" PRId64
                                          ") to %s with token %" PRId64
                                          " (index %" PRId64 ")",
                                          scope, tenure->holder, tenure->token,
                                          a->holder, a->token, a->index));
                acqs[j].token_seen = true;
            }
            tenure = a;
            until = a->expires_ms;
        }
        i = j;
    }
}

/* Acquire @a against @b, the largest token returned before it began in
 * its scope (or NULL), and @clock, the largest now_ms returned before it
 * began (or NULL). */
static void judge_after(struct lease_check *c, const struct acq *a,
                        const struct acq *b, const struct acq *clock)
{
    const char *scope = c->names.v[a->scope];

    if (b != NULL && !a->token_seen &&
        (a->token < b->token ||
         (a->token == b->token && strcmp(a->holder, b->holder)))) {
        report_add(c->out, c->c_token,
                   report_example("scope", scope,
                                  "%s acquired by %s with token %" PRId64
                                  " (index %" PRId64
                                  "), after %s's acquire returned token "
                                  "%" PRId64 " (index %" PRId64 ")",
                                  scope, a->holder, a->token, a->index,
                                  b->holder, b->token, b->index));
    }
    if (clock != NULL && clock->now_ms > a->now_ms) {
        report_add(c->out, c->c_back,
                   report_example(
                       "scope", scope,
                       "acquire at index %" PRId64 " judged at now_ms %" PRId64
                       ", after the acquire at index %" PRId64
                       " returned now_ms %" PRId64,
                       a->index, a->now_ms, clock->index, clock->now_ms));
    }
}

/* Real time: tokens and the clock never go back. Leaves acqs by call. */
static int judge_real_time_order(struct lease_check *c)
{
    struct acq *acqs = c->acqs;
    size_t nacqs = c->nacqs, *order = c->order, k = 0;
    /* Per scope, the largest token returned so far (and its holder), and
     * the largest now_ms over all scopes. */
    size_t *best = malloc((c->names.n + 1) * sizeof *best);
    size_t clock = SIZE_MAX;

    qsort(acqs, nacqs, sizeof *acqs, by_call);
    for (size_t i = 0; i < nacqs; i++) {
        order[i] = i;
    }
    qsort_r(order, nacqs, sizeof *order, by_ret, acqs);
    if (best == NULL) {
        return -ENOMEM;
    }
    for (size_t s = 0; s < c->names.n; s++) {
        best[s] = SIZE_MAX;
    }
    for (size_t i = 0; i < nacqs; i++) {
        const struct acq *a = &acqs[i];
        for (; k < nacqs && acqs[order[k]].ret < a->call; k++) {
            const struct acq *d = &acqs[order[k]];
            if (best[d->scope] == SIZE_MAX ||
                d->token > acqs[best[d->scope]].token) {
                best[d->scope] = order[k];
            }
            if (clock == SIZE_MAX || d->now_ms > acqs[clock].now_ms) {
                clock = order[k];
            }
        }
        judge_after(c, a,
                    best[a->scope] != SIZE_MAX ? &acqs[best[a->scope]] : NULL,
                    clock != SIZE_MAX ? &acqs[clock] : NULL);
    }
    free(best);
    return 0;
}

/* Real time, where certain. An acquire p that returned before a (by
 * another holder) was invoked took effect first; when a returned less
 * than p's ttl after p was invoked, and p's holder released nothing
 * that could land in between, the two validity intervals overlap
 * wherever in their intervals the two took effect. Concurrent acquires
 * say nothing: either may have come first (p applied after a and
 * after a release by a's holder is a handover). acqs are by call. */
static void judge_real_time_overlap(struct lease_check *c)
{
    const struct acq *acqs = c->acqs;
    size_t nacqs = c->nacqs;
    int64_t max_ttl_ns = 0;

    for (size_t i = 0; i < nacqs; i++) {
        if (acqs[i].ttl_ms * 1000000 > max_ttl_ns) {
            max_ttl_ns = acqs[i].ttl_ms * 1000000;
        }
    }
    for (size_t j = 0; j < nacqs && !c->clock_faults; j++) {
        const struct acq *a = &acqs[j];
        if (a->two_seen) {
            continue;
        }
        for (size_t i = j; i-- > 0;) {
            const struct acq *p = &acqs[i];
            if (p->call + max_ttl_ns <= a->ret) {
                break; /* every earlier one was invoked earlier still */
            }
            if (p->scope != a->scope || p->ret >= a->call ||
                strcmp(a->holder, p->holder) == 0 ||
                a->ret >= p->call + p->ttl_ms * 1000000 ||
                released(c->rels, c->nrels, p->scope, p->holder, p->call,
                         a->ret)) {
                continue;
            }
            report_add(c->out, c->c_two,
                       report_example("scope", c->names.v[a->scope],
                                      "%s acquired by %s (index %" PRId64
                                      ") %.3f s after %s acquired it (index "
                                      "%" PRId64 ") for %" PRId64
                                      " ms, in real time",
                                      c->names.v[a->scope], a->holder, a->index,
                                      (double)(a->ret - p->call) / 1e9,
                                      p->holder, p->index, p->ttl_ms));
            break;
        }
    }
}

/* Holder reads, by scope and invoke, against the acquires of their
 * scope by return: the largest token returned before each read began. */
static void judge_stale_reads(struct lease_check *c)
{
    const struct acq *acqs = c->acqs;
    size_t nacqs = c->nacqs, j = 0, best = SIZE_MAX;

    qsort(c->acqs, nacqs, sizeof *c->acqs, by_scope_ret);
    qsort(c->reads, c->nreads, sizeof *c->reads, by_scope_call);
    for (size_t k = 0; k < c->nreads; k++) {
        const struct hread *hr = &c->reads[k];
        if (k == 0 || c->reads[k - 1].scope != hr->scope) {
            best = SIZE_MAX;
        }
        for (; j < nacqs &&
               (acqs[j].scope < hr->scope ||
                (acqs[j].scope == hr->scope && acqs[j].ret < hr->call));
             j++) {
            if (acqs[j].scope == hr->scope &&
                (best == SIZE_MAX || acqs[j].token > acqs[best].token)) {
                best = j;
            }
        }
        if (hr->holder != NULL && best != SIZE_MAX &&
            acqs[best].token > hr->token) {
            report_add(c->out, c->c_stale,
                       report_example("scope", c->names.v[hr->scope],
                                      "holder read at index %" PRId64
                                      " shows %s with token %" PRId64
                                      ", after an acquire returned token "
                                      "%" PRId64 " (index %" PRId64 ")",
                                      hr->index, hr->holder, hr->token,
                                      acqs[best].token, acqs[best].index));
        }
    }
}

/* Each read's holder against the acquires by (scope, holder, token). */
static void judge_read_holders(struct lease_check *c)
{
    qsort(c->acqs, c->nacqs, sizeof *c->acqs, by_scope_holder_token);
    for (size_t k = 0; k < c->nreads; k++) {
        const struct hread *hr = &c->reads[k];
        const char *scope = c->names.v[hr->scope];
        const struct attempt *at;
        struct acq key;
        if (hr->holder == NULL) {
            continue;
        }
        at = attempted(c->atts, c->natts, hr->scope, hr->holder);
        if (at == NULL) {
            report_add(c->out, c->c_phantom,
                       report_example("scope", scope,
                                      "holder read at index %" PRId64
                                      " names %s, which never tried to "
                                      "acquire %s",
                                      hr->index, hr->holder, scope));
            continue;
        }
        key.scope = hr->scope;
        key.holder = hr->holder;
        key.token = hr->token;
        if (!at->unknown && bsearch(&key, c->acqs, c->nacqs, sizeof *c->acqs,
                                    by_scope_holder_token) == NULL) {
            report_add(c->out, c->c_disagree,
                       report_example("scope", scope,
                                      "holder read at index %" PRId64
                                      " shows %s with token %" PRId64
                                      ", which no acquire of %s returned",
                                      hr->index, hr->holder, hr->token,
                                      hr->holder));
        }
    }
}

static void report_counts(struct lease_check *c)
{
    json_t *info = c->out->info;

    for (size_t i = 0; i < c->nacqs; i++) {
        report_add(c->out, c->c_acq, NULL);
    }
    json_object_set_new(info, "scopes", json_integer((json_int_t)c->names.n));
    json_object_set_new(info, "acquires", json_integer((json_int_t)c->nacqs));
    json_object_set_new(info, "holder_reads",
                        json_integer((json_int_t)c->nreads));
    json_object_set_new(info, "clock_faults", json_boolean(c->clock_faults));
    c->out->ops = c->r.nops;
    report_finish(c->out);
}

static void lease_check_close(struct lease_check *c)
{
    free(c->acqs);
    free(c->rels);
    free(c->reads);
    free(c->atts);
    free(c->order);
    names_free(&c->names);
    requests_free(&c->r);
}

int checker_lease(const struct history *h, struct report *out)
{
    struct lease_check c = {.h = h, .out = out};
    int rv;

    names_init(&c.names);
    rv = report_init(out, "lease");
    if (rv != 0) {
        return rv;
    }
    declare_classes(&c);
    rv = requests_build(h, &c.r, c.err, sizeof c.err);
    if (rv == 0) {
        c.clock_faults = requests_clock_faults(h);
        rv = read_scopes(&c);
    }
    if (rv == 0) {
        rv = collect(&c);
    }
    if (rv == 0) {
        judge_tenures(&c);
        rv = judge_real_time_order(&c);
    }
    if (rv == 0) {
        judge_real_time_overlap(&c);
        judge_stale_reads(&c);
        judge_read_holders(&c);
        report_counts(&c);
    } else {
        report_fail(out, rv, c.err);
    }
    lease_check_close(&c);
    return rv;
}
