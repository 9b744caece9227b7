/* io_wrap: a shim over libraft's raft_io that checks the outcome of every
 * storage operation, so that a failed disk write stops the node; the libfiu
 * fault points taskd/raft/{append,set_term,set_vote,snapshot_put}, which make
 * an operation fail as the disk would; the protocol events that mark when
 * Raft state became durable (term_persisted, vote_persisted,
 * append_persisted, truncated, snapshot_install_start/end); and the
 * Raft-layer seeded bugs of the storage path (see io_wrap.c, BUGS.md) and,
 * through rpc_bug.c, those of libraft's messages (quorums, elections). */
#ifndef TASKD_IO_WRAP_H
#define TASKD_IO_WRAP_H

#include <stdbool.h>
#include <stddef.h>

#include <raft.h>
#include <uv.h>

struct io_wrap;
struct append_shim;
struct rpc_bug;

/* Called when a storage operation failed with an error that leaves the
 * node's durable state in doubt (see io_wrap_is_fatal). @op names the
 * operation ("append", "set_term"...), @status is the RAFT_* code and
 * @message the backend's text. Production code fail-stops here. */
typedef void (*io_wrap_error_cb)(struct io_wrap *w, const char *op, int status,
                                 const char *message);

struct io_wrap {
    /* The raft_io given to raft_init(). Initialize it first with the real
     * backend (raft_uv_init(&w->io, ...)), then call io_wrap_install(). */
    struct raft_io io;

    /* private */
    io_wrap_error_cb on_error;
    void *data;
    bool closing;
    unsigned bugs;         /* mask of enum bug (bug.h) */
    raft_term term;        /* current term as far as we know: load, set_term */
    raft_index last_index; /* of the log: load, append, truncate, install */
    /* --bug append-early-ack: appends acknowledged, not yet written. */
    uv_timer_t ack_timer;
    uv_timer_t write_timer;
    bool timers;
    struct append_shim *to_ack;
    struct append_shim **to_ack_tail;
    struct append_shim *to_write;
    struct append_shim **to_write_tail;
    /* --bug vote-quorum-short, commit-quorum-short, vote-ignores-log
     * (rpc_bug.c). */
    struct rpc_bug *rpc;
    int (*load)(struct raft_io *io, raft_term *term, raft_id *voted_for,
                struct raft_snapshot **snapshot, raft_index *start_index,
                struct raft_entry *entries[], size_t *n_entries);
    void (*close)(struct raft_io *io, raft_io_close_cb cb);
    int (*append)(struct raft_io *io, struct raft_io_append *req,
                  const struct raft_entry entries[], unsigned n,
                  raft_io_append_cb cb);
    int (*truncate)(struct raft_io *io, raft_index index);
    int (*set_term)(struct raft_io *io, raft_term term);
    int (*set_vote)(struct raft_io *io, raft_id server_id);
    int (*snapshot_put)(struct raft_io *io, unsigned trailing,
                        struct raft_io_snapshot_put *req,
                        const struct raft_snapshot *snapshot,
                        raft_io_snapshot_put_cb cb);
};

/* The io_wrap whose io is @io. */
static inline struct io_wrap *io_wrap_of(struct raft_io *io)
{
    return (struct io_wrap *)((char *)io - offsetof(struct io_wrap, io));
}

/* Route @w->io's load, append, truncate, set_term, set_vote and
 * snapshot_put through checks that call @on_error on a fatal status,
 * synchronous or in the completion callback, and emit an event each time
 * one succeeded (README.md, Events). @data is for the caller (w->data).
 *
 * Also works around a libraft 0.15 crash at close (see append_cb in
 * io_wrap.c): once io->close was called, appends completing with
 * RAFT_CANCELED are reported to libraft as completed. */
void io_wrap_install(struct io_wrap *w, io_wrap_error_cb on_error, void *data);

/* Switch on the seeded bugs around raft_io that are set in @bugs (a mask
 * of enum bug; the others are ignored): of the storage path
 * vote-not-persisted, term-not-persisted, append-early-ack,
 * truncate-skipped, snapshot-off-by-one; of libraft's messages
 * vote-quorum-short, commit-quorum-short, vote-ignores-log (rpc_bug.h).
 * See BUGS.md. @loop (borrowed) runs the deferred writes of
 * append-early-ack and the made-up replies of the quorum bugs. Call after
 * io_wrap_install(), before raft_start(). Returns 0, or a libuv error when
 * a timer could not be set up. */
int io_wrap_set_bugs(struct io_wrap *w, uv_loop_t *loop, unsigned bugs);

/* True for the statuses that mean storage failed: RAFT_IOERR, RAFT_NOSPACE
 * and RAFT_CORRUPT. Cancellations at shutdown are not fatal. */
int io_wrap_is_fatal(int status);

#endif /* TASKD_IO_WRAP_H */
