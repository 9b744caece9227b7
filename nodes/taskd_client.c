/* taskd_client: the client_ops of taskd, JSON lines over TCP.
 *
 * Happy path: invoke() connects to the node (or reuses the connection when
 * the address is the same), writes one request line with a fresh id, and the
 * reply line with that id completes the op.
 *
 * Failure modes, and what each means for the history:
 * - connect fails: nothing was sent, so the op is a fail (unreachable);
 * - the reply says ok:false, definite:true: the node did not apply it: fail;
 * - the reply says ok:false, definite:false, or the connection breaks or the
 *   write fails after the request left: the op may have happened: info;
 * - abandon() (the workload's timeout): the connection is dropped, and a late
 *   reply can't reach a later op because it arrives on a closed socket.
 *
 * A connection is its own heap object: closing one is asynchronous, so a
 * client detaches it (conn->owner = NULL) and the close callback frees it,
 * while the client can open the next connection at once. */
#include "nodes/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    struct client *owner; /* NULL once detached */
    char *rbuf;
    size_t rlen;
    size_t rcap;
};

struct client {
    uv_loop_t *loop;
    struct conn *conn;
    char addr[128];
    bool connected;
    /* The op in flight. */
    bool busy;
    bool sent; /* the request line was handed to the socket */
    char *line;
    size_t line_len;
    json_int_t req_id;
    char f[16];
    json_t *op_value;
    client_cb cb;
    void *arg;
};

struct wreq {
    uv_write_t req;
    struct conn *conn;
    char data[];
};

static void conn_close_cb(uv_handle_t *h)
{
    struct conn *conn = h->data;
    free(conn->rbuf);
    free(conn);
}

static void detach(struct client *c)
{
    struct conn *conn = c->conn;
    if (conn == NULL) {
        return;
    }
    conn->owner = NULL;
    c->conn = NULL;
    c->connected = false;
    uv_read_stop((uv_stream_t *)&conn->tcp);
    uv_close((uv_handle_t *)&conn->tcp, conn_close_cb);
}

static void clear_op(struct client *c)
{
    c->busy = false;
    c->sent = false;
    free(c->line);
    c->line = NULL;
    json_decref(c->op_value);
    c->op_value = NULL;
}

/* End the op in flight with @res. The callback may start the next op. */
static void complete(struct client *c, struct client_result *res)
{
    client_cb cb = c->cb;
    void *arg = c->arg;
    if (!c->busy) {
        return;
    }
    clear_op(c);
    cb(arg, res);
}

/* taskd's definite errors that mean "not here, try the leader or another
 * node": the node refused the op before doing anything. */
static bool refused_here(const char *error)
{
    static const char *const codes[] = {"not_leader", "unavailable",
                                        "no_leader", "shutting_down", NULL};
    for (int i = 0; codes[i] != NULL; i++) {
        if (strcmp(error, codes[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void complete_error(struct client *c, enum history_type type,
                           const char *error, const char *message,
                           bool unreachable)
{
    struct client_result res = {
        .type = type,
        .value = json_null(),
        .error = error,
        .message = message,
        .unreachable = unreachable,
        .elsewhere = unreachable,
    };
    complete(c, &res);
}

/* The connection broke: what it means depends on whether we had sent. */
static void broken(struct client *c, const char *what, int status)
{
    char msg[160];
    bool sent = c->sent;
    snprintf(msg, sizeof msg, "%s: %s", what, uv_strerror(status));
    detach(c);
    if (sent) {
        complete_error(c, HISTORY_INFO, "connection_lost", msg, false);
    } else {
        complete_error(c, HISTORY_FAIL, "unreachable", msg, true);
    }
}

/* A reply field, or null when it is absent. Borrowed. */
static json_t *field(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return v != NULL ? v : json_null();
}

static bool is_admin(const char *f);
static json_t *admin_value(const char *f, json_t *reply);

/* {"status": S, "version": V} of a task object, or null. New reference. */
static json_t *task_record(json_t *task)
{
    if (!json_is_object(task)) {
        return json_null();
    }
    return json_pack("{s:O, s:O}", "status", field(task, "status"), "version",
                     field(task, "version"));
}

/* The history's ok value of a task, queue or lease op (FORMAT.md), from
 * taskd's reply. New reference. */
static json_t *ok_value(const char *f, json_t *reply)
{
    json_t *task = json_object_get(reply, "task");

    /* An acknowledged create or enqueue made a new task: pending (queued),
     * version 1. A reply without the task (taskd under
     * --bug ack-before-commit acks before applying) still means that. */
    if (task == NULL && strcmp(f, "create") == 0) {
        return json_pack("{s:s, s:i}", "status", "pending", "version", 1);
    }
    if (task == NULL && strcmp(f, "enqueue") == 0) {
        return json_pack("{s:s}", "status", "queued");
    }
    if (strcmp(f, "create") == 0 || strcmp(f, "get") == 0 ||
        strcmp(f, "update") == 0) {
        return task_record(task);
    }
    if (strcmp(f, "enqueue") == 0 || strcmp(f, "ack") == 0 ||
        strcmp(f, "nack") == 0) {
        return json_pack("{s:O}", "status", field(task, "status"));
    }
    if (strcmp(f, "list") == 0) {
        json_t *out = json_array();
        json_t *t;
        size_t i;
        json_array_foreach(field(reply, "tasks"), i, t)
        {
            json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "id",
                                                 field(t, "task_id"), "status",
                                                 field(t, "status"), "version",
                                                 field(t, "version")));
        }
        return out;
    }
    if (strcmp(f, "claim") == 0) {
        return json_pack("{s:O, s:O, s:O, s:O}", "task", field(task, "task_id"),
                         "worker", field(task, "worker"), "now_ms",
                         field(reply, "now_ms"), "expires_ms",
                         field(task, "lease_expires_ms"));
    }
    if (strcmp(f, "acquire") == 0 || strcmp(f, "holder") == 0) {
        return json_pack("{s:O, s:O, s:O, s:O}", "holder",
                         field(reply, "holder"), "token", field(reply, "token"),
                         "now_ms", field(reply, "now_ms"), "expires_ms",
                         field(reply, "expires_ms"));
    }
    return json_null(); /* delete, release */
}

static void handle_reply(struct client *c, json_t *reply)
{
    json_t *id = json_object_get(reply, "id");
    struct client_result res = {.value = json_null()};

    if (!c->busy || !json_is_integer(id) ||
        json_integer_value(id) != c->req_id) {
        return; /* a late reply to an op we gave up on */
    }
    if (json_is_true(json_object_get(reply, "ok"))) {
        json_t *owned = NULL;
        res.type = HISTORY_OK;
        if (strcmp(c->f, "read") == 0) {
            res.value = field(reply, "value");
        } else if (strcmp(c->f, "status") == 0) {
            res.value = reply;
        } else if (strcmp(c->f, "digest") == 0) {
            res.value = owned = json_pack(
                "{s:O, s:O, s:O, s:O}", "applied_index",
                field(reply, "applied_index"), "digest", field(reply, "digest"),
                "rows", field(reply, "rows"), "tables", field(reply, "tables"));
            if (res.value == NULL) {
                res.value = json_null(); /* out of memory */
            }
        } else if (strcmp(c->f, "write") == 0 || strcmp(c->f, "cas") == 0) {
            res.value = c->op_value;
        } else if (is_admin(c->f)) {
            res.value = owned = admin_value(c->f, reply);
            if (res.value == NULL) {
                res.value = json_null();
            }
        } else {
            res.value = owned = ok_value(c->f, reply);
            if (res.value == NULL) {
                res.value = json_null(); /* out of memory */
            }
        }
        complete(c, &res);
        json_decref(owned);
        return;
    }
    /* A reply without "definite" is treated as in doubt: never guess that
     * an op did not happen. */
    res.type = json_is_true(json_object_get(reply, "definite")) ? HISTORY_FAIL
                                                                : HISTORY_INFO;
    res.error = json_string_value(json_object_get(reply, "error"));
    res.message = json_string_value(json_object_get(reply, "message"));
    res.leader = json_string_value(json_object_get(reply, "leader"));
    if (res.error == NULL) {
        res.error = "error";
    }
    res.elsewhere = res.type == HISTORY_FAIL && refused_here(res.error);
    complete(c, &res);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *conn = h->data;
    if (conn->rcap - conn->rlen < 4096) {
        size_t cap = conn->rcap == 0 ? 16384 : conn->rcap * 2;
        char *p = realloc(conn->rbuf, cap);
        if (p == NULL) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            return;
        }
        conn->rbuf = p;
        conn->rcap = cap;
    }
    *buf = uv_buf_init(conn->rbuf + conn->rlen,
                       (unsigned)(conn->rcap - conn->rlen));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *conn = s->data;
    struct client *c = conn->owner;
    size_t start = 0;

    if (c == NULL) {
        return;
    }
    if (nread < 0) {
        broken(c, "read", (int)nread);
        return;
    }
    conn->rlen += (size_t)nread;
    for (size_t i = 0; i < conn->rlen; i++) {
        json_t *reply;
        if (conn->rbuf[i] != '\n') {
            continue;
        }
        reply = json_loadb(conn->rbuf + start, i - start, 0, NULL);
        start = i + 1;
        if (reply != NULL) {
            handle_reply(c, reply);
            json_decref(reply);
        }
        /* The callback may have started another op on a new connection. */
        if (c->conn != conn) {
            return;
        }
    }
    memmove(conn->rbuf, conn->rbuf + start, conn->rlen - start);
    conn->rlen -= start;
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct client *c = w->conn->owner;
    free(w);
    if (status < 0 && c != NULL && c->busy && c->sent) {
        broken(c, "write", status);
    }
}

static int send_line(struct client *c)
{
    struct wreq *w = malloc(sizeof *w + c->line_len);
    uv_buf_t buf;
    int rv;

    if (w == NULL) {
        return -ENOMEM;
    }
    memcpy(w->data, c->line, c->line_len);
    w->conn = c->conn;
    buf = uv_buf_init(w->data, (unsigned)c->line_len);
    rv = uv_write(&w->req, (uv_stream_t *)&c->conn->tcp, &buf, 1, write_cb);
    if (rv != 0) {
        free(w);
        return rv;
    }
    c->sent = true;
    return 0;
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct conn *conn = req->data;
    struct client *c = conn->owner;
    int rv;

    if (c == NULL) {
        return; /* detached while connecting */
    }
    if (status < 0) {
        broken(c, "connect", status);
        return;
    }
    c->connected = true;
    rv = uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
    if (rv == 0) {
        rv = send_line(c);
    }
    if (rv != 0) {
        broken(c, "send", rv);
    }
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    size_t len;
    if (colon == NULL || (len = (size_t)(colon - addr)) >= sizeof host) {
        return -EINVAL;
    }
    memcpy(host, addr, len);
    host[len] = '\0';
    return uv_ip4_addr(host, atoi(colon + 1), sa);
}

static int open_conn(struct client *c, const char *addr)
{
    struct sockaddr_in sa;
    struct conn *conn;
    int rv = parse_addr(addr, &sa);

    if (rv != 0) {
        return rv;
    }
    conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        return -ENOMEM;
    }
    rv = uv_tcp_init(c->loop, &conn->tcp);
    if (rv != 0) {
        free(conn);
        return rv;
    }
    conn->tcp.data = conn;
    conn->connect_req.data = conn;
    conn->owner = c;
    c->conn = conn;
    c->connected = false;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    uv_tcp_nodelay(&conn->tcp, 1);
    rv = uv_tcp_connect(&conn->connect_req, &conn->tcp,
                        (const struct sockaddr *)&sa, connect_cb);
    if (rv != 0) {
        detach(c);
    }
    return rv;
}

/* History op names (FORMAT.md) and taskd's: the request's op, and the
 * field the history's key goes to. */
static const struct {
    const char *f;
    const char *op;
    const char *key_field; /* NULL: the op has no key */
    bool payload;          /* create and enqueue carry one */
} op_map[] = {
    {"read", "read", "key", false},
    {"write", "write", "key", false},
    {"cas", "cas", "key", false},
    {"status", "status", NULL, false},
    {"digest", "digest", NULL, false},
    {"create", "create", "task_id", true},
    {"get", "get", "task_id", false},
    {"update", "update_status", "task_id", false},
    {"delete", "delete", "task_id", false},
    {"list", "list", NULL, false},
    {"enqueue", "enqueue", "task_id", true},
    {"claim", "claim", NULL, false},
    {"ack", "ack", "task_id", false},
    {"nack", "nack", "task_id", false},
    {"acquire", "acquire", "scope", false},
    {"release", "release", "scope", false},
    {"holder", "holder", "scope", false},
    /* Membership (client.h): the value's generic fields are renamed to
     * taskd's by admin_fields(). */
    {"add", "add", NULL, false},
    {"assign", "assign", NULL, false},
    {"remove", "remove", NULL, false},
    {"transfer", "transfer", NULL, false},
    {"members", "members", NULL, false},
};

/* client.h's admin fields to taskd's (nodes/taskd/README.md, "Admin
 * operations"): id -> node_id, peer -> address, role as it is. */
static void admin_fields(json_t *req, const json_t *value)
{
    json_t *v;
    if ((v = json_object_get(value, "id")) != NULL) {
        json_object_set(req, "node_id", v);
    }
    if ((v = json_object_get(value, "peer")) != NULL) {
        json_object_set(req, "address", v);
    }
    if ((v = json_object_get(value, "role")) != NULL) {
        json_object_set(req, "role", v);
    }
}

static bool is_admin(const char *f)
{
    return strcmp(f, "add") == 0 || strcmp(f, "assign") == 0 ||
           strcmp(f, "remove") == 0 || strcmp(f, "transfer") == 0 ||
           strcmp(f, "members") == 0;
}

/* The ok value of an admin op in client.h's terms. New reference. */
static json_t *admin_value(const char *f, json_t *reply)
{
    if (strcmp(f, "transfer") == 0) {
        return json_pack("{s:O}", "leader", field(reply, "leader"));
    }
    if (strcmp(f, "members") == 0) {
        json_t *out = json_array();
        json_t *srv;
        size_t i;
        json_array_foreach(field(reply, "servers"), i, srv)
        {
            json_array_append_new(out, json_pack("{s:O, s:O}", "id",
                                                 field(srv, "id"), "role",
                                                 field(srv, "role")));
        }
        return json_pack("{s:o, s:O, s:O}", "members", out, "index",
                         field(reply, "index"), "committed",
                         field(reply, "committed"));
    }
    if (json_is_integer(json_object_get(reply, "index"))) {
        /* add, assign, remove: the configuration entry's index */
        return json_pack("{s:O}", "index", field(reply, "index"));
    }
    return json_null();
}

static bool known_op(const char *f)
{
    for (size_t i = 0; i < sizeof op_map / sizeof op_map[0]; i++) {
        if (strcmp(op_map[i].f, f) == 0) {
            return true;
        }
    }
    return false;
}

/* The request line's object for @op (a known op), or NULL when out of
 * memory. Fields of an object value (rid,
 * worker, lease_ms, holder, ttl_ms, status, expect_status, expect_version)
 * are sent as they are. */
static json_t *request_of(const struct client_op *op, json_int_t id)
{
    const char *key_field = "key";
    const char *name = NULL;
    bool payload = false;
    json_t *req;

    for (size_t i = 0; i < sizeof op_map / sizeof op_map[0]; i++) {
        if (strcmp(op_map[i].f, op->f) == 0) {
            name = op_map[i].op;
            key_field = op_map[i].key_field;
            payload = op_map[i].payload;
        }
    }
    if (name == NULL) {
        return NULL;
    }
    req = json_pack("{s:I, s:s}", "id", id, "op", name);
    if (req == NULL) {
        return NULL;
    }
    if (op->key != NULL && key_field != NULL) {
        json_object_set_new(req, key_field, json_string(op->key));
    }
    if (is_admin(op->f)) {
        admin_fields(req, op->value);
    } else if (strcmp(op->f, "write") == 0) {
        json_object_set(req, "value", op->value);
    } else if (strcmp(op->f, "cas") == 0) {
        json_object_set(req, "from", json_array_get(op->value, 0));
        json_object_set(req, "to", json_array_get(op->value, 1));
    } else if (json_is_object(op->value)) {
        json_object_update(req, op->value);
    }
    if (payload) {
        /* The same on every attempt, so a retry is the same request. */
        json_object_set_new(req, "payload", json_object());
    }
    return req;
}

static int taskd_invoke(struct client *c, const char *addr,
                        const struct client_op *op, client_cb cb, void *arg)
{
    json_t *req;
    char *text;
    int rv;

    if (c->busy) {
        return -EBUSY;
    }
    if (!known_op(op->f)) {
        return -EINVAL;
    }
    req = request_of(op, ++c->req_id);
    if (req == NULL) {
        return -ENOMEM;
    }
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL) {
        return -ENOMEM;
    }
    c->line_len = strlen(text) + 1;
    c->line = realloc(text, c->line_len + 1);
    if (c->line == NULL) {
        free(text);
        return -ENOMEM;
    }
    c->line[c->line_len - 1] = '\n';
    c->line[c->line_len] = '\0';
    snprintf(c->f, sizeof c->f, "%s", op->f);
    c->op_value = json_incref(op->value);
    c->cb = cb;
    c->arg = arg;
    c->busy = true;
    c->sent = false;

    if (c->conn != NULL && strcmp(c->addr, addr) != 0) {
        detach(c);
    }
    if (c->conn == NULL) {
        rv = open_conn(c, addr);
    } else if (c->connected) {
        rv = send_line(c);
    } else {
        rv = 0; /* still connecting: connect_cb sends */
    }
    if (rv != 0) {
        clear_op(c);
        detach(c);
    }
    return rv;
}

static void taskd_abandon(struct client *c)
{
    clear_op(c);
    detach(c);
}

static bool taskd_in_doubt(const struct client *c)
{
    return c->busy && c->sent;
}

static struct client *taskd_new(uv_loop_t *loop)
{
    struct client *c = calloc(1, sizeof *c);
    if (c != NULL) {
        c->loop = loop;
    }
    return c;
}

static void taskd_free(struct client *c)
{
    if (c == NULL) {
        return;
    }
    taskd_abandon(c);
    free(c);
}

const struct client_ops client_taskd = {
    .name = "taskd",
    .new = taskd_new,
    .invoke = taskd_invoke,
    .abandon = taskd_abandon,
    .in_doubt = taskd_in_doubt,
    .free = taskd_free,
};
