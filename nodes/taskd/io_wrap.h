/* io_wrap: a shim over libraft's raft_io that checks the outcome of every
 * storage operation, so that a failed disk write stops the node; and the
 * libfiu fault points taskd/raft/{append,set_term,set_vote,snapshot_put},
 * which make an operation fail as the disk would (see io_wrap.c). */
#ifndef TASKD_IO_WRAP_H
#define TASKD_IO_WRAP_H

#include <stdbool.h>

#include <raft.h>

struct io_wrap;

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

/* Route @w->io's append, truncate, set_term, set_vote and snapshot_put
 * through checks that call @on_error on a fatal status, synchronous or in
 * the completion callback. @data is for the caller (w->data).
 *
 * Also works around a libraft 0.15 crash at close (see append_cb in
 * io_wrap.c): once io->close was called, appends completing with
 * RAFT_CANCELED are reported to libraft as completed. */
void io_wrap_install(struct io_wrap *w, io_wrap_error_cb on_error, void *data);

/* True for the statuses that mean storage failed: RAFT_IOERR, RAFT_NOSPACE
 * and RAFT_CORRUPT. Cancellations at shutdown are not fatal. */
int io_wrap_is_fatal(int status);

#endif /* TASKD_IO_WRAP_H */
