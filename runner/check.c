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

/* Does @h hold an op named in @fs (NULL-terminated)? */
static bool has_op_of(const struct history *h, const char *const *fs)
{
    for (size_t i = 0; i < h->n; i++) {
        for (size_t k = 0; fs != NULL && fs[k] != NULL; k++) {
            if (h->events[i].process != HISTORY_NEMESIS &&
                strcmp(h->events[i].f, fs[k]) == 0) {
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

int check_path(const char *path, const struct check_options *o,
               struct check_result *res)
{
    char history_path[PATH_MAX + 32];
    char dir[PATH_MAX];
    char text[768];
    struct scenario s;
    struct history h;
    struct history_error herr;
    struct checker_limits limits;
    struct part parts[REGISTRY_MAX_CHECKERS];
    size_t nparts = 0;
    struct registry_choice choice;
    struct registry_plan plan;
    struct model_register_config regcfg;
    bool in_header = false;
    enum verdict_result all = VERDICT_VALID;
    json_t *checkers = NULL;
    struct stat st;
    enum history_format fmt;
    bool is_dir, has_scenario = false;
    int rv;

    memset(res, 0, sizeof *res);
    if (stat(path, &st) != 0) {
        return set_result(res, EXIT_BAD_INPUT, "%s: %s", path, strerror(errno));
    }
    is_dir = S_ISDIR(st.st_mode);
    scenario_defaults(&s);
    if (is_dir) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(history_path, sizeof history_path, "%s/history.jsonl", path);
        if (fs_run_dir(path, "history.jsonl", text, sizeof text) != 0) {
            /* The words report, shrink and repro use. */
            return set_result(res, EXIT_BAD_INPUT, "%s%s", text, "");
        }
        if (load_run_scenario(dir, &s, &has_scenario) != 0) {
            return set_result(res, EXIT_BAD_INPUT, "%s: bad scenario.json%s",
                              path, "");
        }
    } else {
        snprintf(history_path, sizeof history_path, "%s", path);
    }

    fmt = HISTORY_FORMAT_AUTO;
    if (o->format != NULL) {
        int f = history_format_parse(o->format);
        if (f < 0) {
            return set_result(res, EXIT_BAD_INPUT,
                              "--format: unknown format \"%s\" (jsonl, edn, "
                              "etcd-log, kv-edn)%s",
                              o->format, "");
        }
        fmt = (enum history_format)f;
    }
    rv = history_import(history_path, fmt, &h, &fmt, &herr);
    if (rv != 0) {
        history_error_format(&herr, text, sizeof text);
        return set_result(res, EXIT_BAD_INPUT, "%s%s", text, "");
    }
    history_retimed_warning(&h, history_path, text, sizeof text);
    if (text[0] != '\0') {
        msg_error("%s", text); /* once */
    }
    if (o->export_edn != NULL) {
        FILE *out = strcmp(o->export_edn, "-") == 0 ? stdout
                                                    : fopen(o->export_edn, "w");
        rv = out != NULL ? history_export_edn(&h, out) : -errno;
        if (out != NULL && out != stdout && fclose(out) != 0 && rv == 0) {
            rv = -EIO;
        }
        history_close(&h);
        if (rv != 0) {
            return set_result(res, EXIT_HARNESS, "%s: %s", o->export_edn,
                              strerror(-rv));
        }
        return set_result(res, EXIT_VALID, "%s%s", "", "");
    }

    /* Which checkers, and which model: forced, else from the format, the
     * history's header, the scenario's workload, or the op names. */
    choice = (struct registry_choice){
        .checkers = o->checkers,
        .model = o->model != NULL ? o->model : history_format_model(fmt),
        .workload = has_scenario ? s.workload.name : NULL,
    };
    rv = registry_plan(&h, &choice, &plan, &in_header, text, sizeof text);
    if (rv != 0) {
        char where[PATH_MAX + 64] = "";
        if (in_header) {
            snprintf(where, sizeof where, "%s:%d: ", history_path,
                     h.header.line);
        }
        history_close(&h);
        return set_result(res, EXIT_BAD_INPUT, "%s%s", where, text);
    }
    /* The register's semantics: ours for our JSONL; Knossos' for Jepsen
     * EDN (FORMAT.md, "Reading Jepsen's history.edn"). */
    rv = register_config(o->initial, fmt, &regcfg, text, sizeof text);
    if (rv != 0) {
        history_close(&h);
        return set_result(res, EXIT_BAD_INPUT, "%s%s", text, "");
    }
    model_register_configure(&regcfg);
    limits = (struct checker_limits){
        .time_s = o->time_limit_s > 0 ? o->time_limit_s
                  : has_scenario      ? s.checker.time_limit_s
                                      : DEFAULT_TIME_LIMIT_S,
        .memory_bytes = (size_t)(o->memory_mb > 0 ? o->memory_mb
                                 : has_scenario   ? s.checker.memory_mb
                                                  : DEFAULT_MEMORY_MB) *
                        1024 * 1024,
        .whole = o->whole,
        .threads = (unsigned)(o->threads > 0 ? o->threads
                              : has_scenario ? s.checker.threads
                                             : 0),
    };

    res->verdict = json_object();
    checkers = json_object();
    if (res->verdict == NULL || checkers == NULL) {
        rv = set_result(res, EXIT_HARNESS, "%s: %s", history_path,
                        "out of memory");
        goto out;
    }
    for (size_t i = 0; i < plan.n; i++) {
        const struct registry_checker *c = plan.checkers[i];
        struct report rep;
        json_t *js;
        if (c->report == NULL) {
            /* linearizable, after the other checkers of the workload's ops
             * (plan order): its fields go on top when it ran alone. */
            int64_t ops = res->ops;
            res->ops = 0;
            rv = run_linearizable(&h, plan.model, &limits, res->verdict,
                                  checkers, &parts[nparts], res, history_path);
            if (rv != 0) {
                goto out;
            }
            if (ops > res->ops) {
                res->ops = ops;
            }
            all = combine(all, parts[nparts].result);
            nparts++;
            continue;
        }
        if (c->probe && !has_op_of(&h, c->fs)) {
            continue; /* no probes recorded: not part of this verdict */
        }
        rv = c->report(&h, &rep);
        if (rv != 0) {
            res->code = rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
            history_locate(history_path, rep.reason, res->summary,
                           sizeof res->summary);
            report_close(&rep);
            goto out;
        }
        js = report_to_json(&rep);
        parts[nparts].result = rep.result;
        parts[nparts].checker = c->name;
        report_summary(&rep, parts[nparts].summary,
                       sizeof parts[nparts].summary);
        all = combine(all, rep.result);
        nparts++;
        if ((int64_t)rep.ops > res->ops) {
            res->ops = (int64_t)rep.ops;
        }
        report_close(&rep);
        if (js == NULL || json_object_set_new(checkers, c->name, js) != 0) {
            rv = set_result(res, EXIT_HARNESS, "%s: %s", history_path,
                            "out of memory");
            goto out;
        }
    }
    if (client_ops(&h) == 0) {
        /* Nothing to check is not valid: a history with no operation says
         * nothing about the system (a run that never started its clients,
         * a header-only file). */
        snprintf(text, sizeof text, "nothing to check: %s",
                 is_dir && never_led(dir)
                     ? "the run never found a leader (runner.log), and its "
                       "history has no client operations"
                     : "the history has no client operations");
        all = VERDICT_UNKNOWN;
        json_object_set_new(res->verdict, "reason", json_string(text));
        snprintf(parts[0].summary, sizeof parts[0].summary, "unknown: %s",
                 text);
        parts[0].result = VERDICT_UNKNOWN;
        parts[0].checker = "";
        nparts = 1;
    }
    json_object_set_new(res->verdict, "valid",
                        all == VERDICT_VALID     ? json_true()
                        : all == VERDICT_INVALID ? json_false()
                                                 : json_string("unknown"));
    json_object_set(res->verdict, "checkers", checkers);
    json_object_set_new(res->verdict, "partial", json_boolean(h.partial));
    json_object_set_new(res->verdict, "history", json_string(history_path));
    json_object_set_new(res->verdict, "format",
                        json_string(history_format_name(fmt)));
    if (h.time_back > 0 || h.untimed > 0) {
        json_object_set_new(res->verdict, "retimed",
                            json_pack("{s:I, s:I}", "time_back",
                                      (json_int_t)h.time_back, "untimed",
                                      (json_int_t)h.untimed));
    }
    overall_summary(all, parts, nparts, res->summary, sizeof res->summary);
    if (is_dir && read_interrupted(dir, text, sizeof text)) {
        /* The run stopped half-way: the verdict is about what happened
         * until then. Say so first. */
        char summary[sizeof res->summary];
        json_object_set_new(res->verdict, "partial", json_true());
        json_object_set_new(res->verdict, "interrupted", json_string(text));
        snprintf(summary, sizeof summary, "partial history (run %s): %s", text,
                 res->summary);
        memcpy(res->summary, summary, sizeof summary);
    } else if (h.partial) {
        char summary[sizeof res->summary];
        snprintf(summary, sizeof summary,
                 "partial history (the last line was cut off): %s",
                 res->summary);
        memcpy(res->summary, summary, sizeof summary);
    }
    res->code = result_code(all);
    rv = 0;

out:
    model_register_configure(NULL);
    json_decref(checkers);
    history_close(&h);
    if (rv != 0) {
        json_decref(res->verdict);
        res->verdict = NULL;
        return res->code;
    }
    if (is_dir) {
        rv = write_verdict(dir, res->verdict);
        if (rv != 0) {
            msg_error("writing %s/verdict.json: %s", dir, strerror(-rv));
            res->code = EXIT_HARNESS;
        }
    }
    return res->code;
}
