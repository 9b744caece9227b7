/* command: encode and decode Raft log commands. Decoding must be a pure
 * function of the bytes: every node decodes the same entry the same way. */
#include "nodes/taskd/command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int command_encode(const struct command *c, void *(*alloc)(size_t), void **out,
                   size_t *len)
{
    json_t *obj;
    size_t padded;
    size_t n;
    void *buf;
    int rv;

    if (c->key == NULL || strlen(c->key) > COMMAND_KEY_MAX) {
        return -EINVAL;
    }
    switch (c->op) {
    case COMMAND_WRITE:
        obj = json_pack("{s:s, s:s, s:I}", "op", "write", "key", c->key,
                        "value", (json_int_t)c->value);
        break;
    case COMMAND_CAS:
        obj = json_pack("{s:s, s:s, s:I, s:I}", "op", "cas", "key", c->key,
                        "from", (json_int_t)c->from, "to", (json_int_t)c->to);
        break;
    default:
        return -EINVAL;
    }
    if (obj == NULL) {
        return -EINVAL; /* e.g. a key that is not UTF-8 */
    }
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

static int get_int(json_t *obj, const char *name, int64_t *out, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v)) {
        snprintf(err, errlen, "\"%s\" missing or not an integer", name);
        return -EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

int command_decode(const void *buf, size_t len, struct command *c, char *err,
                   size_t errlen)
{
    json_error_t jerr;
    json_t *obj;
    const char *op;
    const char *key;
    int rv = -EINVAL;

    memset(c, 0, sizeof *c);
    obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        snprintf(err, errlen, "column %d: %s", jerr.column, jerr.text);
        return -EINVAL;
    }
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "not a JSON object");
        goto out;
    }
    op = json_string_value(json_object_get(obj, "op"));
    key = json_string_value(json_object_get(obj, "key"));
    if (op == NULL || key == NULL) {
        snprintf(err, errlen, "\"op\" or \"key\" missing or not a string");
        goto out;
    }
    if (strlen(key) > COMMAND_KEY_MAX) {
        snprintf(err, errlen, "key longer than %d bytes", COMMAND_KEY_MAX);
        goto out;
    }
    if (strcmp(op, "write") == 0) {
        c->op = COMMAND_WRITE;
        if (get_int(obj, "value", &c->value, err, errlen) != 0) {
            goto out;
        }
    } else if (strcmp(op, "cas") == 0) {
        c->op = COMMAND_CAS;
        if (get_int(obj, "from", &c->from, err, errlen) != 0 ||
            get_int(obj, "to", &c->to, err, errlen) != 0) {
            goto out;
        }
    } else {
        snprintf(err, errlen, "unknown op \"%s\"", op);
        goto out;
    }
    c->key = strdup(key);
    if (c->key == NULL) {
        snprintf(err, errlen, "out of memory");
        rv = -ENOMEM;
        goto out;
    }
    rv = 0;
out:
    json_decref(obj);
    return rv;
}

void command_clear(struct command *c)
{
    free(c->key);
    c->key = NULL;
}
