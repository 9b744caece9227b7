/* restart: a graceful restart: SIGTERM the target nodes (they shut down
 * cleanly); stopping the fault starts them again. */
#include "nemesis/process.h"

#include <signal.h>
#include <stdlib.h>

static int restart_start(struct nemesis_env *env, struct rng *draw,
                         void **state)
{
    return proc_fault_start(env, draw, state, "stop", SIGTERM);
}

static int restart_stop(struct nemesis_env *env, void *state)
{
    struct proc_fault *f = state;
    json_t *names = nemesis_node_names(env, f->nodes, f->n);
    env->record(env->arg, HISTORY_INVOKE, "start", json_incref(names));
    for (int i = 0; i < f->n; i++) {
        cluster_start(env->cluster, f->nodes[i]);
    }
    env->record(env->arg, HISTORY_INFO, "start", names);
    free(f);
    return 0;
}

const struct nemesis_ops nemesis_restart = {
    .name = "restart",
    .start = restart_start,
    .stop = restart_stop,
    .describe = proc_fault_describe,
};
