/* shrink_run: load a run's history, shrink its invalid key with ddmin
 * (checker/shrink.h), write the result and its verdict beside it. */
#include "runner/shrink_run.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checker/linearizable.h"
#include "checker/model.h"
#include "checker/registry.h"
#include "checker/report.h"
#include "checker/requests.h"
#include "checker/shrink.h"
#include "checker/verdict.h"
#include "histories/history.h"
#include "histories/import.h"
#include "runner/fs.h"
#include "runner/msg.h"
#include "runner/run.h"
#include "runner/scenario.h"

#define DEFAULT_TIME_S 60

/* The run's scenario workload (copied into @buf), when @dir has a
 * scenario.json that loads; "" otherwise. */
static const char *scenario_workload(const char *dir, char *buf, size_t size)
{
    char path[PATH_MAX + 32], err[512];
    struct scenario s;

    buf[0] = '\0';
    if (dir != NULL) {
        snprintf(path, sizeof path, "%s/scenario.json", dir);
        scenario_defaults(&s);
        if (scenario_load(path, &s, err, sizeof err) == 0) {
            snprintf(buf, size, "%s", s.workload.name);
        }
    }
    return buf;
}

static int write_history(const char *path, const struct history *h,
                         const struct history_header *original)
{
    struct history_header header = *original; /* its workload and checkers */
    struct history_writer *w;
    int rv = 0;

    header.version = HISTORY_FORMAT_VERSION;
    unlink(path);
    w = history_writer_new(path, &header);
    if (w == NULL) {
        return -errno;
    }
    for (size_t i = 0; i < h->n && rv == 0; i++) {
        struct history_event e = h->events[i];
        rv = history_writer_append(w, &e);
    }
    if (history_writer_free(w) != 0 && rv == 0) {
        rv = -EIO;
    }
    return rv;
}

static void print_event(const struct history_event *e, size_t orig)
{
    char *v = json_dumps(e->value, JSON_COMPACT | JSON_ENCODE_ANY);
    char proc[16];
    if (e->process == HISTORY_NEMESIS) {
        snprintf(proc, sizeof proc, "nemesis");
    } else {
        snprintf(proc, sizeof proc, "%d", e->process);
    }
    printf("  %6zu %10.3f s  %-7s %-6s %-9s %-6s %s%s%s\n", orig,
           (double)e->time / 1e9, proc, history_type_name(e->type), e->f,
           e->key != NULL ? e->key : "", v != NULL ? v : "",
           e->error != NULL ? "  error: " : "",
           e->error != NULL ? e->error : "");
    free(v);
}

/* A run whose verdict.json is invalid by the raft checker (node events,
 * not client operations) has a valid history: say where its evidence is,
 * so "nothing to shrink" does not read as "nothing wrong". */
static void say_node_verdict(const char *hist_path)
{
    const char *tail = "/history.jsonl";
    size_t len = strlen(hist_path), tl = strlen(tail);
    char path[PATH_MAX + 64];
    json_t *v, *raft, *anomalies, *a;
    const char *kind;

    if (len < tl || strcmp(hist_path + len - tl, tail) != 0) {
        return;
    }
    snprintf(path, sizeof path, "%.*s/verdict.json", (int)(len - tl),
             hist_path);
    v = json_load_file(path, 0, NULL);
    raft = json_object_get(json_object_get(v, "checkers"), "raft");
    anomalies = json_object_get(raft, "anomalies");
    if (json_is_false(json_object_get(raft, "valid"))) {
        json_object_foreach(anomalies, kind, a)
        {
            json_t *ex = json_array_get(json_object_get(a, "examples"), 0);
            msg_error("the run is invalid by the raft checker, from the "
                      "nodes' events, not its history: %s (%s): %s",
                      kind, json_string_value(json_object_get(ex, "at")) ?: "?",
                    json_string_value(json_object_get(ex, "description"))
                        ?: "");
            break;
        }
    }
    json_decref(v);
}

/* Where the outputs go, and what the shrink found. */
struct outputs {
    char hist_path[PATH_MAX + 32];
    char out_path[PATH_MAX + 64];
    char verdict_path[PATH_MAX + 64];
    const struct history_header *header; /* the original's (borrowed) */
};

/* Write the shrunk history @out and @vj (its verdict, stolen), print the
 * ops with their original indices orig[i]. Returns the exit code. */
static int finish(const struct outputs *p, const struct history *out,
                  const int64_t *orig, json_t *vj, const char *summary,
                  const struct shrink_stats *st, const char *how, int code)
{
    json_t *indices = json_array();
    for (size_t i = 0; i < out->n; i++) {
        json_array_append_new(indices, json_integer((json_int_t)orig[i]));
    }
    json_object_set_new(vj, "history", json_string(p->out_path));
    json_object_set_new(vj, "shrunk_from", json_string(p->hist_path));
    json_object_set_new(vj, "shrink",
                        json_pack("{s:s, s:I, s:I, s:I, s:f, s:b, s:o}", "how",
                                  how, "ops_before", (json_int_t)st->ops_before,
                                  "ops_after", (json_int_t)st->ops_after,
                                  "checks", (json_int_t)st->checks, "seconds",
                                  st->seconds, "minimal", !st->time_out,
                                  "original_indices", indices));
    if (write_history(p->out_path, out, p->header) != 0 ||
        json_dump_file(vj, p->verdict_path,
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        msg_error("writing %s: %s", p->out_path, strerror(errno));
        code = EXIT_HARNESS;
    }
    printf("faultline: shrunk %zu ops to %zu (%s; %zu checks, %.1f s%s):\n",
           st->ops_before, st->ops_after, how, st->checks, st->seconds,
           st->time_out ? ", time limit reached: may not be minimal" : "");
    printf("  %6s %12s  %-7s %-6s %-9s %-6s %s\n", "index", "time", "process",
           "type", "f", "key", "value");
    for (size_t i = 0; i < out->n; i++) {
        print_event(&out->events[i], (size_t)orig[i]);
    }
    printf("faultline: %s\n(indices are the original history's; in %s "
           "the events are numbered from 0, and original_indices in %s "
           "maps them back)\nfaultline: wrote %s and %s\n",
           summary, p->out_path, p->verdict_path, p->out_path, p->verdict_path);
    json_decref(vj);
    return code;
}

/* @out seen with the original history's indices: a shallow view (free
 * view->events only) whose event i has index orig[i], so that what a
 * checker says of it ("index 5378") names the original run's events, as
 * the table above it does. Returns 0 or -ENOMEM. */
static int original_view(const struct history *out, const int64_t *orig,
                         struct history *view)
{
    *view = *out;
    view->events = calloc(out->n + 1, sizeof *view->events);
    if (view->events == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < out->n; i++) {
        view->events[i] = out->events[i];
        view->events[i].index = orig[i];
    }
    return 0;
}

/* --- set, queue and lease anomalies --------------------------------------- */

/* Does @h hold ops the checker @rc reads? */
static bool reads_ops_of(const struct history *h,
                         const struct registry_checker *rc)
{
    for (size_t i = 0; i < h->n; i++) {
        for (int k = 0; rc->fs[k] != NULL; k++) {
            if (h->events[i].process != HISTORY_NEMESIS &&
                strcmp(h->events[i].f, rc->fs[k]) == 0) {
                return true;
            }
        }
    }
    return false;
}

struct report_test {
    const struct registry_checker *rc;
    char kind[32]; /* the anomaly class that must stay ("lost") */
    /* The anomaly classes the original shows: no other may appear (taking
     * out an enqueue must not turn a double claim into a phantom too). */
    const char *seen[REPORT_CLASSES];
    size_t nseen;
};

static bool was_seen(const struct report_test *t, const char *name)
{
    for (size_t i = 0; i < t->nseen; i++) {
        if (strcmp(t->seen[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static int test_report(const struct history *h, void *arg)
{
    struct report_test *t = arg;
    struct report rep;
    int hit = 0;
    int rv = t->rc->report(h, &rep);
    if (rv == 0 && rep.result == VERDICT_INVALID) {
        for (size_t i = 0; i < rep.nclasses; i++) {
            const struct report_class *c = &rep.classes[i];
            if (c->anomaly && c->count > 0 && !was_seen(t, c->name)) {
                hit = 0;
                break;
            }
            hit |= strcmp(c->name, t->kind) == 0 && c->count > 0;
        }
    }
    report_close(&rep);
    return rv == -ENOMEM ? rv : hit;
}

/* Is list entry @v about task @task? Entries are {"id": T, ...}. */
static bool entry_is(const json_t *v, const char *task)
{
    const char *id = json_string_value(json_object_get(v, "id"));
    return id != NULL && strcmp(id, task) == 0;
}

/* @h projected onto task @task: its ops, every list (its result cut to
 * that task's entry), the nemesis events; orig[i] gets the index in @h of
 * the projection's event i. The set checker judges each task on its own
 * (as Jepsen's set-full does), so the projection keeps the anomaly. */
static int project(const struct history *h, const char *task,
                   struct history *out, int64_t *orig)
{
    int max_process = 0;
    bool *keep;
    int rv = 0;

    for (size_t i = 0; i < h->n; i++) {
        if (h->events[i].process > max_process) {
            max_process = h->events[i].process;
        }
    }
    keep = calloc((size_t)max_process + 1, sizeof *keep);
    if (keep == NULL) {
        return -ENOMEM;
    }
    history_init(out);
    if (history_header_copy(&out->header, &h->header) != 0) {
        free(keep);
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n && rv == 0; i++) {
        struct history_event e = h->events[i];
        json_t *cut = NULL;
        if (e.process != HISTORY_NEMESIS) {
            /* An op is kept or dropped whole: decided at its invoke. */
            if (e.type == HISTORY_INVOKE) {
                keep[e.process] = strcmp(e.f, "list") == 0 ||
                                  (e.key != NULL && strcmp(e.key, task) == 0);
            }
            if (!keep[e.process]) {
                continue;
            }
            if (strcmp(e.f, "list") == 0 && json_is_array(e.value)) {
                size_t k;
                json_t *v;
                cut = json_array();
                json_array_foreach(e.value, k, v)
                {
                    if (entry_is(v, task)) {
                        json_array_append(cut, v);
                    }
                }
                e.value = cut;
            }
        }
        orig[out->n] = h->events[i].index;
        rv = history_add(out, &e);
        json_decref(cut);
    }
    free(keep);
    if (rv != 0) {
        history_close(out);
    }
    return rv;
}

/* Shrink the anomaly of @h that @rep (the report of checker @rc) found.
 * Returns the exit code. */
static int shrink_report(const struct outputs *p, const struct history *h,
                         const struct registry_checker *rc,
                         const struct report *rep, double time_s)
{
    struct report_test t = {.rc = rc};
    struct history proj, out, view;
    struct shrink_stats st;
    struct report shrunk;
    const char *task = NULL;
    int64_t *proj_orig = calloc(h->n + 1, sizeof *proj_orig);
    int64_t *orig = calloc(h->n + 1, sizeof *orig);
    size_t *idx = NULL;
    char text[1024];
    json_t *vj;
    int rv, code = EXIT_HARNESS;

    for (size_t i = 0; i < rep->nclasses; i++) {
        if (rep->classes[i].anomaly && rep->classes[i].count > 0) {
            t.seen[t.nseen++] = rep->classes[i].name;
        }
    }
    for (size_t i = 0; i < rep->nclasses && t.kind[0] == '\0'; i++) {
        const struct report_class *c = &rep->classes[i];
        if (c->anomaly && c->count > 0) {
            snprintf(t.kind, sizeof t.kind, "%s", c->name);
            task = json_string_value(
                json_object_get(json_array_get(c->examples, 0), "task"));
        }
    }
    if (proj_orig == NULL || orig == NULL || t.kind[0] == '\0' ||
        (rc->project && task == NULL)) {
        msg_error("%s: the %s anomaly names no task", p->hist_path, rc->name);
        goto out_free;
    }
    if (rc->project) {
        rv = project(h, task, &proj, proj_orig);
        if (rv != 0) {
            goto out_free;
        }
        printf("faultline: %s anomaly \"%s\" of task %s: %zu events of it "
               "(its ops, the lists)\n",
               rc->name, t.kind, task, proj.n);
    } else {
        /* The whole history: its events are shared, not copied. */
        proj = *h;
        for (size_t i = 0; i < h->n; i++) {
            proj_orig[i] = h->events[i].index;
        }
        printf("faultline: %s anomaly \"%s\"\n", rc->name, t.kind);
    }
    rv = shrink_history(&proj, NULL, test_report, &t, time_s, &out, &idx, &st);
    if (rv != 0) {
        msg_error("%s: %s", p->hist_path,
                  rv == -EINVAL ? "the anomaly does not show on the task alone"
                                : strerror(-rv));
        if (rc->project) {
            history_close(&proj);
        }
        code = rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
        goto out_free;
    }
    for (size_t i = 0; i < out.n; i++) {
        orig[i] = proj_orig[idx[i]];
    }
    rv = rc->report(&out, &shrunk);
    vj = report_to_json(&shrunk);
    code = rv == 0 && shrunk.result == VERDICT_INVALID ? EXIT_INVALID
                                                       : EXIT_HARNESS;
    report_close(&shrunk);
    /* The line people read names the original's indices. */
    if (original_view(&out, orig, &view) == 0) {
        rv = rc->report(&view, &shrunk);
        report_summary(&shrunk, text, sizeof text);
        report_close(&shrunk);
        free(view.events);
    } else {
        code = EXIT_HARNESS;
    }
    code = finish(p, &out, orig, vj, text, &st,
                  rc->project ? "set, projected on one task" : rc->name, code);
    history_close(&out);
    if (rc->project) {
        history_close(&proj);
    }
out_free:
    free(idx);
    free(proj_orig);
    free(orig);
    return code;
}

/* --- linearizability -------------------------------------------------------
 */

static int shrink_lin(const struct outputs *p, const struct history *h,
                      struct shrink_lin *lin, const char *key)
{
    struct history out, view;
    struct shrink_stats st;
    struct verdict v;
    size_t *idx = NULL;
    int64_t *orig;
    char text[1024];
    json_t *vj;
    int rv, code;

    lin->key = key;
    rv = shrink_history(h, shrink_keep_key, shrink_test_linearizable, lin,
                        lin->limits.time_s, &out, &idx, &st);
    if (rv != 0) {
        msg_error("%s: %s", p->hist_path, strerror(-rv));
        return rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
    }
    orig = calloc(out.n + 1, sizeof *orig);
    for (size_t i = 0; orig != NULL && i < out.n; i++) {
        orig[i] = h->events[idx[i]].index;
    }
    /* The shrunk history's own verdict, as `check` would write it. */
    rv = requests_check(&out, lin->model, NULL, &v);
    code = rv == 0 && v.result == VERDICT_INVALID ? EXIT_INVALID : EXIT_HARNESS;
    vj = verdict_to_json(&v);
    verdict_close(&v);
    /* The line people read names the original's indices. */
    if (orig != NULL && original_view(&out, orig, &view) == 0) {
        requests_check(&view, lin->model, NULL, &v);
        verdict_summary(&v, text, sizeof text);
        verdict_close(&v);
        free(view.events);
    } else {
        text[0] = '\0';
        code = EXIT_HARNESS;
    }
    if (orig != NULL) {
        code =
            finish(p, &out, orig, vj, text, &st, "linearizable, one key", code);
    } else {
        json_decref(vj);
        code = EXIT_HARNESS;
    }
    free(orig);
    free(idx);
    history_close(&out);
    return code;
}

int shrink_run(const char *path, const struct shrink_run_options *o)
{
    struct outputs p;
    struct history h;
    struct history_error herr;
    struct shrink_lin lin = {0};
    struct registry_choice choice = {0};
    struct registry_plan plan;
    struct verdict v;
    struct report rep;
    struct stat sb;
    enum history_format fmt;
    const char *dir = NULL;
    char text[1024], workload[64];
    double time_s = o->time_s > 0 ? o->time_s : DEFAULT_TIME_S;
    bool want_lin, in_header, reports_unknown = false;
    int rv, code;

    if (o->checker != NULL && registry_checker(o->checker) == NULL) {
        registry_known_checkers(text, sizeof text);
        msg_error("--checker: unknown checker \"%s\" (known: %s)", o->checker,
                  text);
        return EXIT_BAD_INPUT;
    }
    if (o->checker != NULL && registry_checker(o->checker)->report_run) {
        msg_error("--checker: %s judges the nodes' events, which a shorter "
                  "history does not change: nothing to shrink",
                  o->checker);
        return EXIT_BAD_INPUT;
    }
    if (stat(path, &sb) != 0) {
        msg_error("%s: %s", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    if (S_ISDIR(sb.st_mode)) {
        dir = path;
        snprintf(p.hist_path, sizeof p.hist_path, "%s/history.jsonl", path);
        if (fs_run_dir(path, "history.jsonl", text, sizeof text) != 0) {
            msg_error("%s", text);
            return EXIT_BAD_INPUT;
        }
        snprintf(p.out_path, sizeof p.out_path, "%s/shrunk.jsonl", path);
        snprintf(p.verdict_path, sizeof p.verdict_path,
                 "%s/shrunk.verdict.json", path);
    } else {
        snprintf(p.hist_path, sizeof p.hist_path, "%s", path);
        snprintf(p.out_path, sizeof p.out_path, "%s.shrunk.jsonl", path);
        snprintf(p.verdict_path, sizeof p.verdict_path,
                 "%s.shrunk.verdict.json", path);
    }
    rv = history_import(p.hist_path, HISTORY_FORMAT_AUTO, &h, &fmt, &herr);
    if (rv != 0) {
        history_error_format(&herr, text, sizeof text);
        msg_error("%s", text);
        return EXIT_BAD_INPUT;
    }
    p.header = &h.header;
    if (h.partial) { /* check's words for it */
        msg_warning("%s: partial history (the last line was cut off)",
                    p.hist_path);
    }
    history_retimed_warning(&h, p.hist_path, text, sizeof text);
    if (text[0] != '\0') {
        msg_error("%s", text);
    }
    {
        size_t ops = 0;
        for (size_t i = 0; i < h.n; i++) {
            ops += h.events[i].process != HISTORY_NEMESIS;
        }
        if (ops == 0) { /* nothing to check is not valid (as check says) */
            msg_error("%s: nothing to shrink: unknown: the history has no "
                      "client operations",
                      p.hist_path);
            history_close(&h);
            return EXIT_UNKNOWN;
        }
    }

    /* The checkers check would run (the registry's plan); --model only
     * picks the linearizability checker's model. */
    choice.checkers = o->checker;
    choice.workload = scenario_workload(dir, workload, sizeof workload);
    rv = registry_plan(&h, &choice, &plan, &in_header, text, sizeof text);
    if (rv == 0 && o->model != NULL) {
        lin.model = model_find(o->model);
        if (lin.model == NULL) {
            char known[128];
            registry_known_models(known, sizeof known);
            snprintf(text, sizeof text,
                     "--model: unknown model \"%s\" (known: %s)", o->model,
                     known);
            rv = -EINVAL;
            in_header = false;
        }
    }
    if (rv != 0) {
        if (in_header) {
            msg_error("%s:%d: %s", p.hist_path, h.header.line, text);
        } else {
            msg_error("%s", text);
        }
        history_close(&h);
        return EXIT_BAD_INPUT;
    }
    if (lin.model == NULL) {
        lin.model = plan.model;
    }
    want_lin = registry_plan_has(&plan, "linearizable") ||
               (o->model != NULL && o->checker == NULL);
    if (lin.model == NULL) {
        lin.model = model_find("cas-register");
    }

    /* The set, queue or lease checker first, for histories of their ops:
     * their anomalies (an acked create lost, a task claimed twice) say the
     * most. */
    for (size_t i = 0; i < plan.n; i++) {
        const struct registry_checker *rc = plan.checkers[i];
        if (rc->report == NULL || !reads_ops_of(&h, rc)) {
            continue;
        }
        rv = rc->report(&h, &rep);
        if (rv == 0 && rep.result == VERDICT_INVALID) {
            code = shrink_report(&p, &h, rc, &rep, time_s);
            report_close(&rep);
            history_close(&h);
            return code;
        }
        if (rv == 0 && rep.result == VERDICT_UNKNOWN) {
            reports_unknown = true;
        }
        report_close(&rep);
    }

    lin.limits.time_s = time_s;
    lin.limits.memory_bytes = (size_t)1024 * 1024 * 1024;
    /* The whole history first: only an invalid one has something to
     * shrink, and its anomaly names the key to start from. */
    rv = want_lin ? requests_check(&h, lin.model, &lin.limits, &v) : 0;
    if (!want_lin || rv != 0 || v.result != VERDICT_INVALID) {
        code = !want_lin ? (reports_unknown ? EXIT_UNKNOWN : EXIT_VALID)
               : rv != 0 ? EXIT_BAD_INPUT
               : v.result == VERDICT_VALID ? EXIT_VALID
                                           : EXIT_UNKNOWN;
        if (want_lin) {
            verdict_summary(&v, text, sizeof text);
        }
        if (want_lin && rv != 0) { /* not a history check can read */
            history_locate(p.hist_path, v.reason, text, sizeof text);
            msg_error("%s", text);
        } else {
            msg_error("%s: nothing to shrink: the history is not invalid "
                      "(%s)",
                      p.hist_path,
                      !want_lin ? (reports_unknown ? "unknown" : "valid")
                                : text);
        }
        if (want_lin) {
            verdict_close(&v);
        }
        say_node_verdict(p.hist_path);
        history_close(&h);
        return code;
    }
    code = shrink_lin(&p, &h, &lin, v.key);
    verdict_close(&v);
    history_close(&h);
    return code;
}
