/* io_wrap: storage checks, fault points, protocol events and the storage
 * bugs around libraft's raft_io.
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
 * RAFT_IOERR otherwise), so the fail-stop path is the one exercised.
 *
 * Events: each operation that succeeded is reported once the backend says
 * it is durable (README.md, Events), so that a reactive nemesis can crash
 * the node right after. libraft 0.15 does not pass indices to append: it
 * always appends after its last index, so we follow the last index from
 * load(), appends, truncate() and snapshot installs. libraft installs a
 * snapshot received from the leader with snapshot_put(trailing 0); its own
 * snapshots use --snapshot-trailing (with --snapshot-trailing 0 the two
 * look alike, and local snapshots are reported as installs).
 *
 * Seeded bugs (bug.h; off unless io_wrap_set_bugs switched them on): each
 * is a shortcut a storage layer could plausibly take, see BUGS.md. */
#include "nodes/taskd/io_wrap.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fiu.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/event.h"
#include "nodes/taskd/rpc_bug.h"

#define INJECTED_MAX 128

/* --bug append-early-ack: how long an acknowledged append waits before it
 * is handed to the disk ("group commit"). */
#define GROUP_COMMIT_MS 20

struct append_shim {
    struct raft_io_append req; /* what the backend sees */
    struct raft_io_append *orig;
    raft_io_append_cb cb;
    struct io_wrap *w;
    int injected; /* status to report instead of success, or 0 */
    char message[INJECTED_MAX];
    raft_index first; /* indices of the batch */
    unsigned n;

    /* --bug append-early-ack only. */
    struct raft_entry *copy; /* the entries, ours until written */
    bool acked;              /* libraft was told it is durable */
    bool written;            /* the backend completed it */
    struct append_shim *next_ack;
    struct append_shim *next_write;
};

struct snapshot_put_shim {
    struct raft_io_snapshot_put req;
    struct raft_io_snapshot_put *orig;
    raft_io_snapshot_put_cb cb;
    struct io_wrap *w;
    int injected;
    char message[INJECTED_MAX];
    bool install; /* trailing 0: a snapshot from the leader */
    raft_index index;
    raft_term term;
    struct raft_snapshot label; /* --bug snapshot-off-by-one */
};

int io_wrap_is_fatal(int status)
{
    return status == RAFT_IOERR || status == RAFT_NOSPACE ||
           status == RAFT_CORRUPT;
}

static bool bug_set(const struct io_wrap *w, enum bug b)
{
    return bug_on(w->bugs, b);
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

static void emit_append_persisted(const struct append_shim *shim)
{
    event_emit("append_persisted",
               json_pack("{s:I, s:I, s:I}", "first", (json_int_t)shim->first,
                         "last", (json_int_t)(shim->first + shim->n - 1), "n",
                         (json_int_t)shim->n));
}

static void free_copy(struct raft_entry *copy, unsigned n)
{
    unsigned i;

    for (i = 0; copy != NULL && i < n; i++) {
        raft_free(copy[i].buf.base);
    }
    raft_free(copy);
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
    if (shim->copy != NULL) {
        /* append-early-ack: libraft heard "durable" long ago. */
        free_copy(shim->copy, shim->n);
        shim->copy = NULL;
        shim->written = true;
        if (shim->acked) {
            free(shim);
        }
        return;
    }
    /* Work around libraft 0.15: when a leader's append fails, it truncates
     * its log from that request's first index, once per failed request. At
     * close every in-flight append is cancelled, and with two or more of
     * them the second truncation releases entries the first already
     * released (SIGSEGV in logClose). By then the instance is unavailable
     * and ignores a completed append apart from releasing its entries, so
     * report cancellations during close as done. */
    if (shim->w->closing && status == RAFT_CANCELED) {
        status = 0;
    } else if (status == 0) {
        emit_append_persisted(shim);
    }
    free(shim);
    orig->cb = cb;
    if (cb != NULL) {
        cb(orig, status);
    }
}

/* append-early-ack: hand every acknowledged append to the disk, in order. */
static void write_pending(struct io_wrap *w)
{
    struct append_shim *shim;
    int rv;

    while ((shim = w->to_write) != NULL) {
        w->to_write = shim->next_write;
        if (w->to_write == NULL) {
            w->to_write_tail = &w->to_write;
        }
        rv = w->append(&w->io, &shim->req, shim->copy, shim->n, append_cb);
        if (rv != 0) {
            check(w, "append", rv, NULL);
            free_copy(shim->copy, shim->n);
            shim->copy = NULL;
            shim->written = true;
            if (shim->acked) {
                free(shim);
            }
        }
    }
}

/* append-early-ack: tell libraft its appends are durable. */
static void ack_pending(struct io_wrap *w)
{
    struct append_shim *shim;
    struct raft_io_append *orig;
    raft_io_append_cb cb;

    while ((shim = w->to_ack) != NULL) {
        w->to_ack = shim->next_ack;
        if (w->to_ack == NULL) {
            w->to_ack_tail = &w->to_ack;
        }
        orig = shim->orig;
        cb = shim->cb;
        emit_append_persisted(shim);
        shim->acked = true;
        if (shim->written) {
            free(shim);
        }
        orig->cb = cb;
        if (cb != NULL) {
            cb(orig, 0);
        }
    }
}

static void ack_timer_cb(uv_timer_t *t)
{
    ack_pending(t->data);
}

static void write_timer_cb(uv_timer_t *t)
{
    write_pending(t->data);
}

/* --bug append-early-ack: keep a copy of the entries (libraft may release
 * its own once it thinks them durable), acknowledge on the next loop
 * iteration, write GROUP_COMMIT_MS later. */
static int append_early(struct io_wrap *w, struct append_shim *shim,
                        const struct raft_entry entries[], unsigned n)
{
    unsigned i;

    shim->copy = raft_calloc(n > 0 ? n : 1, sizeof *shim->copy);
    if (shim->copy == NULL) {
        return RAFT_NOMEM;
    }
    for (i = 0; i < n; i++) {
        shim->copy[i] = entries[i];
        shim->copy[i].batch = NULL;
        shim->copy[i].buf.base = raft_malloc(entries[i].buf.len + 1);
        if (shim->copy[i].buf.base == NULL) {
            free_copy(shim->copy, i);
            return RAFT_NOMEM;
        }
        memcpy(shim->copy[i].buf.base, entries[i].buf.base,
               entries[i].buf.len);
    }
    *w->to_ack_tail = shim;
    w->to_ack_tail = &shim->next_ack;
    *w->to_write_tail = shim;
    w->to_write_tail = &shim->next_write;
    if (!uv_is_active((uv_handle_t *)&w->ack_timer)) {
        uv_timer_start(&w->ack_timer, ack_timer_cb, 0, 0);
    }
    if (!uv_is_active((uv_handle_t *)&w->write_timer)) {
        uv_timer_start(&w->write_timer, write_timer_cb, GROUP_COMMIT_MS, 0);
    }
    return 0;
}

static int wrap_append(struct raft_io *io, struct raft_io_append *req,
                       const struct raft_entry entries[], unsigned n,
                       raft_io_append_cb cb)
{
    struct io_wrap *w = io_wrap_of(io);
    struct append_shim *shim;
    int rv;

    shim = calloc(1, sizeof *shim);
    if (shim == NULL) {
        return RAFT_NOMEM;
    }
    shim->req.data = shim;
    shim->orig = req;
    shim->cb = cb;
    shim->w = w;
    shim->first = w->last_index + 1;
    shim->n = n;
    shim->injected = injected("taskd/raft/append", shim->message);
    if (bug_set(w, BUG_APPEND_EARLY_ACK) && w->timers) {
        rv = append_early(w, shim, entries, n);
        if (rv != 0) {
            free(shim);
            return rv;
        }
        w->last_index += n;
        return 0;
    }
    rv = w->append(io, &shim->req, entries, n, append_cb);
    if (rv != 0) {
        free(shim);
        check(w, "append", rv, NULL);
        return rv;
    }
    w->last_index += n;
    return 0;
}

static void snapshot_put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct snapshot_put_shim *shim = req->data;
    struct raft_io_snapshot_put *orig = shim->orig;
    raft_io_snapshot_put_cb cb = shim->cb;
    struct io_wrap *w = shim->w;

    if (status == 0 && shim->injected != 0) {
        status = shim->injected;
    }
    check(w, "snapshot_put", status,
          shim->injected != 0 ? shim->message : NULL);
    if (status == 0 && shim->install) {
        w->last_index = shim->index;
    }
    orig->cb = cb;
    if (cb != NULL) {
        cb(orig, status); /* an install restores the state machine here */
    }
    if (status == 0 && shim->install) {
        event_emit("snapshot_install_end",
                   json_pack("{s:I, s:I}", "index", (json_int_t)shim->index,
                             "term", (json_int_t)shim->term));
    }
    free(shim);
}

static int wrap_snapshot_put(struct raft_io *io, unsigned trailing,
                             struct raft_io_snapshot_put *req,
                             const struct raft_snapshot *snapshot,
                             raft_io_snapshot_put_cb cb)
{
    struct io_wrap *w = io_wrap_of(io);
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
    shim->install = trailing == 0;
    shim->index = snapshot->index;
    shim->term = snapshot->term;
    shim->injected = injected("taskd/raft/snapshot_put", shim->message);
    if (shim->install) {
        event_emit("snapshot_install_start",
                   json_pack("{s:I, s:I}", "index", (json_int_t)shim->index,
                             "term", (json_int_t)shim->term));
    }
    if (bug_set(w, BUG_SNAPSHOT_OFF_BY_ONE) && !shim->install) {
        /* The metadata records the first index the image does not hold. */
        shim->label = *snapshot;
        shim->label.index = snapshot->index + 1;
        snapshot = &shim->label;
    }
    write_pending(w);
    rv = w->snapshot_put(io, trailing, &shim->req, snapshot, snapshot_put_cb);
    if (rv != 0) {
        free(shim);
        check(w, "snapshot_put", rv, NULL);
    }
    return rv;
}

static int wrap_truncate(struct raft_io *io, raft_index index)
{
    struct io_wrap *w = io_wrap_of(io);
    int rv;

    if (bug_set(w, BUG_TRUNCATE_SKIPPED)) {
        /* "The new entries overwrite the old ones anyway." They do not: the
         * backend appends after what it has. */
        rv = 0;
    } else {
        write_pending(w);
        rv = w->truncate(io, index);
        check(w, "truncate", rv, NULL);
    }
    if (rv == 0) {
        w->last_index = index - 1;
        event_emit("truncated", json_pack("{s:I}", "index", (json_int_t)index));
    }
    return rv;
}

static int wrap_set_term(struct raft_io *io, raft_term term)
{
    struct io_wrap *w = io_wrap_of(io);
    char message[INJECTED_MAX];
    int rv = injected("taskd/raft/set_term", message);

    if (rv != 0) {
        check(w, "set_term", rv, message);
        return rv;
    }
    if (!bug_set(w, BUG_TERM_NOT_PERSISTED)) {
        rv = w->set_term(io, term);
        check(w, "set_term", rv, NULL);
    }
    if (rv == 0) {
        w->term = term;
        event_emit("term_persisted",
                   json_pack("{s:I}", "term", (json_int_t)term));
    }
    return rv;
}

static int wrap_set_vote(struct raft_io *io, raft_id server_id)
{
    struct io_wrap *w = io_wrap_of(io);
    char message[INJECTED_MAX];
    int rv = injected("taskd/raft/set_vote", message);

    if (rv != 0) {
        check(w, "set_vote", rv, message);
        return rv;
    }
    if (!bug_set(w, BUG_VOTE_NOT_PERSISTED)) {
        rv = w->set_vote(io, server_id);
        check(w, "set_vote", rv, NULL);
    }
    if (rv == 0) {
        event_emit("vote_persisted",
                   json_pack("{s:I, s:I}", "term", (json_int_t)w->term,
                             "vote", (json_int_t)server_id));
    }
    return rv;
}

static int wrap_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                     struct raft_snapshot **snapshot, raft_index *start_index,
                     struct raft_entry *entries[], size_t *n_entries)
{
    struct io_wrap *w = io_wrap_of(io);
    int rv;

    rv = w->load(io, term, voted_for, snapshot, start_index, entries,
                 n_entries);
    if (rv != 0) {
        return rv;
    }
    w->term = *term;
    if (*n_entries > 0) {
        w->last_index = *start_index + *n_entries - 1;
    } else if (*snapshot != NULL) {
        w->last_index = (*snapshot)->index;
    } else {
        w->last_index = *start_index > 0 ? *start_index - 1 : 0;
    }
    return 0;
}

static void wrap_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct io_wrap *w = io_wrap_of(io);

    w->closing = true;
    rpc_bug_close(w);
    if (w->timers) {
        /* libraft is unavailable by now: it only releases entries. */
        write_pending(w);
        ack_pending(w);
        uv_close((uv_handle_t *)&w->ack_timer, NULL);
        uv_close((uv_handle_t *)&w->write_timer, NULL);
        w->timers = false;
    }
    w->close(io, cb);
}

void io_wrap_install(struct io_wrap *w, io_wrap_error_cb on_error, void *data)
{
    w->on_error = on_error;
    w->data = data;
    w->closing = false;
    w->bugs = 0;
    w->term = 0;
    w->last_index = 0;
    w->timers = false;
    w->to_ack = NULL;
    w->to_ack_tail = &w->to_ack;
    w->to_write = NULL;
    w->to_write_tail = &w->to_write;
    w->rpc = NULL;
    w->load = w->io.load;
    w->close = w->io.close;
    w->append = w->io.append;
    w->truncate = w->io.truncate;
    w->set_term = w->io.set_term;
    w->set_vote = w->io.set_vote;
    w->snapshot_put = w->io.snapshot_put;
    w->io.load = wrap_load;
    w->io.close = wrap_close;
    w->io.append = wrap_append;
    w->io.truncate = wrap_truncate;
    w->io.set_term = wrap_set_term;
    w->io.set_vote = wrap_set_vote;
    w->io.snapshot_put = wrap_snapshot_put;
}

int io_wrap_set_bugs(struct io_wrap *w, uv_loop_t *loop, unsigned bugs)
{
    int rv;

    w->bugs = bugs & (BUG_VOTE_NOT_PERSISTED | BUG_TERM_NOT_PERSISTED |
                      BUG_APPEND_EARLY_ACK | BUG_TRUNCATE_SKIPPED |
                      BUG_SNAPSHOT_OFF_BY_ONE);
    rv = rpc_bug_install(w, loop, bugs);
    if (rv != 0) {
        return rv;
    }
    if (!bug_set(w, BUG_APPEND_EARLY_ACK) || w->timers) {
        return 0;
    }
    rv = uv_timer_init(loop, &w->ack_timer);
    if (rv != 0) {
        return rv;
    }
    rv = uv_timer_init(loop, &w->write_timer);
    if (rv != 0) {
        uv_close((uv_handle_t *)&w->ack_timer, NULL);
        return rv;
    }
    w->ack_timer.data = w;
    w->write_timer.data = w;
    w->timers = true;
    return 0;
}
