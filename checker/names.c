/* names: sort once, then binary search. */
#include "checker/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void names_init(struct names *s)
{
    memset(s, 0, sizeof *s);
}

void names_free(struct names *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

int names_add(struct names *s, const char *name)
{
    if (name == NULL) {
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        const char **v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            return -ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = name;
    return 0;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void names_seal(struct names *s)
{
    size_t u = 0;
    if (s->n == 0) {
        return;
    }
    qsort(s->v, s->n, sizeof *s->v, by_text);
    for (size_t i = 0; i < s->n; i++) {
        if (u == 0 || strcmp(s->v[u - 1], s->v[i]) != 0) {
            s->v[u++] = s->v[i];
        }
    }
    s->n = u;
}

long names_find(const struct names *s, const char *name)
{
    const char **hit;
    if (name == NULL || s->n == 0) {
        return -1;
    }
    hit = bsearch(&name, s->v, s->n, sizeof *s->v, by_text);
    return hit ? (long)(hit - s->v) : -1;
}
