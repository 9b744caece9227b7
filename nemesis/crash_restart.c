/* crash_restart: SIGKILL the target nodes and start them again as soon as
 * each is reaped (milliseconds later): a crash the node must recover from
 * on its own, with no time for the others to move on much. The restart is
 * recorded as "start", as a kill's end is. Stopping the fault only lets go
 * of it: a node not yet reaped is still restarted once it is (unless the
 * run is stopping). */
#include "nemesis/process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 1

struct crash_restart {
    struct proc_fault f; /* first: proc_fault_describe reads it */
    struct nemesis_env env;
    uv_timer_t poll;
    bool restarted;
    bool stopped; /* the fault's owner let go: free once restarted */
};

static void close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void finish(struct crash_restart *cr)
{
    uv_timer_stop(&cr->poll);
    uv_close((uv_handle_t *)&cr->poll, close_cb);
}

/* Start the nodes again once none of them is running any more. */
static void poll_cb(uv_timer_t *t)
{
    struct crash_restart *cr = t->data;
    struct cluster *c = cr->env.cluster;
    json_t *names;

    if (c->stopping) {
        cr->restarted = true; /* the run ends: nothing to restart */
    } else {
        for (int k = 0; k < cr->f.n; k++) {
            if (cluster_running(c, cr->f.nodes[k])) {
                return; /* not reaped yet */
            }
        }
        names = nemesis_node_names(&cr->env, cr->f.nodes, cr->f.n);
        cr->env.record(cr->env.arg, HISTORY_INVOKE, "start",
                       json_incref(names));
        for (int k = 0; k < cr->f.n; k++) {
            cluster_start(c, cr->f.nodes[k]);
        }
        cr->env.record(cr->env.arg, HISTORY_INFO, "start", names);
        cr->restarted = true;
    }
    uv_timer_stop(&cr->poll);
    if (cr->stopped) {
        finish(cr);
    }
}

static int crash_restart_start(struct nemesis_env *env, struct rng *draw,
                               void **state)
{
    struct crash_restart *cr = calloc(1, sizeof *cr);
    void *pf = NULL;
    int rv;

    if (cr == NULL) {
        return -ENOMEM;
    }
    rv = proc_fault_start(env, draw, &pf, "crash-restart", SIGKILL);
    if (rv != 0) {
        free(cr);
        return rv;
    }
    cr->f = *(struct proc_fault *)pf;
    free(pf);
    cr->env = *env;
    cr->env.replay = NULL;
    uv_timer_init(env->loop, &cr->poll);
    cr->poll.data = cr;
    if (env->cluster->dry_run) { /* a plan being printed: nothing to wait */
        cr->restarted = true;
    } else {
        uv_timer_start(&cr->poll, poll_cb, POLL_MS, POLL_MS);
    }
    *state = cr;
    return 0;
}

static int crash_restart_stop(struct nemesis_env *env, void *state)
{
    struct crash_restart *cr = state;
    (void)env;
    cr->stopped = true;
    if (cr->restarted) {
        finish(cr);
    }
    return 0;
}

const struct nemesis_ops nemesis_crash_restart = {
    .name = "crash-restart",
    .needs = DB_CAP_PROCESS,
    .start = crash_restart_start,
    .stop = crash_restart_stop,
    .describe = proc_fault_describe,
};
