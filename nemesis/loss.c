/* loss: the target nodes drop a share (nemesis.loss_probability) of the
 * packets their peers send them, with the iptables statistic match; client
 * traffic is untouched. Stopping the fault deletes exactly those rules. */
#include "nemesis/grudge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int loss_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    int targets[DB_MAX_NODES];
    const char *selector = nemesis_draw_selector(env, draw);
    int n = nemesis_pick(env, draw, selector, false, targets);
    struct grudge *g = calloc(1, sizeof *g);

    if (g == NULL) {
        return -ENOMEM;
    }
    g->n = env->cluster->n;
    g->probability = env->s->nemesis.loss_probability;
    snprintf(g->shape, sizeof g->shape, "%s", selector);
    for (int t = 0; t < n; t++) {
        for (int j = 0; j < g->n; j++) {
            g->drop[targets[t]][j] = j != targets[t];
        }
    }
    if (env->replay != NULL) {
        memset(g->drop, 0, sizeof g->drop);
        grudge_from_json(env, env->replay, g);
    }
    env->record(env->arg, HISTORY_INVOKE, "loss", grudge_json(env, g));
    grudge_record_done(env, "loss", g, grudge_apply(env, g, "-A"));
    *state = g;
    return 0;
}

static int loss_stop(struct nemesis_env *env, void *state)
{
    struct grudge *g = state;
    env->record(env->arg, HISTORY_INVOKE, "loss-stop", grudge_json(env, g));
    grudge_record_done(env, "loss-stop", g, grudge_apply(env, g, "-D"));
    free(g);
    return 0;
}

const struct nemesis_ops nemesis_loss = {
    .name = "loss",
    .start = loss_start,
    .stop = loss_stop,
    .describe = grudge_describe,
};
