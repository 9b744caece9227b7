/* loss: the target nodes drop a share (nemesis.loss_probability) of the
 * packets their peers send them, with the iptables statistic match; client
 * traffic is untouched. Stopping the fault deletes exactly those rules. */
#include "nemesis/grudge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern const struct nemesis_ops nemesis_loss;

struct loss_settings {
    double probability;
};

static const struct setting loss_fields[] = {
    {"loss_probability", SETTING_NUM,
     SETTING_OFF(struct loss_settings, probability), 0, 0.001, 1, NULL, NULL,
     "the share of packets dropped"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static void loss_defaults(void *p)
{
    ((struct loss_settings *)p)->probability = 0.3;
}

static const struct settings_table loss_table = {
    .size = sizeof(struct loss_settings),
    .defaults = loss_defaults,
    .fields = loss_fields,
};

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
    g->probability =
        ((const struct loss_settings *)nemesis_settings(env->s, &nemesis_loss))
            ->probability;
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
    .settings = &loss_table,
    .start = loss_start,
    .stop = loss_stop,
    .describe = grudge_describe,
};
