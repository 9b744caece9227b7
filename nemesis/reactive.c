/* reactive: the decisions of nemesis.rules over node events, and the live
 * nemesis that carries them out (see the header). */
#include "nemesis/reactive.h"

#include "nemesis/process.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PENDING   32   /* fires waiting for their delay */
#define MAX_ACTIVE    16   /* reactive faults in effect at once */
#define MAX_LATENCIES 8192 /* kept for the summary */

/* --- decisions (pure) ------------------------------------------------------
 */

uint64_t reactive_rule_seed(uint64_t run_seed, int i)
{
    struct rng r;
    /* A stream apart from the clients' (2s+1) and the plan's (2s+2). */
    rng_init(&r, run_seed * 0x9e3779b97f4a7c15ULL + 0x5eac7 + (uint64_t)i);
    return rng_next(&r) ^ ((uint64_t)i << 32);
}

void reactive_state_init(struct reactive_state *st,
                         const struct nemesis_rules *rules, uint64_t run_seed,
                         int n_nodes)
{
    memset(st, 0, sizeof *st);
    st->rules = rules;
    st->n_nodes = n_nodes < DB_MAX_NODES ? n_nodes : DB_MAX_NODES;
    for (int i = 0; i < RULE_MAX; i++) {
        rng_init(&st->rng[i], reactive_rule_seed(run_seed, i));
        st->last_fire_ns[i] = -1;
    }
}

static int64_t event_ns(const struct node_event *e)
{
    return e->mono_ns >= 0 ? e->mono_ns : (int64_t)e->read_ns;
}

/* What the event says of its node's role. */
static void track_role(struct reactive_state *st, const struct node_event *e)
{
    json_t *term = json_object_get(e->obj, "term");
    int i = e->node;

    if (i < 0 || i >= st->n_nodes) {
        return;
    }
    if (strcmp(e->event, "became_leader") == 0) {
        st->role[i] = RULE_ROLE_LEADER;
    } else if (strcmp(e->event, "became_follower") == 0 ||
               strcmp(e->event, "start") == 0 ||
               strcmp(e->event, "recovered") == 0) {
        st->role[i] = RULE_ROLE_FOLLOWER;
    } else if (strcmp(e->event, "became_candidate") == 0) {
        st->role[i] = RULE_ROLE_CANDIDATE;
    } else if (strcmp(e->event, "stopping") == 0 ||
               strcmp(e->event, "shutdown") == 0) {
        st->role[i] = RULE_ROLE_ANY;
    }
    if (json_is_integer(term) && json_integer_value(term) > st->term[i]) {
        st->term[i] = json_integer_value(term);
    }
}

void reactive_observe(struct reactive_state *st, const struct node_event *e)
{
    track_role(st, e);
}

/* The node whose events last said it leads, with the highest term. */
static int known_leader(const struct reactive_state *st)
{
    int best = -1;
    for (int i = 0; i < st->n_nodes; i++) {
        if (st->role[i] == RULE_ROLE_LEADER &&
            (best < 0 || st->term[i] > st->term[best])) {
            best = i;
        }
    }
    return best;
}

static void decide_targets(const struct reactive_state *st,
                           const struct nemesis_rule *rule,
                           const struct node_event *e,
                           struct reactive_decision *d)
{
    int leader;
    d->n_targets = 0;
    switch (rule->target) {
    case RULE_TARGET_SELF:
        d->targets[d->n_targets++] = e->node;
        break;
    case RULE_TARGET_LEADER:
        leader = known_leader(st);
        if (leader >= 0) {
            d->targets[d->n_targets++] = leader;
        }
        break;
    case RULE_TARGET_OTHERS:
        for (int i = 0; i < st->n_nodes; i++) {
            if (i != e->node) {
                d->targets[d->n_targets++] = i;
            }
        }
        break;
    case RULE_TARGET_ALL:
        for (int i = 0; i < st->n_nodes; i++) {
            d->targets[d->n_targets++] = i;
        }
        break;
    }
}

int reactive_on_event(struct reactive_state *st, const struct node_event *e,
                      struct reactive_decision *out)
{
    int n = 0;
    int64_t now = event_ns(e);

    track_role(st, e);
    for (int i = 0; i < st->rules->n && i < RULE_MAX; i++) {
        const struct nemesis_rule *rule = &st->rules->rule[i];
        struct reactive_decision *d;
        double u_fire, u_delay;

        if (strcmp(rule->on, e->event) != 0) {
            continue;
        }
        /* The same two draws for every event the rule names. */
        u_fire = rng_unit(&st->rng[i]);
        u_delay = rng_unit(&st->rng[i]);
        d = &out[n++];
        memset(d, 0, sizeof *d);
        d->rule = i;
        d->delay_ms = rule->delay_ms[0] +
                      u_delay * (rule->delay_ms[1] - rule->delay_ms[0]);
        if (rule->role != RULE_ROLE_ANY &&
            (e->node < 0 || e->node >= st->n_nodes ||
             st->role[e->node] != rule->role)) {
            d->why = "role";
        } else if (!rule_where_matches(rule, e->obj)) {
            d->why = "where";
        } else if (st->fired[i] >= rule->max) {
            d->why = "max";
        } else if (st->last_fire_ns[i] >= 0 &&
                   (double)(now - st->last_fire_ns[i]) / 1e6 <
                       rule->cooldown_ms) {
            d->why = "cooldown";
        } else if (!(u_fire < rule->probability)) {
            d->why = "probability";
        } else {
            decide_targets(st, rule, e, d);
            if (d->n_targets == 0) {
                d->why = rule->target == RULE_TARGET_LEADER ? "no leader"
                                                            : "no target";
            } else {
                d->fire = true;
                st->fired[i]++;
                st->last_fire_ns[i] = now;
            }
        }
    }
    return n;
}

int reactive_decide(const struct nemesis_rules *rules, uint64_t run_seed,
                    int n_nodes, const struct node_event *events, int n,
                    struct reactive_decision *out, int max)
{
    struct reactive_state st;
    struct reactive_decision batch[RULE_MAX];
    int total = 0;

    reactive_state_init(&st, rules, run_seed, n_nodes);
    for (int k = 0; k < n; k++) {
        int got = reactive_on_event(&st, &events[k], batch);
        for (int j = 0; j < got; j++, total++) {
            if (total < max) {
                out[total] = batch[j];
                out[total].event = k;
            }
        }
    }
    return total;
}

/* --- the live nemesis ------------------------------------------------------
 */

struct reactive;

/* A fire waiting for its delay. */
struct pending {
    struct reactive *owner;
    uv_timer_t timer;
    bool used;
    struct reactive_decision d;
    json_t *trigger;
    int64_t event_ns;
};

/* A reactive fault in effect (or started, for crash-restart, whose stop
 * only lets go). Its env records through wrap_record. */
struct fire {
    struct reactive *owner;
    uv_timer_t timer;              /* ends the fault */
    const struct nemesis_ops *ops; /* NULL: free slot */
    void *state;
    struct nemesis_env env;
    const char *verb; /* f of the fault's own start events */
    json_t *trigger;
    int rule;
    int64_t event_ns;
    double delay_ms; /* drawn */
    int wrapped;     /* 0: next is the start invoke; 1: its info; 2: done */
};

struct reactive {
    struct nemesis_env env;
    struct reactive_state st;
    bool subscribed;
    bool healed;
    struct pending pending[MAX_PENDING];
    struct fire fires[MAX_ACTIVE];
    int started;
    int started_kind[16]; /* by index in rule_fault_names */
    int decisions;
    int skipped; /* decided to fire, could not */
    /* beyond the drawn delay: faults by signal, and partitions (iptables
     * rules added one command at a time: tens of ms) */
    double latency_ms[MAX_LATENCIES];
    int n_latency;
    double cut_ms[MAX_LATENCIES];
    int n_cut;
    int closing;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rlog(struct reactive *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rlog(struct reactive *r, const char *fmt, ...)
{
    va_list ap;
    FILE *log = r->env.cluster->log;
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    if (log == NULL) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(log, "%s.%03ld reactive: ", stamp, ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

static int fault_index(const char *name)
{
    for (int k = 0; rule_fault_names[k] != NULL; k++) {
        if (strcmp(rule_fault_names[k], name) == 0) {
            return k;
        }
    }
    return -1;
}

/* The f a fault kind records when it starts. */
static const char *start_verb(const char *fault)
{
    return strcmp(fault, "restart") == 0 ? "stop" : fault;
}

/* The fault's own start invoke and info get the trigger (and the info the
 * latency); everything else passes as it is. */
static void wrap_record(void *arg, enum history_type type, const char *f,
                        json_t *value)
{
    struct fire *fi = arg;
    struct reactive *r = fi->owner;

    if (fi->wrapped < 2 && strcmp(f, fi->verb) == 0 &&
        ((type == HISTORY_INVOKE && fi->wrapped == 0) ||
         (type == HISTORY_INFO && fi->wrapped == 1))) {
        json_t *v;
        if (json_is_object(value)) {
            v = value;
        } else {
            v = json_object();
            json_object_set_new(v, "nodes",
                                value != NULL ? value : json_null());
        }
        json_object_set(v, "trigger", fi->trigger);
        json_object_set_new(v, "rule", json_integer(fi->rule));
        if (type == HISTORY_INFO) {
            double ms = (double)(mono_ns() - fi->event_ns) / 1e6;
            json_object_set_new(v, "latency_ms", json_real(ms));
            json_object_set_new(v, "delay_ms", json_real(fi->delay_ms));
            double late = ms > fi->delay_ms ? ms - fi->delay_ms : 0;
            if (strcmp(f, "partition") == 0) {
                if (r->n_cut < MAX_LATENCIES) {
                    r->cut_ms[r->n_cut++] = late;
                }
            } else if (r->n_latency < MAX_LATENCIES) {
                r->latency_ms[r->n_latency++] = late;
            }
        }
        fi->wrapped++;
        value = v;
    }
    r->env.record(r->env.arg, type, f, value);
}

/* {"shape": "isolate", "drops": ...}: @targets cut off from the rest. */
static json_t *isolate_json(struct reactive *r, const int *targets, int n)
{
    struct cluster *c = r->env.cluster;
    bool in[DB_MAX_NODES] = {false};
    json_t *drops = json_object();

    for (int k = 0; k < n; k++) {
        in[targets[k]] = true;
    }
    for (int i = 0; i < c->n; i++) {
        json_t *from = json_array();
        for (int j = 0; j < c->n; j++) {
            if (in[i] != in[j]) {
                json_array_append_new(from, json_string(c->nodes[j].spec.name));
            }
        }
        json_object_set_new(drops, c->nodes[i].spec.name, from);
    }
    return json_pack("{s:s, s:o}", "shape", "isolate", "drops", drops);
}

static void fire_timer_cb(uv_timer_t *t);

static void end_fire(struct fire *fi)
{
    const struct nemesis_ops *ops = fi->ops;
    if (ops == NULL) {
        return;
    }
    fi->ops = NULL;
    uv_timer_stop(&fi->timer);
    ops->stop(&fi->env, fi->state);
    fi->state = NULL;
    json_decref(fi->trigger);
    fi->trigger = NULL;
}

/* Does the fault's end start nodes that are killed but not reaped yet? Then
 * it must wait: cluster_start does nothing for a node still running, and a
 * short fault (a 50 ms power cut) ends before the loop reaps its node. */
static bool reaping(const struct fire *fi)
{
    const struct proc_fault *f = fi->state;
    const struct cluster *c = fi->owner->env.cluster;
    if (fi->ops == NULL || fi->ops->stop != proc_fault_start_again ||
        c->stopping) {
        return false;
    }
    for (int k = 0; k < f->n; k++) {
        if (c->nodes[f->nodes[k]].proc != NULL &&
            c->nodes[f->nodes[k]].killed) {
            return true;
        }
    }
    return false;
}

static void fire_timer_cb(uv_timer_t *t)
{
    struct fire *fi = t->data;
    if (reaping(fi)) {
        uv_timer_start(&fi->timer, fire_timer_cb, 1, 0);
        return;
    }
    end_fire(fi);
}

static void fire(struct reactive *r, const struct reactive_decision *d,
                 json_t *trigger, int64_t event_ns)
{
    const struct nemesis_rule *rule = &r->env.s->nemesis.rules.rule[d->rule];
    const struct nemesis_ops *ops = nemesis_find(rule->fault);
    struct cluster *c = r->env.cluster;
    struct fire *fi = NULL;
    int targets[DB_MAX_NODES];
    int n = 0, rv, kind;
    struct rng draw;
    json_t *replay;
    bool is_partition;

    if (r->healed || ops == NULL) {
        return;
    }
    is_partition = strcmp(ops->name, "partition") == 0;
    for (int k = 0; k < d->n_targets; k++) {
        if (is_partition || cluster_running(c, d->targets[k])) {
            targets[n++] = d->targets[k];
        }
    }
    for (int k = 0; k < MAX_ACTIVE && fi == NULL; k++) {
        if (r->fires[k].ops == NULL) {
            fi = &r->fires[k];
        }
    }
    if (n == 0 || fi == NULL) {
        r->skipped++;
        rlog(r, "rule %d: %s: skipped (%s)", d->rule, rule->fault,
             n == 0 ? "no target running" : "too many active faults");
        return;
    }
    replay = is_partition ? isolate_json(r, targets, n)
                          : nemesis_node_names(&r->env, targets, n);
    fi->env = r->env;
    fi->env.record = wrap_record;
    fi->env.arg = fi;
    fi->env.replay = replay;
    fi->verb = start_verb(rule->fault);
    fi->trigger = json_incref(trigger);
    fi->rule = d->rule;
    fi->event_ns = event_ns;
    fi->delay_ms = d->delay_ms;
    fi->wrapped = 0;
    rng_init(&draw, (uint64_t)event_ns ^ (uint64_t)d->rule);
    rv = ops->start(&fi->env, &draw, &fi->state);
    fi->env.replay = NULL;
    json_decref(replay);
    if (rv != 0) {
        json_decref(fi->trigger);
        fi->trigger = NULL;
        r->skipped++;
        rlog(r, "rule %d: %s: skipped (%s)", d->rule, rule->fault,
             rv == -EAGAIN ? "can't apply now" : strerror(-rv));
        return;
    }
    fi->ops = ops;
    r->started++;
    kind = fault_index(rule->fault);
    if (kind >= 0 && kind < 16) {
        r->started_kind[kind]++;
    }
    uv_timer_start(&fi->timer, fire_timer_cb,
                   strcmp(ops->name, "crash-restart") == 0
                       ? 0 /* it only lets go; the restart is its own */
                       : (uint64_t)rule->duration_ms,
                   0);
}

static void pending_cb(uv_timer_t *t)
{
    struct pending *p = t->data;
    p->used = false;
    fire(p->owner, &p->d, p->trigger, p->event_ns);
    json_decref(p->trigger);
    p->trigger = NULL;
}

/* {"node": "n2", "event": ..., "mono": ..., and the event's own fields}. */
static json_t *trigger_json(struct reactive *r, const struct node_event *e)
{
    json_t *t = json_deep_copy(e->obj);
    if (t == NULL) {
        t = json_object();
    }
    json_object_set_new(t, "node",
                        json_string(r->env.cluster->nodes[e->node].spec.name));
    json_object_set_new(t, "event", json_string(e->event));
    json_object_set_new(t, "mono", json_integer(event_ns(e)));
    return t;
}

static void on_event(void *arg, const struct node_event *e)
{
    struct reactive *r = arg;
    struct reactive_decision ds[RULE_MAX];
    int64_t ens = event_ns(e);
    json_t *trigger = NULL;
    int n;

    if (r->healed || e->node < 0 || e->node >= r->env.cluster->n) {
        return;
    }
    n = reactive_on_event(&r->st, e, ds);
    r->decisions += n;
    for (int k = 0; k < n; k++) {
        const struct reactive_decision *d = &ds[k];
        double wait_ms;
        if (!d->fire) {
            continue;
        }
        if (trigger == NULL) {
            trigger = trigger_json(r, e);
        }
        wait_ms = d->delay_ms - (double)(mono_ns() - ens) / 1e6;
        if (wait_ms < 0.5) {
            fire(r, d, trigger, ens);
            continue;
        }
        struct pending *p = NULL;
        for (int j = 0; j < MAX_PENDING && p == NULL; j++) {
            if (!r->pending[j].used) {
                p = &r->pending[j];
            }
        }
        if (p == NULL) {
            r->skipped++;
            rlog(r, "rule %d: skipped (too many fires waiting)", d->rule);
            continue;
        }
        p->used = true;
        p->d = *d;
        p->trigger = json_incref(trigger);
        p->event_ns = ens;
        uv_timer_start(&p->timer, pending_cb, (uint64_t)(wait_ms + 0.5), 0);
    }
    json_decref(trigger);
}

struct reactive *reactive_new(const struct nemesis_env *env, uint64_t run_seed)
{
    struct reactive *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->env = *env;
    r->env.replay = NULL;
    reactive_state_init(&r->st, &r->env.s->nemesis.rules, run_seed,
                        env->cluster->n);
    for (int k = 0; k < MAX_PENDING; k++) {
        r->pending[k].owner = r;
        uv_timer_init(env->loop, &r->pending[k].timer);
        r->pending[k].timer.data = &r->pending[k];
    }
    for (int k = 0; k < MAX_ACTIVE; k++) {
        r->fires[k].owner = r;
        uv_timer_init(env->loop, &r->fires[k].timer);
        r->fires[k].timer.data = &r->fires[k];
    }
    return r;
}

/* The roles the nodes announced before the rules went live: each node's
 * last role event, by its own clock. */
static void learn_roles(struct reactive *r)
{
    static const char *const names[] = {
        "start",         "recovered", "became_follower", "became_candidate",
        "became_leader", "stopping",  "shutdown",        NULL,
    };
    struct node_events *ev = r->env.cluster->events;
    for (int i = 0; i < r->env.cluster->n; i++) {
        const json_t *latest = NULL;
        const char *latest_name = NULL;
        for (int k = 0; names[k] != NULL; k++) {
            const json_t *o = node_events_last(ev, i, names[k]);
            if (o != NULL &&
                (latest == NULL ||
                 json_integer_value(json_object_get(o, "mono")) >
                     json_integer_value(json_object_get(latest, "mono")))) {
                latest = o;
                latest_name = names[k];
            }
        }
        if (latest != NULL) {
            struct node_event e = {.node = i,
                                   .event = latest_name,
                                   .mono_ns = -1,
                                   .time_ns = -1,
                                   .obj = latest};
            reactive_observe(&r->st, &e);
        }
    }
}

int reactive_start(struct reactive *r)
{
    int rv;
    if (r->env.s->nemesis.rules.n == 0 || r->env.cluster->events == NULL) {
        return 0;
    }
    learn_roles(r);
    rv = node_events_subscribe(r->env.cluster->events, on_event, r);
    if (rv == 0) {
        r->subscribed = true;
        rlog(r, "%d rules live", r->env.s->nemesis.rules.n);
    }
    return rv;
}

void reactive_heal(struct reactive *r)
{
    if (r->healed) {
        return;
    }
    r->healed = true;
    if (r->subscribed && r->env.cluster->events != NULL) {
        node_events_unsubscribe(r->env.cluster->events, on_event, r);
    }
    r->subscribed = false;
    for (int k = 0; k < MAX_PENDING; k++) {
        if (r->pending[k].used) {
            uv_timer_stop(&r->pending[k].timer);
            json_decref(r->pending[k].trigger);
            r->pending[k].trigger = NULL;
            r->pending[k].used = false;
        }
    }
    for (int k = 0; k < MAX_ACTIVE; k++) {
        if (reaping(&r->fires[k])) { /* ends once its nodes are reaped */
            uv_timer_start(&r->fires[k].timer, fire_timer_cb, 1, 0);
        } else {
            end_fire(&r->fires[k]);
        }
    }
}

void reactive_describe(struct reactive *r, char *buf, size_t size)
{
    size_t used = strlen(buf);
    for (int k = 0; k < MAX_ACTIVE && used + 3 < size; k++) {
        struct fire *fi = &r->fires[k];
        if (fi->ops == NULL) {
            continue;
        }
        if (used > 0) {
            used += (size_t)snprintf(buf + used, size - used, ", ");
        }
        fi->ops->describe(&fi->env, fi->state, buf + used, size - used);
        used = strlen(buf);
    }
}

int reactive_count(const struct reactive *r)
{
    return r->started;
}

int reactive_count_kind(const struct reactive *r, const struct nemesis_ops *ops)
{
    int k = fault_index(ops->name);
    return k >= 0 && k < 16 ? r->started_kind[k] : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* "p50 x ms, p99 y ms, max z ms" of @v[0..n) (sorted in place). */
static size_t percentiles(double *v, int n, char *buf, size_t size)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return (size_t)snprintf(buf, size, "p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                            v[(n - 1) / 2], v[(int)((n - 1) * 0.99 + 0.5)],
                            v[n - 1]);
}

void reactive_summary(const struct reactive *r, char *buf, size_t size)
{
    static double sorted[MAX_LATENCIES];
    size_t used;

    if (r->n_latency + r->n_cut == 0) {
        snprintf(buf, size,
                 "reactive: no rule fired (%d decisions, %d "
                 "skipped)",
                 r->decisions, r->skipped);
        return;
    }
    used = (size_t)snprintf(buf, size,
                            "reactive: %d faults fired of %d decisions (%d "
                            "skipped); event-to-fault latency beyond the "
                            "drawn delay",
                            r->started, r->decisions, r->skipped);
    if (r->n_latency > 0 && used < size) {
        memcpy(sorted, r->latency_ms, sizeof(double) * (size_t)r->n_latency);
        used += (size_t)snprintf(buf + used, size - used,
                                 ", signal (%d): ", r->n_latency);
        if (used < size) {
            used += percentiles(sorted, r->n_latency, buf + used, size - used);
        }
    }
    if (r->n_cut > 0 && used < size) {
        memcpy(sorted, r->cut_ms, sizeof(double) * (size_t)r->n_cut);
        used += (size_t)snprintf(buf + used, size - used,
                                 ", partition (%d): ", r->n_cut);
        if (used < size) {
            percentiles(sorted, r->n_cut, buf + used, size - used);
        }
    }
}

static void release(struct reactive *r)
{
    if (--r->closing == 0) {
        free(r);
    }
}

static void pending_close_cb(uv_handle_t *h)
{
    release(((struct pending *)h->data)->owner);
}

static void fire_close_cb(uv_handle_t *h)
{
    release(((struct fire *)h->data)->owner);
}

void reactive_free(struct reactive *r)
{
    if (r == NULL) {
        return;
    }
    reactive_heal(r);
    for (int k = 0; k < MAX_ACTIVE; k++) {
        end_fire(&r->fires[k]); /* the run is over: no more waiting */
    }
    r->closing = MAX_PENDING + MAX_ACTIVE;
    for (int k = 0; k < MAX_PENDING; k++) {
        uv_close((uv_handle_t *)&r->pending[k].timer, pending_close_cb);
    }
    for (int k = 0; k < MAX_ACTIVE; k++) {
        uv_close((uv_handle_t *)&r->fires[k].timer, fire_close_cb);
    }
}
