/* kill: SIGKILL one running node; stopping the fault restarts it. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

struct kill_state {
    int node;
};

static int kill_start(struct nemesis_env *env, void **state)
{
    struct cluster *c = env->cluster;
    int running[DB_MAX_NODES];
    int n = 0;
    struct kill_state *k;
    int rv;

    for (int i = 0; i < c->n; i++) {
        if (cluster_running(c, i)) {
            running[n++] = i;
        }
    }
    if (n == 0) {
        return -EAGAIN;
    }
    k = malloc(sizeof *k);
    if (k == NULL) {
        return -ENOMEM;
    }
    k->node = running[rng_below(env->rng, (uint64_t)n)];
    env->record(env->arg, HISTORY_INVOKE, "kill",
                json_pack("[s]", c->nodes[k->node].spec.name));
    rv = cluster_signal(c, k->node, SIGKILL);
    env->record(env->arg, HISTORY_INFO, "kill",
                json_pack("[s]", c->nodes[k->node].spec.name));
    if (rv != 0) {
        free(k);
        return rv;
    }
    *state = k;
    return 0;
}

static int kill_stop(struct nemesis_env *env, void *state)
{
    struct kill_state *k = state;
    const char *name = env->cluster->nodes[k->node].spec.name;
    int rv;
    env->record(env->arg, HISTORY_INVOKE, "start", json_pack("[s]", name));
    rv = cluster_start(env->cluster, k->node);
    env->record(env->arg, HISTORY_INFO, "start", json_pack("[s]", name));
    free(k);
    return rv;
}

static void kill_describe(struct nemesis_env *env, void *state, char *buf,
                          size_t size)
{
    struct kill_state *k = state;
    snprintf(buf, size, "kill %s", env->cluster->nodes[k->node].spec.name);
}

const struct nemesis_ops nemesis_kill = {
    .name = "kill",
    .start = kill_start,
    .stop = kill_stop,
    .describe = kill_describe,
};
