/* registry: the workloads faultline checks, each with its checkers and its
 * model, in one table; and the one guess of a history's workload.
 *
 * A new checker is one entry of `checkers`; a new workload is one entry of
 * `workloads` naming its checkers, its model, whether linearizability is
 * judged by logical request, and the op names that mark its histories.
 * check, shrink and repro all plan through registry_plan(), so they agree
 * on what a history is; the "known: ..." lists of their messages come from
 * these tables too. */
#include "checker/registry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checker/converge.h"
#include "checker/lease.h"
#include "checker/membership.h"
#include "checker/queue.h"
#include "checker/raft_safety.h"
#include "checker/set.h"

static const char *const set_fs[] = {"create", "update", "delete", "list",
                                     NULL};
static const char *const queue_fs[] = {"enqueue", "claim", "ack", "nack", NULL};
static const char *const lease_fs[] = {"acquire", "release", "holder", NULL};
static const char *const converge_fs[] = {"digest", NULL};
/* A nemesis record (the runner's end-of-run read of the configuration). */
static const char *const membership_fs[] = {"configuration", NULL};

static const struct registry_checker checkers[] = {
    {"linearizable", NULL, NULL, false, false, NULL},
    {"set", checker_set, set_fs, true, false, NULL},
    {"queue", checker_queue, queue_fs, false, false, NULL},
    {"lease", checker_lease, lease_fs, false, false, NULL},
    {"converge", checker_converge, converge_fs, false, true, NULL},
    {"membership", checker_membership, membership_fs, false, true, NULL},
    {"raft", NULL, NULL, false, false, checker_raft_safety_run},
};

/* The guess takes the first workload of this table with an op in the
 * history, so the order matters: a "get" is a task get when the history
 * also creates tasks (tasks before kv), and register comes last. */
static const char *const tasks_fs[] = {"create", "update", "delete", "list",
                                       NULL};
static const char *const kv_fs[] = {"put", "append", "get", NULL};
static const char *const register_fs[] = {"read", "write", "cas", NULL};

static const struct registry_workload workloads[] = {
    {"tasks",
     {"set", "linearizable", "converge", "membership", NULL},
     "task-record",
     true,
     tasks_fs},
    {"queue", {"queue", "converge", "membership", NULL}, NULL, false, queue_fs},
    {"lease",
     {"lease", "linearizable", "converge", "membership", NULL},
     "lease",
     true,
     lease_fs},
    {"kv", {"linearizable", NULL}, "kv", false, kv_fs},
    {"register",
     {"linearizable", "converge", "membership", NULL},
     "cas-register",
     false,
     register_fs},
};

#define NCHECKERS  (sizeof checkers / sizeof checkers[0])
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

const struct registry_checker *registry_checker(const char *name)
{
    for (size_t i = 0; name != NULL && i < NCHECKERS; i++) {
        if (strcmp(name, checkers[i].name) == 0) {
            return &checkers[i];
        }
    }
    return NULL;
}

const struct registry_workload *registry_workload(const char *name)
{
    for (size_t i = 0; name != NULL && i < NWORKLOADS; i++) {
        if (strcmp(name, workloads[i].name) == 0) {
            return &workloads[i];
        }
    }
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t k = 0; list != NULL && list[k] != NULL; k++) {
        if (strcmp(list[k], s) == 0) {
            return true;
        }
    }
    return false;
}

const struct registry_workload *registry_guess(const struct history *h)
{
    size_t best = NWORKLOADS - 1; /* register */
    for (size_t i = 0; i < h->n && best > 0; i++) {
        if (h->events[i].process == HISTORY_NEMESIS) {
            continue;
        }
        for (size_t w = 0; w < best; w++) {
            if (in_list(workloads[w].fs, h->events[i].f)) {
                best = w;
                break;
            }
        }
    }
    return &workloads[best];
}

bool registry_by_request(const char *model)
{
    const struct model *m = model_find(model);
    for (size_t i = 0; m != NULL && i < NWORKLOADS; i++) {
        if (workloads[i].by_request && workloads[i].model != NULL &&
            model_find(workloads[i].model) == m) {
            return true;
        }
    }
    return false;
}

static void join(char *buf, size_t size, const char *s)
{
    size_t used = strlen(buf);
    if (used < size) {
        snprintf(buf + used, size - used, "%s%s", used ? ", " : "", s);
    }
}

void registry_known_checkers(char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < NCHECKERS; i++) {
        join(buf, size, checkers[i].name);
    }
}

void registry_known_workloads(char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < NWORKLOADS; i++) {
        join(buf, size, workloads[i].name);
    }
}

void registry_known_models(char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < NWORKLOADS; i++) {
        bool seen = workloads[i].model == NULL;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = workloads[k].model != NULL &&
                   strcmp(workloads[k].model, workloads[i].model) == 0;
        }
        if (!seen) {
            join(buf, size, workloads[i].model);
        }
    }
}

bool registry_plan_has(const struct registry_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->checkers[i]->name, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Add the checker @name to @p, once; -EINVAL for an unknown one. */
static int plan_add(struct registry_plan *p, const char *name, const char *what,
                    char *err, size_t errlen)
{
    const struct registry_checker *c = registry_checker(name);
    char known[128];
    if (c == NULL) {
        registry_known_checkers(known, sizeof known);
        snprintf(err, errlen, "%s: unknown checker \"%s\" (known: %s)", what,
                 name, known);
        return -EINVAL;
    }
    if (!registry_plan_has(p, name) && p->n < REGISTRY_MAX_CHECKERS) {
        p->checkers[p->n++] = c;
    }
    return 0;
}

/* The checkers run in the registry's order, whatever order they were
 * named in: the report checkers of the workload's ops first, linearizable
 * next, the probes' checkers, then the run-directory ones (so that
 * linearizable, when it is the only checker of the workload's ops, still
 * comes first). */
static int pass_of(const struct registry_checker *c)
{
    return c->report_run != NULL ? 2 : c->probe ? 1 : 0;
}

static void plan_sort(struct registry_plan *p)
{
    struct registry_plan sorted = *p;
    sorted.n = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 1; i <= NCHECKERS; i++) {
            const struct registry_checker *c = &checkers[i % NCHECKERS];
            if (pass_of(c) == pass && registry_plan_has(p, c->name)) {
                sorted.checkers[sorted.n++] = c;
            }
        }
    }
    *p = sorted;
}

/* The run-directory checkers: every one for a run directory unless
 * --checker chose; none for a history file (an error when --checker named
 * one). */
static int plan_run_dir(struct registry_plan *p,
                        const struct registry_choice *c, char *err,
                        size_t errlen)
{
    size_t kept = 0;

    if (c->run_dir) {
        for (size_t i = 0; c->checkers == NULL && i < NCHECKERS; i++) {
            if (checkers[i].report_run != NULL) {
                plan_add(p, checkers[i].name, "run directory", err, errlen);
            }
        }
        return 0;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->checkers[i]->report_run == NULL) {
            p->checkers[kept++] = p->checkers[i];
        } else if (c->checkers != NULL) {
            snprintf(err, errlen,
                     "--checker: %s judges a run directory (its nodes' "
                     "events), not a history file: give the run directory",
                     p->checkers[i]->name);
            return -EINVAL;
        }
    }
    p->n = kept;
    return 0;
}

static int bad_model(const char *what, const char *name, char *err,
                     size_t errlen)
{
    char known[128];
    registry_known_models(known, sizeof known);
    snprintf(err, errlen, "%s: unknown model \"%s\" (known: %s)", what, name,
             known);
    return -EINVAL;
}

int registry_plan(const struct history *h, const struct registry_choice *c,
                  struct registry_plan *p, bool *in_header, char *err,
                  size_t errlen)
{
    const struct history_header *hd = &h->header;
    const char *model = c->model;
    const char *model_what = "--model";
    char known[128];
    int rv;

    memset(p, 0, sizeof *p);
    *in_header = false;
    if (c->checkers != NULL) {
        char buf[256], *save = NULL, *tok;
        snprintf(buf, sizeof buf, "%s", c->checkers);
        for (tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            rv = plan_add(p, tok, "--checker", err, errlen);
            if (rv != 0) {
                return rv;
            }
        }
        if (p->n == 0) {
            snprintf(err, errlen, "--checker: expected one or more names");
            return -EINVAL;
        }
        p->from = "--checker";
    }
    if (p->n == 0 && model != NULL) {
        plan_add(p, "linearizable", "--model", err, errlen);
        p->from = "--model";
    }
    /* What the history says of itself (FORMAT.md, the header). */
    if (p->n == 0 && hd->checkers != NULL) {
        char buf[256], *save = NULL, *tok;
        snprintf(buf, sizeof buf, "%s", hd->checkers); /* "set, lease" */
        *in_header = true;
        for (tok = strtok_r(buf, ", ", &save); tok != NULL;
             tok = strtok_r(NULL, ", ", &save)) {
            rv = plan_add(p, tok, "field \"checkers\"", err, errlen);
            if (rv != 0) {
                return rv;
            }
        }
        *in_header = false;
        p->from = "header";
    }
    if (model == NULL && hd->model != NULL) {
        model = hd->model;
        model_what = "field \"model\"";
    }
    if (p->n == 0 || (registry_plan_has(p, "linearizable") && model == NULL)) {
        const struct registry_workload *w = NULL;
        const char *name = NULL;
        const char *from = NULL;
        if (hd->workload != NULL) {
            name = hd->workload;
            from = "header";
        } else if (c->workload != NULL && c->workload[0] != '\0') {
            name = c->workload;
            from = "scenario";
        }
        if (name != NULL) {
            w = registry_workload(name);
            if (w == NULL && model_find(name) != NULL) {
                /* A scenario naming a model: linearizable with it. */
                if (p->n == 0) {
                    plan_add(p, "linearizable", "workload", err, errlen);
                    p->from = from;
                }
                if (model == NULL) {
                    model = name;
                }
            } else if (w == NULL) {
                registry_known_workloads(known, sizeof known);
                *in_header = hd->workload != NULL;
                snprintf(err, errlen,
                         "%s: unknown workload \"%s\" (known: %s; or give "
                         "--checker or --model)",
                         *in_header ? "field \"workload\"" : "workload", name,
                         known);
                return -EINVAL;
            }
        } else {
            w = registry_guess(h);
            from = "op names";
        }
        if (w != NULL) {
            p->workload = w->name;
            if (p->n == 0) {
                for (size_t i = 0; w->checkers[i] != NULL; i++) {
                    plan_add(p, w->checkers[i], "workload", err, errlen);
                }
                p->from = from;
            }
            if (model == NULL) {
                model = w->model != NULL ? w->model : "cas-register";
            }
        }
    }
    rv = plan_run_dir(p, c, err, errlen);
    if (rv != 0) {
        return rv;
    }
    plan_sort(p);
    if (registry_plan_has(p, "linearizable")) {
        p->model = model_find(model);
        if (p->model == NULL) {
            *in_header = model == hd->model;
            return bad_model(*in_header ? model_what : "--model", model, err,
                             errlen);
        }
    }
    return 0;
}
