/* check: load a stored history, run its checkers, write the verdict.
 *
 * Which checkers run, and with which model, is the registry's plan
 * (checker/registry.h): --checker and --model force them; else the
 * history's header (workload, checkers, model), the run's scenario
 * (workload.name), and the operations' names last.
 *
 * The verdict is one object: "valid" over all of them (invalid if any is,
 * else unknown if any is, else valid), "checkers" with each one's verdict,
 * and, when the linearizability checker ran alone, its fields at the top
 * level as before. */
#include "runner/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checker/linearizable.h"
#include "checker/registry.h"
#include "checker/model.h"
#include "checker/report.h"
#include "checker/requests.h"
#include "checker/verdict.h"
#include "histories/history.h"
#include "histories/import.h"
#include "runner/fs.h"
#include "runner/msg.h"
#include "runner/run.h"
#include "runner/scenario.h"

#define DEFAULT_TIME_LIMIT_S 60
#define DEFAULT_MEMORY_MB    1024

static int set_result(struct check_result *res, int code, const char *fmt,
                      const char *a, const char *b)
{
    res->code = code;
    snprintf(res->summary, sizeof res->summary, fmt, a, b);
    return code;
}

/* The run's own settings, when @dir holds a scenario.json. A scenario that
 * no longer loads is an error: it names what the run was. */
static int load_run_scenario(const char *dir, struct scenario *s, bool *found)
{
    char path[PATH_MAX + 32];
    char err[512];
    int rv;

    scenario_defaults(s);
    snprintf(path, sizeof path, "%s/scenario.json", dir);
    rv = scenario_load(path, s, err, sizeof err);
    *found = rv != -ENOENT;
    if (rv == -ENOENT) {
        return 0;
    }
    if (rv != 0) {
        msg_error("%s", err);
    }
    return rv;
}

static int write_verdict(const char *dir, json_t *verdict)
{
    char path[PATH_MAX + 32];
    char tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/verdict.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.verdict.json.tmp", dir);
    if (json_dump_file(verdict, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) !=
        0) {
        return -EIO;
    }
    if (rename(tmp, path) != 0) {
        return -errno;
    }
    return 0;
}

/* Did the run directory's runner.log see no leader elected? (A run that
 * never found one stops before its workload starts.) */
static bool never_led(const char *dir)
{
    char path[PATH_MAX + 32], line[512];
    bool led = false;
    FILE *f;
    snprintf(path, sizeof path, "%s/runner.log", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    while (!led && fgets(line, sizeof line, f) != NULL) {
        led = strstr(line, "leader elected") != NULL;
    }
    fclose(f);
    return !led;
}

/* Does @h hold an op or nemesis record named in @fs (NULL-terminated)?
 * The probes are the runner's: digest ops, the configuration record. */
static bool has_op_of(const struct history *h, const char *const *fs)
{
    for (size_t i = 0; i < h->n; i++) {
        for (size_t k = 0; fs != NULL && fs[k] != NULL; k++) {
            if (strcmp(h->events[i].f, fs[k]) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Client operations (invokes) in @h, the runner's digest probes aside. */
static size_t client_ops(const struct history *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        n += h->events[i].process != HISTORY_NEMESIS &&
             h->events[i].type == HISTORY_INVOKE &&
             strcmp(h->events[i].f, "digest") != 0; /* the runner's probes */
    }
    return n;
}

/* The first line of RUN_DIR/interrupted (written by a run stopped by a
 * signal) into @buf; false when the run was not interrupted. */
static bool read_interrupted(const char *dir, char *buf, size_t size)
{
    char path[PATH_MAX + 32];
    FILE *f;
    snprintf(path, sizeof path, "%s/interrupted", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    if (fgets(buf, (int)size, f) == NULL) {
        snprintf(buf, size, "interrupted");
    }
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
    return true;
}

/* The register model's configuration for a history of format @fmt, with
 * --initial @initial (NULL: not given). */
static int register_config(const char *initial, enum history_format fmt,
                           struct model_register_config *c, char *err,
                           size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->nil_read_unknown = fmt == HISTORY_FORMAT_EDN;
    if (initial != NULL) {
        char *end;
        errno = 0;
        long long v = strtoll(initial, &end, 10);
        if (errno != 0 || end == initial || *end != '\0') {
            snprintf(err, errlen,
                     "--initial: expected an integer (the register's first "
                     "value), got \"%s\"",
                     initial);
            return -EINVAL;
        }
        c->has_initial = true;
        c->initial = v;
    }
    return 0;
}

static int result_code(enum verdict_result r)
{
    return r == VERDICT_VALID     ? EXIT_VALID
           : r == VERDICT_INVALID ? EXIT_INVALID
                                  : EXIT_UNKNOWN;
}

/* The overall verdict: invalid beats unknown beats valid. */
static enum verdict_result combine(enum verdict_result a, enum verdict_result b)
{
    if (a == VERDICT_INVALID || b == VERDICT_INVALID) {
        return VERDICT_INVALID;
    }
    if (a == VERDICT_UNKNOWN || b == VERDICT_UNKNOWN) {
        return VERDICT_UNKNOWN;
    }
    return VERDICT_VALID;
}

/* Append one checker's summary to the overall line, without its leading
 * "valid: " (the overall word comes first), naming the checker. */
static void add_part(char *buf, size_t size, const char *part,
                     const char *checker)
{
    size_t used = strlen(buf);
    const char *colon = strstr(part, ": ");
    const char *rest = colon ? colon + 2 : part;
    bool named = strncmp(rest, checker, strlen(checker)) == 0;
    snprintf(buf + used, size - used, "%s%s%s%s", used ? "; " : "",
             named ? "" : checker, named ? "" : ": ", rest);
}

struct part {
    enum verdict_result result;
    const char *checker;
    char summary[1024];
};

static void overall_summary(enum verdict_result all, const struct part *parts,
                            size_t n, char *buf, size_t size)
{
    char body[1024] = "";
    for (size_t i = 0; i < n; i++) {
        if (parts[i].result == all) {
            add_part(body, sizeof body, parts[i].summary, parts[i].checker);
        }
    }
    snprintf(buf, size, "%s: %s", verdict_result_name(all), body);
}

/* Run the linearizability checker with @model; add its verdict to
 * @top (fields at the top level too) and @checkers. */
static int run_linearizable(const struct history *h, const struct model *model,
                            const struct checker_limits *limits, json_t *top,
                            json_t *checkers, struct part *part,
                            struct check_result *res, const char *history_path)
{
    struct verdict v;
    json_t *js;
    int rv;

    /* Task records and leases are judged by logical request: a retry's reply is
     * the first attempt's outcome (FORMAT.md, "Request ids and retries"). */
    rv = requests_check(h, model, limits, &v);
    if (rv != 0) {
        /* -EINVAL: well-formed JSON but not a consistent history (e.g. a
         * completion without an invoke): bad input. -ENOMEM: ours. */
        int code = rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
        history_locate(history_path, rv == -ENOMEM ? "out of memory" : v.reason,
                       res->summary, sizeof res->summary);
        res->code = code;
        verdict_close(&v);
        return code;
    }
    res->ops += (int64_t)v.ops;
    js = verdict_to_json(&v);
    part->result = v.result;
    part->checker = "linearizable";
    verdict_summary(&v, part->summary, sizeof part->summary);
    verdict_close(&v);
    if (js == NULL) {
        return set_result(res, EXIT_HARNESS, "%s: %s", history_path,
                          "out of memory");
    }
    if (json_object_size(checkers) == 0) {
        json_object_update(top, js); /* alone: its fields on top, as before */
    }
    json_object_set_new(checkers, "linearizable", js);
    return 0;
}

/* One check, phase to phase: find the history (and the run's scenario),
 * load it, plan the checkers and limits, run them, decide the verdict,
 * report it. */
struct check_ctx {
    const char *path;
    const struct check_options *o;
    struct check_result *res;
    char history_path[PATH_MAX + 32];
    char dir[PATH_MAX];
    char text[768];
    bool is_dir, has_scenario;
    struct scenario s;
    struct history h;
    enum history_format fmt;
    struct registry_plan plan;
    struct checker_limits limits;
    struct part parts[REGISTRY_MAX_CHECKERS + 1];
    size_t nparts;
    enum verdict_result all;
    json_t *checkers;
};

/* The history's path, and for a run directory its scenario. */
static int locate(struct check_ctx *c)
{
    struct stat st;

    if (stat(c->path, &st) != 0) {
        return set_result(c->res, EXIT_BAD_INPUT, "%s: %s", c->path,
                          strerror(errno));
    }
    c->is_dir = S_ISDIR(st.st_mode);
    scenario_defaults(&c->s);
    if (!c->is_dir) {
        snprintf(c->history_path, sizeof c->history_path, "%s", c->path);
        return 0;
    }
    snprintf(c->dir, sizeof c->dir, "%s", c->path);
    snprintf(c->history_path, sizeof c->history_path, "%s/history.jsonl",
             c->path);
    if (fs_run_dir(c->path, "history.jsonl", c->text, sizeof c->text) != 0) {
        /* The words report, shrink and repro use. */
        return set_result(c->res, EXIT_BAD_INPUT, "%s%s", c->text, "");
    }
    if (load_run_scenario(c->dir, &c->s, &c->has_scenario) != 0) {
        return set_result(c->res, EXIT_BAD_INPUT, "%s: bad scenario.json%s",
                          c->path, "");
    }
    return 0;
}

/* Read the history in its format (given, or detected). */
static int load(struct check_ctx *c)
{
    struct history_error herr;

    c->fmt = HISTORY_FORMAT_AUTO;
    if (c->o->format != NULL) {
        int f = history_format_parse(c->o->format);
        if (f < 0) {
            return set_result(c->res, EXIT_BAD_INPUT,
                              "--format: unknown format \"%s\" (jsonl, edn, "
                              "etcd-log, kv-edn)%s",
                              c->o->format, "");
        }
        c->fmt = (enum history_format)f;
    }
    if (history_import(c->history_path, c->fmt, &c->h, &c->fmt, &herr) != 0) {
        history_error_format(&herr, c->text, sizeof c->text);
        return set_result(c->res, EXIT_BAD_INPUT, "%s%s", c->text, "");
    }
    history_retimed_warning(&c->h, c->history_path, c->text, sizeof c->text);
    if (c->text[0] != '\0') {
        msg_error("%s", c->text); /* once */
    }
    return 0;
}

/* --export-edn: write the history as Jepsen EDN instead of checking it. */
static int export_edn(struct check_ctx *c)
{
    const char *to = c->o->export_edn;
    FILE *out = strcmp(to, "-") == 0 ? stdout : fopen(to, "w");
    int rv = out != NULL ? history_export_edn(&c->h, out) : -errno;

    if (out != NULL && out != stdout && fclose(out) != 0 && rv == 0) {
        rv = -EIO;
    }
    history_close(&c->h);
    if (rv != 0) {
        return set_result(c->res, EXIT_HARNESS, "%s: %s", to, strerror(-rv));
    }
    return set_result(c->res, EXIT_VALID, "%s%s", "", "");
}

/* Which checkers, and which model: forced, else from the format, the
 * history's header, the scenario's workload, or the op names; the
 * register's semantics; the limits. On failure the history is closed. */
static int plan(struct check_ctx *c)
{
    const struct check_options *o = c->o;
    const struct scenario *s = c->has_scenario ? &c->s : NULL;
    struct registry_choice choice = {
        .checkers = o->checkers,
        .model = o->model != NULL ? o->model : history_format_model(c->fmt),
        .workload = s != NULL ? s->workload.name : NULL,
        .run_dir = c->is_dir,
    };
    struct model_register_config regcfg;
    bool in_header = false;

    if (registry_plan(&c->h, &choice, &c->plan, &in_header, c->text,
                      sizeof c->text) != 0) {
        char where[PATH_MAX + 64] = "";
        if (in_header) {
            snprintf(where, sizeof where, "%s:%d: ", c->history_path,
                     c->h.header.line);
        }
        history_close(&c->h);
        return set_result(c->res, EXIT_BAD_INPUT, "%s%s", where, c->text);
    }
    /* The register's semantics: ours for our JSONL; Knossos' for Jepsen
     * EDN (FORMAT.md, "Reading Jepsen's history.edn"). */
    if (register_config(o->initial, c->fmt, &regcfg, c->text, sizeof c->text) !=
        0) {
        history_close(&c->h);
        return set_result(c->res, EXIT_BAD_INPUT, "%s%s", c->text, "");
    }
    model_register_configure(&regcfg);
    c->limits = (struct checker_limits){
        .time_s = o->time_limit_s > 0 ? o->time_limit_s
                  : s != NULL         ? s->checker.time_limit_s
                                      : DEFAULT_TIME_LIMIT_S,
        .memory_bytes = (size_t)(o->memory_mb > 0 ? o->memory_mb
                                 : s != NULL      ? s->checker.memory_mb
                                                  : DEFAULT_MEMORY_MB) *
                        1024 * 1024,
        .whole = o->whole,
        .threads = (unsigned)(o->threads > 0 ? o->threads
                              : s != NULL    ? s->checker.threads
                                             : 0),
    };
    return 0;
}

/* Add @rep (closed here) to the verdict as @rc's part. */
static int add_report(struct check_ctx *c, const struct registry_checker *rc,
                      struct report *rep)
{
    struct check_result *res = c->res;
    struct part *part = &c->parts[c->nparts];
    json_t *js = report_to_json(rep);

    part->result = rep->result;
    part->checker = rc->name;
    report_summary(rep, part->summary, sizeof part->summary);
    c->all = combine(c->all, rep->result);
    c->nparts++;
    if ((int64_t)rep->ops > res->ops) {
        res->ops = (int64_t)rep->ops;
    }
    report_close(rep);
    if (js == NULL || json_object_set_new(c->checkers, rc->name, js) != 0) {
        return set_result(res, EXIT_HARNESS, "%s: %s", c->history_path,
                          "out of memory");
    }
    return 0;
}

/* One checker of the plan that reports (set, queue, lease, ...). */
static int run_report(struct check_ctx *c, const struct registry_checker *rc)
{
    struct check_result *res = c->res;
    struct report rep;
    int rv;

    if (rc->probe && !has_op_of(&c->h, rc->fs)) {
        return 0; /* no probes recorded: not part of this verdict */
    }
    rv = rc->report(&c->h, &rep);
    if (rv != 0) {
        res->code = rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
        history_locate(c->history_path, rep.reason, res->summary,
                       sizeof res->summary);
        report_close(&rep);
        return rv;
    }
    return add_report(c, rc, &rep);
}

/* A run-directory checker of the plan (raft, over the nodes' events). */
static int run_report_dir(struct check_ctx *c,
                          const struct registry_checker *rc)
{
    struct report rep;
    int rv = rc->report_run(c->dir, &rep);

    if (rv == -ENOENT) {
        return 0; /* nothing for it in this run: not part of the verdict */
    }
    if (rv != 0) {
        set_result(c->res, rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT,
                   "%s: %s", c->dir,
                   rv == -ENOMEM ? "out of memory" : rep.reason);
        report_close(&rep);
        return c->res->code;
    }
    return add_report(c, rc, &rep);
}

/* The checkers of the plan, in its order. */
static int run_checkers(struct check_ctx *c)
{
    struct check_result *res = c->res;
    int rv = 0;

    res->verdict = json_object();
    c->checkers = json_object();
    if (res->verdict == NULL || c->checkers == NULL) {
        return set_result(res, EXIT_HARNESS, "%s: %s", c->history_path,
                          "out of memory");
    }
    for (size_t i = 0; i < c->plan.n && rv == 0; i++) {
        const struct registry_checker *rc = c->plan.checkers[i];
        if (rc->report_run != NULL) {
            rv = run_report_dir(c, rc);
            continue;
        }
        if (rc->report != NULL) {
            rv = run_report(c, rc);
            continue;
        }
        /* linearizable, after the other checkers of the workload's ops
         * (plan order): its fields go on top when it ran alone. */
        int64_t ops = res->ops;
        res->ops = 0;
        rv = run_linearizable(&c->h, c->plan.model, &c->limits, res->verdict,
                              c->checkers, &c->parts[c->nparts], res,
                              c->history_path);
        if (rv == 0) {
            if (ops > res->ops) {
                res->ops = ops;
            }
            c->all = combine(c->all, c->parts[c->nparts].result);
            c->nparts++;
        }
    }
    return rv;
}

/* Nothing to check is not valid: a history with no operation says
 * nothing about the system (a run that never started its clients, a
 * header-only file). */
static void decide_empty(struct check_ctx *c)
{
    if (client_ops(&c->h) != 0) {
        return;
    }
    snprintf(c->text, sizeof c->text, "nothing to check: %s",
             c->is_dir && never_led(c->dir)
                 ? "the run never found a leader (runner.log), and its "
                   "history has no client operations"
                 : "the history has no client operations");
    c->all = VERDICT_UNKNOWN;
    json_object_set_new(c->res->verdict, "reason", json_string(c->text));
    snprintf(c->parts[0].summary, sizeof c->parts[0].summary, "unknown: %s",
             c->text);
    c->parts[0].result = VERDICT_UNKNOWN;
    c->parts[0].checker = "";
    c->nparts = 1;
}

/* The summary's prefix for a partial history: an interrupted run's, or a
 * cut last line's. */
static void report_partial(struct check_ctx *c)
{
    struct check_result *res = c->res;
    char summary[sizeof res->summary];

    if (c->is_dir && read_interrupted(c->dir, c->text, sizeof c->text)) {
        /* The run stopped half-way: the verdict is about what happened
         * until then. Say so first. */
        json_object_set_new(res->verdict, "partial", json_true());
        json_object_set_new(res->verdict, "interrupted", json_string(c->text));
        snprintf(summary, sizeof summary, "partial history (run %s): %s",
                 c->text, res->summary);
        memcpy(res->summary, summary, sizeof summary);
    } else if (c->h.partial) {
        snprintf(summary, sizeof summary,
                 "partial history (the last line was cut off): %s",
                 res->summary);
        memcpy(res->summary, summary, sizeof summary);
    }
}

static void report_verdict(struct check_ctx *c)
{
    json_t *v = c->res->verdict;
    enum verdict_result all = c->all;

    json_object_set_new(v, "valid",
                        all == VERDICT_VALID     ? json_true()
                        : all == VERDICT_INVALID ? json_false()
                                                 : json_string("unknown"));
    json_object_set(v, "checkers", c->checkers);
    json_object_set_new(v, "partial", json_boolean(c->h.partial));
    json_object_set_new(v, "history", json_string(c->history_path));
    json_object_set_new(v, "format", json_string(history_format_name(c->fmt)));
    if (c->h.time_back > 0 || c->h.untimed > 0) {
        json_object_set_new(v, "retimed",
                            json_pack("{s:I, s:I}", "time_back",
                                      (json_int_t)c->h.time_back, "untimed",
                                      (json_int_t)c->h.untimed));
    }
    overall_summary(all, c->parts, c->nparts, c->res->summary,
                    sizeof c->res->summary);
    report_partial(c);
    c->res->code = result_code(all);
}

int check_path(const char *path, const struct check_options *o,
               struct check_result *res)
{
    struct check_ctx ctx = {.path = path, .o = o, .res = res};
    struct check_ctx *c = &ctx;
    int rv;

    memset(res, 0, sizeof *res);
    c->all = VERDICT_VALID;
    if (locate(c) != 0 || load(c) != 0) {
        return res->code;
    }
    if (o->export_edn != NULL) {
        return export_edn(c);
    }
    if (plan(c) != 0) {
        return res->code;
    }
    rv = run_checkers(c);
    if (rv == 0) {
        decide_empty(c);
        report_verdict(c);
    }
    model_register_configure(NULL);
    json_decref(c->checkers);
    history_close(&c->h);
    if (rv != 0) {
        json_decref(res->verdict);
        res->verdict = NULL;
    } else if (c->is_dir) {
        rv = write_verdict(c->dir, res->verdict);
        if (rv != 0) {
            msg_error("writing %s/verdict.json: %s", c->dir, strerror(-rv));
            res->code = EXIT_HARNESS;
        }
    }
    return res->code;
}
