/* test_conformance: the checker against Porcupine's etcd logs and verdicts.
 *
 * The set lives outside the tree (FAULTLINE_CONFORMANCE, default
 * /work/shared/conformance/porcupine; see its README for how the logs read).
 * Without it the test says so and passes. */
#include "checker/linearizable.h"

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

/* "nil" / "N" / "[A B]" / ":timed-out" as JSON (NULL: not understood). */
static json_t *edn_value(const char *s)
{
    long long a, b;
    char end;
    if (strcmp(s, "nil") == 0 || s[0] == ':') {
        return json_null();
    }
    if (sscanf(s, "[%lld %lld%c", &a, &b, &end) == 3 && end == ']') {
        return json_pack("[II]", (json_int_t)a, (json_int_t)b);
    }
    if (sscanf(s, "%lld%c", &a, &end) == 1) {
        return json_integer(a);
    }
    return NULL;
}

/* Read one Jepsen etcd log into @h: every line
 * "INFO jepsen.util - PROCESS :TYPE :F VALUE" is an event, its line number
 * its time; other lines are ignored. Returns 0 or -EINVAL/-ENOENT. */
static int load_etcd_log(const char *path, struct history *h)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;

    history_init(h);
    if (f == NULL) {
        return -errno;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *tok[16], *save = NULL, value[128] = "";
        int n = 0;
        lineno++;
        for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < 16;
             t = strtok_r(NULL, " \t\r\n", &save)) {
            tok[n++] = t;
        }
        if (n < 7 || strcmp(tok[0], "INFO") != 0 ||
            strcmp(tok[1], "jepsen.util") != 0 || strcmp(tok[2], "-") != 0) {
            continue;
        }
        for (int i = 6; i < n; i++) { /* "[3" "0]" -> "[3 0]" */
            if (i > 6) {
                strncat(value, " ", sizeof value - strlen(value) - 1);
            }
            strncat(value, tok[i], sizeof value - strlen(value) - 1);
        }
        struct history_event e;
        memset(&e, 0, sizeof e);
        e.time = lineno;
        e.line = lineno;
        e.process = atoi(tok[3]);
        int type = tok[4][0] == ':' ? history_type_parse(tok[4] + 1) : -1;
        if (type < 0 || tok[5][0] != ':' ||
            !isdigit((unsigned char)tok[3][0])) {
            fprintf(stderr, "%s:%d: not understood\n", path, lineno);
            fclose(f);
            history_close(h);
            return -EINVAL;
        }
        e.type = (enum history_type)type;
        snprintf(e.f, sizeof e.f, "%s", tok[5] + 1);
        e.value = edn_value(value);
        if (e.value == NULL) {
            fprintf(stderr, "%s:%d: value \"%s\" not understood\n", path,
                    lineno, value);
            fclose(f);
            history_close(h);
            return -EINVAL;
        }
        if (value[0] == ':') {
            e.error = value + 1; /* "timed-out" */
        }
        int rv = history_add(h, &e);
        json_decref(e.value);
        if (rv != 0) {
            fclose(f);
            history_close(h);
            return rv;
        }
    }
    fclose(f);
    return 0;
}

int main(void)
{
    const char *dir = getenv("FAULTLINE_CONFORMANCE");
    char path[1024], row[1024];
    FILE *tsv;
    int checked = 0, wrong = 0, skipped = 0;
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

        if (sscanf(row, "%511s %15s", name, want) != 2 ||
            strncmp(name, "etcd/", 5) != 0) {
            continue; /* the header, and the kv histories (another model) */
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rv = load_etcd_log(path, &h);
        if (rv != 0) {
            printf("FAIL %s: cannot read (%d)\n", name, rv);
            wrong++;
            continue;
        }
        t0 = now_s();
        rv = checker_linearizable(&h, &model_register, &lim, &v);
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

    /* The empty log has no verdict; it must simply not crash. */
    {
        struct history h;
        struct verdict v;
        snprintf(path, sizeof path, "%s/etcd/etcd_095.log", dir);
        if (load_etcd_log(path, &h) == 0) {
            if (checker_linearizable(&h, &model_register, NULL, &v) != 0 ||
                v.result != VERDICT_VALID) {
                printf("FAIL etcd_095.log (empty): not valid\n");
                wrong++;
            }
            verdict_close(&v);
            history_close(&h);
        } else {
            skipped++;
        }
    }

    printf("test_conformance: %d etcd logs, %d wrong; check time %.0f ms "
           "(slowest %s, %.1f ms)%s\n",
           checked, wrong, spent * 1000, worst_name, worst * 1000,
           skipped ? "; etcd_095.log missing" : "");
    if (checked == 0 || wrong != 0) {
        return 1;
    }
    return 0;
}
