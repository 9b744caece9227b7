/* test_client: the JSON-lines transport on a real loopback socket: lines
 * split across reads, CRLF, blank lines, an oversized line (skipped, the
 * connection carries on), replies, hang-ups with a request held. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "nodes/taskd/client.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,         \
                    __LINE__, __func__, #cond);                                \
            failures++;                                                        \
            goto out;                                                          \
        }                                                                      \
    } while (0)

#define MAX_LINES 16

struct fixture {
    uv_loop_t loop;
    struct client_server *server;
    char addr[32];
    int fd; /* the test's end */
    char *lines[MAX_LINES];
    size_t n_lines;
    struct client_conn *held; /* a connection kept by a "request" */
    bool closed;
};

static void on_line(struct client_conn *conn, const char *line, size_t len,
                    void *data)
{
    struct fixture *f = data;
    json_t *reply;

    if (f->n_lines < MAX_LINES) {
        f->lines[f->n_lines++] = strndup(line, len);
    }
    if (strcmp(line, "hold") == 0) {
        client_conn_hold(conn);
        f->held = conn;
        return;
    }
    reply = json_pack("{s:s}", "echo", line);
    if (reply != NULL) {
        client_conn_send(conn, reply);
        json_decref(reply);
    }
}

static void on_closed(struct client_server *s, void *data)
{
    struct fixture *f = data;
    f->closed = true;
}

/* A free loopback port, by asking the kernel. */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        perror("free_port");
        exit(1);
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void setup(struct fixture *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 0, .tv_usec = 1000};
    char err[256];
    int port = free_port();

    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", port);
    if (client_server_new(&f->loop, f->addr, on_line, f, &f->server, err,
                          sizeof err) != 0) {
        fprintf(stderr, "client_server_new: %s\n", err);
        exit(1);
    }
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(f->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void teardown(struct fixture *f)
{
    size_t i;

    if (f->fd >= 0) {
        close(f->fd);
    }
    client_server_close(f->server, on_closed, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (f->held != NULL) {
        client_conn_release(f->held);
    }
    uv_loop_close(&f->loop);
    for (i = 0; i < f->n_lines; i++) {
        free(f->lines[i]);
    }
}

/* Run the loop until @n lines arrived (or a second passed). */
static bool wait_lines(struct fixture *f, size_t n)
{
    time_t end = time(NULL) + 2;

    while (f->n_lines < n && time(NULL) < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return f->n_lines >= n;
}

static void send_text(struct fixture *f, const char *text, size_t len)
{
    if (write(f->fd, text, len) != (ssize_t)len) {
        perror("write");
        exit(1);
    }
}

/* Read what the server wrote, running its loop meanwhile. */
static size_t read_replies(struct fixture *f, char *buf, size_t size,
                           size_t want_lines)
{
    time_t end = time(NULL) + 2;
    size_t used = 0;
    size_t lines = 0;

    while (lines < want_lines && time(NULL) < end) {
        ssize_t n;

        uv_run(&f->loop, UV_RUN_NOWAIT);
        n = read(f->fd, buf + used, size - used - 1);
        if (n > 0) {
            size_t i;
            for (i = used; i < used + (size_t)n; i++) {
                lines += buf[i] == '\n';
            }
            used += (size_t)n;
        }
    }
    buf[used] = '\0';
    return lines;
}

static void test_client_splits_lines_across_reads(void)
{
    struct fixture f;
    char buf[512];

    setup(&f);
    send_text(&f, "{\"a\":", 5);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    usleep(5000);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    send_text(&f, "1}\r\n\n\nsecond\nthi", 16);
    CHECK(wait_lines(&f, 2));
    send_text(&f, "rd\n", 3);
    CHECK(wait_lines(&f, 3));
    CHECK(strcmp(f.lines[0], "{\"a\":1}") == 0); /* CR dropped */
    CHECK(strcmp(f.lines[1], "second") == 0);    /* blank lines skipped */
    CHECK(strcmp(f.lines[2], "third") == 0);
    CHECK(read_replies(&f, buf, sizeof buf, 3) == 3);
    CHECK(strstr(buf, "{\"echo\":\"second\"}\n") != NULL);
out:
    teardown(&f);
}

static void test_client_oversized_line_is_skipped_not_fatal(void)
{
    size_t big = CLIENT_LINE_MAX + 1000;
    char *line = malloc(big + 1);
    struct fixture f;
    char buf[1024];

    setup(&f);
    memset(line, 'x', big);
    line[big] = '\n';
    send_text(&f, "before\n", 7);
    send_text(&f, line, 1000); /* in pieces: the limit is per line */
    uv_run(&f.loop, UV_RUN_NOWAIT);
    send_text(&f, line + 1000, big + 1 - 1000);
    send_text(&f, "after\n", 6);
    CHECK(wait_lines(&f, 2));
    CHECK(f.n_lines == 2);
    CHECK(strcmp(f.lines[0], "before") == 0);
    CHECK(strcmp(f.lines[1], "after") == 0);
    CHECK(read_replies(&f, buf, sizeof buf, 3) == 3);
    CHECK(strstr(buf, "\"error\":\"bad_request\"") != NULL);
    CHECK(strstr(buf, "{\"echo\":\"after\"}") != NULL);
out:
    free(line);
    teardown(&f);
}

static void test_client_held_connection_outlives_hangup(void)
{
    struct fixture f;
    json_t *late = json_pack("{s:b}", "late", 1);

    setup(&f);
    send_text(&f, "hold\n", 5);
    CHECK(wait_lines(&f, 1) && f.held != NULL);
    close(f.fd);
    f.fd = -1;
    /* Let the server see the hang-up and close its handle. */
    uv_run(&f.loop, UV_RUN_NOWAIT);
    usleep(5000);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    /* The pending request completes: its reply is dropped, no crash. */
    CHECK(client_conn_send(f.held, late) == -ENOTCONN);
out:
    json_decref(late);
    teardown(&f);
}

int main(void)
{
    test_client_splits_lines_across_reads();
    test_client_oversized_line_is_skipped_not_fatal();
    test_client_held_connection_outlives_hangup();
    if (failures > 0) {
        printf("test_client: %d FAILED\n", failures);
        return 1;
    }
    printf("test_client: ok\n");
    return 0;
}
