/* workload: concurrent logical clients issuing operations into a history.
 *
 * The client machinery (workload.c) is shared; what the clients do is a
 * workload kind, a small table of functions in a file of its own
 * (workload_register.c, workload_tasks.c, workload_queue.c,
 * workload_lease.c) registered in workload.c. */
#ifndef FAULTLINE_WORKLOAD_H
#define FAULTLINE_WORKLOAD_H

#include <stdbool.h>
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
    int64_t retries; /* invokes that repeat a request (same rid) after info */
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

/* A workload on @loop (env copied), of the kind env->s->workload.name. NULL
 * when out of memory or the kind is unknown. */
struct workload *workload_new(uv_loop_t *loop, const struct workload_env *env);

/* Start every client. */
int workload_start(struct workload *w);

/* Issue no new operations; once every open one has completed (each is
 * bounded by the op timeout), run the kind's final phase (a final read, a
 * drain; bounded by workload.final_s), then call @done. */
void workload_stop(struct workload *w, void (*done)(void *arg), void *arg);

/* Drop every open operation at once without recording a completion: they
 * stay open in the history, which is what an interrupted run knows. */
void workload_abort(struct workload *w);

const struct workload_stats *workload_stats(const struct workload *w);

/* Close the handles and free @w (after the loop runs the close callbacks). */
void workload_free(struct workload *w);

/* --- Writing a workload kind -------------------------------------------- */

/* An operation a kind chooses for one logical client: the history's f, key
 * and invoke value (histories/FORMAT.md). A value that is an object with a
 * "rid" marks a request that is retried with the same value after an info
 * (up to 1 + workload.retries attempts, each a new invoke from the client's
 * new process number). */
struct workload_op {
    char f[16];
    char key[48];  /* "" when the op has no key */
    json_t *value; /* owned by the machinery once chosen */
    bool read;     /* changes nothing: fail/info record null, no leader hint */
};

enum workload_next {
    WORKLOAD_OP,   /* @op is filled in: issue it */
    WORKLOAD_WAIT, /* nothing now: ask again a little later */
    WORKLOAD_DONE, /* final phase: nothing more for this client */
};

struct workload_kind {
    const char *name;
    /* Its own keys in a scenario's "workload" section (the machinery's are
     * name, clients, rate, op_timeout_ms; retries and rids when @rids,
     * final_s when @final); read them with scenario_workload_settings(). */
    const struct settings_table *settings;
    bool rids; /* its requests carry request ids, retried after info */
    /* The kind's state for @n clients; @env is borrowed for the run. NULL
     * when out of memory. */
    void *(*new)(const struct workload_env *env, int n);
    void (*free)(void *state);
    /* Client @c's next operation during the run. */
    enum workload_next (*choose)(void *state, int c, struct workload_op *op);
    /* Client @c's attempt of @op ended with @type; @value is the ok value
     * (FORMAT.md), @error the fail/info code or NULL. All borrowed. */
    void (*completed)(void *state, int c, const struct workload_op *op,
                      enum history_type type, json_t *value, const char *error);
    /* Client @c's next operation of the final phase, which starts once the
     * run stopped and every client is idle. NULL: no final phase. */
    enum workload_next (*final)(void *state, int c, struct workload_op *op);
};

/* The kind named @name, or NULL. */
const struct workload_kind *workload_kind_find(const char *name);

/* The names of every kind, comma-separated, for messages. */
const char *workload_kind_names(void);

/* Helpers for kinds. */

/* The name of logical client @c ("c3"): holders and workers are named after
 * it, and it keeps it across process numbers. */
void workload_client_name(int c, char *buf, size_t size);

/* Set @op's f, key (NULL: none) and value (reference taken over). */
void workload_op_set(struct workload_op *op, const char *f, const char *key,
                     json_t *value, bool read);

/* Milliseconds on the monotonic clock. */
uint64_t workload_now_ms(void);

#endif /* FAULTLINE_WORKLOAD_H */
