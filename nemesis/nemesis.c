/* nemesis: the registry of fault kinds and the schedule that drives them. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACTIVE 16

static const struct nemesis_ops *const kinds[] = {&nemesis_kill, NULL};

const struct nemesis_ops *nemesis_find(const char *name)
{
    for (int i = 0; kinds[i] != NULL; i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

struct active {
    struct nemesis *owner;
    const struct nemesis_ops *ops; /* NULL when the slot is free */
    void *state;
    uv_timer_t timer; /* ends the fault */
};

struct nemesis {
    struct nemesis_env env;
    const struct nemesis_ops *kinds[SCENARIO_MAX_FAULTS];
    int n_kinds;
    uv_timer_t tick;
    struct active active[MAX_ACTIVE];
    int started;
    int closing; /* handles whose close callback has not run yet */
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

static void tick_cb(uv_timer_t *t)
{
    struct nemesis *n = t->data;
    const struct nemesis_ops *ops;
    struct active *slot = NULL;
    double duration_s = n->env.s->nemesis.restart_after_s;

    if (n->n_kinds == 0) {
        return;
    }
    /* Draw first, so that the schedule depends only on the seed. */
    ops = n->kinds[rng_below(n->env.rng, (uint64_t)n->n_kinds)];
    for (int i = 0; i < MAX_ACTIVE; i++) {
        if (n->active[i].ops == NULL) {
            slot = &n->active[i];
            break;
        }
    }
    if (slot == NULL || ops->start(&n->env, &slot->state) != 0) {
        return;
    }
    slot->ops = ops;
    n->started++;
    uv_timer_start(&slot->timer, fault_timer_cb,
                   (uint64_t)(duration_s * 1000), 0);
}

struct nemesis *nemesis_new(uv_loop_t *loop, const struct nemesis_env *env)
{
    struct nemesis *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return NULL;
    }
    n->env = *env;
    for (int i = 0; i < env->s->nemesis.n_faults; i++) {
        const struct nemesis_ops *ops =
            nemesis_find(env->s->nemesis.faults[i]);
        if (ops != NULL) {
            n->kinds[n->n_kinds++] = ops;
        }
    }
    uv_timer_init(loop, &n->tick);
    n->tick.data = n;
    for (int i = 0; i < MAX_ACTIVE; i++) {
        n->active[i].owner = n;
        uv_timer_init(loop, &n->active[i].timer);
        n->active[i].timer.data = &n->active[i];
    }
    return n;
}

int nemesis_start(struct nemesis *n)
{
    uint64_t ms = (uint64_t)(n->env.s->nemesis.interval_s * 1000);
    return uv_timer_start(&n->tick, tick_cb, ms, ms);
}

void nemesis_heal(struct nemesis *n)
{
    uv_timer_stop(&n->tick);
    for (int i = 0; i < MAX_ACTIVE; i++) {
        end_fault(&n->active[i]);
    }
}

void nemesis_describe(struct nemesis *n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < MAX_ACTIVE && used + 1 < size; i++) {
        struct active *a = &n->active[i];
        if (a->ops == NULL) {
            continue;
        }
        if (used > 0) {
            used += (size_t)snprintf(buf + used, size - used, ", ");
        }
        if (used + 1 < size) {
            a->ops->describe(&n->env, a->state, buf + used, size - used);
            used = strlen(buf);
        }
    }
}

int nemesis_count(const struct nemesis *n)
{
    return n->started;
}

static void close_cb(uv_handle_t *h)
{
    struct nemesis *n = h->data;
    if (h != (uv_handle_t *)&n->tick) {
        n = ((struct active *)h->data)->owner;
    }
    if (--n->closing == 0) {
        free(n);
    }
}

void nemesis_free(struct nemesis *n)
{
    if (n == NULL) {
        return;
    }
    nemesis_heal(n);
    n->closing = 1 + MAX_ACTIVE;
    uv_close((uv_handle_t *)&n->tick, close_cb);
    for (int i = 0; i < MAX_ACTIVE; i++) {
        uv_close((uv_handle_t *)&n->active[i].timer, close_cb);
    }
}
