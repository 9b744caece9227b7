/* bug: the table of seeded bugs, looked up by the name given to --bug. */
#include "nodes/taskd/bug.h"

#include <errno.h>
#include <string.h>

static const struct {
    enum bug bug;
    const char *name;
    const char *description;
} bugs_table[] = {
    {BUG_STALE_READ, "stale-read",
     "serve reads from local state on any node, with no barrier"},
};

#define N_BUGS (sizeof bugs_table / sizeof bugs_table[0])

int bug_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        if (strcmp(bugs_table[i].name, name) == 0) {
            return (int)bugs_table[i].bug;
        }
    }
    return -ENOENT;
}

const char *bug_name(enum bug b)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        if (bugs_table[i].bug == b) {
            return bugs_table[i].name;
        }
    }
    return NULL;
}

bool bug_on(unsigned bugs, enum bug b)
{
    return (bugs & (unsigned)b) != 0;
}

void bug_list(FILE *out)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        fprintf(out, "  %-12s %s\n", bugs_table[i].name,
                bugs_table[i].description);
    }
}
