/* model_task: task records (FORMAT.md, "Task operations"), per task id.
 *
 * A task is absent or a record {status, version}: create makes it
 * {pending, 1} (only when absent); get returns the record or null; update
 * sets status S when the expectation holds (expect_status equals the
 * status, expect_version the version, both when both are given) and adds
 * one to the version; delete removes a present task. An update or delete
 * whose precondition fails is refused (`fail`), which changes nothing, so
 * an op that reaches the search took effect when it has a result. `list`
 * ops are the set checker's: dropped here.
 *
 * Attempts of one request (same rid) must be merged into one op before
 * this model sees them (checker/requests.h, requests_history), as
 * runner/check.c does: a retry's reply is the first attempt's outcome.
 *
 * The state is the whole map of tasks, hash-consed into an intern table
 * (checker/intern.h) so that it is one number: the model is right whether
 * or not the history is split by key. Statuses and task ids are interned
 * strings. The table lives until reset: not for two checks at once. */
#include "checker/model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/intern.h"

enum { TASK_CREATE, TASK_GET, TASK_UPDATE, TASK_DELETE };

#define NONE UINT32_MAX

static struct intern strings; /* task ids and statuses */
static struct intern maps;    /* sorted arrays of struct rec */

/* One task of a map: all 32-bit words, no padding. */
struct rec {
    uint32_t key;     /* string id */
    uint32_t status;  /* string id */
    uint32_t version; /* >= 1 */
    uint32_t zero;
};

struct tasks {
    uint64_t map; /* id in maps */
};

static void task_reset(void)
{
    intern_free(&strings);
    intern_free(&maps);
}

static uint32_t str_id(const char *s)
{
    return intern_put(&strings, s, strlen(s));
}

/* Op packing: in[0] = key | (expect_version + 1) << 32 (0: none);
 * in[1] = new status | expect_status << 32 (NONE: none);
 * out = status | version << 32 for a record. */
static int64_t pack(uint32_t lo, uint32_t hi)
{
    return (int64_t)((uint64_t)lo | (uint64_t)hi << 32);
}

static uint32_t lo32(int64_t v)
{
    return (uint32_t)(uint64_t)v;
}

static uint32_t hi32(int64_t v)
{
    return (uint32_t)((uint64_t)v >> 32);
}

/* A record value {"status": S, "version": V}, or null when @nil_ok. */
static int read_record(json_t *v, bool nil_ok, struct model_op *op,
                       const char *what, char *err, size_t errlen)
{
    json_t *st = json_object_get(v, "status");
    json_t *ver = json_object_get(v, "version");
    uint32_t sid;

    if (nil_ok && (v == NULL || json_is_null(v))) {
        op->out_nil = true;
        return 0;
    }
    if (!json_is_string(st) || !json_is_integer(ver) ||
        json_integer_value(ver) < 1 || json_integer_value(ver) > INT32_MAX) {
        snprintf(err, errlen,
                 "%s value: expected {\"status\": string, \"version\": "
                 "integer >= 1}%s",
                 what, nil_ok ? " or null" : "");
        return -EINVAL;
    }
    sid = str_id(json_string_value(st));
    if (sid == NONE) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    op->out = pack(sid, (uint32_t)json_integer_value(ver));
    return 0;
}

static int op_from_events(const struct history_event *invoke,
                          const struct history_event *done, struct model_op *op,
                          char *err, size_t errlen)
{
    const char *f = invoke->f;
    uint32_t kid;

    memset(op, 0, sizeof *op);
    op->open = done == NULL;
    if (strcmp(f, "list") == 0) {
        return MODEL_DROP;
    }
    if (invoke->key == NULL) {
        snprintf(err, errlen, "%s without a key (the task id)", f);
        return -EINVAL;
    }
    kid = str_id(invoke->key);
    if (kid == NONE) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    op->in[0] = kid;
    if (strcmp(f, "create") == 0) {
        op->f = TASK_CREATE;
        return done ? read_record(done->value, false, op, "ok create", err,
                                  errlen)
                    : MODEL_KEEP;
    }
    if (strcmp(f, "get") == 0) {
        op->f = TASK_GET;
        if (done == NULL) {
            return MODEL_DROP;
        }
        return read_record(done->value, true, op, "ok get", err, errlen);
    }
    if (strcmp(f, "delete") == 0) {
        op->f = TASK_DELETE;
        return MODEL_KEEP;
    }
    if (strcmp(f, "update") == 0) {
        json_t *v = invoke->value;
        json_t *s = json_object_get(v, "status");
        json_t *es = json_object_get(v, "expect_status");
        json_t *ev = json_object_get(v, "expect_version");
        uint32_t sid, esid = NONE, evv = 0;
        op->f = TASK_UPDATE;
        if (!json_is_string(s) || (es != NULL && !json_is_string(es)) ||
            (ev != NULL &&
             (!json_is_integer(ev) || json_integer_value(ev) < 0 ||
              json_integer_value(ev) >= INT32_MAX)) ||
            (es == NULL && ev == NULL)) {
            snprintf(err, errlen,
                     "update value: expected {\"status\": string, and "
                     "\"expect_status\": string or \"expect_version\": "
                     "integer}");
            return -EINVAL;
        }
        sid = str_id(json_string_value(s));
        if (es != NULL) {
            esid = str_id(json_string_value(es));
        }
        if (sid == NONE || (es != NULL && esid == NONE)) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (ev != NULL) {
            evv = (uint32_t)json_integer_value(ev) + 1;
        }
        op->in[0] = pack(kid, evv);
        op->in[1] = pack(sid, esid);
        return done ? read_record(done->value, false, op, "ok update", err,
                                  errlen)
                    : MODEL_KEEP;
    }
    snprintf(err, errlen,
             "unknown operation \"%s\" (task-record has create, get, update, "
             "delete; list is for the set checker)",
             f);
    return -EINVAL;
}

static void init(void *state)
{
    struct tasks *s = state;
    s->map = intern_put(&maps, "", 0);
}

/* The record of @key in @map, or NULL (pointer valid until intern_put). */
static const struct rec *find(uint64_t map, uint32_t key, size_t *n, size_t *at)
{
    size_t len;
    const struct rec *r = intern_get(&maps, (uint32_t)map, &len);
    *n = len / sizeof *r;
    for (*at = 0; *at < *n && r[*at].key < key; (*at)++) {
    }
    return *at < *n && r[*at].key == key ? &r[*at] : NULL;
}

/* @map with @key's record replaced by @rec (NULL: removed): a map id or
 * NONE when out of memory. */
static uint32_t with(uint64_t map, uint32_t key, const struct rec *rec)
{
    size_t n, at, len;
    const struct rec *cur = find(map, key, &n, &at);
    const struct rec *all = intern_get(&maps, (uint32_t)map, &len);
    struct rec small[8], *buf = small;
    size_t m = 0;
    uint32_t id;

    if (n + 1 > sizeof small / sizeof small[0]) {
        buf = malloc((n + 1) * sizeof *buf);
        if (buf == NULL) {
            return NONE;
        }
    }
    memcpy(buf, all, at * sizeof *buf);
    m = at;
    if (rec != NULL) {
        buf[m++] = *rec;
    }
    memcpy(buf + m, all + at + (cur != NULL),
           (n - at - (cur != NULL)) * sizeof *buf);
    m += n - at - (cur != NULL);
    id = intern_put(&maps, buf, m * sizeof *buf);
    if (buf != small) {
        free(buf);
    }
    return id;
}

static bool step(const void *state, const struct model_op *op, void *next)
{
    const struct tasks *s = state;
    struct tasks *nx = next;
    uint32_t key = lo32(op->in[0]);
    size_t n, at;
    const struct rec *cur = find(s->map, key, &n, &at);
    struct rec nr = {.key = key};
    uint32_t id;

    switch (op->f) {
    case TASK_GET:
        if (op->out_nil ? cur != NULL
                        : cur == NULL || cur->status != lo32(op->out) ||
                              cur->version != hi32(op->out)) {
            return false;
        }
        *nx = *s;
        return true;
    case TASK_CREATE:
        if (cur != NULL) {
            return false;
        }
        nr.status = str_id("pending");
        nr.version = 1;
        break;
    case TASK_UPDATE: {
        uint32_t expect_version = hi32(op->in[0]);
        uint32_t expect_status = hi32(op->in[1]);
        if (cur == NULL ||
            (expect_status != NONE && cur->status != expect_status) ||
            (expect_version != 0 && cur->version != expect_version - 1)) {
            return false;
        }
        nr.status = lo32(op->in[1]);
        nr.version = cur->version + 1;
        break;
    }
    case TASK_DELETE:
        if (cur == NULL) {
            return false;
        }
        id = with(s->map, key, NULL);
        if (id == NONE) {
            return false;
        }
        nx->map = id;
        return true;
    default:
        return false;
    }
    if (nr.status == NONE) {
        return false;
    }
    if (!op->open &&
        (nr.status != lo32(op->out) || nr.version != hi32(op->out))) {
        return false;
    }
    id = with(s->map, key, &nr);
    if (id == NONE) {
        return false;
    }
    nx->map = id;
    return true;
}

static bool equal(const void *a, const void *b)
{
    return ((const struct tasks *)a)->map == ((const struct tasks *)b)->map;
}

static uint64_t hash(const void *state)
{
    uint64_t z = ((const struct tasks *)state)->map + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Tokens: "task K is {S, V}", and "task K has status S" for an update
 * of unknown outcome (its version is unknown). */
enum { TOK_RECORD = 1, TOK_STATUS };

/* A create leaves {pending, 1}; an update its record (its new status
 * only, when the outcome is unknown). */
static void writes(const struct model_op *op, void (*add)(void *, uint64_t),
                   void *arg)
{
    uint64_t key = lo32(op->in[0]);
    if (op->f == TASK_CREATE && op->open) {
        uint32_t pending = str_id("pending");
        add(arg, model_token(TOK_RECORD, key, pack(pending, 1)));
    } else if ((op->f == TASK_CREATE || op->f == TASK_UPDATE) && !op->open) {
        add(arg, model_token(TOK_RECORD, key, (uint64_t)op->out));
    } else if (op->f == TASK_UPDATE) {
        add(arg, model_token(TOK_STATUS, key, lo32(op->in[1])));
    }
}

/* A get of {S, V} needs a create or an update that left it (tasks start
 * absent, so a get of null needs nothing). */
static const char *needs(const struct model_op *op,
                         void (*add)(void *, uint64_t), void *arg)
{
    uint64_t key = lo32(op->in[0]);
    if (op->f != TASK_GET || op->out_nil) {
        return NULL;
    }
    add(arg, model_token(TOK_RECORD, key, (uint64_t)op->out));
    add(arg, model_token(TOK_STATUS, key, lo32(op->out)));
    return "a record";
}

static const char *text(uint32_t id, char *buf, size_t size)
{
    size_t len;
    const char *p = intern_get(&strings, id, &len);
    snprintf(buf, size, "%.*s", (int)(len < 40 ? len : 40), p);
    return buf;
}

static void describe_op(const struct model_op *op, char *buf, size_t size)
{
    char k[48], a[48], b[48];
    const char *unknown = op->open ? " (outcome unknown)" : "";

    text(lo32(op->in[0]), k, sizeof k);
    switch (op->f) {
    case TASK_CREATE:
        snprintf(buf, size, "create %s%s", k, unknown);
        break;
    case TASK_DELETE:
        snprintf(buf, size, "delete %s%s", k, unknown);
        break;
    case TASK_GET:
        if (op->out_nil) {
            snprintf(buf, size, "get %s -> null", k);
        } else {
            snprintf(buf, size, "get %s -> %s v%" PRIu32, k,
                     text(lo32(op->out), a, sizeof a), hi32(op->out));
        }
        break;
    case TASK_UPDATE: {
        char expect[80];
        uint32_t ev = hi32(op->in[0]), es = hi32(op->in[1]);
        int used = snprintf(expect, sizeof expect, "if");
        if (es != NONE) {
            used += snprintf(expect + used, sizeof expect - (size_t)used,
                             " status %s", text(es, b, sizeof b));
        }
        if (ev != 0) {
            snprintf(expect + used, sizeof expect - (size_t)used,
                     " version %" PRIu32, ev - 1);
        }
        snprintf(buf, size, "update %s to %s %s%s", k,
                 text(lo32(op->in[1]), a, sizeof a), expect, unknown);
        break;
    }
    default:
        snprintf(buf, size, "?");
    }
}

static void describe_state(const void *state, char *buf, size_t size)
{
    size_t len, used;
    const struct rec *r =
        intern_get(&maps, (uint32_t)((const struct tasks *)state)->map, &len);
    used = (size_t)snprintf(buf, size, "{");
    for (size_t i = 0; i < len / sizeof *r && used < size; i++) {
        char k[48], s[48];
        used += (size_t)snprintf(buf + used, size - used, "%s%s: %s v%" PRIu32,
                                 i ? ", " : "", text(r[i].key, k, sizeof k),
                                 text(r[i].status, s, sizeof s), r[i].version);
    }
    if (used < size) {
        snprintf(buf + used, size - used, "}");
    }
}

const struct model model_task = {
    .name = "task-record",
    .state_size = sizeof(struct tasks),
    .op_from_events = op_from_events,
    .init = init,
    .step = step,
    .equal = equal,
    .hash = hash,
    .writes = writes,
    .needs = needs,
    .per_key = true,
    .describe_op = describe_op,
    .describe_state = describe_state,
    .reset = task_reset,
};
