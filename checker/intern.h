/* intern: byte strings stored once each and named by a number. */
#ifndef FAULTLINE_INTERN_H
#define FAULTLINE_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Models use it to make states a few plain bytes: equal numbers mean equal
 * contents. Zero-initialize one (or intern_free it) before use. The one
 * hash table of the checker: model_lease.c puts whole strings with
 * intern_put(); model_kv.c builds its blobs from parts and looks up in two
 * tables (a check's and a search's) with intern_find() and intern_add(). */
/* In the header, as are intern_find, intern_get and intern_hash, so
 * that they inline into the kv model's steps, which call them for every
 * string they make (the fork this replaced had them static). */
struct intern_blob {
    size_t off;
    uint32_t len;
    uint32_t hash; /* fnv folded: where its slot search starts */
    uint64_t fnv;  /* FNV-1a state after its bytes */
};

struct intern {
    unsigned char *bytes;
    size_t nbytes, cap_bytes;
    struct intern_blob *blobs;
    uint32_t n, cap;
    uint32_t *slots; /* blob number + 1; 0 is empty */
    uint32_t mask;
};

/* A blob given in pieces, stored as their concatenation (so a
 * concatenation needs no scratch copy). */
struct intern_part {
    const void *p;
    size_t len;
};

#define INTERN_NONE     UINT32_MAX
#define INTERN_FNV_INIT 0xcbf29ce484222325ULL

/* FNV-1a from state @h over @p[0..len): the hash of a blob is this over
 * its bytes from INTERN_FNV_INIT, and goes on from any prefix's. Inline:
 * the kv model hashes every string its steps make. */
static inline uint64_t intern_fnv(uint64_t h, const void *p, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        h = (h ^ ((const unsigned char *)p)[k]) * 0x100000001b3ULL;
    }
    return h;
}

/* The number of the bytes @p[0..len) (copied), adding them if new;
 * INTERN_NONE when out of memory. */
uint32_t intern_put(struct intern *t, const void *p, size_t len);

static inline uint32_t intern_fold(uint64_t fnv)
{
    return (uint32_t)(fnv ^ (fnv >> 32));
}

static inline bool intern_blob_is(const struct intern *t,
                                  const struct intern_blob *b, uint32_t hash,
                                  const struct intern_part *parts,
                                  size_t nparts, size_t len)
{
    const unsigned char *p = t->bytes + b->off;
    if (b->hash != hash || b->len != len) {
        return false;
    }
    for (size_t k = 0; k < nparts; k++) {
        size_t n = parts[k].len;
        if (n == 1 ? *p != *(const unsigned char *)parts[k].p
                   : n > 0 && memcmp(p, parts[k].p, n) != 0) {
            return false; /* a tag byte is compared without a call */
        }
        p += n;
    }
    return true;
}

/* The number of the blob @parts[0..nparts) whose FNV state is @fnv, or
 * INTERN_NONE when @t does not hold it. */
static inline uint32_t intern_find(const struct intern *t, uint64_t fnv,
                                   const struct intern_part *parts,
                                   size_t nparts)
{
    uint32_t hash = intern_fold(fnv);
    size_t len = 0;

    if (t->slots == NULL) {
        return INTERN_NONE;
    }
    for (size_t k = 0; k < nparts; k++) {
        len += parts[k].len;
    }
    for (uint32_t i = hash & t->mask; t->slots[i] != 0; i = (i + 1) & t->mask) {
        const struct intern_blob *b = &t->blobs[t->slots[i] - 1];
        if (intern_blob_is(t, b, hash, parts, nparts, len)) {
            return t->slots[i] - 1;
        }
    }
    return INTERN_NONE;
}

/* Add the blob @parts[0..nparts) (copied; @t must not hold it yet; the
 * parts may point into @t's own bytes) whose FNV state is @fnv: its
 * number, or INTERN_NONE when out of memory (then @t is unchanged). */
uint32_t intern_add(struct intern *t, uint64_t fnv,
                    const struct intern_part *parts, size_t nparts);

/* The bytes of @id and their length. The pointer is valid until the next
 * intern_put or intern_add. */
static inline const void *intern_get(const struct intern *t, uint32_t id,
                                     size_t *len)
{
    *len = t->blobs[id].len;
    return t->bytes + t->blobs[id].off;
}

/* The FNV state of @id's bytes (to hash a concatenation on from). */
static inline uint64_t intern_hash(const struct intern *t, uint32_t id)
{
    return t->blobs[id].fnv;
}

/* The memory @t holds, in bytes. */
size_t intern_bytes(const struct intern *t);

/* Free everything and make @t empty again. */
void intern_free(struct intern *t);

#endif /* FAULTLINE_INTERN_H */
