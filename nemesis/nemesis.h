/* nemesis: faults injected into a run, on a schedule drawn from its seed.
 *
 * Jepsen's nemesis protocol as a table: a fault kind is a struct nemesis_ops
 * that can start one fault and stop it again. The whole schedule (when each
 * fault starts, which kind, how long it lasts, and the random draw that
 * picks its targets) is planned from the seed before the run begins, so the
 * same seed gives the same schedule. heal() stops every fault still active.
 * Every start and stop is written to the history as a nemesis event. */
#ifndef FAULTLINE_NEMESIS_H
#define FAULTLINE_NEMESIS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

#include "histories/history.h"
#include "nodes/db.h"
#include "plugin/settings.h"
#include "runner/cluster.h"
#include "runner/rng.h"
#include "runner/scenario.h"

/* What a fault acts on, and how it reports. */
struct nemesis_env {
    uv_loop_t *loop;
    struct cluster *cluster;
    const struct scenario *s;
    int log_fd; /* output of the commands faults run (iptables...) */
    /* Write a nemesis event; @value is stolen (may be NULL). */
    void (*record)(void *arg, enum history_type type, const char *f,
                   json_t *value);
    void *arg;
    /* Set by the scheduler while a replayed step starts (NULL otherwise):
     * the value the original run recorded when it began this fault (its
     * nemesis invoke event). start() then takes the concrete targets and
     * parameters from it (nemesis_replay_nodes...) instead of drawing
     * them, so "leader" replays as the node that was hit. Borrowed. */
    const json_t *replay;
    /* The selector nemesis_draw_selector drew last ("leader"...). */
    const char *selector;
};

/* One fault kind: a file of its own and a line in nemesis.c's registry. */
struct nemesis_ops {
    const char *name;
    /* Its keys in a scenario's "nemesis" section, or NULL. Two kinds may
     * declare the same key (disk_errno): a scenario's value goes to both.
     * Read them with nemesis_settings(). */
    const struct settings_table *settings;
    /* What the system under test must be able to take (DB_CAP_*), and,
     * when it depends on the settings, a function saying so (may be NULL).
     * A scenario asking for a fault the system lacks is refused. */
    unsigned needs;
    unsigned (*needs_of)(const void *settings);
    /* Prepare node @i of @c for this kind's faults: with @env NULL once
     * before the node first starts (mounts), else before every start
     * (environment, preloads: cluster_env_put, cluster_env_preload). May be
     * NULL. Returns 0 or a negative errno (with a message on c->log). */
    int (*prepare_node)(struct cluster *c, const struct scenario *s,
                        const void *settings, int i, struct cluster_env *env);
    /* Start one fault, choosing its targets and parameters with @draw (its
     * own generator, seeded from the plan). On success set *@state (what
     * stop() needs), record the fault, and return 0; -EAGAIN when it can't
     * apply now (nothing recorded). */
    int (*start)(struct nemesis_env *env, struct rng *draw, void **state);
    /* End the fault started with @state, record it, and free @state. */
    int (*stop)(struct nemesis_env *env, void *state);
    /* Describe the active fault @state in a few words, into @buf. */
    void (*describe)(struct nemesis_env *env, void *state, char *buf,
                     size_t size);
};

/* The fault kind called @name ("kill"), or NULL. */
const struct nemesis_ops *nemesis_find(const char *name);

/* The fault kind at @index of the registry, or NULL past the end; and the
 * index of @ops (-1 when not registered). */
const struct nemesis_ops *nemesis_kind_at(int index);
int nemesis_kind_index(const struct nemesis_ops *ops);

/* The names of every fault kind, comma-separated, for messages. */
const char *nemesis_kind_names(void);

/* @ops's settings in @s (see nemesis_ops.settings). */
const void *nemesis_settings(const struct scenario *s,
                             const struct nemesis_ops *ops);

/* What @ops needs of the system with @s's settings (DB_CAP_*). */
unsigned nemesis_needs(const struct scenario *s, const struct nemesis_ops *ops);

/* Prepare node @i for every fault kind of @s (nemesis_ops.prepare_node);
 * the runner hands this to the cluster (cluster.prepare). */
int nemesis_prepare_node(void *scenario, struct cluster *c, int i,
                         struct cluster_env *env);

/* The errno names disk faults may inject ("EIO"...): known, listed, and
 * the value of one (EIO when unknown). */
bool nemesis_errno_known(const char *name);
const char *nemesis_errno_names(void);
int nemesis_errno_value(const char *name);

/* The target selectors a scenario may list in nemesis.targets. */
extern const char *const nemesis_selectors[];

/* Set node @i's clock offset and rate (its faketime.rc; rate 1 = real
 * speed). Returns 0 or -errno. */
int nemesis_clock_set(struct cluster *c, int i, double offset_s, double rate);

/* Target selection, shared by the fault kinds.
 *
 * Choose nodes by @selector ("one", "minority", "majority", "all",
 * "leader"), using @draw; with @running_only, only nodes whose process is
 * up. "leader" is the node the workload last saw acting as leader (one
 * random node when none is known). Writes indices to @out, returns how
 * many (0 when none qualifies). */
int nemesis_pick(struct nemesis_env *env, struct rng *draw,
                 const char *selector, bool running_only, int *out);

/* One of the scenario's target selectors, drawn with @draw. */
const char *nemesis_draw_selector(struct nemesis_env *env, struct rng *draw);

/* The nodes named in the JSON array @names (["n1", "n3"], or a reactive
 * fault's {"nodes": [...]}), as indices in @out; unknown names are left
 * out. Returns how many. */
int nemesis_replay_nodes(struct nemesis_env *env, const json_t *names,
                         int *out);

/* A JSON array of the names of nodes @idx[0..n). */
json_t *nemesis_node_names(struct nemesis_env *env, const int *idx, int n);

/* Run a command inside node @i's network namespace (via `ip netns exec`),
 * synchronously; output to env->log_fd. Returns its exit status or a
 * negative errno. */
int nemesis_netns_run(struct nemesis_env *env, int i, char *const argv[]);

/* One planned fault. */
struct nemesis_step {
    double at_s;       /* seconds after the fault phase begins */
    double duration_s; /* how long it stays */
    const struct nemesis_ops *ops;
    uint64_t draw; /* seed of the fault's own generator */
    json_t *replay; /* owned or NULL: the recorded start value to replay
                     * (see nemesis_env.replay); NULL in a seeded plan */
};

/* Plan the schedule of @s from @seed into @steps (at most @max); returns
 * how many. Pure: the same scenario and seed give the same plan. */
int nemesis_plan(const struct scenario *s, uint64_t seed,
                 struct nemesis_step *steps, int max);

/* The plan's seed for a run with seed @run_seed: a stream of its own, so
 * that the schedule does not depend on what the clients drew. */
static inline uint64_t nemesis_seed(uint64_t run_seed)
{
    return run_seed * 2 + 2;
}

/* Print a plan, one step a line (for `faultline schedule`), with the
 * targets and parameters each fault would draw: every step is started and
 * stopped on a dry-run cluster of @s (cluster.dry_run), so what is printed
 * is what the fault kind itself records. Targets that depend on the run
 * (the leader, the nodes up then) are said to. */
void nemesis_plan_print(FILE *f, const struct scenario *s,
                        const struct nemesis_step *steps, int n);

/* Free the replay values of @steps[0..n) (not @steps itself). */
void nemesis_steps_clear(struct nemesis_step *steps, int n);

/* The schedule a stored run followed, from its history @h (borrowed): one
 * step per fault that started (a nemesis invoke event naming a fault kind:
 * kill, pause, stop, partition, loss, clock, disk...), at its recorded time
 * minus @faults_start_ns (when the fault phase began), lasting until its
 * matching end event (start, resume, heal, loss-stop, clock-reset,
 * disk-heal: the same kind's end with the same value), or @max_s when it
 * never ended. Each step keeps the recorded value to replay (owned by the
 * step: free with nemesis_steps_clear). Unknown fault names are skipped and
 * counted in *@skipped. Returns how many steps (at most @max), or -ENOMEM. */
int nemesis_schedule_from_history(const struct history *h,
                                  int64_t faults_start_ns, double max_s,
                                  struct nemesis_step *steps, int max,
                                  int *skipped);

struct nemesis;

/* A scheduler on env->loop for the faults of env->s, planned from @seed,
 * with the scenario's reactive rules (nemesis/reactive.h) live from
 * nemesis_start to nemesis_heal, their generators seeded from @seed too.
 * @env is copied. NULL when out of memory. */
struct nemesis *nemesis_new(const struct nemesis_env *env, uint64_t seed);

/* The same, following the given schedule (a replay) instead of a seeded
 * plan: @steps[0..n) sorted by at_s; the step's replay values are taken
 * over (the array itself is copied and may be freed). NULL when out of
 * memory. */
struct nemesis *nemesis_new_replay(const struct nemesis_env *env,
                                   struct nemesis_step *steps, int n);

/* Begin: time 0 of the plan is now. */
int nemesis_start(struct nemesis *n);

/* Stop the schedule and end every active fault. */
void nemesis_heal(struct nemesis *n);

/* Active faults, in a few words ("kill n2"), into @buf. */
void nemesis_describe(struct nemesis *n, char *buf, size_t size);

/* Number of faults started so far. */
int nemesis_count(const struct nemesis *n);

/* Faults started so far by kind, in the order of the registry
 * ("kill 3, partition 2"; "none"), into @buf. */
void nemesis_count_kinds(const struct nemesis *n, char *buf, size_t size);

/* The reactive rules' summary (nemesis/reactive.h: fires, latency
 * p50/p99/max), into @buf; "" when the scenario has no rules. */
void nemesis_reactive_summary(const struct nemesis *n, char *buf,
                              size_t size);

/* Close the handles and free @n (after the loop runs the close callbacks). */
void nemesis_free(struct nemesis *n);

#endif /* FAULTLINE_NEMESIS_H */
