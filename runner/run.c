/* run: conduct one run of a scenario.
 *
 * The phases, all on one libuv loop:
 *   start     spawn every node, poll their status until one is leader;
 *   faults    workload + nemesis for duration_s;
 *   recovery  heal every fault, workload only, for recovery_s;
 *   drain     stop issuing ops, wait for the open ones (op timeout bounds it);
 *   converge  ask every running node for the digest of its replicated
 *             state until all report one applied index (bounded), and
 *             record each one's last answer as a digest op (the converge
 *             checker compares them offline); skipped when the client has
 *             no digest op;
 *   stop      SIGTERM every node, SIGKILL after a grace period.
 * Then the history is checked and verdict.json written. SIGINT/SIGTERM at
 * any point skip to stop (a second one kills at once); the history on disk
 * is complete up to that moment and `faultline check` can read it. */
#include "runner/run.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checker/registry.h"
#include "histories/history.h"
#include "nemesis/nemesis.h"
#include "nodes/client.h"
#include "nodes/db.h"
#include "runner/check.h"
#include "runner/cluster.h"
#include "runner/configuration.h"
#include "runner/fs.h"
#include "runner/msg.h"
#include "runner/netns.h"
#include "runner/report.h"
#include "runner/rng.h"
#include "runner/sandbox.h"
#include "runner/scenario.h"
#include "runner/summary.h"
#include "runner/version.h"
#include "runner/workload.h"

#define LEADER_WAIT_MS   30000
#define STATUS_POLL_MS   200
#define STOP_GRACE_MS    5000
#define QUIET_EVERY_MS   10000 /* progress lines when stdout is no terminal */
#define CONVERGE_WAIT_MS 10000 /* the convergence phase at most */
#define CONVERGE_POLL_MS 50    /* between two rounds of digests */
/* The history process of node i's digest op: CONVERGE_PROCESS + i, far
 * above any client's (a client takes process + clients after an info). */
#define CONVERGE_PROCESS 1000000

enum phase {
    P_START,
    P_FAULTS,
    P_RECOVERY,
    P_DRAIN,
    P_CONVERGE,
    P_STOP,
    P_DONE
};

static const char *const phase_names[] = {
    "start", "faults", "recovery", "drain", "converge", "stop", "done"};

struct run;

/* The convergence phase's view of one node. */
struct probe {
    struct run *r;
    int i;
    bool asked;     /* running when the phase began: probed and recorded
                     * (a joiner never added, or a node down, is not) */
    bool busy;      /* a digest op in flight */
    bool fresh;     /* answered ok in the current round */
    uint64_t sent;  /* uv_hrtime() of the op in flight, or of the answer */
    json_t *last;   /* the last ok value, owned, or NULL */
    char error[64]; /* the last failure, when no ok came */
};

struct run {
    char checkers[128]; /* the history header's checkers, comma-separated */
    const char *model;  /* and its model (the registry's), or NULL */
    uv_loop_t loop;
    struct scenario s;
    uint64_t seed;
    const struct run_options *o;
    char dir[PATH_MAX];
    FILE *log;
    struct history_writer *history;
    uint64_t t0; /* uv_hrtime() at time 0 of the history */
    struct cluster cluster;
    const struct client_ops *client_ops;
    struct client *status[DB_MAX_NODES];
    struct probe probes[DB_MAX_NODES];
    uv_timer_t converge_timer; /* the next round of digests */
    bool polling;              /* poll_digests() is sending a round */
    struct rng workload_rng;
    struct workload *workload;
    struct nemesis *nemesis;
    enum phase phase;
    uv_timer_t phase_timer;
    uv_timer_t tick;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uint64_t phase_start;
    uint64_t faults_start; /* uv_hrtime() when the fault phase began */
    uint64_t rate_t;       /* the ops/s shown: measured since rate_t */
    int64_t rate_ops;
    double rate;
    bool tty;
    int interrupts;
    int exit_code; /* harness error or interrupt; else the verdict decides */
    int faults;    /* started by the nemesis */
    char fault_kinds[256];       /* "kill 3, partition 1" */
    char reactive[384];          /* reactive rules: fires and latency */
    struct workload_stats stats; /* the workload's, when it ended */
    int ticks;
    int write_errors;
    struct summary_fails fails; /* client ops' fails, by error */
    double interrupted_at;      /* s since time 0, at the first signal */
    bool configuration_asked;   /* configuration.json (membership systems) */
    bool membership_changed;    /* the nemesis recorded an add/assign/remove */
};

static void run_log(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void run_log(struct run *r, const char *fmt, ...)
{
    va_list ap;
    double t = (double)(uv_hrtime() - r->t0) / 1e9;
    if (r->log == NULL) {
        return;
    }
    fprintf(r->log, "%9.3f run: ", t);
    va_start(ap, fmt);
    vfprintf(r->log, fmt, ap);
    va_end(ap);
    fputc('\n', r->log);
    fflush(r->log);
}

/* Progress and notices for the person watching. */
static void say(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct run *r, const char *fmt, ...)
{
    va_list ap;
    if (r->tty) {
        fputs("\r\033[K", stdout);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* The live line on a terminal: cut to the terminal's width, because a line
 * that wraps can't be redrawn in place with \r. */
static void say_live(struct run *r, const char *line)
{
    struct winsize ws;
    int width = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
        width = ws.ws_col;
    }
    if (width > 1 && strlen(line) >= (size_t)width) {
        say(r, "%.*s", width - 1, line);
    } else {
        say(r, "%s", line);
    }
}

static void record_event(void *arg, struct history_event *e)
{
    struct run *r = arg;
    int rv;
    e->time = (int64_t)(uv_hrtime() - r->t0);
    if (e->type == HISTORY_FAIL && e->process != HISTORY_NEMESIS) {
        summary_fail_add(&r->fails, e->error);
    }
    rv = history_writer_append(r->history, e);
    if (rv != 0 && r->write_errors++ == 0) {
        /* The history is the run's product: without it the verdict would
         * be about a different history. Stop the run. */
        run_log(r, "history write failed: %s", strerror(-rv));
        msg_error("writing %s/history.jsonl: %s", r->dir, strerror(-rv));
        r->exit_code = EXIT_HARNESS;
    }
}

static void record_nemesis(void *arg, enum history_type type, const char *f,
                           json_t *value)
{
    struct run *r = arg;
    struct history_event e;
    if (strcmp(f, "add") == 0 || strcmp(f, "assign") == 0 ||
        strcmp(f, "remove") == 0) {
        r->membership_changed = true;
    }
    memset(&e, 0, sizeof e);
    e.process = HISTORY_NEMESIS;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.value = value != NULL ? value : json_null();
    record_event(r, &e);
    if (type == HISTORY_INFO) {
        char *text = json_dumps(e.value, JSON_COMPACT | JSON_ENCODE_ANY);
        run_log(r, "nemesis: %s %s", f, text != NULL ? text : "");
        free(text);
    }
    json_decref(value);
}

/* On a terminal, each fault's start and end gets a line above the live
 * one (redrawn at the next tick); elsewhere only runner.log has them. */
static void record_nemesis_tty(void *arg, enum history_type type, const char *f,
                               json_t *value)
{
    struct run *r = arg;
    if (type == HISTORY_INFO && r->tty) {
        char *text = json_dumps(value != NULL ? value : json_null(),
                                JSON_COMPACT | JSON_ENCODE_ANY);
        say(r, "[%6.1fs] nemesis: %s %.120s\n",
            (double)(uv_hrtime() - r->faults_start) / 1e9, f,
            text != NULL ? text : "");
        free(text);
    }
    record_nemesis(arg, type, f, value);
}

static void enter(struct run *r, enum phase p);
static void converge_done(struct run *r, bool agreed);

/* --- start: wait for a leader ------------------------------------------- */

static void status_cb(void *arg, const struct client_result *res)
{
    struct run *r = arg;
    const char *state;
    if (r->phase != P_START || res->type != HISTORY_OK) {
        return;
    }
    state = json_string_value(json_object_get(res->value, "state"));
    if (state == NULL) {
        state = json_string_value(json_object_get(res->value, "role"));
    }
    if (state != NULL && strcmp(state, "leader") == 0) {
        run_log(
            r, "leader elected: node %lld",
            (long long)json_integer_value(json_object_get(res->value, "node")));
        enter(r, P_FAULTS);
    }
}

static void poll_status(struct run *r)
{
    struct client_op op = {.f = "status", .key = NULL, .value = json_null()};
    char addr[128];
    for (int i = 0; i < r->cluster.n; i++) {
        r->client_ops->abandon(r->status[i]);
        cluster_client_addr(&r->cluster, i, addr, sizeof addr);
        r->client_ops->invoke(r->status[i], addr, &op, status_cb, r);
    }
}

/* --- progress ------------------------------------------------------------ */

/* elapsed/total of the fault and recovery phases, ops with their rate,
 * ok/fail/info, nodes up, the faults active now. */
static void progress(struct run *r)
{
    uint64_t now = uv_hrtime();
    double elapsed = (double)(now - r->faults_start) / 1e9;
    double total = r->s.duration_s + r->s.recovery_s;
    const struct workload_stats *st;
    char faults[256] = "";
    char why[160] = "";
    char line[1024];

    if (r->workload == NULL || r->phase > P_DRAIN || r->phase < P_FAULTS) {
        return;
    }
    st = workload_stats(r->workload);
    if (now - r->rate_t >= 1000000000ull) {
        r->rate = (double)(st->invoked - r->rate_ops) * 1e9 /
                  (double)(now - r->rate_t);
        r->rate_t = now;
        r->rate_ops = st->invoked;
    } else if (r->rate == 0 && elapsed > 0.1) {
        r->rate = (double)st->invoked / elapsed; /* the first second */
    }
    if (r->nemesis != NULL) {
        nemesis_describe(r->nemesis, faults, sizeof faults);
    }
    summary_fails_format(&r->fails, 3, why, sizeof why);
    snprintf(line, sizeof line,
             "[%6.1fs/%.0fs] %-8s ops %lld (%.0f/s) ok %lld fail %lld%s%s%s "
             "info %lld | nodes up %d/%d | faults: %s",
             elapsed, total, phase_names[r->phase], (long long)st->invoked,
             r->rate, (long long)st->ok, (long long)st->fail,
             why[0] ? " (" : "", why, why[0] ? ")" : "", (long long)st->info,
             cluster_up(&r->cluster), r->cluster.n,
             faults[0] ? faults : "none");
    if (r->tty) {
        say_live(r, line);
    } else {
        say(r, "%s\n", line);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct run *r = t->data;
    int every = r->tty ? 1 : QUIET_EVERY_MS / STATUS_POLL_MS;

    if (r->phase == P_START) {
        if ((uv_hrtime() - r->phase_start) / 1000000 > LEADER_WAIT_MS) {
            say(r,
                "faultline: no leader after %d s; see %s/nodes/*/stderr.log\n",
                LEADER_WAIT_MS / 1000, r->dir);
            r->exit_code = EXIT_HARNESS;
            enter(r, P_STOP);
            return;
        }
        poll_status(r);
        if (r->tty) {
            char line[128];
            snprintf(line, sizeof line,
                     "[start] waiting for a leader: %.1f s, nodes up %d/%d",
                     (double)(uv_hrtime() - r->phase_start) / 1e9,
                     cluster_up(&r->cluster), r->cluster.n);
            say_live(r, line);
        }
        return;
    }
    /* Rewritten in place every tick on a terminal; else a line every
     * QUIET_EVERY_MS (and one at each phase change, from enter()). */
    if (++r->ticks % every == 0) {
        progress(r);
    }
}

/* --- phases ------------------------------------------------------------- */

static void phase_timer_cb(uv_timer_t *t)
{
    struct run *r = t->data;
    switch (r->phase) {
    case P_FAULTS:
        enter(r, P_RECOVERY);
        break;
    case P_RECOVERY:
        enter(r, P_DRAIN);
        break;
    case P_CONVERGE:
        converge_done(r, false);
        break;
    case P_STOP:
        run_log(r, "nodes still up after %d ms: SIGKILL", STOP_GRACE_MS);
        cluster_stop(&r->cluster, SIGKILL);
        break;
    default:
        break;
    }
}

/* Every client op ended (and the configuration is written): compare the
 * replicas, unless the run already failed, then stop. */
static void after_drain(struct run *r)
{
    enter(r, r->exit_code < 0 ? P_CONVERGE : P_STOP);
}

/* The configuration the run ended with (configuration.json's newest), as
 * a nemesis invoke and info "configuration", for the membership checker
 * (checker/membership.h): only in runs whose nemesis changed membership. */
static void record_configuration(struct run *r)
{
    char path[PATH_MAX + 32];
    json_t *root, *conf, *v;

    if (!r->membership_changed) {
        return;
    }
    snprintf(path, sizeof path, "%s/configuration.json", r->dir);
    root = json_load_file(path, 0, NULL);
    conf = json_object_get(root, "configuration");
    record_nemesis(r, HISTORY_INVOKE, "configuration", NULL);
    v = json_is_object(conf)
            ? json_deep_copy(conf)
            : json_pack("{s:s}", "error", "no node said its configuration");
    record_nemesis(r, HISTORY_INFO, "configuration", v);
    json_decref(root);
}

static void configuration_written(void *arg)
{
    struct run *r = arg;
    record_configuration(r);
    if (r->phase == P_DRAIN) {
        after_drain(r);
    }
}

/* --- converge: every node's digest -------------------------------------- */

static void poll_digests(struct run *r);

/* The digest op of node @i into the history: invoke, then its last ok
 * answer, or a fail saying why there was none. */
static void record_digest(struct run *r, int i)
{
    struct probe *p = &r->probes[i];
    const char *name = r->cluster.nodes[i].spec.name;
    struct history_event e;
    json_t *value = NULL;

    memset(&e, 0, sizeof e);
    e.process = CONVERGE_PROCESS + i;
    e.type = HISTORY_INVOKE;
    snprintf(e.f, sizeof e.f, "digest");
    e.key = (char *)name;
    e.value = json_null();
    record_event(r, &e);
    if (p->last != NULL) {
        value = json_deep_copy(p->last);
        json_object_set_new(value, "node", json_string(name));
        e.type = HISTORY_OK;
        e.value = value != NULL ? value : json_null();
    } else {
        e.type = HISTORY_FAIL;
        e.error = p->error[0] ? p->error : "no_answer";
    }
    e.node = (char *)name;
    record_event(r, &e);
    json_decref(value);
}

static json_int_t applied_of(const struct probe *p)
{
    return json_integer_value(json_object_get(p->last, "applied_index"));
}

/* Every node asked answered this round, at one applied index. */
static bool converged(const struct run *r)
{
    const struct probe *first = NULL;

    for (int i = 0; i < r->cluster.n; i++) {
        const struct probe *p = &r->probes[i];
        if (!p->asked) {
            continue;
        }
        if (first == NULL) {
            first = p;
        }
        if (!p->fresh || applied_of(p) != applied_of(first)) {
            return false;
        }
    }
    return true;
}

/* Record what each node said last, and stop. */
static void converge_done(struct run *r, bool agreed)
{
    char said[512] = "";
    size_t used = 0;

    uv_timer_stop(&r->converge_timer);
    for (int i = 0; i < r->cluster.n; i++) {
        struct probe *p = &r->probes[i];
        if (!p->asked) {
            continue;
        }
        if (p->busy) {
            r->client_ops->abandon(r->status[i]);
            p->busy = false;
        }
        record_digest(r, i);
        if (used < sizeof said) {
            if (p->last != NULL) {
                used += (size_t)snprintf(
                    said + used, sizeof said - used, " %s@%lld",
                    r->cluster.nodes[i].spec.name, (long long)applied_of(p));
            } else {
                used +=
                    (size_t)snprintf(said + used, sizeof said - used, " %s:%s",
                                     r->cluster.nodes[i].spec.name,
                                     p->error[0] ? p->error : "no_answer");
            }
        }
    }
    run_log(r, "convergence: %s after %.2f s:%s",
            agreed ? "one applied index" : "no common applied index",
            (double)(uv_hrtime() - r->phase_start) / 1e9, said);
    enter(r, P_STOP);
}

static void converge_timer_cb(uv_timer_t *t)
{
    poll_digests(t->data);
}

/* When the round is over: done if it converged, else another round. */
static void round_check(struct run *r)
{
    for (int i = 0; i < r->cluster.n; i++) {
        if (r->probes[i].busy) {
            return;
        }
    }
    if (converged(r)) {
        converge_done(r, true);
    } else {
        uv_timer_start(&r->converge_timer, converge_timer_cb, CONVERGE_POLL_MS,
                       0);
    }
}

static void digest_cb(void *arg, const struct client_result *res)
{
    struct probe *p = arg;
    struct run *r = p->r;

    p->busy = false;
    if (r->phase != P_CONVERGE) {
        return;
    }
    if (res->type == HISTORY_OK && json_is_object(res->value) &&
        json_is_integer(json_object_get(res->value, "applied_index"))) {
        json_decref(p->last);
        p->last = json_deep_copy(res->value);
        p->fresh = p->last != NULL;
    } else {
        snprintf(p->error, sizeof p->error, "%s",
                 res->error != NULL ? res->error : "bad_reply");
    }
    if (!r->polling) {
        round_check(r);
    }
}

/* One round: a digest op to every node, pointed at it (no redirects). */
static void poll_digests(struct run *r)
{
    struct client_op op = {.f = "digest", .key = NULL, .value = json_null()};
    char addr[128];

    for (int i = 0; i < r->cluster.n; i++) {
        r->probes[i].fresh = false;
    }
    r->polling = true;
    for (int i = 0; i < r->cluster.n; i++) {
        struct probe *p = &r->probes[i];
        int rv;
        if (!p->asked) {
            continue;
        }
        cluster_client_addr(&r->cluster, i, addr, sizeof addr);
        p->busy = true;
        rv = r->client_ops->invoke(r->status[i], addr, &op, digest_cb, p);
        if (rv == -EINVAL) {
            r->polling = false;
            p->busy = false;
            run_log(r, "convergence: the %s client has no digest op: skipped",
                    r->client_ops->name);
            enter(r, P_STOP);
            return;
        }
        if (rv != 0) {
            struct client_result res = {.type = HISTORY_FAIL,
                                        .value = json_null(),
                                        .error = "unreachable"};
            digest_cb(p, &res);
        }
    }
    r->polling = false;
    round_check(r);
}

static void drained(void *arg)
{
    struct run *r = arg;
    if (r->phase != P_DRAIN) {
        return;
    }
    /* A system whose membership can change says what it ended with
     * (configuration.json) before it stops. */
    if ((r->cluster.db->caps & DB_CAP_MEMBERSHIP) != 0 &&
        !r->configuration_asked) {
        r->configuration_asked = true;
        if (configuration_fetch(&r->loop, &r->cluster, r->client_ops, r->dir,
                                2000, configuration_written, r) == 0) {
            return;
        }
    }
    after_drain(r);
}

static void close_all(struct run *r)
{
    uv_timer_stop(&r->phase_timer);
    uv_close((uv_handle_t *)&r->phase_timer, NULL);
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)&r->converge_timer, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    for (int i = 0; i < r->cluster.n; i++) {
        r->client_ops->free(r->status[i]);
        r->status[i] = NULL;
        json_decref(r->probes[i].last);
        r->probes[i].last = NULL;
    }
    if (r->workload != NULL) {
        r->stats = *workload_stats(r->workload);
    }
    workload_free(r->workload);
    r->workload = NULL;
    if (r->nemesis != NULL) {
        r->faults = nemesis_count(r->nemesis);
        nemesis_count_kinds(r->nemesis, r->fault_kinds, sizeof r->fault_kinds);
        /* reactive rules: fires and event-to-fault latency */
        nemesis_reactive_summary(r->nemesis, r->reactive, sizeof r->reactive);
        if (r->reactive[0] != '\0') {
            run_log(r, "%s", r->reactive);
        }
    }
    nemesis_free(r->nemesis);
    r->nemesis = NULL;
    cluster_close(&r->cluster);
}

/* Polls, in the stop phase, for every node process to be reaped. */
static void reap_check_cb(uv_timer_t *t)
{
    struct run *r = t->data;
    if (r->phase == P_STOP && r->cluster.live == 0) {
        r->phase = P_DONE;
        run_log(r, "every node stopped");
        close_all(r);
    }
}

static void enter(struct run *r, enum phase p)
{
    struct workload_env wenv;
    struct nemesis_env nenv;

    run_log(r, "phase %s -> %s", phase_names[r->phase], phase_names[p]);
    if (!r->tty && (p == P_RECOVERY || p == P_DRAIN)) {
        progress(r);  /* the line that closes the phase */
        r->ticks = 0; /* and the next one QUIET_EVERY_MS later */
    }
    r->phase = p;
    r->phase_start = uv_hrtime();
    uv_timer_stop(&r->phase_timer);

    switch (p) {
    case P_FAULTS:
        for (int i = 0; i < r->cluster.n; i++) {
            r->client_ops->abandon(r->status[i]);
        }
        wenv = (struct workload_env){
            .cluster = &r->cluster,
            .client = r->client_ops,
            .s = &r->s,
            .rng = &r->workload_rng,
            .record = record_event,
            .arg = r,
        };
        nenv = (struct nemesis_env){
            .loop = &r->loop,
            .cluster = &r->cluster,
            .s = &r->s,
            .log_fd = fileno(r->log),
            .record = record_nemesis_tty,
            .arg = r,
        };
        r->faults_start = r->rate_t = uv_hrtime();
        r->workload = workload_new(&r->loop, &wenv);
        r->nemesis =
            r->o->replay != NULL
                ? nemesis_new_replay(&nenv, r->o->replay, r->o->n_replay)
                : nemesis_new(&nenv, nemesis_seed(r->seed));
        if (r->workload == NULL || r->nemesis == NULL) {
            r->exit_code = EXIT_HARNESS;
            enter(r, P_STOP);
            return;
        }
        workload_start(r->workload);
        nemesis_start(r->nemesis);
        uv_timer_start(&r->phase_timer, phase_timer_cb,
                       (uint64_t)(r->s.duration_s * 1000), 0);
        break;
    case P_RECOVERY:
        nemesis_heal(r->nemesis);
        uv_timer_start(&r->phase_timer, phase_timer_cb,
                       (uint64_t)(r->s.recovery_s * 1000), 0);
        break;
    case P_DRAIN:
        workload_stop(r->workload, drained, r);
        break;
    case P_CONVERGE:
        for (int i = 0; i < r->cluster.n; i++) {
            r->probes[i] = (struct probe){
                .r = r, .i = i, .asked = r->cluster.nodes[i].proc != NULL};
        }
        uv_timer_start(&r->phase_timer, phase_timer_cb, CONVERGE_WAIT_MS, 0);
        poll_digests(r);
        break;
    case P_STOP:
        uv_timer_stop(&r->converge_timer);
        if (r->workload != NULL) {
            workload_abort(r->workload);
        }
        if (r->nemesis != NULL) {
            nemesis_heal(r->nemesis);
        }
        cluster_stop(&r->cluster, SIGTERM);
        uv_timer_start(&r->phase_timer, phase_timer_cb, STOP_GRACE_MS, 0);
        uv_timer_start(&r->tick, reap_check_cb, 50, 50);
        break;
    default:
        break;
    }
}

/* The marker `faultline check` reads to say the history is partial. */
static void mark_interrupted(struct run *r, int signum)
{
    char path[PATH_MAX + 32];
    FILE *f;
    snprintf(path, sizeof path, "%s/interrupted", r->dir);
    f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "interrupted by %s at %.3f s, in phase %s\n",
                strsignal(signum), (double)(uv_hrtime() - r->t0) / 1e9,
                phase_names[r->phase]);
        fclose(f);
    }
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct run *r = h->data;
    if (r->interrupts++ == 0) {
        r->interrupted_at = (double)(uv_hrtime() - r->t0) / 1e9;
    }
    r->exit_code = EXIT_INTERRUPTED;
    say(r, "\nfaultline: %s: stopping the nodes%s\n", strsignal(signum),
        r->interrupts > 1 ? " now (SIGKILL)" : "");
    run_log(r, "interrupted by %s", strsignal(signum));
    mark_interrupted(r, signum);
    if (r->interrupts > 1) {
        cluster_stop(&r->cluster, SIGKILL);
    } else if (r->phase < P_STOP) {
        enter(r, P_STOP);
    }
}

/* A node refused its command line or configuration: restarting it would
 * only repeat that, so the run stops at once, saying why. */
static void usage_error_cb(void *arg, struct cluster *c, int i,
                           const char *line)
{
    struct run *r = arg;
    if (r->exit_code == EXIT_BAD_INPUT) {
        return; /* said once */
    }
    r->exit_code = EXIT_BAD_INPUT;
    msg_error("%s exited with status %d (a usage error): %s",
              c->nodes[i].spec.name, c->db->usage_status,
              line[0] ? line : "(no message)");
    msg_error("see %s/stderr.log", c->nodes[i].spec.dir);
    run_log(r, "%s: usage error, stopping the run", c->nodes[i].spec.name);
    if (r->phase < P_STOP) {
        enter(r, P_STOP);
    }
}

/* --- set-up -------------------------------------------------------------- */

/* histories/runs/<scenario>/<UTC time>-<seed>/, made fresh. */
static int make_run_dir(struct run *r, const char *runs_dir, char *wall,
                        size_t wall_size)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    int rv;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    strftime(wall, wall_size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(wall + strlen(wall), wall_size - strlen(wall), ".%03ldZ",
             ts.tv_nsec / 1000000);
    for (int attempt = 0; attempt < 100; attempt++) {
        if (attempt == 0) {
            snprintf(r->dir, sizeof r->dir, "%s/%s/%s-%llu", runs_dir,
                     r->s.name, stamp, (unsigned long long)r->seed);
        } else {
            snprintf(r->dir, sizeof r->dir, "%s/%s/%s-%llu.%d", runs_dir,
                     r->s.name, stamp, (unsigned long long)r->seed, attempt);
        }
        rv = fs_mkdirs(r->dir, true);
        if (rv != -EEXIST) {
            return rv;
        }
    }
    return -EEXIST;
}

static int write_json(const char *dir, const char *name, json_t *obj)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return json_dump_file(obj, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0
               ? 0
               : -EIO;
}

static int setup(struct run *r, const struct run_options *o)
{
    char err[512];
    char wall[64];
    char path[PATH_MAX + 64];
    const struct db_ops *db;
    struct history_header header;
    json_t *resolved;
    int rv;

    scenario_defaults(&r->s);
    rv = scenario_load(o->scenario_path, &r->s, err, sizeof err);
    if (rv != 0) {
        msg_error("%s", err);
        return EXIT_BAD_INPUT;
    }
    if (o->bug != NULL) {
        json_t *v = json_string(o->bug);
        rv = scenario_set(&r->s, "db.bug", v, "--bug", err, sizeof err);
        json_decref(v);
        if (rv != 0) {
            msg_error("%s", err);
            return EXIT_BAD_INPUT;
        }
    }
    if (o->time_limit_s > 0) {
        r->s.duration_s = o->time_limit_s;
    }
    r->seed = o->has_seed     ? o->seed
              : r->s.has_seed ? r->s.seed
                              : rng_fresh_seed();
    r->s.seed = r->seed;
    r->s.has_seed = true;
    /* Independent streams, so that the fault schedule does not depend on
     * how many ops the clients happened to issue. */
    rng_init(&r->workload_rng, r->seed * 2 + 1);

    db = db_find(r->s.db.name);
    r->client_ops = db != NULL ? client_find(db->client) : NULL;
    if (db == NULL || r->client_ops == NULL) {
        msg_error("%s: no db/client for \"%s\"", o->scenario_path,
                  r->s.db.name);
        return EXIT_BAD_INPUT;
    }
    /* Ask the system itself whether its settings make sense (a seeded
     * bug's name...) before anything starts. */
    if (db->check != NULL) {
        err[0] = '\0';
        rv =
            db->check(scenario_db_settings(&r->s), o->bin_dir, err, sizeof err);
        if (rv != 0) {
            msg_error("%s: %s", o->scenario_path, err);
            return EXIT_BAD_INPUT;
        }
    }

    /* From here on, everything happens in namespaces that die with us. */
    rv = sandbox_enter(err, sizeof err);
    if (rv != 0) {
        msg_error("%s", err);
        return EXIT_HARNESS;
    }

    rv = make_run_dir(r, o->runs_dir, wall, sizeof wall);
    if (rv != 0) {
        msg_error("mkdir %s: %s", r->dir, strerror(-rv));
        return EXIT_HARNESS;
    }
    resolved = scenario_to_json(&r->s);
    rv = write_json(r->dir, "scenario.json", resolved);
    json_decref(resolved);
    if (rv != 0) {
        msg_error("writing %s/scenario.json failed", r->dir);
        return EXIT_HARNESS;
    }
    snprintf(path, sizeof path, "%s/runner.log", r->dir);
    r->log = fopen(path, "a");
    if (r->log == NULL) {
        msg_error("%s: %s", path, strerror(errno));
        return EXIT_HARNESS;
    }
    /* What judges this history: the checker registry's entry for the
     * workload, recorded so that check, shrink and the report need not
     * guess. */
    {
        const struct registry_workload *rw =
            registry_workload(r->s.workload.name);
        size_t used = 0;
        r->checkers[0] = '\0';
        for (int k = 0;
             rw != NULL && k < REGISTRY_MAX_CHECKERS && rw->checkers[k] != NULL;
             k++) {
            used +=
                (size_t)snprintf(r->checkers + used, sizeof r->checkers - used,
                                 "%s%s", k ? ", " : "", rw->checkers[k]);
        }
        r->model = rw != NULL ? rw->model : NULL;
    }
    header = (struct history_header){
        .version = HISTORY_FORMAT_VERSION,
        .scenario = r->s.name,
        .seed = r->seed,
        .start_wall = wall,
        .system = r->s.db.name,
        .workload = r->s.workload.name,
        .checkers = r->checkers[0] != '\0' ? r->checkers : NULL,
        .model = (char *)r->model,
        .faultline_version = (char *)faultline_version(),
    };
    snprintf(path, sizeof path, "%s/history.jsonl", r->dir);
    r->t0 = uv_hrtime();
    r->history = history_writer_new(path, &header);
    if (r->history == NULL) {
        msg_error("%s: %s", path, strerror(errno));
        return EXIT_HARNESS;
    }

    rv = netns_setup(r->s.nodes, fileno(r->log), err, sizeof err);
    if (rv != 0) {
        msg_error("%s (see %s/runner.log)", err, r->dir);
        return EXIT_HARNESS;
    }

    rv = uv_loop_init(&r->loop);
    if (rv != 0) {
        msg_error("uv_loop_init: %s", uv_strerror(rv));
        return EXIT_HARNESS;
    }
    rv = cluster_init(&r->cluster, &r->loop, db, scenario_db_settings(&r->s),
                      r->s.nodes, o->bin_dir, r->dir, r->log);
    /* The faults prepare the nodes (mounts now, preloads at each start);
     * the cluster knows no fault kind. */
    cluster_set_members(&r->cluster, r->s.members);
    r->cluster.prepare = nemesis_prepare_node;
    r->cluster.prepare_arg = &r->s;
    r->cluster.on_usage_error = usage_error_cb;
    r->cluster.usage_arg = r;
    if (rv == 0) {
        rv = cluster_prepare(&r->cluster);
    }
    if (rv != 0) {
        msg_error("preparing the cluster: %s (see %s)", strerror(-rv), r->dir);
        cluster_close(&r->cluster);
        uv_run(&r->loop, UV_RUN_DEFAULT); /* the close callbacks */
        uv_loop_close(&r->loop);
        return EXIT_HARNESS;
    }
    for (int i = 0; i < r->cluster.n; i++) {
        r->status[i] = r->client_ops->new (&r->loop);
        if (r->status[i] != NULL && r->client_ops->configure != NULL) {
            r->client_ops->configure(r->status[i], r->cluster.db_settings);
        }
    }
    uv_timer_init(&r->loop, &r->phase_timer);
    uv_timer_init(&r->loop, &r->tick);
    uv_timer_init(&r->loop, &r->converge_timer);
    r->converge_timer.data = r;
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    r->phase_timer.data = r->tick.data = r;
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, signal_cb, SIGINT);
    uv_signal_start(&r->sigterm, signal_cb, SIGTERM);
    return 0;
}

/* report.html, with report/report.py; a failure is a warning, never a
 * different exit code. */
static void write_report(struct run *r, const char *bin_dir)
{
    char err[PATH_MAX + 128];
    fflush(r->log);
    if (report_write(bin_dir, r->dir, fileno(r->log), err, sizeof err) != 0) {
        run_log(r, "warning: %s", err);
        msg_warning("%s", err);
        return;
    }
    run_log(r, "report written: %s/report.html", r->dir);
    printf("faultline: report %s/report.html\n", r->dir);
}

/* The summary after the verdict: what ran, what was injected, what broke. */
static void print_summary(struct run *r, const struct check_result *res)
{
    const struct workload_stats *st = &r->stats;
    int64_t open = st->invoked - st->ok - st->fail - st->info;
    int crashes = 0, restarted = 0;
    char restarts[512] = "";
    size_t used = 0;

    for (int i = 0; i < r->cluster.n; i++) {
        const struct cluster_node *n = &r->cluster.nodes[i];
        crashes += n->crashes;
        if (n->starts > 1 && used < sizeof restarts) {
            used += (size_t)snprintf(restarts + used, sizeof restarts - used,
                                     "%s%s %d", restarted > 0 ? ", " : "",
                                     n->spec.name, n->starts - 1);
            restarted++;
        }
    }
    printf("faultline: %lld ops: %lld ok, %lld fail, %lld info",
           (long long)st->invoked, (long long)st->ok, (long long)st->fail,
           (long long)st->info);
    if (open > 0) {
        printf(", %lld open at the end", (long long)open);
    }
    putchar('\n');
    summary_print_fails(stdout, &r->fails);
    if (r->faults > 0) {
        printf("faultline: faults injected: %d (%s)\n", r->faults,
               r->fault_kinds);
    } else {
        printf("faultline: faults injected: none\n");
    }
    if (r->reactive[0] != '\0') {
        printf("faultline: %s\n", r->reactive);
    }
    printf("faultline: node restarts: %s; %d unplanned node exits\n",
           restarted > 0 ? restarts : "none", crashes);
    if (res != NULL) {
        printf("faultline: %s\n", res->summary);
    }
}

/* An interrupted run still says what its history shows so far: the
 * verdict of the recorded part, marked partial (check_path reads the
 * "interrupted" marker); the exit code stays EXIT_INTERRUPTED. */
static void interrupted_summary(struct run *r, const char *bin_dir)
{
    struct check_options copts = {
        .time_limit_s = r->s.checker.time_limit_s,
        .memory_mb = r->s.checker.memory_mb,
    };
    struct check_result result;

    printf("faultline: partial: interrupted at %.1f s; the verdict of the "
           "history recorded until then:\n",
           r->interrupted_at);
    check_path(r->dir, &copts, &result);
    json_decref(result.verdict);
    print_summary(r, &result);
    write_report(r, bin_dir);
    summary_print_explanation(stdout, r->dir);
    printf("faultline: run interrupted; history kept in %s\n"
           "faultline: run directory %s\n",
           r->dir, r->dir);
}

int run_scenario(const struct run_options *o)
{
    struct run *r = calloc(1, sizeof *r);
    struct check_options copts;
    struct check_result result;
    int code;

    if (r == NULL) {
        return EXIT_HARNESS;
    }
    r->tty = isatty(STDOUT_FILENO);
    r->o = o;
    r->exit_code = -1;
    code = setup(r, o);
    if (code != 0) {
        goto out;
    }

    printf("faultline: scenario %s, seed %llu, %d nodes, %.0f s + %.0f s "
           "recovery%s%s\nfaultline: run directory %s\n",
           r->s.name, (unsigned long long)r->seed, r->s.nodes, r->s.duration_s,
           r->s.recovery_s, scenario_db_string(&r->s, "bug")[0] ? ", bug " : "",
           scenario_db_string(&r->s, "bug"), r->dir);
    fflush(stdout);
    run_log(r, "scenario %s seed %llu", r->s.name, (unsigned long long)r->seed);
    if (o->origin != NULL) {
        run_log(r, "repro of %s: replaying its %d recorded faults", o->origin,
                o->n_replay);
    }
    if (o->dir_out != NULL) {
        snprintf(o->dir_out, o->dir_out_size, "%s", r->dir);
    }

    for (int i = 0; i < r->cluster.n; i++) {
        /* Slots beyond the initial members wait for a membership fault. */
        if (r->cluster.nodes[i].member && cluster_start(&r->cluster, i) != 0) {
            r->exit_code = EXIT_HARNESS;
        }
    }
    r->phase = P_START;
    r->phase_start = uv_hrtime();
    if (r->exit_code == EXIT_HARNESS) {
        msg_error("could not start the nodes (see %s)", r->dir);
        enter(r, P_STOP);
    } else {
        uv_timer_start(&r->tick, tick_cb, STATUS_POLL_MS, STATUS_POLL_MS);
    }
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    if (r->tty) {
        say(r, "%s", "");
    }

    history_writer_free(r->history);
    r->history = NULL;

    if (r->exit_code == EXIT_INTERRUPTED) {
        code = r->exit_code;
        interrupted_summary(r, o->bin_dir);
        goto out;
    }
    if (r->exit_code >= 0) {
        code = r->exit_code;
        print_summary(r, NULL);
        write_report(r, o->bin_dir);
        printf("faultline: run %s; history kept; check it with: "
               "faultline check %s\n",
               code == EXIT_INTERRUPTED ? "interrupted" : "failed", r->dir);
        goto out;
    }

    copts = (struct check_options){
        .model = NULL,
        .time_limit_s = r->s.checker.time_limit_s,
        .memory_mb = r->s.checker.memory_mb,
    };
    code = check_path(r->dir, &copts, &result);
    json_decref(result.verdict);
    print_summary(r, &result);
    write_report(r, o->bin_dir);
    summary_print_explanation(stdout, r->dir);
    printf("faultline: run directory %s\n", r->dir);

out:
    if (r->log != NULL) {
        fclose(r->log);
    }
    history_writer_free(r->history);
    free(r);
    return code;
}
