/* check: load a stored history, run the checker, write the verdict. */
#include "runner/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checker/linearizable.h"
#include "checker/model.h"
#include "checker/verdict.h"
#include "histories/history.h"
#include "histories/import.h"
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
        fprintf(stderr, "faultline: %s\n", err);
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

/* The model a history's op names suggest: kv for get/put/append. */
static const char *guess_model(const struct history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const char *f = h->events[i].f;
        if (h->events[i].process == HISTORY_NEMESIS) {
            continue;
        }
        if (strcmp(f, "get") == 0 || strcmp(f, "put") == 0 ||
            strcmp(f, "append") == 0) {
            return "kv";
        }
        if (strcmp(f, "read") == 0 || strcmp(f, "write") == 0 ||
            strcmp(f, "cas") == 0) {
            return "cas-register";
        }
    }
    return "cas-register";
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
    struct verdict v;
    const struct model *model;
    const char *model_name;
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

    model_name = o->model;
    if (model_name == NULL) {
        model_name = history_format_model(fmt);
    }
    if (model_name == NULL && has_scenario && s.workload.name[0] != '\0') {
        model_name = s.workload.name;
    }
    if (model_name == NULL) {
        model_name = guess_model(&h);
    }
    model = model_find(model_name);
    if (model == NULL) {
        history_close(&h);
        return set_result(res, EXIT_BAD_INPUT,
                          "--model: unknown model \"%s\"%s", model_name, "");
    }
    limits = (struct checker_limits){
        .time_s = o->time_limit_s > 0 ? o->time_limit_s
                  : has_scenario      ? s.checker.time_limit_s
                                      : DEFAULT_TIME_LIMIT_S,
        .memory_bytes = (size_t)(o->memory_mb > 0 ? o->memory_mb
                                 : has_scenario   ? s.checker.memory_mb
                                                  : DEFAULT_MEMORY_MB) *
                        1024 * 1024,
        .whole = o->whole,
    };

    rv = checker_linearizable(&h, model, &limits, &v);
    if (rv != 0) {
        /* -EINVAL: well-formed JSON but not a consistent history (e.g. a
         * completion without an invoke): bad input. -ENOMEM: ours. */
        int code = rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
        set_result(res, code, "%s: %s", history_path,
                   rv == -ENOMEM ? "out of memory" : v.reason);
        verdict_close(&v);
        history_close(&h);
        return code;
    }
    res->ops = v.ops;
    res->verdict = verdict_to_json(&v);
    json_object_set_new(res->verdict, "partial", json_boolean(h.partial));
    json_object_set_new(res->verdict, "history", json_string(history_path));
    json_object_set_new(res->verdict, "format",
                        json_string(history_format_name(fmt)));
    verdict_summary(&v, res->summary, sizeof res->summary);
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
    switch (v.result) {
    case VERDICT_VALID:
        res->code = EXIT_VALID;
        break;
    case VERDICT_INVALID:
        res->code = EXIT_INVALID;
        break;
    default:
        res->code = EXIT_UNKNOWN;
        break;
    }
    verdict_close(&v);
    history_close(&h);

    if (is_dir) {
        rv = write_verdict(dir, res->verdict);
        if (rv != 0) {
            fprintf(stderr, "faultline: writing %s/verdict.json: %s\n", dir,
                    strerror(-rv));
            res->code = EXIT_HARNESS;
        }
    }
    return res->code;
}
