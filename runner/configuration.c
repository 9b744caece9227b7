/* configuration: the configuration.json of a run, from every node's own
 * view, once the workload drained and before the nodes stop. */
#include "runner/configuration.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fetch;

struct ask {
    struct fetch *fetch;
    struct client *client;
    int node;
    bool pending;
};

struct fetch {
    struct cluster *c;
    const struct client_ops *ops;
    char dir[PATH_MAX];
    json_t *answers; /* name -> reply or {"error"} */
    struct ask asks[DB_MAX_NODES];
    int n, pending;
    uv_timer_t timer;
    void (*done)(void *arg);
    void *arg;
    bool finished;
};

static const char *role_key(const char *role)
{
    return strcmp(role, "voter") == 0     ? "voters"
           : strcmp(role, "standby") == 0 ? "standbys"
                                          : "spares";
}

/* {"index", "committed", "voters": [names], "standbys", "spares"} of the
 * leader's answer, else of the newest one (highest index, committed
 * first), or null. The leader's comes first because a node's own
 * configuration can be one that was never committed and never will be:
 * libraft 0.15 restores the last configuration entry of its log as
 * committed at start, and a node the leader no longer replicates to (a
 * removed one) keeps it (docs/findings/membership-runs.md). */
static json_t *newest(struct fetch *f)
{
    json_t *best = NULL, *out, *m;
    const char *name;
    json_t *a;
    size_t k;
    bool leaders = false;

    if (f->c->leader >= 0) {
        a = json_object_get(f->answers, f->c->nodes[f->c->leader].spec.name);
        if (json_array_size(json_object_get(a, "members")) > 0) {
            best = a;
            leaders = true;
        }
    }
    json_object_foreach(f->answers, name, a)
    {
        json_int_t idx = json_integer_value(json_object_get(a, "index"));
        if (json_array_size(json_object_get(a, "members")) == 0 || leaders) {
            continue; /* none, or the leader's is taken */
        }
        if (best == NULL ||
            idx > json_integer_value(json_object_get(best, "index")) ||
            (idx == json_integer_value(json_object_get(best, "index")) &&
             json_is_true(json_object_get(a, "committed")) &&
             !json_is_true(json_object_get(best, "committed")))) {
            best = a;
        }
    }
    if (best == NULL) {
        return json_null();
    }
    out = json_pack("{s:O, s:O, s:[], s:[], s:[]}", "index",
                    json_object_get(best, "index"), "committed",
                    json_object_get(best, "committed"), "voters", "standbys",
                    "spares");
    json_array_foreach(json_object_get(best, "members"), k, m)
    {
        json_int_t id = json_integer_value(json_object_get(m, "id"));
        const char *role = json_string_value(json_object_get(m, "role"));
        char nm[16];
        snprintf(nm, sizeof nm, "n%lld", (long long)id);
        for (int i = 0; i < f->c->n; i++) {
            if (f->c->nodes[i].spec.id == id) {
                snprintf(nm, sizeof nm, "%s", f->c->nodes[i].spec.name);
            }
        }
        json_array_append_new(
            json_object_get(out, role_key(role != NULL ? role : "")),
            json_string(nm));
    }
    return out;
}

static void write_file(struct fetch *f)
{
    char path[PATH_MAX + 32];
    json_t *runner = json_object();
    json_t *top;

    for (int i = 0; i < f->c->n; i++) {
        const struct cluster_node *n = &f->c->nodes[i];
        json_object_set_new(runner, n->spec.name,
                            n->member ? json_string(n->role) : json_null());
    }
    top = json_pack("{s:o, s:O, s:o}", "configuration", newest(f), "nodes",
                    f->answers, "runner", runner);
    snprintf(path, sizeof path, "%s/configuration.json", f->dir);
    json_dump_file(top, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(top);
}

static void timer_close_cb(uv_handle_t *h)
{
    struct fetch *f = h->data;
    for (int k = 0; k < f->n; k++) {
        f->ops->free(f->asks[k].client);
    }
    json_decref(f->answers);
    free(f);
}

static void finish(struct fetch *f)
{
    if (f->finished) {
        return;
    }
    f->finished = true;
    uv_timer_stop(&f->timer);
    for (int k = 0; k < f->n; k++) {
        if (f->asks[k].pending) {
            f->ops->abandon(f->asks[k].client);
            json_object_set_new(f->answers,
                                f->c->nodes[f->asks[k].node].spec.name,
                                json_pack("{s:s}", "error", "no reply"));
        }
    }
    write_file(f);
    f->done(f->arg);
    /* The clients are freed from the timer's close callback: finish() may
     * run inside one of their callbacks. */
    uv_close((uv_handle_t *)&f->timer, timer_close_cb);
}

static void answer_cb(void *arg, const struct client_result *res)
{
    struct ask *a = arg;
    struct fetch *f = a->fetch;
    const char *name = f->c->nodes[a->node].spec.name;

    a->pending = false;
    f->pending--;
    json_object_set_new(
        f->answers, name,
        res->type == HISTORY_OK
            ? json_deep_copy(res->value)
            : json_pack("{s:s}", "error",
                        res->error != NULL ? res->error : "error"));
    if (f->pending == 0) {
        finish(f);
    }
}

static void timeout_cb(uv_timer_t *t)
{
    finish(t->data);
}

int configuration_fetch(uv_loop_t *loop, struct cluster *c,
                        const struct client_ops *ops, const char *dir,
                        uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    struct client_op op = {.f = "members", .key = NULL, .value = json_null()};
    struct fetch *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -ENOMEM;
    }
    f->c = c;
    f->ops = ops;
    f->done = done;
    f->arg = arg;
    f->answers = json_object();
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    for (int i = 0; i < c->n; i++) {
        struct ask *a = &f->asks[f->n];
        char addr[128];
        if (!cluster_running(c, i)) {
            json_object_set_new(f->answers, c->nodes[i].spec.name,
                                json_pack("{s:s}", "error", "not running"));
            continue;
        }
        a->fetch = f;
        a->node = i;
        a->client = ops->new (loop);
        if (a->client == NULL) {
            continue;
        }
        f->n++;
        cluster_client_addr(c, i, addr, sizeof addr);
        a->pending = true;
        f->pending++;
        if (ops->invoke(a->client, addr, &op, answer_cb, a) != 0) {
            a->pending = false;
            f->pending--;
            json_object_set_new(f->answers, c->nodes[i].spec.name,
                                json_pack("{s:s}", "error", "invoke failed"));
        }
    }
    if (f->pending == 0) {
        /* Nothing to wait for: finish from the loop, as promised. */
        uv_timer_start(&f->timer, timeout_cb, 0, 0);
    } else {
        uv_timer_start(&f->timer, timeout_cb, timeout_ms, 0);
    }
    return 0;
}
