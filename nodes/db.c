/* db: the registry of systems under test, and command-line storage. */
#include "nodes/db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The registry: one line per system (its struct db_ops, in a file of its
 * own). */
#define DBS(X) X(db_taskd) X(db_etcd) X(db_redis)

#define DECLARE(sym) extern const struct db_ops sym;
#define ADDRESS(sym) &sym,
DBS(DECLARE)
static const struct db_ops *const dbs[] = {DBS(ADDRESS) NULL};

const struct db_ops *db_find(const char *name)
{
    for (int i = 0; dbs[i] != NULL; i++) {
        if (strcmp(dbs[i]->name, name) == 0) {
            return dbs[i];
        }
    }
    return NULL;
}

const char *db_names(void)
{
    static char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; dbs[i] != NULL && used < sizeof buf; i++) {
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                 i ? ", " : "", dbs[i]->name);
    }
    return buf;
}

const char *db_cap_text(unsigned caps)
{
    static const struct {
        unsigned cap;
        const char *text;
    } caps_text[] = {
        {DB_CAP_LIBC_TIME, "reads the clock through libc and runs under "
                           "libfaketime's preload (a Go binary makes its own "
                           "syscalls; a jemalloc build recurses into "
                           "clock_gettime at start)"},
        {DB_CAP_LIBC_IO, "does its file I/O through libc (libfiu's POSIX "
                         "preload fails it)"},
        {DB_CAP_FIU_POINTS, "has taskd's own libfiu points"},
        {DB_CAP_DATA_DIR, "keeps its durable state under its data dir "
                          "(faultfs)"},
        {DB_CAP_PROCESS, "runs as a process faultline can signal"},
        {DB_CAP_MEMBERSHIP, "changes its membership at run time (admin ops "
                            "add, assign, remove, transfer, members)"},
    };
    static char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof caps_text / sizeof caps_text[0]; i++) {
        if ((caps & caps_text[i].cap) != 0 && used < sizeof buf) {
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                     used ? " and " : "", caps_text[i].text);
        }
    }
    return buf;
}

bool db_serves(const struct db_ops *db, const char *workload)
{
    if (db->workloads == NULL) {
        return false;
    }
    return settings_in_list(db->workloads, workload);
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
