/* names: a sorted set of strings (task ids, scopes), each with a number. */
#ifndef FAULTLINE_NAMES_H
#define FAULTLINE_NAMES_H

#include <stddef.h>

/* The strings are borrowed: they must outlive the set. */
struct names {
    const char **v; /* owned array, sorted, distinct */
    size_t n, cap;
};

void names_init(struct names *s);
void names_free(struct names *s);

/* Add @name (borrowed; NULL is ignored) before names_seal(). Returns 0 or
 * -ENOMEM. */
int names_add(struct names *s, const char *name);

/* Sort and drop repeats: after this, names_find() works. */
void names_seal(struct names *s);

/* The number of @name (0 to n-1), or -1 when it is not in the set. */
long names_find(const struct names *s, const char *name);

#endif /* FAULTLINE_NAMES_H */
