/* admin: add, assign, remove and transfer through libraft; members.
 *
 * Happy path of a change (add, assign, remove): on the leader, with no
 * other change or transfer in progress, the request is checked here (the
 * node ids, the address, the role, that a voter would be left), then handed
 * to raft_add/raft_assign/raft_remove. libraft appends a configuration entry
 * at once (for an assign to voter, only after the node caught up with the
 * log, in rounds) and calls back when that entry is committed: the reply is
 * then ok with the entry's index, and the node logs member_added,
 * member_assigned or member_removed.
 *
 * Failure modes:
 * - refused before anything was appended (definite:true): not_leader (with
 *   the leader's client address when known), busy (a change or a transfer in
 *   progress: RAFT_CANTCHANGE, or a transfer, which libraft would report as
 *   RAFT_NOTLEADER), unknown_id, exists (id or address), bad_role (already
 *   that role, or not a voter for a transfer), last_voter (the change would
 *   leave no voter: libraft would accept it and the cluster could never
 *   elect again), catch_up_failed (a promotion given up by libraft because
 *   the node did not answer: nothing appended), bad_request;
 * - in doubt (definite:false): leadership_lost (the leader stepped down with
 *   the entry appended: another leader may commit it), timeout (no outcome
 *   within --request-timeout), shutdown, raft_error.
 *
 * transfer: raft_transfer() sends TimeoutNow to the target once its log is
 * up to date; libraft calls back when the target is seen as leader or after
 * an election timeout. The reply waits until a leader is known: ok with
 * "leader" when it is the target (any other node for node_id 0), else
 * timeout (definite:false: the target may still win). While a transfer is in
 * progress libraft refuses writes and barriers with RAFT_NOTLEADER, so
 * clients see not_leader naming this node.
 *
 * Seeded bug handled here (bug.h): change-before-commit. */
#include "nodes/taskd/admin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/api.h"
#include "nodes/taskd/bug.h"
#include "nodes/taskd/event.h"
#include "nodes/taskd/failstop.h"
#include "nodes/taskd/io_wrap.h"
#include "nodes/taskd/reply.h"

#define SWEEP_INTERVAL_MS 50

enum admin_op {
    ADMIN_ADD,
    ADMIN_ASSIGN,
    ADMIN_REMOVE,
    ADMIN_TRANSFER,
    ADMIN_MEMBERS,
};

static const struct {
    const char *name;
    enum admin_op op;
} ops[] = {
    {"add", ADMIN_ADD},         {"assign", ADMIN_ASSIGN},
    {"remove", ADMIN_REMOVE},   {"transfer", ADMIN_TRANSFER},
    {"members", ADMIN_MEMBERS},
};

static const struct {
    const char *name;
    int role;
} roles[] = {
    {"voter", RAFT_VOTER},
    {"standby", RAFT_STANDBY},
    {"spare", RAFT_SPARE},
};

struct admin_req {
    struct raft_change change;
    struct raft_transfer transfer;
    struct admin *admin;
    struct client_conn *conn; /* held */
    json_t *id;               /* owned reference */
    enum admin_op op;
    uint64_t node_id;
    int role;
    char address[CONFIG_ADDR_MAX];
    uint64_t deadline;
    bool replied;
    bool in_raft;        /* libraft holds change or transfer */
    bool transfer_ended; /* libraft's transfer callback ran */
    struct admin_req *prev, *next;
};

const char *admin_role_name(int role)
{
    size_t i;

    for (i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (roles[i].role == role) {
            return roles[i].name;
        }
    }
    return "unknown";
}

static int op_lookup(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, name) == 0) {
            return (int)ops[i].op;
        }
    }
    return -1;
}

bool admin_is_op(const char *op)
{
    return op_lookup(op) >= 0;
}

json_t *admin_configuration_json(const struct raft *r)
{
    const struct raft_configuration *c = &r->configuration;
    raft_index index = r->configuration_uncommitted_index != 0
                           ? r->configuration_uncommitted_index
                           : r->configuration_index;
    json_t *servers = json_array();
    unsigned i;

    for (i = 0; servers != NULL && i < c->n; i++) {
        json_array_append_new(servers,
                              json_pack("{s:I, s:s, s:s}", "id",
                                        (json_int_t)c->servers[i].id, "address",
                                        c->servers[i].address, "role",
                                        admin_role_name(c->servers[i].role)));
    }
    return json_pack("{s:I, s:b, s:I, s:o}", "index", (json_int_t)index,
                     "committed", r->configuration_uncommitted_index == 0,
                     "committed_index", (json_int_t)r->configuration_index,
                     "servers", servers != NULL ? servers : json_array());
}

/* Replies. */

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

static void send_not_leader(struct admin *a, struct client_conn *conn,
                            json_t *id)
{
    send_body(
        conn, id,
        reply_not_leader(a->raft, a->cfg, api_state_name(raft_state(a->raft))));
}

static void req_reply(struct admin_req *q, json_t *body)
{
    if (q->replied) {
        json_decref(body);
        return;
    }
    q->replied = true;
    send_body(q->conn, q->id, body);
}

static void req_free_if_done(struct admin_req *q)
{
    struct admin *a = q->admin;

    if (!q->replied || q->in_raft) {
        return;
    }
    if (q->prev != NULL) {
        q->prev->next = q->next;
    } else {
        a->requests = q->next;
    }
    if (q->next != NULL) {
        q->next->prev = q->prev;
    }
    client_conn_release(q->conn);
    json_decref(q->id);
    free(q);
}

/* Checks of the request's fields. */

/* "node_id": a positive integer (or 0 when @zero_ok). */
static int parse_node_id(json_t *req, bool zero_ok, uint64_t *out, char *msg,
                         size_t len)
{
    json_t *v = json_object_get(req, "node_id");
    json_int_t n;

    if (!json_is_integer(v)) {
        snprintf(msg, len, "\"node_id\" missing or not an integer");
        return -1;
    }
    n = json_integer_value(v);
    if (n < 0 || (n == 0 && !zero_ok)) {
        snprintf(msg, len, "\"node_id\" must be %s",
                 zero_ok ? ">= 0 (0: any voter)" : "a positive integer");
        return -1;
    }
    *out = (uint64_t)n;
    return 0;
}

static int parse_request(struct admin_req *q, json_t *req, char *msg,
                         size_t len)
{
    const char *s;
    char host[CONFIG_ADDR_MAX];
    int port;
    size_t i;

    if (parse_node_id(req, q->op == ADMIN_TRANSFER, &q->node_id, msg, len) !=
        0) {
        return -1;
    }
    switch (q->op) {
    case ADMIN_ADD:
        s = json_string_value(json_object_get(req, "address"));
        if (s == NULL || strlen(s) >= sizeof q->address ||
            config_split_addr(s, host, sizeof host, &port) != 0) {
            snprintf(msg, len,
                     "\"address\" missing or not an IPV4:PORT string");
            return -1;
        }
        strcpy(q->address, s);
        return 0;
    case ADMIN_ASSIGN:
        s = json_string_value(json_object_get(req, "role"));
        for (i = 0; s != NULL && i < sizeof roles / sizeof roles[0]; i++) {
            if (strcmp(roles[i].name, s) == 0) {
                q->role = roles[i].role;
                return 0;
            }
        }
        snprintf(msg, len,
                 "\"role\" missing or not \"voter\", \"standby\" or "
                 "\"spare\"");
        return -1;
    default:
        return 0;
    }
}

static unsigned voters(const struct raft_configuration *c)
{
    unsigned i, n = 0;

    for (i = 0; i < c->n; i++) {
        n += c->servers[i].role == RAFT_VOTER;
    }
    return n;
}

static const struct raft_server *server_of(const struct raft *r, raft_id id)
{
    unsigned i;

    for (i = 0; i < r->configuration.n; i++) {
        if (r->configuration.servers[i].id == id) {
            return &r->configuration.servers[i];
        }
    }
    return NULL;
}

/* What libraft would refuse, or accept wrongly, said here in our words.
 * Returns NULL when the request may go to libraft, else the error body. */
static json_t *precheck(struct admin *a, const struct admin_req *q)
{
    struct raft *r = a->raft;
    const struct raft_server *s = server_of(r, q->node_id);
    unsigned i;

    if (r->transfer != NULL) {
        return reply_error("busy", true,
                           "a leadership transfer is in progress");
    }
    switch (q->op) {
    case ADMIN_ADD:
        if (s != NULL) {
            return reply_error("exists", true,
                               "node %" PRIu64 " is already a member (%s)",
                               q->node_id, admin_role_name(s->role));
        }
        for (i = 0; i < r->configuration.n; i++) {
            if (strcmp(r->configuration.servers[i].address, q->address) == 0) {
                return reply_error(
                    "exists", true, "address %s is node %" PRIu64 "'s",
                    q->address, (uint64_t)r->configuration.servers[i].id);
            }
        }
        return NULL;
    case ADMIN_ASSIGN:
    case ADMIN_REMOVE:
        if (s == NULL) {
            return reply_error("unknown_id", true,
                               "node %" PRIu64 " is not a member", q->node_id);
        }
        if (s->role == RAFT_VOTER && voters(&r->configuration) == 1 &&
            (q->op == ADMIN_REMOVE || q->role != RAFT_VOTER)) {
            return reply_error("last_voter", true,
                               "node %" PRIu64 " is the last voter; the "
                               "cluster could never elect a leader again",
                               q->node_id);
        }
        if (q->op == ADMIN_ASSIGN && s->role == q->role) {
            return reply_error("bad_role", true,
                               "node %" PRIu64 " is already %s", q->node_id,
                               admin_role_name(s->role));
        }
        return NULL;
    case ADMIN_TRANSFER:
        if (q->node_id == 0) {
            return NULL; /* libraft picks; RAFT_NOTFOUND when none */
        }
        if (s == NULL) {
            return reply_error("unknown_id", true,
                               "node %" PRIu64 " is not a member", q->node_id);
        }
        if (q->node_id == a->cfg->id || s->role != RAFT_VOTER) {
            return reply_error("bad_role", true,
                               "node %" PRIu64 " is %s: the target must be "
                               "another voter",
                               q->node_id,
                               q->node_id == a->cfg->id
                                   ? "this node, the leader"
                                   : admin_role_name(s->role));
        }
        return NULL;
    default:
        return NULL;
    }
}

/* A libraft error returned at submission: nothing was appended. */
static json_t *submit_error(struct admin *a, int rv)
{
    switch (rv) {
    case RAFT_CANTCHANGE:
        return reply_error("busy", true,
                           "a configuration change is in progress");
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
        return reply_error("exists", true, "%s", raft_strerror(rv));
    case RAFT_NOTFOUND:
    case RAFT_BADID:
        return reply_error("unknown_id", true, "%s", raft_errmsg(a->raft));
    case RAFT_BADROLE:
        return reply_error("bad_role", true, "%s", raft_errmsg(a->raft));
    default:
        return reply_error("raft_error", true, "%s", raft_strerror(rv));
    }
}

/* Changes. */

static json_t *ok_with_index(raft_index index)
{
    json_t *body = reply_ok();

    if (body != NULL) {
        json_object_set_new(body, "index", json_integer((json_int_t)index));
    }
    return body;
}

static void emit_change(const struct admin_req *q, raft_index index)
{
    switch (q->op) {
    case ADMIN_ADD:
        event_emit("member_added",
                   json_pack("{s:I, s:s, s:I}", "id", (json_int_t)q->node_id,
                             "address", q->address, "index",
                             (json_int_t)index));
        break;
    case ADMIN_ASSIGN:
        event_emit("member_assigned",
                   json_pack("{s:I, s:s, s:I}", "id", (json_int_t)q->node_id,
                             "role", admin_role_name(q->role), "index",
                             (json_int_t)index));
        break;
    case ADMIN_REMOVE:
        event_emit("member_removed",
                   json_pack("{s:I, s:I}", "id", (json_int_t)q->node_id,
                             "index", (json_int_t)index));
        break;
    default:
        break;
    }
}

static void change_cb(struct raft_change *req, int status)
{
    struct admin_req *q = req->data;
    json_t *body;

    if (io_wrap_is_fatal(status)) {
        failstop("raft", "change", status, raft_strerror(status));
    }
    q->in_raft = false;
    switch (status) {
    case 0:
        /* Called as the entry is applied: it is the committed one. */
        emit_change(q, q->admin->raft->configuration_index);
        body = ok_with_index(q->admin->raft->configuration_index);
        break;
    case RAFT_NOCONNECTION:
        body = reply_error("catch_up_failed", true,
                           "node %" PRIu64 " did not catch up with the log; "
                           "nothing was changed",
                           q->node_id);
        break;
    case RAFT_LEADERSHIPLOST:
        body = reply_error("leadership_lost", false,
                           "%s; another leader may still commit the change",
                           raft_strerror(status));
        break;
    case RAFT_SHUTDOWN:
        body = reply_error("shutdown", false, "%s", raft_strerror(status));
        break;
    default:
        body = reply_error("raft_error", false, "%s", raft_strerror(status));
        break;
    }
    req_reply(q, body);
    req_free_if_done(q);
}

static int submit_change(struct admin *a, struct admin_req *q)
{
    q->change.data = q;
    switch (q->op) {
    case ADMIN_ADD:
        return raft_add(a->raft, &q->change, q->node_id, q->address, change_cb);
    case ADMIN_ASSIGN:
        return raft_assign(a->raft, &q->change, q->node_id, q->role, change_cb);
    default:
        return raft_remove(a->raft, &q->change, q->node_id, change_cb);
    }
}

/* Transfers. */

/* Answer @q if a leader is known; otherwise wait (the sweep asks again). */
static void transfer_try_finish(struct admin_req *q)
{
    struct admin *a = q->admin;
    const char *address;
    raft_id leader;
    bool done;
    json_t *body;

    raft_leader(a->raft, &leader, &address);
    if (q->replied || leader == 0 ||
        (leader == a->cfg->id && !q->transfer_ended)) {
        return;
    }
    done = q->node_id == 0 ? leader != a->cfg->id : leader == q->node_id;
    event_emit("transfer_done", json_pack("{s:I, s:I, s:b}", "target",
                                          (json_int_t)q->transfer.id, "leader",
                                          (json_int_t)leader, "ok", done));
    if (done) {
        body = reply_ok();
    } else {
        body = reply_error("timeout", false,
                           "node %" PRIu64 " leads, not %" PRIu64
                           "; the target may still be elected",
                           (uint64_t)leader, (uint64_t)q->transfer.id);
    }
    if (body != NULL) {
        json_object_set_new(body, "leader", json_integer((json_int_t)leader));
    }
    req_reply(q, body);
}

static void transfer_cb(struct raft_transfer *req)
{
    struct admin_req *q = req->data;

    q->in_raft = false;
    q->transfer_ended = true;
    transfer_try_finish(q);
    req_free_if_done(q);
}

/* The request loop. */

static void sweep_cb(uv_timer_t *timer)
{
    struct admin *a = timer->data;
    uint64_t now = uv_now(timer->loop);
    struct admin_req *q = a->requests;
    struct admin_req *next;

    for (; q != NULL; q = next) {
        next = q->next;
        if (q->op == ADMIN_TRANSFER) {
            transfer_try_finish(q);
        }
        if (!q->replied && q->deadline <= now) {
            req_reply(q, reply_error("timeout", false,
                                     "no outcome within %u ms; the change "
                                     "may still take effect",
                                     a->cfg->request_timeout_ms));
        }
        req_free_if_done(q);
    }
}

static void do_members(struct admin *a, struct client_conn *conn, json_t *id)
{
    json_t *body = reply_ok();
    json_t *conf = admin_configuration_json(a->raft);

    if (body == NULL || conf == NULL || json_object_update(body, conf) != 0) {
        json_decref(body);
        json_decref(conf);
        send_body(conn, id, reply_error("raft_error", true, "out of memory"));
        return;
    }
    json_decref(conf);
    json_object_set_new(body, "node", json_integer((json_int_t)a->cfg->id));
    send_body(conn, id, body);
}

void admin_handle(struct admin *a, struct client_conn *conn, json_t *id,
                  const char *op, json_t *req)
{
    struct admin_req *q;
    char msg[256];
    json_t *err;
    int rv;

    if (op_lookup(op) == ADMIN_MEMBERS) {
        do_members(a, conn, id);
        return;
    }
    q = calloc(1, sizeof *q);
    if (q == NULL) {
        send_body(conn, id, reply_error("raft_error", true, "out of memory"));
        return;
    }
    q->admin = a;
    q->op = (enum admin_op)op_lookup(op);
    if (parse_request(q, req, msg, sizeof msg) != 0) {
        send_body(conn, id, reply_error("bad_request", true, "%s", msg));
        free(q);
        return;
    }
    if (raft_state(a->raft) != RAFT_LEADER || a->closing) {
        send_not_leader(a, conn, id);
        free(q);
        return;
    }
    err = precheck(a, q);
    if (err != NULL) {
        send_body(conn, id, err);
        free(q);
        return;
    }
    if (q->op == ADMIN_TRANSFER) {
        q->transfer.data = q;
        rv = raft_transfer(a->raft, &q->transfer, q->node_id, transfer_cb);
    } else {
        rv = submit_change(a, q);
    }
    if (rv == RAFT_NOTLEADER) {
        send_not_leader(a, conn, id);
        free(q);
        return;
    }
    if (rv != 0) {
        send_body(conn, id,
                  rv == RAFT_NOTFOUND && q->op == ADMIN_TRANSFER
                      ? reply_error("unknown_id", true,
                                    "no other voter to transfer to")
                      : submit_error(a, rv));
        free(q);
        return;
    }
    q->in_raft = true;
    q->conn = conn;
    client_conn_hold(conn);
    q->id = json_incref(id);
    q->deadline = uv_now(a->sweep.loop) + a->cfg->request_timeout_ms;
    q->next = a->requests;
    if (a->requests != NULL) {
        a->requests->prev = q;
    }
    a->requests = q;
    if (q->op == ADMIN_TRANSFER) {
        event_emit("transfer_started",
                   json_pack("{s:I, s:I}", "target", (json_int_t)q->transfer.id,
                             "term", (json_int_t)a->raft->current_term));
    } else if (bug_on(a->cfg->bugs, BUG_CHANGE_BEFORE_COMMIT)) {
        /* "libraft took it, it will get there": the entry is only in our
         * own log (for a promotion, not even that yet). */
        req_reply(q, ok_with_index(a->raft->configuration_uncommitted_index));
    }
}

int admin_init(struct admin *a, uv_loop_t *loop, struct raft *raft,
               const struct config *cfg)
{
    int rv;

    memset(a, 0, sizeof *a);
    a->raft = raft;
    a->cfg = cfg;
    a->sweep.data = a;
    rv = uv_timer_init(loop, &a->sweep);
    if (rv != 0) {
        return rv;
    }
    rv = uv_timer_start(&a->sweep, sweep_cb, SWEEP_INTERVAL_MS,
                        SWEEP_INTERVAL_MS);
    if (rv != 0) {
        uv_close((uv_handle_t *)&a->sweep, NULL);
    }
    return rv;
}

void admin_close(struct admin *a)
{
    struct admin_req *q;
    struct admin_req *next;

    a->closing = true;
    for (q = a->requests; q != NULL; q = next) {
        next = q->next;
        req_reply(q, reply_error("shutdown", false,
                                 "the node is stopping; the change may "
                                 "still take effect"));
        req_free_if_done(q);
    }
    uv_close((uv_handle_t *)&a->sweep, NULL);
}
