/* node: start-up, the event loop and shutdown of one taskd process.
 *
 * Start-up: data directory, SQLite, libraft's TCP transport and disk I/O
 * (wrapped by io_wrap), raft_init, bootstrap with every --peer as a voter
 * (RAFT_CANTBOOTSTRAP on later starts is fine; never under --join, where the
 * node starts with no configuration and waits for a leader to add it and
 * send it a snapshot and the log), raft_start (which restores
 * the last snapshot and then replays the log as commits become known), the
 * client listener, signal handlers.
 *
 * Shutdown (SIGTERM/SIGINT): close the signal handles, the watchers and the
 * client listener and connections; raft_close, whose callback releases the
 * libraft backends; when the loop has no handles left, close SQLite.
 *
 * Raft state changes are seen by the watch: libraft 0.15 has no
 * state-change callback, and state only changes inside callbacks of this
 * loop, so a prepare handle (after the timers: election and heartbeat ticks)
 * and a check handle (after I/O: messages, disk completions) look at it in
 * the same loop iteration as the change, before the loop blocks again. The
 * watch also reports the commit index when it moved (commit_advanced). */
#include "nodes/taskd/node.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fiu-control.h>
#include <fiu.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "nodes/taskd/admin.h"
#include "nodes/taskd/api.h"
#include "nodes/taskd/bug.h"
#include "nodes/taskd/client.h"
#include "nodes/taskd/event.h"
#include "nodes/taskd/failstop.h"
#include "nodes/taskd/fsm.h"
#include "nodes/taskd/fsm_raft.h"
#include "nodes/taskd/io_wrap.h"

#define SUMMARY_INTERVAL_MS 1000

struct node {
    const struct config *cfg;
    uv_loop_t loop;
    struct raft_uv_transport transport;
    struct io_wrap io;
    struct raft raft;
    struct fsm_raft fsm_raft;
    struct fsm *fsm;
    struct api api;
    struct client_server *clients;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_check_t watch;
    uv_prepare_t prewatch;
    uv_timer_t summary;
    bool stopping;
    const char *stop_reason; /* for the last event, once the loop drained */

    /* What the watch last saw. */
    int last_state;
    raft_term last_term;
    raft_id last_leader;
    raft_index last_commit;
    raft_index last_conf_index; /* committed */
    raft_index last_conf_uncommitted;

    /* What the last summary reported. */
    raft_index summary_applied;
    uint64_t summary_n_applied;
    uint64_t summary_n_skipped;
};

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    char *p;

    if (strlen(path) >= sizeof buf) {
        return -ENAMETOOLONG;
    }
    strcpy(buf, path);
    for (p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static void on_io_error(struct io_wrap *w, const char *op, int status,
                        const char *message)
{
    char text[RAFT_ERRMSG_BUF_SIZE + 64];

    snprintf(text, sizeof text, "%s: %s", raft_strerror(status), message);
    failstop("raft", op, status, text);
}

static json_t *bugs_json(unsigned bugs)
{
    json_t *list = json_array();
    unsigned bit;

    for (bit = 1; bit != 0; bit <<= 1) {
        if (bugs & bit) {
            json_array_append_new(list, json_string(bug_name(bit)));
        }
    }
    return list;
}

/* libfiu: the fault points are always compiled in (cheap when nothing is
 * enabled). They are driven from outside either through libfiu's preload
 * (fiu-run, or the runner's LD_PRELOAD with FIU_CTRL_FIFO), which opens the
 * control FIFOs itself, or through TASKD_FIU_FIFO=PREFIX, which makes this
 * process open PREFIX-PID.{in,out}. Either way `fiu-ctrl -f PREFIX` talks to
 * them (nodes/taskd/README.md). */
static int fiu_setup(char *err, size_t errlen)
{
    const char *fifo = getenv("TASKD_FIU_FIFO");

    if (fiu_init(0) != 0) {
        snprintf(err, errlen, "fiu_init failed");
        return -1;
    }
    if (fifo != NULL && fifo[0] != '\0' && fiu_rc_fifo(fifo) != 0) {
        snprintf(err, errlen, "TASKD_FIU_FIFO=%s: fiu_rc_fifo failed: %s", fifo,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void emit_start(struct node *n)
{
    const struct config *cfg = n->cfg;
    json_t *peers = json_array();
    unsigned i;

    for (i = 0; i < cfg->n_peers; i++) {
        json_array_append_new(peers, json_pack("{s:I, s:s, s:s}", "id",
                                               (json_int_t)cfg->peers[i].id,
                                               "raft", cfg->peers[i].raft,
                                               "client", cfg->peers[i].client));
    }
    event_emit(
        "start",
        json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:i, "
                  "s:i, s:b, s:I, s:I}",
                  "pid", (int)getpid(), "data", cfg->data_dir, "raft",
                  cfg->raft, "client", cfg->client, "peers", peers, "bugs",
                  bugs_json(cfg->bugs), "election_timeout",
                  (int)cfg->election_timeout_ms, "heartbeat",
                  (int)cfg->heartbeat_ms, "snapshot_threshold",
                  (int)cfg->snapshot_threshold, "snapshot_trailing",
                  (int)cfg->snapshot_trailing, "request_timeout",
                  (int)cfg->request_timeout_ms, "dedup_window",
                  (int)cfg->dedup_window, "join", (int)cfg->join,
                  "applied_index", (json_int_t)fsm_applied_index(n->fsm),
                  "clock_ms", (json_int_t)fsm_clock_ms(n->fsm)));
}

/* What raft_start() found on disk, and where the database stands. */
static void emit_recovered(struct node *n)
{
    struct raft *r = &n->raft;

    event_emit("recovered",
               json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "term",
                         (json_int_t)r->current_term, "voted_for",
                         (json_int_t)r->voted_for, "last_index",
                         (json_int_t)raft_last_index(r), "snapshot_index",
                         (json_int_t)r->log.snapshot.last_index,
                         "snapshot_term", (json_int_t)r->log.snapshot.last_term,
                         "applied_index", (json_int_t)raft_last_applied(r),
                         "fsm_applied_index",
                         (json_int_t)fsm_applied_index(n->fsm)));
}

static json_t *leader_json(raft_id id)
{
    return id != 0 ? json_integer((json_int_t)id) : json_null();
}

static void watch(struct node *n)
{
    struct raft *r = &n->raft;
    int state = raft_state(r);
    raft_term term = r->current_term;
    const char *address;
    raft_id leader;
    char name[32];

    raft_leader(r, &leader, &address);
    if (term != n->last_term) {
        event_emit("term", json_pack("{s:I, s:I}", "term", (json_int_t)term,
                                     "previous", (json_int_t)n->last_term));
        n->last_term = term;
    }
    if (state != n->last_state) {
        snprintf(name, sizeof name, "became_%s", api_state_name(state));
        event_emit(name,
                   json_pack("{s:I, s:o, s:I, s:I, s:b}", "term",
                             (json_int_t)term, "leader", leader_json(leader),
                             "commit_index", (json_int_t)r->commit_index,
                             "applied_index", (json_int_t)raft_last_applied(r),
                             "pre_vote",
                             state == RAFT_CANDIDATE &&
                                 r->candidate_state.in_pre_vote));
        n->last_state = state;
    }
    if (leader != n->last_leader) {
        event_emit("leader_changed",
                   json_pack("{s:o, s:o, s:I}", "leader", leader_json(leader),
                             "previous", leader_json(n->last_leader), "term",
                             (json_int_t)term));
        n->last_leader = leader;
    }
    if (r->commit_index != n->last_commit) {
        event_emit("commit_advanced",
                   json_pack("{s:I, s:I, s:I}", "commit",
                             (json_int_t)r->commit_index, "previous",
                             (json_int_t)n->last_commit, "term",
                             (json_int_t)term));
        n->last_commit = r->commit_index;
    }
    /* A new configuration is always a new (uncommitted or committed) index:
     * appended by the leader, received, committed, rolled back, or brought
     * by a snapshot. */
    if (r->configuration_index != n->last_conf_index ||
        r->configuration_uncommitted_index != n->last_conf_uncommitted) {
        event_emit("configuration", admin_configuration_json(r));
        n->last_conf_index = r->configuration_index;
        n->last_conf_uncommitted = r->configuration_uncommitted_index;
    }
}

static void watch_cb(uv_check_t *handle)
{
    watch(handle->data);
}

static void prewatch_cb(uv_prepare_t *handle)
{
    watch(handle->data);
}

static void summary_cb(uv_timer_t *handle)
{
    struct node *n = handle->data;
    raft_index applied = raft_last_applied(&n->raft);

    fsm_raft_flush(&n->fsm_raft);
    if (applied == n->summary_applied) {
        return;
    }
    event_emit(
        "applied",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "applied_index",
                  (json_int_t)applied, "fsm_applied_index",
                  (json_int_t)fsm_applied_index(n->fsm), "commit_index",
                  (json_int_t)n->raft.commit_index, "commands",
                  (json_int_t)(n->fsm_raft.n_applied - n->summary_n_applied),
                  "skipped",
                  (json_int_t)(n->fsm_raft.n_skipped - n->summary_n_skipped)));
    n->summary_applied = applied;
    n->summary_n_applied = n->fsm_raft.n_applied;
    n->summary_n_skipped = n->fsm_raft.n_skipped;
}

static void on_raft_closed(struct raft *r)
{
    struct node *n = r->data;

    raft_uv_close(&n->io.io);
    raft_uv_tcp_close(&n->transport);
}

static void node_stop(struct node *n, const char *why)
{
    if (n->stopping) {
        return;
    }
    n->stopping = true;
    n->stop_reason = why;
    fsm_raft_flush(&n->fsm_raft);
    event_emit("stopping", json_pack("{s:s}", "reason", why));
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->watch, NULL);
    uv_close((uv_handle_t *)&n->prewatch, NULL);
    uv_close((uv_handle_t *)&n->summary, NULL);
    client_server_close(n->clients, NULL, NULL);
    n->clients = NULL;
    api_close(&n->api);
    raft_close(&n->raft, on_raft_closed);
}

static void signal_cb(uv_signal_t *handle, int signum)
{
    node_stop(handle->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int bootstrap(struct node *n)
{
    struct raft_configuration conf;
    unsigned i;
    int rv;

    raft_configuration_init(&conf);
    for (i = 0; i < n->cfg->n_peers; i++) {
        rv = raft_configuration_add(&conf, n->cfg->peers[i].id,
                                    n->cfg->peers[i].raft, RAFT_VOTER);
        if (rv != 0) {
            goto out;
        }
    }
    rv = raft_bootstrap(&n->raft, &conf);
    if (rv == RAFT_CANTBOOTSTRAP) {
        rv = 0; /* not our first start */
    }
out:
    raft_configuration_close(&conf);
    return rv;
}

static unsigned snapshot_timeout_ms(const struct config *cfg)
{
    unsigned ms = 3 * cfg->election_timeout_ms;
    return ms < 2000 ? 2000 : ms;
}

static void configure_raft(struct node *n)
{
    const struct config *cfg = n->cfg;
    unsigned retry = cfg->heartbeat_ms < 50 ? 50 : cfg->heartbeat_ms;

    raft_set_election_timeout(&n->raft, cfg->election_timeout_ms);
    raft_set_heartbeat_timeout(&n->raft, cfg->heartbeat_ms);
    raft_set_snapshot_threshold(&n->raft, cfg->snapshot_threshold);
    raft_set_snapshot_trailing(&n->raft, cfg->snapshot_trailing);
    raft_set_pre_vote(&n->raft, true);
    /* A leader sending a snapshot sends that follower nothing else until
     * the follower answers or this much time passes. A follower that gets
     * an InstallSnapshot while it installs another drops it unanswered
     * (libraft: "the leader will eventually retry"), so with libraft's
     * default, 30 s, such a follower can stay behind for 30 s. Seen once
     * in test_taskd on a fresh clone: a restarted follower restored
     * snapshot 268 while the leader already held 284, then got nothing
     * for the test's 10 s (a second snapshot dropped is our reading of
     * its events; it did not reproduce). Our snapshots are one small
     * SQLite file and install in milliseconds. */
    raft_set_install_snapshot_timeout(&n->raft, snapshot_timeout_ms(cfg));
    /* A node being promoted to voter whose catch-up round (the entries
     * appended since the last round) takes longer than this is given up
     * on: the assign fails with catch_up_failed and nothing is appended.
     * The same bound as a snapshot's answer: one round may be one. */
    raft_set_max_catch_up_round_duration(&n->raft, snapshot_timeout_ms(cfg));
    /* A corrupt log found at start-up stops the node, rather than being
     * moved aside (libraft's default), which would silently drop entries
     * this node may have acknowledged. Torn tails of open segments, what a
     * kill leaves, are still repaired: libraft does that either way. */
    raft_uv_set_auto_recovery(&n->io.io, false);
    /* Reconnect to a restarted peer quickly (libraft's default is 1 s). */
    raft_uv_set_connect_retry_delay(&n->io.io, retry > 1000 ? 1000 : retry);
}

/* Run the loop until nothing is left, after a failed start. */
static void drain(struct node *n)
{
    uv_run(&n->loop, UV_RUN_DEFAULT);
}

static int start_handles(struct node *n)
{
    int rv;

    n->sigterm.data = n;
    n->sigint.data = n;
    n->watch.data = n;
    n->prewatch.data = n;
    n->summary.data = n;
    uv_signal_init(&n->loop, &n->sigterm);
    uv_signal_init(&n->loop, &n->sigint);
    uv_check_init(&n->loop, &n->watch);
    uv_prepare_init(&n->loop, &n->prewatch);
    uv_timer_init(&n->loop, &n->summary);
    rv = uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
    if (rv == 0) {
        rv = uv_signal_start(&n->sigint, signal_cb, SIGINT);
    }
    if (rv == 0) {
        rv = uv_check_start(&n->watch, watch_cb);
    }
    if (rv == 0) {
        rv = uv_prepare_start(&n->prewatch, prewatch_cb);
    }
    if (rv == 0) {
        rv = uv_timer_start(&n->summary, summary_cb, SUMMARY_INTERVAL_MS,
                            SUMMARY_INTERVAL_MS);
    }
    return rv;
}

int node_run(const struct config *cfg)
{
    const struct config_peer *self = config_peer(cfg, cfg->id);
    const char *advertise = self != NULL ? self->raft : cfg->raft;
    char raft_dir[PATH_MAX];
    char db_path[PATH_MAX];
    struct fsm_options fsm_opts = {0};
    char err[512];
    struct node *n;
    int rv;

    n = calloc(1, sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "taskd: out of memory\n");
        return 1;
    }
    n->cfg = cfg;
    n->last_state = RAFT_UNAVAILABLE;
    event_init(cfg->id, stdout);
    if (fiu_setup(err, sizeof err) != 0) {
        fprintf(stderr, "taskd: libfiu: %s\n", err);
        goto err_free;
    }

    if ((size_t)snprintf(raft_dir, sizeof raft_dir, "%s/raft", cfg->data_dir) >=
            sizeof raft_dir ||
        (size_t)snprintf(db_path, sizeof db_path, "%s/taskd.db",
                         cfg->data_dir) >= sizeof db_path) {
        fprintf(stderr, "taskd: --data %s: path too long\n", cfg->data_dir);
        goto err_free;
    }
    rv = mkdir_p(raft_dir);
    if (rv != 0) {
        fprintf(stderr, "taskd: --data: mkdir %s: %s\n", raft_dir,
                strerror(-rv));
        goto err_free;
    }
    rv = uv_loop_init(&n->loop);
    if (rv != 0) {
        fprintf(stderr, "taskd: uv_loop_init: %s\n", uv_strerror(rv));
        goto err_free;
    }
    fsm_opts.bugs = cfg->bugs;
    fsm_opts.dedup_window = cfg->dedup_window;
    rv = fsm_open(db_path, &fsm_opts, &n->fsm, err, sizeof err);
    if (rv != 0) {
        fprintf(stderr, "taskd: state machine: %s\n", err);
        goto err_loop;
    }
    emit_start(n);

    rv = raft_uv_tcp_init(&n->transport, &n->loop);
    if (rv != 0) {
        fprintf(stderr, "taskd: raft transport: %s\n", raft_strerror(rv));
        goto err_fsm;
    }
    rv = raft_uv_tcp_set_bind_address(&n->transport, cfg->raft);
    if (rv != 0) {
        fprintf(stderr, "taskd: --raft %s: %s\n", cfg->raft, raft_strerror(rv));
        goto err_transport;
    }
    rv = raft_uv_init(&n->io.io, &n->loop, raft_dir, &n->transport);
    if (rv != 0) {
        fprintf(stderr, "taskd: raft storage in %s: %s\n", raft_dir,
                n->io.io.errmsg);
        goto err_transport;
    }
    io_wrap_install(&n->io, on_io_error, n);
    rv = io_wrap_set_bugs(&n->io, &n->loop, cfg->bugs);
    if (rv != 0) {
        fprintf(stderr, "taskd: raft storage: %s\n", uv_strerror(rv));
        goto err_io;
    }
    fsm_raft_init(&n->fsm_raft, n->fsm, &n->raft);

    /* Advertise the address the peers know us by; listen on --raft. A
     * joining node is known by the address given to "add": its --raft. */
    rv = raft_init(&n->raft, &n->io.io, &n->fsm_raft.iface, cfg->id, advertise);
    if (rv != 0) {
        fprintf(stderr, "taskd: raft_init: %s\n", raft_errmsg(&n->raft));
        goto err_io;
    }
    n->raft.data = n;
    configure_raft(n);
    rv = cfg->join ? 0 : bootstrap(n);
    if (rv != 0) {
        fprintf(stderr, "taskd: raft_bootstrap: %s\n", raft_strerror(rv));
        goto err_raft;
    }
    n->fsm_raft.starting = true;
    rv = raft_start(&n->raft);
    n->fsm_raft.starting = false;
    if (rv != 0) {
        fprintf(stderr, "taskd: raft_start: %s: %s\n", raft_strerror(rv),
                raft_errmsg(&n->raft));
        goto err_raft;
    }
    emit_recovered(n);

    rv = api_init(&n->api, &n->loop, &n->raft, n->fsm, cfg);
    if (rv != 0) {
        fprintf(stderr, "taskd: api: %s\n", uv_strerror(rv));
        goto err_raft;
    }
    rv = client_server_new(&n->loop, cfg->client, api_handle_line, &n->api,
                           &n->clients, err, sizeof err);
    if (rv != 0) {
        fprintf(stderr, "taskd: --client: %s\n", err);
        api_close(&n->api);
        goto err_raft;
    }
    rv = start_handles(n);
    if (rv != 0) {
        fprintf(stderr, "taskd: signals/timers: %s\n", uv_strerror(rv));
        n->stopping = false;
        node_stop(n, "start failed");
        drain(n);
        event_emit("shutdown", json_pack("{s:s}", "reason", "start failed"));
        goto err_fsm;
    }

    uv_run(&n->loop, UV_RUN_DEFAULT);

    /* Every handle is closed (connections too): nothing logs after this. */
    event_emit("shutdown",
               json_pack("{s:s, s:I}", "reason",
                         n->stop_reason != NULL ? n->stop_reason : "loop ended",
                         "applied_index",
                         (json_int_t)fsm_applied_index(n->fsm)));
    fsm_raft_close(&n->fsm_raft);
    fsm_close(n->fsm);
    rv = uv_loop_close(&n->loop);
    if (rv != 0) {
        fprintf(stderr, "taskd: loop close: %s\n", uv_strerror(rv));
    }
    fprintf(stderr, "taskd: node %" PRIu64 " shut down\n", cfg->id);
    free(n);
    return 0;

err_raft:
    event_emit("shutdown", json_pack("{s:s}", "reason", "start failed"));
    if (n->clients != NULL) {
        client_server_close(n->clients, NULL, NULL);
    }
    raft_close(&n->raft, on_raft_closed);
    drain(n);
    goto err_fsm;
err_io:
    raft_uv_close(&n->io.io);
err_transport:
    raft_uv_tcp_close(&n->transport);
    drain(n);
err_fsm:
    fsm_raft_close(&n->fsm_raft);
    fsm_close(n->fsm);
err_loop:
    uv_loop_close(&n->loop);
err_free:
    free(n);
    return 1;
}
