/* member-demote: make a voter a standby or a spare (drawn from
 * nemesis.demote_roles); stopping the fault makes it a voter again. */
#include "nemesis/membership.h"

#include <errno.h>
#include <string.h>

struct demote_settings {
    char roles[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_roles;
};

static bool role_ok(const char *v)
{
    return strcmp(v, "standby") == 0 || strcmp(v, "spare") == 0;
}

static const char *roles_known(void)
{
    return "standby, spare";
}

#define T struct demote_settings
static const struct setting demote_fields[] = {
    {"demote_roles", SETTING_LIST, SETTING_LIST_AT(T, roles, n_roles), 1,
     SETTINGS_MAX_LIST, role_ok, roles_known,
     "member-demote: the roles a voter is demoted to (standby, spare)"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void demote_defaults(void *p)
{
    struct demote_settings *d = p;
    snprintf(d->roles[0], sizeof d->roles[0], "standby");
    snprintf(d->roles[1], sizeof d->roles[1], "spare");
    d->n_roles = 2;
}

static const struct settings_table demote_table = {
    .size = sizeof(struct demote_settings),
    .defaults = demote_defaults,
    .fields = demote_fields,
};

extern const struct nemesis_ops nemesis_member_demote;

static int demote_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const struct demote_settings *d =
        nemesis_settings(env->s, &nemesis_member_demote);
    const char *selector = nemesis_draw_selector(env, draw);
    const char *role = d->roles[rng_below(draw, (uint64_t)d->n_roles)];
    struct member_fault *f;
    int t, replayed[DB_MAX_NODES];
    const char *replay_role;

    t = env->replay != NULL
            ? (member_replay_nodes(env, replayed) > 0 ? replayed[0] : -1)
            : member_pick_voter(env, draw, selector, 2, false);
    if (t < 0) {
        return -EAGAIN;
    }
    replay_role = json_string_value(json_object_get(env->replay, "role"));
    if (replay_role != NULL && role_ok(replay_role)) {
        role = replay_role;
    }
    f = member_fault_new(env, draw, "member-demote", &t, 1,
                         json_pack("{s:s}", "role", role));
    if (f == NULL) {
        return -ENOMEM;
    }
    member_fault_push(f, MEMBER_ASSIGN, t, role, 0);
    member_fault_run(f);
    *state = f;
    return 0;
}

static int demote_stop(struct nemesis_env *env, void *state)
{
    struct member_fault *f = state;
    member_fault_push(f, MEMBER_ASSIGN, member_fault_node(f, 0), "voter", 0);
    return member_fault_end(f);
}

const struct nemesis_ops nemesis_member_demote = {
    .name = "member-demote",
    .settings = &demote_table,
    .needs = DB_CAP_MEMBERSHIP,
    .start = demote_start,
    .stop = demote_stop,
    .describe = member_fault_describe,
};
