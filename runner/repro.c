/* repro: run a stored run again with its recorded fault schedule, and
 * compare the anomaly classes of the two verdicts. */
#include "runner/repro.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "histories/history.h"
#include "nemesis/nemesis.h"
#include "runner/check.h"
#include "runner/run.h"
#include "runner/scenario.h"

#define MAX_REPLAY 4096

static int add_class(const char *checker, const json_t *v, char out[][64],
                     int n, int max)
{
    const json_t *anomaly = json_object_get(v, "anomaly");
    const char *kind = json_string_value(json_object_get(anomaly, "kind"));
    if (kind == NULL) {
        kind = json_string_value(json_object_get(v, "kind"));
    }
    if (!json_is_false(json_object_get(v, "valid")) || n >= max) {
        return n;
    }
    snprintf(out[n], 64, "%s %s", checker, kind != NULL ? kind : "invalid");
    for (int i = 0; i < n; i++) {
        if (strcmp(out[i], out[n]) == 0) {
            return n; /* already there */
        }
    }
    return n + 1;
}

int repro_anomaly_classes(const json_t *verdict, char out[][64], int max)
{
    const json_t *checkers = json_object_get(verdict, "checkers");
    const char *name = json_string_value(json_object_get(verdict, "checker"));
    const char *key;
    json_t *v;
    int n = 0;

    if (!json_is_object(checkers)) {
        return add_class(name != NULL ? name : "checker", verdict, out, n,
                         max);
    }
    /* Several checkers: the top level only combines theirs. */
    json_object_foreach((json_t *)checkers, key, v)
    {
        n = add_class(key, v, out, n, max);
    }
    return n;
}

/* When the fault phase began, in history time (ns): from the runner.log
 * line "T run: phase start -> faults", else the first client invoke. */
static int64_t faults_start_ns(const char *dir, const struct history *h)
{
    char path[PATH_MAX + 32], line[512];
    FILE *f;
    double t;

    snprintf(path, sizeof path, "%s/runner.log", dir);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, " run: phase start -> faults") != NULL &&
            sscanf(line, "%lf", &t) == 1) {
            fclose(f);
            return (int64_t)(t * 1e9);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    for (size_t i = 0; i < h->n; i++) {
        if (h->events[i].process != HISTORY_NEMESIS) {
            return h->events[i].time;
        }
    }
    return 0;
}

static json_t *classes_json(char c[][64], int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(a, json_string(c[i]));
    }
    return a;
}

static void print_classes(const char *label, char c[][64], int n)
{
    printf("faultline: repro: %s: ", label);
    if (n == 0) {
        printf("no anomaly (valid)");
    }
    for (int i = 0; i < n; i++) {
        printf("%s%s", i > 0 ? ", " : "", c[i]);
    }
    printf("\n");
}

/* The verdict of a run directory: its verdict.json, or a fresh check when
 * there is none (an interrupted run). NULL when neither works. */
static json_t *load_verdict(const char *dir)
{
    char path[PATH_MAX + 32];
    struct check_options copts = {0};
    struct check_result res;
    json_t *v;

    snprintf(path, sizeof path, "%s/verdict.json", dir);
    v = json_load_file(path, 0, NULL);
    if (v != NULL) {
        return v;
    }
    check_path(dir, &copts, &res);
    return res.verdict;
}

int repro_run(const struct repro_options *o)
{
    char path[PATH_MAX + 32], err[512], text[768];
    char new_dir[PATH_MAX] = "";
    char before[REPRO_MAX_CLASSES][64], after[REPRO_MAX_CLASSES][64];
    struct nemesis_step *steps = NULL;
    struct history_error herr;
    struct run_options ro;
    struct scenario s;
    struct history h;
    struct stat st;
    json_t *verdict = NULL, *out;
    int n_before, n_after = 0, n_steps, skipped, code;
    bool reproduced = false;

    if (stat(o->run_dir, &st) != 0) {
        fprintf(stderr, "faultline repro: %s: %s\n", o->run_dir,
                strerror(errno));
        return EXIT_BAD_INPUT;
    }
    if (!S_ISDIR(st.st_mode) || access(o->run_dir, R_OK | X_OK) != 0) {
        fprintf(stderr,
                "faultline repro: %s: %s (expected a run directory with "
                "scenario.json and history.jsonl)\n",
                o->run_dir,
                S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
        return EXIT_BAD_INPUT;
    }
    snprintf(path, sizeof path, "%s/scenario.json", o->run_dir);
    scenario_defaults(&s);
    if (scenario_load(path, &s, err, sizeof err) != 0) {
        fprintf(stderr, "faultline repro: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    snprintf(path, sizeof path, "%s/history.jsonl", o->run_dir);
    if (history_load(path, &h, &herr) != 0) {
        history_error_format(&herr, text, sizeof text);
        fprintf(stderr, "faultline repro: %s\n", text);
        return EXIT_BAD_INPUT;
    }
    verdict = load_verdict(o->run_dir);
    if (verdict == NULL) {
        fprintf(stderr, "faultline repro: %s: no verdict, and the history "
                        "could not be checked\n",
                o->run_dir);
        history_close(&h);
        return EXIT_BAD_INPUT;
    }
    n_before = repro_anomaly_classes(verdict, before, REPRO_MAX_CLASSES);
    json_decref(verdict);

    steps = calloc(MAX_REPLAY, sizeof *steps);
    if (steps == NULL) {
        history_close(&h);
        return EXIT_HARNESS;
    }
    n_steps = nemesis_schedule_from_history(
        &h, faults_start_ns(o->run_dir, &h), s.duration_s, steps, MAX_REPLAY,
        &skipped);
    history_close(&h);
    if (n_steps < 0) {
        free(steps);
        return EXIT_HARNESS;
    }
    printf("faultline: repro of %s: seed %llu%s%s, %d recorded faults to "
           "replay",
           o->run_dir, (unsigned long long)s.seed, scenario_db_string(&s, "bug")[0] ? ", bug " : "",
           scenario_db_string(&s, "bug"), n_steps);
    if (skipped > 0) {
        printf(" (%d of a kind this build does not know, skipped)", skipped);
    }
    printf("\n");
    print_classes("original", before, n_before);

    snprintf(path, sizeof path, "%s/scenario.json", o->run_dir);
    ro = (struct run_options){
        .scenario_path = path,
        .bin_dir = o->bin_dir,
        .runs_dir = o->runs_dir,
        .replay = steps,
        .n_replay = n_steps,
        .origin = o->run_dir,
        .dir_out = new_dir,
        .dir_out_size = sizeof new_dir,
    };
    code = run_scenario(&ro);
    nemesis_steps_clear(steps, n_steps); /* what the run did not take over */
    free(steps);
    if (code > EXIT_UNKNOWN || new_dir[0] == '\0') {
        return code;
    }

    verdict = load_verdict(new_dir);
    if (verdict != NULL) {
        n_after = repro_anomaly_classes(verdict, after, REPRO_MAX_CLASSES);
    }
    json_decref(verdict);
    if (n_before == 0) {
        reproduced = n_after == 0 && code == EXIT_VALID;
    }
    for (int i = 0; i < n_before && !reproduced; i++) {
        for (int j = 0; j < n_after; j++) {
            reproduced = reproduced || strcmp(before[i], after[j]) == 0;
        }
    }
    print_classes("this run", after, n_after);

    out = json_pack("{s:s, s:o, s:o, s:b, s:i}", "original", o->run_dir,
                    "original_anomalies", classes_json(before, n_before),
                    "anomalies", classes_json(after, n_after), "reproduced",
                    reproduced, "faults_replayed", n_steps);
    snprintf(path, sizeof path, "%s/repro.json", new_dir);
    if (out == NULL ||
        json_dump_file(out, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "faultline repro: writing %s failed\n", path);
    }
    json_decref(out);
    printf("faultline: repro: %s; run directory %s\n",
           reproduced ? "reproduced" : "not reproduced", new_dir);
    return reproduced ? EXIT_VALID : EXIT_INVALID;
}
