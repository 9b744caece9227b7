/* partition: cut the network between nodes with iptables DROP rules inside
 * the node namespaces; loss: drop a share of their packets at random.
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
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runner/netns.h"

struct grudge {
    bool drop[DB_MAX_NODES][DB_MAX_NODES]; /* [i][j]: i drops from j */
    int n;
    char shape[24];
    double probability; /* loss: < 1 */
};

static bool partition_active;

static int rule(struct nemesis_env *env, int i, int j, const char *action,
                double probability)
{
    char src[32], prob[32];
    char *argv[16];
    int k = 0;

    netns_node_ip(j, src, sizeof src);
    argv[k++] = "iptables";
    argv[k++] = (char *)action; /* -A or -D */
    argv[k++] = "INPUT";
    argv[k++] = "-s";
    argv[k++] = src;
    if (probability < 1) {
        snprintf(prob, sizeof prob, "%.4f", probability);
        argv[k++] = "-m";
        argv[k++] = "statistic";
        argv[k++] = "--mode";
        argv[k++] = "random";
        argv[k++] = "--probability";
        argv[k++] = prob;
    }
    argv[k++] = "-j";
    argv[k++] = "DROP";
    argv[k] = NULL;
    return nemesis_netns_run(env, i, argv);
}

static json_t *describe_json(struct nemesis_env *env, struct grudge *g)
{
    json_t *drops = json_object();
    for (int i = 0; i < g->n; i++) {
        json_t *from = json_array();
        for (int j = 0; j < g->n; j++) {
            if (g->drop[i][j]) {
                json_array_append_new(
                    from, json_string(env->cluster->nodes[j].spec.name));
            }
        }
        if (json_array_size(from) > 0) {
            json_object_set_new(drops, env->cluster->nodes[i].spec.name,
                                from);
        } else {
            json_decref(from);
        }
    }
    if (g->probability < 1) {
        return json_pack("{s:s, s:f, s:o}", "shape", g->shape, "probability",
                         g->probability, "drops", drops);
    }
    return json_pack("{s:s, s:o}", "shape", g->shape, "drops", drops);
}

/* Add (-A) or delete (-D) the grudge's rules; returns how many failed. */
static int apply(struct nemesis_env *env, struct grudge *g,
                 const char *action)
{
    int failed = 0;
    for (int i = 0; i < g->n; i++) {
        for (int j = 0; j < g->n; j++) {
            if (g->drop[i][j] && rule(env, i, j, action, g->probability)) {
                failed++;
            }
        }
    }
    return failed;
}

/* The info event: what was done, and how many rules failed if any (their
 * iptables output is in runner.log), so the history never claims a cut
 * that did not happen. */
static void record_done(struct nemesis_env *env, const char *f,
                        struct grudge *g, int failed)
{
    json_t *v = describe_json(env, g);
    if (failed > 0) {
        json_object_set_new(v, "failed_rules", json_integer(failed));
    }
    env->record(env->arg, HISTORY_INFO, f, v);
}

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
        if (strcmp(shape, "isolate-leader") == 0 &&
            env->cluster->leader >= 0) {
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

static int partition_start(struct nemesis_env *env, struct rng *draw,
                           void **state)
{
    const struct scenario *s = env->s;
    const char *shape = "halves";
    struct grudge *g;

    if (s->nemesis.n_partitions > 0) {
        shape = s->nemesis.partitions[rng_below(
            draw, (uint64_t)s->nemesis.n_partitions)];
    }
    if (partition_active || env->cluster->n < 2) {
        return -EAGAIN;
    }
    g = calloc(1, sizeof *g);
    if (g == NULL) {
        return -ENOMEM;
    }
    snprintf(g->shape, sizeof g->shape, "%s", shape);
    g->probability = 1;
    shape_grudge(env, draw, shape, g);
    env->record(env->arg, HISTORY_INVOKE, "partition", describe_json(env, g));
    record_done(env, "partition", g, apply(env, g, "-A"));
    partition_active = true;
    *state = g;
    return 0;
}

static int partition_stop(struct nemesis_env *env, void *state)
{
    struct grudge *g = state;
    env->record(env->arg, HISTORY_INVOKE, "heal", describe_json(env, g));
    record_done(env, "heal", g, apply(env, g, "-D"));
    partition_active = false;
    free(g);
    return 0;
}

static void grudge_describe(struct nemesis_env *env, void *state, char *buf,
                            size_t size)
{
    struct grudge *g = state;
    if (g->probability < 1) {
        snprintf(buf, size, "loss %.0f%% (%s)", g->probability * 100,
                 g->shape);
    } else {
        snprintf(buf, size, "partition %s", g->shape);
    }
}

/* loss: the target nodes drop that share of what their peers send. */
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
    env->record(env->arg, HISTORY_INVOKE, "loss", describe_json(env, g));
    record_done(env, "loss", g, apply(env, g, "-A"));
    *state = g;
    return 0;
}

static int loss_stop(struct nemesis_env *env, void *state)
{
    struct grudge *g = state;
    env->record(env->arg, HISTORY_INVOKE, "loss-stop", describe_json(env, g));
    record_done(env, "loss-stop", g, apply(env, g, "-D"));
    free(g);
    return 0;
}

const struct nemesis_ops nemesis_partition = {
    .name = "partition",
    .start = partition_start,
    .stop = partition_stop,
    .describe = grudge_describe,
};

const struct nemesis_ops nemesis_loss = {
    .name = "loss",
    .start = loss_start,
    .stop = loss_stop,
    .describe = grudge_describe,
};
