/* api: client requests on top of Raft.
 *
 * read:  on the leader, raft_barrier(); once the barrier entry is applied
 *        every write committed before the read started is in SQLite, and
 *        the leader held its term when the barrier committed, so the local
 *        read is linearizable. (--bug stale-read: answer at once from local
 *        state, on any node.)
 * write, cas: raft_apply() of an encoded command; the reply waits for the
 *        FSM to apply it, and carries the FSM's verdict (cas_mismatch).
 * status: local, no Raft round.
 *
 * A pending operation holds its connection (client_conn_hold), so if the
 * client hangs up first the completion finds the connection closed and only
 * frees memory. */
#include "nodes/taskd/api.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/command.h"
#include "nodes/taskd/failstop.h"
#include "nodes/taskd/fsm_raft.h"
#include "nodes/taskd/io_wrap.h"

enum op_kind {
    OP_READ,
    OP_WRITE,
    OP_CAS,
};

struct pending {
    union {
        struct raft_apply apply;
        struct raft_barrier barrier;
    } req;
    struct api *api;
    struct client_conn *conn; /* held */
    json_t *id;               /* owned reference */
    char *key;                /* owned; reads only */
    enum op_kind kind;
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

static json_t *reply_new(json_t *id, bool ok)
{
    return json_pack("{s:O, s:b}", "id", id != NULL ? id : json_null(), "ok",
                     ok);
}

static void send_reply(struct client_conn *conn, json_t *reply)
{
    if (reply != NULL) {
        client_conn_send(conn, reply);
        json_decref(reply);
    }
}

static void send_error(struct client_conn *conn, json_t *id, const char *code,
                       const char *message, bool definite)
{
    json_t *reply = reply_new(id, false);

    if (reply == NULL) {
        return;
    }
    json_object_set_new(reply, "error", json_string(code));
    json_object_set_new(reply, "message", json_string(message));
    json_object_set_new(reply, "definite", json_boolean(definite));
    send_reply(conn, reply);
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

static void send_not_leader(struct api *api, struct client_conn *conn,
                            json_t *id)
{
    const char *leader = leader_client_address(api);
    json_t *reply = reply_new(id, false);
    char message[128];

    if (reply == NULL) {
        return;
    }
    snprintf(message, sizeof message, "node %" PRIu64 " is %s, not leader",
             api->cfg->id, api_state_name(raft_state(api->raft)));
    json_object_set_new(reply, "error", json_string("not_leader"));
    json_object_set_new(reply, "message", json_string(message));
    json_object_set_new(reply, "definite", json_true());
    json_object_set_new(reply, "leader",
                        leader != NULL ? json_string(leader) : json_null());
    send_reply(conn, reply);
}

static struct pending *pending_new(struct api *api, struct client_conn *conn,
                                   json_t *id, enum op_kind kind)
{
    struct pending *p = calloc(1, sizeof *p);

    if (p == NULL) {
        return NULL;
    }
    p->api = api;
    p->conn = conn;
    p->id = json_incref(id);
    p->kind = kind;
    client_conn_hold(conn);
    return p;
}

static void pending_free(struct pending *p)
{
    client_conn_release(p->conn);
    json_decref(p->id);
    free(p->key);
    free(p);
}

/* Reply with the local value of @key. */
static void send_value(struct api *api, struct client_conn *conn, json_t *id,
                       const char *key)
{
    int64_t value;
    int64_t version;
    json_t *reply;
    bool found;

    if (fsm_read(api->fsm, key, &found, &value, &version) != 0) {
        failstop("sqlite", "read", fsm_errcode(api->fsm), fsm_errmsg(api->fsm));
    }
    reply = reply_new(id, true);
    if (reply == NULL) {
        return;
    }
    json_object_set_new(reply, "value",
                        found ? json_integer(value) : json_null());
    json_object_set_new(reply, "version", json_integer(found ? version : 0));
    send_reply(conn, reply);
}

/* The error code for a Raft request that failed after it was submitted. */
static const char *failure_code(int status)
{
    switch (status) {
    case RAFT_LEADERSHIPLOST:
        return "leadership_lost";
    case RAFT_SHUTDOWN:
        return "shutdown";
    default:
        return "raft_error";
    }
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct pending *p = req->data;

    if (io_wrap_is_fatal(status)) {
        failstop("raft", "barrier", status, raft_strerror(status));
    }
    if (status == 0) {
        send_value(p->api, p->conn, p->id, p->key);
    } else {
        /* A read that failed had no effect: always definite. */
        send_error(p->conn, p->id, failure_code(status), raft_strerror(status),
                   true);
    }
    pending_free(p);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct pending *p = req->data;
    json_t *reply;

    if (io_wrap_is_fatal(status)) {
        failstop("raft", "apply", status, raft_strerror(status));
    }
    if (status != 0) {
        /* The entry was appended: another leader may still commit it. */
        send_error(p->conn, p->id, failure_code(status), raft_strerror(status),
                   false);
        goto out;
    }
    switch (FSM_RAFT_RESULT_OF(result)) {
    case FSM_APPLIED:
        reply = reply_new(p->id, true);
        send_reply(p->conn, reply);
        break;
    case FSM_CAS_MISMATCH:
        send_error(p->conn, p->id, "cas_mismatch",
                   "current value differs from \"from\"", true);
        break;
    case FSM_BAD_COMMAND:
        send_error(p->conn, p->id, "bad_request",
                   "the state machine could not decode the command", true);
        break;
    case FSM_SKIPPED:
    default:
        send_error(p->conn, p->id, "raft_error",
                   "entry reported as already applied", false);
        break;
    }
out:
    pending_free(p);
}

static void do_read(struct api *api, struct client_conn *conn, json_t *id,
                    const char *key)
{
    struct pending *p;
    int rv;

    if (bug_on(api->cfg->bugs, BUG_STALE_READ)) {
        send_value(api, conn, id, key);
        return;
    }
    if (raft_state(api->raft) != RAFT_LEADER) {
        send_not_leader(api, conn, id);
        return;
    }
    p = pending_new(api, conn, id, OP_READ);
    if (p == NULL || (p->key = strdup(key)) == NULL) {
        send_error(conn, id, "raft_error", "out of memory", true);
        goto err_free;
    }
    p->req.barrier.data = p;
    rv = raft_barrier(api->raft, &p->req.barrier, barrier_cb);
    if (rv == RAFT_NOTLEADER) {
        send_not_leader(api, conn, id);
        goto err_free;
    }
    if (rv != 0) {
        send_error(conn, id, "raft_error", raft_strerror(rv), true);
        goto err_free;
    }
    return;

err_free:
    if (p != NULL) {
        pending_free(p);
    }
}

static void do_update(struct api *api, struct client_conn *conn, json_t *id,
                      const struct command *c)
{
    struct raft_buffer buf;
    struct pending *p;
    int rv;

    if (raft_state(api->raft) != RAFT_LEADER) {
        send_not_leader(api, conn, id);
        return;
    }
    rv = command_encode(c, raft_malloc, &buf.base, &buf.len);
    if (rv != 0) {
        send_error(conn, id, "bad_request", "can't encode the command", true);
        return;
    }
    p = pending_new(api, conn, id, c->op == COMMAND_WRITE ? OP_WRITE : OP_CAS);
    if (p == NULL) {
        raft_free(buf.base);
        send_error(conn, id, "raft_error", "out of memory", true);
        return;
    }
    p->req.apply.data = p;
    rv = raft_apply(api->raft, &p->req.apply, &buf, 1, apply_cb);
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
    }
}

static void do_status(struct api *api, struct client_conn *conn, json_t *id)
{
    struct raft *r = api->raft;
    const char *leader_address = leader_client_address(api);
    const char *raft_address;
    raft_id leader;
    json_t *reply;

    raft_leader(r, &leader, &raft_address);
    reply = reply_new(id, true);
    if (reply == NULL) {
        return;
    }
    json_object_set_new(reply, "node", json_integer((json_int_t)api->cfg->id));
    json_object_set_new(reply, "state",
                        json_string(api_state_name(raft_state(r))));
    json_object_set_new(reply, "term",
                        json_integer((json_int_t)r->current_term));
    json_object_set_new(reply, "leader",
                        leader != 0 ? json_integer((json_int_t)leader)
                                    : json_null());
    json_object_set_new(reply, "leader_address",
                        leader_address != NULL ? json_string(leader_address)
                                               : json_null());
    json_object_set_new(reply, "commit_index",
                        json_integer((json_int_t)r->commit_index));
    json_object_set_new(reply, "applied_index",
                        json_integer((json_int_t)raft_last_applied(r)));
    json_object_set_new(reply, "fsm_applied_index",
                        json_integer((json_int_t)fsm_applied_index(api->fsm)));
    json_object_set_new(reply, "last_index",
                        json_integer((json_int_t)raft_last_index(r)));
    json_object_set_new(reply, "snapshot_index",
                        json_integer((json_int_t)r->log.snapshot.last_index));
    send_reply(conn, reply);
}

/* The integer field @name of @req, or an error reply. */
static bool get_int(struct client_conn *conn, json_t *req, json_t *id,
                    const char *name, int64_t *out)
{
    json_t *v = json_object_get(req, name);
    char message[96];

    if (!json_is_integer(v)) {
        snprintf(message, sizeof message,
                 "\"%s\" must be a JSON integer (int64)", name);
        send_error(conn, id, "bad_request", message, true);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

void api_handle_line(struct client_conn *conn, const char *line, size_t len,
                     void *data)
{
    struct api *api = data;
    struct command c = {0};
    json_error_t jerr;
    const char *op;
    const char *key;
    char message[256];
    json_t *req;
    json_t *id;

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
    if (op == NULL) {
        send_error(conn, id, "bad_request", "\"op\" missing or not a string",
                   true);
        goto out;
    }
    if (strcmp(op, "status") == 0) {
        do_status(api, conn, id);
        goto out;
    }
    if (strcmp(op, "read") != 0 && strcmp(op, "write") != 0 &&
        strcmp(op, "cas") != 0) {
        snprintf(message, sizeof message,
                 "unknown op \"%.64s\" (read, write, cas, status)", op);
        send_error(conn, id, "bad_request", message, true);
        goto out;
    }
    key = json_string_value(json_object_get(req, "key"));
    if (key == NULL || strlen(key) > COMMAND_KEY_MAX) {
        snprintf(message, sizeof message,
                 "\"key\" missing, not a string or longer than %d bytes",
                 COMMAND_KEY_MAX);
        send_error(conn, id, "bad_request", message, true);
        goto out;
    }
    if (strcmp(op, "read") == 0) {
        do_read(api, conn, id, key);
        goto out;
    }
    c.key = (char *)key;
    if (strcmp(op, "write") == 0) {
        c.op = COMMAND_WRITE;
        if (!get_int(conn, req, id, "value", &c.value)) {
            goto out;
        }
    } else {
        c.op = COMMAND_CAS;
        if (!get_int(conn, req, id, "from", &c.from) ||
            !get_int(conn, req, id, "to", &c.to)) {
            goto out;
        }
    }
    do_update(api, conn, id, &c);
out:
    json_decref(req);
}
