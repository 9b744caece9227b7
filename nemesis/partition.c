/* partition: cut the network between nodes with iptables DROP rules inside
 * the node namespaces.
 *
 * A partition is a "grudge", as in Jepsen: for each node, the nodes whose
 * packets it drops (INPUT -s PEER -j DROP, in its own namespace). Shapes:
 *   isolate-one     one random node cut off from the rest
 *   isolate-leader  the node last seen leading, cut off
 *   halves          a random minority and majority, cut from each other
 *   majorities-ring nodes in a random ring; each hears only from the next
 *                   n/2 nodes, so each sees a majority (itself included)
 *                   and no two see the same one (one-way cuts)
 *   bridge          two halves that both hear a bridge node in between
 * Client traffic comes from the bridge address and is never cut. Stopping
 * the fault deletes exactly the rules it added. One partition at a time. */
#include "nemesis/grudge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool partition_active;

static void cut_between(struct grudge *g, const int *a, int na, const int *b,
                        int nb)
{
    for (int x = 0; x < na; x++) {
        for (int y = 0; y < nb; y++) {
            g->drop[a[x]][b[y]] = true;
            g->drop[b[y]][a[x]] = true;
        }
    }
}

static void shape_grudge(struct nemesis_env *env, struct rng *draw,
                         const char *shape, struct grudge *g)
{
    int order[DB_MAX_NODES];
    int n = env->cluster->n;
    int k;

    g->n = n;
    /* A random order of every node; its draws come first whatever the
     * shape, so the plan's draw fixes the targets. */
    k = nemesis_pick(env, draw, "all", false, order);
    (void)k;
    if (strcmp(shape, "isolate-one") == 0 ||
        strcmp(shape, "isolate-leader") == 0) {
        int victim = order[0];
        if (strcmp(shape, "isolate-leader") == 0 && env->cluster->leader >= 0) {
            victim = env->cluster->leader;
        }
        for (int j = 0; j < n; j++) {
            if (j != victim) {
                g->drop[victim][j] = g->drop[j][victim] = true;
            }
        }
    } else if (strcmp(shape, "halves") == 0) {
        int minority = n / 2;
        cut_between(g, order, minority, order + minority, n - minority);
    } else if (strcmp(shape, "majorities-ring") == 0) {
        int hears = n / 2; /* others each node hears from */
        for (int p = 0; p < n; p++) {
            for (int q = 0; q < n; q++) {
                int dist = (q - p + n) % n;
                if (dist != 0 && dist > hears) {
                    g->drop[order[p]][order[q]] = true;
                }
            }
        }
    } else { /* bridge */
        int half = (n - 1) / 2;
        cut_between(g, order + 1, half, order + 1 + half, n - 1 - half);
    }
}

extern const struct nemesis_ops nemesis_partition;

struct partition_settings {
    char shapes[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_shapes; /* none listed: halves */
};

static const char *const shapes[] = {"isolate-one", "isolate-leader", "halves",
                                     "majorities-ring", "bridge", NULL};

static bool shape_ok(const char *v)
{
    return settings_in_list(shapes, v);
}

static const char *shapes_known(void)
{
    static char buf[128];
    return settings_join(shapes, buf, sizeof buf);
}

static const struct setting partition_fields[] = {
    {"partitions", SETTING_LIST,
     SETTING_LIST_AT(struct partition_settings, shapes, n_shapes), 0, 0,
     shape_ok, shapes_known, "partition shapes to draw from"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct settings_table partition_table = {
    .size = sizeof(struct partition_settings),
    .fields = partition_fields,
};

static int partition_start(struct nemesis_env *env, struct rng *draw,
                           void **state)
{
    const struct partition_settings *set =
        nemesis_settings(env->s, &nemesis_partition);
    const char *shape = "halves";
    struct grudge *g;

    if (set->n_shapes > 0) {
        shape = set->shapes[rng_below(draw, (uint64_t)set->n_shapes)];
    }
    if (partition_active || env->cluster->n < 2) {
        return -EAGAIN;
    }
    g = calloc(1, sizeof *g);
    if (g == NULL) {
        return -ENOMEM;
    }
    g->probability = 1;
    if (env->replay != NULL) {
        grudge_from_json(env, env->replay, g);
    } else {
        snprintf(g->shape, sizeof g->shape, "%s", shape);
        shape_grudge(env, draw, shape, g);
    }
    env->record(env->arg, HISTORY_INVOKE, "partition", grudge_json(env, g));
    grudge_record_done(env, "partition", g, grudge_apply(env, g, "-A"));
    partition_active = true;
    *state = g;
    return 0;
}

static int partition_stop(struct nemesis_env *env, void *state)
{
    struct grudge *g = state;
    env->record(env->arg, HISTORY_INVOKE, "heal", grudge_json(env, g));
    grudge_record_done(env, "heal", g, grudge_apply(env, g, "-D"));
    partition_active = false;
    free(g);
    return 0;
}

const struct nemesis_ops nemesis_partition = {
    .name = "partition",
    .settings = &partition_table,
    .start = partition_start,
    .stop = partition_stop,
    .describe = grudge_describe,
};
