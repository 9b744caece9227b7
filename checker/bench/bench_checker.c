/* bench_checker: check time and peak memory of the linearizability engine
 * on Porcupine's conformance set and on a generated million-op history.
 *
 * Each row runs in a child process, so its peak memory (ru_maxrss of the
 * child, history included) is its own; times are check time only (no
 * reading), single thread. Not a test: it prints a table and asserts
 * nothing. FAULTLINE_CONFORMANCE names the set (default as in
 * test_conformance.c); BENCH_OPS sets the generated history's size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checker/linearizable.h"
#include "histories/import.h"

static const char *dir;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct row_result {
    double seconds;
    int histories;
    int valid, invalid, unknown;
};

/* Check each file named in expected.tsv that starts with @prefix. */
static int check_files(const char *prefix, bool whole, const char *only,
                       struct row_result *r)
{
    char path[1024], row[1024];
    snprintf(path, sizeof path, "%s/expected.tsv", dir);
    FILE *tsv = fopen(path, "r");
    if (tsv == NULL) {
        return -ENOENT;
    }
    while (fgets(row, sizeof row, tsv) != NULL) {
        char name[512];
        struct history h;
        struct history_error err;
        enum history_format fmt;
        struct verdict v;
        struct checker_limits lim = {
            .time_s = 300, .whole = whole, .threads = 1};

        if (sscanf(row, "%511s", name) != 1 ||
            strncmp(name, prefix, strlen(prefix)) != 0 ||
            (only != NULL && strstr(name, only) == NULL)) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (history_import(path, HISTORY_FORMAT_AUTO, &h, &fmt, &err) != 0) {
            fprintf(stderr, "%s: cannot read\n", path);
            continue;
        }
        double t0 = now_s();
        checker_linearizable(&h, model_find(history_format_model(fmt)), &lim,
                             &v);
        r->seconds += now_s() - t0;
        r->histories++;
        r->valid += v.result == VERDICT_VALID;
        r->invalid += v.result == VERDICT_INVALID;
        r->unknown += v.result == VERDICT_UNKNOWN;
        verdict_close(&v);
        history_close(&h);
    }
    fclose(tsv);
    return 0;
}

static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct gen_event {
    int64_t time;
    int kind; /* 0 invoke, 1 completion */
    int process;
    int f;    /* 0 read, 1 write, 2 cas */
    int type; /* completion type */
    int key;
    int64_t a, b; /* write a; cas a b; read result a (b: 1 if nil) */
};

static int gen_cmp(const void *x, const void *y)
{
    const struct gen_event *a = x, *b = y;
    if (a->time != b->time) {
        return a->time < b->time ? -1 : 1;
    }
    return a->kind - b->kind;
}

/* A linearizable register history: one op is called per tick by an idle
 * client and takes effect at its call; it returns 1 to 40 ticks later. */
static int generate(struct history *h, size_t nops, int keys, int clients)
{
    struct gen_event *ev = malloc(2 * nops * sizeof *ev);
    int64_t *busy = calloc((size_t)clients, sizeof *busy);
    int64_t *val = calloc((size_t)keys, sizeof *val);
    bool *set = calloc((size_t)keys, sizeof *set);
    static const char *const fname[] = {"read", "write", "cas"};
    size_t n = 0;
    int64_t t = 0;

    if (ev == NULL || busy == NULL || val == NULL || set == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < nops; i++, t++) {
        int c = (int)(rnd() % (uint64_t)clients);
        while (busy[c] >= t) {
            c = (c + 1) % clients;
            if (c == 0) {
                t++;
            }
        }
        int k = (int)(rnd() % (uint64_t)keys), f = (int)(rnd() % 3);
        int64_t d = 1 + (int64_t)(rnd() % 40);
        struct gen_event inv = {t, 0, c, f, HISTORY_INVOKE, k, 0, 0};
        struct gen_event done = inv;
        done.kind = 1;
        done.time = t + d;
        done.type = HISTORY_OK;
        if (f == 0) {
            done.a = val[k];
            done.b = !set[k];
        } else if (f == 1) {
            inv.a = done.a = (int64_t)(rnd() % 5);
            val[k] = inv.a;
            set[k] = true;
        } else {
            inv.a = done.a = (int64_t)(rnd() % 5);
            inv.b = done.b = (int64_t)(rnd() % 5);
            if (set[k] && val[k] == inv.a) {
                val[k] = inv.b;
            } else {
                done.type = HISTORY_FAIL;
            }
        }
        busy[c] = done.time;
        ev[n++] = inv;
        ev[n++] = done;
    }
    qsort(ev, n, sizeof *ev, gen_cmp);
    history_init(h);
    for (size_t i = 0; i < n; i++) {
        struct history_event e;
        char key[16];
        memset(&e, 0, sizeof e);
        snprintf(key, sizeof key, "k%d", ev[i].key);
        e.time = ev[i].time;
        e.process = ev[i].process;
        e.type =
            ev[i].kind == 0 ? HISTORY_INVOKE : (enum history_type)ev[i].type;
        snprintf(e.f, sizeof e.f, "%s", fname[ev[i].f]);
        e.key = key;
        if (ev[i].f == 0) {
            e.value = ev[i].kind == 1 && !ev[i].b ? json_integer(ev[i].a)
                                                  : json_null();
        } else if (ev[i].f == 1) {
            e.value = json_integer(ev[i].a);
        } else {
            e.value =
                json_pack("[II]", (json_int_t)ev[i].a, (json_int_t)ev[i].b);
        }
        int rv = history_add(h, &e);
        json_decref(e.value);
        if (rv != 0) {
            return rv;
        }
    }
    free(ev);
    free(busy);
    free(val);
    free(set);
    return 0;
}

static int generated(size_t nops, struct row_result *r)
{
    struct history h;
    struct verdict v;
    struct checker_limits lim = {.time_s = 300, .threads = 1};
    if (generate(&h, nops, 1000, 20) != 0) {
        return -ENOMEM;
    }
    double t0 = now_s();
    checker_linearizable(&h, &model_register, &lim, &v);
    r->seconds = now_s() - t0;
    r->histories = 1;
    r->valid = v.result == VERDICT_VALID;
    r->invalid = v.result == VERDICT_INVALID;
    r->unknown = v.result == VERDICT_UNKNOWN;
    verdict_close(&v);
    history_close(&h);
    return 0;
}

/* Run row @i in a child; print its line. */
static void row(int i, const char *label, const char *porcupine)
{
    int fds[2];
    struct row_result r = {0};
    struct rusage ru;
    int status;

    if (pipe(fds) != 0) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        size_t nops = 1000000;
        if (getenv("BENCH_OPS") != NULL) {
            nops = strtoull(getenv("BENCH_OPS"), NULL, 10);
        }
        close(fds[0]);
        switch (i) {
        case 0:
            check_files("etcd/", false, NULL, &r);
            break;
        case 1:
            check_files("kv/", false, NULL, &r);
            break;
        case 2:
            check_files("kv/", true, "c10-ok", &r);
            break;
        case 3:
            check_files("kv/", true, "c10-bad", &r);
            break;
        case 4:
            generated(nops, &r);
            break;
        }
        if (write(fds[1], &r, sizeof r) != sizeof r) {
            _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    wait4(pid, &status, 0, &ru);
    if (got != sizeof r) {
        printf("%-40s  (failed)\n", label);
        return;
    }
    printf("%-40s %4d %4d/%d/%d %10.1f %10.1f   %s\n", label, r.histories,
           r.valid, r.invalid, r.unknown, r.seconds * 1000,
           (double)ru.ru_maxrss / 1024, porcupine);
}

int main(void)
{
    dir = getenv("FAULTLINE_CONFORMANCE");
    if (dir == NULL) {
        dir = "/work/shared/conformance/porcupine";
    }
    printf("%-40s %4s %10s %10s %10s   %s\n", "row", "n", "ok/bad/unk",
           "check ms", "peak MiB", "Porcupine");
    row(0, "etcd logs (all), cas-register", "418 ms");
    row(1, "kv histories (6), split by key", "157 ms");
    row(2, "kv c10-ok, not split", "~2300 ms");
    row(3, "kv c10-bad, not split", "~2300 ms");
    row(4, "generated 1M ops, 1000 keys, 20 clients", "-");
    return 0;
}
