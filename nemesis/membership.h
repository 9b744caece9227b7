/* membership: what the membership fault kinds share: choosing members and
 * slots from the runner's view of the configuration, and running a fault's
 * changes one after the other through the system's client (the admin ops of
 * nodes/client.h), recording each with its outcome.
 *
 * A fault is a queue of steps run in order on the loop. Its start records
 * an invoke named after the kind ({"nodes": [...]}) and its steps; the info
 * follows once they ran. stop() (the kind's undo) records "<kind>-end" with
 * the same value, queues the undo steps behind whatever still runs, and the
 * fault frees itself after the last one. Each change is a nemesis invoke and
 * info of its own: f "add", "assign", "remove", "transfer" with {"node",
 * "role"}, the info adding "outcome": "committed" (ok), "failed" (fail:
 * certainly not made) or "unknown" (info: it may still take effect), and
 * "error". "wipe" (SIGKILL, empty the data dir, the node will join afresh)
 * and "join" (start a node as a joiner) are recorded the same way.
 *
 * One fault runs its steps at a time: a fault whose start or undo comes
 * while another's steps run waits in line (FIFO) and then runs with the
 * targets it drew, each step still conditional on the view.
 *
 * A change that failed is tried again (3 times in all, 300 ms apart, each
 * attempt recorded), as an operator would after "busy".
 *
 * Steps are conditional on the view when they run, so that an undo after
 * a change that failed does nothing: add skips a member, assign a node
 * with that role or no member, remove a non-member; wipe and stop only
 * touch a node that is not a member (never the data of a voter). The view
 * (cluster_node.member and role) follows committed changes, and is read
 * back from the leader (members) after an outcome that is unknown: only a
 * committed configuration from the node the runner sees leading, asked
 * again until one comes (5 s at most; else the view stays). */
#ifndef FAULTLINE_MEMBERSHIP_H
#define FAULTLINE_MEMBERSHIP_H

#include "nemesis/nemesis.h"

enum member_act {
    MEMBER_ADD,      /* add the node (a spare) */
    MEMBER_ASSIGN,   /* give it role */
    MEMBER_REMOVE,   /* remove it */
    MEMBER_TRANSFER, /* hand the leadership to it */
    MEMBER_WIPE,     /* non-member: SIGKILL, wait, empty data, join later */
    MEMBER_JOIN,     /* start it (as a joiner once wiped) */
    MEMBER_SHRINK,   /* remove, stop and wipe voters down to @count */
    MEMBER_CUT_OFF,  /* SIGSTOP the fault's other nodes: @node (the leader)
                      * can append but not commit */
    MEMBER_CRASH,    /* SIGKILL every node of the fault (stopped ones too:
                      * what they had not read dies in their sockets),
                      * then wait until all are reaped */
};

struct member_fault;

/* A fault of kind @kind acting on @nodes[0..n) (marked held: no other
 * membership fault picks them until this one ends), with a generator of its
 * own seeded from @draw (for shrink's victims). Records the kind's invoke:
 * {"nodes": [...]} and the fields of @extra (stolen; may be NULL).
 * NULL when out of memory. */
struct member_fault *member_fault_new(struct nemesis_env *env, struct rng *draw,
                                      const char *kind, const int *nodes, int n,
                                      json_t *extra);

/* Queue a step (@role for assign, else NULL; @count for shrink). */
void member_fault_push(struct member_fault *f, enum member_act act, int node,
                       const char *role, int count);

/* The @k-th node the fault acts on. */
int member_fault_node(const struct member_fault *f, int k);

/* Begin running the queued steps (the start's). */
void member_fault_run(struct member_fault *f);

/* The kind's stop(): record the end, queue nothing more unless @undo pushes
 * steps first (call member_fault_push before), and free @f once done. */
int member_fault_end(struct member_fault *f);

/* describe(): the kind and its nodes. */
void member_fault_describe(struct nemesis_env *env, void *state, char *buf,
                           size_t size);

/* Targets. Voters by the runner's view, running and not held by another
 * membership fault; with @selector "leader" the leader when it is one,
 * else one drawn with @draw; -1 when fewer than @min_voters voters exist or
 * none qualifies. @not_leader leaves the leader out. */
int member_pick_voter(struct nemesis_env *env, struct rng *draw,
                      const char *selector, int min_voters, bool not_leader);

/* Slots that are not members and not held, shuffled with @draw, into
 * @out; returns how many. */
int member_free_slots(struct nemesis_env *env, struct rng *draw, int *out);

/* Voters in the runner's view. */
int member_voters(const struct cluster *c);

/* The nodes a replayed start names (env->replay's "nodes"), into @out. */
int member_replay_nodes(struct nemesis_env *env, int *out);

#endif /* FAULTLINE_MEMBERSHIP_H */
