/* workload: the register workload's logical clients.
 *
 * Each logical client runs one operation at a time: it records the invoke,
 * sends the op to the node it is pointed at, follows not_leader redirects
 * and moves to the next node when one is unreachable, all within one op
 * timeout. How the op ends decides its history line:
 * - a reply: ok, or fail when the node says it surely did not happen;
 * - only definite refusals until the deadline: fail;
 * - the timeout while a request may have reached a node: info.
 * Each client is bound to a home node, as in Jepsen: every op starts there,
 * and a redirect or an unreachable node moves only that op elsewhere. So
 * reads keep reaching followers, where a node that serves stale state shows
 * it.
 * After an info the client takes a fresh process number (old + clients), as
 * in Jepsen: the old process's op stays open forever, and a process never
 * has two open ops. Clients wait a random stagger between ops, so that the
 * total rate is about the scenario's rate. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REDIRECTS  8
#define RETRY_DELAY_MS 100

struct wclient {
    struct workload *w;
    int index;
    int process;
    struct client *conn;
    int home;       /* the node this client is bound to */
    int node;       /* the node the current attempt goes to */
    char addr[128]; /* its address (a redirect may point elsewhere) */
    uv_timer_t pace;
    uv_timer_t timeout;
    bool busy; /* an op is open: invoked, not completed */
    /* The open op. */
    char f[16];
    char key[32];
    json_t *value;
    int attempts;
};

struct workload {
    uv_loop_t *loop;
    struct workload_env env;
    struct wclient *clients;
    int n;
    bool stopping;
    void (*done)(void *arg);
    void *done_arg;
    struct workload_stats stats;
    int closing;
};

static void next_op(struct wclient *c);
static void attempt(struct wclient *c);

static void record(struct wclient *c, enum history_type type, json_t *value,
                   const char *error)
{
    struct history_event e;
    char node[16] = "";
    int i = cluster_node_of(c->w->env.cluster, c->addr);

    memset(&e, 0, sizeof e);
    e.process = c->process;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", c->f);
    e.key = c->key;
    e.value = value != NULL ? value : json_null();
    e.error = (char *)error;
    if (type != HISTORY_INVOKE && i >= 0) {
        snprintf(node, sizeof node, "%s",
                 c->w->env.cluster->nodes[i].spec.name);
        e.node = node;
    }
    c->w->env.record(c->w->env.arg, &e);
}

static uint64_t stagger_ms(struct workload *w)
{
    double mean_s = (double)w->n / w->env.s->workload.rate;
    return (uint64_t)(rng_unit(w->env.rng) * 2 * mean_s * 1000);
}

static void maybe_done(struct workload *w)
{
    void (*done)(void *arg) = w->done;
    if (!w->stopping || done == NULL) {
        return;
    }
    for (int i = 0; i < w->n; i++) {
        if (w->clients[i].busy) {
            return;
        }
    }
    w->done = NULL;
    done(w->done_arg);
}

static void pace_cb(uv_timer_t *t)
{
    next_op(t->data);
}

static void finish(struct wclient *c, enum history_type type, json_t *value,
                   const char *error)
{
    struct workload *w = c->w;

    uv_timer_stop(&c->timeout);
    if (type != HISTORY_OK) {
        /* fail/info: a read returned nothing; a write or cas keeps the value
         * it tried, as Jepsen does. */
        value = strcmp(c->f, "read") == 0 ? json_null() : c->value;
    }
    record(c, type, value, error);
    switch (type) {
    case HISTORY_OK:
        w->stats.ok++;
        break;
    case HISTORY_FAIL:
        w->stats.fail++;
        break;
    default:
        w->stats.info++;
        c->process += w->n;
        break;
    }
    json_decref(c->value);
    c->value = NULL;
    c->busy = false;
    if (w->stopping) {
        maybe_done(w);
        return;
    }
    uv_timer_start(&c->pace, pace_cb, stagger_ms(w), 0);
}

/* Errors after which the same op may go elsewhere: the node refused it
 * before doing anything. */
static bool retryable(const struct client_result *res)
{
    static const char *const codes[] = {"not_leader",    "unreachable",
                                        "unavailable",   "no_leader",
                                        "shutting_down", NULL};
    if (res->unreachable) {
        return true;
    }
    for (int i = 0; codes[i] != NULL; i++) {
        if (res->error != NULL && strcmp(res->error, codes[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void point_at(struct wclient *c, int node)
{
    c->node = node;
    cluster_client_addr(c->w->env.cluster, node, c->addr, sizeof c->addr);
}

static void retry_cb(uv_timer_t *t)
{
    struct wclient *c = t->data;
    if (c->busy) {
        attempt(c);
    }
}

static void result_cb(void *arg, const struct client_result *res)
{
    struct wclient *c = arg;
    struct workload *w = c->w;

    if (res->type == HISTORY_OK && strcmp(c->f, "read") != 0) {
        /* Only the leader acknowledges writes: a hint for faults that
         * target the leader. */
        int i = cluster_node_of(w->env.cluster, c->addr);
        if (i >= 0) {
            w->env.cluster->leader = i;
        }
    }
    if (res->type != HISTORY_FAIL || !retryable(res)) {
        finish(c, res->type, res->value, res->error);
        return;
    }
    c->attempts++;
    if (res->leader != NULL && c->attempts <= MAX_REDIRECTS &&
        strcmp(res->leader, c->addr) != 0) {
        int i = cluster_node_of(w->env.cluster, res->leader);
        w->stats.redirects++;
        if (i >= 0) {
            c->node = i;
        }
        snprintf(c->addr, sizeof c->addr, "%s", res->leader);
        attempt(c);
        return;
    }
    /* No leader known here, or the node is down: try the next node after a
     * pause. The op timeout bounds the retries. */
    point_at(c, (c->node + 1) % w->env.cluster->n);
    uv_timer_start(&c->pace, retry_cb, RETRY_DELAY_MS, 0);
}

static void attempt(struct wclient *c)
{
    struct client_op op = {.f = c->f, .key = c->key, .value = c->value};
    int rv = c->w->env.client->invoke(c->conn, c->addr, &op, result_cb, c);
    if (rv != 0) {
        struct client_result res = {
            .type = HISTORY_FAIL,
            .value = json_null(),
            .error = "unreachable",
            .message = uv_strerror(rv),
            .unreachable = true,
        };
        result_cb(c, &res);
    }
}

static void timeout_cb(uv_timer_t *t)
{
    struct wclient *c = t->data;
    const struct client_ops *ops = c->w->env.client;
    bool doubt = ops->in_doubt(c->conn);

    uv_timer_stop(&c->pace);
    ops->abandon(c->conn);
    finish(c, doubt ? HISTORY_INFO : HISTORY_FAIL, NULL,
           doubt ? "timeout" : "timeout: no node accepted the op");
}

static void choose_op(struct wclient *c)
{
    struct workload *w = c->w;
    const struct scenario *s = w->env.s;
    double total = s->workload.read + s->workload.write + s->workload.cas;
    double x = rng_unit(w->env.rng) * total;
    uint64_t values = (uint64_t)s->workload.values;

    snprintf(c->key, sizeof c->key, "k%d",
             (int)rng_below(w->env.rng, (uint64_t)s->workload.keys));
    if (x < s->workload.read) {
        snprintf(c->f, sizeof c->f, "read");
        c->value = json_null();
    } else if (x < s->workload.read + s->workload.write) {
        snprintf(c->f, sizeof c->f, "write");
        c->value = json_integer((json_int_t)rng_below(w->env.rng, values));
    } else {
        json_int_t from = (json_int_t)rng_below(w->env.rng, values);
        json_int_t to = (json_int_t)rng_below(w->env.rng, values);
        snprintf(c->f, sizeof c->f, "cas");
        c->value = json_pack("[I, I]", from, to);
    }
}

static void next_op(struct wclient *c)
{
    struct workload *w = c->w;
    if (w->stopping || c->busy) {
        return;
    }
    choose_op(c);
    c->busy = true;
    c->attempts = 0;
    point_at(c, c->home);
    w->stats.invoked++;
    record(c, HISTORY_INVOKE, c->value, NULL);
    uv_timer_start(&c->timeout, timeout_cb,
                   (uint64_t)w->env.s->workload.op_timeout_ms, 0);
    attempt(c);
}

struct workload *workload_new(uv_loop_t *loop, const struct workload_env *env)
{
    struct workload *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    w->loop = loop;
    w->env = *env;
    w->n = env->s->workload.clients;
    w->clients = calloc((size_t)w->n, sizeof *w->clients);
    if (w->clients == NULL) {
        free(w);
        return NULL;
    }
    for (int i = 0; i < w->n; i++) {
        struct wclient *c = &w->clients[i];
        c->w = w;
        c->index = i;
        c->process = i;
        c->conn = env->client->new (loop);
        if (c->conn == NULL) {
            w->n = i; /* free what was made */
            workload_free(w);
            return NULL;
        }
        c->home = i % env->cluster->n;
        point_at(c, c->home);
        uv_timer_init(loop, &c->pace);
        uv_timer_init(loop, &c->timeout);
        c->pace.data = c;
        c->timeout.data = c;
    }
    return w;
}

int workload_start(struct workload *w)
{
    for (int i = 0; i < w->n; i++) {
        uv_timer_start(&w->clients[i].pace, pace_cb, stagger_ms(w) / 2, 0);
    }
    return 0;
}

void workload_stop(struct workload *w, void (*done)(void *arg), void *arg)
{
    w->stopping = true;
    w->done = done;
    w->done_arg = arg;
    for (int i = 0; i < w->n; i++) {
        if (!w->clients[i].busy) {
            uv_timer_stop(&w->clients[i].pace);
        }
    }
    maybe_done(w);
}

void workload_abort(struct workload *w)
{
    w->stopping = true;
    w->done = NULL;
    for (int i = 0; i < w->n; i++) {
        struct wclient *c = &w->clients[i];
        uv_timer_stop(&c->pace);
        uv_timer_stop(&c->timeout);
        if (c->busy) {
            w->env.client->abandon(c->conn);
            json_decref(c->value);
            c->value = NULL;
            c->busy = false;
        }
    }
}

const struct workload_stats *workload_stats(const struct workload *w)
{
    return &w->stats;
}

static void close_cb(uv_handle_t *h)
{
    struct workload *w = ((struct wclient *)h->data)->w;
    if (--w->closing == 0) {
        free(w->clients);
        free(w);
    }
}

void workload_free(struct workload *w)
{
    if (w == NULL) {
        return;
    }
    workload_abort(w);
    if (w->n == 0) {
        free(w->clients);
        free(w);
        return;
    }
    w->closing = 2 * w->n;
    for (int i = 0; i < w->n; i++) {
        struct wclient *c = &w->clients[i];
        w->env.client->free(c->conn);
        c->conn = NULL;
        uv_close((uv_handle_t *)&c->pace, close_cb);
        uv_close((uv_handle_t *)&c->timeout, close_cb);
    }
}
