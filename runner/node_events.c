/* node_events: node stdout through the runner, into events.jsonl and to the
 * subscribers (see the header for the happy path and failure modes). */
#include "runner/node_events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBSCRIBERS 8
#define PIPE_BYTES      (1 << 20) /* F_SETPIPE_SZ; the default max */
#define READ_CHUNK      65536
#define LINGER_MS       2000

struct ev_pipe {
    uv_pipe_t h;
    struct node_events *owner;
    struct ev_pipe *next; /* in owner->open */
    int node;
    int file_fd;  /* events.jsonl, O_APPEND */
    int write_fd; /* the child's end, until spawned */
    char *buf;
    size_t len, cap;
    bool write_failed;
};

struct subscriber {
    node_event_cb cb;
    void *arg;
};

struct node_events {
    uv_loop_t *loop;
    int n;
    FILE *log;
    struct subscriber subs[MAX_SUBSCRIBERS];
    struct ev_pipe **made; /* per node: made by node_events_pipe, not yet
                            * spawned */
    struct ev_pipe *open;  /* pipes being read */
    json_t **last;         /* per node: {event name: its last line} */
    uv_timer_t linger;
    bool closing;
    bool linger_closed;
    int64_t lines;
};

static uint64_t mono_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct node_events *node_events_new(uv_loop_t *loop, int n, FILE *log)
{
    struct node_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL) {
        return NULL;
    }
    ev->made = calloc((size_t)n, sizeof *ev->made);
    ev->last = calloc((size_t)n, sizeof *ev->last);
    if (ev->made == NULL || ev->last == NULL) {
        free(ev->made);
        free(ev->last);
        free(ev);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        ev->last[i] = json_object();
    }
    ev->loop = loop;
    ev->n = n;
    ev->log = log;
    uv_timer_init(loop, &ev->linger);
    ev->linger.data = ev;
    return ev;
}

static void free_pipe(struct ev_pipe *p)
{
    if (p->file_fd >= 0) {
        close(p->file_fd);
    }
    if (p->write_fd >= 0) {
        close(p->write_fd);
    }
    free(p->buf);
    free(p);
}

int node_events_pipe(struct node_events *ev, int i, const char *dir,
                     int *fd_out)
{
    char path[4200];
    int fds[2];
    struct ev_pipe *p;
    int rv;

    if (ev->made[i] != NULL) { /* a spawn that never reported back */
        free_pipe(ev->made[i]);
        ev->made[i] = NULL;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    p->owner = ev;
    p->node = i;
    p->file_fd = p->write_fd = -1;
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    p->file_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (p->file_fd < 0) {
        rv = -errno;
        free_pipe(p);
        return rv;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rv = -errno;
        free_pipe(p);
        return rv;
    }
    /* Room for a second of a busy node's events while the runner is held
     * up (an iptables call, a power cut's rollback); best effort. */
    (void)fcntl(fds[0], F_SETPIPE_SZ, PIPE_BYTES);
    rv = uv_pipe_init(ev->loop, &p->h, 0);
    if (rv == 0) {
        rv = uv_pipe_open(&p->h, fds[0]);
        if (rv != 0) {
            /* initialised: the handle must be closed; free right here is
             * not allowed, so keep it as a made pipe and let spawned()
             * drop it. */
            close(fds[0]);
            close(fds[1]);
            p->h.data = p;
            ev->made[i] = p;
            node_events_spawned(ev, i, false);
            return rv;
        }
    } else {
        close(fds[0]);
        close(fds[1]);
        free_pipe(p);
        return rv;
    }
    p->h.data = p;
    p->write_fd = fds[1];
    ev->made[i] = p;
    *fd_out = fds[1];
    return 0;
}

static void maybe_finish(struct node_events *ev);

static void pipe_close_cb(uv_handle_t *h)
{
    struct ev_pipe *p = h->data;
    struct node_events *ev = p->owner;
    struct ev_pipe **link;

    for (link = &ev->open; *link != NULL; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            break;
        }
    }
    free_pipe(p);
    maybe_finish(ev);
}

static void dispatch(struct node_events *ev, int node, const char *line,
                     size_t len, uint64_t read_ns)
{
    struct node_event e;
    json_t *obj, *mono, *time;

    ev->lines++;
    obj = json_loadb(line, len, 0, NULL);
    if (!json_is_object(obj) ||
        !json_is_string(json_object_get(obj, "event"))) {
        json_decref(obj);
        return;
    }
    mono = json_object_get(obj, "mono");
    time = json_object_get(obj, "time");
    e = (struct node_event){
        .node = node,
        .event = json_string_value(json_object_get(obj, "event")),
        .mono_ns = json_is_integer(mono) ? json_integer_value(mono) : -1,
        .time_ns = json_is_integer(time) ? json_integer_value(time) : -1,
        .read_ns = read_ns,
        .obj = obj,
    };
    if (node >= 0 && node < ev->n) {
        json_object_set(ev->last[node], e.event, obj);
    }
    for (int k = 0; k < MAX_SUBSCRIBERS; k++) {
        if (ev->subs[k].cb != NULL) {
            ev->subs[k].cb(ev->subs[k].arg, &e);
        }
    }
    json_decref(obj);
}

static void write_file(struct ev_pipe *p, const char *data, size_t len)
{
    while (len > 0 && !p->write_failed) {
        ssize_t w = write(p->file_fd, data, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            p->write_failed = true;
            if (p->owner->log != NULL) {
                fprintf(p->owner->log, "node_events: n%d: events.jsonl: %s\n",
                        p->node + 1, strerror(errno));
                fflush(p->owner->log);
            }
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

/* Write and hand on every complete line in the buffer; keep the rest. */
static void drain_lines(struct ev_pipe *p, uint64_t read_ns)
{
    char *end = memrchr(p->buf, '\n', p->len);
    size_t whole, start = 0;

    if (end == NULL) {
        return;
    }
    whole = (size_t)(end - p->buf) + 1;
    write_file(p, p->buf, whole); /* the file first: readers of it may
                                   * look for what a subscriber acted on */
    while (start < whole) {
        char *nl = memchr(p->buf + start, '\n', whole - start);
        size_t len = (size_t)(nl - (p->buf + start));
        if (len > 0) {
            dispatch(p->owner, p->node, p->buf + start, len, read_ns);
        }
        start += len + 1;
    }
    memmove(p->buf, p->buf + whole, p->len - whole);
    p->len -= whole;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ev_pipe *p = h->data;
    (void)suggested;
    if (p->cap - p->len < READ_CHUNK) {
        size_t cap =
            p->cap * 2 > p->len + READ_CHUNK ? p->cap * 2 : p->len + READ_CHUNK;
        char *nb = realloc(p->buf, cap);
        if (nb == NULL) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        p->buf = nb;
        p->cap = cap;
    }
    buf->base = p->buf + p->len;
    buf->len = p->cap - p->len;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ev_pipe *p = s->data;
    uint64_t now = mono_now_ns();
    (void)buf;

    if (nread > 0) {
        p->len += (size_t)nread;
        drain_lines(p, now);
        return;
    }
    if (nread == 0) {
        return; /* EAGAIN */
    }
    /* EOF (or an error, or no memory): the tail as it is, then done. */
    if (p->len > 0) {
        write_file(p, p->buf, p->len);
        dispatch(p->owner, p->node, p->buf, p->len, now);
        p->len = 0;
    }
    uv_read_stop(s);
    uv_close((uv_handle_t *)s, pipe_close_cb);
}

void node_events_spawned(struct node_events *ev, int i, bool ok)
{
    struct ev_pipe *p = ev->made[i];
    if (p == NULL) {
        return;
    }
    ev->made[i] = NULL;
    if (p->write_fd >= 0) {
        close(p->write_fd);
        p->write_fd = -1;
    }
    p->next = ev->open;
    ev->open = p;
    if (!ok || uv_read_start((uv_stream_t *)&p->h, alloc_cb, read_cb) != 0) {
        uv_close((uv_handle_t *)&p->h, pipe_close_cb);
    }
}

int node_events_subscribe(struct node_events *ev, node_event_cb cb, void *arg)
{
    for (int k = 0; k < MAX_SUBSCRIBERS; k++) {
        if (ev->subs[k].cb == NULL) {
            ev->subs[k] = (struct subscriber){cb, arg};
            return 0;
        }
    }
    return -ENOSPC;
}

void node_events_unsubscribe(struct node_events *ev, node_event_cb cb,
                             void *arg)
{
    for (int k = 0; k < MAX_SUBSCRIBERS; k++) {
        if (ev->subs[k].cb == cb && ev->subs[k].arg == arg) {
            ev->subs[k] = (struct subscriber){NULL, NULL};
        }
    }
}

void node_events_inject(struct node_events *ev, int i, const char *line,
                        size_t len)
{
    dispatch(ev, i, line, len, mono_now_ns());
}

const json_t *node_events_last(const struct node_events *ev, int i,
                               const char *name)
{
    if (i < 0 || i >= ev->n) {
        return NULL;
    }
    return json_object_get(ev->last[i], name);
}

int64_t node_events_lines(const struct node_events *ev)
{
    return ev->lines;
}

static void linger_close_cb(uv_handle_t *h)
{
    struct node_events *ev = h->data;
    for (int i = 0; i < ev->n; i++) {
        json_decref(ev->last[i]);
    }
    free(ev->last);
    free(ev->made);
    free(ev);
}

static void maybe_finish(struct node_events *ev)
{
    if (ev->closing && ev->open == NULL && !ev->linger_closed) {
        ev->linger_closed = true;
        uv_close((uv_handle_t *)&ev->linger, linger_close_cb);
    }
}

static void linger_cb(uv_timer_t *t)
{
    struct node_events *ev = t->data;
    for (struct ev_pipe *p = ev->open; p != NULL; p = p->next) {
        if (!uv_is_closing((uv_handle_t *)&p->h)) {
            if (p->len > 0) {
                write_file(p, p->buf, p->len);
                p->len = 0;
            }
            if (ev->log != NULL) {
                fprintf(ev->log,
                        "node_events: n%d: stdout still open %d ms after "
                        "the end; closed\n",
                        p->node + 1, LINGER_MS);
                fflush(ev->log);
            }
            uv_close((uv_handle_t *)&p->h, pipe_close_cb);
        }
    }
}

void node_events_close(struct node_events *ev)
{
    if (ev == NULL || ev->closing) {
        return;
    }
    ev->closing = true;
    memset(ev->subs, 0, sizeof ev->subs);
    for (int i = 0; i < ev->n; i++) {
        node_events_spawned(ev, i, false);
    }
    if (ev->open != NULL) {
        uv_timer_start(&ev->linger, linger_cb, LINGER_MS, 0);
        uv_unref((uv_handle_t *)&ev->linger);
    }
    maybe_finish(ev);
}
