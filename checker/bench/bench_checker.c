/* bench_checker: check time and peak memory of the linearizability engine
 * on Porcupine's conformance set and on generated histories: a register
 * history of 100,000 ops (10 keys, 20 clients) where 5% of the ops end in
 * info, and a task-record history of 1,000,000 ops (1,000 keys, 20
 * clients).
 *
 * Each row runs in a child process, so its peak memory (ru_maxrss of the
 * child, history included) is its own; times are check time only (no
 * reading, no generating), single thread: wall clock, and CPU time, which
 * on a shared machine leaves out the others' work. Not a test: it prints
 * a table and asserts nothing. FAULTLINE_CONFORMANCE names the set (default as in
 * test_conformance.c); BENCH_OPS sets the task-record history's size (the
 * register one is a tenth of it, over BENCH_KEYS keys, default 10);
 * BENCH_ROWS="0 4" runs only those rows; BENCH_VERBOSE prints steps and
 * states; BENCH_DUMP=FILE writes the generated history there (JSONL). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* CPU time of this process: on a machine others share, wall time counts
 * their work too; the check runs on one thread, so this is its own. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct row_result {
    double seconds;
    double cpu;
    int histories;
    int valid, invalid, unknown;
};

/* Check each file named in expected.tsv that starts with @prefix. */
static int check_files(const char *prefix, bool whole, bool compose,
                       const char *only, struct row_result *r)
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
        struct checker_limits lim = {.time_s = 60,
                                     .memory_bytes = (size_t)8000 << 20,
                                     .whole = whole,
                                     .no_compose = !compose,
                                     .threads = 1};

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
        double t0 = now_s(), c0 = cpu_s();
        checker_linearizable(&h, model_find(history_format_model(fmt)), &lim,
                             &v);
        r->seconds += now_s() - t0;
        r->cpu += cpu_s() - c0;
        r->histories++;
        r->valid += v.result == VERDICT_VALID;
        r->invalid += v.result == VERDICT_INVALID;
        r->unknown += v.result == VERDICT_UNKNOWN;
        if (getenv("BENCH_VERBOSE") != NULL) {
            char line[512];
            verdict_summary(&v, line, sizeof line);
            fprintf(stderr, "bench_checker: %s: %s\n", name, line);
        }
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

static int64_t below(int64_t n)
{
    return n <= 0 ? 0 : (int64_t)(rnd() % (uint64_t)n);
}

/* What a generated history is of. */
enum gen_model { GEN_REGISTER, GEN_TASK };

struct gen {
    enum gen_model model;
    size_t ops;
    int keys, clients;
    double p_info; /* share of ops whose outcome is unknown */
};

/* A generated op: when it is called, returns, and takes effect. */
struct gop {
    int64_t call, ret, lin;
    int process, key, f;
    int64_t a, b;   /* arguments (see gen_apply) */
    int outcome;    /* HISTORY_OK, HISTORY_FAIL or HISTORY_INFO */
    bool applied;   /* takes effect at lin (an info op: maybe) */
    bool nil;       /* result: none (a read of an unset register...) */
    int64_t r0, r1; /* result: register value; task status, version */
};

struct gev {
    int64_t time;
    int kind; /* 0 invoke, 1 completion */
    size_t op;
};

static int gev_cmp(const void *x, const void *y)
{
    const struct gev *a = x, *b = y;
    if (a->time != b->time) {
        return a->time < b->time ? -1 : 1;
    }
    if (a->kind != b->kind) {
        return a->kind - b->kind;
    }
    return (a->op > b->op) - (a->op < b->op);
}

static const struct gop *sort_ops;

static int lin_cmp(const void *x, const void *y)
{
    const struct gop *a = &sort_ops[*(const size_t *)x],
                     *b = &sort_ops[*(const size_t *)y];
    if (a->lin != b->lin) {
        return a->lin < b->lin ? -1 : 1;
    }
    return (*(const size_t *)x > *(const size_t *)y) -
           (*(const size_t *)x < *(const size_t *)y);
}

/* Per key state of the simulated system. */
struct gkey {
    bool set;           /* register set; task present */
    int64_t v, version; /* register value; task status, version */
};

enum { R_READ, R_WRITE, R_CAS };
enum { T_CREATE, T_GET, T_UPDATE, T_DELETE };
static const char *const reg_f[] = {"read", "write", "cas"};
static const char *const task_f[] = {"create", "get", "update", "delete"};
static const char *const statuses[] = {"pending", "running", "done"};

/* Apply @o to @k at its linearization point: fill its result, and decide
 * whether it succeeds (an ok op whose condition fails becomes fail). */
static void gen_apply(enum gen_model model, struct gop *o, struct gkey *k)
{
    bool ok = true;
    if (model == GEN_REGISTER) {
        switch (o->f) {
        case R_READ:
            o->nil = !k->set;
            o->r0 = k->v;
            break;
        case R_WRITE:
            k->set = true;
            k->v = o->a;
            break;
        default:
            ok = k->set && k->v == o->a;
            if (ok && o->applied) {
                k->v = o->b;
            }
        }
    } else {
        switch (o->f) {
        case T_CREATE:
            ok = !k->set;
            if (ok && o->applied) {
                k->set = true;
                k->v = 0;
                k->version = 1;
            }
            break;
        case T_GET:
            o->nil = !k->set;
            break;
        case T_UPDATE: /* a: new status; b >= 0: expected status, else
                        * expected version -b */
            ok = k->set && (o->b >= 0 ? k->v == o->b : k->version == -o->b);
            if (ok && o->applied) {
                k->v = o->a;
                k->version++;
            }
            break;
        default:
            ok = k->set;
            if (ok && o->applied) {
                k->set = false;
            }
        }
        o->r0 = k->v;
        o->r1 = k->version;
    }
    if (!ok && o->outcome == HISTORY_OK) {
        o->outcome = HISTORY_FAIL;
    }
}

/* Shared JSON values: records and update arguments repeat. */
#define MAX_VERSION 4096
static json_t *records[3][MAX_VERSION];

static json_t *record(int64_t status, int64_t version)
{
    if (version < 1 || version >= MAX_VERSION) {
        return json_pack("{s:s,s:I}", "status", statuses[status], "version",
                         (json_int_t)version);
    }
    json_t **r = &records[status][version];
    if (*r == NULL) {
        *r = json_pack("{s:s,s:I}", "status", statuses[status], "version",
                       (json_int_t)version);
    }
    return json_incref(*r);
}

/* The value of an event of @o. */
static json_t *gen_value(enum gen_model model, const struct gop *o, bool done)
{
    if (model == GEN_REGISTER) {
        switch (o->f) {
        case R_READ:
            return done && !o->nil ? json_integer(o->r0) : json_null();
        case R_WRITE:
            return json_integer(o->a);
        default:
            return json_pack("[II]", (json_int_t)o->a, (json_int_t)o->b);
        }
    }
    switch (o->f) {
    case T_CREATE:
        return done ? record(0, 1) : json_null();
    case T_GET:
        return done && !o->nil ? record(o->r0, o->r1) : json_null();
    case T_UPDATE:
        if (done) {
            return record(o->r0, o->r1);
        }
        if (o->b >= 0) {
            return json_pack("{s:s,s:s}", "status", statuses[o->a],
                             "expect_status", statuses[o->b]);
        }
        return json_pack("{s:s,s:I}", "status", statuses[o->a],
                         "expect_version", (json_int_t)(-o->b));
    default:
        return json_null();
    }
}

/* A history linearizable by construction: a client calls an op a few ticks
 * after its last one returned; the op takes effect at a point inside its
 * interval. An info op may take effect (half of them do) at any time after
 * its call, even after its client has gone on as a new process. */
static int generate(struct history *h, const struct gen *g)
{
    struct gop *ops = calloc(g->ops + 1, sizeof *ops);
    struct gev *ev = malloc((2 * g->ops + 1) * sizeof *ev);
    size_t *order = malloc((g->ops + 1) * sizeof *order);
    int64_t *free_at = calloc((size_t)g->clients, sizeof *free_at);
    int *proc = calloc((size_t)g->clients, sizeof *proc);
    struct gkey *keys = calloc((size_t)g->keys, sizeof *keys);
    int next_proc = g->clients;
    size_t n = 0;
    int rv = 0;

    if (!ops || !ev || !order || !free_at || !proc || !keys) {
        rv = -ENOMEM;
        goto out;
    }
    for (int c = 0; c < g->clients; c++) {
        proc[c] = c;
    }
    for (size_t i = 0; i < g->ops; i++) {
        struct gop *o = &ops[i];
        int c = (int)below(g->clients);
        int64_t dur = 1 + below(40);
        o->process = proc[c];
        o->key = (int)below(g->keys);
        o->call = free_at[c] + below(20);
        o->ret = o->call + dur;
        o->lin = o->call + below(dur + 1);
        o->outcome = HISTORY_OK;
        o->applied = true;
        if (g->model == GEN_REGISTER) {
            o->f = (int)below(3);
            o->a = below(5);
            o->b = below(5);
        } else {
            int64_t x = below(20);
            o->f = x < 2    ? T_CREATE
                   : x < 12 ? T_GET
                   : x < 19 ? T_UPDATE
                            : T_DELETE;
            o->a = below(3);
            o->b = below(2) ? below(3) : -(1 + below(4));
        }
        if ((double)(rnd() >> 11) * 0x1.0p-53 < g->p_info) {
            o->outcome = HISTORY_INFO;
            o->applied = below(2) == 0;
            o->lin = o->call + below(20 * (dur + 20));
            proc[c] = next_proc++;
        }
        free_at[c] = o->ret + 1;
        order[i] = i;
    }
    sort_ops = ops;
    qsort(order, g->ops, sizeof *order, lin_cmp);
    for (size_t i = 0; i < g->ops; i++) {
        struct gop *o = &ops[order[i]];
        gen_apply(g->model, o, &keys[o->key]);
    }
    for (size_t i = 0; i < g->ops; i++) {
        ev[n++] = (struct gev){ops[i].call, 0, i};
        ev[n++] = (struct gev){ops[i].ret, 1, i};
    }
    qsort(ev, n, sizeof *ev, gev_cmp);
    history_init(h);
    for (size_t i = 0; i < n; i++) {
        const struct gop *o = &ops[ev[i].op];
        struct history_event e;
        char key[16];
        memset(&e, 0, sizeof e);
        snprintf(key, sizeof key, "%s%d", g->model == GEN_TASK ? "t" : "k",
                 o->key);
        e.time = ev[i].time;
        e.process = o->process;
        e.type =
            ev[i].kind == 0 ? HISTORY_INVOKE : (enum history_type)o->outcome;
        snprintf(e.f, sizeof e.f, "%s",
                 g->model == GEN_TASK ? task_f[o->f] : reg_f[o->f]);
        e.key = key;
        e.value =
            gen_value(g->model, o, ev[i].kind == 1 && o->outcome == HISTORY_OK);
        rv = history_add(h, &e);
        json_decref(e.value);
        if (rv != 0) {
            history_close(h);
            goto out;
        }
    }

out:
    free(ops);
    free(ev);
    free(order);
    free(free_at);
    free(proc);
    free(keys);
    return rv;
}

static int generated(const struct gen *g, struct row_result *r)
{
    struct history h;
    struct verdict v;
    struct checker_limits lim = {.time_s = 300, .threads = 1};
    if (generate(&h, g) != 0) {
        return -ENOMEM;
    }
    if (getenv("BENCH_DUMP") != NULL) {
        /* The history as a file, to compare other checkers on it. */
        struct history_header hd = {.version = HISTORY_FORMAT_VERSION};
        struct history_writer *w =
            history_writer_new(getenv("BENCH_DUMP"), &hd);
        for (size_t i = 0; w != NULL && i < h.n; i++) {
            struct history_event e = h.events[i];
            history_writer_append(w, &e);
        }
        if (w == NULL || history_writer_free(w) != 0) {
            fprintf(stderr, "bench_checker: cannot write %s\n",
                    getenv("BENCH_DUMP"));
        }
    }
    double t0 = now_s(), c0 = cpu_s();
    checker_linearizable(
        &h, g->model == GEN_TASK ? &model_task : &model_register, &lim, &v);
    r->seconds = now_s() - t0;
    r->cpu = cpu_s() - c0;
    r->histories = 1;
    r->valid = v.result == VERDICT_VALID;
    r->invalid = v.result == VERDICT_INVALID;
    r->unknown = v.result == VERDICT_UNKNOWN;
    if (getenv("BENCH_VERBOSE") != NULL) {
        fprintf(stderr,
                "bench_checker: %zu ops, %zu keys: %" PRIu64 " steps, %" PRIu64
                " states\n",
                v.ops, v.keys, v.steps, v.states);
    }
    if (v.result != VERDICT_VALID) {
        char line[512];
        verdict_summary(&v, line, sizeof line);
        fprintf(stderr, "bench_checker: generated history: %s\n", line);
    }
    verdict_close(&v);
    history_close(&h);
    return 0;
}

/* A register history of one key, @clients clients and @ops ops (5% of
 * unknown outcome), linearizable by construction, then one ok read in
 * its middle made to return 1047, a value no op writes (@later: but an
 * op of unknown outcome invoked after the read returned does). */
static int unwritten(size_t ops, int clients, bool later, struct row_result *r)
{
    struct gen g = {GEN_REGISTER, ops, 1, clients, 0.05};
    struct history h;
    struct verdict v;
    struct checker_limits lim = {
        .time_s = 60, .memory_bytes = (size_t)8000 << 20, .threads = 1};
    int64_t end = 0;
    if (generate(&h, &g) != 0) {
        return -ENOMEM;
    }
    for (size_t i = h.n / 2; i < h.n; i++) {
        struct history_event *e = &h.events[i];
        if (e->type == HISTORY_OK && strcmp(e->f, "read") == 0) {
            json_decref(e->value);
            e->value = json_integer(1047);
            break;
        }
    }
    for (size_t i = 0; i < h.n; i++) {
        end = h.events[i].time > end ? h.events[i].time : end;
    }
    if (later) {
        struct history_event e;
        memset(&e, 0, sizeof e);
        e.time = end + 1;
        e.process = 1000000;
        e.type = HISTORY_INVOKE;
        snprintf(e.f, sizeof e.f, "write");
        e.key = "k0";
        e.value = json_integer(1047);
        history_add(&h, &e);
        json_decref(e.value);
    }
    double t0 = now_s(), c0 = cpu_s();
    checker_linearizable(&h, &model_register, &lim, &v);
    r->seconds = now_s() - t0;
    r->cpu = cpu_s() - c0;
    r->histories = 1;
    r->valid = v.result == VERDICT_VALID;
    r->invalid = v.result == VERDICT_INVALID;
    r->unknown = v.result == VERDICT_UNKNOWN;
    if (getenv("BENCH_VERBOSE") != NULL) {
        char line[512];
        verdict_summary(&v, line, sizeof line);
        fprintf(stderr, "bench_checker: unwritten: %s\n", line);
    }
    verdict_close(&v);
    history_close(&h);
    return 0;
}

/* The etcd logs through the command line: FAULTLINE_BIN/faultline check
 * DIR, one process for every file; the time is the child's, wall and CPU
 * (reading included). */
static int cli_corpus(struct row_result *r)
{
    char bin[1024], etcd[1024];
    const char *b = getenv("FAULTLINE_BIN");
    struct rusage ru;
    int status;
    snprintf(bin, sizeof bin, "%s/faultline", b ? b : "bin");
    snprintf(etcd, sizeof etcd, "%s/etcd", dir);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0 && getenv("BENCH_VERBOSE") == NULL) {
            dup2(devnull, 1);
        }
        execl(bin, bin, "check", "--threads", "1", etcd, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
        return -errno;
    }
    r->seconds = now_s() - t0;
    r->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    r->histories = 1;
    /* Exit 1: some file invalid (the set has both), 0: all valid. */
    r->invalid = WIFEXITED(status) && WEXITSTATUS(status) == 1;
    r->valid = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    r->unknown = !r->valid && !r->invalid;
    return 0;
}

/* Run row @i in a child; print its line. */
static void row(int i, const char *label, const char *porcupine)
{
    int fds[2];
    struct row_result r = {0};
    struct rusage ru;
    int status;

    const char *only = getenv("BENCH_ROWS");
    if (only != NULL) {
        char want[16];
        snprintf(want, sizeof want, " %d ", i);
        char list[256];
        snprintf(list, sizeof list, " %s ", only);
        if (strstr(list, want) == NULL) {
            return;
        }
    }
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
            check_files("etcd/", false, true, NULL, &r);
            break;
        case 1:
            check_files("kv/", false, true, NULL, &r);
            break;
        case 2:
            check_files("kv/", true, false, "c10-ok", &r);
            break;
        case 3:
            check_files("kv/", true, false, "c10-bad", &r);
            break;
        case 6:
            check_files("kv/", true, true, "c50-ok", &r);
            break;
        case 7:
            check_files("kv/", true, true, "c50-bad", &r);
            break;
        case 8:
            unwritten(4000, 20, false, &r);
            break;
        case 9:
            unwritten(4000, 20, true, &r);
            break;
        case 10:
            cli_corpus(&r);
            break;
        case 4: {
            int keys = getenv("BENCH_KEYS") ? atoi(getenv("BENCH_KEYS")) : 10;
            struct gen g = {GEN_REGISTER, nops / 10, keys > 0 ? keys : 10, 20,
                            0.05};
            generated(&g, &r);
            break;
        }
        case 5: {
            struct gen g = {GEN_TASK, nops, 1000, 20, 0.0};
            generated(&g, &r);
            break;
        }
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
        printf("%-44s  (failed)\n", label);
        return;
    }
    printf("%-44s %4d %4d/%d/%d %10.1f %10.1f %10.1f   %s\n", label,
           r.histories, r.valid, r.invalid, r.unknown, r.seconds * 1000,
           r.cpu * 1000, (double)ru.ru_maxrss / 1024, porcupine);
}

int main(void)
{
    dir = getenv("FAULTLINE_CONFORMANCE");
    if (dir == NULL) {
        dir = "/work/shared/conformance/porcupine";
    }
    printf("%-44s %4s %10s %10s %10s %10s   %s\n", "row", "n", "ok/bad/unk",
           "check ms", "cpu ms", "peak MiB",
           "Porcupine (quoted, not measured here)");
    row(0, "etcd logs (all), cas-register", "418 ms [1]");
    row(1, "kv histories (6), split by key", "157 ms [1]");
    row(2, "kv c10-ok, one whole search", "~2300 ms [1]");
    row(3, "kv c10-bad, one whole search", "~2300 ms [1]");
    row(4, "generated register, 100k ops, 5% info", "-");
    row(5, "generated task-record, 1M ops", "-");
    row(6, "kv c50-ok, not split (per key: P-comp.)", "out of memory [1]");
    row(7, "kv c50-bad, not split (per key: P-comp.)", "out of memory [1]");
    row(8, "register 4k ops 20 clients, never written", "-");
    row(9, "register 4k ops 20 clients, written later", "-");
    row(10, "etcd logs via CLI: faultline check DIR", "-");
    printf("[1] quoted from the conformance set's README (%s/README.md),\n"
           "    \"Reference timings\": Porcupine's check time, single thread, "
           "measured\n"
           "    there on this machine class, not by this program. Rows 6-7: "
           "not split\n"
           "    means --no-split; kv is a product of keys, so the verdict is "
           "decided\n"
           "    key by key (locality). Rows 2-3 search the whole history "
           "once.\n",
           dir);
    return 0;
}
