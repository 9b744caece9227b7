/* transfer-leader: hand the leadership to a voter other than the leader,
 * drawn at random. Nothing to undo: the fault's end only records it. */
#include "nemesis/membership.h"

#include <errno.h>

static int transfer_start(struct nemesis_env *env, struct rng *draw,
                          void **state)
{
    struct member_fault *f;
    int t, replayed[DB_MAX_NODES];

    nemesis_draw_selector(env, draw);
    env->selector = NULL; /* any voter but the leader */
    t = env->replay != NULL
            ? (member_replay_nodes(env, replayed) > 0 ? replayed[0] : -1)
            : member_pick_voter(env, draw, NULL, 2, true);
    if (t < 0) {
        return -EAGAIN;
    }
    f = member_fault_new(env, draw, "transfer-leader", &t, 1, NULL);
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_TRANSFER, t, NULL, 0);
    member_fault_run(f);
    *state = f;
    return 0;
}

static int transfer_stop(struct nemesis_env *env, void *state)
{
    return member_fault_end(state);
}

const struct nemesis_ops nemesis_transfer_leader = {
    .name = "transfer-leader",
    .needs = DB_CAP_MEMBERSHIP,
    .start = transfer_start,
    .stop = transfer_stop,
    .describe = member_fault_describe,
};
