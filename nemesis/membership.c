/* membership: the queue of changes a membership fault makes, through the
 * system's client, and the runner's view of the configuration.
 *
 * Happy path of a change: the request goes to the node last seen leading
 * (else the first running member); a refusal that says "elsewhere" follows
 * the leader hint or moves to the next running member after RETRY_MS; the
 * reply ends it: ok is committed (the view follows), fail is failed, info
 * is unknown (the view is read back from the leader before the next step).
 *
 * Failure modes: no reply within STEP_DEADLINE_MS: unknown when the request
 * may have reached a node, else failed; the cluster stopping (the run's
 * end): the change in flight is abandoned and recorded as unknown, the rest
 * of the queue dropped. Wiping waits for the process to be reaped before it
 * touches the data dir. */
#include "nemesis/membership.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes/client.h"

#define STEP_DEADLINE_MS    8000
#define REFRESH_DEADLINE_MS 5000
#define RETRY_MS            100
#define EXIT_POLL_MS        10
#define QUEUE_MAX           48
/* A change that failed (certainly not made: another change in progress, a
 * catch-up given up) is tried again, as an operator would, this many times
 * in all, FAILED_RETRY_MS apart. */
#define CHANGE_TRIES    3
#define FAILED_RETRY_MS 300

/* Steps only this file queues. */
enum {
    ACT_REFRESH = 100, /* read the configuration back (members) */
    ACT_STARTED,       /* record the start's info */
    ACT_ENDED,         /* record the end's info */
};

struct step {
    int act;
    int node;
    char role[8];
    int count;
    int tries; /* attempts of a change made so far */
};

struct member_fault {
    struct nemesis_env env; /* copied: the fault outlives a heal */
    const struct client_ops *ops;
    struct client *client;
    uv_timer_t timer;    /* retries, waiting for an exit */
    uv_timer_t deadline; /* of the change in flight */
    int closing;
    struct rng rng;
    char kind[32];
    json_t *value; /* {"nodes": [...]}: the start's and the end's */
    int nodes[DB_MAX_NODES];
    int n;
    struct step q[QUEUE_MAX];
    int head, tail;
    /* The step under way. */
    struct step cur;
    bool busy;
    int at;           /* the node the request goes to */
    json_t *request;  /* the client op's value */
    json_t *recorded; /* the history's value of the change */
    /* Outcomes in the current segment (start or end). */
    int committed, failed, unknown;
    bool ending;  /* stop() was called */
    bool aborted; /* the cluster stopped under it */
};

/* Nodes held by a membership fault (by index), and the token that lets
 * one fault at a time run its steps (the others wait in line, FIFO):
 * changes are serial in the system anyway, and a fault's undo counts on
 * the configuration its start left. One run per process. */
static unsigned held;
static struct member_fault *token;
static struct member_fault *waiting[32];
static int n_waiting;

static const char *name_of(struct member_fault *f, int i)
{
    return f->env.cluster->nodes[i].spec.name;
}

int member_voters(const struct cluster *c)
{
    int n = 0;
    for (int i = 0; i < c->n; i++) {
        n += c->nodes[i].member && strcmp(c->nodes[i].role, "voter") == 0;
    }
    return n;
}

static bool is_voter(const struct cluster *c, int i)
{
    return c->nodes[i].member && strcmp(c->nodes[i].role, "voter") == 0;
}

static void shuffle(struct rng *draw, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(draw, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int member_pick_voter(struct nemesis_env *env, struct rng *draw,
                      const char *selector, int min_voters, bool not_leader)
{
    struct cluster *c = env->cluster;
    int pool[DB_MAX_NODES], n = 0;

    for (int i = 0; i < c->n; i++) {
        if (is_voter(c, i) && cluster_running(c, i) &&
            (held & (1u << i)) == 0 && !(not_leader && i == c->leader)) {
            pool[n++] = i;
        }
    }
    shuffle(draw, pool, n); /* always: the draws don't depend on the rest */
    if (n == 0 || member_voters(c) < min_voters) {
        return -1;
    }
    if (selector != NULL && strcmp(selector, "leader") == 0) {
        for (int k = 0; k < n; k++) {
            if (pool[k] == c->leader) {
                return pool[k];
            }
        }
    }
    return pool[0];
}

int member_free_slots(struct nemesis_env *env, struct rng *draw, int *out)
{
    struct cluster *c = env->cluster;
    int n = 0;
    for (int i = 0; i < c->n; i++) {
        if (!c->nodes[i].member && (held & (1u << i)) == 0) {
            out[n++] = i;
        }
    }
    shuffle(draw, out, n);
    return n;
}

int member_replay_nodes(struct nemesis_env *env, int *out)
{
    return nemesis_replay_nodes(env, json_object_get(env->replay, "nodes"),
                                out);
}

/* --- the view ------------------------------------------------------------ */

static int node_by_id(const struct cluster *c, json_int_t id)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].spec.id == id) {
            return i;
        }
    }
    return -1;
}

/* Take a members reply ({"members": [{"id", "role"}]}) as the view. A node
 * that knows no configuration (a joiner) says nothing. */
static void view_from(struct cluster *c, const json_t *value)
{
    json_t *list = json_object_get(value, "members");
    json_t *m;
    size_t k;
    if (json_array_size(list) == 0) {
        return;
    }
    for (int i = 0; i < c->n; i++) {
        c->nodes[i].member = false;
        c->nodes[i].role[0] = '\0';
    }
    json_array_foreach(list, k, m)
    {
        int i = node_by_id(c, json_integer_value(json_object_get(m, "id")));
        const char *role = json_string_value(json_object_get(m, "role"));
        if (i >= 0) {
            c->nodes[i].member = true;
            snprintf(c->nodes[i].role, sizeof c->nodes[i].role, "%s",
                     role != NULL ? role : "");
        }
    }
}

/* --- the queue ------------------------------------------------------------ */

static void push_back(struct member_fault *f, struct step st)
{
    if (f->tail < QUEUE_MAX) {
        f->q[f->tail++] = st;
    }
}

static void push_front(struct member_fault *f, struct step st)
{
    if (f->head > 0) {
        f->q[--f->head] = st;
    } else if (f->tail < QUEUE_MAX) {
        memmove(&f->q[1], &f->q[0], sizeof f->q[0] * (size_t)f->tail);
        f->q[0] = st;
        f->tail++;
    }
}

void member_fault_push(struct member_fault *f, enum member_act act, int node,
                       const char *role, int count)
{
    struct step st = {.act = (int)act, .node = node, .count = count};
    snprintf(st.role, sizeof st.role, "%s", role != NULL ? role : "");
    push_back(f, st);
}

static void record(struct member_fault *f, enum history_type type,
                   const char *name, json_t *value)
{
    f->env.record(f->env.arg, type, name, value);
}

static const char *segment_outcome(struct member_fault *f)
{
    return f->unknown > 0     ? "unknown"
           : f->failed > 0    ? "failed"
           : f->committed > 0 ? "committed"
                              : "nothing to change";
}

/* The start's or the end's info: the kind's value and how its changes
 * went. */
static void record_segment(struct member_fault *f, const char *name)
{
    json_t *v = json_deep_copy(f->value);
    json_object_set_new(
        v, "outcome",
        json_string(f->aborted ? "interrupted" : segment_outcome(f)));
    record(f, HISTORY_INFO, name, v);
    f->committed = f->failed = f->unknown = 0;
}

static void again_cb(uv_timer_t *t);
static void next_step(struct member_fault *f);

/* Run @f's steps now if no other fault holds the token, else queue it. */
static void kick(struct member_fault *f)
{
    if (token == NULL || token == f) {
        token = f;
        next_step(f);
        return;
    }
    for (int k = 0; k < n_waiting; k++) {
        if (waiting[k] == f) {
            return;
        }
    }
    if (n_waiting < (int)(sizeof waiting / sizeof waiting[0])) {
        waiting[n_waiting++] = f;
    }
}

/* @f has nothing to run (or is gone): the next in line runs, from the
 * loop. */
static void pass_token(struct member_fault *f)
{
    for (int k = 0; k < n_waiting; k++) {
        if (waiting[k] == f) {
            memmove(&waiting[k], &waiting[k + 1],
                    sizeof waiting[0] * (size_t)(n_waiting - k - 1));
            n_waiting--;
            break;
        }
    }
    if (token != f) {
        return;
    }
    token = NULL;
    if (n_waiting > 0) {
        token = waiting[0];
        memmove(&waiting[0], &waiting[1],
                sizeof waiting[0] * (size_t)(n_waiting - 1));
        n_waiting--;
        uv_timer_start(&token->timer, again_cb, 0, 0);
    }
}

static void close_cb(uv_handle_t *h)
{
    struct member_fault *f = h->data;
    if (--f->closing == 0) {
        /* Here, not in release(): that may run inside the client's own
         * callback, which must not return into a freed client. */
        f->ops->free(f->client);
        free(f);
    }
}

static void release(struct member_fault *f)
{
    for (int k = 0; k < f->n; k++) {
        held &= ~(1u << f->nodes[k]);
    }
    pass_token(f);
    json_decref(f->value);
    json_decref(f->request);
    json_decref(f->recorded);
    if (f->client == NULL) {
        free(f); /* dry run: no handles */
        return;
    }
    f->ops->abandon(f->client);
    f->closing = 2;
    uv_close((uv_handle_t *)&f->timer, close_cb);
    uv_close((uv_handle_t *)&f->deadline, close_cb);
}

static void again_cb(uv_timer_t *t)
{
    next_step(t->data);
}

/* The change in flight ended with @outcome. */
static void change_done(struct member_fault *f, const char *outcome,
                        const char *error, json_t *extra)
{
    json_t *v = f->recorded;
    char op[16];
    f->recorded = NULL;
    uv_timer_stop(&f->deadline);
    uv_timer_stop(&f->timer);
    f->busy = false;
    json_decref(f->request);
    f->request = NULL;
    if (f->cur.act == ACT_REFRESH) {
        json_decref(v);
        next_step(f);
        return;
    }
    json_object_set_new(v, "outcome", json_string(outcome));
    if (error != NULL) {
        json_object_set_new(v, "error", json_string(error));
    }
    if (extra != NULL) {
        json_object_update(v, extra);
    }
    snprintf(op, sizeof op, "%s", json_string_value(json_object_get(v, "op")));
    record(f, HISTORY_INFO, op, v);
    if (strcmp(outcome, "committed") == 0) {
        f->committed++;
    } else if (strcmp(outcome, "failed") == 0) {
        if (++f->cur.tries < CHANGE_TRIES && !f->aborted) {
            push_front(f, f->cur);
            uv_timer_start(&f->timer, again_cb, FAILED_RETRY_MS, 0);
            return;
        }
        f->failed++;
    } else {
        f->unknown++;
        /* Where the configuration is now is the system's to say. */
        push_front(f, (struct step){.act = ACT_REFRESH, .node = -1});
    }
    next_step(f);
}

/* The cluster is stopping: give up what is under way and what is queued. */
static void abort_fault(struct member_fault *f)
{
    if (f->busy) {
        bool doubt = f->ops->in_doubt(f->client);
        f->ops->abandon(f->client);
        f->aborted = true;
        change_done(f, doubt ? "unknown" : "failed", "the run is stopping",
                    NULL);
        return;
    }
    f->aborted = true;
    for (int k = f->head; k < f->tail; k++) {
        if (f->q[k].act == ACT_STARTED) {
            record_segment(f, f->kind);
        }
    }
    f->head = f->tail = 0;
    pass_token(f);
    if (f->ending) {
        char end[48];
        snprintf(end, sizeof end, "%s-end", f->kind);
        record_segment(f, end);
        release(f);
    }
    /* Else stop() comes (the heal) and frees it. */
}

static void attempt(struct member_fault *f);

static void retry_cb(uv_timer_t *t)
{
    struct member_fault *f = t->data;
    if (f->env.cluster->stopping) {
        abort_fault(f);
        return;
    }
    attempt(f);
}

static void move_on(struct member_fault *f, int to)
{
    struct cluster *c = f->env.cluster;
    f->at = to >= 0 ? to : cluster_next_member(c, (f->at + 1) % c->n);
    uv_timer_start(&f->timer, retry_cb, RETRY_MS, 0);
}

static void admin_cb(void *arg, const struct client_result *res)
{
    struct member_fault *f = arg;
    struct cluster *c = f->env.cluster;
    json_t *extra = NULL;

    if (res->type == HISTORY_OK && f->cur.act == ACT_REFRESH &&
        (f->at != c->leader ||
         !json_is_true(json_object_get(res->value, "committed")))) {
        /* Only the leader's committed configuration is the cluster's: a
         * follower's may be behind, or an entry never committed that
         * libraft 0.15 restored as committed at its restart; a view taken
         * from it could wipe a voter. Ask again until the deadline. */
        move_on(f, c->leader >= 0 && cluster_running(c, c->leader) ? c->leader
                                                                   : -1);
        return;
    }
    if (res->type == HISTORY_OK) {
        int i = f->cur.node;
        json_t *index = json_object_get(res->value, "index");
        if (f->cur.act != MEMBER_TRANSFER && f->cur.act != ACT_REFRESH &&
            json_is_integer(index) && json_integer_value(index) > 0) {
            /* Where the change's entry is in the log (the raft checker
             * looks there). */
            extra = json_pack("{s:O}", "index", index);
        }
        switch (f->cur.act) {
        case MEMBER_ADD:
            c->nodes[i].member = true;
            snprintf(c->nodes[i].role, sizeof c->nodes[i].role, "spare");
            break;
        case MEMBER_ASSIGN:
            snprintf(c->nodes[i].role, sizeof c->nodes[i].role, "%s",
                     f->cur.role);
            break;
        case MEMBER_REMOVE:
            c->nodes[i].member = false;
            c->nodes[i].role[0] = '\0';
            break;
        case MEMBER_TRANSFER: {
            int l = node_by_id(
                c, json_integer_value(json_object_get(res->value, "leader")));
            if (l >= 0) {
                c->leader = l;
                extra = json_pack("{s:s}", "leader", name_of(f, l));
            }
            break;
        }
        case ACT_REFRESH:
            view_from(c, res->value);
            break;
        default:
            break;
        }
        change_done(f, "committed", NULL, extra);
        json_decref(extra);
        return;
    }
    if (c->stopping) {
        change_done(f, res->type == HISTORY_INFO ? "unknown" : "failed",
                    res->error, NULL);
        return;
    }
    if (res->type == HISTORY_FAIL &&
        (res->elsewhere || f->cur.act == ACT_REFRESH)) {
        move_on(f, res->leader != NULL ? cluster_node_of(c, res->leader) : -1);
        return;
    }
    change_done(f, res->type == HISTORY_FAIL ? "failed" : "unknown", res->error,
                NULL);
}

static void attempt(struct member_fault *f)
{
    struct client_op op = {.key = NULL, .value = f->request};
    char addr[128];
    int rv;

    switch (f->cur.act) {
    case MEMBER_ADD:
        op.f = "add";
        break;
    case MEMBER_ASSIGN:
        op.f = "assign";
        break;
    case MEMBER_REMOVE:
        op.f = "remove";
        break;
    case MEMBER_TRANSFER:
        op.f = "transfer";
        break;
    default:
        op.f = "members";
        break;
    }
    cluster_client_addr(f->env.cluster, f->at, addr, sizeof addr);
    rv = f->ops->invoke(f->client, addr, &op, admin_cb, f);
    if (rv != 0) {
        move_on(f, -1);
    }
}

static void deadline_cb(uv_timer_t *t)
{
    struct member_fault *f = t->data;
    bool doubt = f->ops->in_doubt(f->client);
    f->ops->abandon(f->client);
    change_done(f, doubt ? "unknown" : "failed",
                doubt ? "timeout" : "timeout: no node took the change", NULL);
}

/* The node a change goes to first: the leader as last seen, else the
 * first running member. */
static int first_target(struct cluster *c)
{
    if (c->leader >= 0 && c->nodes[c->leader].member &&
        cluster_running(c, c->leader)) {
        return c->leader;
    }
    return cluster_next_member(c, 0);
}

static void begin_change(struct member_fault *f)
{
    struct cluster *c = f->env.cluster;
    const struct db_node *spec =
        &c->nodes[f->cur.node >= 0 ? f->cur.node : 0].spec;
    const char *op = "members";
    uint64_t deadline = REFRESH_DEADLINE_MS;

    f->busy = true;
    f->at = first_target(c);
    f->request = json_null();
    f->recorded = NULL;
    switch (f->cur.act) {
    case MEMBER_ADD:
        op = "add";
        f->request = json_pack("{s:i}", "id", spec->id);
        json_object_set_new(f->request, "peer",
                            json_sprintf("%s:%d", spec->host, spec->peer_port));
        break;
    case MEMBER_ASSIGN:
        op = "assign";
        f->request =
            json_pack("{s:i, s:s}", "id", spec->id, "role", f->cur.role);
        break;
    case MEMBER_REMOVE:
        op = "remove";
        f->request = json_pack("{s:i}", "id", spec->id);
        break;
    case MEMBER_TRANSFER:
        op = "transfer";
        f->request = json_pack("{s:i}", "id", spec->id);
        break;
    default:
        break;
    }
    if (f->cur.act != ACT_REFRESH) {
        deadline = STEP_DEADLINE_MS;
        f->recorded = json_pack("{s:s, s:s}", "op", op, "node", spec->name);
        if (f->cur.act == MEMBER_ASSIGN) {
            json_object_set_new(f->recorded, "role", json_string(f->cur.role));
        }
        record(f, HISTORY_INVOKE, op, json_deep_copy(f->recorded));
    }
    uv_timer_start(&f->deadline, deadline_cb, deadline, 0);
    attempt(f);
}

/* --- wiping ------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    if (ftw->level == 0) {
        return 0; /* the data dir itself: faultfs may be mounted on it */
    }
    if (remove(path) != 0 && errno != ENOENT) {
        return -1;
    }
    return 0;
}

static void wipe_now(struct member_fault *f)
{
    struct cluster_node *node = &f->env.cluster->nodes[f->cur.node];
    json_t *v = json_pack("{s:s, s:s}", "op", "wipe", "node", node->spec.name);
    int rv = nftw(node->spec.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    node->spec.join = true; /* empty: it can only join now */
    json_object_set_new(v, "outcome", json_string(rv == 0 ? "done" : "failed"));
    record(f, HISTORY_INFO, "wipe", v);
    f->busy = false;
    next_step(f);
}

static void exit_poll_cb(uv_timer_t *t)
{
    struct member_fault *f = t->data;
    if (cluster_running(f->env.cluster, f->cur.node)) {
        /* Another fault may have killed it first and started it again (a
         * reactive power cut of "others"): kill it again, or the wipe, and
         * every membership step queued behind it, would wait forever. */
        cluster_signal(f->env.cluster, f->cur.node, SIGKILL);
        uv_timer_start(&f->timer, exit_poll_cb, EXIT_POLL_MS, 0);
        return;
    }
    wipe_now(f);
}

static void crash_poll_cb(uv_timer_t *t)
{
    struct member_fault *f = t->data;
    struct cluster *c = f->env.cluster;
    for (int k = 0; k < f->n; k++) {
        if (cluster_running(c, f->nodes[k])) {
            cluster_signal(c, f->nodes[k], SIGKILL); /* restarted meanwhile */
            uv_timer_start(&f->timer, crash_poll_cb, EXIT_POLL_MS, 0);
            return;
        }
    }
    record(f, HISTORY_INFO, "crash",
           json_pack("{s:s, s:o}", "op", "crash", "nodes",
                     nemesis_node_names(&f->env, f->nodes, f->n)));
    f->busy = false;
    next_step(f);
}

/* MEMBER_CUT_OFF: stop every running node of the fault but the leader. */
static void cut_off(struct member_fault *f)
{
    struct cluster *c = f->env.cluster;
    json_t *names = json_array();
    for (int k = 0; k < f->n; k++) {
        int i = f->nodes[k];
        if (i != f->cur.node && cluster_running(c, i) &&
            cluster_signal(c, i, SIGSTOP) == 0) {
            json_array_append_new(names, json_string(name_of(f, i)));
        }
    }
    record(f, HISTORY_INVOKE, "cut-off",
           json_pack("{s:s, s:s}", "op", "cut-off", "leader",
                     name_of(f, f->cur.node)));
    record(f, HISTORY_INFO, "cut-off",
           json_pack("{s:s, s:s, s:o}", "op", "cut-off", "leader",
                     name_of(f, f->cur.node), "stopped", names));
}

/* MEMBER_CRASH: SIGKILL every node of the fault, then wait for them. */
static void begin_crash(struct member_fault *f)
{
    struct cluster *c = f->env.cluster;
    record(f, HISTORY_INVOKE, "crash",
           json_pack("{s:s, s:o}", "op", "crash", "nodes",
                     nemesis_node_names(&f->env, f->nodes, f->n)));
    f->busy = true;
    for (int k = 0; k < f->n; k++) {
        if (cluster_running(c, f->nodes[k])) {
            cluster_signal(c, f->nodes[k], SIGKILL);
        }
    }
    uv_timer_start(&f->timer, crash_poll_cb, EXIT_POLL_MS, 0);
}

static void begin_wipe(struct member_fault *f)
{
    struct cluster *c = f->env.cluster;
    record(
        f, HISTORY_INVOKE, "wipe",
        json_pack("{s:s, s:s}", "op", "wipe", "node", name_of(f, f->cur.node)));
    f->busy = true;
    if (cluster_running(c, f->cur.node)) {
        if (c->nodes[f->cur.node].paused) {
            cluster_signal(c, f->cur.node, SIGCONT);
        }
        cluster_signal(c, f->cur.node, SIGKILL);
        uv_timer_start(&f->timer, exit_poll_cb, EXIT_POLL_MS, 0);
        return;
    }
    wipe_now(f);
}

/* --- running the queue ---------------------------------------------------- */

/* Queue the removal, stop and wipe of one voter (drawn) while there are
 * more than @count. */
static bool shrink_once(struct member_fault *f, int count)
{
    struct cluster *c = f->env.cluster;
    int pool[DB_MAX_NODES], n = 0, v;
    if (member_voters(c) <= count) {
        return false;
    }
    for (int i = 0; i < c->n; i++) {
        bool mine = false;
        for (int k = 0; k < f->n; k++) {
            mine |= f->nodes[k] == i;
        }
        if (is_voter(c, i) && ((held & (1u << i)) == 0 || mine)) {
            pool[n++] = i;
        }
    }
    if (n == 0) {
        return false;
    }
    v = pool[rng_below(&f->rng, (uint64_t)n)];
    if ((held & (1u << v)) == 0 && f->n < DB_MAX_NODES) {
        held |= 1u << v;
        f->nodes[f->n++] = v;
    }
    push_front(f, (struct step){.act = MEMBER_SHRINK, .count = count});
    push_front(f, (struct step){.act = MEMBER_WIPE, .node = v});
    push_front(f, (struct step){.act = MEMBER_REMOVE, .node = v});
    return true;
}

static void next_step(struct member_fault *f)
{
    struct cluster *c = f->env.cluster;
    char end[48];

    for (;;) {
        struct cluster_node *node;
        if (c->stopping) {
            abort_fault(f);
            return;
        }
        if (f->head == f->tail) {
            f->head = f->tail = 0;
            if (f->ending) {
                release(f);
            } else {
                pass_token(f);
            }
            return;
        }
        f->cur = f->q[f->head++];
        node = f->cur.node >= 0 ? &c->nodes[f->cur.node] : NULL;
        switch (f->cur.act) {
        case MEMBER_ADD:
            if (node->member) {
                continue;
            }
            begin_change(f);
            return;
        case MEMBER_ASSIGN:
            if (!node->member || strcmp(node->role, f->cur.role) == 0) {
                continue;
            }
            begin_change(f);
            return;
        case MEMBER_REMOVE:
            if (!node->member) {
                continue;
            }
            begin_change(f);
            return;
        case MEMBER_TRANSFER:
            if (!is_voter(c, f->cur.node) || f->cur.node == c->leader) {
                continue;
            }
            begin_change(f);
            return;
        case ACT_REFRESH:
            begin_change(f);
            return;
        case MEMBER_WIPE:
            if (node->member) {
                continue; /* never the data of a member */
            }
            begin_wipe(f);
            return;
        case MEMBER_JOIN:
            if (cluster_running(c, f->cur.node)) {
                continue;
            }
            record(
                f, HISTORY_INVOKE, "join",
                json_pack("{s:s, s:s}", "op", "join", "node", node->spec.name));
            record(f, HISTORY_INFO, "join",
                   json_pack("{s:s, s:s, s:s}", "op", "join", "node",
                             node->spec.name, "outcome",
                             cluster_start(c, f->cur.node) == 0 ? "done"
                                                                : "failed"));
            continue;
        case MEMBER_SHRINK:
            shrink_once(f, f->cur.count);
            continue;
        case MEMBER_CUT_OFF:
            cut_off(f);
            continue;
        case MEMBER_CRASH:
            begin_crash(f);
            return;
        case ACT_STARTED:
            record_segment(f, f->kind);
            continue;
        case ACT_ENDED:
            snprintf(end, sizeof end, "%s-end", f->kind);
            record_segment(f, end);
            continue;
        default:
            continue;
        }
    }
}

/* --- the fault ------------------------------------------------------------ */

struct member_fault *member_fault_new(struct nemesis_env *env, struct rng *draw,
                                      const char *kind, const int *nodes, int n,
                                      json_t *extra)
{
    struct member_fault *f = calloc(1, sizeof *f);
    if (f == NULL) {
        json_decref(extra);
        return NULL;
    }
    f->env = *env;
    f->env.replay = NULL;
    rng_init(&f->rng, rng_next(draw));
    snprintf(f->kind, sizeof f->kind, "%s", kind);
    f->n = n < DB_MAX_NODES ? n : DB_MAX_NODES;
    memcpy(f->nodes, nodes, sizeof(int) * (size_t)f->n);
    for (int k = 0; k < f->n; k++) {
        held |= 1u << f->nodes[k];
    }
    f->value =
        json_pack("{s:o}", "nodes", nemesis_node_names(env, f->nodes, f->n));
    if (extra != NULL) {
        json_object_update(f->value, extra);
        json_decref(extra);
    }
    if (!env->cluster->dry_run) {
        f->ops = client_find(env->cluster->db->client);
        f->client = f->ops != NULL ? f->ops->new (env->loop) : NULL;
        if (f->client == NULL) {
            json_decref(f->value);
            free(f);
            return NULL;
        }
        uv_timer_init(env->loop, &f->timer);
        uv_timer_init(env->loop, &f->deadline);
        f->timer.data = f->deadline.data = f;
    }
    record(f, HISTORY_INVOKE, f->kind, json_deep_copy(f->value));
    return f;
}

int member_fault_node(const struct member_fault *f, int k)
{
    return f->nodes[k];
}

void member_fault_run(struct member_fault *f)
{
    if (f->client == NULL) { /* a dry run: the plan only */
        f->head = f->tail = 0;
        record_segment(f, f->kind);
        return;
    }
    push_back(f, (struct step){.act = ACT_STARTED, .node = -1});
    if (!f->busy) {
        kick(f);
    }
}

int member_fault_end(struct member_fault *f)
{
    char end[48];
    snprintf(end, sizeof end, "%s-end", f->kind);
    record(f, HISTORY_INVOKE, end, json_deep_copy(f->value));
    if (f->client == NULL || f->aborted) {
        f->head = f->tail = 0;
        record_segment(f, end);
        release(f);
        return 0;
    }
    f->ending = true;
    push_back(f, (struct step){.act = ACT_ENDED, .node = -1});
    if (!f->busy) {
        kick(f);
    }
    return 0;
}

void member_fault_describe(struct nemesis_env *env, void *state, char *buf,
                           size_t size)
{
    struct member_fault *f = state;
    size_t used = (size_t)snprintf(buf, size, "%s", f->kind);
    for (int k = 0; k < f->n && used < size; k++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 name_of(f, f->nodes[k]));
    }
}
