/* process: target selection and description shared by kill and pause. */
#include "nemesis/process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int proc_fault_start(struct nemesis_env *env, struct rng *draw, void **state,
                     const char *verb, int sig)
{
    const char *selector = nemesis_draw_selector(env, draw);
    struct proc_fault *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -ENOMEM;
    }
    f->verb = verb;
    if (env->replay != NULL) {
        /* The nodes the original run hit, running or not: a signal to a
         * stopped node is a no-op, as it would have been then. */
        selector = "replay";
        f->n = nemesis_replay_nodes(env, env->replay, f->nodes);
    } else {
        f->n = nemesis_pick(env, draw, selector, true, f->nodes);
    }
    snprintf(f->selector, sizeof f->selector, "%s", selector);
    if (sig == SIGSTOP) {
        /* A paused node can't be paused again: skip those. */
        int k = 0;
        for (int i = 0; i < f->n; i++) {
            if (!env->cluster->nodes[f->nodes[i]].paused) {
                f->nodes[k++] = f->nodes[i];
            }
        }
        f->n = k;
    }
    if (f->n == 0) {
        free(f);
        return -EAGAIN;
    }
    env->record(env->arg, HISTORY_INVOKE, verb,
                nemesis_node_names(env, f->nodes, f->n));
    for (int i = 0; i < f->n; i++) {
        cluster_signal(env->cluster, f->nodes[i], sig);
    }
    env->record(env->arg, HISTORY_INFO, verb,
                nemesis_node_names(env, f->nodes, f->n));
    *state = f;
    return 0;
}

void proc_fault_describe(struct nemesis_env *env, void *state, char *buf,
                         size_t size)
{
    struct proc_fault *f = state;
    size_t used = (size_t)snprintf(buf, size, "%s", f->verb);
    for (int i = 0; i < f->n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 env->cluster->nodes[f->nodes[i]].spec.name);
    }
}

int proc_fault_start_again(struct nemesis_env *env, void *state)
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
