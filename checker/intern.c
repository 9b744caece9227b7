/* intern: an open-addressing hash table over one growing byte buffer. */
#include "checker/intern.h"

#include <stdlib.h>
#include <string.h>

struct intern_blob {
    size_t off;
    uint32_t len;
    uint32_t hash;
};

void intern_free(struct intern *t)
{
    free(t->bytes);
    free(t->blobs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int grow_slots(struct intern *t)
{
    uint32_t cap = t->slots ? (t->mask + 1) * 2 : 256;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return -1;
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

uint32_t intern_put(struct intern *t, const void *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    uint32_t hash, i;

    if (len >= UINT32_MAX) {
        return UINT32_MAX;
    }
    for (size_t k = 0; k < len; k++) {
        h = (h ^ ((const unsigned char *)p)[k]) * 0x100000001b3ULL;
    }
    hash = (uint32_t)(h ^ (h >> 32));
    if (t->slots == NULL || (t->n + 1) * 2 > t->mask + 1) {
        if (grow_slots(t) != 0) {
            return UINT32_MAX;
        }
    }
    for (i = hash & t->mask; t->slots[i] != 0; i = (i + 1) & t->mask) {
        const struct intern_blob *b = &t->blobs[t->slots[i] - 1];
        if (b->hash == hash && b->len == len &&
            (len == 0 || memcmp(t->bytes + b->off, p, len) == 0)) {
            return t->slots[i] - 1;
        }
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        struct intern_blob *nb = realloc(t->blobs, cap * sizeof *nb);
        if (nb == NULL) {
            return UINT32_MAX;
        }
        t->blobs = nb;
        t->cap = cap;
    }
    if (t->nbytes + len > t->cap_bytes || t->bytes == NULL) {
        size_t cap = t->cap_bytes ? t->cap_bytes : 1024;
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
    if (len > 0) {
        memcpy(t->bytes + t->nbytes, p, len);
    }
    t->blobs[t->n] = (struct intern_blob){t->nbytes, (uint32_t)len, hash};
    t->nbytes += len;
    t->slots[i] = t->n + 1;
    return t->n++;
}

const void *intern_get(const struct intern *t, uint32_t id, size_t *len)
{
    *len = t->blobs[id].len;
    return t->bytes + t->blobs[id].off;
}
