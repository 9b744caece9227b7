/* intern: byte strings stored once each and named by a number. */
#ifndef FAULTLINE_INTERN_H
#define FAULTLINE_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* Models use it to make states a few plain bytes: equal numbers mean equal
 * contents. Zero-initialize one (or intern_free it) before use. The one
 * hash table of the checker: model_lease.c puts whole strings with
 * intern_put(); model_kv.c builds its blobs from parts and looks up in two
 * tables (a check's and a search's) with intern_find() and intern_add(). */
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
 * its bytes from INTERN_FNV_INIT, and goes on from any prefix's. */
uint64_t intern_fnv(uint64_t h, const void *p, size_t len);

/* The number of the bytes @p[0..len) (copied), adding them if new;
 * INTERN_NONE when out of memory. */
uint32_t intern_put(struct intern *t, const void *p, size_t len);

/* The number of the blob @parts[0..nparts) whose FNV state is @fnv, or
 * INTERN_NONE when @t does not hold it. */
uint32_t intern_find(const struct intern *t, uint64_t fnv,
                     const struct intern_part *parts, size_t nparts);

/* Add the blob @parts[0..nparts) (copied; @t must not hold it yet; the
 * parts may point into @t's own bytes) whose FNV state is @fnv: its
 * number, or INTERN_NONE when out of memory (then @t is unchanged). */
uint32_t intern_add(struct intern *t, uint64_t fnv,
                    const struct intern_part *parts, size_t nparts);

/* The bytes of @id and their length. The pointer is valid until the next
 * intern_put or intern_add. */
const void *intern_get(const struct intern *t, uint32_t id, size_t *len);

/* The FNV state of @id's bytes (to hash a concatenation on from). */
uint64_t intern_hash(const struct intern *t, uint32_t id);

/* The memory @t holds, in bytes. */
size_t intern_bytes(const struct intern *t);

/* Free everything and make @t empty again. */
void intern_free(struct intern *t);

#endif /* FAULTLINE_INTERN_H */
