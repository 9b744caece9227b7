/* kill: SIGKILL the target nodes; stopping the fault restarts them.
 * pause: SIGSTOP them; stopping the fault sends SIGCONT.
 * Targets are drawn among running nodes with the scenario's selectors. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct proc_fault {
    const char *verb; /* "kill" or "pause" */
    int nodes[DB_MAX_NODES];
    int n;
    char selector[16];
};

static int proc_start(struct nemesis_env *env, struct rng *draw,
                      void **state, const char *verb, int sig)
{
    const char *selector = nemesis_draw_selector(env, draw);
    struct proc_fault *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -ENOMEM;
    }
    f->verb = verb;
    snprintf(f->selector, sizeof f->selector, "%s", selector);
    f->n = nemesis_pick(env, draw, selector, true, f->nodes);
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

static int kill_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return proc_start(env, draw, state, "kill", SIGKILL);
}

static int pause_start(struct nemesis_env *env, struct rng *draw,
                       void **state)
{
    return proc_start(env, draw, state, "pause", SIGSTOP);
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

static void proc_describe(struct nemesis_env *env, void *state, char *buf,
                          size_t size)
{
    struct proc_fault *f = state;
    size_t used = (size_t)snprintf(buf, size, "%s", f->verb);
    for (int i = 0; i < f->n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 env->cluster->nodes[f->nodes[i]].spec.name);
    }
}

const struct nemesis_ops nemesis_kill = {
    .name = "kill",
    .start = kill_start,
    .stop = kill_stop,
    .describe = proc_describe,
};

const struct nemesis_ops nemesis_pause = {
    .name = "pause",
    .start = pause_start,
    .stop = pause_stop,
    .describe = proc_describe,
};
