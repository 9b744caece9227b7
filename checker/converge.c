/* converge: the replica-convergence checker.
 *
 * At the end of a run, with writes stopped and every node up, the runner
 * asks each node for the digest of its replicated state and records each
 * node's last answer as an ok `digest` op (FORMAT.md, "Convergence"). Raft's
 * State Machine Safety says replicas that applied the same index hold the
 * same state, so among those last answers:
 *
 *   agreed        a node whose digest matches another node's at its index
 *   diverged      two nodes at one applied index with different digests
 *                 (counted per pair of differing states): the anomaly
 *   not_compared  a node alone at its applied index: nothing to compare it
 *                 with (the cluster did not converge in time, or a bug
 *                 left it behind or ahead)
 *   no_answer     a node with digest ops but no ok one (down, unreachable)
 *
 * Nodes at different indices are never compared: a lagging replica is not
 * a wrong one. A history without digest ops (an older run, an import) has
 * nothing to compare and is valid. */
#include "checker/converge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/pairing.h"

struct node {
    const char *name;   /* borrowed from the history */
    bool answered;      /* an ok digest */
    int64_t applied;    /* its applied_index */
    const char *digest; /* borrowed */
    json_t *rows;       /* borrowed, or NULL */
    json_t *tables;     /* borrowed, or NULL */
    int64_t event;      /* the ok event's index */
};

struct ctx {
    const struct history *h;
    struct report *out;
    struct node *nodes;
    size_t n;
    int diverged;                        /* its report class */
    int agreed, not_compared, no_answer; /* nodes counted */
};

static const char *node_name(const struct history_event *e)
{
    const char *name = json_string_value(json_object_get(e->value, "node"));

    if (name == NULL) {
        name = e->key != NULL ? e->key : e->node;
    }
    return name != NULL ? name : "";
}

static struct node *node_of(struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->nodes[i].name, name) == 0) {
            return &c->nodes[i];
        }
    }
    c->nodes[c->n] = (struct node){.name = name};
    return &c->nodes[c->n++];
}

/* Each node's last ok digest. */
static int collect(struct ctx *c)
{
    const struct history *h = c->h;

    c->nodes = calloc(h->n + 1, sizeof *c->nodes);
    if (c->nodes == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        json_t *applied = json_object_get(e->value, "applied_index");
        const char *digest;
        struct node *nd;

        if (e->process == HISTORY_NEMESIS || strcmp(e->f, "digest") != 0) {
            continue;
        }
        if (e->type == HISTORY_INVOKE) {
            c->out->ops++;
            continue;
        }
        nd = node_of(c, node_name(e));
        if (e->type != HISTORY_OK) {
            continue;
        }
        digest = json_string_value(json_object_get(e->value, "digest"));
        if (!json_is_integer(applied) || digest == NULL) {
            char where[48];
            pairing_where(e, where, sizeof where);
            snprintf(c->out->reason, sizeof c->out->reason,
                     "%s: ok digest value: expected an object with an "
                     "integer \"applied_index\" and a string \"digest\"",
                     where);
            return -EINVAL;
        }
        nd->answered = true;
        nd->applied = json_integer_value(applied);
        nd->digest = digest;
        nd->rows = json_object_get(e->value, "rows");
        nd->tables = json_object_get(e->value, "tables");
        nd->event = e->index;
    }
    return 0;
}

static int by_index_then_name(const void *a, const void *b)
{
    const struct node *x = a, *y = b;

    if (x->answered != y->answered) {
        return x->answered ? -1 : 1;
    }
    if (x->applied != y->applied) {
        return x->applied < y->applied ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= size) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

/* "rows kv 8/8, tasks 412/411; differ in tasks" for @a and @b. */
static void compare_text(const struct node *a, const struct node *b, char *buf,
                         size_t size)
{
    const char *key;
    json_t *v;
    bool first = true;

    buf[0] = '\0';
    json_object_foreach(a->rows, key, v)
    {
        json_t *w = json_object_get(b->rows, key);
        append(buf, size, "%s%s %lld/", first ? "rows " : ", ", key,
               (long long)json_integer_value(v));
        append(buf, size, json_is_integer(w) ? "%lld" : "?",
               (long long)json_integer_value(w));
        first = false;
    }
    first = true;
    json_object_foreach(a->tables, key, v)
    {
        const char *x = json_string_value(v);
        const char *y = json_string_value(json_object_get(b->tables, key));
        if (x != NULL && y != NULL && strcmp(x, y) != 0) {
            append(buf, size, "%s%s", first ? "; differ in " : ", ", key);
            first = false;
        }
    }
}

/* Nodes [lo, hi) answered at one applied index. */
static void judge_group(struct ctx *c, size_t lo, size_t hi, char *note,
                        size_t note_size)
{
    const struct node *g = &c->nodes[lo];
    size_t n = hi - lo;
    int states = 1;

    if (n == 1) {
        c->not_compared++;
        append(note, note_size, "%s%s at %lld not compared",
               note[0] ? "; " : "", g->name, (long long)g->applied);
        return;
    }
    /* Nodes sharing a digest with another one agree. */
    for (size_t i = lo; i < hi; i++) {
        for (size_t j = lo; j < hi; j++) {
            if (i != j && strcmp(c->nodes[i].digest, c->nodes[j].digest) == 0) {
                c->agreed++;
                break;
            }
        }
    }
    /* One anomaly per distinct state beside the first node's. */
    for (size_t j = lo + 1; j < hi; j++) {
        const struct node *b = &c->nodes[j];
        bool seen = strcmp(b->digest, g->digest) == 0;
        char text[512], cmp[256];
        json_t *ex;

        for (size_t k = lo + 1; k < j && !seen; k++) {
            seen = strcmp(c->nodes[k].digest, b->digest) == 0;
        }
        if (seen) {
            continue;
        }
        states++;
        compare_text(g, b, cmp, sizeof cmp);
        snprintf(text, sizeof text,
                 "replicas diverged: %s and %s both applied index %lld but "
                 "hold different state (digests %.8s..., %.8s...%s%s)",
                 g->name, b->name, (long long)g->applied, g->digest, b->digest,
                 cmp[0] ? "; " : "", cmp);
        ex = json_pack("{s:s, s:[s,s], s:I, s:[s,s], s:[I,I]}", "description",
                       text, "nodes", g->name, b->name, "applied_index",
                       (json_int_t)g->applied, "digests", g->digest, b->digest,
                       "ops", (json_int_t)g->event, (json_int_t)b->event);
        report_add(c->out, c->diverged, ex);
    }
    if (states == 1) {
        append(note, note_size, "%s", note[0] ? "; " : "");
        for (size_t i = lo; i < hi; i++) {
            append(note, note_size, "%s%s", i > lo ? ", " : "",
                   c->nodes[i].name);
        }
        append(note, note_size, " agree at index %lld", (long long)g->applied);
    }
}

int checker_converge(const struct history *h, struct report *out)
{
    struct ctx c = {.h = h, .out = out};
    int agreed, not_compared, no_answer;
    char note[sizeof out->note] = "";
    size_t answered = 0;
    int rv;

    rv = report_init(out, "converge");
    if (rv != 0) {
        return rv;
    }
    agreed = report_class(out, "agreed", false);
    c.diverged = report_class(out, "diverged", true);
    not_compared = report_class(out, "not_compared", false);
    no_answer = report_class(out, "no_answer", false);
    rv = collect(&c);
    if (rv != 0) {
        out->result = VERDICT_UNKNOWN;
        free(c.nodes);
        return rv;
    }
    qsort(c.nodes, c.n, sizeof *c.nodes, by_index_then_name);
    while (answered < c.n && c.nodes[answered].answered) {
        answered++;
    }
    for (size_t lo = 0, hi; lo < answered; lo = hi) {
        for (hi = lo + 1;
             hi < answered && c.nodes[hi].applied == c.nodes[lo].applied;
             hi++) {
        }
        judge_group(&c, lo, hi, note, sizeof note);
    }
    for (size_t i = answered; i < c.n; i++) {
        c.no_answer++;
        append(note, sizeof note, "%s%s: no digest", note[0] ? "; " : "",
               c.nodes[i].name);
    }
    if (c.n == 0) {
        snprintf(note, sizeof note, "no digest ops: nothing to compare");
    }
    /* Counts without examples: one per node. */
    for (int k = 0; k < c.agreed; k++) {
        report_add(out, agreed, NULL);
    }
    for (int k = 0; k < c.not_compared; k++) {
        report_add(out, not_compared, NULL);
    }
    for (int k = 0; k < c.no_answer; k++) {
        report_add(out, no_answer, NULL);
    }
    report_note(out, note);
    json_object_set_new(out->info, "nodes", json_integer((json_int_t)c.n));
    free(c.nodes);
    report_finish(out);
    return 0;
}
