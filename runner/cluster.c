/* cluster: spawning and supervising the node processes of a run.
 *
 * Each node runs in a session of its own (so a terminal's Ctrl-C reaches
 * only the runner, which then stops the nodes in order) with its stdout
 * piped to the runner, which appends it to nodes/nN/events.jsonl and hands
 * each event to its subscribers (runner/node_events.h), and its stderr
 * appended to nodes/nN/stderr.log.
 * A node that exits when nobody asked (a fail-stop on an I/O error, a crash)
 * is restarted after a second, as a supervisor would, unless the run is
 * stopping; the crash is counted and logged. A db may have a second
 * process per node (db_ops.sidecar_command, Redis' Sentinel): it starts
 * with the node, gets the node's signals, and logs to nodes/nN/sidecar.log. */
#include "runner/cluster.h"

#include "runner/fs.h"
#include "runner/netns.h"
#include "runner/node_events.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RESTART_AFTER_CRASH_MS 1000

struct cluster_proc {
    uv_process_t h;
    struct cluster *c;
    int i;
    bool sidecar; /* the db's second process (db_ops.sidecar_command) */
    bool killed;  /* sidecar: we sent the signal that ends it */
};

static void logf_(struct cluster *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(struct cluster *c, const char *fmt, ...)
{
    va_list ap;
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    if (c->log == NULL) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(c->log, "%s.%03ld cluster: ", stamp, ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(c->log, fmt, ap);
    va_end(ap);
    fputc('\n', c->log);
    fflush(c->log);
}

static bool wants_sidecar(const struct cluster *c, int i);

static void restart_cb(uv_timer_t *t)
{
    struct cluster_node *node = t->data;
    struct cluster *c = node->owner;
    int i = (int)(node - c->nodes);
    if (!c->stopping && (node->proc == NULL || wants_sidecar(c, i))) {
        logf_(c, "%s: restarting after a crash", node->spec.name);
        cluster_start(c, i);
    }
}

int cluster_init(struct cluster *c, uv_loop_t *loop, const struct db_ops *db,
                 const void *db_settings, int nodes, const char *bin_dir,
                 const char *run_dir, FILE *log)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->db = db;
    c->db_settings = db_settings;
    c->log = log;
    c->n = nodes;
    c->members = nodes;
    c->leader = -1;
    snprintf(c->bin_dir, sizeof c->bin_dir, "%s", bin_dir);
    c->events = node_events_new(loop, c->n, log);
    if (c->events == NULL) {
        return -ENOMEM;
    }

    for (int i = 0; i < c->n; i++) {
        struct db_node *spec = &c->nodes[i].spec;
        int rv;
        spec->id = i + 1;
        snprintf(spec->name, sizeof spec->name, "n%d", i + 1);
        /* Each node has a network namespace and an address of its own
         * (runner/netns.c), so every node can use the same ports. */
        netns_node_ip(i, spec->host, sizeof spec->host);
        netns_name(i, spec->netns, sizeof spec->netns);
        spec->peer_port = CLUSTER_PEER_PORT;
        spec->client_port = CLUSTER_CLIENT_PORT;
        snprintf(spec->dir, sizeof spec->dir, "%s/nodes/%s", run_dir,
                 spec->name);
        snprintf(spec->data_dir, sizeof spec->data_dir, "%s/data", spec->dir);
        rv = fs_mkdirs(spec->data_dir, false);
        if (rv != 0) {
            logf_(c, "mkdir %s: %s", spec->data_dir, strerror(-rv));
            return rv;
        }
        c->nodes[i].owner = c;
        c->nodes[i].member = true;
        snprintf(c->nodes[i].role, sizeof c->nodes[i].role, "voter");
        uv_timer_init(loop, &c->nodes[i].restart_timer);
        c->nodes[i].restart_timer.data = &c->nodes[i];
        c->handles++;
    }
    return 0;
}

static void db_cluster_of(struct cluster *c, struct db_node *specs,
                          struct db_cluster *out)
{
    for (int j = 0; j < c->n; j++) {
        specs[j] = c->nodes[j].spec;
    }
    out->nodes = specs;
    out->n = c->n;
    out->members = c->members;
    out->bin_dir = c->bin_dir;
}

int cluster_prepare(struct cluster *c)
{
    struct db_node specs[DB_MAX_NODES];
    struct db_cluster dc;
    char err[512];
    int rv;

    db_cluster_of(c, specs, &dc);
    for (int i = 0; i < c->n; i++) {
        if (c->prepare != NULL) {
            rv = c->prepare(c->prepare_arg, c, i, NULL); /* mounts */
            if (rv != 0) {
                return rv;
            }
        }
        if (c->db->setup != NULL) {
            err[0] = '\0';
            rv = c->db->setup(c->db_settings, &dc, i, err, sizeof err);
            if (rv != 0) {
                logf_(c, "%s: setup: %s", c->nodes[i].spec.name,
                      err[0] ? err : strerror(-rv));
                return rv;
            }
        }
    }
    return 0;
}

/* The last line of node @i's stderr.log, into @buf. */
static void last_stderr_line(struct cluster *c, int i, char *buf, size_t size)
{
    char path[4200], chunk[4096];
    ssize_t got;
    int fd;
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/stderr.log", c->nodes[i].spec.dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof chunk - 1 ? end - (off_t)sizeof chunk + 1
                                                : 0;
    got = pread(fd, chunk, sizeof chunk - 1, from);
    close(fd);
    if (got <= 0) {
        return;
    }
    chunk[got] = '\0';
    while (got > 0 && chunk[got - 1] == '\n') {
        chunk[--got] = '\0';
    }
    /* The last two lines: a usage error is often a message, then a hint
     * ("try --help"). */
    char *line = strrchr(chunk, '\n');
    if (line != NULL) {
        *line = ' ';
        char *prev = strrchr(chunk, '\n');
        *line = '\n';
        line = prev;
    }
    snprintf(buf, size, "%s", line != NULL ? line + 1 : chunk);
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
}

void cluster_init_dry(struct cluster *c, const struct db_ops *db,
                      const void *db_settings, int nodes, const char *run_dir)
{
    memset(c, 0, sizeof *c);
    c->db = db;
    c->db_settings = db_settings;
    c->n = nodes;
    c->members = nodes;
    c->leader = -1;
    c->dry_run = true;
    for (int i = 0; i < c->n; i++) {
        struct db_node *spec = &c->nodes[i].spec;
        spec->id = i + 1;
        snprintf(spec->name, sizeof spec->name, "n%d", i + 1);
        netns_node_ip(i, spec->host, sizeof spec->host);
        netns_name(i, spec->netns, sizeof spec->netns);
        spec->peer_port = CLUSTER_PEER_PORT;
        spec->client_port = CLUSTER_CLIENT_PORT;
        snprintf(spec->dir, sizeof spec->dir, "%s/nodes/%s", run_dir,
                 spec->name);
        snprintf(spec->data_dir, sizeof spec->data_dir, "%s/data", spec->dir);
        c->nodes[i].owner = c;
        c->nodes[i].member = true;
        snprintf(c->nodes[i].role, sizeof c->nodes[i].role, "voter");
    }
}

void cluster_set_members(struct cluster *c, int members)
{
    c->members = members > 0 && members < c->n ? members : c->n;
    for (int i = 0; i < c->n; i++) {
        struct cluster_node *node = &c->nodes[i];
        node->member = i < c->members;
        node->spec.join = !node->member;
        snprintf(node->role, sizeof node->role, "%s",
                 node->member ? "voter" : "");
    }
}

int cluster_next_member(const struct cluster *c, int from)
{
    for (int k = 0; k < c->n; k++) {
        int i = (from + k) % c->n;
        if (c->nodes[i].member && cluster_running(c, i)) {
            return i;
        }
    }
    return from;
}

static void proc_close_cb(uv_handle_t *h)
{
    struct cluster_proc *p = h->data;
    p->c->live--;
    free(p);
}

static void exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
    struct cluster_proc *p = h->data;
    struct cluster *c = p->c;
    struct cluster_node *node = &c->nodes[p->i];
    bool ours = node->killed || c->stopping;

    if (p->sidecar) {
        ours = p->killed || c->stopping;
        logf_(c, "%s: sidecar pid %d exited (status %lld, signal %d)%s",
              node->spec.name, h->pid, (long long)status, term_signal,
              ours ? "" : ": not caused by faultline");
        node->sidecar = NULL;
        uv_close((uv_handle_t *)h, proc_close_cb);
        /* Killed with its node, it starts again with it (at once if the
         * node was started again before this exit was reaped); alone,
         * after a second (not counted as the node's crash). */
        if (!ours) {
            uv_timer_start(&node->restart_timer, restart_cb,
                           RESTART_AFTER_CRASH_MS, 0);
        } else if (node->proc != NULL && !c->stopping) {
            uv_timer_start(&node->restart_timer, restart_cb, 0, 0);
        }
        return;
    }
    logf_(c, "%s: pid %d exited (status %lld, signal %d)%s", node->spec.name,
          h->pid, (long long)status, term_signal,
          ours ? "" : ": not caused by faultline");
    node->proc = NULL;
    node->paused = false;
    node->killed = false;
    uv_close((uv_handle_t *)h, proc_close_cb);
    if (!ours && c->db->usage_status != 0 && term_signal == 0 &&
        status == c->db->usage_status && c->on_usage_error != NULL) {
        /* A bad command line or configuration: restarting can't help. */
        char line[512];
        last_stderr_line(c, p->i, line, sizeof line);
        logf_(c, "%s: exited with the usage status %d: %s", node->spec.name,
              c->db->usage_status, line);
        c->on_usage_error(c->usage_arg, c, p->i, line);
        return;
    }
    if (!ours) {
        node->crashes++;
        uv_timer_start(&node->restart_timer, restart_cb, RESTART_AFTER_CRASH_MS,
                       0);
    }
}

extern char **environ;

int cluster_env_put(struct cluster_env *e, const char *fmt, ...)
{
    va_list ap;
    int len;
    if (e->n + 2 > e->max) {
        return -ENOSPC;
    }
    va_start(ap, fmt);
    len = vsnprintf(e->buf + e->used, e->size - e->used, fmt, ap);
    va_end(ap);
    if (len < 0 || e->used + (size_t)len + 1 > e->size) {
        return -ENOSPC;
    }
    e->env[e->n++] = e->buf + e->used;
    e->env[e->n] = NULL;
    e->used += (size_t)len + 1;
    return 0;
}

int cluster_env_preload(struct cluster_env *e, const char *lib)
{
    size_t len = strlen(e->preload);
    int n = snprintf(e->preload + len, sizeof e->preload - len, "%s ", lib);
    return n < 0 || len + (size_t)n >= sizeof e->preload ? -ENOSPC : 0;
}

/* The environment of node @i: ours without LD_PRELOAD, plus what the
 * run's faults add (c->prepare). Returns the number of entries set in
 * @env (NULL-terminated), or a negative errno. */
static int node_env(struct cluster *c, int i, char **env, size_t max, char *buf,
                    size_t bufsize)
{
    struct cluster_env e = {
        .env = env, .n = 0, .max = max, .buf = buf, .used = 0, .size = bufsize,
    };
    int rv;

    for (char **p = environ; *p != NULL; p++) {
        if (strncmp(*p, "LD_PRELOAD=", 11) != 0 && e.n + 16 < max) {
            env[e.n++] = *p;
        }
    }
    env[e.n] = NULL;
    if (c->prepare != NULL) {
        rv = c->prepare(c->prepare_arg, c, i, &e);
        if (rv != 0) {
            return rv;
        }
    }
    if (e.preload[0] != '\0') {
        if (cluster_env_put(&e, "LD_PRELOAD=%s", e.preload) != 0 ||
            /* An ASan build of the node would refuse a preload ahead of
             * it. */
            cluster_env_put(&e, "ASAN_OPTIONS=verify_asan_link_order=0") !=
                0) {
            return -ENOSPC;
        }
    }
    env[e.n] = NULL;
    return (int)e.n;
}

static int open_append(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Spawn @argv (the node's command, or its sidecar's) in node @i's
 * namespace with @env, stdout to @out_name and stderr to @err_name in the
 * node's folder. Returns the process, or NULL (logged). */
static struct cluster_proc *spawn(struct cluster *c, int i, bool sidecar,
                                  const struct db_argv *argv, char **env,
                                  const char *out_name, const char *err_name)
{
    struct cluster_node *node = &c->nodes[i];
    char *args[DB_MAX_ARGS + 8];
    int argc = 0;
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    struct cluster_proc *p = NULL;
    int out, err, rv;

    /* ip netns exec sets the namespace and execs: the node keeps the pid. */
    args[argc++] = "ip";
    args[argc++] = "netns";
    args[argc++] = "exec";
    args[argc++] = node->spec.netns;
    for (int j = 0; j < argv->argc; j++) {
        args[argc++] = argv->argv[j];
    }
    args[argc] = NULL;

    /* stdout: the node's, a pipe to the runner into events.jsonl
     * (node_events.h); the sidecar's, a file. */
    if (sidecar) {
        out = open_append(node->spec.dir, out_name);
    } else {
        rv = node_events_pipe(c->events, i, node->spec.dir, &out);
        if (rv != 0) {
            out = -1;
            errno = -rv;
        }
    }
    err = open_append(node->spec.dir, err_name);
    if (out < 0 || err < 0) {
        logf_(c, "%s: open log in %s: %s", node->spec.name, node->spec.dir,
              strerror(errno));
        goto out_close;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        goto out_close;
    }
    p->c = c;
    p->i = i;
    p->sidecar = sidecar;
    p->h.data = p;

    memset(&opts, 0, sizeof opts);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = err;
    opts.file = args[0];
    opts.args = args;
    opts.env = env;
    opts.exit_cb = exit_cb;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.flags = UV_PROCESS_DETACHED; /* own session: see the top comment */

    rv = uv_spawn(c->loop, &p->h, &opts);
    c->live++;
    if (rv != 0) {
        logf_(c, "%s: spawn %s%s: %s", node->spec.name, argv->argv[0],
              sidecar ? " (sidecar)" : "", uv_strerror(rv));
        /* uv_spawn initialised the handle: it must still be closed. */
        uv_close((uv_handle_t *)&p->h, proc_close_cb);
        p = NULL;
        goto out_close;
    }
    if (sidecar) {
        logf_(c, "%s: started sidecar pid %d (%s)", node->spec.name, p->h.pid,
              argv->argv[0]);
    } else {
        logf_(c, "%s: started pid %d (client %s:%d, peer %s:%d)",
              node->spec.name, p->h.pid, node->spec.host,
              node->spec.client_port, node->spec.host, node->spec.peer_port);
    }
out_close:
    if (out >= 0 && sidecar) {
        close(out);
    } else if (out >= 0) {
        /* closes our copy of the pipe; reads it when the spawn worked */
        node_events_spawned(c->events, i, p != NULL);
    }
    if (err >= 0) {
        close(err);
    }
    return p;
}

static bool wants_sidecar(const struct cluster *c, int i)
{
    return c->db->sidecar_command != NULL && c->nodes[i].sidecar == NULL;
}

int cluster_start(struct cluster *c, int i)
{
    struct cluster_node *node = &c->nodes[i];
    struct db_node specs[DB_MAX_NODES];
    struct db_cluster dc;
    struct db_argv argv;
    char *env[512];
    char envbuf[8192];
    int rv;

    if ((node->proc != NULL && !wants_sidecar(c, i)) || c->dry_run) {
        return 0;
    }
    if (c->stopping) {
        return -ECANCELED;
    }
    db_cluster_of(c, specs, &dc);
    rv = node_env(c, i, env, sizeof env / sizeof env[0], envbuf, sizeof envbuf);
    if (rv < 0) {
        logf_(c, "%s: environment: %s", node->spec.name, strerror(-rv));
        return rv;
    }
    if (node->proc == NULL) {
        memset(&argv, 0, sizeof argv);
        rv = c->db->command(c->db_settings, &dc, i, &argv);
        if (rv != 0) {
            logf_(c, "%s: command line too long", node->spec.name);
            return rv;
        }
        node->proc = spawn(c, i, false, &argv, env, "events.jsonl",
                           "stderr.log");
        if (node->proc == NULL) {
            return -EIO;
        }
        node->starts++;
        node->killed = false;
        node->paused = false;
    }
    if (wants_sidecar(c, i)) {
        memset(&argv, 0, sizeof argv);
        rv = c->db->sidecar_command(c->db_settings, &dc, i, &argv);
        if (rv != 0) {
            logf_(c, "%s: sidecar command line too long", node->spec.name);
            return rv;
        }
        /* A sidecar that can't start leaves the node running; the restart
         * timer tries again as for a crash. */
        node->sidecar = spawn(c, i, true, &argv, env, "sidecar.log",
                              "sidecar.log");
        if (node->sidecar == NULL) {
            uv_timer_start(&node->restart_timer, restart_cb,
                           RESTART_AFTER_CRASH_MS, 0);
        }
    }
    return 0;
}

int cluster_signal(struct cluster *c, int i, int sig)
{
    struct cluster_node *node = &c->nodes[i];
    int rv;
    if (c->dry_run) {
        node->paused = sig == SIGSTOP ? true : sig == SIGCONT ? false
                                                              : node->paused;
        return 0;
    }
    /* The sidecar gets every signal its node gets. */
    if (node->sidecar != NULL &&
        uv_process_kill(&node->sidecar->h, sig) == 0) {
        if (sig == SIGKILL || sig == SIGTERM) {
            node->sidecar->killed = true;
        }
        logf_(c, "%s: sent %s to sidecar pid %d", node->spec.name,
              strsignal(sig), node->sidecar->h.pid);
    }
    if (node->proc == NULL) {
        return -ESRCH;
    }
    rv = uv_process_kill(&node->proc->h, sig);
    if (rv != 0) {
        return rv;
    }
    if (sig == SIGKILL || sig == SIGTERM) {
        node->killed = true;
        uv_timer_stop(&node->restart_timer);
    } else if (sig == SIGSTOP) {
        node->paused = true;
    } else if (sig == SIGCONT) {
        node->paused = false;
    }
    logf_(c, "%s: sent %s to pid %d", node->spec.name, strsignal(sig),
          node->proc->h.pid);
    return 0;
}

bool cluster_running(const struct cluster *c, int i)
{
    return c->dry_run || c->nodes[i].proc != NULL;
}

int cluster_pid(const struct cluster *c, int i)
{
    if (c->dry_run) {
        return 1;
    }
    return c->nodes[i].proc != NULL ? c->nodes[i].proc->h.pid : 0;
}

int cluster_up(const struct cluster *c)
{
    int up = 0;
    for (int i = 0; i < c->n; i++) {
        up += c->nodes[i].proc != NULL;
    }
    return up;
}

void cluster_client_addr(const struct cluster *c, int i, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%d", c->nodes[i].spec.host,
             c->nodes[i].spec.client_port);
}

int cluster_node_of(const struct cluster *c, const char *addr)
{
    char mine[96];
    for (int i = 0; i < c->n; i++) {
        cluster_client_addr(c, i, mine, sizeof mine);
        if (strcmp(mine, addr) == 0) {
            return i;
        }
    }
    return -1;
}

void cluster_stop(struct cluster *c, int sig)
{
    c->stopping = true;
    for (int i = 0; i < c->n; i++) {
        uv_timer_stop(&c->nodes[i].restart_timer);
        if (c->nodes[i].proc == NULL && c->nodes[i].sidecar == NULL) {
            continue;
        }
        if (c->nodes[i].paused) {
            cluster_signal(c, i, SIGCONT);
        }
        cluster_signal(c, i, sig);
    }
}

void cluster_close(struct cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        /* A cluster_init that failed part way (a folder, a faultfs mount)
         * left the later timers uninitialised (zeroed). */
        if (c->nodes[i].restart_timer.type == UV_TIMER) {
            uv_close((uv_handle_t *)&c->nodes[i].restart_timer, NULL);
        }
    }
    c->handles = 0;
    node_events_close(c->events); /* freed once the pipes reach EOF */
    c->events = NULL;
}
