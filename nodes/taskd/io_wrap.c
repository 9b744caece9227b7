/* io_wrap: storage checks and fault points around libraft's raft_io.
 *
 * Asynchronous operations (append, snapshot_put) are submitted with a shim
 * request of our own; its callback checks the status, then completes the
 * caller's request with the caller's callback, exactly as the backend would
 * have. Synchronous ones (truncate, set_term, set_vote) are checked on
 * return. The shim costs one small allocation per append.
 *
 * Fault points (libfiu): when taskd/raft/append or taskd/raft/snapshot_put
 * fires, the request still goes to the backend (the bytes may well reach
 * the disk, as when a write succeeds and its fsync fails) but completes
 * with the injected status; when taskd/raft/set_term or set_vote fires, the
 * call returns it without touching the disk. Either way the status is what
 * the real backend reports for that errno (RAFT_NOSPACE for ENOSPC,
 * RAFT_IOERR otherwise), so the fail-stop path is the one exercised. */
#include "nodes/taskd/io_wrap.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <fiu.h>

#define WRAP_OF(IO)                                                            \
    ((struct io_wrap *)((char *)(IO)-offsetof(struct io_wrap, io)))

#define INJECTED_MAX 128

struct append_shim {
    struct raft_io_append req; /* what the backend sees */
    struct raft_io_append *orig;
    raft_io_append_cb cb;
    struct io_wrap *w;
    int injected; /* status to report instead of success, or 0 */
    char message[INJECTED_MAX];
};

struct snapshot_put_shim {
    struct raft_io_snapshot_put req;
    struct raft_io_snapshot_put *orig;
    raft_io_snapshot_put_cb cb;
    struct io_wrap *w;
    int injected;
    char message[INJECTED_MAX];
};

int io_wrap_is_fatal(int status)
{
    return status == RAFT_IOERR || status == RAFT_NOSPACE ||
           status == RAFT_CORRUPT;
}

/* Report a fatal @status; @message NULL means the backend's own text. */
static void check(struct io_wrap *w, const char *op, int status,
                  const char *message)
{
    if (io_wrap_is_fatal(status)) {
        w->on_error(w, op, status, message != NULL ? message : w->io.errmsg);
    }
}

/* The status libfiu point @point injects now (0: none), described in
 * @message (size INJECTED_MAX). */
static int injected(const char *point, char *message)
{
    int err;

    if (!fiu_fail(point)) {
        return 0;
    }
    err = (int)(intptr_t)fiu_failinfo();
    snprintf(message, INJECTED_MAX, "injected by libfiu point %s (errno %d)",
             point, err);
    return err == ENOSPC ? RAFT_NOSPACE : RAFT_IOERR;
}

static void append_cb(struct raft_io_append *req, int status)
{
    struct append_shim *shim = req->data;
    struct raft_io_append *orig = shim->orig;
    raft_io_append_cb cb = shim->cb;

    if (status == 0 && shim->injected != 0) {
        status = shim->injected;
    }
    check(shim->w, "append", status,
          shim->injected != 0 ? shim->message : NULL);
    /* Work around libraft 0.15: when a leader's append fails, it truncates
     * its log from that request's first index, once per failed request. At
     * close every in-flight append is cancelled, and with two or more of
     * them the second truncation releases entries the first already
     * released (SIGSEGV in logClose). By then the instance is unavailable
     * and ignores a completed append apart from releasing its entries, so
     * report cancellations during close as done. */
    if (shim->w->closing && status == RAFT_CANCELED) {
        status = 0;
    }
    free(shim);
    orig->cb = cb;
    if (cb != NULL) {
        cb(orig, status);
    }
}

static int wrap_append(struct raft_io *io, struct raft_io_append *req,
                       const struct raft_entry entries[], unsigned n,
                       raft_io_append_cb cb)
{
    struct io_wrap *w = WRAP_OF(io);
    struct append_shim *shim;
    int rv;

    shim = malloc(sizeof *shim);
    if (shim == NULL) {
        return RAFT_NOMEM;
    }
    shim->req.data = shim;
    shim->orig = req;
    shim->cb = cb;
    shim->w = w;
    shim->injected = injected("taskd/raft/append", shim->message);
    rv = w->append(io, &shim->req, entries, n, append_cb);
    if (rv != 0) {
        free(shim);
        check(w, "append", rv, NULL);
    }
    return rv;
}

static void snapshot_put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct snapshot_put_shim *shim = req->data;
    struct raft_io_snapshot_put *orig = shim->orig;
    raft_io_snapshot_put_cb cb = shim->cb;

    if (status == 0 && shim->injected != 0) {
        status = shim->injected;
    }
    check(shim->w, "snapshot_put", status,
          shim->injected != 0 ? shim->message : NULL);
    free(shim);
    orig->cb = cb;
    if (cb != NULL) {
        cb(orig, status);
    }
}

static int wrap_snapshot_put(struct raft_io *io, unsigned trailing,
                             struct raft_io_snapshot_put *req,
                             const struct raft_snapshot *snapshot,
                             raft_io_snapshot_put_cb cb)
{
    struct io_wrap *w = WRAP_OF(io);
    struct snapshot_put_shim *shim;
    int rv;

    shim = malloc(sizeof *shim);
    if (shim == NULL) {
        return RAFT_NOMEM;
    }
    shim->req.data = shim;
    shim->orig = req;
    shim->cb = cb;
    shim->w = w;
    shim->injected = injected("taskd/raft/snapshot_put", shim->message);
    rv = w->snapshot_put(io, trailing, &shim->req, snapshot, snapshot_put_cb);
    if (rv != 0) {
        free(shim);
        check(w, "snapshot_put", rv, NULL);
    }
    return rv;
}

static int wrap_truncate(struct raft_io *io, raft_index index)
{
    struct io_wrap *w = WRAP_OF(io);
    int rv = w->truncate(io, index);

    check(w, "truncate", rv, NULL);
    return rv;
}

static int wrap_set_term(struct raft_io *io, raft_term term)
{
    struct io_wrap *w = WRAP_OF(io);
    char message[INJECTED_MAX];
    int rv = injected("taskd/raft/set_term", message);

    if (rv != 0) {
        check(w, "set_term", rv, message);
        return rv;
    }
    rv = w->set_term(io, term);
    check(w, "set_term", rv, NULL);
    return rv;
}

static int wrap_set_vote(struct raft_io *io, raft_id server_id)
{
    struct io_wrap *w = WRAP_OF(io);
    char message[INJECTED_MAX];
    int rv = injected("taskd/raft/set_vote", message);

    if (rv != 0) {
        check(w, "set_vote", rv, message);
        return rv;
    }
    rv = w->set_vote(io, server_id);
    check(w, "set_vote", rv, NULL);
    return rv;
}

static void wrap_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct io_wrap *w = WRAP_OF(io);

    w->closing = true;
    w->close(io, cb);
}

void io_wrap_install(struct io_wrap *w, io_wrap_error_cb on_error, void *data)
{
    w->on_error = on_error;
    w->data = data;
    w->closing = false;
    w->close = w->io.close;
    w->append = w->io.append;
    w->truncate = w->io.truncate;
    w->set_term = w->io.set_term;
    w->set_vote = w->io.set_vote;
    w->snapshot_put = w->io.snapshot_put;
    w->io.close = wrap_close;
    w->io.append = wrap_append;
    w->io.truncate = wrap_truncate;
    w->io.set_term = wrap_set_term;
    w->io.set_vote = wrap_set_vote;
    w->io.snapshot_put = wrap_snapshot_put;
}
