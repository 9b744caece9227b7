/* member-grow: add slots that are not members as fresh joiners and promote
 * them until there are nemesis.grow_to voters; stopping the fault removes
 * voters drawn at random (the leader and the initial ones too), stopping and
 * wiping each, until as many voters are left as the initial members. */
#include "nemesis/membership.h"

#include <errno.h>
#include <stdlib.h>

struct grow_settings {
    int grow_to;
};

#define T struct grow_settings
static const struct setting grow_fields[] = {
    {"grow_to", SETTING_INT, SETTING_OFF(T, grow_to), 0, 2, DB_MAX_NODES, NULL,
     NULL, "member-grow: the voters to grow to (then shrink back)"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void grow_defaults(void *p)
{
    ((struct grow_settings *)p)->grow_to = 5;
}

static const struct settings_table grow_table = {
    .size = sizeof(struct grow_settings),
    .defaults = grow_defaults,
    .fields = grow_fields,
};

extern const struct nemesis_ops nemesis_member_grow;

/* The voters to shrink back to, kept beside the fault's nodes. */
struct grow {
    struct member_fault *f;
    int back_to;
};

static int grow_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const struct grow_settings *g =
        nemesis_settings(env->s, &nemesis_member_grow);
    int voters = member_voters(env->cluster);
    int slots[DB_MAX_NODES], n;
    struct grow *gr;

    nemesis_draw_selector(env, draw);
    env->selector = NULL; /* free slots, not targets */
    n = env->replay != NULL ? member_replay_nodes(env, slots)
                            : member_free_slots(env, draw, slots);
    if (env->replay == NULL && n > g->grow_to - voters) {
        n = g->grow_to - voters;
    }
    if (n <= 0 || voters == 0) {
        return -EAGAIN;
    }
    gr = calloc(1, sizeof *gr);
    if (gr == NULL) {
        return -ENOMEM;
    }
    /* Back to the initial configuration's size ("grow to 5, shrink to
     * 3"), not to the voters now: another fault may have one out. */
    gr->back_to = env->cluster->members;
    gr->f = member_fault_new(env, draw, "member-grow", slots, n, NULL);
    if (gr->f == NULL) {
        free(gr);
        return -ENOMEM;
    }
    for (int k = 0; k < n; k++) {
        member_fault_push(gr->f, MEMBER_WIPE, slots[k], NULL, 0);
        member_fault_push(gr->f, MEMBER_JOIN, slots[k], NULL, 0);
        member_fault_push(gr->f, MEMBER_ADD, slots[k], NULL, 0);
        member_fault_push(gr->f, MEMBER_ASSIGN, slots[k], "voter", 0);
    }
    member_fault_run(gr->f);
    *state = gr;
    return 0;
}

static int grow_stop(struct nemesis_env *env, void *state)
{
    struct grow *gr = state;
    struct member_fault *f = gr->f;
    member_fault_push(f, MEMBER_SHRINK, -1, NULL, gr->back_to);
    free(gr);
    return member_fault_end(f);
}

static void grow_describe(struct nemesis_env *env, void *state, char *buf,
                          size_t size)
{
    member_fault_describe(env, ((struct grow *)state)->f, buf, size);
}

const struct nemesis_ops nemesis_member_grow = {
    .name = "member-grow",
    .settings = &grow_table,
    .needs = DB_CAP_MEMBERSHIP | DB_CAP_PROCESS,
    .start = grow_start,
    .stop = grow_stop,
    .describe = grow_describe,
};
