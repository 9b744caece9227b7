/* reactive: faults injected when a node reports an event (nemesis.rules),
 * at the moments that matter: right after a vote is persisted, between an
 * append and its acknowledgement...
 *
 * Two halves. The decisions are a pure function of the rules, the run's
 * seed and the sequence of node events (reactive_decide): each rule has a
 * generator of its own, seeded from the run seed and the rule's index, and
 * every event named by a rule's "on" consumes the same two draws from it
 * (probability, delay) whether the rule then fires or not, so the same seed
 * and the same events give the same decisions. A node's role is the one its
 * own events last announced (became_leader / became_follower /
 * became_candidate; a start or recovery makes it a follower).
 *
 * The live half (struct reactive) subscribes to the cluster's node events
 * during the fault phase and carries the decisions out with the fault kinds
 * of nemesis.h: at once when the delay is 0, else on a timer. Each fault is
 * recorded like a timed one (invoke, info, and its end), its value carrying
 * "trigger" (node, event, mono and the event's own fields), "rule" and, on
 * the info, "latency_ms": from the event's CLOCK_MONOTONIC stamp to the
 * moment the fault was in effect (the signal sent, the rules added), with
 * "delay_ms", the delay drawn; the summary's percentiles are of the
 * latency beyond that delay (the whole latency when the delay is 0). */
#ifndef FAULTLINE_NEMESIS_REACTIVE_H
#define FAULTLINE_NEMESIS_REACTIVE_H

#include "nemesis/nemesis.h"
#include "nemesis/rule.h"
#include "runner/node_events.h"

/* One decision: rule @rule on the event @event (its index in the sequence
 * given to reactive_decide). */
struct reactive_decision {
    int rule;
    int event;
    bool fire;
    const char *why; /* when not fired: "role", "where", "max", "cooldown",
                      * "probability", "no leader", "no target" */
    double delay_ms; /* drawn from the rule's range */
    int targets[DB_MAX_NODES];
    int n_targets;
};

/* The decision state: per rule its generator, fires and last fire; per
 * node its role and term as its events announced them. */
struct reactive_state {
    const struct nemesis_rules *rules; /* borrowed */
    int n_nodes;
    struct rng rng[RULE_MAX];
    int fired[RULE_MAX];
    int64_t last_fire_ns[RULE_MAX];    /* event mono of the last fire, or -1 */
    enum rule_role role[DB_MAX_NODES]; /* RULE_ROLE_ANY: not known */
    int64_t term[DB_MAX_NODES];
};

/* The seed of rule @i's generator in a run with seed @run_seed. */
uint64_t reactive_rule_seed(uint64_t run_seed, int i);

/* Start deciding for @rules (borrowed) over @n_nodes nodes. */
void reactive_state_init(struct reactive_state *st,
                         const struct nemesis_rules *rules, uint64_t run_seed,
                         int n_nodes);

/* Take event @e into account for the nodes' roles only: no draws, no
 * decisions (what happened before the rules went live). */
void reactive_observe(struct reactive_state *st, const struct node_event *e);

/* Take event @e into account and decide each rule it names; writes one
 * decision per such rule to @out (room for RULE_MAX; .event is 0) and
 * returns how many. */
int reactive_on_event(struct reactive_state *st, const struct node_event *e,
                      struct reactive_decision *out);

/* The decisions over a whole sequence @events[0..n), in order, into @out
 * (at most @max); returns how many were made (may exceed @max: the rest
 * were not written). Pure. */
int reactive_decide(const struct nemesis_rules *rules, uint64_t run_seed,
                    int n_nodes, const struct node_event *events, int n,
                    struct reactive_decision *out, int max);

struct reactive;

/* The live nemesis for env->s's rules with seed @run_seed (the run's), on
 * env->loop, reading env->cluster->events. @env is copied. NULL when out of
 * memory. */
struct reactive *reactive_new(const struct nemesis_env *env, uint64_t run_seed);

/* Subscribe: rules are live from now on. Returns 0 or a negative errno. */
int reactive_start(struct reactive *r);

/* Unsubscribe, drop the fires still waiting for their delay, and end
 * every active fault. Rules stay quiet afterwards. */
void reactive_heal(struct reactive *r);

/* Active reactive faults in a few words, appended to @buf (used so far:
 * strlen(@buf)). */
void reactive_describe(struct reactive *r, char *buf, size_t size);

/* Faults started so far, in total and of kind @ops. */
int reactive_count(const struct reactive *r);
int reactive_count_kind(const struct reactive *r,
                        const struct nemesis_ops *ops);

/* "reactive: 7 faults fired of 31 decisions (0 skipped); event-to-fault
 * latency beyond the drawn delay, signal (6): p50 0.42 ms, p99 1.30 ms, max
 * 1.90 ms, partition (1): p50 ..." (or "reactive: no rule fired ..."), into
 * @buf. A fire due within half a millisecond goes at once (it may come that
 * much early: counted as 0). */
void reactive_summary(const struct reactive *r, char *buf, size_t size);

/* Close the handles and free @r (after the loop runs the callbacks). */
void reactive_free(struct reactive *r);

#endif /* FAULTLINE_NEMESIS_REACTIVE_H */
