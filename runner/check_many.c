/* check_many: many histories in one process, one line each and a summary.
 *
 * Happy path: expand the paths into a list of histories, check each with
 * check_path() (one after the other, or in @files_at_once child processes
 * that each take every Nth history and write their results, one JSON line
 * per history, to a file of their own), then print them in list order.
 * Children, not threads: some models keep static tables (model.h, reset),
 * so two checks can't share a process at once. A child that dies leaves
 * its histories without a result: they count as harness failures. */
#include "runner/check_many.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner/msg.h"
#include "runner/run.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool is_run_dir(const char *path)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/history.jsonl", path);
    return stat(p, &st) == 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A folder holding files but no scenario.json: a corpus, not a run
 * directory (one whose history is missing is reported as such by check). */
static bool is_corpus(const char *path)
{
    char p[PATH_MAX + 32];
    struct stat st;
    struct dirent *e;
    bool any = false;
    DIR *d;
    snprintf(p, sizeof p, "%s/scenario.json", path);
    if (stat(p, &st) == 0 || (d = opendir(path)) == NULL) {
        return false;
    }
    while (!any && (e = readdir(d)) != NULL) {
        any = e->d_name[0] != '.';
    }
    closedir(d);
    return any;
}

bool check_many_wanted(char *const *paths, int n)
{
    return n > 1 || (n == 1 && is_dir(paths[0]) && !is_run_dir(paths[0]) &&
                     is_corpus(paths[0]));
}

struct list {
    char **v;
    size_t n, cap;
};

static int list_add(struct list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            return -ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(path);
    return l->v[l->n++] == NULL ? -ENOMEM : 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files (not hidden), sorted. */
static int add_dir(struct list *l, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t first = l->n;
    int rv = 0;
    if (d == NULL) {
        return list_add(l, dir); /* check_path says why */
    }
    while (rv == 0 && (e = readdir(d)) != NULL) {
        char p[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && (S_ISREG(st.st_mode) || is_run_dir(p))) {
            rv = list_add(l, p);
        }
    }
    closedir(d);
    qsort(l->v + first, l->n - first, sizeof *l->v, by_name);
    return rv;
}

/* Check @path: one JSON object with its result. */
static json_t *check_one(const char *path, const struct check_options *o)
{
    struct check_result res;
    double t0 = now_s();
    int code = check_path(path, o, &res);
    json_t *r = json_pack("{s:s,s:i,s:s,s:f,s:s}", "path", path, "code", code,
                          "valid",
                          code == EXIT_VALID     ? "true"
                          : code == EXIT_INVALID ? "false"
                          : code == EXIT_UNKNOWN ? "unknown"
                                                 : "error",
                          "seconds", now_s() - t0, "summary", res.summary);
    if (r != NULL && res.verdict != NULL) {
        json_object_set(r, "verdict", res.verdict);
    }
    json_decref(res.verdict);
    return r;
}

/* In @workers children: results[i] for every history. Returns 0 or a
 * negative errno. */
static int check_children(const struct list *l, const struct check_options *o,
                          int workers, json_t **results)
{
    FILE **out = calloc((size_t)workers, sizeof *out);
    pid_t *pids = calloc((size_t)workers, sizeof *pids);
    int rv = 0;
    if (out == NULL || pids == NULL) {
        free(out);
        free(pids);
        return -ENOMEM;
    }
    fflush(stdout);
    fflush(stderr);
    for (int w = 0; w < workers; w++) {
        out[w] = tmpfile();
        if (out[w] == NULL) {
            rv = -errno;
            break;
        }
        pids[w] = fork();
        if (pids[w] < 0) {
            rv = -errno;
            break;
        }
        if (pids[w] == 0) {
            for (size_t i = (size_t)w; i < l->n; i += (size_t)workers) {
                json_t *r = check_one(l->v[i], o);
                json_t *line = json_pack("{s:I,s:o}", "i", (json_int_t)i,
                                         "result", r ? r : json_null());
                if (line != NULL) {
                    json_dumpf(line, out[w], JSON_COMPACT);
                    fputc('\n', out[w]);
                    json_decref(line);
                }
            }
            fflush(out[w]);
            _exit(0);
        }
    }
    for (int w = 0; w < workers; w++) {
        if (pids[w] > 0) {
            waitpid(pids[w], NULL, 0);
        }
        if (out[w] == NULL) {
            continue;
        }
        rewind(out[w]);
        json_error_t err;
        json_t *line;
        while ((line = json_loadf(out[w], JSON_DISABLE_EOF_CHECK, &err)) !=
               NULL) {
            json_int_t i = json_integer_value(json_object_get(line, "i"));
            json_t *r = json_object_get(line, "result");
            if (i >= 0 && (size_t)i < l->n && json_is_object(r) &&
                results[i] == NULL) {
                results[i] = json_incref(r);
            }
            json_decref(line);
        }
        fclose(out[w]);
    }
    free(out);
    free(pids);
    return rv;
}

int check_many(char *const *paths, int n, const struct check_options *o,
               bool json, int files_at_once)
{
    struct list l = {0};
    json_t **results = NULL;
    struct check_options one = *o;
    size_t counts[5] = {0}; /* valid, invalid, unknown, unreadable, harness */
    double t0 = now_s();
    int rv = 0, code;

    for (int i = 0; i < n && rv == 0; i++) {
        rv = is_dir(paths[i]) && !is_run_dir(paths[i]) ? add_dir(&l, paths[i])
                                                       : list_add(&l, paths[i]);
    }
    if (rv == 0) {
        results = calloc(l.n + 1, sizeof *results);
        rv = results == NULL ? -ENOMEM : 0;
    }
    if (rv == 0 && files_at_once > 1 && l.n > 1) {
        one.threads = 1;
        if ((size_t)files_at_once > l.n) {
            files_at_once = (int)l.n;
        }
        rv = check_children(&l, &one, files_at_once, results);
    } else if (rv == 0) {
        for (size_t i = 0; i < l.n; i++) {
            results[i] = check_one(l.v[i], o);
        }
    }
    if (rv != 0) {
        msg_error("%s", strerror(-rv));
        code = EXIT_HARNESS;
        goto out;
    }

    json_t *all = json_array();
    for (size_t i = 0; i < l.n; i++) {
        json_t *r = results[i];
        int c = r ? (int)json_integer_value(json_object_get(r, "code"))
                  : EXIT_HARNESS;
        const char *summary =
            r ? json_string_value(json_object_get(r, "summary")) : NULL;
        if (r == NULL) {
            r = results[i] = json_pack("{s:s,s:i,s:s,s:s}", "path", l.v[i],
                                       "code", EXIT_HARNESS, "valid", "error",
                                       "summary", "no result (checker died)");
            summary = "no result (checker died)";
        }
        counts[c <= EXIT_HARNESS ? c : EXIT_HARNESS]++;
        if (all != NULL && r != NULL) {
            json_array_append(all, r);
        }
        if (!json) {
            printf("%s: %s%s\n", l.v[i], c >= EXIT_BAD_INPUT ? "error: " : "",
                   summary ? summary : "");
        }
    }
    double secs = now_s() - t0;
    code = counts[EXIT_INVALID]   ? EXIT_INVALID
           : counts[EXIT_UNKNOWN] ? EXIT_UNKNOWN
           : counts[EXIT_HARNESS] ? EXIT_HARNESS
           : counts[EXIT_BAD_INPUT] ? EXIT_BAD_INPUT
                                    : EXIT_VALID;
    if (json) {
        json_t *doc = json_pack(
            "{s:o,s:{s:I,s:I,s:I,s:I,s:I},s:f,s:i}", "histories",
            all ? all : json_array(), "counts", "valid",
            (json_int_t)counts[0], "invalid", (json_int_t)counts[1], "unknown",
            (json_int_t)counts[2], "unreadable", (json_int_t)counts[3],
            "harness", (json_int_t)counts[4], "seconds", secs, "code", code);
        if (doc != NULL) {
            json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(doc);
        }
    } else {
        json_decref(all);
        printf("faultline: %zu histories: %zu valid, %zu invalid, %zu "
               "unknown, %zu unreadable%s in %.2f s\n",
               l.n, counts[0], counts[1], counts[2], counts[3],
               counts[4] ? ", some checks failed" : "", secs);
    }

out:
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i]);
        if (results != NULL) {
            json_decref(results[i]);
        }
    }
    free(l.v);
    free(results);
    return code;
}
