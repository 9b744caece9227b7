/* member-wipe: remove a voter, then SIGKILL it and empty its data dir once
 * the removal is committed; stopping the fault starts it as a fresh joiner,
 * adds it and promotes it to voter. */
#include "nemesis/membership.h"

#include <errno.h>

static int wipe_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const char *selector = nemesis_draw_selector(env, draw);
    struct member_fault *f;
    int t, replayed[DB_MAX_NODES];

    t = env->replay != NULL
            ? (member_replay_nodes(env, replayed) > 0 ? replayed[0] : -1)
            : member_pick_voter(env, draw, selector, 2, false);
    if (t < 0) {
        return -EAGAIN;
    }
    f = member_fault_new(env, draw, "member-wipe", &t, 1, NULL);
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_REMOVE, t, NULL, 0);
    member_fault_push(f, MEMBER_WIPE, t, NULL, 0); /* skipped if still in */
    member_fault_run(f);
    *state = f;
    return 0;
}

static int wipe_stop(struct nemesis_env *env, void *state)
{
    struct member_fault *f = state;
    int t = member_fault_node(f, 0);
    member_fault_push(f, MEMBER_JOIN, t, NULL, 0);
    member_fault_push(f, MEMBER_ADD, t, NULL, 0);
    member_fault_push(f, MEMBER_ASSIGN, t, "voter", 0);
    return member_fault_end(f);
}

const struct nemesis_ops nemesis_member_wipe = {
    .name = "member-wipe",
    .needs = DB_CAP_MEMBERSHIP | DB_CAP_PROCESS,
    .start = wipe_start,
    .stop = wipe_stop,
    .describe = member_fault_describe,
};
