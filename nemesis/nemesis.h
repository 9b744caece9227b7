/* nemesis: faults injected into a run, on a schedule drawn from its seed.
 *
 * Jepsen's nemesis protocol as a table: a fault kind is a struct nemesis_ops
 * that can start one fault (choosing its targets with the run's generator)
 * and stop it again. The scheduler starts a fault every interval, stops each
 * after its duration, and heal() stops every fault still active. Every start
 * and stop is written to the history as a nemesis event. */
#ifndef FAULTLINE_NEMESIS_H
#define FAULTLINE_NEMESIS_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "histories/history.h"
#include "runner/cluster.h"
#include "runner/rng.h"
#include "runner/scenario.h"

/* What a fault acts on, and how it reports. */
struct nemesis_env {
    struct cluster *cluster;
    const struct scenario *s;
    struct rng *rng; /* the nemesis's own stream: same seed, same schedule */
    /* Write a nemesis event; @value is stolen (may be NULL). */
    void (*record)(void *arg, enum history_type type, const char *f,
                   json_t *value);
    void *arg;
};

/* One fault kind. */
struct nemesis_ops {
    const char *name;
    /* Start one fault. On success set *@state (what stop() needs) and
     * return 0; -EAGAIN when there is no target now (nothing recorded). */
    int (*start)(struct nemesis_env *env, void **state);
    /* End the fault started with @state, and free @state. */
    int (*stop)(struct nemesis_env *env, void *state);
    /* Describe the active fault @state in a few words, into @buf. */
    void (*describe)(struct nemesis_env *env, void *state, char *buf,
                     size_t size);
};

/* The fault kind called @name ("kill"), or NULL. */
const struct nemesis_ops *nemesis_find(const char *name);

extern const struct nemesis_ops nemesis_kill;

struct nemesis;

/* A scheduler on @loop for the faults of @env->s. @env is copied. */
struct nemesis *nemesis_new(uv_loop_t *loop, const struct nemesis_env *env);

/* Begin: the first fault starts one interval from now. */
int nemesis_start(struct nemesis *n);

/* Stop the schedule and end every active fault. */
void nemesis_heal(struct nemesis *n);

/* Active faults, in a few words ("kill n2"), into @buf. */
void nemesis_describe(struct nemesis *n, char *buf, size_t size);

/* Number of faults started so far. */
int nemesis_count(const struct nemesis *n);

/* Close the handles and free @n (after the loop runs the close callbacks). */
void nemesis_free(struct nemesis *n);

#endif /* FAULTLINE_NEMESIS_H */
