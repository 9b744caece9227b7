/* grudge: iptables DROP rules inside node namespaces, from a grudge. */
#include "nemesis/grudge.h"

#include <stdio.h>

#include "runner/netns.h"

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

json_t *grudge_json(struct nemesis_env *env, struct grudge *g)
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
            json_object_set_new(drops, env->cluster->nodes[i].spec.name, from);
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

void grudge_from_json(struct nemesis_env *env, const json_t *v,
                      struct grudge *g)
{
    const char *shape = json_string_value(json_object_get(v, "shape"));
    json_t *p = json_object_get(v, "probability");
    json_t *from;
    const char *name;
    int to[DB_MAX_NODES], peers[DB_MAX_NODES];

    g->n = env->cluster->n;
    snprintf(g->shape, sizeof g->shape, "%s", shape ? shape : "replay");
    if (json_is_number(p)) {
        g->probability = json_number_value(p);
    }
    json_object_foreach(json_object_get(v, "drops"), name, from)
    {
        json_t *one = json_pack("[s]", name);
        int k = nemesis_replay_nodes(env, one, to);
        int m = nemesis_replay_nodes(env, from, peers);
        json_decref(one);
        for (int j = 0; k == 1 && j < m; j++) {
            g->drop[to[0]][peers[j]] = true;
        }
    }
}

/* Add (-A) or delete (-D) the grudge's rules; returns how many failed. */
int grudge_apply(struct nemesis_env *env, struct grudge *g, const char *action)
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
void grudge_record_done(struct nemesis_env *env, const char *f,
                        struct grudge *g, int failed)
{
    json_t *v = grudge_json(env, g);
    if (failed > 0) {
        json_object_set_new(v, "failed_rules", json_integer(failed));
    }
    env->record(env->arg, HISTORY_INFO, f, v);
}

void grudge_describe(struct nemesis_env *env, void *state, char *buf,
                     size_t size)
{
    struct grudge *g = state;
    if (g->probability < 1) {
        snprintf(buf, size, "loss %.0f%% (%s)", g->probability * 100, g->shape);
    } else {
        snprintf(buf, size, "partition %s", g->shape);
    }
}
