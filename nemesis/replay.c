/* replay: the fault schedule a stored run followed, read back from its
 * history, so that `faultline repro` can inject the same faults at the same
 * times on the same nodes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nemesis/nemesis.h"

/* How the history names the start and the end of each fault kind. Kinds
 * not listed here start with an event named after the kind and end with
 * any other event carrying the same value. */
static const struct {
    const char *start; /* f of the invoke that starts the fault */
    const char *kind;  /* the nemesis_ops name */
    const char *end;   /* f of the invoke that ends it */
} names[] = {
    {"kill", "kill", "start"},       {"stop", "restart", "start"},
    {"pause", "pause", "resume"},    {"partition", "partition", "heal"},
    {"loss", "loss", "loss-stop"},   {"clock", "clock", "clock-reset"},
    {"disk", "disk", "disk-heal"},
    {"crash-restart", "crash-restart", "start"},
};

#define N_NAMES (sizeof names / sizeof names[0])

/* Does the end value @end close the fault that started with @start? A
 * reactive fault's start value also carries its trigger (nemesis/reactive.h):
 * {"nodes": [...], "trigger": ...} or the kind's own object with "trigger",
 * "rule"; its end is recorded as the kind records it. */
static bool same_fault(const json_t *end, const json_t *start)
{
    json_t *bare;
    bool same;
    if (!json_is_object(start) || json_object_get(start, "trigger") == NULL) {
        return json_equal(end, start);
    }
    if (json_is_array(json_object_get(start, "nodes"))) {
        return json_equal(end, json_object_get(start, "nodes"));
    }
    bare = json_deep_copy(start);
    json_object_del(bare, "trigger");
    json_object_del(bare, "rule");
    same = json_equal(end, bare);
    json_decref(bare);
    return same;
}

/* The fault kind an invoke named @f starts, or NULL. */
static const struct nemesis_ops *kind_started_by(const char *f)
{
    for (size_t i = 0; i < N_NAMES; i++) {
        if (strcmp(names[i].start, f) == 0) {
            return nemesis_find(names[i].kind);
        }
    }
    return nemesis_find(f);
}

/* Does an invoke named @f end a fault of kind @ops? */
static bool ends(const char *f, const struct nemesis_ops *ops)
{
    for (size_t i = 0; i < N_NAMES; i++) {
        if (strcmp(names[i].kind, ops->name) == 0) {
            return strcmp(names[i].end, f) == 0;
        }
    }
    return nemesis_find(f) == NULL;
}

/* Records inside a membership fault (nemesis/membership.h): each change
 * and its outcome. They replay with the fault, not as faults of their own. */
static const char *const details[] = {"add", "assign", "remove", "transfer",
                                      "wipe", "join", NULL};

static bool is_end_name(const char *f)
{
    for (int i = 0; details[i] != NULL; i++) {
        if (strcmp(details[i], f) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < N_NAMES; i++) {
        if (strcmp(names[i].end, f) == 0) {
            return true;
        }
    }
    return false;
}

int nemesis_schedule_from_history(const struct history *h,
                                  int64_t faults_start_ns, double max_s,
                                  struct nemesis_step *steps, int max,
                                  int *skipped)
{
    bool *open = calloc((size_t)max + 1, sizeof *open);
    int64_t *start_ns = calloc((size_t)max + 1, sizeof *start_ns);
    int n = 0;

    *skipped = 0;
    if (open == NULL || start_ns == NULL) {
        free(open);
        free(start_ns);
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        const struct nemesis_ops *ops;
        double at;

        if (e->process != HISTORY_NEMESIS || e->type != HISTORY_INVOKE) {
            continue;
        }
        /* An end: close the earliest open fault it matches. */
        for (int k = 0; k < n; k++) {
            if (open[k] && ends(e->f, steps[k].ops) &&
                same_fault(e->value, steps[k].replay)) {
                open[k] = false;
                steps[k].duration_s = (double)(e->time - start_ns[k]) / 1e9;
                goto next;
            }
        }
        ops = kind_started_by(e->f);
        if (ops == NULL) {
            if (!is_end_name(e->f)) {
                (*skipped)++; /* a fault this build does not know */
            }
            continue;
        }
        if (n >= max) {
            break;
        }
        at = (double)(e->time - faults_start_ns) / 1e9;
        steps[n] = (struct nemesis_step){
            .at_s = at > 0 ? at : 0,
            .duration_s = max_s - (at > 0 ? at : 0),
            .ops = ops,
            .draw = 0,
            .replay = json_incref(e->value),
        };
        open[n] = true;
        start_ns[n] = e->time;
        n++;
    next:;
    }
    free(open);
    free(start_ns);
    return n;
}
