/* shrink: delta debugging (ddmin) over the client operations of a failing
 * history.
 *
 * Happy path: pair every invoke with its process's next completion (one
 * unit), optionally keep only the units of the anomaly's key, then run
 * ddmin: split the units into n parts; if one part alone still fails, keep
 * it (n = 2); else if the units without one part still fail, keep those
 * (n - 1); else split finer (2n) until the parts are single units. Each
 * candidate is a shallow view of the original events (no copies), checked
 * by the caller's test. The result is 1-minimal (removing any one op makes
 * it pass) unless the time limit stopped it first.
 *
 * Failure modes: the whole history does not fail (-EINVAL), allocation
 * failure (-ENOMEM), the test's own error (returned as is).
 */
#include "checker/shrink.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker/requests.h"

struct unit {
    size_t inv;  /* position of the invoke in h->events */
    size_t done; /* position of the completion, or SIZE_MAX */
};

struct shrinker {
    const struct history *h;
    const struct unit *units;
    shrink_test_fn test;
    void *arg;
    struct history_event *view; /* room for h->n events */
    bool *mark;                 /* h->n flags */
    struct shrink_stats *stats;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run the test on the units sel[0..n): 1 fails, 0 passes, < 0 error. */
static int try_units(struct shrinker *s, const size_t *sel, size_t n)
{
    struct history v;
    size_t k = 0;

    memset(s->mark, 0, s->h->n * sizeof *s->mark);
    for (size_t i = 0; i < n; i++) {
        const struct unit *u = &s->units[sel[i]];
        s->mark[u->inv] = true;
        if (u->done != SIZE_MAX) {
            s->mark[u->done] = true;
        }
    }
    for (size_t i = 0; i < s->h->n; i++) {
        if (s->mark[i]) {
            s->view[k++] = s->h->events[i];
        }
    }
    memset(&v, 0, sizeof v);
    v.header = s->h->header;
    v.events = s->view;
    v.n = v.cap = k;
    s->stats->checks++;
    return s->test(&v, s->arg);
}

/* Pair invokes with completions, per process. Returns how many units. */
static size_t pair(const struct history *h, struct unit *units)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        if (e->process == HISTORY_NEMESIS || e->type != HISTORY_INVOKE) {
            continue;
        }
        units[n].inv = i;
        units[n].done = SIZE_MAX;
        for (size_t j = i + 1; j < h->n; j++) {
            const struct history_event *d = &h->events[j];
            if (d->process == e->process) {
                if (d->type != HISTORY_INVOKE) {
                    units[n].done = j;
                }
                break;
            }
        }
        n++;
    }
    return n;
}

/* ddmin over cur[0..*n) (rewritten in place). */
static int ddmin(struct shrinker *s, size_t *cur, size_t *n, size_t *tmp,
                 double deadline)
{
    size_t parts = 2;
    int rv;

    while (*n >= 2) {
        size_t len = *n;
        bool found = false;

        if (deadline > 0 && now_s() > deadline) {
            s->stats->time_out = true;
            return 0;
        }
        if (parts > len) {
            parts = len;
        }
        /* A part alone, then everything but a part. */
        for (int pass = 0; pass < 2 && !found; pass++) {
            for (size_t p = 0; p < parts && !found; p++) {
                size_t lo = len * p / parts, hi = len * (p + 1) / parts;
                size_t m = 0;
                if (pass == 1 && parts == 2) {
                    break; /* the complements are the parts themselves */
                }
                for (size_t i = 0; i < len; i++) {
                    bool in = i >= lo && i < hi;
                    if (in == (pass == 0)) {
                        tmp[m++] = cur[i];
                    }
                }
                if (deadline > 0 && now_s() > deadline) {
                    s->stats->time_out = true;
                    return 0;
                }
                rv = try_units(s, tmp, m);
                if (rv < 0) {
                    return rv;
                }
                if (rv == 1) {
                    memcpy(cur, tmp, m * sizeof *cur);
                    *n = m;
                    parts = pass == 0 ? 2 : (parts > 2 ? parts - 1 : 2);
                    found = true;
                }
            }
        }
        if (!found) {
            if (parts >= len) {
                break; /* 1-minimal */
            }
            parts = parts * 2 < len ? parts * 2 : len;
        }
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Copy the kept units, and the nemesis events within their time span, into
 * @out, in history order. */
static int build_out(const struct history *h, const struct unit *units,
                     const size_t *cur, size_t n, bool *mark,
                     struct history *out, size_t **out_index)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t k = 0;
    size_t *idx;
    int rv;

    memset(mark, 0, h->n * sizeof *mark);
    for (size_t i = 0; i < n; i++) {
        const struct unit *u = &units[cur[i]];
        size_t last = u->done != SIZE_MAX ? u->done : u->inv;
        mark[u->inv] = true;
        mark[last] = true;
        lo = h->events[u->inv].time < lo ? h->events[u->inv].time : lo;
        hi = h->events[last].time > hi ? h->events[last].time : hi;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (h->events[i].process == HISTORY_NEMESIS &&
            h->events[i].time >= lo && h->events[i].time <= hi) {
            mark[i] = true;
        }
    }
    history_init(out);
    out->header.version = h->header.version;
    out->header.seed = h->header.seed;
    out->header.scenario = dup_or_null(h->header.scenario);
    out->header.start_wall = dup_or_null(h->header.start_wall);
    idx = calloc(h->n + 1, sizeof *idx);
    if (idx == NULL) {
        history_close(out);
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n; i++) {
        if (!mark[i]) {
            continue;
        }
        rv = history_add(out, &h->events[i]);
        if (rv != 0) {
            free(idx);
            history_close(out);
            return rv;
        }
        idx[k++] = i;
    }
    *out_index = idx;
    return 0;
}

int shrink_history(const struct history *h,
                   bool (*keep_op)(const struct history_event *inv,
                                   void *arg),
                   shrink_test_fn test, void *arg, double time_s,
                   struct history *out, size_t **out_index,
                   struct shrink_stats *stats)
{
    struct shrinker s = {.h = h, .test = test, .arg = arg, .stats = stats};
    struct unit *units = calloc(h->n + 1, sizeof *units);
    size_t *cur = calloc(h->n + 1, sizeof *cur);
    size_t *tmp = calloc(h->n + 1, sizeof *tmp);
    double t0 = now_s();
    double deadline = time_s > 0 ? t0 + time_s : 0;
    size_t n_units, n = 0;
    int rv = -ENOMEM;

    memset(stats, 0, sizeof *stats);
    *out_index = NULL;
    s.view = calloc(h->n + 1, sizeof *s.view);
    s.mark = calloc(h->n + 1, sizeof *s.mark);
    if (units == NULL || cur == NULL || tmp == NULL || s.view == NULL ||
        s.mark == NULL) {
        goto out;
    }
    s.units = units;
    n_units = pair(h, units);
    stats->ops_before = n_units;
    for (size_t i = 0; i < n_units; i++) {
        cur[i] = i;
    }
    n = n_units;
    rv = try_units(&s, cur, n);
    if (rv <= 0) {
        rv = rv == 0 ? -EINVAL : rv;
        goto out;
    }
    /* The anomaly's part (its key) first, when it fails on its own. */
    if (keep_op != NULL) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (keep_op(&h->events[units[cur[i]].inv], arg)) {
                tmp[m++] = cur[i];
            }
        }
        rv = m < n ? try_units(&s, tmp, m) : 0;
        if (rv < 0) {
            goto out;
        }
        if (rv == 1) {
            memcpy(cur, tmp, m * sizeof *cur);
            n = m;
        }
    }
    rv = ddmin(&s, cur, &n, tmp, deadline);
    if (rv != 0) {
        goto out;
    }
    stats->ops_after = n;
    rv = build_out(h, units, cur, n, s.mark, out, out_index);
out:
    stats->seconds = now_s() - t0;
    free(units);
    free(cur);
    free(tmp);
    free(s.view);
    free(s.mark);
    return rv;
}

/* Register histories: does every value an ok read returned (or an ok cas
 * compared) come from another write or cas kept in @h, invoked before the
 * read returned, that did not fail? A lone "read -> 4" is invalid (the
 * register starts unset) but tells the reader nothing; keeping the writes
 * it saw makes the shrunk history show the stale read it is. */
static bool reads_explained(const struct history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *r = &h->events[i];
        const json_t *seen;
        size_t own;
        bool found = false;
        if (r->process == HISTORY_NEMESIS || r->type != HISTORY_OK) {
            continue;
        }
        /* What the op saw: a read's result, a cas's compared value. */
        seen = strcmp(r->f, "read") == 0  ? r->value
               : strcmp(r->f, "cas") == 0 ? json_array_get(r->value, 0)
                                          : NULL;
        if (seen == NULL || json_is_null(seen)) {
            continue;
        }
        for (own = i; own-- > 0;) {
            if (h->events[own].process == r->process) {
                break; /* the op's own invoke explains nothing */
            }
        }
        for (size_t j = 0; j < h->n && !found; j++) {
            const struct history_event *w = &h->events[j];
            if (w->process == HISTORY_NEMESIS || w->type != HISTORY_INVOKE ||
                w->time > r->time || j == own) {
                continue; /* invoked after the read returned, or itself */
            }
            for (size_t k = j + 1; k < h->n; k++) {
                if (h->events[k].process == w->process) {
                    if (h->events[k].type == HISTORY_FAIL) {
                        w = NULL; /* it did not happen */
                    }
                    break;
                }
            }
            if (w == NULL) {
                continue;
            }
            if (strcmp(w->f, "write") == 0) {
                found = json_equal(w->value, seen);
            } else if (strcmp(w->f, "cas") == 0) {
                found = json_equal(json_array_get(w->value, 1), seen);
            }
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

int shrink_test_linearizable(const struct history *h, void *arg)
{
    struct shrink_lin *l = arg;
    struct verdict v;
    int rv;

    if (!l->explain_known) {
        l->explain_known = true;
        l->explain = strcmp(l->model->name, "cas-register") == 0 &&
                     reads_explained(h);
    }
    if (l->explain && !reads_explained(h)) {
        return 0;
    }
    rv = requests_check(h, l->model, &l->limits, &v);
    bool invalid = rv == 0 && v.result == VERDICT_INVALID;
    verdict_close(&v);
    if (rv == -ENOMEM) {
        return rv;
    }
    return invalid ? 1 : 0;
}

bool shrink_keep_key(const struct history_event *inv, void *arg)
{
    const struct shrink_lin *l = arg;
    if (inv->key == NULL || l->key == NULL) {
        return inv->key == l->key;
    }
    return strcmp(inv->key, l->key) == 0;
}
