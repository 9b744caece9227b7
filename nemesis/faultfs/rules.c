/* rules: injected errors and the full disk; see rules.h. */
#include "nemesis/faultfs/rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 32

static const char *const op_names[RULES_N_OPS] = {
    "read",   "write",    "fsync",  "fdatasync", "create",
    "rename", "truncate", "unlink", "mkdir",     "open"};

static const struct {
    const char *name;
    int value;
} errnos[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EROFS", EROFS},
              {"EDQUOT", EDQUOT}, {"EACCES", EACCES}, {"EPERM", EPERM},
              {"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN}, {"EINTR", EINTR},
              {"EBADF", EBADF},   {"EFBIG", EFBIG},   {"ENOENT", ENOENT},
              {NULL, 0}};

struct rule {
    enum rules_op op;
    int err;
    long count;         /* left; -1: unlimited */
    double probability; /* 1: always */
    char pattern[256];
    long hits;
};

struct rules {
    pthread_mutex_t lock;
    atomic_int n; /* read without the lock: the fast path */
    atomic_bool full;
    struct rule r[MAX_RULES];
    uint64_t rng;
};

struct rules *rules_new(uint64_t seed)
{
    struct rules *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    return r;
}

void rules_free(struct rules *r)
{
    if (r != NULL) {
        pthread_mutex_destroy(&r->lock);
        free(r);
    }
}

int rules_errno(const char *name)
{
    char *end;
    long v;
    for (int i = 0; errnos[i].name != NULL; i++) {
        if (strcmp(errnos[i].name, name) == 0) {
            return errnos[i].value;
        }
    }
    v = strtol(name, &end, 10);
    return (*name != '\0' && *end == '\0' && v > 0 && v < 4096) ? (int)v : 0;
}

int rules_add(struct rules *r, int argc, char **argv, char *err, size_t size)
{
    struct rule rule = {.count = -1, .probability = 1, .pattern = "*"};
    int op = -1, rv = 0;

    if (argc < 2 || argc > 4) {
        snprintf(err, size,
                 "usage: fail OP ERRNO [COUNT|PROBABILITY] "
                 "[PATTERN]");
        return -EINVAL;
    }
    for (int i = 0; i < RULES_N_OPS; i++) {
        if (strcmp(op_names[i], argv[0]) == 0) {
            op = i;
        }
    }
    if (op < 0) {
        snprintf(err, size,
                 "fail: unknown operation '%s' (read, write, fsync, "
                 "fdatasync, create, rename, truncate, unlink, mkdir, open)",
                 argv[0]);
        return -EINVAL;
    }
    rule.op = (enum rules_op)op;
    rule.err = rules_errno(argv[1]);
    if (rule.err == 0) {
        snprintf(err, size, "fail: unknown errno '%s'", argv[1]);
        return -EINVAL;
    }
    if (argc >= 3) {
        char *end;
        if (strcmp(argv[2], "always") == 0) {
            rule.count = -1;
        } else if (strchr(argv[2], '.') != NULL) {
            rule.probability = strtod(argv[2], &end);
            if (*end != '\0' || !(rule.probability > 0) ||
                rule.probability > 1) {
                snprintf(err, size, "fail: probability '%s' is not in (0, 1]",
                         argv[2]);
                return -EINVAL;
            }
        } else {
            rule.count = strtol(argv[2], &end, 10);
            if (*end != '\0' || rule.count < 1) {
                snprintf(err, size, "fail: count '%s' is not a number >= 1",
                         argv[2]);
                return -EINVAL;
            }
        }
    }
    if (argc == 4) {
        snprintf(rule.pattern, sizeof rule.pattern, "%s", argv[3]);
    }
    pthread_mutex_lock(&r->lock);
    if (r->n == MAX_RULES) {
        snprintf(err, size, "fail: at most %d rules", MAX_RULES);
        rv = -EINVAL;
    } else {
        r->r[r->n] = rule;
        r->n++;
    }
    pthread_mutex_unlock(&r->lock);
    return rv;
}

void rules_clear(struct rules *r)
{
    pthread_mutex_lock(&r->lock);
    r->n = 0;
    pthread_mutex_unlock(&r->lock);
}

void rules_set_full(struct rules *r, bool full)
{
    r->full = full;
}

bool rules_full(struct rules *r)
{
    return r->full;
}

static double draw(struct rules *r)
{
    /* xorshift64* */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return (double)((r->rng * 2685821657736338717ULL) >> 11) /
           9007199254740992.0;
}

int rules_check(struct rules *r, enum rules_op op, const char *path)
{
    int err = 0;
    if (r->n == 0) {
        return 0;
    }
    if (path == NULL) {
        path = "";
    }
    while (*path == '/') {
        path++;
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        struct rule *x = &r->r[i];
        if (x->op != op || x->count == 0 || fnmatch(x->pattern, path, 0) != 0) {
            continue;
        }
        if (x->probability < 1 && draw(r) >= x->probability) {
            break;
        }
        if (x->count > 0) {
            x->count--;
        }
        x->hits++;
        err = x->err;
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return err;
}

void rules_status(struct rules *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n && used < size; i++) {
        struct rule *x = &r->r[i];
        int n = snprintf(buf + used, size - used,
                         "rule %s %d count=%ld probability=%g pattern=%s "
                         "hits=%ld\n",
                         op_names[x->op], x->err, x->count, x->probability,
                         x->pattern, x->hits);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size) {
        snprintf(buf + used, size - used, "full %s\n", r->full ? "on" : "off");
    }
    pthread_mutex_unlock(&r->lock);
}
