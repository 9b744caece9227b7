/* membership: the membership checker.
 *
 * Membership faults record each change as a nemesis invoke and info (f
 * "add", "assign", "remove"; value {"node", "role"?, "outcome"}: committed
 * when the system acknowledged it, failed when it certainly did not happen,
 * unknown when it may have). At the end the runner reads the newest
 * configuration of the running nodes and records it as a nemesis
 * "configuration" info ({"voters", "standbys", "spares", "index",
 * "committed"}; FORMAT.md, "Membership"). An acknowledged change must be
 * in it, unless a later change touched the node. Per node, from its last
 * committed change on, the states it may end in: that change's (add: a
 * member; assign R: role R; remove: no member), and the state of each
 * later change of unknown outcome (add: a spare, libraft adds spares;
 * assign R: R; remove: no member); a failed change adds none:
 *
 *   kept        the node ends as its last committed change left it
 *   in_doubt    it ends as a later change of unknown outcome would leave
 *               it: that change took effect
 *   lost        it ends in none of those states: an add whose node is no
 *               member, a remove whose node still is, an assign whose node
 *               has another role, and no change in doubt explains it: a
 *               change acknowledged before it was committed, or lost after
 *
 * Nodes no committed change touched are not judged. A history without a
 * configuration record (no membership faults, an older run) is valid with
 * nothing judged. */
#include "checker/membership.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/pairing.h"

enum change { CH_NONE, CH_ADD, CH_ASSIGN, CH_REMOVE };

/* A state a node may end in. */
struct state {
    enum change by;   /* CH_ADD: a member, any role (committed add) or a
                       * spare (unknown add); CH_ASSIGN: @role; CH_REMOVE:
                       * no member */
    const char *role; /* borrowed */
    bool committed;   /* the node's last committed change's */
};

#define MAX_STATES 8 /* beyond: the node is not judged */

struct node {
    const char *name; /* borrowed from the history */
    struct state states[MAX_STATES];
    int n_states;  /* 0: no committed change yet */
    bool overflow; /* more changes in doubt than MAX_STATES */
    int64_t event; /* the last committed change's info */
    int64_t time;
};

struct ctx {
    const struct history *h;
    struct report *out;
    struct node *nodes;
    size_t n;
    const struct history_event *conf; /* the last configuration info */
};

static struct node *node_of(struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->nodes[i].name, name) == 0) {
            return &c->nodes[i];
        }
    }
    c->nodes[c->n] = (struct node){.name = name};
    return &c->nodes[c->n++];
}

static enum change change_of(const char *f)
{
    return strcmp(f, "add") == 0      ? CH_ADD
           : strcmp(f, "assign") == 0 ? CH_ASSIGN
           : strcmp(f, "remove") == 0 ? CH_REMOVE
                                      : CH_NONE;
}

/* Each node's last committed change, and the configuration record. */
static int collect(struct ctx *c)
{
    const struct history *h = c->h;

    c->nodes = calloc(h->n + 1, sizeof *c->nodes);
    if (c->nodes == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        enum change ch = change_of(e->f);
        const char *name, *outcome;
        struct state st;
        struct node *nd;

        if (e->process != HISTORY_NEMESIS || e->type != HISTORY_INFO) {
            continue;
        }
        if (strcmp(e->f, "configuration") == 0) {
            /* The configuration as read at the end: a change that ended
             * after the read (a fault's undo still running) cannot be in
             * it, and is not judged. */
            c->conf = e;
            break;
        }
        name = json_string_value(json_object_get(e->value, "node"));
        outcome = json_string_value(json_object_get(e->value, "outcome"));
        if (ch == CH_NONE || name == NULL || outcome == NULL) {
            continue;
        }
        c->out->ops++;
        nd = node_of(c, name);
        st = (struct state){
            .by = ch,
            .role = ch == CH_ASSIGN
                        ? json_string_value(json_object_get(e->value, "role"))
                    : ch == CH_ADD ? "spare"
                                   : NULL,
        };
        if (strcmp(outcome, "committed") == 0) {
            if (ch == CH_ADD) {
                st.role = NULL; /* a later assign may have run in doubt */
            }
            st.committed = true;
            nd->states[0] = st;
            nd->n_states = 1;
            nd->overflow = false;
            nd->event = e->index;
            nd->time = e->time;
        } else if (strcmp(outcome, "unknown") == 0 && nd->n_states > 0) {
            if (nd->n_states == MAX_STATES) {
                nd->overflow = true;
            } else {
                nd->states[nd->n_states++] = st;
            }
        }
    }
    return 0;
}

/* @name's role in the configuration @conf: "voter", "standby", "spare", or
 * NULL when it is no member; *bad set when a list is not names. */
static const char *role_in(json_t *conf, const char *name, bool *bad)
{
    static const struct {
        const char *key, *role;
    } lists[] = {
        {"voters", "voter"}, {"standbys", "standby"}, {"spares", "spare"}};

    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        json_t *a = json_object_get(conf, lists[k].key), *v;
        size_t i;

        if (!json_is_array(a)) {
            *bad = true;
            return NULL;
        }
        json_array_foreach(a, i, v)
        {
            if (!json_is_string(v)) {
                *bad = true;
                return NULL;
            }
            if (strcmp(json_string_value(v), name) == 0) {
                return lists[k].role;
            }
        }
    }
    return NULL;
}

/* Does the node end in state @st, being @have (NULL: no member)? */
static bool ends_in(const struct state *st, const char *have)
{
    switch (st->by) {
    case CH_ADD:
        return have != NULL &&
               (st->role == NULL || strcmp(have, st->role) == 0);
    case CH_REMOVE:
        return have == NULL;
    case CH_ASSIGN:
        return have != NULL && st->role != NULL && strcmp(have, st->role) == 0;
    default:
        return true;
    }
}

static void describe(const struct node *nd, const char *have, json_int_t index,
                     char *buf, size_t size)
{
    const struct state *st = &nd->states[0];
    const char *what = st->by == CH_ADD      ? "added"
                       : st->by == CH_REMOVE ? "removed"
                                             : "made ";

    snprintf(buf, size,
             "acknowledged change lost: %s %s%s (committed, at %.3f s) but "
             "%s%s in the final configuration (index %lld)",
             nd->name, what,
             st->by == CH_ASSIGN && st->role != NULL ? st->role : "",
             (double)nd->time / 1e9, have != NULL ? "a " : "not a member",
             have != NULL ? have : "", (long long)index);
}

int checker_membership(const struct history *h, struct report *out)
{
    struct ctx c = {.h = h, .out = out};
    int kept, lost, in_doubt, not_judged;
    char note[sizeof out->note] = "";
    json_t *conf;
    json_int_t index;
    bool bad = false;
    int rv;

    rv = report_init(out, "membership");
    if (rv != 0) {
        return rv;
    }
    kept = report_class(out, "kept", false);
    in_doubt = report_class(out, "in_doubt", false);
    lost = report_class(out, "lost", true);
    not_judged = report_class(out, "not_judged", false);
    rv = collect(&c);
    if (rv != 0) {
        out->result = VERDICT_UNKNOWN;
        free(c.nodes);
        return rv;
    }
    if (c.conf == NULL) {
        report_note(out, "no configuration record: nothing to judge");
        goto done;
    }
    conf = c.conf->value;
    if (json_object_get(conf, "error") != NULL) {
        report_unknown(out, "no node said its configuration at the end");
        goto done;
    }
    index = json_integer_value(json_object_get(conf, "index"));
    for (size_t i = 0; i < c.n; i++) {
        const struct node *nd = &c.nodes[i];
        const char *have = role_in(conf, nd->name, &bad);
        char text[320];
        int k = 0;

        if (bad) {
            char where[48];
            pairing_where(c.conf, where, sizeof where);
            snprintf(out->reason, sizeof out->reason,
                     "%s: configuration value: expected \"voters\", "
                     "\"standbys\" and \"spares\" lists of node names",
                     where);
            out->result = VERDICT_UNKNOWN;
            free(c.nodes);
            return -EINVAL;
        }
        if (nd->n_states == 0) {
            continue;
        }
        if (nd->overflow) {
            report_add(out, not_judged, NULL);
            continue;
        }
        while (k < nd->n_states && !ends_in(&nd->states[k], have)) {
            k++;
        }
        if (k == 0) {
            report_add(out, kept, NULL);
        } else if (k < nd->n_states) {
            report_add(out, in_doubt, NULL);
        } else {
            describe(nd, have, index, text, sizeof text);
            report_add(out, lost,
                       json_pack("{s:s, s:s, s:s?, s:[I, I]}", "description",
                                 text, "node", nd->name, "role", have, "ops",
                                 (json_int_t)nd->event,
                                 (json_int_t)c.conf->index));
        }
    }
    snprintf(note, sizeof note, "%zu change%s, final configuration index %lld",
             out->ops, out->ops == 1 ? "" : "s", (long long)index);
    report_note(out, note);
done:
    free(c.nodes);
    report_finish(out);
    return 0;
}
