/* cases: run a checker over data-driven case folders.
 *
 * A case is a folder DIR/NAME holding history.jsonl, expected (valid,
 * invalid or unknown) and optionally summary (text the checker's one-line
 * summary must contain) and README (what the case shows). Include after
 * test/unit.h. */
#ifndef FAULTLINE_TEST_CASES_H
#define FAULTLINE_TEST_CASES_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checker/report.h"
#include "checker/verdict.h"
#include "histories/history.h"

/* Check @h: return 0 with the result and a one-line summary, or a negative
 * errno (the summary then says why). */
typedef int (*cases_check_fn)(const struct history *h,
                              enum verdict_result *result, char *summary,
                              size_t size);

static bool cases_read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    bool ok = f != NULL && fgets(buf, (int)size, f) != NULL;
    if (f != NULL) {
        fclose(f);
    }
    if (ok) {
        buf[strcspn(buf, "\r\n")] = '\0';
    }
    return ok;
}

static int cases_one(const char *dir, const char *name, cases_check_fn check)
{
    char path[1024], want[64], summary_want[512], summary[1024] = "";
    struct history h;
    struct history_error err;
    enum verdict_result result = VERDICT_UNKNOWN;
    int rv, bad = 0;

    snprintf(path, sizeof path, "%s/%s/expected", dir, name);
    if (!cases_read_line(path, want, sizeof want)) {
        fprintf(stderr, "case %s: no expected file\n", name);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s/README", dir, name);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "case %s: no README\n", name);
        bad = 1;
    }
    snprintf(path, sizeof path, "%s/%s/history.jsonl", dir, name);
    rv = history_load(path, &h, &err);
    if (rv != 0) {
        history_error_format(&err, summary, sizeof summary);
        fprintf(stderr, "case %s: %s\n", name, summary);
        return 1;
    }
    rv = check(&h, &result, summary, sizeof summary);
    history_close(&h);
    if (rv != 0) {
        fprintf(stderr, "case %s: checker returned %d: %s\n", name, rv,
                summary);
        return 1;
    }
    if (strcmp(verdict_result_name(result), want) != 0) {
        fprintf(stderr, "case %s: got %s, want %s\n  %s\n", name,
                verdict_result_name(result), want, summary);
        bad = 1;
    }
    snprintf(path, sizeof path, "%s/%s/summary", dir, name);
    if (cases_read_line(path, summary_want, sizeof summary_want) &&
        strstr(summary, summary_want) == NULL) {
        fprintf(stderr, "case %s: summary\n  %s\nlacks\n  %s\n", name, summary,
                summary_want);
        bad = 1;
    }
    return bad;
}

/* Run every case under @dir; returns how many went wrong, and the number
 * of cases in *count. */
static int cases_run(const char *dir, cases_check_fn check, int *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int bad = 0;

    *count = 0;
    if (d == NULL) {
        fprintf(stderr, "%s: cannot open\n", dir);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        bad += cases_one(dir, de->d_name, check);
        (*count)++;
    }
    closedir(d);
    printf("     %s: %d cases, %d wrong\n", dir, *count, bad);
    return bad;
}

/* A history built in memory from JSON lines @text (through a temporary
 * file, so it is read as a stored one is). Returns history_load's code. */
static inline int cases_load_text(const char *text, struct history *h)
{
    char path[] = "/tmp/faultline-test-history-XXXXXX";
    struct history_error err;
    int fd = mkstemp(path), rv;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        return -errno;
    }
    fputs(text, f);
    fclose(f);
    rv = history_load(path, h, &err);
    unlink(path);
    return rv;
}

/* A checker that reports anomaly classes (set, queue, lease, converge). */
typedef int (*cases_report_fn)(const struct history *h, struct report *out);

/* The one cases_run_report() runs now. */
static cases_report_fn cases_report_checker;

/* cases_check_fn over cases_report_checker: its summary, and a check that
 * its JSON says the same verdict. */
static inline int cases_check_report(const struct history *h,
                                     enum verdict_result *result, char *summary,
                                     size_t size)
{
    struct report r;
    int rv = cases_report_checker(h, &r);
    json_t *js;

    *result = r.result;
    if (rv != 0) {
        snprintf(summary, size, "%s", r.reason);
        report_close(&r);
        return rv;
    }
    report_summary(&r, summary, size);
    /* The JSON says the same. */
    js = report_to_json(&r);
    if (js == NULL ||
        (r.result == VERDICT_INVALID) !=
            json_is_false(json_object_get(js, "valid")) ||
        (r.result == VERDICT_INVALID &&
         json_object_size(json_object_get(js, "anomalies")) == 0)) {
        snprintf(summary, size, "JSON disagrees with the verdict");
        rv = -EINVAL;
    }
    json_decref(js);
    report_close(&r);
    return rv;
}

/* cases_run() with the report checker @check. */
static inline int cases_run_report(const char *dir, cases_report_fn check,
                                   int *count)
{
    cases_report_checker = check;
    return cases_run(dir, cases_check_report, count);
}

#endif /* FAULTLINE_TEST_CASES_H */
