/* kill: SIGKILL the target nodes; stopping the fault restarts them.
 * Targets are drawn among running nodes with the scenario's selectors. */
#include "nemesis/process.h"

#include <signal.h>
#include <stdlib.h>

static int kill_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return proc_fault_start(env, draw, state, "kill", SIGKILL);
}

static int kill_stop(struct nemesis_env *env, void *state)
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

const struct nemesis_ops nemesis_kill = {
    .name = "kill",
    .start = kill_start,
    .stop = kill_stop,
    .describe = proc_fault_describe,
};
