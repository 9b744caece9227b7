/* api: client requests on top of Raft.
 *
 * Reads (read, get, list, holder) are linearizable: on the leader, a
 * raft_barrier(); once the barrier entry is applied every write committed
 * before the read arrived is in SQLite, and the leader held its term when
 * the barrier committed, so the local read that follows is linearizable.
 * Reads that arrive while a barrier is in flight wait for the next one,
 * which then serves them all (one barrier per batch, never one started
 * before a read arrived). A follower answers not_leader with the leader's
 * client address; it does not forward.
 *
 * Writes (everything else but status): the leader stamps the command with
 * its wall clock, term and id, and raft_apply()s it; the reply waits for
 * the state machine to apply the entry and is its outcome (fsm.h).
 *
 * Every request not answered within --request-timeout gets a "timeout"
 * error: definite for reads, not for writes (the entry may still commit).
 * A late completion is then dropped.
 *
 * status and digest: local, no Raft round, answered by any node (digest:
 * the replicated state's fingerprint, fsm.h, computed between two applies
 * since both run on this loop). The admin ops (membership and leadership
 * transfer) are admin.c's.
 *
 * A pending request holds its connection (client_conn_hold), so if the
 * client hangs up first the completion finds the connection closed and only
 * frees memory.
 *
 * Seeded bugs handled here (bug.h): stale-read, leader-local-read,
 * ack-before-commit, lost-claim (the pick), dedup-in-memory. */
#include "nodes/taskd/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/command.h"
#include "nodes/taskd/failstop.h"
#include "nodes/taskd/fsm_raft.h"
#include "nodes/taskd/io_wrap.h"
#include "nodes/taskd/reply.h"

#define SWEEP_INTERVAL_MS 50

struct pending {
    struct raft_apply apply; /* writes */
    struct api *api;
    struct client_conn *conn; /* held */
    json_t *id;               /* owned reference */
    struct command cmd;       /* owned */
    bool replied;
    bool ticking; /* in the api's ticking list */
    uint64_t deadline;
    struct pending *prev, *next; /* ticking list */
    struct pending *batch_next;  /* read queue or barrier batch */
};

struct read_batch {
    struct raft_barrier req;
    struct api *api;
    struct pending *reads; /* linked by batch_next */
};

const char *api_state_name(int state)
{
    switch (state) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unavailable";
    }
}

static bool bug(const struct api *api, enum bug b)
{
    return bug_on(api->cfg->bugs, b);
}

static int64_t realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send @body (a reply body, reference stolen) with the request's @id. */
static void send_body(struct client_conn *conn, json_t *id, json_t *body)
{
    json_t *reply;

    if (body == NULL) {
        return;
    }
    reply = json_pack("{s:O}", "id", id != NULL ? id : json_null());
    if (reply != NULL && json_object_update(reply, body) == 0) {
        client_conn_send(conn, reply);
    }
    json_decref(reply);
    json_decref(body);
}

static void send_error(struct client_conn *conn, json_t *id, const char *code,
                       const char *message, bool definite)
{
    send_body(conn, id, reply_error(code, definite, "%s", message));
}

static void send_not_leader(struct api *api, struct client_conn *conn,
                            json_t *id)
{
    send_body(conn, id,
              reply_not_leader(api->raft, api->cfg,
                               api_state_name(raft_state(api->raft))));
}

/* The client address of the leader this node knows of, or NULL. */
static const char *leader_client_address(struct api *api)
{
    const struct config_peer *peer;
    const char *raft_address;
    raft_id id;

    raft_leader(api->raft, &id, &raft_address);
    if (id == 0) {
        return NULL;
    }
    peer = config_peer(api->cfg, id);
    return peer != NULL ? peer->client : NULL;
}

/* Requests in flight. */

static void ticking_remove(struct api *api, struct pending *p)
{
    if (!p->ticking) {
        return;
    }
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        api->ticking_head = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    } else {
        api->ticking_tail = p->prev;
    }
    p->prev = p->next = NULL;
    p->ticking = false;
}

/* Deadlines only grow, so the list stays sorted by appending. */
static void ticking_add(struct api *api, struct pending *p)
{
    p->deadline = uv_now(api->sweep.loop) + api->cfg->request_timeout_ms;
    p->prev = api->ticking_tail;
    p->next = NULL;
    if (api->ticking_tail != NULL) {
        api->ticking_tail->next = p;
    } else {
        api->ticking_head = p;
    }
    api->ticking_tail = p;
    p->ticking = true;
}

static struct pending *pending_new(struct api *api, struct client_conn *conn,
                                   json_t *id, struct command *cmd)
{
    struct pending *p = calloc(1, sizeof *p);

    if (p == NULL) {
        return NULL;
    }
    p->api = api;
    p->conn = conn;
    p->id = json_incref(id);
    p->cmd = *cmd; /* takes the operands over */
    memset(cmd, 0, sizeof *cmd);
    client_conn_hold(conn);
    return p;
}

static void pending_free(struct pending *p)
{
    ticking_remove(p->api, p);
    client_conn_release(p->conn);
    json_decref(p->id);
    command_clear(&p->cmd);
    free(p);
}

/* Reply @body (reference stolen) to @p, unless it was answered already. */
static void pending_reply(struct pending *p, json_t *body)
{
    if (p->replied) {
        json_decref(body);
        return;
    }
    p->replied = true;
    ticking_remove(p->api, p);
    send_body(p->conn, p->id, body);
}

static void sweep_cb(uv_timer_t *timer)
{
    struct api *api = timer->data;
    uint64_t now = uv_now(timer->loop);
    struct pending *p;

    while ((p = api->ticking_head) != NULL && p->deadline <= now) {
        bool mutates = command_op_mutates(p->cmd.op);
        pending_reply(p, reply_error("timeout", !mutates,
                                     "no outcome within %u ms%s",
                                     api->cfg->request_timeout_ms,
                                     mutates ? "; the write may still "
                                               "take effect"
                                             : ""));
    }
}

/* Reads. */

/* Reply to read @c with the local state. */
static json_t *local_read(struct api *api, const struct command *c)
{
    json_t *body;

    if (fsm_query(api->fsm, c, realtime_ms(), &body) != 0) {
        failstop("sqlite", "read", fsm_errcode(api->fsm), fsm_errmsg(api->fsm));
    }
    return body;
}

/* The error code for a Raft request that failed after it was submitted. */
static const char *failure_code(int status)
{
    switch (status) {
    case RAFT_LEADERSHIPLOST:
        return "leadership_lost";
    case RAFT_SHUTDOWN:
        return "shutdown";
    case RAFT_NOTLEADER:
        return "not_leader";
    default:
        return "raft_error";
    }
}

static void start_barrier(struct api *api);

/* End every read of the list @reads: served when @status is 0, else failed
 * (definite: a read has no effect). */
static void finish_reads(struct api *api, struct pending *reads, int status)
{
    struct pending *p;

    while ((p = reads) != NULL) {
        reads = p->batch_next;
        if (!p->replied) {
            if (status == 0) {
                pending_reply(p, local_read(api, &p->cmd));
            } else if (status == RAFT_NOTLEADER) {
                p->replied = true;
                send_not_leader(api, p->conn, p->id);
            } else {
                pending_reply(p, reply_error(failure_code(status), true, "%s",
                                             raft_strerror(status)));
            }
        }
        pending_free(p);
    }
}

static void kick_cb(uv_timer_t *timer)
{
    start_barrier(timer->data);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct read_batch *b = req->data;
    struct api *api = b->api;

    if (io_wrap_is_fatal(status)) {
        failstop("raft", "barrier", status, raft_strerror(status));
    }
    api->barrier = NULL;
    finish_reads(api, b->reads, status);
    free(b);
    /* The reads that queued meanwhile get the next barrier, started from
     * the loop, not from here: libraft fails pending barriers while it
     * steps down, and raft_barrier() called from inside that (the state
     * still says leader) uses leader state already torn down. */
    if (api->read_queue != NULL && !api->closing) {
        uv_timer_start(&api->kick, kick_cb, 0, 0);
    }
}

/* One barrier for every read queued so far. */
static void start_barrier(struct api *api)
{
    struct read_batch *b;
    struct pending *reads = api->read_queue;
    int rv;

    if (api->barrier != NULL || reads == NULL || api->closing) {
        return;
    }
    api->read_queue = api->read_queue_tail = NULL;
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        finish_reads(api, reads, RAFT_NOMEM);
        return;
    }
    b->api = api;
    b->reads = reads;
    b->req.data = b;
    rv = raft_barrier(api->raft, &b->req, barrier_cb);
    if (rv != 0) {
        free(b);
        finish_reads(api, reads, rv);
        return;
    }
    api->barrier = b;
}

static void do_read(struct api *api, struct client_conn *conn, json_t *id,
                    struct command *c)
{
    bool leader = raft_state(api->raft) == RAFT_LEADER;
    struct pending *p;

    if (bug(api, BUG_STALE_READ) ||
        (leader && bug(api, BUG_LEADER_LOCAL_READ))) {
        send_body(conn, id, local_read(api, c));
        return;
    }
    if (!leader) {
        send_not_leader(api, conn, id);
        return;
    }
    p = pending_new(api, conn, id, c);
    if (p == NULL) {
        send_error(conn, id, "raft_error", "out of memory", true);
        return;
    }
    ticking_add(api, p);
    if (api->read_queue_tail != NULL) {
        api->read_queue_tail->batch_next = p;
    } else {
        api->read_queue = p;
    }
    api->read_queue_tail = p;
    start_barrier(api);
}

/* Writes. */

/* --bug dedup-in-memory: the leader's own table of outcomes. */
static json_t *seen_outcome(struct api *api, const char *rid)
{
    json_t *body = json_object_get(api->seen_rids, rid);

    if (body == NULL) {
        return NULL;
    }
    body = json_deep_copy(body);
    if (body != NULL) {
        json_object_set_new(body, "duplicate", json_true());
    }
    return body;
}

static void remember_outcome(struct api *api, const char *rid, json_t *body)
{
    void *it;

    json_object_set(api->seen_rids, rid, body);
    /* Objects iterate in insertion order: drop the oldest. */
    while (json_object_size(api->seen_rids) > api->cfg->dedup_window &&
           (it = json_object_iter(api->seen_rids)) != NULL) {
        json_object_del(api->seen_rids, json_object_iter_key(it));
    }
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct pending *p = req->data;
    const struct fsm_raft_result *res = result;
    json_t *body;

    if (io_wrap_is_fatal(status)) {
        failstop("raft", "apply", status, raft_strerror(status));
    }
    if (status != 0) {
        /* The entry was appended: another leader may still commit it. */
        body = reply_error(failure_code(status), false, "%s",
                           raft_strerror(status));
    } else if (res == NULL) {
        body = reply_error("raft_error", false,
                           "entry reported as already applied");
    } else if (res->index != req->index) {
        body = reply_error("raft_error", false,
                           "outcome of entry %" PRIu64 " given for entry "
                           "%" PRIu64 ": libraft no longer calls back in "
                           "step with apply",
                           (uint64_t)res->index, (uint64_t)req->index);
    } else {
        body = json_deep_copy(res->reply);
        if (p->cmd.rid != NULL && bug(p->api, BUG_DEDUP_IN_MEMORY)) {
            remember_outcome(p->api, p->cmd.rid, res->reply);
        }
    }
    pending_reply(p, body);
    pending_free(p);
}

/* --bug ack-before-commit: the ops a team would call "plain inserts", acked
 * as soon as the entry is in the leader's log. */
static bool acks_early(struct api *api, const struct command *c)
{
    bool exists = false;

    if (!bug(api, BUG_ACK_BEFORE_COMMIT)) {
        return false;
    }
    switch (c->op) {
    case COMMAND_WRITE:
        return true;
    case COMMAND_CREATE:
    case COMMAND_ENQUEUE:
        /* "Validated" against local state first. */
        if (fsm_task_exists(api->fsm, c->key, &exists) != 0) {
            failstop("sqlite", "read", fsm_errcode(api->fsm),
                     fsm_errmsg(api->fsm));
        }
        return !exists;
    default:
        return false;
    }
}

/* --bug lost-claim: choose the task now, from local state. False when the
 * reply was sent already. */
static bool pick_claim(struct api *api, struct client_conn *conn, json_t *id,
                       struct command *c)
{
    if (c->op != COMMAND_CLAIM || !bug(api, BUG_LOST_CLAIM)) {
        return true;
    }
    if (fsm_pick_claim(api->fsm, realtime_ms(), &c->pick) != 0) {
        failstop("sqlite", "read", fsm_errcode(api->fsm), fsm_errmsg(api->fsm));
    }
    if (c->pick == NULL) {
        send_body(conn, id,
                  reply_error("empty", true, "no queued or expired task"));
        return false;
    }
    return true;
}

static void do_update(struct api *api, struct client_conn *conn, json_t *id,
                      struct command *c)
{
    struct raft_buffer buf;
    struct pending *p;
    char *rid = NULL;
    bool early;
    int rv;

    if (raft_state(api->raft) != RAFT_LEADER) {
        send_not_leader(api, conn, id);
        return;
    }
    if (c->rid != NULL && bug(api, BUG_DEDUP_IN_MEMORY)) {
        json_t *body = seen_outcome(api, c->rid);
        if (body != NULL) {
            send_body(conn, id, body);
            return;
        }
        rid = c->rid; /* kept out of the log: the FSM never sees it */
        c->rid = NULL;
    }
    if (!pick_claim(api, conn, id, c)) {
        free(rid);
        return;
    }
    c->ts_ms = realtime_ms();
    c->term = api->raft->current_term;
    c->leader = api->cfg->id;
    rv = command_encode(c, raft_malloc, &buf.base, &buf.len);
    if (rid != NULL) {
        c->rid = rid;
    }
    if (rv != 0) {
        send_error(conn, id, rv == -ENOMEM ? "raft_error" : "bad_request",
                   "can't encode the command", true);
        return;
    }
    early = acks_early(api, c);
    p = pending_new(api, conn, id, c);
    if (p == NULL) {
        raft_free(buf.base);
        send_error(conn, id, "raft_error", "out of memory", true);
        return;
    }
    p->apply.data = p;
    rv = raft_apply(api->raft, &p->apply, &buf, 1, apply_cb);
    if (rv != 0) {
        /* Only RAFT_NOTLEADER is sure to come before libraft took the
         * buffer; after other errors libraft may have freed it already, so
         * leaking it (a rare out-of-memory path) beats a double free. */
        if (rv == RAFT_NOTLEADER) {
            raft_free(buf.base);
            send_not_leader(api, conn, id);
        } else {
            send_error(conn, id, "raft_error", raft_strerror(rv), true);
        }
        pending_free(p);
        return;
    }
    ticking_add(api, p);
    if (early) {
        json_t *body = reply_ok();
        if (body != NULL) {
            json_object_set_new(body, "index",
                                json_integer((json_int_t)p->apply.index));
        }
        pending_reply(p, body);
    }
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

static void do_status(struct api *api, struct client_conn *conn, json_t *id)
{
    struct raft *r = api->raft;
    const char *leader_address = leader_client_address(api);
    const char *raft_address;
    raft_id leader;
    json_t *body;

    raft_leader(r, &leader, &raft_address);
    body = reply_ok();
    if (body == NULL) {
        return;
    }
    json_object_set_new(body, "node", json_integer((json_int_t)api->cfg->id));
    json_object_set_new(body, "state",
                        json_string(api_state_name(raft_state(r))));
    json_object_set_new(body, "term",
                        json_integer((json_int_t)r->current_term));
    json_object_set_new(body, "leader",
                        leader != 0 ? json_integer((json_int_t)leader)
                                    : json_null());
    json_object_set_new(body, "leader_address",
                        leader_address != NULL ? json_string(leader_address)
                                               : json_null());
    json_object_set_new(body, "commit_index",
                        json_integer((json_int_t)r->commit_index));
    json_object_set_new(body, "applied_index",
                        json_integer((json_int_t)raft_last_applied(r)));
    json_object_set_new(body, "fsm_applied_index",
                        json_integer((json_int_t)fsm_applied_index(api->fsm)));
    json_object_set_new(body, "last_index",
                        json_integer((json_int_t)raft_last_index(r)));
    json_object_set_new(body, "snapshot_index",
                        json_integer((json_int_t)r->log.snapshot.last_index));
    json_object_set_new(body, "snapshot_term",
                        json_integer((json_int_t)r->log.snapshot.last_term));
    json_object_set_new(body, "clock_ms", json_integer(fsm_clock_ms(api->fsm)));
    json_object_set_new(body, "bugs", bugs_json(api->cfg->bugs));
    send_body(conn, id, body);
}

static void do_digest(struct api *api, struct client_conn *conn, json_t *id)
{
    struct fsm_digest d;
    char hex[17];
    json_t *body, *rows, *tables;

    if (fsm_digest(api->fsm, &d) != 0) {
        failstop("sqlite", "digest", fsm_errcode(api->fsm),
                 fsm_errmsg(api->fsm));
    }
    body = reply_ok();
    rows = json_object();
    tables = json_object();
    if (body == NULL || rows == NULL || tables == NULL) {
        json_decref(body);
        json_decref(rows);
        json_decref(tables);
        send_error(conn, id, "raft_error", "out of memory", true);
        return;
    }
    for (size_t t = 0; t < FSM_DIGEST_TABLES; t++) {
        snprintf(hex, sizeof hex, "%016" PRIx64, d.tables[t].digest);
        json_object_set_new(tables, d.tables[t].name, json_string(hex));
        if (strcmp(d.tables[t].name, "meta") != 0) {
            json_object_set_new(rows, d.tables[t].name,
                                json_integer((json_int_t)d.tables[t].rows));
        }
    }
    snprintf(hex, sizeof hex, "%016" PRIx64, d.digest);
    json_object_set_new(body, "node", json_integer((json_int_t)api->cfg->id));
    json_object_set_new(body, "applied_index",
                        json_integer((json_int_t)d.applied_index));
    json_object_set_new(body, "digest", json_string(hex));
    json_object_set_new(body, "rows", rows);
    json_object_set_new(body, "tables", tables);
    send_body(conn, id, body);
}

void api_handle_line(struct client_conn *conn, const char *line, size_t len,
                     void *data)
{
    struct api *api = data;
    json_error_t jerr;
    struct command c;
    char message[512];
    json_t *req;
    json_t *id;
    const char *op;

    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL) {
        snprintf(message, sizeof message, "invalid JSON at column %d: %s",
                 jerr.column, jerr.text);
        send_error(conn, NULL, "bad_request", message, true);
        return;
    }
    if (!json_is_object(req)) {
        send_error(conn, NULL, "bad_request", "request must be a JSON object",
                   true);
        goto out;
    }
    id = json_object_get(req, "id");
    if (!json_is_integer(id) && !json_is_string(id)) {
        send_error(conn, id, "bad_request",
                   "\"id\" missing or not an integer or a string", true);
        goto out;
    }
    op = json_string_value(json_object_get(req, "op"));
    if (op != NULL && strcmp(op, "status") == 0) {
        do_status(api, conn, id);
        goto out;
    }
    if (op != NULL && strcmp(op, "digest") == 0) {
        do_digest(api, conn, id);
        goto out;
    }
    if (admin_is_op(op)) {
        admin_handle(&api->admin, conn, id, op, req);
        goto out;
    }
    if (command_from_request(req, &c, message, sizeof message) != 0) {
        send_error(conn, id, "bad_request", message, true);
        goto out;
    }
    if (command_op_reads(c.op)) {
        do_read(api, conn, id, &c);
    } else {
        do_update(api, conn, id, &c);
    }
    command_clear(&c);
out:
    json_decref(req);
}

int api_init(struct api *api, uv_loop_t *loop, struct raft *raft,
             struct fsm *fsm, const struct config *cfg)
{
    unsigned every = cfg->request_timeout_ms / 2;
    int rv;

    memset(api, 0, sizeof *api);
    api->raft = raft;
    api->fsm = fsm;
    api->cfg = cfg;
    if (bug_on(cfg->bugs, BUG_DEDUP_IN_MEMORY)) {
        api->seen_rids = json_object();
        if (api->seen_rids == NULL) {
            return UV_ENOMEM;
        }
    }
    api->sweep.data = api;
    api->kick.data = api;
    rv = uv_timer_init(loop, &api->sweep);
    if (rv != 0) {
        json_decref(api->seen_rids);
        return rv;
    }
    uv_timer_init(loop, &api->kick); /* can't fail once sweep's did not */
    if (every == 0) {
        every = 1;
    }
    if (every > SWEEP_INTERVAL_MS) {
        every = SWEEP_INTERVAL_MS;
    }
    rv = uv_timer_start(&api->sweep, sweep_cb, every, every);
    if (rv == 0) {
        rv = admin_init(&api->admin, loop, raft, cfg);
        if (rv == 0) {
            return 0;
        }
        api->admin.closing = true; /* nothing to close in it */
    }
    api_close(api);
    return rv;
}

void api_close(struct api *api)
{
    struct pending *reads = api->read_queue;

    api->closing = true;
    if (!api->admin.closing) {
        admin_close(&api->admin);
    }
    api->read_queue = api->read_queue_tail = NULL;
    finish_reads(api, reads, RAFT_SHUTDOWN);
    uv_close((uv_handle_t *)&api->sweep, NULL);
    uv_close((uv_handle_t *)&api->kick, NULL);
    json_decref(api->seen_rids);
    api->seen_rids = NULL;
}
