/* command: the table of ops and their fields, shared by request parsing and
 * log decoding; encode and decode of log entries. Decoding must be a pure
 * function of the bytes: every node decodes the same entry the same way. */
#include "nodes/taskd/command.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field {
    F_KEY = 1u << 0,
    F_TASK_ID = 1u << 1,
    F_SCOPE = 1u << 2,
    F_PAYLOAD = 1u << 3,
    F_STATUS = 1u << 4,
    F_EXPECT_STATUS = 1u << 5,
    F_EXPECT_VERSION = 1u << 6,
    F_WORKER = 1u << 7,
    F_HOLDER = 1u << 8,
    F_VALUE = 1u << 9,
    F_FROM = 1u << 10,
    F_TO = 1u << 11,
    F_LEASE_MS = 1u << 12,
    F_TTL_MS = 1u << 13,
};

enum kind {
    K_STRING, /* JSON string of min..max bytes */
    K_INT,    /* JSON integer in min..max */
    K_JSON,   /* any JSON value, kept as compact text of at most max bytes */
};

static const struct field_spec {
    enum field field;
    const char *name;
    enum kind kind;
    int64_t min;
    int64_t max;
    size_t offset; /* of the char * or int64_t in struct command */
} fields[] = {
    {F_KEY, "key", K_STRING, 0, COMMAND_KEY_MAX, offsetof(struct command, key)},
    {F_TASK_ID, "task_id", K_STRING, 1, COMMAND_KEY_MAX,
     offsetof(struct command, key)},
    {F_SCOPE, "scope", K_STRING, 1, COMMAND_KEY_MAX,
     offsetof(struct command, key)},
    {F_PAYLOAD, "payload", K_JSON, 0, COMMAND_PAYLOAD_MAX,
     offsetof(struct command, payload)},
    {F_STATUS, "status", K_STRING, 1, COMMAND_STATUS_MAX,
     offsetof(struct command, status)},
    {F_EXPECT_STATUS, "expect_status", K_STRING, 1, COMMAND_STATUS_MAX,
     offsetof(struct command, expect_status)},
    {F_EXPECT_VERSION, "expect_version", K_INT, 0, INT64_MAX,
     offsetof(struct command, expect_version)},
    {F_WORKER, "worker", K_STRING, 1, COMMAND_NAME_MAX,
     offsetof(struct command, who)},
    {F_HOLDER, "holder", K_STRING, 1, COMMAND_NAME_MAX,
     offsetof(struct command, who)},
    {F_VALUE, "value", K_INT, INT64_MIN, INT64_MAX,
     offsetof(struct command, value)},
    {F_FROM, "from", K_INT, INT64_MIN, INT64_MAX,
     offsetof(struct command, from)},
    {F_TO, "to", K_INT, INT64_MIN, INT64_MAX, offsetof(struct command, to)},
    {F_LEASE_MS, "lease_ms", K_INT, 1, COMMAND_MS_MAX,
     offsetof(struct command, ms)},
    {F_TTL_MS, "ttl_ms", K_INT, 1, COMMAND_MS_MAX,
     offsetof(struct command, ms)},
};

#define N_FIELDS (sizeof fields / sizeof fields[0])

static const struct op_spec {
    enum command_op op;
    const char *name;
    bool mutates;
    bool reads;
    unsigned required;
    unsigned optional;
} ops[] = {
    {COMMAND_READ, "read", false, true, F_KEY, 0},
    {COMMAND_WRITE, "write", true, false, F_KEY | F_VALUE, 0},
    {COMMAND_CAS, "cas", true, false, F_KEY | F_FROM | F_TO, 0},
    {COMMAND_CREATE, "create", true, false, F_TASK_ID | F_PAYLOAD, 0},
    {COMMAND_GET, "get", false, true, F_TASK_ID, 0},
    {COMMAND_UPDATE_STATUS, "update_status", true, false, F_TASK_ID | F_STATUS,
     F_EXPECT_STATUS | F_EXPECT_VERSION},
    {COMMAND_DELETE, "delete", true, false, F_TASK_ID, 0},
    {COMMAND_LIST, "list", false, true, 0, 0},
    {COMMAND_ENQUEUE, "enqueue", true, false, F_TASK_ID | F_PAYLOAD, 0},
    {COMMAND_CLAIM, "claim", true, false, F_WORKER | F_LEASE_MS, 0},
    {COMMAND_ACK, "ack", true, false, F_TASK_ID | F_WORKER, 0},
    {COMMAND_NACK, "nack", true, false, F_TASK_ID | F_WORKER, 0},
    {COMMAND_ACQUIRE, "acquire", true, false, F_SCOPE | F_HOLDER | F_TTL_MS, 0},
    {COMMAND_RELEASE, "release", true, false, F_SCOPE | F_HOLDER, 0},
    {COMMAND_HOLDER, "holder", false, true, F_SCOPE, 0},
    {COMMAND_STATUS, "status", false, false, 0, 0},
};

#define N_OPS (sizeof ops / sizeof ops[0])

static const struct op_spec *spec_of(enum command_op op)
{
    size_t i;

    for (i = 0; i < N_OPS; i++) {
        if (ops[i].op == op) {
            return &ops[i];
        }
    }
    return NULL;
}

enum command_op command_op_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < N_OPS; i++) {
        if (strcmp(ops[i].name, name) == 0) {
            return ops[i].op;
        }
    }
    return COMMAND_NONE;
}

const char *command_op_name(enum command_op op)
{
    const struct op_spec *s = spec_of(op);

    return s != NULL ? s->name : "?";
}

bool command_op_mutates(enum command_op op)
{
    const struct op_spec *s = spec_of(op);

    return s != NULL && s->mutates;
}

bool command_op_reads(enum command_op op)
{
    const struct op_spec *s = spec_of(op);

    return s != NULL && s->reads;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static char **str_at(struct command *c, size_t offset)
{
    return (char **)((char *)c + offset);
}

static int64_t *int_at(struct command *c, size_t offset)
{
    return (int64_t *)((char *)c + offset);
}

/* A string field of @obj within [@min, @max] bytes, copied into @out. */
static int get_string(json_t *obj, const char *name, int64_t min, int64_t max,
                      char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    size_t n;

    if (!json_is_string(v)) {
        return fail(err, errlen, "\"%s\" missing or not a string", name);
    }
    n = json_string_length(v);
    if ((int64_t)n < min || (int64_t)n > max ||
        strlen(json_string_value(v)) != n) {
        return fail(err, errlen,
                    "\"%s\" must be %lld to %lld bytes, without NUL", name,
                    (long long)min, (long long)max);
    }
    *out = strdup(json_string_value(v));
    return *out != NULL ? 0 : -ENOMEM;
}

static int get_int(json_t *obj, const char *name, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v)) {
        return fail(err, errlen, "\"%s\" must be a JSON integer (int64)", name);
    }
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        return fail(err, errlen, "\"%s\" must be in [%lld, %lld]", name,
                    (long long)min, (long long)max);
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_json(json_t *obj, const char *name, size_t max, char **out,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    char *text;

    if (v == NULL) {
        return fail(err, errlen, "\"%s\" missing (any JSON value)", name);
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        return -ENOMEM;
    }
    if (strlen(text) > max) {
        free(text);
        return fail(err, errlen, "\"%s\" longer than %zu bytes as JSON", name,
                    max);
    }
    *out = text;
    return 0;
}

static int get_field(json_t *obj, const struct field_spec *f, struct command *c,
                     char *err, size_t errlen)
{
    switch (f->kind) {
    case K_STRING:
        return get_string(obj, f->name, f->min, f->max, str_at(c, f->offset),
                          err, errlen);
    case K_INT:
        return get_int(obj, f->name, f->min, f->max, int_at(c, f->offset), err,
                       errlen);
    case K_JSON:
        return get_json(obj, f->name, (size_t)f->max, str_at(c, f->offset), err,
                        errlen);
    }
    return -EINVAL;
}

/* The operands of @spec's op, from @obj into @c. */
static int get_operands(json_t *obj, const struct op_spec *spec,
                        struct command *c, char *err, size_t errlen)
{
    size_t i;
    int rv;

    for (i = 0; i < N_FIELDS; i++) {
        const struct field_spec *f = &fields[i];

        if ((spec->required & f->field) == 0 &&
            ((spec->optional & f->field) == 0 ||
             json_object_get(obj, f->name) == NULL)) {
            continue;
        }
        rv = get_field(obj, f, c, err, errlen);
        if (rv != 0) {
            return rv;
        }
        if (f->field == F_EXPECT_VERSION) {
            c->has_expect_version = true;
        }
    }
    if (c->op == COMMAND_UPDATE_STATUS) {
        if (c->expect_status == NULL && !c->has_expect_version) {
            return fail(err, errlen,
                        "update_status needs \"expect_status\" or "
                        "\"expect_version\" (or both)");
        }
        if (strcmp(c->status, "running") == 0) {
            return fail(err, errlen,
                        "\"status\":\"running\" is set by claim only");
        }
    }
    return 0;
}

static int get_rid(json_t *obj, struct command *c, char *err, size_t errlen)
{
    if (json_object_get(obj, "rid") == NULL) {
        return 0;
    }
    return get_string(obj, "rid", 1, COMMAND_NAME_MAX, &c->rid, err, errlen);
}

static const struct op_spec *get_op(json_t *obj, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(obj, "op"));
    const struct op_spec *spec;

    if (name == NULL) {
        fail(err, errlen, "\"op\" missing or not a string");
        return NULL;
    }
    spec = spec_of(command_op_lookup(name));
    if (spec == NULL) {
        fail(err, errlen,
             "unknown op \"%.64s\" (read, write, cas, create, get, "
             "update_status, delete, list, enqueue, claim, ack, nack, "
             "acquire, release, holder, status)",
             name);
    }
    return spec;
}

int command_from_request(json_t *req, struct command *c, char *err,
                         size_t errlen)
{
    const struct op_spec *spec;
    int rv;

    memset(c, 0, sizeof *c);
    spec = get_op(req, err, errlen);
    if (spec == NULL) {
        return -EINVAL;
    }
    c->op = spec->op;
    rv = get_operands(req, spec, c, err, errlen);
    if (rv == 0 && spec->mutates) {
        rv = get_rid(req, c, err, errlen);
    }
    if (rv != 0) {
        command_clear(c);
        if (rv == -ENOMEM) {
            fail(err, errlen, "out of memory");
        }
    }
    return rv;
}

static int set_operand(json_t *obj, const struct field_spec *f,
                       const struct command *c)
{
    const void *at = (const char *)c + f->offset;
    const char *s;
    json_t *v = NULL;

    switch (f->kind) {
    case K_STRING:
        s = *(char *const *)at;
        v = s != NULL ? json_string(s) : NULL;
        break;
    case K_INT:
        if (f->field == F_EXPECT_VERSION && !c->has_expect_version) {
            return 0;
        }
        v = json_integer(*(const int64_t *)at);
        break;
    case K_JSON:
        s = *(char *const *)at;
        v = s != NULL ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
        break;
    }
    if (v == NULL) {
        return 0; /* missing: the check after encoding will say so */
    }
    return json_object_set_new(obj, f->name, v) == 0 ? 0 : -ENOMEM;
}

/* The entry for @c: op and operands, then unless @bare the rid, the pick
 * and the leader's stamps. */
static json_t *to_json(const struct command *c, bool bare)
{
    const struct op_spec *spec = spec_of(c->op);
    json_t *obj;
    size_t i;
    int rv = 0;

    if (spec == NULL || !spec->mutates) {
        return NULL;
    }
    obj = json_pack("{s:s}", "op", spec->name);
    for (i = 0; obj != NULL && i < N_FIELDS; i++) {
        if ((spec->required | spec->optional) & fields[i].field) {
            rv |= set_operand(obj, &fields[i], c);
        }
    }
    if (obj == NULL || rv != 0) {
        json_decref(obj);
        return NULL;
    }
    if (bare) {
        return obj;
    }
    if (c->rid != NULL) {
        json_object_set_new(obj, "rid", json_string(c->rid));
    }
    if (c->pick != NULL) {
        json_object_set_new(obj, "pick", json_string(c->pick));
    }
    json_object_set_new(obj, "ts_ms", json_integer(c->ts_ms));
    json_object_set_new(obj, "term", json_integer((json_int_t)c->term));
    json_object_set_new(obj, "leader", json_integer((json_int_t)c->leader));
    return obj;
}

/* The leader's stamps of a log entry; absent ones stay 0 (v0 entries). */
static int get_stamps(json_t *obj, struct command *c, char *err, size_t errlen)
{
    int64_t v;
    int rv;

    if (json_object_get(obj, "ts_ms") != NULL) {
        rv = get_int(obj, "ts_ms", 0, INT64_MAX, &c->ts_ms, err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    if (json_object_get(obj, "term") != NULL) {
        rv = get_int(obj, "term", 0, INT64_MAX, &v, err, errlen);
        if (rv != 0) {
            return rv;
        }
        c->term = (uint64_t)v;
    }
    if (json_object_get(obj, "leader") != NULL) {
        rv = get_int(obj, "leader", 0, INT64_MAX, &v, err, errlen);
        if (rv != 0) {
            return rv;
        }
        c->leader = (uint64_t)v;
    }
    if (json_object_get(obj, "pick") != NULL) {
        rv = get_string(obj, "pick", 1, COMMAND_KEY_MAX, &c->pick, err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    return get_rid(obj, c, err, errlen);
}

static int from_entry(json_t *obj, struct command *c, char *err, size_t errlen)
{
    const struct op_spec *spec;
    int rv;

    memset(c, 0, sizeof *c);
    if (!json_is_object(obj)) {
        return fail(err, errlen, "not a JSON object");
    }
    spec = get_op(obj, err, errlen);
    if (spec == NULL) {
        return -EINVAL;
    }
    if (!spec->mutates) {
        return fail(err, errlen, "op \"%s\" does not belong in the log",
                    spec->name);
    }
    c->op = spec->op;
    rv = get_operands(obj, spec, c, err, errlen);
    if (rv == 0) {
        rv = get_stamps(obj, c, err, errlen);
    }
    if (rv != 0) {
        command_clear(c);
        if (rv == -ENOMEM) {
            fail(err, errlen, "out of memory");
        }
    }
    return rv;
}

int command_encode(const struct command *c, void *(*alloc)(size_t), void **out,
                   size_t *len)
{
    struct command check;
    char why[128];
    json_t *obj;
    size_t padded;
    size_t n;
    void *buf;
    int rv;

    obj = to_json(c, false);
    if (obj == NULL) {
        return -EINVAL;
    }
    /* Refuse to log what no node would decode. */
    rv = from_entry(obj, &check, why, sizeof why);
    if (rv != 0) {
        goto err_decref;
    }
    command_clear(&check);
    n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        rv = -ENOMEM;
        goto err_decref;
    }
    /* libraft's disk format needs every entry to be a multiple of 8 bytes
     * long (an assertion in its segment encoder, compiled out in release
     * builds; a shorter entry corrupts the segment). Pad with JSON
     * whitespace. */
    padded = (n + COMMAND_ALIGN - 1) / COMMAND_ALIGN * COMMAND_ALIGN;
    buf = alloc(padded);
    if (buf == NULL) {
        rv = -ENOMEM;
        goto err_decref;
    }
    /* Same object, same flags: the second pass writes exactly @n bytes. */
    json_dumpb(obj, buf, n, JSON_COMPACT);
    memset((char *)buf + n, ' ', padded - n);
    json_decref(obj);
    *out = buf;
    *len = padded;
    return 0;

err_decref:
    json_decref(obj);
    return rv;
}

int command_decode(const void *buf, size_t len, struct command *c, char *err,
                   size_t errlen)
{
    json_error_t jerr;
    json_t *obj;
    int rv;

    memset(c, 0, sizeof *c);
    obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        return fail(err, errlen, "column %d: %s", jerr.column, jerr.text);
    }
    rv = from_entry(obj, c, err, errlen);
    json_decref(obj);
    return rv;
}

int command_fingerprint(const struct command *c, uint64_t *out)
{
    json_t *obj = to_json(c, true);
    uint64_t h = 0xcbf29ce484222325ULL;
    char *text;
    const char *p;

    if (obj == NULL) {
        return -EINVAL;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    if (text == NULL) {
        return -ENOMEM;
    }
    for (p = text; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    free(text);
    *out = h;
    return 0;
}

void command_clear(struct command *c)
{
    free(c->rid);
    free(c->pick);
    free(c->key);
    free(c->payload);
    free(c->status);
    free(c->expect_status);
    free(c->who);
    memset(c, 0, sizeof *c);
}
