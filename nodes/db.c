/* db: the registry of systems under test and command-line storage. */
#include "nodes/db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct db_ops *const dbs[] = {&db_taskd, NULL};

const struct db_ops *db_find(const char *name)
{
    for (int i = 0; dbs[i] != NULL; i++) {
        if (strcmp(dbs[i]->name, name) == 0) {
            return dbs[i];
        }
    }
    return NULL;
}

int db_argv_push(struct db_argv *a, const char *arg)
{
    size_t len = strlen(arg) + 1;
    if (a->argc >= DB_MAX_ARGS || a->used + len > sizeof a->buf) {
        return -ENOSPC;
    }
    memcpy(a->buf + a->used, arg, len);
    a->argv[a->argc++] = a->buf + a->used;
    a->argv[a->argc] = NULL;
    a->used += len;
    return 0;
}

int db_argv_pushf(struct db_argv *a, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return -ENOSPC;
    }
    return db_argv_push(a, tmp);
}
