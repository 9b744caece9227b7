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

int checker_set(const struct history *h, struct report *out)
{
    struct requests r;
    struct names names;
    struct task *tasks = NULL;
    struct read *reads = NULL;
    size_t nreads = 0, final = SIZE_MAX;
    int64_t last_create = INT64_MIN;
    char err[256];
    int rv;

    names_init(&names);
    rv = report_init(out, "set");
    if (rv != 0) {
        return rv;
    }
    int c_ok = report_class(out, "ok", false);
    int c_lost = report_class(out, "lost", true);
    int c_flap = report_class(out, "flapping", true);
    int c_dup = report_class(out, "duplicated", true);
    int c_phantom = report_class(out, "phantom", true);
    int c_failed = report_class(out, "present_but_failed", true);
    int c_deleted = report_class(out, "deleted", false);
    int c_unacked = report_class(out, "unacked", false);
    int c_unchecked = report_class(out, "unchecked", false);

    err[0] = '\0';
    rv = requests_build(h, &r, err, sizeof err);
    if (rv != 0) {
        goto fail;
    }

    /* Every task name: created, deleted, or read. */
    for (size_t i = 0; i < r.nops && rv == 0; i++) {
        const struct request_op *o = &r.ops[i];
        if (requests_is(o, "create") || requests_is(o, "delete")) {
            if (o->invoke->key == NULL) {
                char w[32];
                pairing_where(o->invoke, w, sizeof w);
                snprintf(err, sizeof err, "%s: %s without a key (task id)", w,
                         o->invoke->f);
                rv = -EINVAL;
                goto fail;
            }
            rv = names_add(&names, o->invoke->key);
        } else if (requests_is(o, "list") && o->type == HISTORY_OK) {
            rv = read_ids(o, &names, true, NULL, err, sizeof err);
            nreads++;
        }
    }
    if (rv != 0) {
        goto fail;
    }
    names_seal(&names);
    tasks = calloc(names.n + 1, sizeof *tasks);
    reads = calloc(nreads + 1, sizeof *reads);
    if (tasks == NULL || reads == NULL) {
        rv = -ENOMEM;
        goto fail;
    }
    for (size_t t = 0; t < names.n; t++) {
        tasks[t].acked = tasks[t].seen = tasks[t].delete_call = REQUESTS_OPEN;
    }

    /* Creates and deletes, by logical request. */
    for (size_t q = 0; q < r.nreqs; q++) {
        const struct request *rq = &r.reqs[q];
        const struct request_op *o = &r.ops[rq->first];
        struct task *t;
        if (!requests_is(o, "create") && !requests_is(o, "delete")) {
            continue;
        }
        t = &tasks[names_find(&names, o->invoke->key)];
        if (requests_is(o, "delete")) {
            if (rq->outcome != REQUEST_FAILED && rq->call < t->delete_call) {
                t->delete_call = rq->call;
            }
            continue;
        }
        if (!t->attempted) {
            t->create_ev = (size_t)o->invoke->index;
        }
        t->attempted = true;
        if (rq->outcome != REQUEST_FAILED) {
            t->any_not_failed = true;
        } else {
            size_t f = rq->refused != SIZE_MAX ? rq->refused : rq->first;
            t->failed_ev = (size_t)(r.ops[f].done ? r.ops[f].done->index
                                                  : r.ops[f].invoke->index);
        }
        if (rq->outcome == REQUEST_OK && rq->ret < t->acked) {
            t->acked = rq->ret;
            t->acked_ev = (size_t)r.ops[rq->ok].done->index;
        }
        if (rq->fresh_oks > 1 && !t->dup_rid) {
            t->dup_rid = true;
            t->dup_rid_ev = (size_t)o->invoke->index;
        }
    }
    for (size_t i = 0; i < r.nops; i++) {
        const struct request_op *o = &r.ops[i];
        if (requests_is(o, "create")) {
            int64_t done = o->done ? o->done->time : o->call;
            if (done > last_create) {
                last_create = done;
            }
        }
    }

    /* Reads, sorted by invoke, and the final one. */
    nreads = 0;
    for (size_t i = 0; i < r.nops; i++) {
        const struct request_op *o = &r.ops[i];
        if (!requests_is(o, "list") || o->type != HISTORY_OK) {
            continue;
        }
        struct read *rd = &reads[nreads++];
        rd->op = o;
        rv = read_ids(o, &names, false, rd, err, sizeof err);
        if (rv != 0) {
            goto fail;
        }
        qsort(rd->ids, rd->n, sizeof *rd->ids, size_cmp);
    }
    qsort(reads, nreads, sizeof *reads, by_call);
    for (size_t k = 0; k < nreads; k++) {
        const struct read *rd = &reads[k];
        for (size_t j = 0; j < rd->n; j++) {
            struct task *t = &tasks[rd->ids[j]];
            if (j > 0 && rd->ids[j] == rd->ids[j - 1] && !t->dup_read) {
                t->dup_read = true;
                t->dup_read_at = k;
            }
            if (rd->op->ret < t->seen) {
                t->seen = rd->op->ret;
                t->seen_read = k;
            }
        }
        if (rd->op->call > last_create) {
            final = k;
        }
    }
    /* Absent after known: the first read that began after the task was
     * known to exist and lacks it, with no delete that may explain it.
     * Reads that show it are skipped, so the work is about the size of
     * the reads. */
    for (size_t t = 0; t < names.n; t++) {
        struct task *tk = &tasks[t];
        int64_t known = tk->acked < tk->seen ? tk->acked : tk->seen;
        size_t lo = 0, hi = nreads;
        if (known == REQUESTS_OPEN) {
            continue;
        }
        while (lo < hi) { /* the first read that began after known */
            size_t mid = lo + (hi - lo) / 2;
            if (reads[mid].op->call <= known) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (size_t k = lo; k < nreads; k++) {
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
    if (final != SIZE_MAX) {
        for (size_t t = 0; t < names.n; t++) {
            tasks[t].in_final = read_has(&reads[final], t);
        }
    }

    for (size_t t = 0; t < names.n; t++) {
        const struct task *tk = &tasks[t];
        const char *id = names.v[t];
        bool anomaly = false;
        json_t *ex;
        if (tk->seen != REQUESTS_OPEN && !tk->attempted) {
            ex = report_example("task", id,
                                "%s in the list at index %" PRId64
                                " but never created",
                                id, reads[tk->seen_read].op->invoke->index);
            with_index(ex, "read", reads[tk->seen_read].op->invoke->index);
            report_add(out, c_phantom, ex);
            anomaly = true;
        }
        if (tk->seen != REQUESTS_OPEN && tk->attempted && !tk->any_not_failed) {
            ex = report_example("task", id,
                                "%s in the list at index %" PRId64
                                " though its create failed (index %zu)",
                                id, reads[tk->seen_read].op->invoke->index,
                                tk->failed_ev);
            with_index(ex, "read", reads[tk->seen_read].op->invoke->index);
            with_index(ex, "create", (int64_t)tk->failed_ev);
            report_add(out, c_failed, ex);
            anomaly = true;
        }
        if (tk->dup_read || tk->dup_rid) {
            if (tk->dup_read) {
                int64_t at = reads[tk->dup_read_at].op->invoke->index;
                ex = report_example("task", id,
                                    "%s twice in the list at index %" PRId64,
                                    id, at);
                with_index(ex, "read", at);
            } else {
                ex = report_example("task", id,
                                    "%s: the create invoked at index %zu was "
                                    "applied twice (two ok replies without "
                                    "\"duplicate\")",
                                    id, tk->dup_rid_ev);
                with_index(ex, "create", (int64_t)tk->dup_rid_ev);
            }
            report_add(out, c_dup, ex);
            anomaly = true;
        }
        if (final != SIZE_MAX && !tk->in_final && tk->absent_after_known) {
            int64_t at = reads[final].op->invoke->index;
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
                    id, reads[tk->seen_read].op->invoke->index, at);
            }
            with_index(ex, "read", at);
            report_add(out, c_lost, ex);
            anomaly = true;
        } else if (tk->absent_after_known) {
            int64_t at = reads[tk->absent_read].op->invoke->index;
            ex = report_example(
                "task", id,
                "%s absent from the list at index %" PRId64
                ", which began after it was %s",
                id, at,
                tk->acked != REQUESTS_OPEN && tk->acked <= tk->seen ? "acked"
                                                                    : "seen");
            with_index(ex, "read", at);
            report_add(out, c_flap, ex);
            anomaly = true;
        }
        if (anomaly) {
            continue;
        }
        if (tk->in_final) {
            report_add(out, c_ok, NULL);
        } else if (final != SIZE_MAX && tk->delete_call != REQUESTS_OPEN) {
            report_add(out, c_deleted, NULL);
        } else if (tk->acked == REQUESTS_OPEN && tk->seen == REQUESTS_OPEN) {
            report_add(out, c_unacked, NULL);
        } else if (final != SIZE_MAX && tk->seen != REQUESTS_OPEN &&
                   reads[tk->seen_read].op->ret >= reads[final].op->call) {
            /* Seen only by a read concurrent with the final one. */
            report_add(out, c_unacked, NULL);
        } else {
            report_add(out, c_unchecked, NULL); /* no final read */
        }
    }
    if (final == SIZE_MAX) {
        char reason[200];
        snprintf(reason, sizeof reason,
                 "no final read: no ok list began after the last create "
                 "completed (%d ok lists in all), so lost tasks can't be told",
                 (int)nreads);
        report_unknown(out, reason);
    } else {
        json_object_set_new(out->info, "final_read",
                            json_integer(reads[final].op->invoke->index));
    }
    json_object_set_new(out->info, "tasks", json_integer((json_int_t)names.n));
    json_object_set_new(out->info, "reads", json_integer((json_int_t)nreads));
    out->ops = r.nops;
    report_finish(out);
    rv = 0;
    goto out;

fail:
    report_fail(out, rv, err);
out:
    for (size_t k = 0; reads != NULL && k < nreads; k++) {
        free(reads[k].ids);
    }
    free(reads);
    free(tasks);
    names_free(&names);
    requests_free(&r);
    return rv;
}
