/* member-cut-off: a membership change through a leader cut off from its
 * followers. The followers are stopped (SIGSTOP), a voter's removal is
 * sent to the leader, and once it answers (or the step's deadline passes)
 * every node of the fault is SIGKILLed, the stopped followers too, so that
 * the leader's AppendEntries die unread in their sockets. The followers
 * are started again at once and elect a leader without the entry; the old
 * leader comes back when the fault stops, and the removed voter is added
 * back and promoted.
 *
 * A correct system cannot commit the change without its followers: it
 * answers with a timeout (outcome unknown, not judged). One that
 * acknowledges a change before it is committed answers ok, and the entry
 * is then overwritten: the membership checker (the change missing from
 * the final configuration) and the raft checker (`change_overwritten`: a
 * command applied at the acknowledged index) see it every time. */
#include "nemesis/membership.h"

#include <errno.h>

static int cut_off_start(struct nemesis_env *env, struct rng *draw,
                         void **state)
{
    struct cluster *c = env->cluster;
    struct member_fault *f;
    int nodes[DB_MAX_NODES], n = 0, t, leader;

    if (env->replay != NULL) {
        n = member_replay_nodes(env, nodes);
        if (n < 2) {
            return -EAGAIN;
        }
    } else {
        t = member_pick_voter(env, draw, "one", 3, true);
        leader = c->leader;
        if (t < 0 || leader < 0 || !c->nodes[leader].member ||
            !cluster_running(c, leader)) {
            return -EAGAIN;
        }
        nodes[n++] = t;
        nodes[n++] = leader;
        for (int i = 0; i < c->n && n < DB_MAX_NODES; i++) {
            if (i != t && i != leader && c->nodes[i].member &&
                cluster_running(c, i)) {
                nodes[n++] = i;
            }
        }
    }
    f = member_fault_new(env, draw, "member-cut-off", nodes, n, NULL);
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_CUT_OFF, nodes[1], NULL, 0);
    member_fault_push(f, MEMBER_REMOVE, nodes[0], NULL, 0);
    member_fault_push(f, MEMBER_CRASH, nodes[1], NULL, 0);
    for (int k = 0; k < n; k++) {
        if (k != 1) {
            member_fault_push(f, MEMBER_JOIN, nodes[k], NULL, 0);
        }
    }
    member_fault_run(f);
    *state = f;
    return 0;
}

static int cut_off_stop(struct nemesis_env *env, void *state)
{
    struct member_fault *f = state;
    int t = member_fault_node(f, 0);
    member_fault_push(f, MEMBER_JOIN, member_fault_node(f, 1), NULL, 0);
    member_fault_push(f, MEMBER_JOIN, t, NULL, 0);
    member_fault_push(f, MEMBER_ADD, t, NULL, 0);
    member_fault_push(f, MEMBER_ASSIGN, t, "voter", 0);
    return member_fault_end(f);
}

const struct nemesis_ops nemesis_member_cut_off = {
    .name = "member-cut-off",
    .needs = DB_CAP_MEMBERSHIP,
    .start = cut_off_start,
    .stop = cut_off_stop,
    .describe = member_fault_describe,
};
