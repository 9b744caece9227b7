/* client: the client API's transport: a TCP listener whose connections carry
 * newline-delimited JSON, one request per line in, one reply per line out. */
#ifndef TASKD_CLIENT_H
#define TASKD_CLIENT_H

#include <stddef.h>

#include <jansson.h>
#include <uv.h>

/* Longest request line accepted; a longer one gets one bad_request reply
 * ("id":null), the rest of it up to its newline is skipped, and the
 * connection carries on. */
#define CLIENT_LINE_MAX (64 * 1024)

struct client_server;
struct client_conn;

/* Called for every complete line (without its newline; @line is borrowed and
 * NUL-terminated at @len). A request that completes later keeps @conn alive
 * with client_conn_hold(). */
typedef void (*client_line_cb)(struct client_conn *conn, const char *line,
                               size_t len, void *data);

typedef void (*client_server_close_cb)(struct client_server *s, void *data);

/* Listen on @addr ("IPV4:PORT", copied) on @loop. Emits "client_connected"
 * (conn, peer) and "client_disconnected" (conn, peer, lines) events. Returns 0
 * and the new server in @out, or a negative libuv error code with the reason in
 * @err. */
int client_server_new(uv_loop_t *loop, const char *addr, client_line_cb cb,
                      void *data, struct client_server **out, char *err,
                      size_t errlen);

/* Stop listening and close every connection; @cb (may be NULL) runs once all
 * handles are closed, and the server is then freed. Connections still held
 * (client_conn_hold) are freed when released. */
void client_server_close(struct client_server *s, client_server_close_cb cb,
                         void *data);

/* Keep @conn's memory alive past its closing, for a pending request. */
void client_conn_hold(struct client_conn *conn);

/* Undo one client_conn_hold(); frees @conn when nothing holds it and its
 * handle is closed. */
void client_conn_release(struct client_conn *conn);

/* Send @reply (borrowed) as one compact JSON line. Returns 0, or -ENOTCONN
 * when the connection is closed or closing (the reply is dropped), or
 * another negative error (the connection is then closed). */
int client_conn_send(struct client_conn *conn, json_t *reply);

/* Close @conn (idempotent). */
void client_conn_close(struct client_conn *conn);

#endif /* TASKD_CLIENT_H */
