/* workload_tasks: create, get, update, delete and list tasks.
 *
 * Every create makes a fresh task id ("t17") with a fresh request id, so a
 * task in a final list that no create could have made is a phantom, and an
 * `exists` answer can only come from an earlier attempt of the same request.
 * Updates go mostly to recent tasks (so that a task sees several, and
 * concurrent ones), expecting the status or version last seen; a third of
 * them keep the status unchanged, which still bumps the version: a retry
 * that the system applies twice shows as a version that jumped by two.
 * After the run, one client lists every task until a list succeeds: the
 * set checker's final read. */
#include "runner/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tasks_settings {
    double create, get, update, del, list; /* relative weights */
};

#define T struct tasks_settings
static const struct setting tasks_fields[] = {
    {"create", SETTING_NUM, SETTING_OFF(T, create), 0, 0, 1e6, NULL, NULL,
     "weight of creates"},
    {"get", SETTING_NUM, SETTING_OFF(T, get), 0, 0, 1e6, NULL, NULL,
     "weight of gets"},
    {"update", SETTING_NUM, SETTING_OFF(T, update), 0, 0, 1e6, NULL, NULL,
     "weight of status updates"},
    {"delete", SETTING_NUM, SETTING_OFF(T, del), 0, 0, 1e6, NULL, NULL,
     "weight of deletes"},
    {"list", SETTING_NUM, SETTING_OFF(T, list), 0, 0, 1e6, NULL, NULL,
     "weight of lists"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void tasks_defaults(void *p)
{
    struct tasks_settings *t = p;
    t->create = 0.3;
    t->get = 0.25;
    t->update = 0.4;
    t->del = 0;
    t->list = 0.05;
}

static int tasks_validate(const void *p, const char *section, char *err,
                          size_t errlen)
{
    const struct tasks_settings *t = p;
    if (t->create <= 0) {
        snprintf(err, errlen,
                 "\"%s.create\": the tasks workload needs creates (a weight "
                 "above 0)",
                 section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table tasks_table = {
    .size = sizeof(struct tasks_settings),
    .defaults = tasks_defaults,
    .fields = tasks_fields,
    .validate = tasks_validate,
};

#define RECENT       32
#define RECENT_SHARE 0.8
#define FINAL_LISTER 0
#define ID_LEN       16

static const char *const statuses[] = {"pending", "active", "done"};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

struct task {
    char id[ID_LEN];
    char status[16]; /* last seen, "" when never seen */
    json_int_t version;
};

struct state {
    const struct workload_env *env;
    int n;
    struct task *tasks;
    size_t ntasks, cap;
    uint64_t *seq;     /* per client: request ids made */
    bool in_final;     /* the final phase has begun */
    bool final_listed; /* a list of the final phase succeeded */
    bool final_failed; /* the last one failed */
};

static void *tasks_new(const struct workload_env *env, int n)
{
    struct state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->env = env;
    st->n = n;
    st->seq = calloc((size_t)n, sizeof *st->seq);
    if (st->seq == NULL) {
        free(st);
        return NULL;
    }
    return st;
}

static void tasks_free(void *state)
{
    struct state *st = state;
    if (st != NULL) {
        free(st->tasks);
        free(st->seq);
        free(st);
    }
}

static json_t *new_rid(struct state *st, int c)
{
    char rid[32];
    snprintf(rid, sizeof rid, "c%d-%llu", c, (unsigned long long)++st->seq[c]);
    return json_string(rid);
}

static struct task *task_find(struct state *st, const char *id)
{
    /* Ids are t<index>. */
    char *end;
    unsigned long i = strtoul(id + 1, &end, 10);
    if (id[0] != 't' || *end != '\0' || i >= st->ntasks) {
        return NULL;
    }
    return &st->tasks[i];
}

static struct task *pick_task(struct state *st)
{
    struct rng *rng = st->env->rng;
    size_t recent = st->ntasks < RECENT ? st->ntasks : RECENT;
    if (rng_unit(rng) < RECENT_SHARE) {
        return &st->tasks[st->ntasks - 1 - rng_below(rng, recent)];
    }
    return &st->tasks[rng_below(rng, st->ntasks)];
}

static enum workload_next choose_create(struct state *st, int c,
                                        struct workload_op *op)
{
    struct task *t;
    if (st->ntasks == st->cap) {
        size_t cap = st->cap == 0 ? 1024 : st->cap * 2;
        struct task *p = realloc(st->tasks, cap * sizeof *p);
        if (p == NULL) {
            return WORKLOAD_WAIT;
        }
        st->tasks = p;
        st->cap = cap;
    }
    t = &st->tasks[st->ntasks];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "t%zu", st->ntasks);
    st->ntasks++;
    workload_op_set(op, "create", t->id,
                    json_pack("{s:o}", "rid", new_rid(st, c)), false);
    return WORKLOAD_OP;
}

static void choose_update(struct state *st, int c, struct task *t,
                          struct workload_op *op)
{
    struct rng *rng = st->env->rng;
    const char *seen = t->status[0] != '\0' ? t->status : "pending";
    const char *to;
    json_t *v = json_pack("{s:o}", "rid", new_rid(st, c));

    /* A third keep the status: the version still moves. */
    if (rng_below(rng, 3) == 0) {
        to = seen;
    } else {
        to = statuses[rng_below(rng, N_STATUSES)];
    }
    json_object_set_new(v, "status", json_string(to));
    if (t->version > 0 && rng_below(rng, 3) == 0) {
        json_object_set_new(v, "expect_version", json_integer(t->version));
    } else {
        json_object_set_new(v, "expect_status", json_string(seen));
    }
    workload_op_set(op, "update", t->id, v, false);
}

static enum workload_next tasks_choose(void *state, int c,
                                       struct workload_op *op)
{
    struct state *st = state;
    const struct tasks_settings *s = scenario_workload_settings(st->env->s);
    double w[] = {s->create, s->get, s->update, s->del, s->list};
    double total = w[0] + w[1] + w[2] + w[3] + w[4];
    double x = rng_unit(st->env->rng) * total;
    int pick = 0;
    struct task *t;

    while (pick < 4 && x >= w[pick]) {
        x -= w[pick++];
    }
    if (pick == 0 || st->ntasks == 0) {
        return choose_create(st, c, op);
    }
    if (pick == 4) {
        workload_op_set(op, "list", NULL, json_null(), true);
        return WORKLOAD_OP;
    }
    t = pick_task(st);
    switch (pick) {
    case 1:
        workload_op_set(op, "get", t->id, json_null(), true);
        break;
    case 2:
        choose_update(st, c, t, op);
        break;
    default:
        workload_op_set(op, "delete", t->id,
                        json_pack("{s:o}", "rid", new_rid(st, c)), false);
        break;
    }
    return WORKLOAD_OP;
}

static void learn(struct state *st, const char *id, json_t *record)
{
    struct task *t = task_find(st, id);
    const char *status = json_string_value(json_object_get(record, "status"));
    json_t *version = json_object_get(record, "version");
    if (t == NULL || status == NULL || !json_is_integer(version)) {
        return;
    }
    /* Concurrent clients may report out of order: keep the newest. */
    if (json_integer_value(version) >= t->version) {
        snprintf(t->status, sizeof t->status, "%s", status);
        t->version = json_integer_value(version);
    }
}

static void tasks_completed(void *state, int c, const struct workload_op *op,
                            enum history_type type, json_t *value,
                            const char *error)
{
    struct state *st = state;
    if (strcmp(op->f, "list") == 0) {
        if (st->in_final) {
            st->final_listed = type == HISTORY_OK;
            st->final_failed = type != HISTORY_OK;
        }
        return;
    }
    if (type != HISTORY_OK) {
        return;
    }
    if (strcmp(op->f, "create") == 0 || strcmp(op->f, "update") == 0 ||
        strcmp(op->f, "get") == 0) {
        learn(st, op->key, value);
    }
}

static enum workload_next tasks_final(void *state, int c,
                                      struct workload_op *op)
{
    struct state *st = state;

    if (c != FINAL_LISTER) {
        return WORKLOAD_DONE;
    }
    st->in_final = true;
    if (!st->final_listed && st->final_failed) {
        /* The list just failed: wait a little, then list again. */
        st->final_failed = false;
        return WORKLOAD_WAIT;
    }
    if (st->final_listed) {
        return WORKLOAD_DONE;
    }
    workload_op_set(op, "list", NULL, json_null(), true);
    return WORKLOAD_OP;
}

const struct workload_kind workload_tasks = {
    .name = "tasks",
    .settings = &tasks_table,
    .rids = true,
    .new = tasks_new,
    .free = tasks_free,
    .choose = tasks_choose,
    .completed = tasks_completed,
    .final = tasks_final,
};
