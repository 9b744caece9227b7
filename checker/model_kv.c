/* model_kv: a key-value store of strings with get, put and append.
 *
 * The semantics of Porcupine's kv model: every key starts as "" (a get of
 * an unset key returns ""); put sets a key; append concatenates its value
 * to the key's string. The state is a whole map, so the model is correct
 * whether or not the checker splits the history by key (split, each part's
 * map has one key).
 *
 * States must be a few plain bytes, so strings and maps are hash-consed:
 * each distinct string, and each distinct map (sorted pairs of key and
 * value ids, with "" values left out so one map has one form), is stored
 * once in an intern table and named by its number. Equal numbers mean
 * equal contents, so a state is one number and compares in one step.
 *
 * Tables are per check, not global: a check's table holds the keys and
 * values of its ops (filled while the ops are translated, then frozen);
 * each key's search has a table of its own on top (the strings and maps
 * its appends and puts make, numbered after the check's), so searches run
 * on several threads at once. The search applies the same op to the same
 * state over and over, so a search table also remembers the result of
 * each append and map update it made (a memo): a repeated step is one
 * probe, not a hash of the whole string. */
#include "checker/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KV_GET, KV_PUT, KV_APPEND };

/* ------------------------------------------------------------------ */
/* The intern tables                                                   */
/* ------------------------------------------------------------------ */

struct blob {
    size_t off; /* into bytes */
    uint32_t len;
    uint32_t hash;
};

/* A remembered step: append (string a, value b) or map set (map a, key b,
 * value c) gave v. */
struct memo {
    uint32_t a, b, c, v;
};

#define MEMO_EMPTY  UINT32_MAX
#define MEMO_APPEND UINT32_MAX /* c of an append */

struct table {
    unsigned char *bytes;
    size_t nbytes, cap_bytes;
    struct blob *blobs;
    uint32_t n, cap;
    uint32_t *slots; /* blob number + 1; 0 empty */
    uint32_t mask;
    uint32_t first;    /* the id of this table's blob 0 */
    struct memo *memo; /* v == MEMO_EMPTY: free */
    uint32_t memo_n, memo_mask;
    bool failed; /* a step found no memory: its "no" proves nothing */
};

/* A check's context: its frozen table, and the ids every search needs. */
struct kv_ctx {
    struct table base;
    uint32_t empty;     /* "" (a string) */
    uint32_t empty_map; /* {} */
};

/* The check and search running on this thread. */
static _Thread_local struct kv_ctx *ctx_now;
static _Thread_local struct table *over_now; /* NULL outside a search */

/* Blobs start with a tag so a string and a map never share an id. */
#define TAG_STRING 'S'
#define TAG_MAP    'M'

static void table_close(struct table *t)
{
    free(t->bytes);
    free(t->blobs);
    free(t->slots);
    free(t->memo);
    memset(t, 0, sizeof *t);
}

static size_t table_bytes(const struct table *t)
{
    return t->cap_bytes + (size_t)t->cap * sizeof *t->blobs +
           (t->slots ? ((size_t)t->mask + 1) * sizeof *t->slots : 0) +
           (t->memo ? ((size_t)t->memo_mask + 1) * sizeof *t->memo : 0);
}

static int grow_slots(struct table *t)
{
    uint32_t cap = t->slots ? (t->mask + 1) * 2 : 256;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t j = t->blobs[i].hash & (cap - 1);
        while (slots[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        slots[j] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

static uint32_t blob_hash(unsigned char t, const void *a, size_t alen,
                          const void *b, size_t blen)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = (h ^ t) * 0x100000001b3ULL;
    for (size_t k = 0; k < alen; k++) {
        h = (h ^ ((const unsigned char *)a)[k]) * 0x100000001b3ULL;
    }
    for (size_t k = 0; k < blen; k++) {
        h = (h ^ ((const unsigned char *)b)[k]) * 0x100000001b3ULL;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* The number in @t of the blob @tag + @a + @b, or UINT32_MAX if absent;
 * *@slot is where it would go. */
static uint32_t table_find(const struct table *t, uint32_t hash,
                           unsigned char tag, const void *a, size_t alen,
                           const void *b, size_t blen, uint32_t *slot)
{
    size_t len = 1 + alen + blen;
    uint32_t i;
    if (t->slots == NULL) {
        *slot = 0;
        return UINT32_MAX;
    }
    for (i = hash & t->mask; t->slots[i] != 0; i = (i + 1) & t->mask) {
        const struct blob *bl = &t->blobs[t->slots[i] - 1];
        const unsigned char *p = t->bytes + bl->off;
        if (bl->hash == hash && bl->len == len && p[0] == tag &&
            (alen == 0 || memcmp(p + 1, a, alen) == 0) &&
            (blen == 0 || memcmp(p + 1 + alen, b, blen) == 0)) {
            *slot = i;
            return t->slots[i] - 1;
        }
    }
    *slot = i;
    return UINT32_MAX;
}

/* Add the blob to @t (absent from it; @a and @b must not point into @t):
 * its number in @t, or UINT32_MAX when out of memory. */
static uint32_t table_add(struct table *t, uint32_t hash, unsigned char tag,
                          const void *a, size_t alen, const void *b,
                          size_t blen)
{
    size_t len = 1 + alen + blen;
    uint32_t slot;

    if (len > UINT32_MAX || t->n >= UINT32_MAX / 4) {
        return UINT32_MAX;
    }
    if (t->slots == NULL || (t->n + 1) * 2 > t->mask + 1) {
        if (grow_slots(t) != 0) {
            return UINT32_MAX;
        }
    }
    for (slot = hash & t->mask; t->slots[slot] != 0;
         slot = (slot + 1) & t->mask) {
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        struct blob *nb = realloc(t->blobs, cap * sizeof *nb);
        if (nb == NULL) {
            return UINT32_MAX;
        }
        t->blobs = nb;
        t->cap = cap;
    }
    if (t->nbytes + len > t->cap_bytes) {
        size_t cap = t->cap_bytes ? t->cap_bytes : 4096;
        while (cap < t->nbytes + len) {
            cap *= 2;
        }
        unsigned char *nb = realloc(t->bytes, cap);
        if (nb == NULL) {
            return UINT32_MAX;
        }
        t->bytes = nb;
        t->cap_bytes = cap;
    }
    t->bytes[t->nbytes] = tag;
    if (alen > 0) {
        memcpy(t->bytes + t->nbytes + 1, a, alen);
    }
    if (blen > 0) {
        memcpy(t->bytes + t->nbytes + 1 + alen, b, blen);
    }
    t->blobs[t->n] = (struct blob){t->nbytes, (uint32_t)len, hash};
    t->nbytes += len;
    t->slots[slot] = t->n + 1;
    return t->n++;
}

/* The id of the blob @tag + @a + @b (two parts, so a concatenation needs
 * no scratch copy), adding it to the search's table (or, outside a
 * search, the check's) if new; UINT32_MAX when out of memory. @a and @b
 * must not point into the table that may grow. */
static uint32_t intern2(int tag, const void *a, size_t alen, const void *b,
                        size_t blen)
{
    unsigned char t = (unsigned char)tag;
    uint32_t hash = blob_hash(t, a, alen, b, blen), slot, id;
    struct table *base = &ctx_now->base;

    id = table_find(base, hash, t, a, alen, b, blen, &slot);
    if (id != UINT32_MAX) {
        return id;
    }
    if (over_now == NULL) {
        return table_add(base, hash, t, a, alen, b, blen);
    }
    id = table_find(over_now, hash, t, a, alen, b, blen, &slot);
    if (id == UINT32_MAX) {
        id = table_add(over_now, hash, t, a, alen, b, blen);
        if (id == UINT32_MAX) {
            return UINT32_MAX;
        }
    }
    return over_now->first + id;
}

static const unsigned char *blob_data(uint32_t id, size_t *len)
{
    const struct table *t = &ctx_now->base;
    if (id >= t->n) {
        t = over_now;
        id -= t->first;
    }
    *len = t->blobs[id].len - 1;
    return t->bytes + t->blobs[id].off + 1;
}

static uint32_t memo_slot(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t z = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ULL;
    z ^= (uint64_t)c * 0xbf58476d1ce4e5b9ULL;
    return (uint32_t)((z ^ (z >> 29)) >> 16);
}

/* The remembered result of (a, b, c), or UINT32_MAX. */
static uint32_t memo_get(uint32_t a, uint32_t b, uint32_t c)
{
    const struct table *t = over_now;
    if (t == NULL || t->memo == NULL) {
        return UINT32_MAX;
    }
    for (uint32_t i = memo_slot(a, b, c) & t->memo_mask;
         t->memo[i].v != MEMO_EMPTY; i = (i + 1) & t->memo_mask) {
        const struct memo *e = &t->memo[i];
        if (e->a == a && e->b == b && e->c == c) {
            return e->v;
        }
    }
    return UINT32_MAX;
}

/* Remember (a, b, c) -> v; a full memo is only slower, so failure to
 * grow it is no error. */
static void memo_put(uint32_t a, uint32_t b, uint32_t c, uint32_t v)
{
    struct table *t = over_now;
    if (t == NULL || v == UINT32_MAX) {
        return;
    }
    if (t->memo == NULL || (t->memo_n + 1) * 2 > t->memo_mask + 1) {
        uint32_t cap = t->memo ? (t->memo_mask + 1) * 2 : 256;
        struct memo *m = malloc(cap * sizeof *m);
        if (m == NULL || cap == 0) {
            free(m);
            return;
        }
        for (uint32_t i = 0; i < cap; i++) {
            m[i].v = MEMO_EMPTY;
        }
        for (uint32_t i = 0; t->memo != NULL && i <= t->memo_mask; i++) {
            const struct memo *e = &t->memo[i];
            if (e->v != MEMO_EMPTY) {
                uint32_t j = memo_slot(e->a, e->b, e->c) & (cap - 1);
                while (m[j].v != MEMO_EMPTY) {
                    j = (j + 1) & (cap - 1);
                }
                m[j] = *e;
            }
        }
        free(t->memo);
        t->memo = m;
        t->memo_mask = cap - 1;
    }
    uint32_t i = memo_slot(a, b, c) & t->memo_mask;
    while (t->memo[i].v != MEMO_EMPTY) {
        i = (i + 1) & t->memo_mask;
    }
    t->memo[i] = (struct memo){a, b, c, v};
    t->memo_n++;
}

static void *kv_check_begin(void)
{
    struct kv_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    ctx_now = c;
    over_now = NULL;
    c->empty = intern2(TAG_STRING, "", 0, NULL, 0);
    c->empty_map = intern2(TAG_MAP, "", 0, NULL, 0);
    if (c->empty == UINT32_MAX || c->empty_map == UINT32_MAX) {
        table_close(&c->base);
        free(c);
        ctx_now = NULL;
        return NULL;
    }
    return c;
}

static void kv_check_end(void *ctx)
{
    struct kv_ctx *c = ctx;
    if (c == NULL) {
        return;
    }
    if (ctx_now == c) {
        ctx_now = NULL;
        over_now = NULL;
    }
    table_close(&c->base);
    free(c);
}

static int kv_search_begin(void *ctx)
{
    struct kv_ctx *c = ctx;
    struct table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return -ENOMEM;
    }
    t->first = c->base.n;
    ctx_now = c;
    over_now = t;
    return 0;
}

static void kv_search_end(void *ctx)
{
    (void)ctx;
    if (over_now != NULL) {
        table_close(over_now);
        free(over_now);
        over_now = NULL;
    }
}

static size_t kv_search_bytes(void)
{
    if (over_now == NULL) {
        return 0;
    }
    return over_now->failed ? SIZE_MAX : table_bytes(over_now);
}

/* ------------------------------------------------------------------ */
/* The model                                                          */
/* ------------------------------------------------------------------ */

struct kv {
    uint64_t map; /* id of a map blob */
};

/* A map is pairs (key id, value id), sorted by key id. */
struct pair {
    uint32_t k, v;
};

static uint32_t map_get(uint32_t map, uint32_t key)
{
    size_t len;
    const unsigned char *p = blob_data(map, &len);
    for (size_t i = 0; i < len / sizeof(struct pair); i++) {
        struct pair pr;
        memcpy(&pr, p + i * sizeof pr, sizeof pr);
        if (pr.k == key) {
            return pr.v;
        }
    }
    return ctx_now->empty;
}

/* @map with @key set to @value ("" removes it): a map id, or UINT32_MAX. */
static uint32_t map_set(uint32_t map, uint32_t key, uint32_t value)
{
    size_t len, n, at;
    const unsigned char *p;
    struct pair small[16], *buf = small;
    uint32_t id = memo_get(map, key, value), empty = ctx_now->empty;

    if (id != UINT32_MAX) {
        return id;
    }
    p = blob_data(map, &len);
    n = len / sizeof(struct pair);
    if (n + 1 > sizeof small / sizeof small[0]) {
        buf = malloc((n + 1) * sizeof *buf);
        if (buf == NULL) {
            return UINT32_MAX;
        }
    }
    memcpy(buf, p, len);
    for (at = 0; at < n && buf[at].k < key; at++) {
    }
    if (at < n && buf[at].k == key) {
        if (value == empty) {
            memmove(buf + at, buf + at + 1, (n - at - 1) * sizeof *buf);
            n--;
        } else {
            buf[at].v = value;
        }
    } else if (value != empty) {
        memmove(buf + at + 1, buf + at, (n - at) * sizeof *buf);
        buf[at] = (struct pair){key, value};
        n++;
    }
    id = intern2(TAG_MAP, buf, n * sizeof *buf, NULL, 0);
    if (buf != small) {
        free(buf);
    }
    memo_put(map, key, value, id);
    return id;
}

/* The string @a followed by the string @b: an id, or UINT32_MAX. */
static uint32_t concat(uint32_t a, uint32_t b)
{
    uint32_t id = memo_get(a, b, MEMO_APPEND);
    size_t la, lb;
    const unsigned char *pa, *pb;
    unsigned char small[256], *tmp = small;

    if (id != UINT32_MAX) {
        return id;
    }
    pa = blob_data(a, &la);
    pb = blob_data(b, &lb);
    /* Both may live in the table that grows: copy them out first. */
    if (la + lb > sizeof small) {
        tmp = malloc(la + lb);
        if (tmp == NULL) {
            return UINT32_MAX;
        }
    }
    memcpy(tmp, pa, la);
    memcpy(tmp + la, pb, lb);
    id = intern2(TAG_STRING, tmp, la + lb, NULL, 0);
    if (tmp != small) {
        free(tmp);
    }
    memo_put(a, b, MEMO_APPEND, id);
    return id;
}

static int string_id(json_t *v, bool null_ok, int64_t *out)
{
    uint32_t id;
    if (null_ok && (v == NULL || json_is_null(v))) {
        *out = ctx_now->empty;
        return 0;
    }
    if (!json_is_string(v)) {
        return -EINVAL;
    }
    id = intern2(TAG_STRING, json_string_value(v), json_string_length(v), NULL,
                 0);
    if (id == UINT32_MAX) {
        return -ENOMEM;
    }
    *out = id;
    return 0;
}

static int op_from_events(const struct history_event *invoke,
                          const struct history_event *done, struct model_op *op,
                          char *err, size_t errlen)
{
    const char *key = invoke->key != NULL ? invoke->key : "";
    uint32_t kid;
    int rv;

    memset(op, 0, sizeof *op);
    op->open = done == NULL;
    if (ctx_now == NULL) {
        snprintf(err, errlen, "kv: no check context (internal error)");
        return -EINVAL;
    }
    kid = intern2(TAG_STRING, key, strlen(key), NULL, 0);
    if (kid == UINT32_MAX) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    op->in[0] = kid;
    if (strcmp(invoke->f, "get") == 0) {
        op->f = KV_GET;
        if (done == NULL) {
            return MODEL_DROP;
        }
        rv = string_id(done->value, true, &op->out);
        if (rv != 0) {
            snprintf(err, errlen, "%s",
                     rv == -ENOMEM ? "out of memory"
                                   : "ok get value: expected a string");
            return rv;
        }
        return MODEL_KEEP;
    }
    if (strcmp(invoke->f, "put") == 0 || strcmp(invoke->f, "append") == 0) {
        op->f = invoke->f[0] == 'p' ? KV_PUT : KV_APPEND;
        rv = string_id(invoke->value, false, &op->in[1]);
        if (rv != 0) {
            if (rv == -ENOMEM) {
                snprintf(err, errlen, "out of memory");
            } else {
                snprintf(err, errlen, "%s value: expected a string", invoke->f);
            }
            return rv;
        }
        return MODEL_KEEP;
    }
    snprintf(err, errlen, "unknown operation \"%s\" (kv has get, put, append)",
             invoke->f);
    return -EINVAL;
}

static void init(void *state)
{
    struct kv *s = state;
    s->map = ctx_now->empty_map;
}

static bool step(const void *state, const struct model_op *op, void *next)
{
    const struct kv *s = state;
    struct kv *n = next;
    uint32_t key = (uint32_t)op->in[0], v;

    switch (op->f) {
    case KV_GET:
        if (map_get((uint32_t)s->map, key) != (uint32_t)op->out) {
            return false;
        }
        *n = *s;
        return true;
    case KV_PUT:
        v = (uint32_t)op->in[1];
        break;
    case KV_APPEND:
        v = concat(map_get((uint32_t)s->map, key), (uint32_t)op->in[1]);
        break;
    default:
        return false;
    }
    if (v != UINT32_MAX) {
        v = map_set((uint32_t)s->map, key, v);
    }
    if (v == UINT32_MAX) {
        if (over_now != NULL) {
            over_now->failed = true;
        }
        return false;
    }
    n->map = v;
    return true;
}

/* A put can make a key anything; get and append can't. */
static bool resets(const struct model_op *op)
{
    return op->f == KV_PUT;
}

/* Without puts a string only grows: a get can still see @op->out only if
 * the key's string now is a prefix of it. */
static bool reachable(const void *state, const struct model_op *op)
{
    size_t lc, lo;
    const unsigned char *c, *o;
    if (op->f != KV_GET) {
        return true;
    }
    c = blob_data(
        map_get((uint32_t)((const struct kv *)state)->map, (uint32_t)op->in[0]),
        &lc);
    o = blob_data((uint32_t)op->out, &lo);
    return lc <= lo && (lc == 0 || memcmp(c, o, lc) == 0);
}

static bool equal(const void *a, const void *b)
{
    return ((const struct kv *)a)->map == ((const struct kv *)b)->map;
}

static uint64_t hash(const void *state)
{
    uint64_t z = ((const struct kv *)state)->map + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* "text", quoted and cut to @max bytes. */
static void quote(uint32_t id, char *buf, size_t size, size_t max)
{
    size_t len;
    const unsigned char *p = blob_data(id, &len);
    snprintf(buf, size, "\"%.*s%s\"", (int)(len < max ? len : max), p,
             len > max ? "..." : "");
}

static void describe_op(const struct model_op *op, char *buf, size_t size)
{
    char k[40], v[48];
    quote((uint32_t)op->in[0], k, sizeof k, 24);
    switch (op->f) {
    case KV_GET:
        if (op->open) {
            snprintf(buf, size, "get %s -> ?", k);
        } else {
            quote((uint32_t)op->out, v, sizeof v, 32);
            snprintf(buf, size, "get %s -> %s", k, v);
        }
        break;
    default:
        quote((uint32_t)op->in[1], v, sizeof v, 32);
        snprintf(buf, size, "%s %s %s%s", op->f == KV_PUT ? "put" : "append", k,
                 v, op->open ? " (outcome unknown)" : "");
    }
}

static void describe_state(const void *state, char *buf, size_t size)
{
    size_t len, used = 0;
    const unsigned char *p =
        blob_data((uint32_t)((const struct kv *)state)->map, &len);
    used += (size_t)snprintf(buf, size, "{");
    for (size_t i = 0; i < len / sizeof(struct pair) && used < size; i++) {
        struct pair pr;
        char k[40], v[48];
        memcpy(&pr, p + i * sizeof pr, sizeof pr);
        quote(pr.k, k, sizeof k, 16);
        quote(pr.v, v, sizeof v, 24);
        used += (size_t)snprintf(buf + used, size - used, "%s%s: %s",
                                 i ? ", " : "", k, v);
    }
    if (used < size) {
        snprintf(buf + used, size - used, "}");
    }
}

const struct model model_kv = {
    .name = "kv",
    .state_size = sizeof(struct kv),
    .op_from_events = op_from_events,
    .init = init,
    .step = step,
    .equal = equal,
    .hash = hash,
    .resets = resets,
    .reachable = reachable,
    .describe_op = describe_op,
    .describe_state = describe_state,
    .check_begin = kv_check_begin,
    .check_end = kv_check_end,
    .search_begin = kv_search_begin,
    .search_end = kv_search_end,
    .search_bytes = kv_search_bytes,
};
