/* test_linearizable: the checker on case folders, random histories, limits. */
#include "checker/linearizable.h"
#include "test/unit.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t seed;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: the same generator the runner uses, kept local. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t below(uint64_t *s, int64_t n)
{
    return n <= 0 ? 0 : (int64_t)(rnd(s) % (uint64_t)n);
}

static bool chance(uint64_t *s, double p)
{
    return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static bool read_word(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    bool ok = f != NULL && fgets(buf, (int)size, f) != NULL;
    if (f != NULL) {
        fclose(f);
    }
    if (ok) {
        buf[strcspn(buf, "\r\n")] = '\0';
    }
    return ok;
}

/* ------------------------------------------------------------------ */
/* Case folders: checker/cases/<name>/{history.jsonl,expected[,summary]} */
/* ------------------------------------------------------------------ */

static int check_case(const char *dir, const char *name)
{
    char path[1024], want[64], summary_want[512], summary[1024];
    struct history h;
    struct history_error err;
    struct checker_limits lim = {.time_s = 20};
    struct verdict v;
    json_t *js;
    bool has_summary;
    int rv, bad = 0;

    snprintf(path, sizeof path, "%s/%s/expected", dir, name);
    if (!read_word(path, want, sizeof want)) {
        fprintf(stderr, "case %s: no expected file\n", name);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s/summary", dir, name);
    has_summary = read_word(path, summary_want, sizeof summary_want);
    snprintf(path, sizeof path, "%s/%s/history.jsonl", dir, name);
    rv = history_load(path, &h, &err);
    if (rv != 0) {
        char msg[1024];
        history_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "case %s: %s\n", name, msg);
        return 1;
    }
    rv = checker_linearizable(&h, &model_register, &lim, &v);
    verdict_summary(&v, summary, sizeof summary);
    if (rv != 0 && rv != -EINVAL) {
        fprintf(stderr, "case %s: checker returned %d\n", name, rv);
        bad = 1;
    }
    if (strcmp(verdict_result_name(v.result), want) != 0) {
        fprintf(stderr, "case %s: got %s, want %s\n  %s\n", name,
                verdict_result_name(v.result), want, summary);
        bad = 1;
    }
    if (has_summary && strstr(summary, summary_want) == NULL) {
        fprintf(stderr, "case %s: summary\n  %s\nlacks\n  %s\n", name, summary,
                summary_want);
        bad = 1;
    }
    js = verdict_to_json(&v);
    if (js == NULL) {
        fprintf(stderr, "case %s: verdict_to_json failed\n", name);
        bad = 1;
    } else {
        json_t *valid = json_object_get(js, "valid");
        bool agree = v.result == VERDICT_VALID     ? json_is_true(valid)
                     : v.result == VERDICT_INVALID ? json_is_false(valid)
                                                   : json_is_string(valid);
        if (!agree || (v.result == VERDICT_INVALID &&
                       json_object_get(js, "anomaly") == NULL)) {
            fprintf(stderr, "case %s: JSON disagrees with the verdict\n", name);
            bad = 1;
        }
        json_decref(js);
    }
    verdict_close(&v);
    history_close(&h);
    return bad;
}

static void test_linearizable_cases(void)
{
    const char *dir = "checker/cases";
    DIR *d = opendir(dir);
    struct dirent *de;
    int cases = 0, bad = 0;

    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        bad += check_case(dir, de->d_name);
        cases++;
    }
    closedir(d);
    printf("     %d cases, %d wrong\n", cases, bad);
    failures += bad;
    CHECK(cases >= 12);
}

/* ------------------------------------------------------------------ */
/* Generated register histories                                       */
/* ------------------------------------------------------------------ */

enum { G_READ, G_WRITE, G_CAS };
enum { O_OK, O_FAIL, O_INFO, O_NONE }; /* O_NONE: no completion event */

struct gop {
    int process, client, key, f;
    int64_t a, b;           /* write a; cas a -> b */
    int64_t call, ret, lin; /* lin: when it takes effect, if it does */
    int outcome;
    bool applied; /* took effect (always for ok; maybe for info/none) */
    bool rnil;    /* read result */
    int64_t rval;
};

struct gen_params {
    int clients, keys, ops, values;
    int64_t gap, dur; /* upper bounds, ns */
    double p_info, p_fail, p_none, seq_frac;
};

static int lin_cmp(const void *a, const void *b, void *arg)
{
    const struct gop *ops = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (ops[x].lin != ops[y].lin) {
        return ops[x].lin < ops[y].lin ? -1 : 1;
    }
    return (x > y) - (x < y);
}

/* Simulate a register: ops take effect at a point inside their interval
 * (or, for an info op, any time after its invoke), so the history is
 * linearizable by construction. */
static struct gop *generate(uint64_t *s, const struct gen_params *p)
{
    struct gop *ops = calloc((size_t)p->ops, sizeof *ops);
    int64_t *free_at = calloc((size_t)p->clients, sizeof *free_at);
    int *proc = calloc((size_t)p->clients, sizeof *proc);
    int *last = calloc((size_t)p->clients, sizeof *last);
    size_t *order = calloc((size_t)p->ops, sizeof *order);
    struct {
        bool set;
        int64_t v;
    } *reg = calloc((size_t)p->keys, sizeof *reg);
    int next_proc = p->clients;
    int nseq = (int)(p->ops * p->seq_frac);
    int64_t t = 0;

    if (!ops || !free_at || !proc || !last || !order || !reg) {
        abort();
    }
    for (int c = 0; c < p->clients; c++) {
        proc[c] = c;
        last[c] = -1;
    }
    for (int i = 0; i < p->ops; i++) {
        struct gop *o = &ops[i];
        int c = (int)below(s, p->clients);
        o->client = c;
        o->process = proc[c];
        o->key = (int)below(s, p->keys);
        o->f = (int)below(s, 3);
        o->a = below(s, p->values);
        o->b = below(s, p->values);
        if (i < nseq) {
            o->call = t + below(s, p->gap + 1);
        } else {
            if (i == nseq) {
                for (int k = 0; k < p->clients; k++) {
                    free_at[k] = t;
                }
            }
            o->call = free_at[c] + below(s, p->gap + 1);
        }
        o->ret = o->call + below(s, p->dur + 1);
        o->lin = o->call + below(s, o->ret - o->call + 1);
        o->outcome = O_OK;
        o->applied = true;
        if (chance(s, p->p_info)) {
            o->outcome = O_INFO;
            o->applied = chance(s, 0.5);
            /* It may take effect long after the client gave up. */
            o->lin = o->call + below(s, 4 * (p->dur + p->gap) + 1);
            proc[c] = next_proc++;
        } else if (o->f != G_CAS && chance(s, p->p_fail)) {
            o->outcome = O_FAIL;
            o->applied = false;
        }
        free_at[c] = o->ret + 1;
        t = o->ret + 1;
        last[c] = i;
    }
    /* Some clients are cut off mid-op when the history ends. */
    for (int c = 0; c < p->clients; c++) {
        if (last[c] >= 0 && ops[last[c]].outcome == O_OK &&
            chance(s, p->p_none)) {
            ops[last[c]].outcome = O_NONE;
            ops[last[c]].applied = chance(s, 0.5);
        }
    }
    for (int i = 0; i < p->ops; i++) {
        order[i] = (size_t)i;
    }
    qsort_r(order, (size_t)p->ops, sizeof *order, lin_cmp, ops);
    for (int k = 0; k < p->ops; k++) {
        struct gop *o = &ops[order[k]];
        if (!o->applied) {
            continue;
        }
        switch (o->f) {
        case G_READ:
            o->rnil = !reg[o->key].set;
            o->rval = reg[o->key].v;
            break;
        case G_WRITE:
            reg[o->key].set = true;
            reg[o->key].v = o->a;
            break;
        default:
            if (reg[o->key].set && reg[o->key].v == o->a) {
                reg[o->key].v = o->b;
            } else if (o->outcome == O_OK) {
                o->outcome = O_FAIL;
            }
        }
    }
    free(free_at);
    free(proc);
    free(last);
    free(order);
    free(reg);
    return ops;
}

static const char *const fnames[] = {"read", "write", "cas"};

struct gev {
    int64_t time;
    int kind; /* 0 invoke, 1 completion */
    int op;
};

static int gev_cmp(const void *a, const void *b)
{
    const struct gev *x = a, *y = b;
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    if (x->op != y->op) {
        return x->op - y->op;
    }
    return x->kind - y->kind;
}

/* The generated ops as a history, events in time order, nemesis events
 * sprinkled in. */
static void to_history(const struct gop *ops, int n, uint64_t *s,
                       struct history *h)
{
    struct gev *evs = calloc((size_t)(2 * n + 1), sizeof *evs);
    int ne = 0;
    if (evs == NULL) {
        abort();
    }
    for (int i = 0; i < n; i++) {
        evs[ne++] = (struct gev){ops[i].call, 0, i};
        if (ops[i].outcome != O_NONE) {
            evs[ne++] = (struct gev){ops[i].ret, 1, i};
        }
    }
    qsort(evs, (size_t)ne, sizeof *evs, gev_cmp);
    history_init(h);
    for (int k = 0; k < ne; k++) {
        const struct gop *o = &ops[evs[k].op];
        struct history_event e;
        char key[16];
        memset(&e, 0, sizeof e);
        if (chance(s, 0.01)) {
            e.process = HISTORY_NEMESIS;
            e.type = HISTORY_INFO;
            e.time = evs[k].time;
            snprintf(e.f, sizeof e.f, "kill");
            e.value = json_pack("[s]", "n2");
            if (history_add(h, &e) != 0) {
                abort();
            }
            json_decref(e.value);
        }
        snprintf(key, sizeof key, "k%d", o->key);
        e.key = key;
        e.process = o->process;
        e.time = evs[k].time;
        snprintf(e.f, sizeof e.f, "%s", fnames[o->f]);
        if (evs[k].kind == 0) {
            e.type = HISTORY_INVOKE;
        } else {
            e.type = o->outcome == O_OK     ? HISTORY_OK
                     : o->outcome == O_FAIL ? HISTORY_FAIL
                                            : HISTORY_INFO;
        }
        switch (o->f) {
        case G_READ:
            e.value = e.type == HISTORY_OK && !o->rnil ? json_integer(o->rval)
                                                       : json_null();
            break;
        case G_WRITE:
            e.value = json_integer(o->a);
            break;
        default:
            e.value = json_pack("[II]", (json_int_t)o->a, (json_int_t)o->b);
        }
        if (history_add(h, &e) != 0) {
            abort();
        }
        json_decref(e.value);
    }
    free(evs);
}

/* Keep a failing history where it can be replayed. */
static void dump(const struct history *h, const char *what)
{
    char path[256];
    struct history_header hd = {.version = 1, .seed = seed};
    struct history_writer *w;
    snprintf(path, sizeof path, "%s/faultline-%s-%" PRIu64 "-%d.jsonl",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", what, seed,
             (int)getpid());
    w = history_writer_new(path, &hd);
    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        struct history_event e = h->events[i];
        history_writer_append(w, &e);
    }
    history_writer_free(w);
    fprintf(stderr, "  history kept in %s\n", path);
}

static enum verdict_result check(const struct history *h, double limit_s)
{
    struct checker_limits lim = {.time_s = limit_s};
    struct verdict v;
    int rv = checker_linearizable(h, &model_register, &lim, &v);
    enum verdict_result r = v.result;
    if (rv != 0) {
        fprintf(stderr, "  checker error %d: %s\n", rv, v.reason);
        r = (enum verdict_result) - 1;
    }
    verdict_close(&v);
    return r;
}

static void random_params(uint64_t *s, struct gen_params *p, int max_ops)
{
    p->clients = 1 + (int)below(s, 8);
    p->keys = 1 + (int)below(s, 3);
    p->ops = 1 + (int)below(s, max_ops);
    p->values = 2 + (int)below(s, 6);
    p->gap = below(s, 20);
    p->dur = below(s, 40);
    p->p_info = chance(s, 0.5) ? 0.0 : 0.1;
    p->p_fail = chance(s, 0.5) ? 0.0 : 0.1;
    p->p_none = 0.3;
    p->seq_frac = chance(s, 0.5) ? 0.2 : 0.0;
}

/* Per history: long enough for all but the rare pathological search
 * (many info ops on one key), short enough to keep the suite quick. */
#define RANDOM_LIMIT_S 3.0

static void test_linearizable_generated_valid(void)
{
    uint64_t s = seed ^ 0x1111;
    int unknown = 0, rounds = 400;
    for (int round = 0; round < rounds; round++) {
        struct gen_params p;
        struct history h;
        random_params(&s, &p, round < 300 ? 60 : 400);
        struct gop *ops = generate(&s, &p);
        to_history(ops, p.ops, &s, &h);
        enum verdict_result r = check(&h, RANDOM_LIMIT_S);
        if (r != VERDICT_VALID) {
            fprintf(stderr, "round %d: generated history judged %s\n", round,
                    verdict_result_name(r));
            dump(&h, "valid");
        }
        history_close(&h);
        free(ops);
        /* Never invalid; unknown (a limit) only rarely. */
        CHECK(r == VERDICT_VALID || r == VERDICT_UNKNOWN);
        unknown += r == VERDICT_UNKNOWN;
    }
    CHECK(unknown <= rounds / 100);
}

/* Mutations that certainly break linearizability: a read of a value never
 * written, or of nil after a write completed. */
static void test_linearizable_generated_mutated(void)
{
    uint64_t s = seed ^ 0x2222;
    int mutated = 0, unknown = 0;
    for (int round = 0; round < 400; round++) {
        struct gen_params p;
        struct history h;
        random_params(&s, &p, round < 300 ? 60 : 400);
        struct gop *ops = generate(&s, &p);
        int victim = -1, tries = 0;
        while (victim < 0 && tries++ < 50) {
            int i = (int)below(&s, p.ops);
            if (ops[i].f == G_READ && ops[i].outcome == O_OK) {
                victim = i;
            }
        }
        if (victim < 0) {
            free(ops);
            continue;
        }
        struct gop *r = &ops[victim];
        bool nil_ok = false;
        for (int i = 0; i < p.ops && !r->rnil; i++) {
            if (ops[i].key == r->key && ops[i].f == G_WRITE &&
                ops[i].outcome == O_OK && ops[i].ret < r->call) {
                nil_ok = true;
            }
        }
        if (nil_ok && chance(&s, 0.5)) {
            r->rnil = true;
        } else {
            r->rnil = false;
            r->rval = 1000 + below(&s, 1000);
        }
        to_history(ops, p.ops, &s, &h);
        enum verdict_result v = check(&h, RANDOM_LIMIT_S);
        if (v != VERDICT_INVALID) {
            fprintf(stderr, "round %d: mutated history judged %s\n", round,
                    verdict_result_name(v));
            dump(&h, "mutated");
        }
        history_close(&h);
        free(ops);
        mutated++;
        /* Never valid; unknown (a limit) only rarely. */
        CHECK(v == VERDICT_INVALID || v == VERDICT_UNKNOWN);
        unknown += v == VERDICT_UNKNOWN;
    }
    CHECK(mutated > 100);
    CHECK(unknown <= mutated / 100);
}

/* ------------------------------------------------------------------ */
/* A brute-force oracle for small histories                           */
/* ------------------------------------------------------------------ */

struct oracle {
    const struct gop *ops;
    int n;
    bool done[16];
};

static bool oracle_search(struct oracle *o, bool set, int64_t v)
{
    int left = 0;
    for (int i = 0; i < o->n; i++) {
        left += !o->done[i] && o->ops[i].outcome == O_OK;
    }
    if (left == 0) {
        return true;
    }
    for (int i = 0; i < o->n; i++) {
        const struct gop *x = &o->ops[i];
        bool minimal = true, nset = set;
        int64_t nv = v;
        if (o->done[i]) {
            continue;
        }
        /* x can go next unless an op that must happen returned before x
         * was invoked. */
        for (int j = 0; j < o->n && minimal; j++) {
            if (j != i && !o->done[j] && o->ops[j].outcome == O_OK &&
                o->ops[j].ret < x->call) {
                minimal = false;
            }
        }
        if (!minimal) {
            continue;
        }
        switch (x->f) {
        case G_READ:
            if (x->rnil ? set : (!set || v != x->rval)) {
                continue;
            }
            break;
        case G_WRITE:
            nset = true;
            nv = x->a;
            break;
        default:
            if (!set || v != x->a) {
                continue;
            }
            nv = x->b;
        }
        o->done[i] = true;
        bool ok = oracle_search(o, nset, nv);
        o->done[i] = false;
        if (ok) {
            return true;
        }
    }
    return false;
}

/* The oracle's ops: what the checker should search, derived directly. */
static bool oracle_valid(const struct gop *ops, int n)
{
    struct gop kept[16];
    struct oracle o = {.ops = kept};
    for (int i = 0; i < n; i++) {
        if (ops[i].outcome == O_FAIL ||
            (ops[i].f == G_READ && ops[i].outcome != O_OK)) {
            continue;
        }
        kept[o.n++] = ops[i];
    }
    memset(o.done, 0, sizeof o.done);
    return oracle_search(&o, false, 0);
}

static void test_linearizable_matches_oracle(void)
{
    uint64_t s = seed ^ 0x3333;
    int valid = 0, invalid = 0;
    for (int round = 0; round < 4000; round++) {
        struct gen_params p = {
            .clients = 1 + (int)below(&s, 4),
            .keys = 1,
            .ops = 1 + (int)below(&s, 8),
            .values = 2 + (int)below(&s, 2),
            .gap = below(&s, 4),
            .dur = below(&s, 8),
            .p_info = 0.15,
            .p_fail = 0.1,
            .p_none = 0.3,
            .seq_frac = 0,
        };
        struct history h;
        struct gop *ops = generate(&s, &p);
        /* Damage a few ops at random. */
        int k = (int)below(&s, 3);
        for (int m = 0; m < k; m++) {
            struct gop *x = &ops[below(&s, p.ops)];
            switch (x->f) {
            case G_READ:
                x->rnil = chance(&s, 0.3);
                x->rval = below(&s, p.values);
                break;
            case G_WRITE:
                x->outcome = x->outcome == O_OK ? O_FAIL : O_OK;
                break;
            default:
                x->outcome = x->outcome == O_OK ? O_FAIL : O_OK;
            }
            if (chance(&s, 0.3)) {
                /* Shrink the interval (never earlier: same process). */
                int64_t c = x->ret - below(&s, 3);
                x->call = c > x->call ? c : x->call;
            }
        }
        to_history(ops, p.ops, &s, &h);
        bool want = oracle_valid(ops, p.ops);
        enum verdict_result got = check(&h, 30);
        if (got != (want ? VERDICT_VALID : VERDICT_INVALID)) {
            fprintf(stderr, "round %d: checker %s, oracle %s\n", round,
                    verdict_result_name(got), want ? "valid" : "invalid");
            dump(&h, "oracle");
        }
        history_close(&h);
        free(ops);
        CHECK(got == (want ? VERDICT_VALID : VERDICT_INVALID));
        want ? valid++ : invalid++;
    }
    printf("     oracle agreed on %d valid and %d invalid histories\n", valid,
           invalid);
    CHECK(valid > 100 && invalid > 100);
}

/* ------------------------------------------------------------------ */
/* Limits                                                             */
/* ------------------------------------------------------------------ */

/* @n concurrent writes of distinct values, then a read of 0 and a read
 * of 1: both values were written, but no order of the writes leaves
 * both, and every order must be tried before "invalid". */
static void ambiguous_history(struct history *h, int n)
{
    history_init(h);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            struct history_event e;
            memset(&e, 0, sizeof e);
            e.process = i;
            e.type = pass == 0 ? HISTORY_INVOKE : HISTORY_OK;
            e.time = pass == 0 ? i : 1000 + i;
            snprintf(e.f, sizeof e.f, "write");
            e.key = "k";
            e.value = json_integer(i);
            if (history_add(h, &e) != 0) {
                abort();
            }
            json_decref(e.value);
        }
    }
    for (int pass = 0; pass < 4; pass++) {
        struct history_event e;
        memset(&e, 0, sizeof e);
        e.process = n;
        e.type = pass % 2 == 0 ? HISTORY_INVOKE : HISTORY_OK;
        e.time = 2000 + pass;
        snprintf(e.f, sizeof e.f, "read");
        e.key = "k";
        e.value = pass % 2 == 0 ? json_null() : json_integer(pass / 2);
        if (history_add(h, &e) != 0) {
            abort();
        }
        json_decref(e.value);
    }
}

static void test_linearizable_time_limit_gives_unknown(void)
{
    struct history h;
    struct checker_limits lim = {.time_s = 0.05};
    struct verdict v;
    char line[512];
    double t0 = now_s();

    ambiguous_history(&h, 28);
    CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
    verdict_summary(&v, line, sizeof line);
    printf("     %s\n", line);
    CHECK(v.result == VERDICT_UNKNOWN);
    CHECK(now_s() - t0 < 5);
    CHECK(strstr(v.reason, "time limit") != NULL);
    CHECK(v.has_key && v.key != NULL && strcmp(v.key, "k") == 0);
    verdict_close(&v);
    history_close(&h);
}

static void test_linearizable_memory_limit_gives_unknown(void)
{
    struct history h;
    struct checker_limits lim = {.time_s = 30, .memory_bytes = 4 << 20};
    struct verdict v;
    char line[512];
    json_t *js;

    ambiguous_history(&h, 28);
    CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
    verdict_summary(&v, line, sizeof line);
    printf("     %s\n", line);
    CHECK(v.result == VERDICT_UNKNOWN);
    CHECK(strstr(v.reason, "memory limit") != NULL);
    js = verdict_to_json(&v);
    CHECK(js != NULL);
    CHECK(strcmp(json_string_value(json_object_get(js, "valid")), "unknown") ==
          0);
    json_decref(js);
    verdict_close(&v);
    history_close(&h);
}

/* An unknown key does not hide an invalid one. */
static void test_linearizable_invalid_beats_unknown(void)
{
    struct history h;
    struct checker_limits lim = {.time_s = 30, .memory_bytes = 1 << 20};
    struct verdict v;
    const int64_t t = 5000;
    const char *f[] = {"write", "write", "read"};
    const int type[] = {HISTORY_INVOKE, HISTORY_OK};

    ambiguous_history(&h, 26); /* key "k" runs out of memory */
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 2; k++) {
            struct history_event e;
            memset(&e, 0, sizeof e);
            e.process = 100;
            e.type = (enum history_type)type[k];
            e.time = t + 10 * i + k;
            snprintf(e.f, sizeof e.f, "%s", f[i]);
            e.key = "z"; /* sorts after "k" */
            e.value = i < 2 ? json_integer(i) : json_integer(0);
            if (i == 2 && k == 0) {
                json_decref(e.value);
                e.value = json_null();
            }
            CHECK(history_add(&h, &e) == 0);
            json_decref(e.value);
        }
    }
    CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
    CHECK(v.result == VERDICT_INVALID);
    CHECK(v.key != NULL && strcmp(v.key, "z") == 0);
    CHECK(v.keys == 2);
    verdict_close(&v);
    history_close(&h);
}

/* The verdict names the same key and op for any thread count, even when
 * several keys are invalid and one of them is hard. */
static void test_linearizable_threads_same_verdict(void)
{
    uint64_t s = seed ^ 0x5555;
    for (int round = 0; round < 30; round++) {
        struct gen_params p = {
            .clients = 6,
            .keys = 9,
            .ops = 600,
            .values = 4,
            .gap = 20,
            .dur = 40,
            .p_info = 0.02,
            .p_fail = 0.05,
            .p_none = 0.3,
        };
        struct history h;
        struct gop *ops = generate(&s, &p);
        /* Break a read on a few keys. */
        for (int k = 0; k < 3; k++) {
            for (int tries = 0; tries < 100; tries++) {
                struct gop *o = &ops[below(&s, p.ops)];
                if (o->f == G_READ && o->outcome == O_OK) {
                    o->rnil = false;
                    o->rval = 77;
                    break;
                }
            }
        }
        to_history(ops, p.ops, &s, &h);
        char key1[32] = "", line[512];
        int64_t index1 = -1;
        for (unsigned threads = 1; threads <= 4; threads++) {
            struct checker_limits lim = {.time_s = 20, .threads = threads};
            struct verdict v;
            CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
            CHECK(v.result == VERDICT_INVALID);
            if (threads == 1) {
                snprintf(key1, sizeof key1, "%s", v.key ? v.key : "");
                index1 = v.op.index;
            } else if (v.result != VERDICT_INVALID || v.key == NULL ||
                       strcmp(v.key, key1) != 0 || v.op.index != index1) {
                verdict_summary(&v, line, sizeof line);
                fprintf(stderr,
                        "round %d, %u threads: %s\n  (1 thread: key %s, "
                        "index %" PRId64 ")\n",
                        round, threads, line, key1, index1);
                CHECK(false);
            }
            verdict_close(&v);
        }
        history_close(&h);
        free(ops);
    }
}

/* A hard key first, an easy invalid key after it: the round that proves
 * the easy one invalid ends the check, on one thread or several. */
static void test_linearizable_threads_easy_invalid_first(void)
{
    struct history h;
    struct verdict v;
    const char *f[] = {"write", "read"};
    ambiguous_history(&h, 13); /* key "k": invalid, > 2^15 steps */
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            struct history_event e;
            memset(&e, 0, sizeof e);
            e.process = 100;
            e.type = k == 0 ? HISTORY_INVOKE : HISTORY_OK;
            e.time = 5000 + 10 * i + k;
            snprintf(e.f, sizeof e.f, "%s", f[i]);
            e.key = "z";
            e.value =
                i == 0 || k == 1 ? json_integer(i == 0 ? 1 : 2) : json_null();
            CHECK(history_add(&h, &e) == 0);
            json_decref(e.value);
        }
    }
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct checker_limits lim = {.time_s = 30, .threads = threads};
        CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
        CHECK(v.result == VERDICT_INVALID);
        CHECK(v.key != NULL && strcmp(v.key, "z") == 0);
        verdict_close(&v);
    }
    history_close(&h);
}

/* kv events: process @p does @f on @key with @value from @call to @ret. */
static void kv_op(struct history *h, int p, const char *f, const char *key,
                  const char *in, const char *out, int64_t call, int64_t ret)
{
    struct history_event e;
    memset(&e, 0, sizeof e);
    e.process = p;
    e.key = (char *)key;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.type = HISTORY_INVOKE;
    e.time = call;
    e.value = in ? json_string(in) : json_null();
    CHECK(history_add(h, &e) == 0);
    json_decref(e.value);
    e.type = HISTORY_OK;
    e.time = ret;
    e.value = out ? json_string(out) : in ? json_string(in) : json_null();
    CHECK(history_add(h, &e) == 0);
    json_decref(e.value);
}

/* @n appends to one key, all at once, then a get of them in one order
 * (@bad: a string no order gives, each append's value in it). */
static void kv_appends(struct history *h, int n, bool bad)
{
    char want[512] = "", part[16];
    history_init(h);
    /* A bad string still ends with an append's value: no check before
     * the search rules it out. */
    if (bad) {
        strcat(want, "?");
    }
    for (int i = 0; i < n; i++) {
        snprintf(part, sizeof part, "x%d;", i);
        strcat(want, part);
    }
    /* Invokes first, then completions: every append overlaps the rest. */
    struct history tmp;
    history_init(&tmp);
    for (int i = 0; i < n; i++) {
        snprintf(part, sizeof part, "x%d;", i);
        kv_op(&tmp, i, "append", "k", part, NULL, 10 + i, 100 + i);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < tmp.n; i++) {
            if ((tmp.events[i].type == HISTORY_INVOKE) == (pass == 0)) {
                struct history_event e = tmp.events[i];
                CHECK(history_add(h, &e) == 0);
            }
        }
    }
    history_close(&tmp);
    kv_op(h, n, "get", "k", NULL, want, 200, 201);
}

/* Without puts a string only grows, so an append order that no later get
 * can see is dropped at once: 14 concurrent appends cost a few states, not
 * one per subset of them. */
static void test_linearizable_kv_prunes_append_orders(void)
{
    for (int bad = 0; bad < 2; bad++) {
        struct history h;
        struct verdict v;
        struct checker_limits lim = {.time_s = 5, .threads = 1};
        char line[512];
        kv_appends(&h, 14, bad);
        CHECK(checker_linearizable(&h, &model_kv, &lim, &v) == 0);
        verdict_summary(&v, line, sizeof line);
        printf("     %s (%" PRIu64 " states)\n", line, v.states);
        CHECK(v.result == (bad ? VERDICT_INVALID : VERDICT_VALID));
        CHECK(v.states < 200);
        verdict_close(&v);
        history_close(&h);
    }
}

/* Appends racing a put (so no order can be ruled out early) under a small
 * memory limit: unknown, naming the limit and the key, on any thread
 * count. The strings the search makes count toward the limit. */
static void test_linearizable_kv_memory_limit(void)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct history h;
        struct verdict v;
        struct checker_limits lim = {
            .time_s = 30, .memory_bytes = 2 << 20, .threads = threads};
        char line[512];
        kv_appends(&h, 16, true);
        kv_op(&h, 99, "put", "k", "p", NULL, 5, 150);
        CHECK(checker_linearizable(&h, &model_kv, &lim, &v) == 0);
        verdict_summary(&v, line, sizeof line);
        printf("     %u threads: %s\n", threads, line);
        CHECK(v.result == VERDICT_UNKNOWN);
        CHECK(strstr(v.reason, "memory limit") != NULL);
        CHECK(v.key != NULL && strcmp(v.key, "k") == 0);
        verdict_close(&v);
        history_close(&h);
    }
}

/* kv keeps its strings per check: checks on several threads at once agree
 * with one check alone. */
struct kv_job {
    const struct history *h;
    int rounds;
    int valid, invalid;
};

static void *kv_job_run(void *arg)
{
    struct kv_job *j = arg;
    for (int i = 0; i < j->rounds; i++) {
        struct checker_limits lim = {.time_s = 30, .threads = 2};
        struct verdict v;
        if (checker_linearizable(j->h, &model_kv, &lim, &v) == 0) {
            j->valid += v.result == VERDICT_VALID;
            j->invalid += v.result == VERDICT_INVALID;
        }
        verdict_close(&v);
    }
    return NULL;
}

static void test_linearizable_kv_checks_in_parallel(void)
{
    struct history good, bad;
    struct kv_job jobs[4];
    pthread_t t[4];
    kv_appends(&good, 8, false);
    kv_appends(&bad, 8, true);
    /* More keys, so each check has parts to share out. */
    for (int k = 0; k < 6; k++) {
        char key[8], val[8];
        snprintf(key, sizeof key, "q%d", k);
        snprintf(val, sizeof val, "v%d", k);
        kv_op(&good, 50 + k, "put", key, val, NULL, 300, 301);
        kv_op(&good, 60 + k, "get", key, NULL, val, 302, 303);
        kv_op(&bad, 50 + k, "put", key, val, NULL, 300, 301);
        kv_op(&bad, 60 + k, "get", key, NULL, val, 302, 303);
    }
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct kv_job){i % 2 ? &bad : &good, 20, 0, 0};
        CHECK(pthread_create(&t[i], NULL, kv_job_run, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].valid == (i % 2 ? 0 : 20));
        CHECK(jobs[i].invalid == (i % 2 ? 20 : 0));
    }
    history_close(&good);
    history_close(&bad);
}

/* ------------------------------------------------------------------ */
/* Unwritten results: decided before the search                       */
/* ------------------------------------------------------------------ */

/* One event of process @p: @f on @key with @value (taken) at @t. */
static void add_event(struct history *h, int p, enum history_type type,
                      const char *f, const char *key, int64_t t, json_t *value)
{
    struct history_event e;
    memset(&e, 0, sizeof e);
    e.process = p;
    e.type = type;
    e.time = t;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.key = (char *)key;
    e.value = value;
    CHECK(history_add(h, &e) == 0);
    json_decref(value);
}

/* Check @h with @m, one thread; print and return the verdict's result;
 * *@why gets whether it was decided before the search. */
static enum verdict_result check_model(const struct history *h,
                                       const struct model *m, bool *why,
                                       double *seconds, struct verdict *keep)
{
    struct checker_limits lim = {.time_s = 20, .threads = 1};
    struct verdict v;
    char line[512];
    enum verdict_result r;
    if (checker_linearizable(h, m, &lim, &v) != 0) {
        fprintf(stderr, "  checker error: %s\n", v.reason);
        failures++;
    }
    verdict_summary(&v, line, sizeof line);
    printf("     %s (%.3f s)\n", line, v.seconds);
    r = v.result;
    if (why != NULL) {
        *why = v.why[0] != '\0';
    }
    if (seconds != NULL) {
        *seconds = v.seconds;
    }
    if (keep != NULL) {
        *keep = v;
    } else {
        verdict_close(&v);
    }
    return r;
}

/* One key, 14-20 clients, 1,000-4,000 ops, some of unknown outcome; one
 * ok read (or cas) made to need a value no op writes (1047), or one only
 * an op invoked after it returned writes. The search alone took up to
 * 10 s and 900 MB on these; decided before it, they take milliseconds. */
static void test_linearizable_unwritten_value_decided_first(void)
{
    uint64_t s = seed ^ 0x6666;
    /* make fuzz-checker asks for more. */
    const char *env = getenv("FAULTLINE_UNWRITTEN_ROUNDS");
    int rounds = env != NULL ? atoi(env) : 6;
    for (int round = 0; round < rounds; round++) {
        int kind = round % 3; /* 0 never, 1 written later, 2 cas */
        struct gen_params p = {.clients = 14 + (int)below(&s, 7),
                               .keys = 1,
                               .ops = 1000 + (int)below(&s, 3001),
                               .values = 5,
                               .gap = 20,
                               .dur = 40,
                               .p_info = 0.02,
                               .p_fail = 0.05,
                               .p_none = 0.3};
        struct gop *ops = generate(&s, &p);
        struct history h;
        struct verdict v;
        double secs;
        bool why;
        int victim = -1;
        int64_t end = 0;
        /* A victim in the middle, so the search would have to go deep. */
        for (int i = p.ops / 2; i < p.ops && victim < 0; i++) {
            if (ops[i].outcome == O_OK &&
                ops[i].f == (kind == 2 ? G_CAS : G_READ)) {
                victim = i;
            }
        }
        if (victim < 0) {
            free(ops);
            continue;
        }
        if (kind == 2) {
            ops[victim].a = 1047;
        } else {
            ops[victim].rnil = false;
            ops[victim].rval = 1047;
        }
        to_history(ops, p.ops, &s, &h);
        for (int i = 0; i < p.ops; i++) {
            end = ops[i].ret > end ? ops[i].ret : end;
        }
        if (kind == 1) {
            /* A write of 1047 invoked after everything: open, it may take
             * effect at the end, so only the victim is wrong. */
            add_event(&h, 100000, HISTORY_INVOKE, "write", "k0", end + 1,
                      json_integer(1047));
        }
        printf("     %d clients, %d ops, %s:\n", p.clients, p.ops,
               kind == 0   ? "read of a value never written"
               : kind == 1 ? "read of a value written later"
                           : "cas from a value never written");
        CHECK(check_model(&h, &model_register, &why, &secs, &v) ==
              VERDICT_INVALID);
        CHECK(why);
        CHECK(secs < 2.0);
        CHECK(v.op.call == ops[victim].call &&
              v.op.process == ops[victim].process);
        CHECK(strstr(v.why, kind == 1 ? "written only by ops invoked after"
                                      : "never written") != NULL);
        verdict_close(&v);
        history_close(&h);
        free(ops);
    }
}

/* Info ops may take effect any time after their invoke, intervals are
 * closed, and the register starts unset: none of these is an unwritten
 * value. */
static void test_linearizable_unwritten_value_edges(void)
{
    for (int k = 0; k < 5; k++) {
        struct history h;
        bool why = false;
        enum verdict_result want = VERDICT_VALID;
        history_init(&h);
        add_event(&h, 0, HISTORY_INVOKE, "write", "x", 0, json_integer(1));
        add_event(&h, 0, HISTORY_OK, "write", "x", 10, json_integer(1));
        switch (k) {
        case 0: /* an info write invoked when the read returns */
            add_event(&h, 1, HISTORY_INVOKE, "read", "x", 20, json_null());
            add_event(&h, 2, HISTORY_INVOKE, "write", "x", 30,
                      json_integer(7));
            add_event(&h, 1, HISTORY_OK, "read", "x", 30, json_integer(7));
            add_event(&h, 2, HISTORY_INFO, "write", "x", 40,
                      json_integer(7));
            break;
        case 1: /* the same, invoked one tick after: invalid, first */
            add_event(&h, 1, HISTORY_INVOKE, "read", "x", 20, json_null());
            add_event(&h, 1, HISTORY_OK, "read", "x", 30, json_integer(7));
            add_event(&h, 2, HISTORY_INVOKE, "write", "x", 31,
                      json_integer(7));
            want = VERDICT_INVALID;
            break;
        case 2: /* a read of nil before the write: the initial state */
            add_event(&h, 1, HISTORY_INVOKE, "read", "x", 0, json_null());
            add_event(&h, 1, HISTORY_OK, "read", "x", 1, json_null());
            break;
        case 3: /* a cas from a value only a cas of unknown outcome set */
            add_event(&h, 3, HISTORY_INVOKE, "cas", "x", 11,
                      json_pack("[ii]", 1, 5));
            add_event(&h, 1, HISTORY_INVOKE, "cas", "x", 20,
                      json_pack("[ii]", 5, 6));
            add_event(&h, 1, HISTORY_OK, "cas", "x", 30,
                      json_pack("[ii]", 5, 6));
            break;
        case 4: /* a cas 2 -> 2 is not its own writer of 2 */
            add_event(&h, 1, HISTORY_INVOKE, "cas", "x", 20,
                      json_pack("[ii]", 2, 2));
            add_event(&h, 1, HISTORY_OK, "cas", "x", 30,
                      json_pack("[ii]", 2, 2));
            want = VERDICT_INVALID;
            break;
        }
        CHECK(check_model(&h, &model_register, &why, NULL, NULL) == want);
        CHECK(why == (want == VERDICT_INVALID));
        history_close(&h);
    }
}

/* Task records and leases: a get of a record no create or update left,
 * a holder no acquire made; an update or acquire of unknown outcome may
 * have. */
static void test_linearizable_unwritten_record_and_holder(void)
{
    for (int unknown = 0; unknown < 2; unknown++) {
        struct history h;
        bool why = false;
        history_init(&h);
        add_event(&h, 0, HISTORY_INVOKE, "create", "t1", 0, json_null());
        add_event(&h, 0, HISTORY_OK, "create", "t1", 1,
                  json_pack("{sssi}", "status", "pending", "version", 1));
        if (unknown) {
            add_event(&h, 2, HISTORY_INVOKE, "update", "t1", 2,
                      json_pack("{ssss}", "status", "done", "expect_status",
                                "pending"));
        }
        add_event(&h, 1, HISTORY_INVOKE, "get", "t1", 3, json_null());
        add_event(&h, 1, HISTORY_OK, "get", "t1", 4,
                  json_pack("{sssi}", "status", "done", "version", 2));
        CHECK(check_model(&h, &model_task, &why, NULL, NULL) ==
              (unknown ? VERDICT_VALID : VERDICT_INVALID));
        CHECK(why == !unknown);
        history_close(&h);

        history_init(&h);
        add_event(&h, 0, HISTORY_INVOKE, "acquire", "s1", 0,
                  json_pack("{sssi}", "holder", "c0", "ttl_ms", 100));
        add_event(&h, 0, HISTORY_OK, "acquire", "s1", 1,
                  json_pack("{sssisisi}", "holder", "c0", "token", 1,
                            "now_ms", 0, "expires_ms", 100));
        if (unknown) {
            add_event(&h, 2, HISTORY_INVOKE, "acquire", "s1", 2,
                      json_pack("{sssi}", "holder", "c1", "ttl_ms", 100));
        }
        add_event(&h, 1, HISTORY_INVOKE, "holder", "s1", 3, json_null());
        add_event(&h, 1, HISTORY_OK, "holder", "s1", 4,
                  json_pack("{sssisisi}", "holder", "c1", "token", 2,
                            "now_ms", 200, "expires_ms", 300));
        CHECK(check_model(&h, &model_lease, &why, NULL, NULL) ==
              (unknown ? VERDICT_VALID : VERDICT_INVALID));
        CHECK(why == !unknown);
        history_close(&h);
    }
}

/* A search of the whole history names no key. */
static void test_linearizable_whole_names_no_key(void)
{
    struct history h;
    struct verdict v;
    struct checker_limits lim = {
        .time_s = 30, .whole = true, .no_compose = true};
    char line[512];
    kv_appends(&h, 3, true);
    CHECK(checker_linearizable(&h, &model_kv, &lim, &v) == 0);
    verdict_summary(&v, line, sizeof line);
    printf("     %s\n", line);
    CHECK(v.result == VERDICT_INVALID);
    CHECK(strstr(line, "whole history") != NULL);
    CHECK(strstr(line, "key") == NULL);
    json_t *js = verdict_to_json(&v);
    json_t *a = json_object_get(js, "anomaly");
    CHECK(a != NULL && json_is_null(json_object_get(a, "key")));
    CHECK(a != NULL && strcmp(json_string_value(json_object_get(a, "scope")),
                              "whole history") == 0);
    json_decref(js);
    verdict_close(&v);
    history_close(&h);
}

static void test_linearizable_model_lookup(void)
{
    CHECK(model_find("cas-register") == &model_register);
    CHECK(model_find("register") == &model_register);
    CHECK(model_find("queue") == NULL);
    CHECK(model_find(NULL) == NULL);
}

/* The size the runner produces: 10 clients, 5 keys, 5000 ops. */
static void test_linearizable_speed(void)
{
    uint64_t s = seed ^ 0x4444;
    struct gen_params p = {
        .clients = 10,
        .keys = 5,
        .ops = 5000,
        .values = 5,
        .gap = 2000000,  /* up to 2 ms between a client's ops */
        .dur = 10000000, /* up to 10 ms per op */
        .p_info = 0.02,
        .p_fail = 0.0,
        .p_none = 0.5,
        .seq_frac = 0.05,
    };
    struct history h;
    struct gop *ops = generate(&s, &p);
    struct verdict v;
    double t0;

    to_history(ops, p.ops, &s, &h);
    t0 = now_s();
    CHECK(checker_linearizable(&h, &model_register, NULL, &v) == 0);
    printf("     10 clients, 5 keys, 5000 ops: %s in %.3f s (%" PRIu64
           " steps, %" PRIu64 " states)\n",
           verdict_result_name(v.result), now_s() - t0, v.steps, v.states);
    CHECK(v.result == VERDICT_VALID);
    verdict_close(&v);
    history_close(&h);
    free(ops);
}

/* Asked not to split, a product of keys (kv) is still searched key by
 * key, and the verdict says so; a register (one value for every key when
 * not split) is searched whole. */
static void test_linearizable_whole_per_key_when_compositional(void)
{
    for (int bad = 0; bad < 2; bad++) {
        struct history h;
        struct verdict v;
        struct checker_limits lim = {.time_s = 30, .whole = true};
        char line[512];
        kv_appends(&h, 3, bad);
        kv_op(&h, 50, "put", "q", "v", NULL, 300, 301);
        kv_op(&h, 51, "get", "q", NULL, "v", 302, 303);
        CHECK(checker_linearizable(&h, &model_kv, &lim, &v) == 0);
        verdict_summary(&v, line, sizeof line);
        printf("     %s\n", line);
        CHECK(v.result == (bad ? VERDICT_INVALID : VERDICT_VALID));
        CHECK(v.per_key);
        CHECK(strstr(line, "decided per key: the kv model is "
                           "P-compositional") != NULL);
        CHECK(!bad || (v.key != NULL && strcmp(v.key, "k") == 0));
        verdict_close(&v);
        history_close(&h);
    }
    struct history h;
    struct verdict v;
    struct checker_limits lim = {.time_s = 30, .whole = true};
    history_init(&h);
    add_event(&h, 0, HISTORY_INVOKE, "write", "a", 0, json_integer(1));
    add_event(&h, 0, HISTORY_OK, "write", "a", 1, json_integer(1));
    add_event(&h, 1, HISTORY_INVOKE, "read", "b", 2, json_null());
    add_event(&h, 1, HISTORY_OK, "read", "b", 3, json_integer(1));
    CHECK(checker_linearizable(&h, &model_register, &lim, &v) == 0);
    CHECK(v.result == VERDICT_VALID && !v.per_key);
    verdict_close(&v);
    history_close(&h);
}

int main(void)
{
    const char *env = getenv("FAULTLINE_SEED");
    seed = env ? strtoull(env, NULL, 0)
               : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    printf("test_linearizable: FAULTLINE_SEED=%" PRIu64 "\n", seed);

    RUN(test_linearizable_cases);
    RUN(test_linearizable_model_lookup);
    RUN(test_linearizable_generated_valid);
    RUN(test_linearizable_generated_mutated);
    RUN(test_linearizable_matches_oracle);
    RUN(test_linearizable_time_limit_gives_unknown);
    RUN(test_linearizable_memory_limit_gives_unknown);
    RUN(test_linearizable_invalid_beats_unknown);
    RUN(test_linearizable_speed);
    RUN(test_linearizable_threads_same_verdict);
    RUN(test_linearizable_threads_easy_invalid_first);
    RUN(test_linearizable_kv_prunes_append_orders);
    RUN(test_linearizable_kv_memory_limit);
    RUN(test_linearizable_kv_checks_in_parallel);
    RUN(test_linearizable_whole_names_no_key);
    RUN(test_linearizable_unwritten_value_decided_first);
    RUN(test_linearizable_unwritten_value_edges);
    RUN(test_linearizable_unwritten_record_and_holder);
    RUN(test_linearizable_whole_per_key_when_compositional);

    if (failures != 0) {
        printf("test_linearizable: %d failure(s); replay with "
               "FAULTLINE_SEED=%" PRIu64 "\n",
               failures, seed);
        return 1;
    }
    printf("test_linearizable: all passed\n");
    return 0;
}
