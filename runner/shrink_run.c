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
#include "checker/shrink.h"
#include "checker/verdict.h"
#include "histories/history.h"
#include "histories/import.h"
#include "runner/run.h"
#include "runner/scenario.h"

#define DEFAULT_TIME_S 60

/* The model: --model, the run's scenario, else the op names. */
static const struct model *pick_model(const char *given, const char *dir,
                                      const struct history *h)
{
    char path[PATH_MAX + 32], err[512];
    struct scenario s;

    if (given != NULL) {
        return model_find(given);
    }
    if (dir != NULL) {
        snprintf(path, sizeof path, "%s/scenario.json", dir);
        scenario_defaults(&s);
        if (scenario_load(path, &s, err, sizeof err) == 0 &&
            model_find(s.workload.name) != NULL) {
            return model_find(s.workload.name);
        }
    }
    for (size_t i = 0; i < h->n; i++) {
        const char *f = h->events[i].f;
        if (h->events[i].process == HISTORY_NEMESIS) {
            continue;
        }
        if (strcmp(f, "get") == 0 || strcmp(f, "put") == 0 ||
            strcmp(f, "append") == 0) {
            return model_find("kv");
        }
    }
    return model_find("cas-register");
}

static int write_history(const char *path, const struct history *h)
{
    struct history_header header = h->header;
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
           e->error != NULL ? "  error: " : "", e->error != NULL ? e->error : "");
    free(v);
}

int shrink_run(const char *path, const struct shrink_run_options *o)
{
    char hist_path[PATH_MAX + 32], out_path[PATH_MAX + 64];
    char verdict_path[PATH_MAX + 64], text[1024];
    struct history h, out;
    struct history_error herr;
    struct shrink_lin lin = {0};
    struct shrink_stats st;
    struct verdict v;
    struct stat sb;
    enum history_format fmt;
    const char *dir = NULL;
    size_t *idx = NULL;
    json_t *vj = NULL, *indices;
    int rv, code;

    if (stat(path, &sb) != 0) {
        fprintf(stderr, "faultline shrink: %s: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    if (S_ISDIR(sb.st_mode)) {
        dir = path;
        snprintf(hist_path, sizeof hist_path, "%s/history.jsonl", path);
        snprintf(out_path, sizeof out_path, "%s/shrunk.jsonl", path);
        snprintf(verdict_path, sizeof verdict_path, "%s/shrunk.verdict.json",
                 path);
    } else {
        snprintf(hist_path, sizeof hist_path, "%s", path);
        snprintf(out_path, sizeof out_path, "%s.shrunk.jsonl", path);
        snprintf(verdict_path, sizeof verdict_path, "%s.shrunk.verdict.json",
                 path);
    }
    rv = history_import(hist_path, HISTORY_FORMAT_AUTO, &h, &fmt, &herr);
    if (rv != 0) {
        history_error_format(&herr, text, sizeof text);
        fprintf(stderr, "faultline shrink: %s\n", text);
        return EXIT_BAD_INPUT;
    }
    lin.model = pick_model(o->model, dir, &h);
    if (lin.model == NULL) {
        fprintf(stderr, "faultline shrink: --model: unknown model \"%s\"\n",
                o->model);
        history_close(&h);
        return EXIT_BAD_INPUT;
    }
    lin.limits.time_s = o->time_s > 0 ? o->time_s : DEFAULT_TIME_S;
    lin.limits.memory_bytes = (size_t)1024 * 1024 * 1024;

    /* The whole history first: only an invalid one has something to
     * shrink, and its anomaly names the key to start from. */
    rv = checker_linearizable(&h, lin.model, &lin.limits, &v);
    if (rv != 0 || v.result != VERDICT_INVALID) {
        verdict_summary(&v, text, sizeof text);
        code = rv != 0                        ? EXIT_BAD_INPUT
               : v.result == VERDICT_VALID ? EXIT_VALID
                                             : EXIT_UNKNOWN;
        fprintf(stderr,
                "faultline shrink: %s: nothing to shrink: the history is "
                "not invalid (%s)\n",
                hist_path, rv != 0 ? v.reason : text);
        verdict_close(&v);
        history_close(&h);
        return code;
    }
    lin.key = v.key; /* borrowed from v until the end */
    rv = shrink_history(&h, shrink_keep_key, shrink_test_linearizable, &lin,
                        lin.limits.time_s, &out, &idx, &st);
    verdict_close(&v);
    if (rv != 0) {
        fprintf(stderr, "faultline shrink: %s: %s\n", hist_path,
                strerror(-rv));
        history_close(&h);
        return rv == -ENOMEM ? EXIT_HARNESS : EXIT_BAD_INPUT;
    }

    /* The shrunk history's own verdict, as `check` would write it. */
    rv = checker_linearizable(&out, lin.model, NULL, &v);
    code = rv == 0 && v.result == VERDICT_INVALID ? EXIT_INVALID : EXIT_HARNESS;
    vj = verdict_to_json(&v);
    verdict_summary(&v, text, sizeof text);
    verdict_close(&v);
    indices = json_array();
    for (size_t i = 0; i < out.n; i++) {
        json_array_append_new(
            indices, json_integer((json_int_t)h.events[idx[i]].index));
    }
    json_object_set_new(vj, "history", json_string(out_path));
    json_object_set_new(vj, "shrunk_from", json_string(hist_path));
    json_object_set_new(
        vj, "shrink",
        json_pack("{s:I, s:I, s:I, s:f, s:b, s:o}", "ops_before",
                  (json_int_t)st.ops_before, "ops_after",
                  (json_int_t)st.ops_after, "checks", (json_int_t)st.checks,
                  "seconds", st.seconds, "minimal", !st.time_out,
                  "original_indices", indices));
    if (write_history(out_path, &out) != 0 ||
        json_dump_file(vj, verdict_path,
                       JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "faultline shrink: writing %s: %s\n", out_path,
                strerror(errno));
        code = EXIT_HARNESS;
    }

    printf("faultline: shrunk %zu ops to %zu (%zu checks, %.1f s%s):\n",
           st.ops_before, st.ops_after, st.checks, st.seconds,
           st.time_out ? ", time limit reached: may not be minimal" : "");
    printf("  %6s %12s  %-7s %-6s %-9s %-6s %s\n", "index", "time", "process",
           "type", "f", "key", "value");
    for (size_t i = 0; i < out.n; i++) {
        print_event(&out.events[i], (size_t)h.events[idx[i]].index);
    }
    printf("faultline: %s\nfaultline: wrote %s and %s\n", text, out_path,
           verdict_path);
    json_decref(vj);
    free(idx);
    history_close(&out);
    history_close(&h);
    return code;
}
