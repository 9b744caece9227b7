/* cases: run a checker over data-driven case folders.
 *
 * A case is a folder DIR/NAME holding history.jsonl, expected (valid,
 * invalid or unknown) and optionally summary (text the checker's one-line
 * summary must contain) and README (what the case shows). Include after
 * test/unit.h. */
#ifndef FAULTLINE_TEST_CASES_H
#define FAULTLINE_TEST_CASES_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

#endif /* FAULTLINE_TEST_CASES_H */
