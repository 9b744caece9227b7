/* member-add: start a slot that is not a member as a fresh joiner (empty
 * data dir), add it and promote it to voter; stopping the fault removes it
 * and wipes it again. */
#include "nemesis/membership.h"

#include <errno.h>

static int add_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    struct member_fault *f;
    int slots[DB_MAX_NODES], n, t;

    nemesis_draw_selector(env, draw); /* as every kind: the same draws */
    env->selector = NULL;             /* but a free slot is no target */
    n = env->replay != NULL ? member_replay_nodes(env, slots)
                            : member_free_slots(env, draw, slots);
    if (n == 0) {
        return -EAGAIN;
    }
    t = slots[0];
    f = member_fault_new(env, draw, "member-add", &t, 1, NULL);
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_WIPE, t, NULL, 0);
    member_fault_push(f, MEMBER_JOIN, t, NULL, 0);
    member_fault_push(f, MEMBER_ADD, t, NULL, 0);
    member_fault_push(f, MEMBER_ASSIGN, t, "voter", 0);
    member_fault_run(f);
    *state = f;
    return 0;
}

static int add_stop(struct nemesis_env *env, void *state)
{
    struct member_fault *f = state;
    int t = member_fault_node(f, 0);
    member_fault_push(f, MEMBER_REMOVE, t, NULL, 0);
    member_fault_push(f, MEMBER_WIPE, t, NULL, 0); /* skipped if still in */
    return member_fault_end(f);
}

const struct nemesis_ops nemesis_member_add = {
    .name = "member-add",
    .needs = DB_CAP_MEMBERSHIP | DB_CAP_PROCESS,
    .start = add_start,
    .stop = add_stop,
    .describe = member_fault_describe,
};
