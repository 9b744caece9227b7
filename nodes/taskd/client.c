/* client: TCP connections carrying JSON lines.
 *
 * Lifetime: a connection starts with one reference, the server's, dropped in
 * the handle's close callback. Pending requests hold more (client_conn_hold),
 * so a reply that arrives after the peer hung up finds valid memory, sees the
 * connection closed and is dropped. The struct is freed when the last
 * reference goes. */
#include "nodes/taskd/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "nodes/taskd/config.h"
#include "nodes/taskd/event.h"

struct client_conn {
    uv_tcp_t handle;
    struct client_server *server;
    struct client_conn *prev, *next; /* server's list of open connections */
    unsigned refs;
    bool closing;
    bool discarding; /* skipping the rest of an oversized line */
    uint64_t number; /* for events: the node's n-th connection */
    uint64_t n_lines;
    char peer[64];
    char *line; /* bytes of the current, incomplete line */
    size_t len;
    size_t cap;
    char rbuf[16 * 1024];
};

struct client_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    client_line_cb cb;
    void *data;
    struct client_conn *conns; /* open or closing, not yet closed */
    bool closing;
    bool listener_closed;
    client_server_close_cb close_cb;
    void *close_data;
    uint64_t n_accepted;
};

struct write_req {
    uv_write_t req;
    size_t len;
    char data[]; /* the line, newline included */
};

static void server_maybe_done(struct client_server *s)
{
    if (s->closing && s->listener_closed && s->conns == NULL) {
        if (s->close_cb != NULL) {
            s->close_cb(s, s->close_data);
        }
        free(s);
    }
}

static void conn_free(struct client_conn *c)
{
    free(c->line);
    free(c);
}

void client_conn_hold(struct client_conn *c)
{
    c->refs++;
}

void client_conn_release(struct client_conn *c)
{
    if (--c->refs == 0) {
        conn_free(c);
    }
}

static void conn_close_cb(uv_handle_t *handle)
{
    struct client_conn *c = handle->data;
    struct client_server *s = c->server;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->server = NULL;
    event_emit("client_disconnected",
               json_pack("{s:I, s:s, s:I}", "conn", (json_int_t)c->number,
                         "peer", c->peer, "lines", (json_int_t)c->n_lines));
    client_conn_release(c);
    server_maybe_done(s);
}

void client_conn_close(struct client_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    uv_close((uv_handle_t *)&c->handle, conn_close_cb);
}

static void write_cb(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct client_conn *c = req->handle->data;

    free(w);
    if (status != 0 && status != UV_ECANCELED) {
        client_conn_close(c);
    }
}

static int send_bytes(struct client_conn *c, const char *data, size_t len)
{
    struct write_req *w;
    uv_buf_t buf;
    int rv;

    if (c->closing) {
        return -ENOTCONN;
    }
    w = malloc(sizeof *w + len + 1);
    if (w == NULL) {
        client_conn_close(c);
        return -ENOMEM;
    }
    memcpy(w->data, data, len);
    w->data[len] = '\n';
    w->len = len + 1;
    buf = uv_buf_init(w->data, (unsigned)w->len);
    rv = uv_write(&w->req, (uv_stream_t *)&c->handle, &buf, 1, write_cb);
    if (rv != 0) {
        free(w);
        client_conn_close(c);
        return rv;
    }
    return 0;
}

int client_conn_send(struct client_conn *c, json_t *reply)
{
    char *text;
    int rv;

    if (c->closing) {
        return -ENOTCONN;
    }
    text = json_dumps(reply, JSON_COMPACT);
    if (text == NULL) {
        client_conn_close(c);
        return -ENOMEM;
    }
    rv = send_bytes(c, text, strlen(text));
    free(text);
    return rv;
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct client_conn *c = handle->data;

    buf->base = c->rbuf;
    buf->len = sizeof c->rbuf;
}

/* Append @n bytes to the current line. */
static int line_append(struct client_conn *c, const char *p, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        char *line;

        while (cap < c->len + n + 1) {
            cap *= 2;
        }
        line = realloc(c->line, cap);
        if (line == NULL) {
            return -ENOMEM;
        }
        c->line = line;
        c->cap = cap;
    }
    memcpy(c->line + c->len, p, n);
    c->len += n;
    c->line[c->len] = '\0';
    return 0;
}

/* An oversized line gets one error reply; the rest of it, up to its newline,
 * is skipped, and the connection carries on. */
static void too_long(struct client_conn *c)
{
    static const char reply[] =
        "{\"id\":null,\"ok\":false,\"error\":\"bad_request\",\"message\":"
        "\"request line longer than 65536 bytes; skipped\",\"definite\":true}";

    send_bytes(c, reply, sizeof reply - 1);
    c->discarding = true;
    c->len = 0;
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct client_conn *c = stream->data;
    const char *p = buf->base;
    const char *end = p + (nread > 0 ? nread : 0);

    if (nread < 0) {
        client_conn_close(c);
        return;
    }
    /* The line callback may close the connection; stop feeding it then, and
     * hold it so that it stays valid until this function is done. */
    client_conn_hold(c);
    while (p < end && !c->closing) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl != NULL ? nl : end) - p);

        if (c->discarding) {
            p += n;
        } else if (c->len + n > CLIENT_LINE_MAX) {
            too_long(c);
            p += n;
        } else {
            if (line_append(c, p, n) != 0) {
                client_conn_close(c);
                break;
            }
            p += n;
        }
        if (nl == NULL) {
            break;
        }
        p++; /* the newline */
        if (c->discarding) {
            c->discarding = false;
            continue;
        }
        if (c->len > 0 && c->line[c->len - 1] == '\r') {
            c->line[--c->len] = '\0';
        }
        if (c->len > 0) {
            c->n_lines++;
            c->server->cb(c, c->line, c->len, c->server->data);
        }
        c->len = 0;
    }
    client_conn_release(c);
}

static void peer_name(struct client_conn *c)
{
    struct sockaddr_storage sa;
    char host[INET6_ADDRSTRLEN] = "?";
    int len = sizeof sa;
    int port = 0;

    if (uv_tcp_getpeername(&c->handle, (struct sockaddr *)&sa, &len) == 0 &&
        sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        uv_ip4_name(in, host, sizeof host);
        port = ntohs(in->sin_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
}

static void connection_cb(uv_stream_t *listener, int status)
{
    struct client_server *s = listener->data;
    struct client_conn *c;

    if (status != 0) {
        fprintf(stderr, "taskd: client accept: %s\n", uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->server = s;
    c->refs = 1;
    c->handle.data = c;
    uv_tcp_init(s->loop, &c->handle);
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    if (uv_accept(listener, (uv_stream_t *)&c->handle) != 0 ||
        uv_read_start((uv_stream_t *)&c->handle, alloc_cb, read_cb) != 0) {
        client_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->handle, 1);
    c->number = ++s->n_accepted;
    peer_name(c);
    event_emit("client_connected",
               json_pack("{s:I, s:s}", "conn", (json_int_t)c->number, "peer",
                         c->peer));
}

int client_server_new(uv_loop_t *loop, const char *addr, client_line_cb cb,
                      void *data, struct client_server **out, char *err,
                      size_t errlen)
{
    struct client_server *s;
    struct sockaddr_in sa;
    char host[CONFIG_ADDR_MAX];
    int port;
    int rv;

    if (config_split_addr(addr, host, sizeof host, &port) != 0 ||
        uv_ip4_addr(host, port, &sa) != 0) {
        snprintf(err, errlen, "client address %s: expected IPV4:PORT", addr);
        return UV_EINVAL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    s->loop = loop;
    s->cb = cb;
    s->data = data;
    s->listener.data = s;
    rv = uv_tcp_init(loop, &s->listener);
    if (rv != 0) {
        snprintf(err, errlen, "client listener: %s", uv_strerror(rv));
        free(s);
        return rv;
    }
    rv = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->listener, 128, connection_cb);
    }
    if (rv != 0) {
        snprintf(err, errlen, "client listen on %s: %s", addr, uv_strerror(rv));
        goto err_close;
    }
    *out = s;
    return 0;

err_close:
    /* Let the loop finish closing the handle, then free. */
    s->closing = true;
    client_server_close(s, NULL, NULL);
    return rv;
}

static void listener_close_cb(uv_handle_t *handle)
{
    struct client_server *s = handle->data;

    s->listener_closed = true;
    server_maybe_done(s);
}

void client_server_close(struct client_server *s, client_server_close_cb cb,
                         void *data)
{
    struct client_conn *c;

    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    for (c = s->conns; c != NULL; c = c->next) {
        client_conn_close(c);
    }
    uv_close((uv_handle_t *)&s->listener, listener_close_cb);
}
