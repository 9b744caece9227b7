/* pause: SIGSTOP the target nodes; stopping the fault sends SIGCONT. A
 * paused node keeps its sockets: peers and clients see a node that accepts
 * connections and never answers. */
#include "nemesis/process.h"

#include <signal.h>
#include <stdlib.h>

static int pause_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return proc_fault_start(env, draw, state, "pause", SIGSTOP);
}

static int pause_stop(struct nemesis_env *env, void *state)
{
    struct proc_fault *f = state;
    json_t *names = nemesis_node_names(env, f->nodes, f->n);
    env->record(env->arg, HISTORY_INVOKE, "resume", json_incref(names));
    for (int i = 0; i < f->n; i++) {
        /* It may have been killed and restarted meanwhile: then it is not
         * paused any more, and SIGCONT is harmless. */
        cluster_signal(env->cluster, f->nodes[i], SIGCONT);
    }
    env->record(env->arg, HISTORY_INFO, "resume", names);
    free(f);
    return 0;
}

const struct nemesis_ops nemesis_pause = {
    .name = "pause",
    .needs = DB_CAP_PROCESS,
    .start = pause_start,
    .stop = pause_stop,
    .describe = proc_fault_describe,
};
