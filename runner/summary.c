/* summary: failures by reason, the verdict in words. */
#include "runner/summary.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

/* A fail that is the operation's own answer: the state machine refused it
 * by its semantics, and a healthy cluster gives these all the time (a
 * compare-and-set whose compare did not match). histories/FORMAT.md,
 * "Request ids and retries". */
static const char *const expected[] = {
    "cas_mismatch", "exists", "not_found", "not_holder", "held", "empty",
};

/* A fail that says the cluster could not serve the request then: no
 * leader, a node down or cut off, a request that ran out of time. */
static const char *const availability[] = {
    "not_leader",      "no_leader",      "unreachable",     "timeout",
    "request_timeout", "leader_changed", "leadership_lost", "shutting_down",
    "connection_lost", "raft_error",     "io_error",
};

/* An error is a code, then maybe ": " and a message ("timeout: no node
 * accepted the op"): the code is what is counted and classed. */
static size_t code_len(const char *error)
{
    return strcspn(error, ":");
}

static bool in(const char *s, const char *const *list, size_t n)
{
    size_t len = code_len(s);
    for (size_t i = 0; i < n; i++) {
        if (strlen(list[i]) == len && strncmp(s, list[i], len) == 0) {
            return true;
        }
    }
    return false;
}

enum summary_fail_class summary_fail_class(const char *error)
{
    if (error == NULL) {
        return SUMMARY_FAIL_OTHER;
    }
    if (in(error, expected, sizeof expected / sizeof expected[0])) {
        return SUMMARY_FAIL_EXPECTED;
    }
    if (in(error, availability, sizeof availability / sizeof availability[0])) {
        return SUMMARY_FAIL_AVAILABILITY;
    }
    return SUMMARY_FAIL_OTHER;
}

void summary_fail_add(struct summary_fails *f, const char *error)
{
    char name[sizeof f->reason[0]];
    int i;

    if (error == NULL || code_len(error) == 0) {
        error = "no reason";
    }
    snprintf(name, sizeof name, "%.*s", (int)code_len(error), error);
    f->total++;
    for (i = 0; i < f->n; i++) {
        if (strcmp(f->reason[i], name) == 0) {
            f->count[i]++;
            return;
        }
    }
    if (f->n == SUMMARY_REASONS) {
        i = SUMMARY_REASONS - 1; /* the last slot becomes "other" */
        snprintf(f->reason[i], sizeof f->reason[i], "other");
        f->count[i]++;
        return;
    }
    snprintf(f->reason[f->n], sizeof f->reason[f->n], "%s", name);
    f->count[f->n++] = 1;
}

void summary_fails_format(const struct summary_fails *f, int max, char *buf,
                          size_t size)
{
    bool used[SUMMARY_REASONS] = {false};
    size_t len = 0;
    int shown = 0;

    buf[0] = '\0';
    for (;;) {
        int best = -1;
        for (int i = 0; i < f->n; i++) {
            if (!used[i] && (best < 0 || f->count[i] > f->count[best])) {
                best = i;
            }
        }
        if (best < 0 || len >= size) {
            break;
        }
        if (max > 0 && shown == max) {
            snprintf(buf + len, size - len, ", ...");
            break;
        }
        used[best] = true;
        len += (size_t)snprintf(buf + len, size - len, "%s%s %lld",
                                shown > 0 ? ", " : "", f->reason[best],
                                (long long)f->count[best]);
        shown++;
    }
}

void summary_print_fails(FILE *out, const struct summary_fails *f)
{
    int64_t by_class[3] = {0, 0, 0};
    char text[1024];

    if (f->total == 0) {
        return;
    }
    for (int i = 0; i < f->n; i++) {
        by_class[summary_fail_class(f->reason[i])] += f->count[i];
    }
    summary_fails_format(f, 0, text, sizeof text);
    fprintf(out, "faultline: fail %lld: %s (", (long long)f->total, text);
    if (by_class[SUMMARY_FAIL_EXPECTED] > 0) {
        fprintf(out, "expected %lld: the operations' own answers",
                (long long)by_class[SUMMARY_FAIL_EXPECTED]);
    }
    if (by_class[SUMMARY_FAIL_AVAILABILITY] > 0) {
        fprintf(out, "%savailability %lld: not served",
                by_class[SUMMARY_FAIL_EXPECTED] > 0 ? "; " : "",
                (long long)by_class[SUMMARY_FAIL_AVAILABILITY]);
    }
    if (by_class[SUMMARY_FAIL_OTHER] > 0) {
        fprintf(out, "%sother %lld",
                by_class[SUMMARY_FAIL_EXPECTED] +
                            by_class[SUMMARY_FAIL_AVAILABILITY] >
                        0
                    ? "; "
                    : "",
                (long long)by_class[SUMMARY_FAIL_OTHER]);
    }
    fputs(")\n", out);
}

int summary_print_explanation(FILE *out, const char *run_dir)
{
    char path[PATH_MAX + 32];
    json_t *v, *lines, *line;
    size_t i;
    int n = 0;

    snprintf(path, sizeof path, "%s/verdict.json", run_dir);
    v = json_load_file(path, 0, NULL);
    lines = json_object_get(v, "explanation");
    json_array_foreach(lines, i, line)
    {
        if (json_is_string(line)) {
            fprintf(out, "faultline: in words: %s\n", json_string_value(line));
            n++;
        }
    }
    json_decref(v);
    return n;
}
