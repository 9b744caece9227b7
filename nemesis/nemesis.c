/* nemesis: the registry of fault kinds, target selection, and the planned
 * schedule that drives them. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nemesis/reactive.h"
#include "runner/sandbox.h"

#define MAX_ACTIVE 16
#define MAX_STEPS  4096
#define MAX_KINDS  32

/* The registry: one line per fault kind (its struct nemesis_ops, in a file
 * of its own). */
#define KINDS(X)                                                               \
    X(nemesis_kill)                                                            \
    X(nemesis_pause)                                                           \
    X(nemesis_restart)                                                         \
    X(nemesis_partition)                                                       \
    X(nemesis_loss)                                                            \
    X(nemesis_clock)                                                           \
    X(nemesis_disk)                                                            \
    X(nemesis_lose_unsynced)                                                   \
    X(nemesis_torn_write)                                                      \
    X(nemesis_disk_error)                                                      \
    X(nemesis_disk_full)                                                       \
    X(nemesis_crash_restart)                                                   \
    X(nemesis_member_remove)                                                   \
    X(nemesis_member_cut_off)                                                  \
    X(nemesis_member_wipe)                                                     \
    X(nemesis_member_add)                                                      \
    X(nemesis_member_demote)                                                   \
    X(nemesis_member_grow)                                                     \
    X(nemesis_transfer_leader)

#define DECLARE(sym) extern const struct nemesis_ops sym;
#define ADDRESS(sym) &sym,
KINDS(DECLARE)
static const struct nemesis_ops *const kinds[] = {KINDS(ADDRESS) NULL};

_Static_assert(sizeof kinds / sizeof kinds[0] - 1 <= SCENARIO_MAX_KINDS,
               "more fault kinds than struct scenario has room for");

const char *const nemesis_selectors[] = {"one", "minority", "majority", "all",
                                         "leader", NULL};

static const struct {
    const char *name;
    int value;
} errnos[] = {{"EIO", EIO},
              {"ENOSPC", ENOSPC},
              {"EROFS", EROFS},
              {"EDQUOT", EDQUOT},
              {NULL, 0}};

bool nemesis_errno_known(const char *name)
{
    for (int i = 0; errnos[i].name != NULL; i++) {
        if (strcmp(errnos[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

const char *nemesis_errno_names(void)
{
    return "EIO, ENOSPC, EROFS, EDQUOT";
}

int nemesis_errno_value(const char *name)
{
    for (int i = 0; errnos[i].name != NULL; i++) {
        if (strcmp(errnos[i].name, name) == 0) {
            return errnos[i].value;
        }
    }
    return EIO;
}

const struct nemesis_ops *nemesis_find(const char *name)
{
    for (int i = 0; kinds[i] != NULL; i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

const struct nemesis_ops *nemesis_kind_at(int index)
{
    if (index < 0 || index >= (int)(sizeof kinds / sizeof kinds[0]) - 1) {
        return NULL;
    }
    return kinds[index];
}

int nemesis_kind_index(const struct nemesis_ops *ops)
{
    for (int i = 0; kinds[i] != NULL; i++) {
        if (kinds[i] == ops) {
            return i;
        }
    }
    return -1;
}

const char *nemesis_kind_names(void)
{
    static char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; kinds[i] != NULL && used < sizeof buf; i++) {
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                 i ? ", " : "", kinds[i]->name);
    }
    return buf;
}

const void *nemesis_settings(const struct scenario *s,
                             const struct nemesis_ops *ops)
{
    return scenario_fault_settings(s, nemesis_kind_index(ops));
}

unsigned nemesis_needs(const struct scenario *s, const struct nemesis_ops *ops)
{
    unsigned needs = ops->needs;
    if (ops->needs_of != NULL) {
        needs |= ops->needs_of(nemesis_settings(s, ops));
    }
    return needs;
}

int nemesis_prepare_node(void *scenario, struct cluster *c, int i,
                         struct cluster_env *env)
{
    const struct scenario *s = scenario;
    /* Kinds sharing one preparation (the faultfs kinds share a mount) run
     * it once. */
    int (*done[SCENARIO_MAX_KINDS])(struct cluster *, const struct scenario *,
                                    const void *, int, struct cluster_env *);
    const struct nemesis_ops *ops;
    int n_done = 0;

    /* Each kind in use, timed or named by a reactive rule. */
    for (int f = 0; (ops = nemesis_kind_at(f)) != NULL; f++) {
        bool seen = false;
        int rv;
        if (ops->prepare_node == NULL || !scenario_has_fault(s, ops->name)) {
            continue;
        }
        for (int k = 0; k < n_done; k++) {
            seen |= done[k] == ops->prepare_node;
        }
        if (seen) {
            continue;
        }
        done[n_done++] = ops->prepare_node;
        rv = ops->prepare_node(c, s, nemesis_settings(s, ops), i, env);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* --- targets -------------------------------------------------------------- */

static void shuffle(struct rng *draw, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(draw, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int nemesis_pick(struct nemesis_env *env, struct rng *draw,
                 const char *selector, bool running_only, int *out)
{
    struct cluster *c = env->cluster;
    int pool[DB_MAX_NODES];
    int n = 0, want;

    for (int i = 0; i < c->n; i++) {
        if (!running_only || cluster_running(c, i)) {
            pool[n++] = i;
        }
    }
    /* Shuffle first, always: the draws consumed don't depend on the
     * selector, and ties are broken at random. */
    shuffle(draw, pool, n);
    if (n == 0) {
        return 0;
    }
    if (strcmp(selector, "leader") == 0) {
        for (int i = 0; i < n; i++) {
            if (pool[i] == c->leader) {
                out[0] = pool[i];
                return 1;
            }
        }
        out[0] = pool[0];
        return 1;
    }
    if (strcmp(selector, "one") == 0) {
        want = 1;
    } else if (strcmp(selector, "minority") == 0) {
        want = (c->n - 1) / 2;
    } else if (strcmp(selector, "majority") == 0) {
        want = c->n / 2 + 1;
    } else {
        want = c->n; /* all */
    }
    if (want < 1) {
        want = 1;
    }
    if (want > n) {
        want = n;
    }
    memcpy(out, pool, sizeof(int) * (size_t)want);
    return want;
}

const char *nemesis_draw_selector(struct nemesis_env *env, struct rng *draw)
{
    const struct scenario *s = env->s;
    env->selector = s->nemesis.n_targets == 0
                        ? "one"
                        : s->nemesis.targets[rng_below(
                              draw, (uint64_t)s->nemesis.n_targets)];
    return env->selector;
}

int nemesis_replay_nodes(struct nemesis_env *env, const json_t *names, int *out)
{
    size_t i;
    json_t *name;
    int n = 0;

    if (json_is_object(names)) { /* a reactive fault's {"nodes": [...]} */
        names = json_object_get(names, "nodes");
    }
    json_array_foreach(names, i, name)
    {
        for (int k = 0; k < env->cluster->n && n < DB_MAX_NODES; k++) {
            if (json_is_string(name) &&
                strcmp(json_string_value(name),
                       env->cluster->nodes[k].spec.name) == 0) {
                out[n++] = k;
                break;
            }
        }
    }
    return n;
}

json_t *nemesis_node_names(struct nemesis_env *env, const int *idx, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(
            a, json_string(env->cluster->nodes[idx[i]].spec.name));
    }
    return a;
}

int nemesis_netns_run(struct nemesis_env *env, int i, char *const argv[])
{
    char *full[40];
    int k = 0;
    if (env->cluster->dry_run) {
        return 0;
    }
    full[k++] = "ip";
    full[k++] = "netns";
    full[k++] = "exec";
    full[k++] = env->cluster->nodes[i].spec.netns;
    for (int j = 0; argv[j] != NULL && k < 39; j++) {
        full[k++] = argv[j];
    }
    full[k] = NULL;
    return sandbox_run(full, env->log_fd);
}

/* --- the plan --------------------------------------------------------------
 */

int nemesis_plan(const struct scenario *s, uint64_t seed,
                 struct nemesis_step *steps, int max)
{
    const struct nemesis_ops *ops[SCENARIO_MAX_FAULTS];
    struct rng r;
    int n_ops = 0, n = 0;

    for (int i = 0; i < s->nemesis.n_faults; i++) {
        const struct nemesis_ops *o = nemesis_find(s->nemesis.faults[i]);
        if (o != NULL) {
            ops[n_ops++] = o;
        }
    }
    if (n_ops == 0) {
        return 0;
    }
    rng_init(&r, seed);
    /* A fault starts every interval, give or take a quarter of it, and
     * every fault ends before the fault phase does. */
    for (double t = s->nemesis.interval_s; n < max;
         t += s->nemesis.interval_s) {
        double jitter = (rng_unit(&r) - 0.5) * 0.5 * s->nemesis.interval_s;
        double at = t + jitter;
        struct nemesis_step *st;
        if (at + s->nemesis.duration_s > s->duration_s) {
            break;
        }
        st = &steps[n++];
        st->at_s = at;
        st->duration_s = s->nemesis.duration_s;
        st->ops = ops[rng_below(&r, (uint64_t)n_ops)];
        st->draw = rng_next(&r);
        st->replay = NULL;
    }
    return n;
}

struct capture {
    json_t *value; /* the first invoke's value: what the fault starts with */
};

static void capture_record(void *arg, enum history_type type, const char *f,
                           json_t *value)
{
    struct capture *cap = arg;
    if (type == HISTORY_INVOKE && cap->value == NULL) {
        cap->value = value;
    } else {
        json_decref(value);
    }
}

void nemesis_plan_print(FILE *f, const struct scenario *s,
                        const struct nemesis_step *steps, int n)
{
    struct cluster c;
    uv_loop_t loop;
    struct capture cap;
    struct nemesis_env env;

    uv_loop_init(&loop);
    cluster_init_dry(&c, db_find(s->db.name), scenario_db_settings(s),
                     s->nodes, "RUN_DIR");
    cluster_set_members(&c, s->members);
    env = (struct nemesis_env){
        .loop = &loop,
        .cluster = &c,
        .s = s,
        .log_fd = -1,
        .record = capture_record,
        .arg = &cap,
    };
    for (int i = 0; i < n; i++) {
        struct rng draw;
        void *state = NULL;
        char *text = NULL;
        int rv;

        cap.value = NULL;
        env.selector = NULL;
        rng_init(&draw, steps[i].draw);
        rv = steps[i].ops->start(&env, &draw, &state);
        if (rv == 0) {
            steps[i].ops->stop(&env, state);
        }
        if (cap.value != NULL) {
            text = json_dumps(cap.value, JSON_COMPACT | JSON_SORT_KEYS |
                                           JSON_REAL_PRECISION(6));
        }
        fprintf(f, "%8.3f s  %-10s for %6.3f s  %s%s\n", steps[i].at_s,
                steps[i].ops->name, steps[i].duration_s,
                text != NULL ? text : rv == -EAGAIN ? "(skipped: nothing to "
                                                      "act on)"
                                                    : "",
                env.selector != NULL && strcmp(env.selector, "leader") == 0
                    ? "  (target: the leader at that time)"
                    : "");
        free(text);
        json_decref(cap.value);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* close what the faults opened */
    uv_loop_close(&loop);
}

/* --- the scheduler ----------------------------------------------------------
 */

struct active {
    struct nemesis *owner;
    const struct nemesis_ops *ops; /* NULL when the slot is free */
    void *state;
    uv_timer_t timer; /* ends the fault */
};

struct nemesis {
    struct nemesis_env env;
    struct nemesis_step *plan;
    int n_plan;
    int next; /* next step to start */
    uv_timer_t tick;
    uint64_t t0; /* uv_now at nemesis_start */
    bool healed;
    struct active active[MAX_ACTIVE];
    int started;
    int started_kind[MAX_KINDS]; /* by position in kinds[] */
    int closing; /* handles whose close callback has not run yet */
    struct reactive *reactive; /* nemesis.rules; NULL without rules */
};

static void end_fault(struct active *a)
{
    const struct nemesis_ops *ops = a->ops;
    if (ops == NULL) {
        return;
    }
    a->ops = NULL;
    uv_timer_stop(&a->timer);
    ops->stop(&a->owner->env, a->state);
    a->state = NULL;
}

static void fault_timer_cb(uv_timer_t *t)
{
    end_fault(t->data);
}

static void arm(struct nemesis *n);

static void tick_cb(uv_timer_t *t)
{
    struct nemesis *n = t->data;
    struct nemesis_step *st = &n->plan[n->next++];
    struct active *slot = NULL;
    struct rng draw;

    rng_init(&draw, st->draw);
    n->env.replay = st->replay;
    for (int i = 0; i < MAX_ACTIVE; i++) {
        if (n->active[i].ops == NULL) {
            slot = &n->active[i];
            break;
        }
    }
    if (slot != NULL && st->ops->start(&n->env, &draw, &slot->state) == 0) {
        slot->ops = st->ops;
        n->started++;
        for (int k = 0; kinds[k] != NULL && k < MAX_KINDS; k++) {
            if (kinds[k] == st->ops) {
                n->started_kind[k]++;
            }
        }
        uv_timer_start(&slot->timer, fault_timer_cb,
                       (uint64_t)(st->duration_s * 1000), 0);
    }
    n->env.replay = NULL;
    arm(n);
}

/* Set the timer for the next planned step. */
static void arm(struct nemesis *n)
{
    uint64_t now, due;
    if (n->healed || n->next >= n->n_plan) {
        return;
    }
    now = uv_now(n->env.loop);
    due = n->t0 + (uint64_t)(n->plan[n->next].at_s * 1000);
    uv_timer_start(&n->tick, tick_cb, due > now ? due - now : 0, 0);
}

void nemesis_steps_clear(struct nemesis_step *steps, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(steps[i].replay);
        steps[i].replay = NULL;
    }
}

/* The scheduler, with an empty plan of room MAX_STEPS. */
static struct nemesis *scheduler_new(const struct nemesis_env *env)
{
    struct nemesis *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return NULL;
    }
    n->plan = calloc(MAX_STEPS, sizeof *n->plan);
    if (n->plan == NULL) {
        free(n);
        return NULL;
    }
    n->env = *env;
    n->env.replay = NULL;
    uv_timer_init(env->loop, &n->tick);
    n->tick.data = n;
    for (int i = 0; i < MAX_ACTIVE; i++) {
        n->active[i].owner = n;
        uv_timer_init(env->loop, &n->active[i].timer);
        n->active[i].timer.data = &n->active[i];
    }
    return n;
}

struct nemesis *nemesis_new(const struct nemesis_env *env, uint64_t seed)
{
    struct nemesis *n = scheduler_new(env);
    if (n != NULL) {
        n->n_plan = nemesis_plan(env->s, seed, n->plan, MAX_STEPS);
    }
    if (n != NULL && env->s->nemesis.rules.n > 0) { /* reactive rules */
        n->reactive = reactive_new(env, seed);
        if (n->reactive == NULL) {
            nemesis_free(n);
            return NULL;
        }
    }
    return n;
}

struct nemesis *nemesis_new_replay(const struct nemesis_env *env,
                                   struct nemesis_step *steps, int count)
{
    struct nemesis *n = scheduler_new(env);
    if (n == NULL) {
        return NULL;
    }
    n->n_plan = count < MAX_STEPS ? count : MAX_STEPS;
    memcpy(n->plan, steps, sizeof *steps * (size_t)n->n_plan);
    for (int i = 0; i < n->n_plan; i++) {
        steps[i].replay = NULL; /* taken over */
    }
    return n;
}

int nemesis_start(struct nemesis *n)
{
    n->t0 = uv_now(n->env.loop);
    arm(n);
    return n->reactive != NULL ? reactive_start(n->reactive) : 0;
}

void nemesis_heal(struct nemesis *n)
{
    n->healed = true;
    uv_timer_stop(&n->tick);
    if (n->reactive != NULL) {
        reactive_heal(n->reactive);
    }
    for (int i = 0; i < MAX_ACTIVE; i++) {
        end_fault(&n->active[i]);
    }
}

void nemesis_describe(struct nemesis *n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < MAX_ACTIVE && used + 3 < size; i++) {
        struct active *a = &n->active[i];
        if (a->ops == NULL) {
            continue;
        }
        if (used > 0) {
            used += (size_t)snprintf(buf + used, size - used, ", ");
        }
        a->ops->describe(&n->env, a->state, buf + used, size - used);
        used = strlen(buf);
    }
    if (n->reactive != NULL) {
        reactive_describe(n->reactive, buf, size);
    }
}

int nemesis_count(const struct nemesis *n)
{
    return n->started +
           (n->reactive != NULL ? reactive_count(n->reactive) : 0);
}

void nemesis_reactive_summary(const struct nemesis *n, char *buf,
                              size_t size)
{
    buf[0] = '\0';
    if (n != NULL && n->reactive != NULL) {
        reactive_summary(n->reactive, buf, size);
    }
}

void nemesis_count_kinds(const struct nemesis *n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; kinds[k] != NULL && k < MAX_KINDS && used < size; k++) {
        int count = n->started_kind[k] +
                    (n->reactive != NULL
                         ? reactive_count_kind(n->reactive, kinds[k])
                         : 0); /* reactive rules' faults of that kind */
        if (count > 0) {
            used += (size_t)snprintf(buf + used, size - used, "%s%s %d",
                                     used > 0 ? ", " : "", kinds[k]->name,
                                     count);
        }
    }
    if (used == 0) {
        snprintf(buf, size, "none");
    }
}

static void release(struct nemesis *n)
{
    if (--n->closing == 0) {
        nemesis_steps_clear(n->plan, n->n_plan);
        free(n->plan);
        free(n);
    }
}

static void tick_close_cb(uv_handle_t *h)
{
    release(h->data);
}

static void active_close_cb(uv_handle_t *h)
{
    release(((struct active *)h->data)->owner);
}

void nemesis_free(struct nemesis *n)
{
    if (n == NULL) {
        return;
    }
    nemesis_heal(n);
    reactive_free(n->reactive);
    n->reactive = NULL;
    n->closing = 1 + MAX_ACTIVE;
    uv_close((uv_handle_t *)&n->tick, tick_close_cb);
    for (int i = 0; i < MAX_ACTIVE; i++) {
        uv_close((uv_handle_t *)&n->active[i].timer, active_close_cb);
    }
}
