/* set: the task-set checker (Jepsen's set-full, per task).
 *
 * Attempts are grouped into logical requests by rid (checker/requests.h).
 * A read is an ok `list`; it "began after" a time when its invoke is later.
 * A task is known to exist from the first ok return of a create of it or
 * the return of the first read that shows it. A delete of the task that
 * may have happened (ok or unknown) excuses its absence from any read that
 * ended after the delete was invoked. Every task the workload tried to
 * create, and every task a read shows, falls in one or more classes:
 *
 *   ok                  present in the final read, no anomaly
 *   lost                known, then absent from the final read
 *   flapping            known, absent from a read that began after that,
 *                       yet present in the final read (stale or flapping)
 *   duplicated          present twice in one read, or one create request
 *                       applied twice (two ok replies without "duplicate")
 *   phantom             present, but no create of it was ever attempted
 *   present_but_failed  present, though every create request of it failed
 *                       (how a lost idempotency table shows: the retry of
 *                       an applied create is refused with `exists`)
 *   deleted             absent from the final read after a delete
 *   unacked             never acked and never seen (fine: it may not have
 *                       happened)
 *   unchecked           acked or seen, but there is no final read
 *
 * The final read is the last read that began after every create attempt
 * completed (an open one: after its invoke). Without one, lost can't be
 * judged and the verdict is unknown unless another anomaly shows. */
#include "checker/set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/names.h"
#include "checker/pairing.h"
#include "checker/requests.h"

struct task {
    bool attempted;      /* a create of it was invoked */
    bool any_not_failed; /* some create request did not fail */
    size_t create_ev;    /* an invoke of a create (index into events) */
    size_t failed_ev;    /* the refused or failed create's completion */
    int64_t acked;       /* first ok create return, or REQUESTS_OPEN */
    size_t acked_ev;     /* its event */
    int64_t seen;        /* first return of a read showing it */
    size_t seen_read;    /* that read (index into reads) */
    int64_t delete_call; /* earliest possible delete, or REQUESTS_OPEN */
    size_t dup_rid_ev;   /* a create applied twice: its first invoke */
    bool dup_rid;
    bool dup_read;
    size_t dup_read_at; /* the read showing it twice */
    bool absent_after_known;
    size_t absent_read; /* the first read lacking it after it was known */
    bool in_final;
};

struct read {
    const struct request_op *op;
    size_t *ids; /* task numbers present, sorted */
    size_t n;
};

static int read_ids(const struct request_op *o, struct names *names, bool add,
                    struct read *rd, char *err, size_t errlen)
{
    json_t *v = o->done->value, *e;
    size_t i;
    char w[32];

    pairing_where(o->done, w, sizeof w);
    if (!json_is_array(v)) {
        snprintf(err, errlen,
                 "%s: ok list value: expected an array of {\"id\": ...}", w);
        return -EINVAL;
    }
    if (!add) {
        rd->ids = malloc((json_array_size(v) + 1) * sizeof *rd->ids);
        if (rd->ids == NULL) {
            return -ENOMEM;
        }
    }
    json_array_foreach(v, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (id == NULL) {
            snprintf(err, errlen,
                     "%s: ok list value[%zu]: expected an object with a "
                     "string \"id\"",
                     w, i);
            return -EINVAL;
        }
        if (add) {
            if (names_add(names, id) != 0) {
                return -ENOMEM;
            }
        } else {
            rd->ids[rd->n++] = (size_t)names_find(names, id);
        }
    }
    return 0;
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static bool read_has(const struct read *rd, size_t t)
{
    return bsearch(&t, rd->ids, rd->n, sizeof t, size_cmp) != NULL;
}

static int by_call(const void *a, const void *b)
{
    const struct read *x = a, *y = b;
    if (x->op->call != y->op->call) {
        return (x->op->call > y->op->call) - (x->op->call < y->op->call);
    }
    return (x->op > y->op) - (x->op < y->op);
}

/* Add "name": index to @ex (an example object), if @ex exists. */
static void with_index(json_t *ex, const char *name, int64_t index)
{
    if (ex != NULL) {
        json_object_set_new(ex, name, json_integer(index));
    }
}

/* One check, phase to phase: read the task names, collect the creates,
 * deletes and reads, find the final read and each task's absences, judge
 * each task, report. */
struct set_check {
    struct report *out;
    struct requests r;
    struct names names;
    struct task *tasks;
    struct read *reads; /* by invoke once collected */
    size_t nreads;
    size_t final; /* the final read, or SIZE_MAX */
    int64_t last_create;
    int c_ok, c_lost, c_flap, c_dup, c_phantom, c_failed, c_deleted;
    int c_unacked, c_unchecked;
    char err[256];
};

static void declare_classes(struct set_check *c)
{
    c->c_ok = report_class(c->out, "ok", false);
    c->c_lost = report_class(c->out, "lost", true);
    c->c_flap = report_class(c->out, "flapping", true);
    c->c_dup = report_class(c->out, "duplicated", true);
    c->c_phantom = report_class(c->out, "phantom", true);
    c->c_failed = report_class(c->out, "present_but_failed", true);
    c->c_deleted = report_class(c->out, "deleted", false);
    c->c_unacked = report_class(c->out, "unacked", false);
    c->c_unchecked = report_class(c->out, "unchecked", false);
}

/* Every task name: created, deleted, or read. */
static int read_names(struct set_check *c)
{
    int rv = 0;

    for (size_t i = 0; i < c->r.nops && rv == 0; i++) {
        const struct request_op *o = &c->r.ops[i];
        if (requests_is(o, "create") || requests_is(o, "delete")) {
            if (o->invoke->key == NULL) {
                char w[32];
                pairing_where(o->invoke, w, sizeof w);
                snprintf(c->err, sizeof c->err,
                         "%s: %s without a key (task id)", w, o->invoke->f);
                return -EINVAL;
            }
            rv = names_add(&c->names, o->invoke->key);
        } else if (requests_is(o, "list") && o->type == HISTORY_OK) {
            rv = read_ids(o, &c->names, true, NULL, c->err, sizeof c->err);
            c->nreads++;
        }
    }
    if (rv == 0) {
        names_seal(&c->names);
    }
    return rv;
}

/* A create or delete, by logical request. */
static void collect_request(struct set_check *c, const struct request *rq)
{
    const struct requests *r = &c->r;
    const struct request_op *o = &r->ops[rq->first];
    struct task *t;

    if (!requests_is(o, "create") && !requests_is(o, "delete")) {
        return;
    }
    t = &c->tasks[names_find(&c->names, o->invoke->key)];
    if (requests_is(o, "delete")) {
        if (rq->outcome != REQUEST_FAILED && rq->call < t->delete_call) {
            t->delete_call = rq->call;
        }
        return;
    }
    if (!t->attempted) {
        t->create_ev = (size_t)o->invoke->index;
    }
    t->attempted = true;
    if (rq->outcome != REQUEST_FAILED) {
        t->any_not_failed = true;
    } else {
        size_t f = rq->refused != SIZE_MAX ? rq->refused : rq->first;
        t->failed_ev = (size_t)(r->ops[f].done ? r->ops[f].done->index
                                               : r->ops[f].invoke->index);
    }
    if (rq->outcome == REQUEST_OK && rq->ret < t->acked) {
        t->acked = rq->ret;
        t->acked_ev = (size_t)r->ops[rq->ok].done->index;
    }
    if (rq->fresh_oks > 1 && !t->dup_rid) {
        t->dup_rid = true;
        t->dup_rid_ev = (size_t)o->invoke->index;
    }
}

static int collect_writes(struct set_check *c)
{
    c->tasks = calloc(c->names.n + 1, sizeof *c->tasks);
    c->reads = calloc(c->nreads + 1, sizeof *c->reads);
    if (c->tasks == NULL || c->reads == NULL) {
        return -ENOMEM;
    }
    for (size_t t = 0; t < c->names.n; t++) {
        struct task *tk = &c->tasks[t];
        tk->acked = tk->seen = tk->delete_call = REQUESTS_OPEN;
    }
    for (size_t q = 0; q < c->r.nreqs; q++) {
        collect_request(c, &c->r.reqs[q]);
    }
    c->last_create = INT64_MIN;
    for (size_t i = 0; i < c->r.nops; i++) {
        const struct request_op *o = &c->r.ops[i];
        if (requests_is(o, "create")) {
            int64_t done = o->done ? o->done->time : o->call;
            if (done > c->last_create) {
                c->last_create = done;
            }
        }
    }
    return 0;
}

/* Reads, sorted by invoke, what each shows, and the final one. */
static int collect_reads(struct set_check *c)
{
    c->nreads = 0;
    for (size_t i = 0; i < c->r.nops; i++) {
        const struct request_op *o = &c->r.ops[i];
        if (!requests_is(o, "list") || o->type != HISTORY_OK) {
            continue;
        }
        struct read *rd = &c->reads[c->nreads++];
        rd->op = o;
        int rv = read_ids(o, &c->names, false, rd, c->err, sizeof c->err);
        if (rv != 0) {
            return rv;
        }
        qsort(rd->ids, rd->n, sizeof *rd->ids, size_cmp);
    }
    qsort(c->reads, c->nreads, sizeof *c->reads, by_call);
    c->final = SIZE_MAX;
    for (size_t k = 0; k < c->nreads; k++) {
        const struct read *rd = &c->reads[k];
        for (size_t j = 0; j < rd->n; j++) {
            struct task *t = &c->tasks[rd->ids[j]];
            if (j > 0 && rd->ids[j] == rd->ids[j - 1] && !t->dup_read) {
                t->dup_read = true;
                t->dup_read_at = k;
            }
            if (rd->op->ret < t->seen) {
                t->seen = rd->op->ret;
                t->seen_read = k;
            }
        }
        if (rd->op->call > c->last_create) {
            c->final = k;
        }
    }
    return 0;
}

/* Absent after known: the first read that began after the task was
 * known to exist and lacks it, with no delete that may explain it.
 * Reads that show it are skipped, so the work is about the size of
 * the reads. */
static void find_absence(struct set_check *c, size_t t)
{
    struct task *tk = &c->tasks[t];
    const struct read *reads = c->reads;
    int64_t known = tk->acked < tk->seen ? tk->acked : tk->seen;
    size_t lo = 0, hi = c->nreads;

    if (known == REQUESTS_OPEN) {
        return;
    }
    while (lo < hi) { /* the first read that began after known */
        size_t mid = lo + (hi - lo) / 2;
        if (reads[mid].op->call <= known) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t k = lo; k < c->nreads; k++) {
        const struct read *rd = &reads[k];
        if (read_has(rd, t)) {
            continue;
        }
        if (tk->delete_call < rd->op->ret) {
            if (rd->op->call > tk->delete_call) {
                break; /* every later read may follow the delete */
            }
            continue;
        }
        tk->absent_after_known = true;
        tk->absent_read = k;
        break;
    }
}

static void find_absences(struct set_check *c)
{
    for (size_t t = 0; t < c->names.n; t++) {
        find_absence(c, t);
    }
    if (c->final != SIZE_MAX) {
        for (size_t t = 0; t < c->names.n; t++) {
            c->tasks[t].in_final = read_has(&c->reads[c->final], t);
        }
    }
}

/* The invoke index of read @k. */
static int64_t read_at(const struct set_check *c, size_t k)
{
    return c->reads[k].op->invoke->index;
}

/* Phantom and present_but_failed: shown, but not (successfully) created. */
static bool judge_presence(struct set_check *c, size_t t)
{
    const struct task *tk = &c->tasks[t];
    const char *id = c->names.v[t];
    bool anomaly = false;
    json_t *ex;

    if (tk->seen != REQUESTS_OPEN && !tk->attempted) {
        ex = report_example(
            "task", id, "%s in the list at index %" PRId64 " but never created",
            id, read_at(c, tk->seen_read));
        with_index(ex, "read", read_at(c, tk->seen_read));
        report_add(c->out, c->c_phantom, ex);
        anomaly = true;
    }
    if (tk->seen != REQUESTS_OPEN && tk->attempted && !tk->any_not_failed) {
        ex = report_example("task", id,
                            "%s in the list at index %" PRId64
                            " though its create failed (index %zu)",
                            id, read_at(c, tk->seen_read), tk->failed_ev);
        with_index(ex, "read", read_at(c, tk->seen_read));
        with_index(ex, "create", (int64_t)tk->failed_ev);
        report_add(c->out, c->c_failed, ex);
        anomaly = true;
    }
    return anomaly;
}

static bool judge_duplicate(struct set_check *c, size_t t)
{
    const struct task *tk = &c->tasks[t];
    const char *id = c->names.v[t];
    json_t *ex;

    if (!tk->dup_read && !tk->dup_rid) {
        return false;
    }
    if (tk->dup_read) {
        int64_t at = read_at(c, tk->dup_read_at);
        ex = report_example("task", id,
                            "%s twice in the list at index %" PRId64, id, at);
        with_index(ex, "read", at);
    } else {
        ex = report_example("task", id,
                            "%s: the create invoked at index %zu was "
                            "applied twice (two ok replies without "
                            "\"duplicate\")",
                            id, tk->dup_rid_ev);
        with_index(ex, "create", (int64_t)tk->dup_rid_ev);
    }
    report_add(c->out, c->c_dup, ex);
    return true;
}

/* Lost (absent from the final read) or flapping (absent from a read
 * after it was known, present in the final one). */
static bool judge_absence(struct set_check *c, size_t t)
{
    const struct task *tk = &c->tasks[t];
    const char *id = c->names.v[t];
    json_t *ex;
    int64_t at;

    if (!tk->absent_after_known) {
        return false;
    }
    if (c->final != SIZE_MAX && !tk->in_final) {
        at = read_at(c, c->final);
        if (tk->acked != REQUESTS_OPEN) {
            ex = report_example("task", id,
                                "%s acked (index %zu) but absent from the "
                                "final list (index %" PRId64 ")",
                                id, tk->acked_ev, at);
            with_index(ex, "create", (int64_t)tk->acked_ev);
        } else {
            ex = report_example(
                "task", id,
                "%s seen (list at index %" PRId64
                ") but absent from the final list (index %" PRId64 ")",
                id, read_at(c, tk->seen_read), at);
        }
        with_index(ex, "read", at);
        report_add(c->out, c->c_lost, ex);
        return true;
    }
    at = read_at(c, tk->absent_read);
    ex = report_example(
        "task", id,
        "%s absent from the list at index %" PRId64
        ", which began after it was %s",
        id, at,
        tk->acked != REQUESTS_OPEN && tk->acked <= tk->seen ? "acked" : "seen");
    with_index(ex, "read", at);
    report_add(c->out, c->c_flap, ex);
    return true;
}

/* Each task: its anomalies, or else the one class it falls in. */
static void judge_task(struct set_check *c, size_t t)
{
    const struct task *tk = &c->tasks[t];
    const struct read *final =
        c->final != SIZE_MAX ? &c->reads[c->final] : NULL;
    bool anomaly = judge_presence(c, t);

    anomaly |= judge_duplicate(c, t);
    anomaly |= judge_absence(c, t);
    if (anomaly) {
        return;
    }
    if (tk->in_final) {
        report_add(c->out, c->c_ok, NULL);
    } else if (final != NULL && tk->delete_call != REQUESTS_OPEN) {
        report_add(c->out, c->c_deleted, NULL);
    } else if (tk->acked == REQUESTS_OPEN && tk->seen == REQUESTS_OPEN) {
        report_add(c->out, c->c_unacked, NULL);
    } else if (final != NULL && tk->seen != REQUESTS_OPEN &&
               c->reads[tk->seen_read].op->ret >= final->op->call) {
        /* Seen only by a read concurrent with the final one. */
        report_add(c->out, c->c_unacked, NULL);
    } else {
        report_add(c->out, c->c_unchecked, NULL); /* no final read */
    }
}

static void report_counts(struct set_check *c)
{
    json_t *info = c->out->info;

    for (size_t t = 0; t < c->names.n; t++) {
        judge_task(c, t);
    }
    if (c->final == SIZE_MAX) {
        char reason[200];
        snprintf(reason, sizeof reason,
                 "no final read: no ok list began after the last create "
                 "completed (%d ok lists in all), so lost tasks can't be told",
                 (int)c->nreads);
        report_unknown(c->out, reason);
    } else {
        json_object_set_new(info, "final_read",
                            json_integer(read_at(c, c->final)));
    }
    json_object_set_new(info, "tasks", json_integer((json_int_t)c->names.n));
    json_object_set_new(info, "reads", json_integer((json_int_t)c->nreads));
    c->out->ops = c->r.nops;
    report_finish(c->out);
}

static void set_check_close(struct set_check *c)
{
    for (size_t k = 0; c->reads != NULL && k < c->nreads; k++) {
        free(c->reads[k].ids);
    }
    free(c->reads);
    free(c->tasks);
    names_free(&c->names);
    requests_free(&c->r);
}

int checker_set(const struct history *h, struct report *out)
{
    struct set_check c = {.out = out};
    int rv;

    names_init(&c.names);
    rv = report_init(out, "set");
    if (rv != 0) {
        return rv;
    }
    declare_classes(&c);
    rv = requests_build(h, &c.r, c.err, sizeof c.err);
    if (rv == 0) {
        rv = read_names(&c);
    }
    if (rv == 0) {
        rv = collect_writes(&c);
    }
    if (rv == 0) {
        rv = collect_reads(&c);
    }
    if (rv == 0) {
        find_absences(&c);
        report_counts(&c);
    } else {
        report_fail(out, rv, c.err);
    }
    set_check_close(&c);
    return rv;
}
