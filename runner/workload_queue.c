/* workload_queue: enqueue, claim, ack and nack on taskd's work queue.
 *
 * A client holding no task enqueues a fresh one ("q17") or claims, by the
 * weights workload.enqueue and workload.claim; a client holding one acks it
 * (or, workload.nack of the time, gives it back). Workers are the logical
 * clients ("c3"), and every request carries a rid, so a claim whose answer
 * was lost is retried as the same request. Many clients claim at once from
 * a short queue, so the leader often has several claims in one commit round
 * trip: what a claim that is not decided in the log gets wrong.
 * After the run the clients drain the queue: ack what they hold, then claim
 * and ack until the queue answers `empty` to a claim sent after every lease
 * from the run has run out (workload.lease_ms after the drain began), so
 * that every acknowledged enqueue can be accounted for. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct queue_settings {
    /* weights of enqueue and claim (when holding no task), and the share of
     * claimed tasks given back with nack instead of ack */
    double enqueue, claim, nack;
    int lease_ms; /* the lease of a claim */
};

#define T struct queue_settings
static const struct setting queue_fields[] = {
    {"enqueue", SETTING_NUM, SETTING_OFF(T, enqueue), 0, 0, 1e6, NULL, NULL,
     "weight of enqueues"},
    {"claim", SETTING_NUM, SETTING_OFF(T, claim), 0, 0, 1e6, NULL, NULL,
     "weight of claims (when holding no task)"},
    {"nack", SETTING_NUM, SETTING_OFF(T, nack), 0, 0, 1, NULL, NULL,
     "share of claimed tasks given back with nack"},
    {"lease_ms", SETTING_INT, SETTING_OFF(T, lease_ms), 0, 1, 86400000, NULL,
     NULL, "the lease of a claim"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void queue_defaults(void *p)
{
    struct queue_settings *q = p;
    q->enqueue = 0.5;
    q->claim = 0.5;
    q->nack = 0.1;
    q->lease_ms = 1000;
}

static int queue_validate(const void *p, const char *section, char *err,
                          size_t errlen)
{
    const struct queue_settings *q = p;
    if (q->enqueue <= 0 || q->claim <= 0) {
        snprintf(err, errlen,
                 "\"%s\": the queue workload needs enqueue and claim "
                 "weights above 0",
                 section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table queue_table = {
    .size = sizeof(struct queue_settings),
    .defaults = queue_defaults,
    .fields = queue_fields,
    .validate = queue_validate,
};

#define EXPIRY_MARGIN_MS 500

struct qclient {
    char held[32];       /* the task this worker holds, or "" */
    uint64_t seq;        /* request ids made */
    bool empty;          /* its last claim found the queue empty */
    uint64_t claimed_at; /* when its last claim was chosen */
};

struct state {
    const struct workload_env *env;
    const struct queue_settings *set;
    struct qclient *cl;
    uint64_t tasks; /* task ids made */
    uint64_t drain_start;
};

static void *queue_new(const struct workload_env *env, int n)
{
    struct state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->env = env;
    st->set = scenario_workload_settings(env->s);
    st->cl = calloc((size_t)n, sizeof *st->cl);
    if (st->cl == NULL) {
        free(st);
        return NULL;
    }
    return st;
}

static void queue_free(void *state)
{
    struct state *st = state;
    if (st != NULL) {
        free(st->cl);
        free(st);
    }
}

/* {"rid": "c3-17", "worker": "c3"} plus, for a claim, the lease. */
static json_t *request(struct state *st, int c, bool claim)
{
    char rid[32], worker[16];
    json_t *v;
    workload_client_name(c, worker, sizeof worker);
    snprintf(rid, sizeof rid, "%s-%llu", worker,
             (unsigned long long)++st->cl[c].seq);
    v = json_pack("{s:s, s:s}", "rid", rid, "worker", worker);
    if (claim) {
        json_object_set_new(v, "lease_ms",
                            json_integer(st->set->lease_ms));
    }
    return v;
}

static void settle(struct state *st, int c, struct workload_op *op,
                   const char *f)
{
    struct qclient *q = &st->cl[c];
    workload_op_set(op, f, q->held, request(st, c, false), false);
}

static void claim(struct state *st, int c, struct workload_op *op)
{
    st->cl[c].claimed_at = workload_now_ms();
    workload_op_set(op, "claim", NULL, request(st, c, true), false);
}

static enum workload_next queue_choose(void *state, int c,
                                       struct workload_op *op)
{
    struct state *st = state;
    const struct queue_settings *s = st->set;
    struct rng *rng = st->env->rng;
    char id[32];

    if (st->cl[c].held[0] != '\0') {
        settle(st, c, op, rng_unit(rng) < s->nack ? "nack" : "ack");
        return WORKLOAD_OP;
    }
    if (rng_unit(rng) * (s->enqueue + s->claim) <
        s->enqueue) {
        json_t *v = request(st, c, false);
        json_object_del(v, "worker");
        snprintf(id, sizeof id, "q%llu", (unsigned long long)st->tasks++);
        workload_op_set(op, "enqueue", id, v, false);
        return WORKLOAD_OP;
    }
    claim(st, c, op);
    return WORKLOAD_OP;
}

static void queue_completed(void *state, int c, const struct workload_op *op,
                            enum history_type type, json_t *value,
                            const char *error)
{
    struct state *st = state;
    struct qclient *q = &st->cl[c];

    if (strcmp(op->f, "claim") == 0) {
        const char *task = json_string_value(json_object_get(value, "task"));
        q->empty = type == HISTORY_FAIL && error != NULL &&
                   strcmp(error, "empty") == 0;
        if (type == HISTORY_OK && task != NULL) {
            snprintf(q->held, sizeof q->held, "%s", task);
        }
    } else if (strcmp(op->f, "ack") == 0 || strcmp(op->f, "nack") == 0) {
        /* Settled, refused or unknown: either way not ours to settle again
         * (an unknown one is retried with its rid). */
        q->held[0] = '\0';
    }
}

static enum workload_next queue_final(void *state, int c,
                                      struct workload_op *op)
{
    struct state *st = state;
    struct qclient *q = &st->cl[c];
    uint64_t now = workload_now_ms();
    uint64_t expired;

    if (st->drain_start == 0) {
        st->drain_start = now;
        for (int i = 0; i < st->env->s->workload.clients; i++) {
            st->cl[i].empty = false;
        }
    }
    if (q->held[0] != '\0') {
        settle(st, c, op, "ack");
        return WORKLOAD_OP;
    }
    /* A lease from the run (or an unknown claim) ends by then. */
    expired = st->drain_start + (uint64_t)st->set->lease_ms +
              EXPIRY_MARGIN_MS;
    if (q->empty) {
        if (q->claimed_at >= expired) {
            return WORKLOAD_DONE;
        }
        if (now < expired) {
            return WORKLOAD_WAIT;
        }
    }
    claim(st, c, op);
    return WORKLOAD_OP;
}

const struct workload_kind workload_queue = {
    .name = "queue",
    .settings = &queue_table,
    .rids = true,
    .new = queue_new,
    .free = queue_free,
    .choose = queue_choose,
    .completed = queue_completed,
    .final = queue_final,
};
