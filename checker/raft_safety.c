/* raft_safety: Raft's safety properties from the nodes' protocol events
 * (raft_safety.h). Each node's file is read once, in order, keeping what
 * the node has said is durable since it last started; a `recovered` event
 * is compared with that at once. Leaders per term and entries per applied
 * index are collected from every node and compared at the end, sorted. */
#include "checker/raft_safety.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checker/intern.h"
#include "histories/history.h"

/* What a node has said is durable since it last started. */
struct durable {
    int64_t term; /* highest term persisted, 0: none */
    int64_t vote; /* vote persisted in vote_term, 0: none */
    int64_t vote_term;
    int64_t last;     /* last log index reported durable, 0: none */
    size_t term_line; /* where each was said */
    size_t vote_line;
    size_t last_line;
    bool join;       /* the current process started as a joiner */
    bool sole_voter; /* its last configuration has it as the only voter */
    bool candidate;  /* it was a candidate since it started or followed */
    /* A became_leader without a candidacy seen (a restart's self-election:
     * libraft says the configuration after the leadership), 1 + its fact's
     * number in c->leaders until the next configuration event; 0: none. */
    size_t pending_leader;
};

/* A fact from one node, compared across nodes at the end. */
struct fact {
    int64_t key;     /* the term (leaders) or the index (applied) */
    uint64_t value;  /* applied: the entry hash */
    uint64_t result; /* applied: a hash of the reply and duplicate flag */
    size_t node;     /* in the caller's array */
    size_t line;     /* in its file */
};

struct facts {
    struct fact *v;
    size_t n, cap;
};

struct ctx {
    const struct raft_safety_node *nodes;
    struct report *out;
    struct facts leaders, applied, requests;
    int two_leaders, term_lost, vote_lost, log_lost, applied_differently;
    int answered_differently, applied_twice, change_overwritten;
    int restarts, terms_led, sole_voter_reused; /* fact classes */
    int64_t protocol_events, skipped_lines, wiped;
};

static int facts_add(struct facts *f, int64_t key, uint64_t value,
                     uint64_t result, size_t node, size_t line)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        struct fact *v = realloc(f->v, cap * sizeof *v);
        if (v == NULL) {
            return -ENOMEM;
        }
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (struct fact){key, value, result, node, line};
    return 0;
}

static int64_t int_field(const json_t *e, const char *name)
{
    const json_t *v = json_object_get(e, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void add_example(struct ctx *c, int cls, const char *node, size_t line,
                        const char *text)
{
    char at[96];

    /* A string, not a number: the explainer reads numbers as op indices. */
    snprintf(at, sizeof at, "nodes/%s/events.jsonl:%zu", node, line);
    report_add(c->out, cls,
               json_pack("{s:s, s:s, s:s}", "description", text, "node", node,
                         "at", at));
}

/* A node came back (`recovered` at @line): does it hold what it said was
 * durable before it stopped? */
static void judge_recovered(struct ctx *c, size_t i, const json_t *e,
                            size_t line, struct durable *d)
{
    const char *name = c->nodes[i].name;
    int64_t term = int_field(e, "term");
    int64_t vote = int_field(e, "voted_for");
    int64_t last = int_field(e, "last_index");
    char text[512];

    if (d->join && term == 0 && last == 0) {
        /* A wiped member rejoining with an empty data dir, on purpose. */
        c->wiped++;
        *d = (struct durable){.join = true};
        return;
    }
    report_add(c->out, c->restarts, NULL);
    if (term >= 0 && term < d->term) {
        snprintf(text, sizeof text,
                 "%s came back with term %lld (events.jsonl:%zu) after it "
                 "had persisted term %lld (line %zu): a node that forgets "
                 "its term can vote twice in one term",
                 name, (long long)term, line, (long long)d->term, d->term_line);
        add_example(c, c->term_lost, name, line, text);
    } else if (term == d->vote_term && d->vote != 0 && vote != d->vote) {
        snprintf(text, sizeof text,
                 "%s came back in term %lld with vote %lld "
                 "(events.jsonl:%zu) after it had persisted a vote for %lld "
                 "in that term (line %zu): it can vote again, for another "
                 "candidate",
                 name, (long long)term, (long long)vote, line,
                 (long long)d->vote, d->vote_line);
        add_example(c, c->vote_lost, name, line, text);
    }
    if (last >= 0 && last < d->last) {
        snprintf(text, sizeof text,
                 "%s came back with its log ending at index %lld "
                 "(events.jsonl:%zu) after it had reported entries up to "
                 "%lld durable (line %zu): an entry counted in a quorum "
                 "is gone",
                 name, (long long)last, line, (long long)d->last, d->last_line);
        add_example(c, c->log_lost, name, line, text);
    }
    /* What it holds now is the new baseline. */
    if (term > d->term) {
        d->term = term;
        d->term_line = line;
    }
    if (term != d->vote_term) {
        d->vote = 0;
    }
    if (last >= 0) {
        d->last = last;
        d->last_line = line;
    }
}

static uint64_t fnv(const char *p)
{
    return intern_fnv(INTERN_FNV_INIT, p, p != NULL ? strlen(p) : 0);
}

static uint64_t parse_hash(const json_t *v)
{
    const char *s = json_string_value(v);
    return s != NULL ? strtoull(s, NULL, 16) : 0;
}

/* FNV-1a of what applying the entry answered (the reply, whether it was a
 * duplicate): the same entry applied to the same state answers the same. */
static uint64_t result_hash(const json_t *e)
{
    json_t *both =
        json_pack("{s:O?, s:O?}", "result", json_object_get(e, "result"),
                  "duplicate", json_object_get(e, "duplicate"));
    char *text =
        both != NULL ? json_dumps(both, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint64_t h = fnv(text);

    free(text);
    json_decref(both);
    return h;
}

/* Is the node of configuration event @e its only voter? libraft makes such
 * a node leader without an election, in the term it is in (its
 * convertToCandidate fast path: no term bump), which may be a term another
 * node led before the configuration shrank. */
static bool sole_voter(const json_t *e)
{
    const json_t *servers = json_object_get(e, "servers");
    int64_t me = int_field(e, "node");
    size_t k, voters = 0;
    bool mine = false;
    json_t *s;

    json_array_foreach(servers, k, s)
    {
        const char *role = json_string_value(json_object_get(s, "role"));
        if (role != NULL && strcmp(role, "voter") == 0) {
            voters++;
            mine = int_field(s, "id") == me;
        }
    }
    return voters == 1 && mine;
}

/* One event of node @i at @line. */
static int one_event(struct ctx *c, size_t i, const json_t *e, size_t line,
                     struct durable *d, bool *started)
{
    const char *ev = json_string_value(json_object_get(e, "event"));

    if (ev == NULL) {
        c->skipped_lines++;
        return 0;
    }
    if (strcmp(ev, "start") == 0) {
        d->join = json_is_true(json_object_get(e, "join"));
    } else if (strcmp(ev, "recovered") == 0) {
        if (*started) {
            judge_recovered(c, i, e, line, d);
        }
        d->candidate = false;
        d->pending_leader = 0;
        *started = true;
        c->protocol_events++;
    } else if (strcmp(ev, "term_persisted") == 0) {
        int64_t t = int_field(e, "term");
        if (t > d->term) {
            d->term = t;
            d->term_line = line;
        }
        c->protocol_events++;
    } else if (strcmp(ev, "vote_persisted") == 0) {
        d->vote_term = int_field(e, "term");
        d->vote = int_field(e, "vote");
        d->vote_line = line;
        c->protocol_events++;
    } else if (strcmp(ev, "append_persisted") == 0) {
        int64_t last = int_field(e, "last");
        if (last > d->last) {
            d->last = last;
            d->last_line = line;
        }
        c->protocol_events++;
    } else if (strcmp(ev, "truncated") == 0 ||
               strcmp(ev, "snapshot_install_end") == 0) {
        int64_t index = int_field(e, "index");
        if (index >= 0) {
            /* Truncation removes from @index; an install leaves the log
             * ending at the snapshot. */
            d->last = ev[0] == 't' ? index - 1 : index;
            d->last_line = line;
        }
        c->protocol_events++;
    } else if (strcmp(ev, "configuration") == 0) {
        d->sole_voter = sole_voter(e);
        if (d->pending_leader > 0 && d->sole_voter) {
            c->leaders.v[d->pending_leader - 1].result = 1;
        }
        d->pending_leader = 0;
    } else if (strcmp(ev, "became_candidate") == 0) {
        d->candidate = true;
    } else if (strcmp(ev, "became_follower") == 0) {
        d->candidate = false;
    } else if (strcmp(ev, "became_leader") == 0) {
        /* Leader without a candidacy: libraft's sole-voter fast path, at
         * once when it restarts as the only voter, before it reports the
         * configuration it restored: the next configuration event says. */
        d->pending_leader = !d->sole_voter && !d->candidate
                                ? c->leaders.n + 1
                                : 0;
        d->candidate = false;
        return facts_add(&c->leaders, int_field(e, "term"), 0, d->sole_voter, i,
                         line);
    } else if (strcmp(ev, "command_applied") == 0) {
        const json_t *entry = json_object_get(e, "entry");
        const char *rid = json_string_value(json_object_get(e, "rid"));
        int rv = 0;
        if (entry != NULL) {
            rv = facts_add(&c->applied, int_field(e, "index"),
                           parse_hash(entry), result_hash(e), i, line);
        }
        if (rv == 0 && rid != NULL &&
            !json_is_true(json_object_get(e, "duplicate"))) {
            /* A request applied (not answered as a duplicate): at most
             * one index may do that for one request id. */
            rv = facts_add(&c->requests, (int64_t)fnv(rid),
                           (uint64_t)int_field(e, "index"), 0, i, line);
        }
        return rv;
    }
    return 0;
}

static int read_node(struct ctx *c, size_t i)
{
    struct durable d = {0};
    bool started = false;
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t len;
    FILE *f;
    int rv = 0;

    f = fopen(c->nodes[i].path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return 0; /* a slot that never ran */
        }
        snprintf(c->out->reason, sizeof c->out->reason, "%s: %s",
                 c->nodes[i].path, strerror(errno));
        return -EIO;
    }
    while (rv == 0 && (len = getline(&buf, &cap, f)) >= 0) {
        json_t *e = json_loadb(buf, (size_t)len, 0, NULL);
        line++;
        if (!json_is_object(e)) {
            c->skipped_lines++;
        } else {
            rv = one_event(c, i, e, line, &d, &started);
        }
        json_decref(e);
    }
    free(buf);
    fclose(f);
    return rv;
}

static int by_key(const void *a, const void *b)
{
    const struct fact *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->node < y->node ? -1 : x->node > y->node;
}

/* Sort @f's facts so that those of one key are next to each other. */
static void facts_sort(struct facts *f, int (*cmp)(const void *, const void *))
{
    if (f->n > 1) {
        qsort(f->v, f->n, sizeof *f->v, cmp);
    }
}

/* The end of the group of sorted facts that have @lo's key. */
static size_t group_end(const struct facts *f, size_t lo)
{
    size_t hi = lo + 1;

    while (hi < f->n && f->v[hi].key == f->v[lo].key) {
        hi++;
    }
    return hi;
}

/* Two nodes leader in one term; one example per term. Returns the number
 * of terms with a leader. */
static size_t judge_leaders(struct ctx *c)
{
    struct facts *f = &c->leaders;
    size_t terms = 0;
    char text[512];

    facts_sort(f, by_key);
    for (size_t lo = 0, hi; lo < f->n; lo = hi) {
        hi = group_end(f, lo);
        terms++;
        report_add(c->out, c->terms_led, NULL);
        for (size_t k = lo + 1; k < hi; k++) {
            if (f->v[k].node != f->v[lo].node &&
                (f->v[k].result != 0 || f->v[lo].result != 0)) {
                /* One of them self-elected as the only voter: libraft's
                 * design (docs/findings/libraft-sole-voter-term.md); the
                 * damage it can do shows as applied_differently. */
                report_add(c->out, c->sole_voter_reused, NULL);
                break;
            }
            if (f->v[k].node != f->v[lo].node) {
                const struct fact *a = &f->v[lo], *b = &f->v[k];
                snprintf(text, sizeof text,
                         "%s and %s both became leader in term %lld "
                         "(events.jsonl:%zu and :%zu): Election Safety "
                         "allows one",
                         c->nodes[a->node].name, c->nodes[b->node].name,
                         (long long)a->key, a->line, b->line);
                add_example(c, c->two_leaders, c->nodes[b->node].name, b->line,
                            text);
                break;
            }
        }
    }
    return terms;
}

/* Different entries applied at one index; one example per index. */
static size_t judge_applied(struct ctx *c)
{
    struct facts *f = &c->applied;
    size_t compared = 0;
    char text[512];

    facts_sort(f, by_key);
    for (size_t lo = 0, hi; lo < f->n; lo = hi) {
        bool other_node = false;
        hi = group_end(f, lo);
        for (size_t k = lo + 1; k < hi; k++) {
            other_node |= f->v[k].node != f->v[lo].node;
        }
        compared += other_node;
        for (size_t k = lo + 1; k < hi; k++) {
            if (f->v[k].value == f->v[lo].value &&
                f->v[k].result != f->v[lo].result &&
                f->v[k].node != f->v[lo].node) {
                const struct fact *a = &f->v[lo], *b = &f->v[k];
                snprintf(text, sizeof text,
                         "%s and %s applied the same entry at index %lld and "
                         "answered differently (events.jsonl:%zu and :%zu): "
                         "their states had diverged before it",
                         c->nodes[a->node].name, c->nodes[b->node].name,
                         (long long)a->key, a->line, b->line);
                add_example(c, c->answered_differently, c->nodes[b->node].name,
                            b->line, text);
                break;
            }
        }
        for (size_t k = lo + 1; k < hi; k++) {
            if (f->v[k].value != f->v[lo].value) {
                const struct fact *a = &f->v[lo], *b = &f->v[k];
                snprintf(text, sizeof text,
                         "%s and %s applied different entries at index %lld "
                         "(%016llx at events.jsonl:%zu, %016llx at :%zu): "
                         "State Machine Safety allows one",
                         c->nodes[a->node].name, c->nodes[b->node].name,
                         (long long)a->key, (unsigned long long)a->value,
                         a->line, (unsigned long long)b->value, b->line);
                add_example(c, c->applied_differently, c->nodes[b->node].name,
                            b->line, text);
                break;
            }
        }
    }
    return compared;
}

static int by_key_then_value(const void *a, const void *b)
{
    const struct fact *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->value < y->value ? -1 : x->value > y->value;
}

/* One request id applied at two indices: a retry applied again instead of
 * answered from the first attempt's outcome. One example per request. */
static void judge_requests(struct ctx *c)
{
    struct facts *f = &c->requests;
    char text[512];

    facts_sort(f, by_key_then_value);
    for (size_t lo = 0, hi; lo < f->n; lo = hi) {
        hi = group_end(f, lo);
        if (f->v[hi - 1].value != f->v[lo].value) {
            const struct fact *a = &f->v[lo], *b = &f->v[hi - 1];
            snprintf(text, sizeof text,
                     "one request applied twice: %s applied it at index "
                     "%llu (events.jsonl:%zu), %s again at index %llu "
                     "(:%zu), not as a duplicate",
                     c->nodes[a->node].name, (unsigned long long)a->value,
                     a->line, c->nodes[b->node].name,
                     (unsigned long long)b->value, b->line);
            add_example(c, c->applied_twice, c->nodes[b->node].name, b->line,
                        text);
        }
    }
}

/* Changes acknowledged at an index where a node applied a command. Needs
 * c->applied sorted by index (judge_applied). */
static void judge_changes(struct ctx *c, const struct raft_safety_change *ch,
                          size_t n)
{
    const struct facts *f = &c->applied;
    char text[512];

    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = f->n;
        while (lo < hi) { /* the first fact at or after the index */
            size_t mid = lo + (hi - lo) / 2;
            if (f->v[mid].key < ch[i].index) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo == f->n || f->v[lo].key != ch[i].index) {
            continue;
        }
        snprintf(text, sizeof text,
                 "%s acknowledged as committed at index %lld "
                 "(history.jsonl:%d), but %s applied a command at that "
                 "index (events.jsonl:%zu): the configuration entry was "
                 "never committed",
                 ch[i].what, ch[i].index, ch[i].line,
                 c->nodes[f->v[lo].node].name, f->v[lo].line);
        add_example(c, c->change_overwritten, c->nodes[f->v[lo].node].name,
                    f->v[lo].line, text);
    }
}

int checker_raft_safety(const struct raft_safety_node *nodes, size_t n,
                        const struct raft_safety_change *changes,
                        size_t nchanges, struct report *out)
{
    struct ctx c = {.nodes = nodes, .out = out};
    size_t compared;
    char note[256];
    int rv;

    rv = report_init(out, "raft");
    if (rv != 0) {
        return rv;
    }
    c.two_leaders = report_class(out, "two_leaders", true);
    c.term_lost = report_class(out, "term_lost", true);
    c.vote_lost = report_class(out, "vote_lost", true);
    c.log_lost = report_class(out, "log_lost", true);
    c.applied_differently = report_class(out, "applied_differently", true);
    c.answered_differently = report_class(out, "answered_differently", true);
    c.applied_twice = report_class(out, "applied_twice", true);
    c.change_overwritten = report_class(out, "change_overwritten", true);
    c.terms_led = report_class(out, "terms_led", false);
    c.restarts = report_class(out, "restarts_compared", false);
    c.sole_voter_reused = report_class(out, "sole_voter_term_reused", false);
    for (size_t i = 0; i < n && rv == 0; i++) {
        rv = read_node(&c, i);
    }
    if (rv == 0) {
        json_object_set_new(out->info, "terms_led",
                            json_integer((json_int_t)judge_leaders(&c)));
        compared = judge_applied(&c);
        judge_changes(&c, changes, nchanges);
        judge_requests(&c);
        snprintf(note, sizeof note,
                 "%zu indices applied on two or more nodes compared, %lld "
                 "protocol events",
                 compared, (long long)c.protocol_events);
        report_note(out, note);
        json_object_set_new(out->info, "protocol_events",
                            json_integer(c.protocol_events));
        json_object_set_new(out->info, "indices_compared",
                            json_integer((json_int_t)compared));
        json_object_set_new(out->info, "skipped_lines",
                            json_integer(c.skipped_lines));
        json_object_set_new(out->info, "wiped", json_integer(c.wiped));
        report_finish(out);
    } else {
        out->result = VERDICT_UNKNOWN;
    }
    free(c.leaders.v);
    free(c.applied.v);
    free(c.requests.v);
    return rv;
}

static int by_name(const void *a, const void *b)
{
    const struct raft_safety_node *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* The membership changes @path's history acknowledged as committed, with
 * their index (@h: the history, which the caller closes). None when the
 * history cannot be read: its own checkers say why. */
static void acked_changes(const char *path, struct history *h,
                          struct raft_safety_change **out, size_t *n)
{
    struct history_error err;

    *out = NULL;
    *n = 0;
    if (history_load(path, h, &err) != 0) {
        memset(h, 0, sizeof *h);
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        const json_t *index = json_object_get(e->value, "index");
        const char *outcome =
            json_string_value(json_object_get(e->value, "outcome"));
        struct raft_safety_change *grown;

        if (e->process != HISTORY_NEMESIS || e->type != HISTORY_INFO ||
            (strcmp(e->f, "add") != 0 && strcmp(e->f, "assign") != 0 &&
             strcmp(e->f, "remove") != 0) ||
            outcome == NULL || strcmp(outcome, "committed") != 0 ||
            !json_is_integer(index) || json_integer_value(index) <= 0) {
            continue;
        }
        grown = realloc(*out, (*n + 1) * sizeof **out);
        if (grown == NULL) {
            return; /* judged with the changes so far */
        }
        *out = grown;
        grown = &(*out)[(*n)++];
        grown->index = (long long)json_integer_value(index);
        grown->line = e->line;
        snprintf(grown->what, sizeof grown->what, "%s %s%s%s", e->f,
                 json_string_value(json_object_get(e->value, "node")) ?: "?",
                 json_is_string(json_object_get(e->value, "role")) ? " " : "",
                 json_string_value(json_object_get(e->value, "role")) ?: "");
    }
}

int checker_raft_safety_run(const char *run_dir, struct report *out)
{
    enum { MAX_NODES = 64 };
    struct raft_safety_node nodes[MAX_NODES];
    char names[MAX_NODES][64], paths[MAX_NODES][PATH_MAX + 96];
    char where[PATH_MAX + 32];
    struct dirent *d;
    struct raft_safety_change *changes = NULL;
    size_t nchanges = 0;
    struct history h;
    json_t *events;
    size_t n = 0;
    DIR *nd;
    int rv;

    snprintf(where, sizeof where, "%s/nodes", run_dir);
    nd = opendir(where);
    if (nd == NULL) {
        return -ENOENT;
    }
    while ((d = readdir(nd)) != NULL && n < MAX_NODES) {
        if (d->d_name[0] == '.') {
            continue;
        }
        snprintf(names[n], sizeof names[n], "%s", d->d_name);
        snprintf(paths[n], sizeof paths[n], "%s/%s/events.jsonl", where,
                 d->d_name);
        nodes[n] = (struct raft_safety_node){names[n], paths[n]};
        n++;
    }
    closedir(nd);
    qsort(nodes, n, sizeof *nodes, by_name);
    snprintf(where, sizeof where, "%s/history.jsonl", run_dir);
    acked_changes(where, &h, &changes, &nchanges);
    rv = checker_raft_safety(nodes, n, changes, nchanges, out);
    free(changes);
    history_close(&h);
    events = rv == 0 ? json_object_get(out->info, "protocol_events") : NULL;
    if (rv == 0 && json_integer_value(events) == 0) {
        report_close(out);
        return -ENOENT;
    }
    return rv;
}
