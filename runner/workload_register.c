/* workload_register: read, write and cas on integer registers.
 *
 * Keys k0..k(keys-1); values drawn from [0, values); the op mix is weighted
 * by workload.read, .write and .cas. No request ids, so no retries: an info
 * is left open, as the register checker expects. */
#include "runner/workload.h"

#include <stdio.h>
#include <stdlib.h>

struct state {
    const struct workload_env *env;
};

static void *reg_new(const struct workload_env *env, int n)
{
    struct state *st = calloc(1, sizeof *st);
    if (st != NULL) {
        st->env = env;
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
    const struct scenario *s = st->env->s;
    struct rng *rng = st->env->rng;
    double total = s->workload.read + s->workload.write + s->workload.cas;
    double x = rng_unit(rng) * total;
    uint64_t values = (uint64_t)s->workload.values;
    char key[32];

    snprintf(key, sizeof key, "k%d",
             (int)rng_below(rng, (uint64_t)s->workload.keys));
    if (x < s->workload.read) {
        workload_op_set(op, "read", key, json_null(), true);
    } else if (x < s->workload.read + s->workload.write) {
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
    .new = reg_new,
    .free = reg_free,
    .choose = reg_choose,
    .completed = reg_completed,
    .final = NULL,
};
