/* verdict: checker results as JSON and as one line of text. */
#include "checker/verdict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void verdict_init(struct verdict *v)
{
    memset(v, 0, sizeof *v);
    v->result = VERDICT_VALID;
    v->checker = "linearizable";
    v->model = "";
    v->op.done_index = -1;
    v->op.ret = -1;
}

void verdict_close(struct verdict *v)
{
    free(v->key);
    json_decref(v->op.value);
    v->key = NULL;
    v->op.value = NULL;
}

const char *verdict_result_name(enum verdict_result r)
{
    switch (r) {
    case VERDICT_VALID:
        return "valid";
    case VERDICT_INVALID:
        return "invalid";
    case VERDICT_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}

static void set(json_t *obj, const char *name, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(obj, name, v) != 0) {
        *ok = false;
    }
}

/* Searched as one part: the verdict names no key. */
static bool one_part(const struct verdict *v)
{
    return v->whole && !v->per_key;
}

static json_t *key_json(const struct verdict *v)
{
    return v->key && !one_part(v) ? json_string(v->key) : json_null();
}

static json_t *op_to_json(const struct verdict_op *op)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    if (!ok) {
        return NULL;
    }
    set(o, "index", json_integer(op->index), &ok);
    set(o, "process", json_integer(op->process), &ok);
    set(o, "f", json_string(op->f), &ok);
    set(o, "value", op->value ? json_incref(op->value) : json_null(), &ok);
    set(o, "type", json_string(history_type_name(op->type)), &ok);
    set(o, "call", json_integer(op->call), &ok);
    set(o, "return", op->ret < 0 ? json_null() : json_integer(op->ret), &ok);
    set(o, "description", json_string(op->desc), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *verdict_to_json(const struct verdict *v)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    if (!ok) {
        return NULL;
    }
    switch (v->result) {
    case VERDICT_VALID:
        set(o, "valid", json_true(), &ok);
        break;
    case VERDICT_INVALID:
        set(o, "valid", json_false(), &ok);
        break;
    default:
        set(o, "valid", json_string("unknown"), &ok);
    }
    set(o, "checker", json_string(v->checker ? v->checker : ""), &ok);
    set(o, "model", json_string(v->model ? v->model : ""), &ok);
    set(o, "ops", json_integer((json_int_t)v->ops), &ok);
    set(o, "keys", json_integer((json_int_t)v->keys), &ok);
    set(o, "partial", json_boolean(v->partial), &ok);
    if (v->result == VERDICT_INVALID) {
        json_t *a = json_object();
        if (a == NULL) {
            ok = false;
        } else {
            set(a, "key", key_json(v), &ok);
            if (one_part(v)) {
                set(a, "scope", json_string("whole history"), &ok);
            }
            set(a, "op", op_to_json(&v->op), &ok);
            if (v->why[0] != '\0') {
                set(a, "explanation", json_string(v->why), &ok);
                set(a, "decided", json_string("before the search"), &ok);
                set(a, "key_ops", json_integer((json_int_t)v->key_ops), &ok);
            } else {
                set(a, "linearized_prefix",
                    json_integer((json_int_t)v->prefix), &ok);
                set(a, "key_ops", json_integer((json_int_t)v->key_ops), &ok);
                set(a, "state", json_string(v->state), &ok);
            }
            set(o, "anomaly", a, &ok);
        }
    } else if (v->result == VERDICT_UNKNOWN) {
        set(o, "reason", json_string(v->reason), &ok);
        if (v->has_key) {
            set(o, "key", key_json(v), &ok);
        }
        if (one_part(v)) {
            set(o, "scope", json_string("whole history"), &ok);
        }
    }
    if (v->per_key) {
        set(o, "decided_per_key", json_true(), &ok);
    }
    set(o, "stats",
        json_pack("{s:I,s:I}", "steps", (json_int_t)v->steps, "states",
                  (json_int_t)v->states),
        &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* "key \"k1\"", "ops without a key", or "whole history" (not split). */
static void key_text(const struct verdict *v, char *buf, size_t size)
{
    if (one_part(v)) {
        snprintf(buf, size, "whole history");
    } else if (v->key != NULL) {
        snprintf(buf, size, "key \"%.64s\"", v->key);
    } else {
        snprintf(buf, size, "ops without a key");
    }
}

void verdict_summary(const struct verdict *v, char *buf, size_t size)
{
    char key[192];

    if (size == 0) {
        return;
    }
    key_text(v, key, sizeof key);
    if (v->per_key) {
        char *p = key + strlen(key);
        snprintf(p, sizeof key - (size_t)(p - key),
                 " (decided per key: the %s model is P-compositional)",
                 v->model);
    }
    switch (v->result) {
    case VERDICT_VALID:
        snprintf(buf, size, "valid: %s (%s, %zu ops, %zu keys%s%s%s)",
                 v->checker, v->model, v->ops, v->keys,
                 v->per_key ? "; decided per key: the " : "",
                 v->per_key ? v->model : "",
                 v->per_key ? " model is P-compositional" : "");
        break;
    case VERDICT_INVALID:
        if (v->why[0] != '\0') {
            snprintf(buf, size,
                     "invalid: %s: %s (process %d, index %" PRId64
                     ") cannot be linearized: %s",
                     key, v->op.desc, v->op.process, v->op.index, v->why);
            break;
        }
        snprintf(buf, size,
                 "invalid: %s: %s (process %d, index %" PRId64
                 ") cannot be linearized; longest linearizable prefix %zu "
                 "of %zu ops, state %s",
                 key, v->op.desc, v->op.process, v->op.index, v->prefix,
                 v->key_ops, v->state);
        break;
    default:
        if (v->has_key || v->whole) {
            snprintf(buf, size, "unknown: %s: %s (%zu ops, %zu keys)", key,
                     v->reason, v->ops, v->keys);
        } else {
            snprintf(buf, size, "unknown: %s (%zu ops, %zu keys)", v->reason,
                     v->ops, v->keys);
        }
    }
}
