/* workload: concurrent logical clients issuing operations into a history. */
#ifndef FAULTLINE_WORKLOAD_H
#define FAULTLINE_WORKLOAD_H

#include <stdint.h>

#include <uv.h>

#include "histories/history.h"
#include "nodes/client.h"
#include "runner/cluster.h"
#include "runner/rng.h"
#include "runner/scenario.h"

struct workload_stats {
    int64_t invoked;
    int64_t ok;
    int64_t fail;
    int64_t info;
    int64_t redirects;
};

struct workload_env {
    struct cluster *cluster;
    const struct client_ops *client;
    const struct scenario *s;
    struct rng *rng; /* the workload's own stream */
    /* Write one event to the history; @e is borrowed. */
    void (*record)(void *arg, struct history_event *e);
    void *arg;
};

struct workload;

/* A workload on @loop (env copied). NULL when out of memory. */
struct workload *workload_new(uv_loop_t *loop, const struct workload_env *env);

/* Start every client. */
int workload_start(struct workload *w);

/* Issue no new operations; @done runs once every open one has completed
 * (each is bounded by the op timeout). */
void workload_stop(struct workload *w, void (*done)(void *arg), void *arg);

/* Drop every open operation at once without recording a completion: they
 * stay open in the history, which is what an interrupted run knows. */
void workload_abort(struct workload *w);

const struct workload_stats *workload_stats(const struct workload *w);

/* Close the handles and free @w (after the loop runs the close callbacks). */
void workload_free(struct workload *w);

#endif /* FAULTLINE_WORKLOAD_H */
