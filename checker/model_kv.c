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
 * on several threads at once. (Remembering the result of each append was
 * tried: it missed more than it hit, and cost more than it saved.) */
#include "checker/intern.h"
#include "checker/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KV_GET, KV_PUT, KV_APPEND };

/* ------------------------------------------------------------------ */
/* The intern tables                                                   */
/* ------------------------------------------------------------------ */

/* One table: the shared intern table (checker/intern.h), numbered from
 * @first on. */
struct table {
    struct intern t;
    uint32_t first; /* the id of this table's blob 0 */
    bool failed;    /* a step found no memory: its "no" proves nothing */
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
    intern_free(&t->t);
    memset(t, 0, sizeof *t);
}

/* The id of the blob @tag + @a + @b (two parts, so a concatenation needs
 * no scratch copy), whose FNV state is @fnv, adding it to the search's
 * table (or, outside a search, the check's) if new; UINT32_MAX when out
 * of memory. */
static uint32_t intern_tagged(unsigned char tag, uint64_t fnv, const void *a,
                              size_t alen, const void *b, size_t blen)
{
    const struct intern_part parts[3] = {{&tag, 1}, {a, alen}, {b, blen}};
    struct intern *base = &ctx_now->base.t;
    uint32_t id;

    id = intern_find(base, fnv, parts, 3);
    if (id != INTERN_NONE) {
        return id;
    }
    if (over_now == NULL) {
        return intern_add(base, fnv, parts, 3);
    }
    id = intern_find(&over_now->t, fnv, parts, 3);
    if (id == INTERN_NONE) {
        id = intern_add(&over_now->t, fnv, parts, 3);
        if (id == INTERN_NONE) {
            return UINT32_MAX;
        }
    }
    return over_now->first + id;
}

static uint32_t intern2(int tag, const void *a, size_t alen, const void *b,
                        size_t blen)
{
    unsigned char t = (unsigned char)tag;
    uint64_t fnv = intern_fnv(INTERN_FNV_INIT, &t, 1);
    fnv = intern_fnv(intern_fnv(fnv, a, alen), b, blen);
    return intern_tagged(t, fnv, a, alen, b, blen);
}

/* The table holding @id, and its number there. */
static const struct intern *table_of(uint32_t *id)
{
    const struct table *t = &ctx_now->base;
    if (*id >= t->t.n) {
        t = over_now;
        *id -= t->first;
    }
    return &t->t;
}

static const unsigned char *blob_data(uint32_t id, size_t *len)
{
    const struct intern *t = table_of(&id);
    const unsigned char *p = intern_get(t, id, len);
    *len -= 1;
    return p + 1;
}

/* The FNV state after @id's tag and bytes. */
static uint64_t blob_fnv(uint32_t id)
{
    const struct intern *t = table_of(&id);
    return intern_hash(t, id);
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
    t->first = c->base.t.n;
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
    return over_now->failed ? SIZE_MAX : intern_bytes(&over_now->t);
}

/* ------------------------------------------------------------------ */
/* The model                                                          */
/* ------------------------------------------------------------------ */

struct kv {
    uint64_t map; /* one pair inline (INLINE), or a map blob's id */
};

/* A map is pairs (key id, value id), sorted by key id. */
struct pair {
    uint32_t k, v;
};

/* A map with one pair (what each key's search sees, split by key) lives
 * in the state itself, flagged by the top bit: key << 32 | value. Others
 * are a map blob's id (the empty one too). One form per map, so states
 * still compare as bytes. */
#define INLINE (1ULL << 63)

/* The pairs of @map: a pointer to them (valid until the next intern, or
 * @one), their count in *@n. */
static const struct pair *map_pairs(uint64_t map, struct pair *one, size_t *n)
{
    size_t len;
    if (map & INLINE) {
        one->k = (uint32_t)(map >> 32) & 0x7fffffffU;
        one->v = (uint32_t)map;
        *n = 1;
        return one;
    }
    const unsigned char *p = blob_data((uint32_t)map, &len);
    *n = len / sizeof(struct pair);
    return (const struct pair *)(const void *)p;
}

static uint32_t map_get(uint64_t map, uint32_t key)
{
    struct pair one;
    size_t n;
    const struct pair *p = map_pairs(map, &one, &n);
    for (size_t i = 0; i < n; i++) {
        struct pair pr;
        memcpy(&pr, &p[i], sizeof pr);
        if (pr.k == key) {
            return pr.v;
        }
    }
    return ctx_now->empty;
}

/* @map with @key set to @value ("" removes it): a map, or UINT64_MAX. */
static uint64_t map_set(uint64_t map, uint32_t key, uint32_t value)
{
    size_t n, at;
    struct pair small[16], *buf = small, one;
    const struct pair *p = map_pairs(map, &one, &n);
    uint32_t id, empty = ctx_now->empty;

    if (n + 1 > sizeof small / sizeof small[0]) {
        buf = malloc((n + 1) * sizeof *buf);
        if (buf == NULL) {
            return UINT64_MAX;
        }
    }
    memcpy(buf, p, n * sizeof *buf);
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
    if (n == 0) {
        id = ctx_now->empty_map;
    } else if (n == 1 && buf[0].k <= 0x7fffffffU) {
        uint64_t m = INLINE | (uint64_t)buf[0].k << 32 | buf[0].v;
        if (buf != small) {
            free(buf);
        }
        return m;
    } else {
        id = intern2(TAG_MAP, buf, n * sizeof *buf, NULL, 0);
    }
    if (buf != small) {
        free(buf);
    }
    return id == UINT32_MAX ? UINT64_MAX : id;
}

/* The string @a followed by the string @b: an id, or UINT32_MAX. The
 * hash goes on from @a's, so only @b's bytes are hashed, and nothing is
 * copied unless the string is new. */
static uint32_t concat(uint32_t a, uint32_t b)
{
    size_t la, lb;
    const unsigned char *pa = blob_data(a, &la), *pb = blob_data(b, &lb);
    return intern_tagged(TAG_STRING, intern_fnv(blob_fnv(a), pb, lb), pa, la,
                         pb, lb);
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
        if (map_get(s->map, key) != (uint32_t)op->out) {
            return false;
        }
        *n = *s;
        return true;
    case KV_PUT:
        v = (uint32_t)op->in[1];
        break;
    case KV_APPEND:
        v = concat(map_get(s->map, key), (uint32_t)op->in[1]);
        break;
    default:
        return false;
    }
    uint64_t map = v != UINT32_MAX ? map_set(s->map, key, v) : UINT64_MAX;
    if (map == UINT64_MAX) {
        if (over_now != NULL) {
            over_now->failed = true;
        }
        return false;
    }
    n->map = map;
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
    c = blob_data(map_get(((const struct kv *)state)->map, (uint32_t)op->in[0]),
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

/* FNV-1a over @p[0..len) read from the end: after byte i, the hash of
 * the suffix from i, so every suffix's hash comes in one pass. */
static uint64_t suffix_hash(const unsigned char *p, size_t len, uint64_t *each,
                            void (*add)(void *, uint64_t), void *arg,
                            uint64_t key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = len; i-- > 0;) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
        if (add != NULL) {
            add(arg, model_token(KV_APPEND, key, h));
        }
    }
    if (each != NULL) {
        *each = h;
    }
    return h;
}

/* A put leaves its string; an append, a string ending with its own. */
static void writes(const struct model_op *op, void (*add)(void *, uint64_t),
                   void *arg)
{
    size_t len;
    const unsigned char *p;
    if (op->f == KV_GET) {
        return;
    }
    p = blob_data((uint32_t)op->in[1], &len);
    if (op->f == KV_APPEND && len == 0) {
        return; /* it changes nothing */
    }
    add(arg, model_token(op->f, (uint64_t)op->in[0],
                         suffix_hash(p, len, NULL, NULL, NULL, 0)));
}

/* A get of S (not "": every key starts so) needs the op that last made
 * the key's string S from another: a put of S, or an append of a
 * non-empty suffix of S. */
static const char *needs(const struct model_op *op,
                         void (*add)(void *, uint64_t), void *arg)
{
    size_t len;
    const unsigned char *p;
    uint64_t whole;
    if (op->f != KV_GET) {
        return NULL;
    }
    p = blob_data((uint32_t)op->out, &len);
    if (len == 0) {
        return NULL;
    }
    suffix_hash(p, len, &whole, add, arg, (uint64_t)op->in[0]);
    add(arg, model_token(KV_PUT, (uint64_t)op->in[0], whole));
    return "a string";
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
    size_t n, used = 0;
    struct pair one;
    const struct pair *p = map_pairs(((const struct kv *)state)->map, &one, &n);
    used += (size_t)snprintf(buf, size, "{");
    for (size_t i = 0; i < n && used < size; i++) {
        struct pair pr;
        char k[40], v[48];
        memcpy(&pr, &p[i], sizeof pr);
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
    .writes = writes,
    .needs = needs,
    .per_key = true,
    .describe_op = describe_op,
    .describe_state = describe_state,
    .check_begin = kv_check_begin,
    .check_end = kv_check_end,
    .search_begin = kv_search_begin,
    .search_end = kv_search_end,
    .search_bytes = kv_search_bytes,
};
