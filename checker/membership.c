/* membership: the membership checker.
 *
 * Membership faults record each change as a nemesis invoke and info (f
 * "add", "assign", "remove"; value {"node", "role"?, "outcome"}: committed
 * when the system acknowledged it, failed when it certainly did not happen,
 * unknown when it may have). At the end the runner reads the newest
 * configuration of the running nodes and records it as a nemesis
 * "configuration" info ({"voters", "standbys", "spares", "index",
 * "committed"}; FORMAT.md, "Membership"). An acknowledged change must be
 * in it, unless a later change touched the node:
 *
 *   kept        the node's last committed change is in the configuration
 *   lost        it is not (an add whose node is no member, a remove whose
 *               node still is, an assign whose node has another role): a
 *               change acknowledged before it was committed, or lost after
 *   not_judged  a change of unknown outcome touched the node after its last
 *               committed one: either configuration is possible
 *
 * A failed change changes nothing, so it leaves the node judged by its last
 * committed change. Nodes no committed change touched are not counted. A
 * history without a configuration record (no membership faults, an older
 * run) is valid with nothing judged. */
#include "checker/membership.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/pairing.h"

enum change { CH_NONE, CH_ADD, CH_ASSIGN, CH_REMOVE };

struct node {
    const char *name; /* borrowed from the history */
    enum change last; /* its last committed change, CH_NONE if none */
    const char *role; /* assign's role (borrowed) */
    bool unknown;     /* a change of unknown outcome came after it */
    int64_t event;    /* the committed change's info */
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
        struct node *nd;

        if (e->process != HISTORY_NEMESIS || e->type != HISTORY_INFO) {
            continue;
        }
        if (strcmp(e->f, "configuration") == 0) {
            c->conf = e;
            continue;
        }
        name = json_string_value(json_object_get(e->value, "node"));
        outcome = json_string_value(json_object_get(e->value, "outcome"));
        if (ch == CH_NONE || name == NULL || outcome == NULL) {
            continue;
        }
        c->out->ops++;
        nd = node_of(c, name);
        if (strcmp(outcome, "committed") == 0) {
            nd->last = ch;
            nd->role = json_string_value(json_object_get(e->value, "role"));
            nd->unknown = false;
            nd->event = e->index;
            nd->time = e->time;
        } else if (strcmp(outcome, "unknown") == 0) {
            nd->unknown = true;
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

static bool agrees(const struct node *nd, const char *have)
{
    switch (nd->last) {
    case CH_ADD:
        return have != NULL;
    case CH_REMOVE:
        return have == NULL;
    case CH_ASSIGN:
        return have != NULL && nd->role != NULL && strcmp(have, nd->role) == 0;
    default:
        return true;
    }
}

static void describe(const struct node *nd, const char *have, json_int_t index,
                     char *buf, size_t size)
{
    const char *what = nd->last == CH_ADD      ? "added"
                       : nd->last == CH_REMOVE ? "removed"
                                               : "made ";

    snprintf(buf, size,
             "acknowledged change lost: %s %s%s (committed, at %.3f s) but "
             "%s%s in the final configuration (index %lld)",
             nd->name, what,
             nd->last == CH_ASSIGN && nd->role != NULL ? nd->role : "",
             (double)nd->time / 1e9, have != NULL ? "a " : "not a member",
             have != NULL ? have : "", (long long)index);
}

int checker_membership(const struct history *h, struct report *out)
{
    struct ctx c = {.h = h, .out = out};
    int kept, lost, not_judged;
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
        if (nd->last == CH_NONE) {
            continue;
        }
        if (nd->unknown) {
            report_add(out, not_judged, NULL);
        } else if (agrees(nd, have)) {
            report_add(out, kept, NULL);
        } else {
            describe(nd, have, index, text, sizeof text);
            report_add(out, lost,
                       json_pack("{s:s, s:s, s:s?, s:I, s:[I, I]}",
                                 "description", text, "node", nd->name, "role",
                                 have, "index", index, "ops",
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
