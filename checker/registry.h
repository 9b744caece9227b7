/* registry: the workloads faultline checks, each with its checkers and its
 * model, in one table; and the one guess of a history's workload. */
#ifndef FAULTLINE_REGISTRY_H
#define FAULTLINE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "checker/model.h"
#include "checker/report.h"
#include "histories/history.h"

/* The most checkers a plan holds (a workload's and the run-directory
 * ones). */
#define REGISTRY_MAX_CHECKERS 6

/* A checker: one function from a history to a verdict. The set, queue and
 * lease checkers sort what they judge into anomaly classes (@report); the
 * linearizability checker (@report NULL) searches with a model instead
 * (requests_check()). */
struct registry_checker {
    const char *name; /* "set" */
    int (*report)(const struct history *h, struct report *out);
    const char *const *fs; /* ops it reads: shrink tries it only on a history
                            * that has one (NULL-terminated) */
    bool project; /* shrink cuts the history to the anomaly's task first */
    /* It judges the runner's end-of-run probes (ops @fs), not the
     * workload's: it runs after the other checkers, and a history with none
     * of its ops (an older run, an import) leaves it out of the verdict. */
    bool probe;
    /* A run-directory checker judges what a run directory holds besides
     * its history (the nodes' events), not the history: @report is NULL
     * and this is set. It returns 0 with its verdict in @out, -ENOENT when
     * the run gives it nothing to judge (left out of the verdict), another
     * -errno with out->reason. It joins the plan of every run directory
     * (registry_choice.run_dir), or when --checker names it. */
    int (*report_run)(const char *run_dir, struct report *out);
};

/* A workload: what its histories hold and how they are judged. */
struct registry_workload {
    const char *name;                            /* "tasks" */
    const char *checkers[REGISTRY_MAX_CHECKERS]; /* names, in the order they
                                                  * run; NULL-terminated */
    const char *model; /* the linearizability checker's model, or NULL */
    bool by_request;   /* linearizable over logical requests (attempts
                        * grouped by rid, FORMAT.md), not over attempts */
    const char *const *fs; /* the op names that mark its histories */
};

/* The checker or workload called @name, or NULL. */
const struct registry_checker *registry_checker(const char *name);
const struct registry_workload *registry_workload(const char *name);

/* The workload whose op names a history's client ops carry, for histories
 * that do not say (no header "workload", no scenario): the first workload
 * of the table with an op in @h wins (a "get" is a task get when the
 * history also creates tasks); register when no op is known. */
const struct registry_workload *registry_guess(const struct history *h);

/* Is the model called @name checked by logical request (a workload
 * declares it so)? */
bool registry_by_request(const char *model);

/* "linearizable, set, queue, lease"; "register, tasks, queue, lease, kv";
 * "cas-register, task-record, lease, kv": for "known: ..." in messages. */
void registry_known_checkers(char *buf, size_t size);
void registry_known_workloads(char *buf, size_t size);
void registry_known_models(char *buf, size_t size);

/* What the caller forces, and what it knows of the run; NULL: not given. */
struct registry_choice {
    const char *checkers; /* --checker LIST: names separated by commas */
    const char *model;    /* --model, or the model a format implies */
    const char *workload; /* the run's scenario.json workload.name */
    bool run_dir;         /* the history is a run directory's: its
                           * run-directory checkers join the plan */
};

/* Which checkers run on a history, and with which model. */
struct registry_plan {
    const struct registry_checker *checkers[REGISTRY_MAX_CHECKERS];
    size_t n;
    const struct model *model; /* set when linearizable is among them */
    const char *workload;      /* the workload it came from, or NULL */
    const char *from;          /* "--checker", "header", "scenario",
                                * "op names": where the choice came from */
};

/* Plan the checks of @h (borrowed): the forced checkers and model of @c
 * first, then the history's header (checkers, model, workload), the run's
 * scenario, and registry_guess() last. Returns 0; -EINVAL with a message
 * in @err naming the option or the header field and what is known (then
 * *@in_header says whether the header's field was at fault, for the
 * caller to name file:line). */
int registry_plan(const struct history *h, const struct registry_choice *c,
                  struct registry_plan *p, bool *in_header, char *err,
                  size_t errlen);

/* Does @p run the checker called @name? */
bool registry_plan_has(const struct registry_plan *p, const char *name);

#endif /* FAULTLINE_REGISTRY_H */
