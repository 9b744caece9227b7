/* repro: run a stored run again with its recorded fault schedule, and
 * compare the anomalies of the two verdicts: the same anomaly (checker,
 * kind, and key or operation type), only the same class (checker and
 * kind), or neither. */
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
#include "runner/fs.h"
#include "runner/msg.h"
#include "runner/run.h"
#include "runner/scenario.h"

#define MAX_REPLAY 4096

static void copy(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s != NULL ? s : "");
}

static int add(struct repro_anomaly *out, int n, int max,
               const struct repro_anomaly *a)
{
    if (n >= max) {
        return n;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(out[i].checker, a->checker) == 0 &&
            strcmp(out[i].kind, a->kind) == 0 &&
            strcmp(out[i].key, a->key) == 0 && strcmp(out[i].op, a->op) == 0) {
            return n; /* already there */
        }
    }
    out[n] = *a;
    return n + 1;
}

/* The key, task or scope an anomaly (or one example of it) is about. */
static const char *subject(const json_t *x)
{
    static const char *const fields[] = {"key", "task", "scope"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *s = json_string_value(json_object_get(x, fields[i]));
        if (s != NULL) {
            return s;
        }
    }
    return NULL;
}

/* The type of the operation @op (a verdict's "op"): its f, and for a read
 * that returned nothing, "f -> null": a read of nothing and a read of an
 * old value are different anomalies. */
static void op_type(const json_t *op, char *buf, size_t size)
{
    const char *f = json_string_value(json_object_get(op, "f"));
    const char *type = json_string_value(json_object_get(op, "type"));
    const json_t *value = json_object_get(op, "value");
    bool reads = f != NULL && (strcmp(f, "read") == 0 || strcmp(f, "get") == 0);

    if (f == NULL) {
        buf[0] = '\0';
    } else if (reads && type != NULL && strcmp(type, "ok") == 0 &&
               (value == NULL || json_is_null(value))) {
        snprintf(buf, size, "%s -> null", f);
    } else {
        snprintf(buf, size, "%s", f);
    }
}

/* The linearizability checker's one anomaly: its key and operation. */
static int from_anomaly(struct repro_anomaly *a, const json_t *anomaly,
                        struct repro_anomaly *out, int n, int max)
{
    const json_t *op = json_object_get(anomaly, "op");
    const char *kind = json_string_value(json_object_get(anomaly, "kind"));
    const char *desc = json_string_value(json_object_get(op, "description"));
    const json_t *index = json_object_get(op, "index");
    char at[48] = "";

    if (kind != NULL) {
        copy(a->kind, sizeof a->kind, kind);
    }
    copy(a->key, sizeof a->key, subject(anomaly));
    op_type(op, a->op, sizeof a->op);
    if (json_is_integer(index)) {
        snprintf(at, sizeof at, " (index %" JSON_INTEGER_FORMAT ")",
                 json_integer_value(index));
    }
    snprintf(a->text, sizeof a->text, "%s%s%s%s%s", a->key[0] ? "key \"" : "",
             a->key, a->key[0] ? "\": " : "", desc != NULL ? desc : a->op, at);
    return add(out, n, max, a);
}

/* The other checkers' anomalies: each example of each kind. */
static int from_kinds(struct repro_anomaly *a, const json_t *kinds,
                      struct repro_anomaly *out, int n, int max)
{
    const char *kind;
    json_t *entry;

    json_object_foreach((json_t *)kinds, kind, entry)
    {
        const json_t *examples = json_object_get(entry, "examples");
        const json_t *count = json_object_get(entry, "count");
        size_t i;
        json_t *x;

        if (json_is_integer(count) && json_integer_value(count) == 0) {
            continue;
        }
        copy(a->kind, sizeof a->kind, kind);
        if (json_array_size(examples) == 0) {
            a->key[0] = a->op[0] = '\0';
            copy(a->text, sizeof a->text, kind);
            n = add(out, n, max, a);
            continue;
        }
        json_array_foreach(examples, i, x)
        {
            copy(a->key, sizeof a->key, subject(x));
            copy(a->op, sizeof a->op,
                 json_string_value(json_object_get(x, "f")));
            copy(a->text, sizeof a->text,
                 json_string_value(json_object_get(x, "description")));
            n = add(out, n, max, a);
        }
    }
    return n;
}

static int from_checker(const char *checker, const json_t *v,
                        struct repro_anomaly *out, int n, int max)
{
    const json_t *anomaly = json_object_get(v, "anomaly");
    const json_t *kinds = json_object_get(v, "anomalies");
    const char *kind = json_string_value(json_object_get(v, "kind"));
    struct repro_anomaly a;

    if (!json_is_false(json_object_get(v, "valid"))) {
        return n;
    }
    memset(&a, 0, sizeof a);
    copy(a.checker, sizeof a.checker, checker);
    copy(a.kind, sizeof a.kind, kind != NULL ? kind : "invalid");
    if (json_is_object(anomaly)) {
        return from_anomaly(&a, anomaly, out, n, max);
    }
    if (json_object_size(kinds) > 0) {
        int before = n;
        n = from_kinds(&a, kinds, out, n, max);
        if (n > before) {
            return n;
        }
    }
    return add(out, n, max, &a);
}

int repro_anomalies(const json_t *verdict, struct repro_anomaly *out, int max)
{
    const json_t *checkers = json_object_get(verdict, "checkers");
    const char *name = json_string_value(json_object_get(verdict, "checker"));
    const char *key;
    json_t *v;
    int n = 0;

    if (!json_is_object(checkers)) {
        return from_checker(name != NULL ? name : "checker", verdict, out, n,
                            max);
    }
    /* Several checkers: the top level only combines theirs. */
    json_object_foreach((json_t *)checkers, key, v)
    {
        n = from_checker(key, v, out, n, max);
    }
    return n;
}

const char *repro_outcome_name(enum repro_outcome o)
{
    static const char *const names[] = {
        [REPRO_SAME_ANOMALY] = "same anomaly",
        [REPRO_SAME_CLASS] = "same class",
        [REPRO_OTHER_ANOMALY] = "other anomaly",
        [REPRO_VALID] = "valid",
        [REPRO_UNKNOWN] = "unknown",
    };
    return o < REPRO_N_OUTCOMES ? names[o] : "?";
}

/* @b (the new run's) against @a (the original's). */
static enum repro_outcome compare(const struct repro_anomaly *a,
                                  const struct repro_anomaly *b, char *why,
                                  size_t size)
{
    bool keys = a->key[0] != '\0' && b->key[0] != '\0';
    bool ops = a->op[0] != '\0' && b->op[0] != '\0';

    if (strcmp(a->checker, b->checker) != 0 || strcmp(a->kind, b->kind) != 0) {
        snprintf(why, size, "%s %s (the original: %s %s)", b->checker, b->kind,
                 a->checker, a->kind);
        return REPRO_OTHER_ANOMALY;
    }
    if (keys && strcmp(a->key, b->key) == 0) {
        bool other_op = ops && strcmp(a->op, b->op) != 0;
        snprintf(why, size, "%s %s, key \"%s\"%s%s%s%s%s", b->checker, b->kind,
                 b->key, other_op ? " (a " : "", other_op ? b->op : "",
                 other_op ? ", was a " : "", other_op ? a->op : "",
                 other_op ? ")" : "");
        return REPRO_SAME_ANOMALY;
    }
    if (ops && strcmp(a->op, b->op) == 0) {
        snprintf(why, size, "%s %s, %s", b->checker, b->kind, b->op);
        return REPRO_SAME_ANOMALY;
    }
    if (!keys && !ops) { /* the kind is all the anomalies say */
        snprintf(why, size, "%s %s", b->checker, b->kind);
        return REPRO_SAME_ANOMALY;
    }
    snprintf(why, size, "%s %s, but key \"%s\" (was \"%s\"), %s (was %s)",
             b->checker, b->kind, b->key[0] ? b->key : "none",
             a->key[0] ? a->key : "none", b->op[0] ? b->op : "no operation",
             a->op[0] ? a->op : "no operation");
    return REPRO_SAME_CLASS;
}

enum repro_outcome repro_classify(const json_t *original, const json_t *again,
                                  char *why, size_t size)
{
    struct repro_anomaly *a, *b;
    enum repro_outcome best = REPRO_OTHER_ANOMALY;
    const json_t *valid = json_object_get(again, "valid");
    char text[256];
    int na, nb;

    snprintf(why, size, "%s", "");
    if (json_is_true(valid)) {
        return REPRO_VALID;
    }
    if (!json_is_false(valid)) {
        return REPRO_UNKNOWN;
    }
    a = calloc(2 * REPRO_MAX_ANOMALIES, sizeof *a);
    if (a == NULL) {
        return REPRO_OTHER_ANOMALY;
    }
    b = a + REPRO_MAX_ANOMALIES;
    na = repro_anomalies(original, a, REPRO_MAX_ANOMALIES);
    nb = repro_anomalies(again, b, REPRO_MAX_ANOMALIES);
    if (na == 0) {
        snprintf(why, size, "the original was not invalid");
    }
    for (int i = 0; i < na && best != REPRO_SAME_ANOMALY; i++) {
        for (int j = 0; j < nb; j++) {
            enum repro_outcome o = compare(&a[i], &b[j], text, sizeof text);
            if (o < best || (i == 0 && j == 0)) {
                best = o;
                snprintf(why, size, "%s", text);
            }
            if (best == REPRO_SAME_ANOMALY) {
                break;
            }
        }
    }
    free(a);
    return best;
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

/* "checker kind" per anomaly, without repeats: repro.json's
 * "anomalies", as before. */
static json_t *classes_json(const struct repro_anomaly *a, int n)
{
    json_t *out = json_array();
    char c[96];
    for (int i = 0; i < n; i++) {
        bool seen = false;
        snprintf(c, sizeof c, "%s %s", a[i].checker, a[i].kind);
        for (size_t j = 0; j < json_array_size(out); j++) {
            seen = seen ||
                   strcmp(json_string_value(json_array_get(out, j)), c) == 0;
        }
        if (!seen) {
            json_array_append_new(out, json_string(c));
        }
    }
    return out;
}

static json_t *details_json(const struct repro_anomaly *a, int n)
{
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s}",
                                             "checker", a[i].checker, "kind",
                                             a[i].kind, "key", a[i].key, "op",
                                             a[i].op, "text", a[i].text));
    }
    return out;
}

static void print_anomalies(const char *label, const json_t *verdict)
{
    struct repro_anomaly a[REPRO_MAX_ANOMALIES];
    int n =
        verdict != NULL ? repro_anomalies(verdict, a, REPRO_MAX_ANOMALIES) : 0;
    const json_t *valid = json_object_get(verdict, "valid");

    if (n == 0) {
        printf("faultline: repro: %s: no anomaly (%s)\n", label,
               json_is_true(valid) ? "valid" : "unknown");
    }
    for (int i = 0; i < n && i < 4; i++) {
        printf("faultline: repro: %s: %s %s%s%s\n", label, a[i].checker,
               a[i].kind, a[i].text[0] ? ": " : "", a[i].text);
    }
    if (n > 4) {
        printf("faultline: repro: %s: and %d more\n", label, n - 4);
    }
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

/* What repro needs of the original run. */
struct original {
    struct scenario s;
    struct history h;
    json_t *verdict;
    bool invalid;
};

static int load_original(const char *dir, struct original *orig)
{
    char path[PATH_MAX + 32], err[512], text[768];
    struct history_error herr;

    if (fs_run_dir(dir, "scenario.json", err, sizeof err) != 0) {
        msg_error("%s", err);
        return EXIT_BAD_INPUT;
    }
    if (access(dir, R_OK | X_OK) != 0) {
        msg_error("%s: %s", dir, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    snprintf(path, sizeof path, "%s/scenario.json", dir);
    scenario_defaults(&orig->s);
    if (scenario_load(path, &orig->s, err, sizeof err) != 0) {
        msg_error("%s", err);
        return EXIT_BAD_INPUT;
    }
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    if (history_load(path, &orig->h, &herr) != 0) {
        history_error_format(&herr, text, sizeof text);
        msg_error("%s", text);
        return EXIT_BAD_INPUT;
    }
    orig->verdict = load_verdict(dir);
    if (orig->verdict == NULL) {
        msg_error("%s: no verdict, and the history could not be checked", dir);
        history_close(&orig->h);
        return EXIT_BAD_INPUT;
    }
    orig->invalid = json_is_false(json_object_get(orig->verdict, "valid"));
    return 0;
}

/* What an attempt's outcome means, for people. */
static void outcome_line(bool orig_invalid, enum repro_outcome o,
                         const char *why, char *buf, size_t size)
{
    const char *what = "";

    if (!orig_invalid) {
        snprintf(buf, size, "%s%s%s%s%s", o == REPRO_VALID ? "valid" : "",
                 o == REPRO_UNKNOWN ? "unknown" : "",
                 o < REPRO_VALID ? "invalid" : "",
                 o < REPRO_VALID ? ", unlike the original: " : "",
                 o < REPRO_VALID ? why : "");
        return;
    }
    switch (o) {
    case REPRO_SAME_ANOMALY:
        what = "same anomaly";
        break;
    case REPRO_SAME_CLASS:
        what = "same class only, a different anomaly";
        break;
    case REPRO_OTHER_ANOMALY:
        what = "not reproduced: another anomaly";
        break;
    case REPRO_VALID:
        what = "not reproduced: valid";
        break;
    default:
        what = "not reproduced: unknown";
    }
    snprintf(buf, size, "%s%s%s%s", what, why[0] ? " (" : "", why,
             why[0] ? ")" : "");
}

/* One new run; its outcome into *@outcome. Returns the run's exit code
 * (above EXIT_UNKNOWN: it could not finish). */
static int attempt(const struct repro_options *o, struct original *orig, int k,
                   int attempts, enum repro_outcome *outcome)
{
    char path[PATH_MAX + 32], why[256], line[384];
    char new_dir[PATH_MAX] = "";
    struct repro_anomaly *was, *now;
    struct nemesis_step *steps;
    struct run_options ro;
    json_t *verdict, *out;
    int n_steps, skipped, code, n_was, n_now;
    bool reproduced;

    steps = calloc(MAX_REPLAY, sizeof *steps);
    if (steps == NULL) {
        return EXIT_HARNESS;
    }
    n_steps = nemesis_schedule_from_history(
        &orig->h, faults_start_ns(o->run_dir, &orig->h), orig->s.duration_s,
        steps, MAX_REPLAY, &skipped);
    if (n_steps < 0) {
        free(steps);
        return EXIT_HARNESS;
    }
    if (k == 1) {
        const char *bug = scenario_db_string(&orig->s, "bug");
        printf("faultline: repro of %s: seed %llu%s%s, %d recorded faults "
               "to replay",
               o->run_dir, (unsigned long long)orig->s.seed,
               bug[0] ? ", bug " : "", bug, n_steps);
        if (skipped > 0) {
            printf(" (%d of a kind this build does not know, skipped)",
                   skipped);
        }
        if (attempts > 1) {
            printf(", %d attempts", attempts);
        }
        printf("\n");
        print_anomalies("original", orig->verdict);
    }
    if (attempts > 1) {
        printf("faultline: repro: attempt %d of %d\n", k, attempts);
    }

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
        return code > EXIT_UNKNOWN ? code : EXIT_HARNESS;
    }

    verdict = load_verdict(new_dir);
    *outcome = repro_classify(orig->verdict, verdict, why, sizeof why);
    print_anomalies("this run", verdict);
    reproduced = orig->invalid ? *outcome == REPRO_SAME_ANOMALY
                               : *outcome == REPRO_VALID;

    was = calloc(2 * REPRO_MAX_ANOMALIES, sizeof *was);
    now = was != NULL ? was + REPRO_MAX_ANOMALIES : NULL;
    n_was = was != NULL
                ? repro_anomalies(orig->verdict, was, REPRO_MAX_ANOMALIES)
                : 0;
    n_now = now != NULL && verdict != NULL
                ? repro_anomalies(verdict, now, REPRO_MAX_ANOMALIES)
                : 0;
    out = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:b, s:s, s:s, s:i, s:i, "
        "s:i}",
        "original", o->run_dir, "original_anomalies", classes_json(was, n_was),
        "anomalies", classes_json(now, n_now), "original_anomaly_details",
        details_json(was, n_was), "anomaly_details", details_json(now, n_now),
        "reproduced", reproduced, "outcome", repro_outcome_name(*outcome),
        "why", why, "faults_replayed", n_steps, "attempt", k, "attempts",
        attempts);
    free(was);
    json_decref(verdict);
    snprintf(path, sizeof path, "%s/repro.json", new_dir);
    if (out == NULL ||
        json_dump_file(out, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        msg_error("writing %s failed", path);
    }
    json_decref(out);

    outcome_line(orig->invalid, *outcome, why, line, sizeof line);
    if (attempts > 1) {
        printf("faultline: repro: attempt %d of %d: %s; run directory %s\n", k,
               attempts, line, new_dir);
    } else {
        printf("faultline: repro: %s; run directory %s\n", line, new_dir);
    }
    return code;
}

void repro_rate(bool original_invalid, const int counts[REPRO_N_OUTCOMES],
                char *buf, size_t size)
{
    static const enum repro_outcome order[] = {
        REPRO_SAME_ANOMALY, REPRO_SAME_CLASS, REPRO_OTHER_ANOMALY, REPRO_VALID,
        REPRO_UNKNOWN};
    size_t used = 0;
    int done = 0;

    for (int i = 0; i < REPRO_N_OUTCOMES; i++) {
        done += counts[i];
    }
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0] && used < size; i++) {
        enum repro_outcome x = order[i];
        /* An invalid original: the three the question is about always;
         * a valid one: valid always. Others when they happened. */
        bool always = original_invalid
                          ? x == REPRO_SAME_ANOMALY || x == REPRO_SAME_CLASS ||
                                x == REPRO_VALID
                          : x == REPRO_VALID;
        if (counts[x] == 0 && !always) {
            continue;
        }
        used += (size_t)snprintf(
            buf + used, size - used, "%s%s %d of %d", used ? ", " : "",
            !original_invalid && x < REPRO_VALID ? "invalid"
                                                 : repro_outcome_name(x),
            counts[x], done);
    }
}

int repro_exit_code(bool original_invalid, const int counts[REPRO_N_OUTCOMES])
{
    if (!original_invalid) { /* valid again each time? */
        int done = 0;
        for (int i = 0; i < REPRO_N_OUTCOMES; i++) {
            done += counts[i];
        }
        return counts[REPRO_VALID] == done ? EXIT_VALID : EXIT_INVALID;
    }
    if (counts[REPRO_SAME_ANOMALY] > 0) {
        return EXIT_VALID;
    }
    return counts[REPRO_SAME_CLASS] > 0 ? REPRO_EXIT_SAME_CLASS : EXIT_INVALID;
}

int repro_run(const struct repro_options *o)
{
    struct original orig;
    int counts[REPRO_N_OUTCOMES] = {0};
    int attempts = o->attempts > 0 ? o->attempts : 1;
    int code = 0, done = 0;
    char rate[256];

    memset(&orig, 0, sizeof orig);
    code = load_original(o->run_dir, &orig);
    if (code != 0) {
        return code;
    }
    for (int k = 1; k <= attempts; k++) {
        enum repro_outcome outcome;
        code = attempt(o, &orig, k, attempts, &outcome);
        if (code > EXIT_UNKNOWN) {
            break;
        }
        counts[outcome]++;
        done++;
    }
    history_close(&orig.h);
    json_decref(orig.verdict);

    if (attempts > 1 && done > 0) {
        repro_rate(orig.invalid, counts, rate, sizeof rate);
        printf("faultline: repro: %s%s\n", rate,
               done < attempts ? " (the attempts stopped there)" : "");
    }
    return code > EXIT_UNKNOWN ? code : repro_exit_code(orig.invalid, counts);
}
