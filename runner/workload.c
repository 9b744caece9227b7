/* workload: the logical clients every workload kind runs on.
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
 * it. Ops go to members only (cluster_next_member): a home that is down or
 * not in the configuration (a slot not added yet, a node removed) lends
 * its ops to the next running member, and so does a move.
 * After an info the client takes a fresh process number (old + clients), as
 * in Jepsen: the old process's op stays open forever, and a process never
 * has two open ops. A request with a rid is then retried, same value, as a
 * new invoke from the new process: that is how a system's deduplication is
 * put to the test. Clients wait a random stagger between ops, so that the
 * total rate is about the scenario's rate.
 *
 * What to issue is the kind's choice (workload.h). The run ends in phases:
 * stop (no new ops; open ones complete), then the kind's final phase (a
 * final read, a drain), ops back to back and bounded by workload.final_s. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REDIRECTS  8
#define RETRY_DELAY_MS 100
#define FINAL_WAIT_MS  100

enum wphase { W_RUN, W_STOPPING, W_FINAL, W_DONE };

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
    bool busy;             /* an op is open: invoked, not completed */
    bool again;            /* the next op repeats op (same rid) after an info */
    bool final_done;       /* nothing more to do in the final phase */
    struct workload_op op; /* the open op, or the one to repeat */
    int tries;             /* attempts of op's request so far */
    int attempts;          /* redirects and node moves within one attempt */
};

struct workload {
    uv_loop_t *loop;
    struct workload_env env;
    const struct workload_kind *kind;
    void *state;
    struct wclient *clients;
    int n;
    enum wphase phase;
    uv_timer_t final_timer;
    bool final_expired;
    void (*done)(void *arg);
    void *done_arg;
    struct workload_stats stats;
    int closing;
};

/* The registry: one line per kind (its struct workload_kind, in a file of
 * its own). */
#define KINDS(X)                                                               \
    X(workload_register) X(workload_tasks) X(workload_queue) X(workload_lease)

#define DECLARE(sym) extern const struct workload_kind sym;
#define ADDRESS(sym) &sym,
KINDS(DECLARE)
static const struct workload_kind *const kinds[] = {KINDS(ADDRESS)};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

const struct workload_kind *workload_kind_find(const char *name)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

const char *workload_kind_names(void)
{
    static char names[128];
    if (names[0] == '\0') {
        for (size_t i = 0; i < N_KINDS; i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                     kinds[i]->name);
        }
    }
    return names;
}

void workload_client_name(int c, char *buf, size_t size)
{
    snprintf(buf, size, "c%d", c);
}

void workload_op_set(struct workload_op *op, const char *f, const char *key,
                     json_t *value, bool read)
{
    snprintf(op->f, sizeof op->f, "%s", f);
    snprintf(op->key, sizeof op->key, "%s", key != NULL ? key : "");
    op->value = value != NULL ? value : json_null();
    op->read = read;
}

uint64_t workload_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void next_op(struct wclient *c);
static void attempt(struct wclient *c);
static void advance(struct workload *w);

static void record(struct wclient *c, enum history_type type, json_t *value,
                   const char *error)
{
    struct history_event e;
    char node[16] = "";
    int i = cluster_node_of(c->w->env.cluster, c->addr);

    memset(&e, 0, sizeof e);
    e.process = c->process;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", c->op.f);
    e.key = c->op.key[0] != '\0' ? c->op.key : NULL;
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

static void pace_cb(uv_timer_t *t)
{
    next_op(t->data);
}

static bool has_rid(const struct workload_op *op)
{
    return !op->read && json_is_object(op->value) &&
           json_object_get(op->value, "rid") != NULL;
}

static void drop_op(struct wclient *c)
{
    json_decref(c->op.value);
    c->op.value = NULL;
    c->again = false;
}

static void finish(struct wclient *c, enum history_type type, json_t *value,
                   const char *error)
{
    struct workload *w = c->w;
    json_t *recorded = value;

    uv_timer_stop(&c->timeout);
    if (type != HISTORY_OK) {
        /* fail/info: a read returned nothing; a write keeps the value it
         * tried, as Jepsen does. */
        recorded = c->op.read ? json_null() : c->op.value;
    }
    record(c, type, recorded, error);
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
    c->busy = false;
    w->kind->completed(w->state, c->index, &c->op, type,
                       type == HISTORY_OK ? value : json_null(), error);
    if (type == HISTORY_INFO && has_rid(&c->op) &&
        c->tries < 1 + w->env.s->workload.retries) {
        c->again = true; /* keep op */
    } else {
        drop_op(c);
    }
    switch (w->phase) {
    case W_RUN:
        uv_timer_start(&c->pace, pace_cb, stagger_ms(w), 0);
        break;
    case W_FINAL:
        if (w->final_expired) {
            advance(w);
        } else {
            uv_timer_start(&c->pace, pace_cb, 0, 0);
        }
        break;
    default:
        advance(w);
        break;
    }
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

    if (res->type == HISTORY_OK && !c->op.read) {
        /* Only the leader acknowledges writes: a hint for faults that
         * target the leader. */
        int i = cluster_node_of(w->env.cluster, c->addr);
        if (i >= 0) {
            w->env.cluster->leader = i;
        }
    }
    if (res->type != HISTORY_FAIL || !res->elsewhere) {
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
    /* No leader known here, or the node is down: try the next member after
     * a pause. The op timeout bounds the retries. */
    point_at(c, cluster_next_member(w->env.cluster,
                                    (c->node + 1) % w->env.cluster->n));
    uv_timer_start(&c->pace, retry_cb, RETRY_DELAY_MS, 0);
}

static void attempt(struct wclient *c)
{
    struct client_op op = {
        .f = c->op.f,
        .key = c->op.key[0] != '\0' ? c->op.key : NULL,
        .value = c->op.value,
    };
    int rv = c->w->env.client->invoke(c->conn, c->addr, &op, result_cb, c);
    if (rv != 0) {
        struct client_result res = {
            .type = HISTORY_FAIL,
            .value = json_null(),
            .error = "unreachable",
            .message = uv_strerror(rv),
            .unreachable = true,
            .elsewhere = true,
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

/* The op @c issues next: a repeat, or the kind's choice. */
static enum workload_next pick(struct wclient *c)
{
    struct workload *w = c->w;
    enum workload_next next;

    if (c->again) {
        c->again = false;
        w->stats.retries++;
        c->tries++;
        return WORKLOAD_OP;
    }
    memset(&c->op, 0, sizeof c->op);
    next = w->phase == W_FINAL ? w->kind->final(w->state, c->index, &c->op)
                               : w->kind->choose(w->state, c->index, &c->op);
    if (next == WORKLOAD_OP) {
        c->tries = 1;
        /* Requests without a rid: not deduplicated, and not retried. */
        if (has_rid(&c->op) && w->env.s->workload.rids < 1 &&
            rng_unit(w->env.rng) >= w->env.s->workload.rids) {
            json_object_del(c->op.value, "rid");
        }
    } else {
        json_decref(c->op.value);
        c->op.value = NULL;
    }
    return next;
}

static void next_op(struct wclient *c)
{
    struct workload *w = c->w;

    if (c->busy || (w->phase != W_RUN && w->phase != W_FINAL)) {
        return;
    }
    if (w->phase == W_FINAL && (c->final_done || w->final_expired)) {
        return;
    }
    switch (pick(c)) {
    case WORKLOAD_OP:
        break;
    case WORKLOAD_WAIT:
        uv_timer_start(&c->pace, pace_cb,
                       w->phase == W_FINAL ? FINAL_WAIT_MS : stagger_ms(w), 0);
        return;
    case WORKLOAD_DONE:
        c->final_done = true;
        advance(w);
        return;
    }
    c->busy = true;
    c->attempts = 0;
    /* A home that is not a member now (a slot not added yet, a node
     * removed) lends its clients to the next running member. */
    point_at(c, cluster_next_member(w->env.cluster, c->home));
    w->stats.invoked++;
    record(c, HISTORY_INVOKE, c->op.value, NULL);
    uv_timer_start(&c->timeout, timeout_cb,
                   (uint64_t)w->env.s->workload.op_timeout_ms, 0);
    attempt(c);
}

static bool all_idle(const struct workload *w)
{
    for (int i = 0; i < w->n; i++) {
        if (w->clients[i].busy) {
            return false;
        }
    }
    return true;
}

static void final_timer_cb(uv_timer_t *t)
{
    struct workload *w = t->data;
    w->final_expired = true;
    for (int i = 0; i < w->n; i++) {
        if (!w->clients[i].busy) {
            uv_timer_stop(&w->clients[i].pace);
        }
    }
    advance(w);
}

/* Move through the ending phases as far as the clients allow. */
static void advance(struct workload *w)
{
    void (*done)(void *arg);

    if (w->phase == W_STOPPING && all_idle(w)) {
        if (w->kind->final == NULL) {
            w->phase = W_DONE;
        } else {
            w->phase = W_FINAL;
            uv_timer_start(&w->final_timer, final_timer_cb,
                           (uint64_t)(w->env.s->workload.final_s * 1000), 0);
            /* A repeat pending from the run is dropped: the final phase
             * chooses afresh. */
            for (int i = 0; i < w->n; i++) {
                drop_op(&w->clients[i]);
                uv_timer_start(&w->clients[i].pace, pace_cb, 0, 0);
            }
            return;
        }
    }
    if (w->phase == W_FINAL && all_idle(w)) {
        bool finished = true;
        for (int i = 0; i < w->n; i++) {
            finished = finished && w->clients[i].final_done;
        }
        if (finished || w->final_expired) {
            uv_timer_stop(&w->final_timer);
            w->phase = W_DONE;
        }
    }
    done = w->done;
    if (w->phase == W_DONE && done != NULL) {
        w->done = NULL;
        done(w->done_arg);
    }
}

struct workload *workload_new(uv_loop_t *loop, const struct workload_env *env)
{
    const struct workload_kind *kind =
        workload_kind_find(env->s->workload.name);
    struct workload *w;

    if (kind == NULL) {
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    w->loop = loop;
    w->env = *env;
    w->kind = kind;
    w->n = env->s->workload.clients;
    w->clients = calloc((size_t)w->n, sizeof *w->clients);
    w->state = kind->new (&w->env, w->n);
    if (w->clients == NULL || w->state == NULL) {
        if (w->state != NULL) {
            kind->free(w->state);
        }
        free(w->clients);
        free(w);
        return NULL;
    }
    uv_timer_init(loop, &w->final_timer);
    w->final_timer.data = w;
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
        if (env->client->configure != NULL) {
            env->client->configure(c->conn, env->cluster->db_settings);
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
    w->phase = W_STOPPING;
    w->done = done;
    w->done_arg = arg;
    for (int i = 0; i < w->n; i++) {
        if (!w->clients[i].busy) {
            uv_timer_stop(&w->clients[i].pace);
        }
    }
    advance(w);
}

void workload_abort(struct workload *w)
{
    w->phase = W_DONE;
    w->done = NULL;
    uv_timer_stop(&w->final_timer);
    for (int i = 0; i < w->n; i++) {
        struct wclient *c = &w->clients[i];
        uv_timer_stop(&c->pace);
        uv_timer_stop(&c->timeout);
        if (c->busy) {
            w->env.client->abandon(c->conn);
            c->busy = false;
        }
        drop_op(c);
    }
}

const struct workload_stats *workload_stats(const struct workload *w)
{
    return &w->stats;
}

static void close_cb(uv_handle_t *h)
{
    struct workload *w = h->data;
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
    w->kind->free(w->state);
    w->state = NULL;
    w->closing = 2 * w->n + 1;
    for (int i = 0; i < w->n; i++) {
        struct wclient *c = &w->clients[i];
        w->env.client->free(c->conn);
        c->conn = NULL;
        c->pace.data = w;
        c->timeout.data = w;
        uv_close((uv_handle_t *)&c->pace, close_cb);
        uv_close((uv_handle_t *)&c->timeout, close_cb);
    }
    w->final_timer.data = w;
    uv_close((uv_handle_t *)&w->final_timer, close_cb);
}
