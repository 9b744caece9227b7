/* workload_register: read, write and cas on integer registers.
 *
 * Keys k0..k(keys-1); values drawn from [0, values); the op mix is weighted
 * by workload.read, .write and .cas. No request ids, so no retries: an info
 * is left open, as the register checker expects. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct reg_settings {
    int keys;   /* registers */
    int values; /* values from [0, values) */
    double read, write, cas; /* relative weights */
};

#define T struct reg_settings
static const struct setting reg_fields[] = {
    {"keys", SETTING_INT, SETTING_OFF(T, keys), 0, 1, 100000, NULL, NULL,
     "registers k0..k(keys-1)"},
    {"values", SETTING_INT, SETTING_OFF(T, values), 0, 1, 1e9, NULL, NULL,
     "values written are drawn from [0, values)"},
    {"read", SETTING_NUM, SETTING_OFF(T, read), 0, 0, 1e6, NULL, NULL,
     "weight of reads"},
    {"write", SETTING_NUM, SETTING_OFF(T, write), 0, 0, 1e6, NULL, NULL,
     "weight of writes"},
    {"cas", SETTING_NUM, SETTING_OFF(T, cas), 0, 0, 1e6, NULL, NULL,
     "weight of compare-and-sets"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void reg_defaults(void *p)
{
    struct reg_settings *r = p;
    r->keys = 8;
    r->values = 5;
    r->read = 0.5;
    r->write = 0.3;
    r->cas = 0.2;
}

static int reg_validate(const void *p, const char *section, char *err,
                        size_t errlen)
{
    const struct reg_settings *r = p;
    if (r->read + r->write + r->cas <= 0) {
        snprintf(err, errlen,
                 "\"%s\": read, write and cas weights are all zero", section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table reg_table = {
    .size = sizeof(struct reg_settings),
    .defaults = reg_defaults,
    .fields = reg_fields,
    .validate = reg_validate,
};

struct state {
    const struct workload_env *env;
    const struct reg_settings *set;
};

static void *reg_new(const struct workload_env *env, int n)
{
    struct state *st = calloc(1, sizeof *st);
    if (st != NULL) {
        st->env = env;
        st->set = scenario_workload_settings(env->s);
    }
    return st;
}

static void reg_free(void *state)
{
    free(state);
}

static enum workload_next reg_choose(void *state, int c, struct workload_op *op)
{
    struct state *st = state;
    const struct reg_settings *s = st->set;
    struct rng *rng = st->env->rng;
    double total = s->read + s->write + s->cas;
    double x = rng_unit(rng) * total;
    uint64_t values = (uint64_t)s->values;
    char key[32];

    snprintf(key, sizeof key, "k%d",
             (int)rng_below(rng, (uint64_t)s->keys));
    if (x < s->read) {
        workload_op_set(op, "read", key, json_null(), true);
    } else if (x < s->read + s->write) {
        workload_op_set(op, "write", key,
                        json_integer((json_int_t)rng_below(rng, values)),
                        false);
    } else {
        json_int_t from = (json_int_t)rng_below(rng, values);
        json_int_t to = (json_int_t)rng_below(rng, values);
        workload_op_set(op, "cas", key, json_pack("[I, I]", from, to), false);
    }
    return WORKLOAD_OP;
}

static void reg_completed(void *state, int c, const struct workload_op *op,
                          enum history_type type, json_t *value,
                          const char *error)
{
}

const struct workload_kind workload_register = {
    .name = "register",
    .settings = &reg_table,
    .new = reg_new,
    .free = reg_free,
    .choose = reg_choose,
    .completed = reg_completed,
    .final = NULL,
};
