/* workload_lease: acquire, renew, release and read leases on a few scopes.
 *
 * Many clients (holders "c0".."cN") contend for workload.keys scopes
 * ("s0".."sK") with a short workload.ttl_ms. A client that believes it holds
 * a scope (its acquire succeeded less than a ttl ago) renews it (acquires
 * again) or releases it; others try to acquire a random scope or read who
 * holds it. The lease checker looks for two holders whose validity
 * intervals overlap; short ttls and frequent changes of holder give it many
 * chances, and clock faults make the nodes disagree on expiry. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lclient {
    uint64_t seq;       /* request ids made */
    uint64_t chosen_at; /* when its last op was chosen */
    uint64_t *until;    /* per scope: held until (own clock), or 0 */
};

struct lease_settings {
    int keys; /* scopes s0..s(keys-1) */
    double acquire, release, holder; /* relative weights */
    int ttl_ms; /* the ttl of an acquire */
};

#define T struct lease_settings
static const struct setting lease_fields[] = {
    {"keys", SETTING_INT, SETTING_OFF(T, keys), 0, 1, 100000, NULL, NULL,
     "lease scopes s0..s(keys-1)"},
    {"acquire", SETTING_NUM, SETTING_OFF(T, acquire), 0, 0, 1e6, NULL, NULL,
     "weight of acquires (and renewals)"},
    {"release", SETTING_NUM, SETTING_OFF(T, release), 0, 0, 1e6, NULL, NULL,
     "weight of releases"},
    {"holder", SETTING_NUM, SETTING_OFF(T, holder), 0, 0, 1e6, NULL, NULL,
     "weight of holder reads"},
    {"ttl_ms", SETTING_INT, SETTING_OFF(T, ttl_ms), 0, 1, 86400000, NULL,
     NULL, "the ttl of an acquire"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void lease_defaults(void *p)
{
    struct lease_settings *l = p;
    l->keys = 8;
    l->acquire = 0.6;
    l->release = 0.2;
    l->holder = 0.2;
    l->ttl_ms = 2000;
}

static int lease_validate(const void *p, const char *section, char *err,
                          size_t errlen)
{
    const struct lease_settings *l = p;
    if (l->acquire <= 0) {
        snprintf(err, errlen,
                 "\"%s.acquire\": the lease workload needs acquires (a "
                 "weight above 0)",
                 section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table lease_table = {
    .size = sizeof(struct lease_settings),
    .defaults = lease_defaults,
    .fields = lease_fields,
    .validate = lease_validate,
};

struct state {
    const struct workload_env *env;
    const struct lease_settings *set;
    int n;
    int scopes;
    struct lclient *cl;
};

static void *lease_new(const struct workload_env *env, int n)
{
    struct state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->env = env;
    st->n = n;
    st->set = scenario_workload_settings(env->s);
    st->scopes = st->set->keys;
    st->cl = calloc((size_t)n, sizeof *st->cl);
    if (st->cl == NULL) {
        free(st);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        st->cl[i].until = calloc((size_t)st->scopes, sizeof(uint64_t));
        if (st->cl[i].until == NULL) {
            while (i-- > 0) {
                free(st->cl[i].until);
            }
            free(st->cl);
            free(st);
            return NULL;
        }
    }
    return st;
}

static void lease_free(void *state)
{
    struct state *st = state;
    if (st == NULL) {
        return;
    }
    for (int i = 0; i < st->n; i++) {
        free(st->cl[i].until);
    }
    free(st->cl);
    free(st);
}

/* A scope @c believes it holds, or -1. */
static int held_scope(struct state *st, int c, uint64_t now)
{
    int first = (int)rng_below(st->env->rng, (uint64_t)st->scopes);
    for (int i = 0; i < st->scopes; i++) {
        int k = (first + i) % st->scopes;
        if (st->cl[c].until[k] > now) {
            return k;
        }
    }
    return -1;
}

static enum workload_next lease_choose(void *state, int c,
                                       struct workload_op *op)
{
    struct state *st = state;
    const struct lease_settings *s = st->set;
    struct rng *rng = st->env->rng;
    struct lclient *l = &st->cl[c];
    double total = s->acquire + s->release + s->holder;
    double x = rng_unit(rng) * total;
    uint64_t now = workload_now_ms();
    int held = held_scope(st, c, now);
    int scope = (int)rng_below(rng, (uint64_t)st->scopes);
    char key[16], rid[32], holder[16];

    workload_client_name(c, holder, sizeof holder);
    snprintf(rid, sizeof rid, "%s-%llu", holder,
             (unsigned long long)(l->seq + 1));
    l->chosen_at = now;
    if (x >= s->acquire + s->release) {
        snprintf(key, sizeof key, "s%d", scope);
        workload_op_set(op, "holder", key, json_null(), true);
        return WORKLOAD_OP;
    }
    l->seq++;
    if (x >= s->acquire && held >= 0) {
        snprintf(key, sizeof key, "s%d", held);
        workload_op_set(op, "release", key,
                        json_pack("{s:s, s:s}", "rid", rid, "holder", holder),
                        false);
        return WORKLOAD_OP;
    }
    /* Acquire, or renew what it holds. */
    snprintf(key, sizeof key, "s%d", held >= 0 ? held : scope);
    workload_op_set(op, "acquire", key,
                    json_pack("{s:s, s:s, s:i}", "rid", rid, "holder", holder,
                              "ttl_ms", s->ttl_ms),
                    false);
    return WORKLOAD_OP;
}

static void lease_completed(void *state, int c, const struct workload_op *op,
                            enum history_type type, json_t *value,
                            const char *error)
{
    struct state *st = state;
    struct lclient *l = &st->cl[c];
    int k = atoi(op->key + 1);

    if (op->key[0] != 's' || k < 0 || k >= st->scopes) {
        return;
    }
    if (strcmp(op->f, "acquire") == 0 && type == HISTORY_OK) {
        l->until[k] = l->chosen_at + (uint64_t)st->set->ttl_ms;
    } else if (strcmp(op->f, "acquire") == 0 && type == HISTORY_FAIL) {
        l->until[k] = 0;
    } else if (strcmp(op->f, "release") == 0) {
        l->until[k] = 0;
    }
}

const struct workload_kind workload_lease = {
    .name = "lease",
    .settings = &lease_table,
    .rids = true,
    .new = lease_new,
    .free = lease_free,
    .choose = lease_choose,
    .completed = lease_completed,
    .final = NULL,
};
