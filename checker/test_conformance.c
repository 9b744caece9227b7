/* test_conformance: the checker against Porcupine's histories and verdicts:
 * every row of expected.tsv (etcd logs and kv histories), read through the
 * importers (histories/import.h) as `faultline check` reads them.
 *
 * The set lives outside the tree (FAULTLINE_CONFORMANCE, default
 * /work/shared/conformance/porcupine; see its README for how the logs read).
 * Without it the test says so and passes. */
#include "checker/linearizable.h"
#include "histories/import.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_DIR "/work/shared/conformance/porcupine"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
    const char *dir = getenv("FAULTLINE_CONFORMANCE");
    char path[1024], row[1024];
    FILE *tsv;
    int checked = 0, wrong = 0, skipped = 0, kv = 0;
    double spent = 0, worst = 0;
    char worst_name[256] = "";

    if (dir == NULL) {
        dir = DEFAULT_DIR;
    }
    snprintf(path, sizeof path, "%s/expected.tsv", dir);
    tsv = fopen(path, "r");
    if (tsv == NULL) {
        printf("test_conformance: no conformance set at %s; skipped\n", dir);
        return 0;
    }
    while (fgets(row, sizeof row, tsv) != NULL) {
        char name[512], want[16];
        struct history h;
        struct verdict v;
        struct checker_limits lim = {.time_s = 60};
        double t0;
        int rv;

        struct history_error herr;
        enum history_format fmt;
        const struct model *m;

        if (sscanf(row, "%511s %15s", name, want) != 2 ||
            strcmp(name, "file") == 0) {
            continue; /* the header */
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rv = history_import(path, HISTORY_FORMAT_AUTO, &h, &fmt, &herr);
        if (rv != 0) {
            char text[768];
            history_error_format(&herr, text, sizeof text);
            printf("FAIL %s: cannot read: %s\n", name, text);
            wrong++;
            continue;
        }
        m = model_find(history_format_model(fmt));
        if (m == NULL) {
            printf("FAIL %s: read as %s, which names no model\n", name,
                   history_format_name(fmt));
            history_close(&h);
            wrong++;
            continue;
        }
        kv += fmt == HISTORY_FORMAT_KV_EDN;
        t0 = now_s();
        rv = checker_linearizable(&h, m, &lim, &v);
        double dt = now_s() - t0;
        spent += dt;
        if (dt > worst) {
            worst = dt;
            snprintf(worst_name, sizeof worst_name, "%s", name);
        }
        bool expect = strcmp(want, "true") == 0;
        if (rv != 0 || v.result != (expect ? VERDICT_VALID : VERDICT_INVALID)) {
            char line[1024];
            verdict_summary(&v, line, sizeof line);
            printf("FAIL %s: want %s, got %s\n", name,
                   expect ? "valid" : "invalid", line);
            wrong++;
        }
        checked++;
        verdict_close(&v);
        history_close(&h);
    }
    fclose(tsv);

    /* The empty log has no verdict: reading it is a clear error. */
    {
        struct history h;
        struct history_error herr;
        snprintf(path, sizeof path, "%s/etcd/etcd_095.log", dir);
        int rv = history_import(path, HISTORY_FORMAT_ETCD_LOG, &h, NULL, &herr);
        if (rv == -ENOENT) {
            skipped++;
        } else if (rv != -EINVAL || strstr(herr.text, "no events") == NULL) {
            printf("FAIL etcd_095.log (empty): want an error naming no "
                   "events, got %d \"%s\"\n",
                   rv, herr.text);
            wrong++;
            if (rv == 0) {
                history_close(&h);
            }
        }
    }

    printf("test_conformance: %d histories (%d etcd, %d kv), %d wrong; check "
           "time %.0f ms (slowest %s, %.1f ms)%s\n",
           checked, checked - kv, kv, wrong, spent * 1000, worst_name,
           worst * 1000, skipped ? "; etcd_095.log missing" : "");
    if (checked != 108 || wrong != 0) {
        if (checked != 108) {
            printf("FAIL: expected.tsv should have 108 rows, read %d\n",
                   checked);
        }
        return 1;
    }
    return 0;
}
