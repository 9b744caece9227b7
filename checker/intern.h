/* intern: byte strings stored once each and named by a number. */
#ifndef FAULTLINE_INTERN_H
#define FAULTLINE_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* Models use it to make states a few plain bytes: equal numbers mean equal
 * contents. Zero-initialize one (or intern_free it) before use. */
struct intern {
    unsigned char *bytes;
    size_t nbytes, cap_bytes;
    struct intern_blob *blobs;
    uint32_t n, cap;
    uint32_t *slots; /* blob number + 1; 0 is empty */
    uint32_t mask;
};

/* The number of the bytes @p[0..len) (copied), adding them if new;
 * UINT32_MAX when out of memory. */
uint32_t intern_put(struct intern *t, const void *p, size_t len);

/* The bytes of @id and their length. The pointer is valid until the next
 * intern_put. */
const void *intern_get(const struct intern *t, uint32_t id, size_t *len);

/* Free everything and make @t empty again. */
void intern_free(struct intern *t);

#endif /* FAULTLINE_INTERN_H */
