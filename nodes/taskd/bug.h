/* bug: seeded bugs a test can switch on to prove the checker catches them. */
#ifndef TASKD_BUG_H
#define TASKD_BUG_H

#include <stdbool.h>
#include <stdio.h>

/* One bit per bug. A new bug is a new value here and a row in bug.c. */
enum bug {
    BUG_STALE_READ = 1u << 0, /* reads served from local state, no barrier */
};

/* The bug named @name, or -ENOENT when no bug has that name. */
int bug_lookup(const char *name);

/* The name of @b, or NULL when @b is not a single known bug. */
const char *bug_name(enum bug b);

/* True when @b is set in the mask @bugs. */
bool bug_on(unsigned bugs, enum bug b);

/* Write one line per known bug ("  name  description") to @out. */
void bug_list(FILE *out);

#endif /* TASKD_BUG_H */
