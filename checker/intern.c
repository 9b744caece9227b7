/* intern: an open-addressing hash table over one growing byte buffer. */
#include "checker/intern.h"

#include <stdlib.h>
#include <string.h>

void intern_free(struct intern *t)
{
    free(t->bytes);
    free(t->blobs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t parts_len(const struct intern_part *parts, size_t nparts)
{
    size_t len = 0;
    for (size_t k = 0; k < nparts; k++) {
        len += parts[k].len;
    }
    return len;
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

static int grow_blobs(struct intern *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 256;
    struct intern_blob *nb = realloc(t->blobs, cap * sizeof *nb);
    if (nb == NULL) {
        return -1;
    }
    t->blobs = nb;
    t->cap = cap;
    return 0;
}

/* Room for @len more bytes. The old buffer is freed only after the blob
 * is written (by the caller, through *@old), since parts may point in it. */
static int grow_bytes(struct intern *t, size_t len, unsigned char **old)
{
    size_t cap = t->cap_bytes ? t->cap_bytes : 4096;
    unsigned char *nb;

    *old = NULL;
    if (t->nbytes + len <= t->cap_bytes && t->bytes != NULL) {
        return 0;
    }
    while (cap < t->nbytes + len) {
        cap *= 2;
    }
    nb = malloc(cap);
    if (nb == NULL) {
        return -1;
    }
    if (t->nbytes > 0) {
        memcpy(nb, t->bytes, t->nbytes);
    }
    *old = t->bytes;
    t->bytes = nb;
    t->cap_bytes = cap;
    return 0;
}

uint32_t intern_add(struct intern *t, uint64_t fnv,
                    const struct intern_part *parts, size_t nparts)
{
    size_t len = parts_len(parts, nparts), at;
    uint32_t slot, hash = intern_fold(fnv);
    unsigned char *old;

    if (len >= UINT32_MAX || t->n >= UINT32_MAX / 4) {
        return INTERN_NONE;
    }
    if (t->slots == NULL || (t->n + 1) * 2 > t->mask + 1) {
        if (grow_slots(t) != 0) {
            return INTERN_NONE;
        }
    }
    if ((t->n == t->cap && grow_blobs(t) != 0) ||
        grow_bytes(t, len, &old) != 0) {
        return INTERN_NONE;
    }
    at = t->nbytes;
    for (size_t k = 0; k < nparts; k++) {
        if (parts[k].len > 0) {
            memcpy(t->bytes + at, parts[k].p, parts[k].len);
            at += parts[k].len;
        }
    }
    free(old);
    for (slot = hash & t->mask; t->slots[slot] != 0;
         slot = (slot + 1) & t->mask) {
    }
    t->blobs[t->n] = (struct intern_blob){t->nbytes, (uint32_t)len, hash, fnv};
    t->nbytes += len;
    t->slots[slot] = t->n + 1;
    return t->n++;
}

uint32_t intern_put(struct intern *t, const void *p, size_t len)
{
    struct intern_part part = {p, len};
    uint64_t fnv = intern_fnv(INTERN_FNV_INIT, p, len);
    uint32_t id = intern_find(t, fnv, &part, 1);
    return id != INTERN_NONE ? id : intern_add(t, fnv, &part, 1);
}

size_t intern_bytes(const struct intern *t)
{
    return t->cap_bytes + (size_t)t->cap * sizeof *t->blobs +
           (t->slots ? ((size_t)t->mask + 1) * sizeof *t->slots : 0);
}
