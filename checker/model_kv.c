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
 * equal contents, so a state is one number and compares in one step. The
 * table lives from one check to the next (reset frees it): the model is
 * not for use by two checks at once. */
#include "checker/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KV_GET, KV_PUT, KV_APPEND };

/* ------------------------------------------------------------------ */
/* The intern table                                                    */
/* ------------------------------------------------------------------ */

struct blob {
    size_t off; /* into bytes */
    uint32_t len;
    uint32_t hash;
};

static struct {
    unsigned char *bytes;
    size_t nbytes, cap_bytes;
    struct blob *blobs;
    uint32_t n, cap;
    uint32_t *slots; /* blob number + 1; 0 empty */
    uint32_t mask;
    uint32_t empty; /* the id of "" (a string blob) */
} T;

/* Blobs start with a tag so a string and a map never share an id. */
#define TAG_STRING 'S'
#define TAG_MAP    'M'

static void kv_reset(void)
{
    free(T.bytes);
    free(T.blobs);
    free(T.slots);
    memset(&T, 0, sizeof T);
}

static int grow_slots(void)
{
    uint32_t cap = T.slots ? (T.mask + 1) * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < T.n; i++) {
        uint32_t j = T.blobs[i].hash & (cap - 1);
        while (slots[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        slots[j] = i + 1;
    }
    free(T.slots);
    T.slots = slots;
    T.mask = cap - 1;
    return 0;
}

/* The id of the blob @tag + @a + @b (two parts, so a concatenation needs
 * no scratch copy), adding it if new; UINT32_MAX when out of memory. */
static uint32_t intern2(int tag, const void *a, size_t alen, const void *b,
                        size_t blen)
{
    size_t len = 1 + alen + blen;
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char t = (unsigned char)tag;
    uint32_t hash, i;

    h = (h ^ t) * 0x100000001b3ULL;
    for (size_t k = 0; k < alen; k++) {
        h = (h ^ ((const unsigned char *)a)[k]) * 0x100000001b3ULL;
    }
    for (size_t k = 0; k < blen; k++) {
        h = (h ^ ((const unsigned char *)b)[k]) * 0x100000001b3ULL;
    }
    hash = (uint32_t)(h ^ (h >> 32));
    if (len > UINT32_MAX) {
        return UINT32_MAX;
    }
    if (T.slots == NULL || (T.n + 1) * 2 > T.mask + 1) {
        if (grow_slots() != 0) {
            return UINT32_MAX;
        }
    }
    for (i = hash & T.mask; T.slots[i] != 0; i = (i + 1) & T.mask) {
        const struct blob *bl = &T.blobs[T.slots[i] - 1];
        const unsigned char *p = T.bytes + bl->off;
        if (bl->hash == hash && bl->len == len && p[0] == t &&
            memcmp(p + 1, a, alen) == 0 &&
            (blen == 0 || memcmp(p + 1 + alen, b, blen) == 0)) {
            return T.slots[i] - 1;
        }
    }
    if (T.n == T.cap) {
        uint32_t cap = T.cap ? T.cap * 2 : 256;
        struct blob *nb = realloc(T.blobs, cap * sizeof *nb);
        if (nb == NULL) {
            return UINT32_MAX;
        }
        T.blobs = nb;
        T.cap = cap;
    }
    if (T.nbytes + len > T.cap_bytes) {
        size_t cap = T.cap_bytes ? T.cap_bytes : 4096;
        while (cap < T.nbytes + len) {
            cap *= 2;
        }
        unsigned char *nb = realloc(T.bytes, cap);
        if (nb == NULL) {
            return UINT32_MAX;
        }
        T.bytes = nb;
        T.cap_bytes = cap;
    }
    T.bytes[T.nbytes] = t;
    memcpy(T.bytes + T.nbytes + 1, a, alen);
    if (blen > 0) {
        memcpy(T.bytes + T.nbytes + 1 + alen, b, blen);
    }
    T.blobs[T.n] = (struct blob){T.nbytes, (uint32_t)len, hash};
    T.nbytes += len;
    T.slots[i] = T.n + 1;
    return T.n++;
}

static const unsigned char *blob_data(uint32_t id, size_t *len)
{
    *len = T.blobs[id].len - 1;
    return T.bytes + T.blobs[id].off + 1;
}

static uint32_t empty_string(void)
{
    if (T.n == 0) {
        T.empty = intern2(TAG_STRING, "", 0, NULL, 0);
    }
    return T.empty;
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
    return T.empty;
}

/* @map with @key set to @value ("" removes it): a map id, or UINT32_MAX. */
static uint32_t map_set(uint32_t map, uint32_t key, uint32_t value)
{
    size_t len, n, at;
    const unsigned char *p = blob_data(map, &len);
    struct pair small[16], *buf = small;
    uint32_t id;

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
        if (value == T.empty) {
            memmove(buf + at, buf + at + 1, (n - at - 1) * sizeof *buf);
            n--;
        } else {
            buf[at].v = value;
        }
    } else if (value != T.empty) {
        memmove(buf + at + 1, buf + at, (n - at) * sizeof *buf);
        buf[at] = (struct pair){key, value};
        n++;
    }
    id = intern2(TAG_MAP, buf, n * sizeof *buf, NULL, 0);
    if (buf != small) {
        free(buf);
    }
    return id;
}

static int string_id(json_t *v, bool null_ok, int64_t *out)
{
    uint32_t id;
    empty_string();
    if (null_ok && (v == NULL || json_is_null(v))) {
        *out = T.empty;
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

    memset(op, 0, sizeof *op);
    op->open = done == NULL;
    empty_string();
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
        if (string_id(done->value, true, &op->out) != 0) {
            snprintf(err, errlen, "ok get value: expected a string");
            return -EINVAL;
        }
        return MODEL_KEEP;
    }
    if (strcmp(invoke->f, "put") == 0 || strcmp(invoke->f, "append") == 0) {
        op->f = invoke->f[0] == 'p' ? KV_PUT : KV_APPEND;
        if (string_id(invoke->value, false, &op->in[1]) != 0) {
            snprintf(err, errlen, "%s value: expected a string", invoke->f);
            return -EINVAL;
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
    empty_string();
    s->map = intern2(TAG_MAP, "", 0, NULL, 0);
}

static bool step(const void *state, const struct model_op *op, void *next)
{
    const struct kv *s = state;
    struct kv *n = next;
    uint32_t key = (uint32_t)op->in[0], cur, v;

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
    case KV_APPEND: {
        size_t la, lb;
        const unsigned char *a, *b;
        cur = map_get((uint32_t)s->map, key);
        a = blob_data(cur, &la);
        b = blob_data((uint32_t)op->in[1], &lb);
        /* intern2 may move the bytes: copy the parts out first when
         * needed; both are in T.bytes, so pass them through a copy. */
        unsigned char small[256], *tmp = small;
        if (la + lb > sizeof small) {
            tmp = malloc(la + lb);
            if (tmp == NULL) {
                return false;
            }
        }
        memcpy(tmp, a, la);
        memcpy(tmp + la, b, lb);
        v = intern2(TAG_STRING, tmp, la + lb, NULL, 0);
        if (tmp != small) {
            free(tmp);
        }
        break;
    }
    default:
        return false;
    }
    if (v == UINT32_MAX) {
        return false;
    }
    v = map_set((uint32_t)s->map, key, v);
    if (v == UINT32_MAX) {
        return false;
    }
    n->map = v;
    return true;
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
    .describe_op = describe_op,
    .describe_state = describe_state,
    .reset = kv_reset,
};
