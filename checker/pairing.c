/* pairing: invokes paired with completions, per process, for every checker
 * that judges ops (linearizable.c, and requests.c for the set, task-record
 * and lease checkers), so that they accept and refuse the same histories
 * with the same words. */
#include "checker/pairing.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pairing_where(const struct history_event *e, char *buf, size_t size)
{
    if (e->line > 0) {
        snprintf(buf, size, "line %d", e->line);
    } else {
        snprintf(buf, size, "index %" PRId64, e->index);
    }
    return buf;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static bool same_key(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

/* Not an op of the workload: the nemesis's events, and the runner's
 * end-of-run probes (digest: FORMAT.md, "Convergence"; checker/converge.c
 * reads them). */
static bool not_client(const struct history_event *e)
{
    return e->process == HISTORY_NEMESIS || strcmp(e->f, "digest") == 0;
}

/* Per process: the op it has open, and where it went info. */
struct proc {
    size_t open; /* op number, or SIZE_MAX */
    size_t info; /* event position of its info completion, or SIZE_MAX */
};

int pairing_build(const struct history *h, struct pairing_op **ops_out,
                  size_t *n_out, char *err, size_t errlen)
{
    char w1[40], w2[40];
    int *procs = malloc((h->n + 1) * sizeof *procs);
    size_t nprocs = 0, n = 0, u = 0;
    struct proc *ps = NULL;
    struct pairing_op *ops = malloc((h->n + 1) * sizeof *ops);
    int rv = -ENOMEM;

    *ops_out = NULL;
    *n_out = 0;
    if (procs == NULL || ops == NULL) {
        goto out;
    }
    /* Dense process numbers: sort the distinct ones. */
    for (size_t i = 0; i < h->n; i++) {
        if (!not_client(&h->events[i])) {
            procs[nprocs++] = h->events[i].process;
        }
    }
    qsort(procs, nprocs, sizeof *procs, int_cmp);
    for (size_t i = 0; i < nprocs; i++) {
        if (u == 0 || procs[u - 1] != procs[i]) {
            procs[u++] = procs[i];
        }
    }
    nprocs = u;
    ps = malloc((nprocs + 1) * sizeof *ps);
    if (ps == NULL) {
        goto out;
    }
    for (size_t i = 0; i < nprocs; i++) {
        ps[i] = (struct proc){SIZE_MAX, SIZE_MAX};
    }
    rv = -EINVAL;
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *ev = &h->events[i];
        if (not_client(ev)) {
            continue;
        }
        int *found =
            bsearch(&ev->process, procs, nprocs, sizeof *procs, int_cmp);
        struct proc *p = &ps[found - procs];
        pairing_where(ev, w1, sizeof w1);
        if (ev->type == HISTORY_INVOKE) {
            if (p->open != SIZE_MAX) {
                const struct history_event *o = &h->events[ops[p->open].inv];
                pairing_where(o, w2, sizeof w2);
                snprintf(err, errlen,
                         "%s: process %d invokes %s while its %s from %s is "
                         "still open",
                         w1, ev->process, ev->f, o->f, w2);
                goto out;
            }
            if (p->info != SIZE_MAX) {
                pairing_where(&h->events[p->info], w2, sizeof w2);
                snprintf(err, errlen,
                         "%s: process %d invokes %s after its op ended in "
                         "info at %s (it must move to a new process)",
                         w1, ev->process, ev->f, w2);
                goto out;
            }
            ops[n] = (struct pairing_op){i, SIZE_MAX};
            p->open = n++;
            continue;
        }
        if (p->open == SIZE_MAX) {
            snprintf(err, errlen, "%s: process %d: %s %s without an invoke", w1,
                     ev->process, history_type_name(ev->type), ev->f);
            goto out;
        }
        struct pairing_op *o = &ops[p->open];
        const struct history_event *inv = &h->events[o->inv];
        pairing_where(inv, w2, sizeof w2);
        if (strcmp(inv->f, ev->f) != 0 ||
            (ev->key != NULL && !same_key(inv->key, ev->key))) {
            snprintf(err, errlen,
                     "%s: process %d completes %s on key %s%s%s, but its "
                     "invoke at %s is %s on key %s%s%s",
                     w1, ev->process, ev->f, ev->key ? "\"" : "",
                     ev->key ? ev->key : "(none)", ev->key ? "\"" : "", w2,
                     inv->f, inv->key ? "\"" : "",
                     inv->key ? inv->key : "(none)", inv->key ? "\"" : "");
            goto out;
        }
        if (ev->time < inv->time) {
            snprintf(err, errlen,
                     "%s: process %d completes at time %" PRId64
                     ", before its invoke at %s (time %" PRId64 ")",
                     w1, ev->process, ev->time, w2, inv->time);
            goto out;
        }
        o->done = i;
        if (ev->type == HISTORY_INFO) {
            p->info = i;
        }
        p->open = SIZE_MAX;
    }
    rv = 0;
    *ops_out = ops;
    *n_out = n;
    ops = NULL;

out:
    free(procs);
    free(ps);
    free(ops);
    return rv;
}

int pairing_request_ops(const struct history *h, struct requests *r, char *err,
                        size_t errlen)
{
    struct pairing_op *ops;
    size_t n;
    int rv = pairing_build(h, &ops, &n, err, errlen);
    if (rv != 0) {
        return rv;
    }
    r->ops = malloc((n + 1) * sizeof *r->ops);
    if (r->ops == NULL) {
        free(ops);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct history_event *inv = &h->events[ops[i].inv];
        const struct history_event *done =
            ops[i].done != SIZE_MAX ? &h->events[ops[i].done] : NULL;
        r->ops[i] = (struct request_op){
            .invoke = inv,
            .done = done,
            .type = done != NULL ? done->type : HISTORY_INFO,
            .call = inv->time,
            .ret = done != NULL && done->type == HISTORY_OK ? done->time
                                                            : REQUESTS_OPEN,
        };
    }
    r->nops = n;
    free(ops);
    return 0;
}
