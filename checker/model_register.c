/* model_register: a compare-and-set register that starts unset.
 *
 * These are the semantics of the Porcupine/Knossos etcd register: a read
 * returns the value or null (never written); write N sets it; cas [A, B]
 * sets B if the value is A, and fails (changing nothing) otherwise, which
 * the history records as `fail`, so a cas that reaches the search matched.
 * An unset register matches no cas. */
#include "checker/model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { REG_READ, REG_WRITE, REG_CAS };

/* How the register reads a history (model_register_configure()). */
static struct model_register_config config;

void model_register_configure(const struct model_register_config *c)
{
    static const struct model_register_config none;
    config = c != NULL ? *c : none;
}

/* Two whole words: no padding, so states compare and hash as bytes. */
struct reg {
    int64_t set; /* 0 while unset */
    int64_t v;   /* 0 while unset */
};

static int op_from_events(const struct history_event *invoke,
                          const struct history_event *done, struct model_op *op,
                          char *err, size_t errlen)
{
    memset(op, 0, sizeof *op);
    op->open = done == NULL;
    if (strcmp(invoke->f, "read") == 0) {
        op->f = REG_READ;
        if (done == NULL) {
            return MODEL_DROP; /* no result: consistent with any state */
        }
        if (done->value == NULL || json_is_null(done->value)) {
            if (config.nil_read_unknown) {
                return MODEL_DROP; /* Knossos: the value is not known */
            }
            op->out_nil = true;
        } else if (json_is_integer(done->value)) {
            op->out = json_integer_value(done->value);
        } else {
            snprintf(err, errlen,
                     "ok read value: expected an integer or "
                     "null");
            return -EINVAL;
        }
        return MODEL_KEEP;
    }
    if (strcmp(invoke->f, "write") == 0) {
        op->f = REG_WRITE;
        if (!json_is_integer(invoke->value)) {
            snprintf(err, errlen, "write value: expected an integer");
            return -EINVAL;
        }
        op->in[0] = json_integer_value(invoke->value);
        return MODEL_KEEP;
    }
    if (strcmp(invoke->f, "cas") == 0) {
        json_t *v = invoke->value;
        op->f = REG_CAS;
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            !json_is_integer(json_array_get(v, 0)) ||
            !json_is_integer(json_array_get(v, 1))) {
            snprintf(err, errlen,
                     "cas value: expected [from, to], two "
                     "integers");
            return -EINVAL;
        }
        op->in[0] = json_integer_value(json_array_get(v, 0));
        op->in[1] = json_integer_value(json_array_get(v, 1));
        return MODEL_KEEP;
    }
    snprintf(err, errlen,
             "unknown operation \"%s\" (cas-register has read, write, cas)",
             invoke->f);
    return -EINVAL;
}

static void init(void *state)
{
    struct reg *s = state;
    memset(state, 0, sizeof(struct reg));
    if (config.has_initial) {
        s->set = 1;
        s->v = config.initial;
    }
}

static bool step(const void *state, const struct model_op *op, void *next)
{
    const struct reg *s = state;
    struct reg *n = next;

    switch (op->f) {
    case REG_READ:
        if (op->out_nil ? s->set : (!s->set || s->v != op->out)) {
            return false;
        }
        *n = *s;
        return true;
    case REG_WRITE:
        n->set = 1;
        n->v = op->in[0];
        return true;
    case REG_CAS:
        /* An open cas that took effect matched; one that did not match
         * changed nothing, which is the same as never happening. */
        if (!s->set || s->v != op->in[0]) {
            return false;
        }
        n->set = 1;
        n->v = op->in[1];
        return true;
    }
    return false;
}

static bool equal(const void *a, const void *b)
{
    const struct reg *x = a, *y = b;
    return x->set == y->set && x->v == y->v;
}

static uint64_t hash(const void *state)
{
    const struct reg *s = state;
    uint64_t z = (uint64_t)s->v + (s->set ? 0x9e3779b97f4a7c15ULL : 0);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Only read leaves the value alone; write and cas can set any value. */
static bool resets(const struct model_op *op)
{
    return op->f != REG_READ;
}

/* A write sets the value whatever it was. */
static bool overwrites(const struct model_op *op)
{
    return op->f == REG_WRITE;
}

/* With reads only, the value stays as it is. */
static bool reachable(const void *state, const struct model_op *op)
{
    struct reg next;
    return op->f != REG_READ || step(state, op, &next);
}

/* What a state may hold after @op: the value it sets. */
static void writes(const struct model_op *op, void (*add)(void *, uint64_t),
                   void *arg)
{
    if (op->f == REG_WRITE) {
        add(arg, model_token(REG_WRITE, (uint64_t)op->in[0], 0));
    } else if (op->f == REG_CAS) {
        add(arg, model_token(REG_WRITE, (uint64_t)op->in[1], 0));
    }
}

/* A read of N, and a cas from N, need N set by a write or a cas; the
 * register starts unset, so a read of null needs nothing. */
static const char *needs(const struct model_op *op,
                         void (*add)(void *, uint64_t), void *arg)
{
    /* A register that starts at a known value (--initial) holds it before
     * any write: a read or cas of it needs nothing. */
    if (op->f == REG_READ && !op->out_nil &&
        !(config.has_initial && op->out == config.initial)) {
        add(arg, model_token(REG_WRITE, (uint64_t)op->out, 0));
        return "a value";
    }
    if (op->f == REG_CAS &&
        !(config.has_initial && op->in[0] == config.initial)) {
        add(arg, model_token(REG_WRITE, (uint64_t)op->in[0], 0));
        return "an expected value";
    }
    return NULL;
}

static void describe_op(const struct model_op *op, char *buf, size_t size)
{
    switch (op->f) {
    case REG_READ:
        if (op->open) {
            snprintf(buf, size, "read -> ?");
        } else if (op->out_nil) {
            snprintf(buf, size, "read -> null");
        } else {
            snprintf(buf, size, "read -> %" PRId64, op->out);
        }
        break;
    case REG_WRITE:
        snprintf(buf, size, "write %" PRId64 "%s", op->in[0],
                 op->open ? " (outcome unknown)" : "");
        break;
    case REG_CAS:
        snprintf(buf, size, "cas %" PRId64 " -> %" PRId64 "%s", op->in[0],
                 op->in[1], op->open ? " (outcome unknown)" : "");
        break;
    default:
        snprintf(buf, size, "?");
    }
}

static void describe_state(const void *state, char *buf, size_t size)
{
    const struct reg *s = state;
    if (s->set) {
        snprintf(buf, size, "%" PRId64, s->v);
    } else {
        snprintf(buf, size, "null");
    }
}

const struct model model_register = {
    .name = "cas-register",
    .state_size = sizeof(struct reg),
    .op_from_events = op_from_events,
    .init = init,
    .step = step,
    .equal = equal,
    .hash = hash,
    .resets = resets,
    .reachable = reachable,
    .overwrites = overwrites,
    .writes = writes,
    .needs = needs,
    .describe_op = describe_op,
    .describe_state = describe_state,
};
