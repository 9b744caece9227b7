/* linearizable: Wing-Gong-Lowe search over a history, one key at a time.
 *
 * Happy path: pair each invoke with its completion (per process), let the
 * model translate the pairs into ops, group the ops by key, and search each
 * key; the first invalid key ends the check.
 *
 * The search is Lowe's variant of Wing & Gong ("Testing for
 * linearizability", 2017), as Porcupine implements it. A key's ops become
 * call and return entries in a doubly linked list sorted by time (a call
 * before a return at the same instant: intervals are closed). Walk from the
 * head: at a call, apply the op to the model; if it applies and the pair
 * (set of linearized ops, new state) has not been seen, lift the op (its
 * call and return leave the list), push the old state and restart at the
 * head. At a return, the op it closes was not linearized in time: undo the
 * last lift and carry on after that op's call. Success is every op with a
 * real return lifted (ops without one may stay: they never happened);
 * nothing left to undo means no linearization exists.
 *
 * Failure modes: a history that can't be paired or read by the model
 * (-EINVAL, verdict unknown with the line); the time limit (checked every
 * few thousand steps) or the memory limit of the visited-state cache
 * (verdict unknown naming the key); allocation failure (-ENOMEM).
 */
#include "checker/linearizable.h"
#include "checker/pairing.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK_EVERY 4096 /* steps between looks at the clock */
#define OPEN_RET    INT64_MAX

/* One client operation: an invoke and how it ended. */
struct op {
    size_t inv;             /* position of the invoke in h->events */
    size_t done;            /* position of the completion, or SIZE_MAX */
    enum history_type type; /* completion type; HISTORY_INVOKE if none */
    int64_t call;
    int64_t ret; /* OPEN_RET when the op has no result */
    struct model_op mop;
    bool keep; /* takes part in the search */
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* Visited configurations.                                            */
/*                                                                    */
/* A configuration is (set of linearized ops, model state). The set   */
/* has two parts: ops with a return (rwords words of bits), then open */
/* ops (owords). Configurations with the same returned ops and state  */
/* form a group: one slot of an open-addressing table. A group keeps  */
/* the open parts seen as a list, an antichain: a configuration is    */
/* covered when its group holds a subset of its open part, because    */
/* open ops constrain nothing (whatever can follow the bigger set can */
/* follow the smaller one), and a new open part evicts its supersets. */
/* With no open ops a group is one configuration: plain equality.     */
/* Records live in chunks (no malloc per step); evicted open parts    */
/* go on a free list.                                                 */
/* ------------------------------------------------------------------ */

#define CHUNK_BYTES (256 * 1024)
#define NIL         UINT32_MAX

/* Fixed-size records in chunks, addressed by number. */
struct arena {
    size_t stride; /* bytes per record, a multiple of 8 */
    unsigned shift;
    size_t per_chunk; /* records per chunk, a power of two */
    unsigned char **chunks;
    size_t nchunks, chunks_cap;
    size_t n; /* records handed out */
};

static void arena_init(struct arena *a, size_t stride)
{
    memset(a, 0, sizeof *a);
    a->stride = stride;
    a->per_chunk = 1;
    while (a->per_chunk * 2 * stride <= CHUNK_BYTES) {
        a->per_chunk *= 2;
        a->shift++;
    }
}

static void arena_close(struct arena *a)
{
    for (size_t i = 0; i < a->nchunks; i++) {
        free(a->chunks[i]);
    }
    free(a->chunks);
    memset(a, 0, sizeof *a);
}

static unsigned char *arena_at(const struct arena *a, size_t i)
{
    return a->chunks[i >> a->shift] + (i & (a->per_chunk - 1)) * a->stride;
}

/* A group: its hash (8 bytes), the first op with a return not linearized
 * (lo, 4), the window's length in words (4), a pointer to the window (8),
 * the state, the head of its open parts (4, padded to 8). The returned
 * part of the set is every op below lo, and the window's bits from lo's
 * word on: ops are numbered in call order, so that is a few words however
 * long the history (a whole bitset per group made long histories compare
 * kilobytes at every hit). */
#define GROUP_HEAD   24
#define WINDOW_CHUNK 32768 /* words */

struct cache {
    const struct model *m;
    size_t rwords, owords;
    size_t ss;            /* state bytes, rounded up to 8 */
    struct arena groups;  /* hash, lo, len, window, state, list head */
    uint64_t **wchunks;   /* the windows' words */
    size_t nw, wcap;      /* chunks */
    size_t wleft;         /* words left in the last chunk */
    struct arena opens;   /* next, open bits */
    uint32_t free_open;   /* evicted open records, or NIL */
    uint64_t *slots;      /* the group's hash, high half, then its number +
                           * 1 (0: empty): a probe reads a group only when
                           * the hashes agree */
    size_t mask;          /* slot count - 1 */
    size_t bytes;         /* allocated by this cache */
    _Atomic size_t *used; /* allocated by every search of the check */
    size_t limit;         /* on *used; 0: none */
    size_t live;          /* configurations held */
};

static void cache_init(struct cache *c, const struct model *m, size_t rwords,
                       size_t owords, _Atomic size_t *used, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->m = m;
    c->rwords = rwords;
    c->owords = owords;
    c->ss = (m->state_size + 7) & ~(size_t)7;
    arena_init(&c->groups, GROUP_HEAD + c->ss + 8);
    arena_init(&c->opens, 8 + 8 * owords);
    c->free_open = NIL;
    c->used = used;
    c->limit = limit;
}

static void cache_close(struct cache *c)
{
    if (c->used != NULL) {
        atomic_fetch_sub(c->used, c->bytes);
    }
    arena_close(&c->groups);
    arena_close(&c->opens);
    for (size_t i = 0; i < c->nw; i++) {
        free(c->wchunks[i]);
    }
    free(c->wchunks);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static bool over_limit(const struct cache *c, size_t more)
{
    return c->limit != 0 && atomic_load(c->used) + more > c->limit;
}

/* A new record of @a: its number, or -ENOSPC / -ENOMEM. */
static int64_t arena_new(struct cache *c, struct arena *a)
{
    if (a->n == a->nchunks << a->shift) {
        size_t size = a->per_chunk * a->stride;
        if (a->n >= NIL - a->per_chunk || over_limit(c, size)) {
            return -ENOSPC;
        }
        if (a->nchunks == a->chunks_cap) {
            size_t cap = a->chunks_cap ? a->chunks_cap * 2 : 16;
            unsigned char **ch = realloc(a->chunks, cap * sizeof *ch);
            if (ch == NULL) {
                return -ENOMEM;
            }
            a->chunks = ch;
            a->chunks_cap = cap;
        }
        a->chunks[a->nchunks] = malloc(size);
        if (a->chunks[a->nchunks] == NULL) {
            return -ENOMEM;
        }
        a->nchunks++;
        c->bytes += size;
        atomic_fetch_add(c->used, size);
    }
    return (int64_t)a->n++;
}

static int cache_grow_slots(struct cache *c)
{
    size_t cap = c->slots ? (c->mask + 1) * 2 : 1024;
    size_t size = cap * sizeof *c->slots;
    uint64_t *slots;

    if (cap > (size_t)UINT32_MAX || over_limit(c, size)) {
        return -ENOSPC;
    }
    slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->groups.n; i++) {
        uint64_t h;
        memcpy(&h, arena_at(&c->groups, i), sizeof h);
        size_t j = (size_t)h & (cap - 1);
        while (slots[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        slots[j] = (h & ~0xffffffffULL) | (uint64_t)(i + 1);
    }
    if (c->slots != NULL) {
        c->bytes -= (c->mask + 1) * sizeof *c->slots;
        atomic_fetch_sub(c->used, (c->mask + 1) * sizeof *c->slots);
    }
    free(c->slots);
    c->slots = slots;
    c->mask = cap - 1;
    c->bytes += size;
    atomic_fetch_add(c->used, size);
    return 0;
}

/* Room for @len words that never move: a pointer, or NULL with -ENOSPC or
 * -ENOMEM in *@rv. */
static uint64_t *window_new(struct cache *c, size_t len, int *rv)
{
    if (len > c->wleft) {
        size_t words = len > WINDOW_CHUNK ? len : WINDOW_CHUNK;
        if (over_limit(c, 8 * words)) {
            *rv = -ENOSPC;
            return NULL;
        }
        if (c->nw == c->wcap) {
            size_t cap = c->wcap ? c->wcap * 2 : 16;
            uint64_t **ch = realloc(c->wchunks, cap * sizeof *ch);
            if (ch == NULL) {
                *rv = -ENOMEM;
                return NULL;
            }
            c->wchunks = ch;
            c->wcap = cap;
        }
        c->wchunks[c->nw] = malloc(8 * words);
        if (c->wchunks[c->nw] == NULL) {
            *rv = -ENOMEM;
            return NULL;
        }
        c->nw++;
        c->wleft = words;
        c->bytes += 8 * words;
        atomic_fetch_add(c->used, 8 * words);
    }
    c->wleft -= len;
    return c->wchunks[c->nw - 1] + c->wleft;
}

/* Do the open bits @a all appear in @b? */
static bool subset(const uint64_t *a, const uint64_t *b, size_t words)
{
    for (size_t w = 0; w < words; w++) {
        if ((a[w] & ~b[w]) != 0) {
            return false;
        }
    }
    return true;
}

/* Add the configuration (@bits, @state), whose returned part and state
 * hash to @hash; every op with a return below @lo is in it, none above
 * @hi (-1: none at all). Returns 1 if added, 0 if it is covered by one
 * already there, -ENOSPC at the memory limit, or -ENOMEM. */
static int cache_insert(struct cache *c, uint64_t hash, const uint64_t *bits,
                        uint32_t lo, int64_t hi, const void *state)
{
    const uint64_t *open = bits + c->rwords;
    const uint64_t *win = bits + (lo >> 6);
    const uint32_t len =
        hi >= (int64_t)lo ? (uint32_t)((uint64_t)hi >> 6) - (lo >> 6) + 1 : 0;
    unsigned char *g = NULL;
    uint32_t *head;
    size_t i;
    int64_t num;
    int rv;

    if (c->slots == NULL || (c->groups.n + 1) * 2 > c->mask + 1) {
        rv = cache_grow_slots(c);
        if (rv != 0) {
            return rv;
        }
    }
    for (i = (size_t)hash & c->mask; c->slots[i] != 0; i = (i + 1) & c->mask) {
        if ((c->slots[i] ^ hash) >> 32 != 0) {
            continue;
        }
        unsigned char *e = arena_at(&c->groups, (uint32_t)c->slots[i] - 1);
        uint64_t h;
        memcpy(&h, e, sizeof h);
        uint32_t elo, elen;
        const uint64_t *ew;
        memcpy(&elo, e + 8, 4);
        memcpy(&elen, e + 12, 4);
        memcpy(&ew, e + 16, sizeof ew);
        if (h == hash && elo == lo && elen == len &&
            (len == 0 || memcmp(ew, win, 8 * (size_t)len) == 0) &&
            c->m->equal(e + GROUP_HEAD, state)) {
            g = e;
            break;
        }
    }
    if (g != NULL && c->owords == 0) {
        return 0;
    }
    if (g != NULL) {
        /* Covered by a smaller open part? Else drop the bigger ones. */
        head = (uint32_t *)(g + GROUP_HEAD + c->ss);
        for (uint32_t *link = head; *link != NIL;) {
            unsigned char *r = arena_at(&c->opens, *link);
            const uint64_t *ro = (const uint64_t *)(r + 8);
            if (subset(ro, open, c->owords)) {
                return 0;
            }
            if (subset(open, ro, c->owords)) {
                uint32_t dead = *link;
                memcpy(link, r, sizeof *link);
                memcpy(r, &c->free_open, sizeof c->free_open);
                c->free_open = dead;
                c->live--;
            } else {
                link = (uint32_t *)r;
            }
        }
    } else {
        uint64_t *w = len > 0 ? window_new(c, len, &rv) : NULL;
        if (len > 0 && w == NULL) {
            return rv;
        }
        num = arena_new(c, &c->groups);
        if (num < 0) {
            return (int)num;
        }
        g = arena_at(&c->groups, (size_t)num);
        memcpy(g, &hash, sizeof hash);
        memcpy(g + 8, &lo, 4);
        memcpy(g + 12, &len, 4);
        if (len > 0) {
            memcpy(w, win, 8 * (size_t)len);
        }
        memcpy(g + 16, &w, sizeof w);
        memset(g + GROUP_HEAD, 0, c->ss);
        memcpy(g + GROUP_HEAD, state, c->m->state_size);
        head = (uint32_t *)(g + GROUP_HEAD + c->ss);
        *head = NIL;
        c->slots[i] = (hash & ~0xffffffffULL) | (uint64_t)(num + 1);
        if (c->owords == 0) {
            c->live++;
            return 1;
        }
    }
    if (c->free_open != NIL) {
        num = c->free_open;
        memcpy(&c->free_open, arena_at(&c->opens, (size_t)num),
               sizeof c->free_open);
    } else {
        num = arena_new(c, &c->opens);
        if (num < 0) {
            /* The group may be new and empty: harmless, it covers
             * nothing. */
            return (int)num;
        }
    }
    unsigned char *r = arena_at(&c->opens, (size_t)num);
    memcpy(r, head, sizeof *head);
    memcpy(r + 8, open, 8 * c->owords);
    *head = (uint32_t)num;
    c->live++;
    return 1;
}

/* ------------------------------------------------------------------ */
/* The search over one key                                            */
/* ------------------------------------------------------------------ */

struct entry {
    int64_t time;
    int rank;   /* 0 call, 1 return, 2 open return: the order at a tie */
    int32_t id; /* 2 * op for a call, 2 * op + 1 for its return */
};

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    if (x->rank != y->rank) {
        return x->rank - y->rank;
    }
    return (x->id > y->id) - (x->id < y->id);
}

enum outcome {
    OUT_VALID,
    OUT_INVALID,
    OUT_TIME,
    OUT_MEMORY,
    OUT_BUDGET,  /* out of steps for this round: search it again later */
    OUT_CANCEL,  /* a part before it is invalid: its outcome can't matter */
    OUT_PENDING, /* not searched (yet) */
};

/* What the searches of one check share, whatever thread runs them. */
struct shared {
    const struct model *m;
    double deadline; /* 0: none */
    size_t memory_limit;
    _Atomic size_t used;        /* bytes held by caches and model tables */
    _Atomic bool stop;          /* the time limit was reached */
    _Atomic size_t min_invalid; /* the first part found invalid, or SIZE_MAX */
    _Atomic uint64_t steps, states;
};

/* One search of one part. */
struct search {
    struct shared *sh;
    size_t part;     /* its number, in key order */
    uint64_t budget; /* steps this search may take; 0: no bound */

    /* Invalid: the op (index into the key's ops) whose return could not be
     * reached, how many ops with a return the deepest dead end had
     * linearized, and the state there. */
    size_t culprit;
    size_t best_depth;
    size_t nreq; /* ops with a return in the last key searched */
    unsigned char fail_state[MODEL_STATE_MAX];
};

/* Order of open ops: by effect, then by invoke time. */
static int effect_cmp(const struct model_op *a, const struct model_op *b)
{
    if (a->f != b->f) {
        return a->f < b->f ? -1 : 1;
    }
    for (int i = 0; i < 2; i++) {
        if (a->in[i] != b->in[i]) {
            return a->in[i] < b->in[i] ? -1 : 1;
        }
    }
    return 0;
}

/* Order of ops with a return: by invoke time (the cache relies on it). */
static int by_call(const void *a, const void *b, void *arg)
{
    const struct op *all = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (all[x].call != all[y].call) {
        return all[x].call < all[y].call ? -1 : 1;
    }
    return (x > y) - (x < y);
}

static int by_effect(const void *a, const void *b, void *arg)
{
    const struct op *all = arg;
    const struct op *x = &all[*(const size_t *)a],
                    *y = &all[*(const size_t *)b];
    int c = effect_cmp(&x->mop, &y->mop);
    if (c != 0) {
        return c;
    }
    if (x->call != y->call) {
        return x->call < y->call ? -1 : 1;
    }
    return (*(const size_t *)a > *(const size_t *)b) -
           (*(const size_t *)a < *(const size_t *)b);
}

/* Every CHECK_EVERY steps: should the search @s stop? OUT_PENDING if not,
 * else why. Counts the model's tables toward the memory limit. */
static int look_up(struct search *s, uint64_t steps, size_t *model_bytes)
{
    struct shared *sh = s->sh;
    if (atomic_load_explicit(&sh->stop, memory_order_relaxed) ||
        (sh->deadline != 0 && now_s() >= sh->deadline)) {
        return OUT_TIME;
    }
    if (atomic_load_explicit(&sh->min_invalid, memory_order_relaxed) <
        s->part) {
        return OUT_CANCEL;
    }
    if (s->budget != 0 && steps > s->budget) {
        return OUT_BUDGET;
    }
    if (sh->m->search_bytes != NULL) {
        size_t mb = sh->m->search_bytes();
        if (mb == SIZE_MAX) {
            return -ENOMEM;
        }
        atomic_fetch_add(&sh->used, mb - *model_bytes);
        *model_bytes = mb;
    }
    if (sh->memory_limit != 0 && atomic_load(&sh->used) > sh->memory_limit) {
        return OUT_MEMORY;
    }
    return OUT_PENDING;
}

/* One search of one key, phase to phase: order its ops, build the list of
 * their calls and returns and the classes of open ops, then walk: pick
 * the next op to try, step into it (and prune), or back up. */
struct key_search {
    struct search *s;
    const struct model *m;
    const struct op *all;
    size_t *ops;
    size_t n, nreq, ss;
    size_t rwords, owords, nq;
    int32_t head, tail;
    struct entry *entries;
    int32_t *next, *prev, *pos;
    uint64_t *zob;
    size_t *scratch;
    uint32_t *cq;   /* open op: its class */
    size_t *cstart; /* class: first op */
    size_t *uq;     /* class: how many used */
    bool *qrst;     /* class: resets */
    bool *qover;    /* class: overwrites */
    bool *rst;      /* op: resets (NULL without m->reachable) */
    uint64_t *bits;
    uint32_t *stack;
    int32_t *fstack; /* open lift: at which return */
    int64_t *hstack; /* the last hi */
    unsigned char *saved;
    unsigned char buf_a[MODEL_STATE_MAX], buf_b[MODEL_STATE_MAX];
    unsigned char *cur, *nxt;
    struct cache cache;

    /* The walk. */
    int32_t e; /* the entry at hand */
    size_t q0; /* at a return: the next class to offer */
    size_t remaining, depth;
    int64_t hi;    /* the last op with a return linearized, in order */
    uint64_t hreq; /* the hash of the ops with a return linearized */
    uint64_t steps;
    bool have_culprit;
    size_t model_bytes; /* what the model's tables hold, as counted */
    int rv;             /* the outcome, once the walk stops */
};

/* What a try of one op did. */
enum step { STEP_IN, STEP_OVER, STEP_STOP };

static int ks_alloc(struct key_search *k)
{
    size_t n = k->n;

    k->entries = malloc(2 * n * sizeof *k->entries);
    k->next = malloc((2 * n + 2) * sizeof *k->next);
    k->prev = malloc((2 * n + 2) * sizeof *k->prev);
    k->pos = malloc((2 * n + 2) * sizeof *k->pos);
    k->zob = malloc(n * sizeof *k->zob);
    k->scratch = malloc(n * sizeof *k->scratch);
    k->cq = malloc(n * sizeof *k->cq);
    k->cstart = malloc((n + 1) * sizeof *k->cstart);
    k->uq = calloc(n + 1, sizeof *k->uq);
    k->qrst = malloc(n + 1);
    k->qover = malloc(n + 1);
    k->stack = malloc(n * sizeof *k->stack);
    k->fstack = malloc(n * sizeof *k->fstack);
    k->hstack = malloc(n * sizeof *k->hstack);
    k->rst = k->m->reachable != NULL ? malloc(n + 1) : NULL;
    k->saved = malloc(n * k->ss + 1);
    if (!k->entries || !k->next || !k->prev || !k->pos || !k->zob ||
        !k->scratch || !k->cq || !k->cstart || !k->uq || !k->qrst ||
        !k->qover || !k->stack || !k->fstack || !k->hstack || !k->saved ||
        (k->m->reachable != NULL && k->rst == NULL)) {
        return -ENOMEM;
    }
    return 0;
}

/* Ops with a return first, by call, then the open ones by effect; the
 * cache and the bits sized for them. */
static int ks_order(struct key_search *k)
{
    size_t *ops = k->ops, n = k->n, nreq = 0;
    struct shared *sh = k->s->sh;

    for (size_t j = 0, o = 0; j < n; j++) {
        if (!k->all[ops[j]].mop.open) {
            ops[nreq++] = ops[j];
        } else {
            k->scratch[o++] = ops[j];
        }
    }
    memcpy(ops + nreq, k->scratch, (n - nreq) * sizeof *ops);
    qsort_r(ops, nreq, sizeof *ops, by_call, (void *)k->all);
    qsort_r(ops + nreq, n - nreq, sizeof *ops, by_effect, (void *)k->all);
    k->nreq = k->remaining = k->s->nreq = nreq;
    k->rwords = (nreq + 63) / 64;
    k->owords = (n - nreq + 63) / 64;
    cache_init(&k->cache, k->m, k->rwords, k->owords, &sh->used,
               sh->memory_limit);
    k->bits = calloc(k->rwords + k->owords + 1, sizeof *k->bits);
    return k->bits != NULL ? 0 : -ENOMEM;
}

/* Each op's entries, hash and resets; the classes of open ops. */
static void ks_classes(struct key_search *k)
{
    const struct model *m = k->m;
    size_t nreq = k->nreq;

    for (size_t j = 0; j < k->n; j++) {
        const struct op *o = &k->all[k->ops[j]];
        k->entries[2 * j] = (struct entry){o->call, 0, (int32_t)(2 * j)};
        k->entries[2 * j + 1] =
            (struct entry){o->ret, o->mop.open ? 2 : 1, (int32_t)(2 * j + 1)};
        if (k->rst != NULL) {
            k->rst[j] = m->resets(&o->mop);
        }
        /* Open ops stay out of the hash (see the cache). */
        k->zob[j] = j < nreq ? mix64(0x9e3779b97f4a7c15ULL * (j + 1)) : 0;
        /* Open ops with equal effects form a class (they are sorted so,
         * by call time within it). Which ones of a class are linearized
         * does not matter, only how many: the search always takes the
         * earliest called one left, and bit (class start + k) means "k + 1
         * of them are linearized". */
        if (j >= nreq) {
            if (j == nreq ||
                effect_cmp(&k->all[k->ops[j - 1]].mop, &o->mop) != 0) {
                k->cstart[k->nq] = j;
                k->qrst[k->nq] = k->rst != NULL && k->rst[j];
                k->qover[k->nq] =
                    m->overwrites != NULL && m->overwrites(&o->mop);
                k->nq++;
            }
            k->cq[j - nreq] = (uint32_t)(k->nq - 1);
        }
    }
    k->cstart[k->nq] = k->n;
}

/* The list links the call and return entries of the ops with a return,
 * in time order; open ops stay out of it (a long history collects
 * thousands, and walking past them at every step is what made such
 * histories slow): at a return, each class offers its earliest op
 * left if it was called before that return (pos: the time order). */
static void ks_link(struct key_search *k)
{
    int32_t last = k->head;

    qsort(k->entries, 2 * k->n, sizeof *k->entries, entry_cmp);
    for (size_t i = 0; i < 2 * k->n; i++) {
        int32_t id = k->entries[i].id;
        k->pos[id] = (int32_t)i;
        if ((size_t)(id >> 1) >= k->nreq) {
            continue;
        }
        k->next[last] = id;
        k->prev[id] = last;
        last = id;
    }
    k->next[last] = k->tail;
    k->prev[k->tail] = last;
    k->next[k->tail] = k->tail; /* never followed */
    k->prev[k->head] = k->head;
    k->pos[k->tail] = INT32_MAX;
}

/* The op to try at entry k->e: *@j, and for an open one its class *@q
 * and the return *@front it is tried at. False when nothing is left to
 * try here: back up. */
static bool ks_pick(struct key_search *k, size_t *j, size_t *q, int32_t *front)
{
    int32_t e = k->e;
    size_t depth = k->depth;
    bool after_open;

    if ((e & 1) == 0) {
        *j = (size_t)e >> 1; /* the call of an op with a return */
        return true;
    }
    /* The first return left (the tail is odd too, but comes after every
     * return): every op with a return that could go next was tried; now
     * the open ones called before it. */
    after_open = depth > 0 && k->stack[depth - 1] >= k->nreq &&
                 k->fstack[depth - 1] == e;
    for (; k->q0 < k->nq; k->q0++) {
        size_t q0 = k->q0, first = k->cstart[q0] + k->uq[q0];
        if (first < k->cstart[q0 + 1] && k->pos[2 * first] < k->pos[e] &&
            !(after_open && k->qover[q0])) {
            *j = first;
            *q = q0;
            *front = e;
            return true;
        }
    }
    return false;
}

/* Up to the first call of an op that resets the state (or an open one's),
 * only ops that don't: if the model says one of the returns there can't
 * apply any more, this branch is dead. Back up now, from that return (it
 * is the op that can't be placed). */
static void ks_prune(struct key_search *k)
{
    int32_t oreset = INT32_MAX;

    for (size_t c = 0; c < k->nq; c++) {
        size_t first = k->cstart[c] + k->uq[c];
        if (k->qrst[c] && first < k->cstart[c + 1] &&
            k->pos[2 * first] < oreset) {
            oreset = k->pos[2 * first];
        }
    }
    for (int32_t x = k->e; x != k->tail && k->pos[x] < oreset; x = k->next[x]) {
        if ((x & 1) == 0) {
            if (k->rst[x >> 1]) {
                break;
            }
        } else if (!k->m->reachable(k->cur, &k->all[k->ops[x >> 1]].mop)) {
            k->e = x;
            k->q0 = k->nq; /* straight to backtracking */
            break;
        }
    }
}

/* Linearize op @j (now in k->nxt): push, and lift it out of the list. */
static void ks_descend(struct key_search *k, size_t j, size_t q, int32_t front,
                       int64_t nhi, uint64_t hr)
{
    unsigned char *t;

    k->stack[k->depth] = (uint32_t)j;
    k->fstack[k->depth] = front;
    k->hstack[k->depth] = k->hi;
    k->hi = nhi;
    memcpy(k->saved + k->depth * k->ss, k->cur, k->ss);
    k->depth++;
    t = k->cur, k->cur = k->nxt, k->nxt = t;
    k->hreq = hr;
    if (j < k->nreq) {
        /* lift: the call, then its return */
        int32_t e = k->e, r = e + 1;
        k->next[k->prev[e]] = k->next[e];
        k->prev[k->next[e]] = k->prev[e];
        k->next[k->prev[r]] = k->next[r];
        k->prev[k->next[r]] = k->prev[r];
        k->remaining--;
    } else {
        k->uq[q]++;
    }
    k->e = k->next[k->head];
    k->q0 = 0;
    if (k->rst != NULL && k->remaining > 0) {
        /* Every op left with a return must still apply, and the ops that
         * can come before it are those called before its return. */
        ks_prune(k);
    }
}

/* Try op @j: step the model, and step in when the configuration is new. */
static enum step ks_try(struct key_search *k, size_t j, size_t q, int32_t front)
{
    const struct model *m = k->m;
    const struct op *o = &k->all[k->ops[j]];
    size_t b;
    uint64_t hr, hash;
    int32_t f;
    int64_t nhi = k->hi;
    int rv;

    /* An open op that changes nothing is no better than skipping it,
     * which the search does anyway. */
    if (!m->step(k->cur, &o->mop, k->nxt) ||
        (o->mop.open && m->equal(k->cur, k->nxt))) {
        return STEP_OVER;
    }
    b = j < k->nreq ? j : 64 * k->rwords + (k->cstart[q] - k->nreq) + k->uq[q];
    hr = k->hreq ^ k->zob[j];
    hash = mix64(hr ^ (m->hash(k->nxt) * 0x9e3779b97f4a7c15ULL));
    /* lo: the first op with a return left (the list's first entry is its
     * call), j aside. */
    f = k->next[k->head];
    while (f != k->tail && (size_t)(f >> 1) == j) {
        f = k->next[f];
    }
    if (j < k->nreq && (int64_t)j > nhi) {
        nhi = (int64_t)j;
    }
    k->bits[b >> 6] |= 1ULL << (b & 63);
    rv = cache_insert(&k->cache, hash, k->bits,
                      f == k->tail ? (uint32_t)k->nreq : (uint32_t)(f >> 1),
                      nhi, k->nxt);
    if (rv == 1) {
        ks_descend(k, j, q, front, nhi, hr);
        return STEP_IN;
    }
    k->bits[b >> 6] &= ~(1ULL << (b & 63));
    if (rv < 0) {
        k->rv = rv == -ENOSPC ? OUT_MEMORY : rv;
        return STEP_STOP;
    }
    return STEP_OVER;
}

/* Nothing left to try at k->e: note the deepest dead end, and undo the
 * last step. False when there is none (k->rv says why). */
static bool ks_backtrack(struct key_search *k)
{
    struct search *s = k->s;
    size_t j, b, q, done = k->nreq - k->remaining;

    if (k->e != k->tail && (!k->have_culprit || done > s->best_depth)) {
        k->have_culprit = true;
        s->best_depth = done;
        s->culprit = (size_t)k->e >> 1;
        memcpy(s->fail_state, k->cur, k->ss);
    }
    if (k->depth == 0) {
        /* A model that could not grow its tables refused a step: that is
         * no proof. */
        k->rv = k->m->search_bytes != NULL && k->m->search_bytes() == SIZE_MAX
                    ? -ENOMEM
                    : OUT_INVALID;
        return false;
    }
    k->depth--;
    j = k->stack[k->depth];
    k->hi = k->hstack[k->depth];
    memcpy(k->cur, k->saved + k->depth * k->ss, k->ss);
    k->hreq ^= k->zob[j];
    if (j < k->nreq) {
        /* unlift: the return, then the call */
        int32_t c = (int32_t)(2 * j), r = c + 1;
        k->bits[j >> 6] &= ~(1ULL << (j & 63));
        k->next[k->prev[r]] = r;
        k->prev[k->next[r]] = r;
        k->next[k->prev[c]] = c;
        k->prev[k->next[c]] = c;
        k->remaining++;
        k->e = k->next[c];
        k->q0 = 0;
        return true;
    }
    /* The list is as it was when this open op was tried at the return
     * fstack[depth]: go on with the next class there. */
    q = k->cq[j - k->nreq];
    k->uq[q]--;
    b = 64 * k->rwords + (k->cstart[q] - k->nreq) + k->uq[q];
    k->bits[b >> 6] &= ~(1ULL << (b & 63));
    k->e = k->fstack[k->depth];
    k->q0 = q + 1;
    return true;
}

/* Depth first over the orders the ops may take effect in. */
static int ks_walk(struct key_search *k)
{
    k->m->init(k->cur);
    k->e = k->next[k->head];
    while (k->remaining > 0) {
        size_t j, q = 0;
        int32_t front = -1;

        if ((++k->steps % CHECK_EVERY) == 0) {
            int rv = look_up(k->s, k->steps, &k->model_bytes);
            if (rv != OUT_PENDING) {
                return rv;
            }
        }
        if (!ks_pick(k, &j, &q, &front)) {
            if (!ks_backtrack(k)) {
                return k->rv;
            }
            continue;
        }
        switch (ks_try(k, j, q, front)) {
        case STEP_IN:
            continue;
        case STEP_STOP:
            return k->rv;
        case STEP_OVER:
            break;
        }
        if (j < k->nreq) {
            k->e = k->next[k->e];
        } else {
            k->q0++;
        }
    }
    return OUT_VALID;
}

static void ks_close(struct key_search *k)
{
    struct shared *sh = k->s->sh;

    atomic_fetch_add(&sh->steps, k->steps);
    atomic_fetch_add(&sh->states, k->cache.live);
    atomic_fetch_sub(&sh->used, k->model_bytes);
    cache_close(&k->cache);
    free(k->entries);
    free(k->next);
    free(k->prev);
    free(k->pos);
    free(k->zob);
    free(k->scratch);
    free(k->cq);
    free(k->cstart);
    free(k->uq);
    free(k->qrst);
    free(k->qover);
    free(k->bits);
    free(k->stack);
    free(k->fstack);
    free(k->hstack);
    free(k->saved);
    free(k->rst);
}

/* Search the @n ops at @ops (positions into @all; reordered in place, ops
 * with a return first, and s->culprit indexes the new order). Returns an
 * outcome, or -ENOMEM. */
static int search_key(struct search *s, const struct op *all, size_t *ops,
                      size_t n)
{
    struct key_search *k = calloc(1, sizeof *k);
    int rv;

    if (k == NULL) {
        return -ENOMEM;
    }
    *k = (struct key_search){
        .s = s,
        .m = s->sh->m,
        .all = all,
        .ops = ops,
        .n = n,
        .ss = s->sh->m->state_size,
        .head = (int32_t)(2 * n),
        .tail = (int32_t)(2 * n + 1),
        .hi = -1,
    };
    k->cur = k->buf_a;
    k->nxt = k->buf_b;
    cache_init(&k->cache, k->m, 0, 0, NULL, 0);
    rv = ks_alloc(k);
    if (rv == 0) {
        rv = ks_order(k);
    }
    if (rv == 0) {
        ks_classes(k);
        ks_link(k);
        rv = ks_walk(k);
    }
    ks_close(k);
    free(k);
    return rv;
}

/* ------------------------------------------------------------------ */
/* From events to ops                                                 */
/* ------------------------------------------------------------------ */

static int fail_history(struct verdict *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail_history(struct verdict *out, const char *fmt, ...)
{
    va_list ap;
    out->result = VERDICT_UNKNOWN;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Pair the client events of @h into ops (*ops, *n): checker/pairing.h. */
static int pair_events(const struct history *h, struct op **ops_out,
                       size_t *n_out, struct verdict *out)
{
    struct pairing_op *po;
    struct op *ops;
    size_t n;
    int rv = pairing_build(h, &po, &n, out->reason, sizeof out->reason);

    if (rv != 0) {
        if (rv == -EINVAL) {
            out->result = VERDICT_UNKNOWN;
        }
        return rv;
    }
    ops = malloc((n + 1) * sizeof *ops);
    if (ops == NULL) {
        free(po);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct history_event *inv = &h->events[po[i].inv];
        const struct history_event *done =
            po[i].done != SIZE_MAX ? &h->events[po[i].done] : NULL;
        ops[i] = (struct op){
            .inv = po[i].inv,
            .done = po[i].done,
            .type = done != NULL ? done->type : HISTORY_INVOKE,
            .call = inv->time,
            .ret = done != NULL && done->type != HISTORY_INFO ? done->time
                                                              : OPEN_RET,
        };
    }
    free(po);
    *ops_out = ops;
    *n_out = n;
    return 0;
}

/* Let the model translate each op; fail ops and dropped ones are not kept. */
static int translate(const struct history *h, const struct model *m,
                     struct op *ops, size_t n, struct verdict *out)
{
    char msg[160], w1[40], w2[64];
    for (size_t i = 0; i < n; i++) {
        struct op *o = &ops[i];
        const struct history_event *inv = &h->events[o->inv];
        const struct history_event *done = NULL;
        int rv;

        o->keep = false;
        if (o->type == HISTORY_FAIL) {
            continue; /* it did not happen */
        }
        if (o->type == HISTORY_OK) {
            done = &h->events[o->done];
        } else {
            o->ret = OPEN_RET;
        }
        msg[0] = '\0';
        rv = m->op_from_events(inv, done, &o->mop, msg, sizeof msg);
        if (rv < 0) {
            w2[0] = '\0';
            if (done != NULL) {
                char w3[40];
                snprintf(w2, sizeof w2, " (ok at %s)",
                         pairing_where(done, w3, sizeof w3));
            }
            return fail_history(out, "%s: process %d %s%s: %s",
                                pairing_where(inv, w1, sizeof w1), inv->process,
                                inv->f, w2, msg);
        }
        o->mop.open = done == NULL;
        o->keep = rv == MODEL_KEEP;
    }
    return 0;
}

/* Set for a check that does not split by key: every op has the same key. */
static _Thread_local bool whole_history;

static const char *op_key(const struct history *h, const struct op *o)
{
    return whole_history ? NULL : h->events[o->inv].key;
}

static int key_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return (a != NULL) - (b != NULL);
    }
    return strcmp(a, b);
}

struct sort_ctx {
    const struct history *h;
    const struct op *ops;
};

static int by_key(const void *a, const void *b, void *arg)
{
    const struct sort_ctx *ctx = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = key_cmp(op_key(ctx->h, &ctx->ops[x]), op_key(ctx->h, &ctx->ops[y]));
    if (c != 0) {
        return c;
    }
    return (x > y) - (x < y);
}

static void describe_op(const struct history *h, const struct model *m,
                        const struct op *o, struct verdict_op *vo)
{
    const struct history_event *inv = &h->events[o->inv];
    const struct history_event *done =
        o->done != SIZE_MAX ? &h->events[o->done] : NULL;
    json_t *value = inv->value;

    vo->index = inv->index;
    vo->done_index = done ? done->index : -1;
    vo->process = inv->process;
    snprintf(vo->f, sizeof vo->f, "%s", inv->f);
    vo->type = done ? done->type : HISTORY_INFO;
    if (done != NULL && done->type == HISTORY_OK && done->value != NULL &&
        !json_is_null(done->value)) {
        value = done->value;
    }
    json_decref(vo->value);
    vo->value = value ? json_incref(value) : json_null();
    vo->call = o->call;
    vo->ret = o->ret == OPEN_RET ? -1 : o->ret;
    m->describe_op(&o->mop, vo->desc, sizeof vo->desc);
}

static int set_key(struct verdict *out, const char *key)
{
    free(out->key);
    out->key = NULL;
    out->has_key = true;
    if (key != NULL) {
        out->key = strdup(key);
        if (out->key == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* One part of the history: a key's ops (all ops when not split). */
struct part {
    size_t lo;   /* its first op in key order (order[lo]) */
    size_t idlo; /* its kept ops: ids[idlo .. idlo + n) */
    size_t n;
    int outcome;    /* enum outcome; OUT_PENDING until searched */
    size_t culprit; /* invalid: the op (into ops) that can't be placed */
    size_t best_depth, nreq;
    char state[96]; /* invalid: the model state at the deepest dead end */
    char why[192];  /* invalid before the search: why (verdict.why) */
};

/* The searches of one check: the parts, and the round being run. */
struct pool {
    struct shared sh;
    const struct op *ops;
    size_t *ids;
    struct part *parts;
    size_t nparts;
    void *mctx;          /* the model's context for this check, or NULL */
    uint64_t budget;     /* steps per search this round; 0: no bound */
    _Atomic size_t next; /* the next part to take this round */
    _Atomic int error;   /* the first -ENOMEM, or 0 */
};

/* ------------------------------------------------------------------ */
/* Unwritten results                                                  */
/*                                                                    */
/* Before any search: an op with a result that needs a state some     */
/* other op must have left (a read of 1047 needs a write of 1047 or a */
/* cas to it, taking effect before the read), where no op of its part */
/* leaves one, or only ops invoked after it returned (they can't take */
/* effect before it), fits in no order: the part is invalid, found in */
/* linear time. Ops of unknown outcome count as writers from their    */
/* invoke on (they may take effect any time after it). When nothing   */
/* is found the search runs as before: the check is sound for invalid */
/* only. Tokens come from the model (model.h, writes and needs).      */
/* ------------------------------------------------------------------ */

/* Tokens an op adds, with the op. */
struct tokbuf {
    struct tok {
        uint64_t tok;
        size_t op; /* index into the part's ids */
    } *v;
    size_t n, cap;
    size_t op; /* the op being asked */
    bool failed;
};

static void tok_add(void *arg, uint64_t tok)
{
    struct tokbuf *b = arg;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct tok *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            b->failed = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = (struct tok){tok ? tok : 1, b->op};
}

/* A token's two earliest writers (by invoke time): two, so that an op
 * that writes what it needs (a cas from 3 to 3) is not its own writer. */
struct writer {
    uint64_t tok; /* 0: empty slot */
    int64_t call[2];
    size_t op[2];
};

static struct writer *writer_find(struct writer *t, size_t mask, uint64_t tok)
{
    size_t i = (size_t)mix64(tok) & mask;
    while (t[i].tok != 0 && t[i].tok != tok) {
        i = (i + 1) & mask;
    }
    return &t[i];
}

/* Look for an unwritten result in part @p of @pl (ops in @all): on
 * finding one, the part is invalid (its outcome, culprit and why set).
 * Returns 0 or -ENOMEM. */
static int unwritten_part(struct pool *pl, const struct history *h,
                          const struct op *all, struct part *p)
{
    const struct model *m = pl->sh.m;
    const size_t *ids = pl->ids + p->idlo;
    struct tokbuf wb = {0}, nb = {0};
    struct writer *tab = NULL;
    size_t mask = 0, culprit = SIZE_MAX, writer = SIZE_MAX, nreq = 0;
    const char *what = NULL;
    int rv = -ENOMEM;

    for (size_t j = 0; j < p->n; j++) {
        wb.op = j;
        m->writes(&all[ids[j]].mop, tok_add, &wb);
        nreq += !all[ids[j]].mop.open;
    }
    if (wb.failed) {
        goto out;
    }
    for (mask = 15; mask < 2 * wb.n; mask = 2 * mask + 1) {
    }
    tab = calloc(mask + 1, sizeof *tab);
    if (tab == NULL) {
        goto out;
    }
    for (size_t k = 0; k < wb.n; k++) {
        struct writer *w = writer_find(tab, mask, wb.v[k].tok);
        size_t j = wb.v[k].op;
        int64_t call = all[ids[j]].call;
        if (w->tok == 0) {
            *w = (struct writer){wb.v[k].tok, {INT64_MAX, INT64_MAX},
                                 {SIZE_MAX, SIZE_MAX}};
        }
        if (w->op[0] == j || w->op[1] == j) {
            continue;
        }
        if (call < w->call[0]) {
            w->call[1] = w->call[0];
            w->op[1] = w->op[0];
            w->call[0] = call;
            w->op[0] = j;
        } else if (call < w->call[1]) {
            w->call[1] = call;
            w->op[1] = j;
        }
    }
    for (size_t j = 0; j < p->n; j++) {
        const struct op *o = &all[ids[j]];
        const char *need;
        int64_t first = INT64_MAX;
        size_t by = SIZE_MAX;

        if (o->mop.open) {
            continue;
        }
        nb.n = 0;
        nb.op = j;
        need = m->needs(&o->mop, tok_add, &nb);
        if (nb.failed) {
            goto out;
        }
        if (need == NULL || nb.n == 0) {
            continue;
        }
        for (size_t k = 0; k < nb.n && first > o->ret; k++) {
            const struct writer *w = writer_find(tab, mask, nb.v[k].tok);
            int i = w->op[0] == j;
            if (w->tok != 0 && w->call[i] < first) {
                first = w->call[i];
                by = w->op[i];
            }
        }
        /* Intervals are closed: a writer invoked at the instant the op
         * returns may take effect before it. */
        if (first <= o->ret) {
            continue;
        }
        if (culprit == SIZE_MAX || o->ret < all[ids[culprit]].ret) {
            culprit = j;
            writer = by;
            what = need;
        }
    }
    rv = 0;
    if (culprit != SIZE_MAX) {
        p->outcome = OUT_INVALID;
        p->culprit = ids[culprit];
        p->best_depth = 0;
        p->nreq = nreq;
        p->state[0] = '\0';
        if (writer == SIZE_MAX) {
            snprintf(p->why, sizeof p->why, "%s never written", what);
        } else {
            char desc[96];
            m->describe_op(&all[ids[writer]].mop, desc, sizeof desc);
            snprintf(p->why, sizeof p->why,
                     "%s written only by ops invoked after it returned "
                     "(the first: %s at index %" PRId64 ")",
                     what, desc, h->events[all[ids[writer]].inv].index);
        }
    }

out:
    free(wb.v);
    free(nb.v);
    free(tab);
    return rv;
}

/* Search part @pi once (within this round's budget). Returns 0 or
 * -ENOMEM. */
static int search_part(struct pool *pl, size_t pi)
{
    struct part *p = &pl->parts[pi];
    const struct model *m = pl->sh.m;
    struct search s;
    int rv;

    memset(&s, 0, sizeof s);
    s.sh = &pl->sh;
    s.part = pi;
    s.budget = pl->budget;
    if (m->search_begin != NULL && m->search_begin(pl->mctx) != 0) {
        return -ENOMEM;
    }
    rv = search_key(&s, pl->ops, pl->ids + p->idlo, p->n);
    if (rv == OUT_INVALID) {
        /* The state may name what the search added: describe it now. */
        p->culprit = pl->ids[p->idlo + s.culprit];
        p->best_depth = s.best_depth;
        p->nreq = s.nreq;
        m->describe_state(s.fail_state, p->state, sizeof p->state);
    }
    if (m->search_end != NULL) {
        m->search_end(pl->mctx);
    }
    if (rv < 0) {
        return rv;
    }
    switch (rv) {
    case OUT_BUDGET:
        return 0; /* still pending: the next round searches it again */
    case OUT_INVALID: {
        size_t cur = atomic_load(&pl->sh.min_invalid);
        while (pi < cur &&
               !atomic_compare_exchange_weak(&pl->sh.min_invalid, &cur, pi)) {
        }
        break;
    }
    case OUT_TIME:
        atomic_store(&pl->sh.stop, true);
        break;
    }
    p->outcome = rv;
    return 0;
}

/* Take parts in key order until none is left this round. */
static void *worker(void *arg)
{
    struct pool *pl = arg;
    for (;;) {
        size_t pi = atomic_fetch_add(&pl->next, 1);
        if (pi >= pl->nparts || atomic_load(&pl->sh.stop) ||
            atomic_load(&pl->error) != 0) {
            break;
        }
        struct part *p = &pl->parts[pi];
        if (p->outcome != OUT_PENDING) {
            continue;
        }
        if (pi > atomic_load(&pl->sh.min_invalid)) {
            p->outcome = OUT_CANCEL;
            continue;
        }
        if (pl->sh.deadline != 0 && now_s() >= pl->sh.deadline) {
            p->outcome = OUT_TIME;
            atomic_store(&pl->sh.stop, true);
            break;
        }
        int rv = search_part(pl, pi);
        if (rv != 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&pl->error, &zero, rv);
            break;
        }
    }
    return NULL;
}

/* Run one round on @threads threads (the caller's among them). */
static void run_round(struct pool *pl, unsigned threads)
{
    pthread_t tids[CHECKER_THREADS_MAX];
    unsigned started = 0;

    atomic_store(&pl->next, 0);
    while (started + 1 < threads) {
        if (pthread_create(&tids[started], NULL, worker, pl) != 0) {
            break; /* fewer threads, same answer */
        }
        started++;
    }
    worker(pl);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) {
        return 1;
    }
    return n > CHECKER_THREADS_MAX ? CHECKER_THREADS_MAX : (unsigned)n;
}

/* One check, phase to phase: its limits, its ops (paired, translated),
 * its parts (one per key), the unwritten results, the search rounds, the
 * verdict. */
struct lin_check {
    struct pool pl;
    const struct history *h;
    const struct model *m;
    const struct checker_limits *lim;
    struct verdict *out;
    struct op *ops;
    size_t nops;
    size_t *order; /* ops by key */
    unsigned threads;
};

static void lin_limits(struct lin_check *c, double start)
{
    const struct checker_limits *lim = c->lim;
    struct verdict *out = c->out;

    c->threads =
        lim != NULL && lim->threads > 0 ? lim->threads : default_threads();
    c->pl.sh.m = c->m;
    atomic_init(&c->pl.sh.min_invalid, SIZE_MAX);
    if (lim != NULL && lim->time_s > 0) {
        c->pl.sh.deadline = start + lim->time_s;
    }
    if (lim != NULL) {
        c->pl.sh.memory_limit = lim->memory_bytes;
    }
    if (c->threads > CHECKER_THREADS_MAX) {
        c->threads = CHECKER_THREADS_MAX;
    }
    if (c->m->reset != NULL) {
        c->threads = 1; /* its tables are static */
    }
    /* Asked not to split, a model that is a product of keys is still
     * searched key by key: a history is linearizable iff each key's
     * sub-history is (locality; P-compositionality, Horn & Kroening), so
     * the verdict is the one a whole search would give, found sooner. */
    out->whole = lim != NULL && lim->whole;
    out->per_key = out->whole && c->m->per_key && !lim->no_compose;
    whole_history = out->whole && !out->per_key;
}

/* The model's context, and the history's ops as the model's. */
static int lin_read(struct lin_check *c)
{
    const struct model *m = c->m;
    int rv;

    if (m->reset != NULL) {
        m->reset();
    }
    if (m->check_begin != NULL) {
        c->pl.mctx = m->check_begin();
        if (c->pl.mctx == NULL) {
            return -ENOMEM;
        }
    }
    rv = pair_events(c->h, &c->ops, &c->nops, c->out);
    if (rv == 0) {
        rv = translate(c->h, m, c->ops, c->nops, c->out);
    }
    if (rv == 0) {
        c->out->ops = c->nops;
    }
    return rv;
}

/* One part per key with kept ops, in key order; its kept ops go to ids,
 * side by side. */
static int lin_split(struct lin_check *c)
{
    const struct history *h = c->h;
    const struct op *ops = c->ops;
    struct pool *pl = &c->pl;
    size_t nops = c->nops, *order;

    c->order = order = malloc((nops + 1) * sizeof *order);
    pl->ids = malloc((nops + 1) * sizeof *pl->ids);
    if (order == NULL || pl->ids == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < nops; i++) {
        order[i] = i;
    }
    struct sort_ctx ctx = {h, ops};
    qsort_r(order, nops, sizeof *order, by_key, &ctx);
    for (size_t i = 0; i < nops; i++) {
        c->out->keys += i == 0 || key_cmp(op_key(h, &ops[order[i]]),
                                          op_key(h, &ops[order[i - 1]])) != 0;
    }
    pl->parts = malloc((c->out->keys + 1) * sizeof *pl->parts);
    if (pl->parts == NULL) {
        return -ENOMEM;
    }
    for (size_t lo = 0, nids = 0; lo < nops;) {
        const char *key = op_key(h, &ops[order[lo]]);
        size_t hi = lo, first = nids;
        for (; hi < nops && key_cmp(op_key(h, &ops[order[hi]]), key) == 0;
             hi++) {
            if (ops[order[hi]].keep) {
                pl->ids[nids++] = order[hi];
            }
        }
        if (nids - first >= (size_t)INT32_MAX / 2) {
            return fail_history(c->out, "too many operations on one key (%zu)",
                                nids - first);
        }
        if (nids > first) {
            pl->parts[pl->nparts++] = (struct part){.lo = lo,
                                                    .idlo = first,
                                                    .n = nids - first,
                                                    .outcome = OUT_PENDING};
        }
        lo = hi;
    }
    pl->ops = ops;
    return 0;
}

/* Unwritten results first: a part found so needs no search. */
static int lin_unwritten(struct lin_check *c)
{
    struct pool *pl = &c->pl;

    if (c->m->writes == NULL || c->m->needs == NULL) {
        return 0;
    }
    for (size_t i = 0; i < pl->nparts; i++) {
        int rv = unwritten_part(pl, c->h, c->ops, &pl->parts[i]);
        if (rv != 0) {
            return rv;
        }
        if (pl->parts[i].outcome == OUT_INVALID) {
            atomic_store(&pl->sh.min_invalid, i);
            break;
        }
    }
    return 0;
}

/* Parts are searched in rounds with a step budget that grows eightfold
 * each round, so that one hard part (valid or not) does not hide an
 * easy invalid one after it: as if the parts were searched side by
 * side, at most about 1/7 of the work is repeated. Several threads
 * take the parts of a round in key order. The round that finds a part
 * invalid is the last: the verdict names the first part in key order
 * found invalid in it. Budgets count steps, not time, so which parts
 * a round proves invalid does not depend on the thread count or on
 * which finished first: the verdict is the same for any --threads
 * (unless a time limit cuts in). A part found invalid cancels the
 * searches of later parts in its round; earlier ones run to their
 * budget, as they would on one thread. */
static int lin_rounds(struct lin_check *c)
{
    struct pool *pl = &c->pl;

    for (uint64_t budget = 1 << 15;;
         budget = budget < (UINT64_MAX >> 4) ? budget * 8 : 0) {
        size_t pending = 0;
        int rv;
        for (size_t i = 0; i < pl->nparts; i++) {
            pending += pl->parts[i].outcome == OUT_PENDING;
        }
        if (pending == 0 || atomic_load(&pl->sh.stop) ||
            atomic_load(&pl->sh.min_invalid) != SIZE_MAX) {
            return 0;
        }
        pl->budget = pending > 1 ? budget : 0;
        run_round(pl, pending < c->threads ? (unsigned)pending : c->threads);
        rv = atomic_load(&pl->error);
        if (rv != 0) {
            return rv;
        }
    }
}

/* The verdict, in key order: the first invalid part, else the first
 * that hit a limit. */
static int lin_verdict(struct lin_check *c)
{
    struct verdict *out = c->out;
    const struct history *h = c->h;

    for (size_t i = 0; i < c->pl.nparts; i++) {
        struct part *p = &c->pl.parts[i];
        if (p->outcome == OUT_INVALID) {
            out->result = VERDICT_INVALID;
            if (set_key(out, op_key(h, &c->ops[c->order[p->lo]])) != 0) {
                return -ENOMEM;
            }
            describe_op(h, c->m, &c->ops[p->culprit], &out->op);
            out->prefix = p->best_depth;
            out->key_ops = p->nreq;
            snprintf(out->state, sizeof out->state, "%s", p->state);
            snprintf(out->why, sizeof out->why, "%s", p->why);
            return 0;
        }
    }
    for (size_t i = 0; i < c->pl.nparts; i++) {
        struct part *p = &c->pl.parts[i];
        if (p->outcome != OUT_TIME && p->outcome != OUT_MEMORY) {
            continue;
        }
        out->result = VERDICT_UNKNOWN;
        if (set_key(out, op_key(h, &c->ops[c->order[p->lo]])) != 0) {
            return -ENOMEM;
        }
        out->key_ops = p->n;
        if (p->outcome == OUT_TIME) {
            snprintf(out->reason, sizeof out->reason,
                     "time limit of %g s reached", c->lim->time_s);
        } else {
            snprintf(out->reason, sizeof out->reason,
                     "memory limit of %zu bytes reached", c->lim->memory_bytes);
        }
        return 0;
    }
    return 0;
}

int checker_linearizable(const struct history *h, const struct model *m,
                         const struct checker_limits *lim, struct verdict *out)
{
    double start = now_s();
    struct lin_check c = {.h = h, .m = m, .lim = lim, .out = out};
    int rv;

    verdict_init(out);
    out->model = m->name;
    out->partial = h->partial;
    if (m->state_size > MODEL_STATE_MAX) {
        return fail_history(out, "model %s: state of %zu bytes (at most %d)",
                            m->name, m->state_size, MODEL_STATE_MAX);
    }
    lin_limits(&c, start);
    rv = lin_read(&c);
    if (rv == 0) {
        rv = lin_split(&c);
    }
    if (rv == 0) {
        rv = lin_unwritten(&c);
    }
    if (rv == 0) {
        rv = lin_rounds(&c);
    }
    if (rv == 0) {
        rv = lin_verdict(&c);
    }
    if (rv == -ENOMEM) {
        out->result = VERDICT_UNKNOWN;
        snprintf(out->reason, sizeof out->reason, "out of memory");
    }
    out->steps = atomic_load(&c.pl.sh.steps);
    out->states = atomic_load(&c.pl.sh.states);
    out->seconds = now_s() - start;
    free(c.ops);
    free(c.order);
    free(c.pl.ids);
    free(c.pl.parts);
    if (m->check_end != NULL) {
        m->check_end(c.pl.mctx);
    }
    if (m->reset != NULL) {
        m->reset();
    }
    return rv;
}
