/* member-remove: remove a voter (its process keeps running, its data kept);
 * stopping the fault adds it back and promotes it to voter again. */
#include "nemesis/membership.h"

#include <errno.h>

static int remove_start(struct nemesis_env *env, struct rng *draw, void **state)
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
    f = member_fault_new(env, draw, "member-remove", &t, 1, NULL);
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_REMOVE, t, NULL, 0);
    member_fault_run(f);
    *state = f;
    return 0;
}

static int remove_stop(struct nemesis_env *env, void *state)
{
    struct member_fault *f = state;
    int t = member_fault_node(f, 0);
    member_fault_push(f, MEMBER_JOIN, t, NULL, 0); /* if it went down */
    member_fault_push(f, MEMBER_ADD, t, NULL, 0);
    member_fault_push(f, MEMBER_ASSIGN, t, "voter", 0);
    return member_fault_end(f);
}

const struct nemesis_ops nemesis_member_remove = {
    .name = "member-remove",
    .needs = DB_CAP_MEMBERSHIP,
    .start = remove_start,
    .stop = remove_stop,
    .describe = member_fault_describe,
};
