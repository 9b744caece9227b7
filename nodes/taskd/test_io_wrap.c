/* test_io_wrap: the storage checks around raft_io, over a fake backend that
 * completes requests with whatever status the test chooses. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fiu-control.h>
#include <fiu.h>

#include "nodes/taskd/io_wrap.h"
#include "test/unit.h"


/* The fake backend: remembers the request it was given, returns @sync_rv. */
static struct {
    int sync_rv;
    int n_calls; /* of set_term and set_vote */
    struct raft_io_append *append_req;
    raft_io_append_cb append_cb;
    struct raft_io_snapshot_put *put_req;
    raft_io_snapshot_put_cb put_cb;
} fake;

/* What the wrapper reported, and what reached raft's callbacks. */
static struct {
    int n_errors;
    const char *op;
    int status;
    int n_append_cb;
    struct raft_io_append *append_cb_req;
    int append_cb_status;
    int n_put_cb;
    int put_cb_status;
    char message[256];
} seen;

static int fake_append(struct raft_io *io, struct raft_io_append *req,
                       const struct raft_entry entries[], unsigned n,
                       raft_io_append_cb cb)
{
    fake.append_req = req;
    fake.append_cb = cb;
    return fake.sync_rv;
}

static int fake_snapshot_put(struct raft_io *io, unsigned trailing,
                             struct raft_io_snapshot_put *req,
                             const struct raft_snapshot *snapshot,
                             raft_io_snapshot_put_cb cb)
{
    fake.put_req = req;
    fake.put_cb = cb;
    return fake.sync_rv;
}

static int fake_set_term(struct raft_io *io, raft_term term)
{
    fake.n_calls++;
    return fake.sync_rv;
}

static int fake_set_vote(struct raft_io *io, raft_id id)
{
    fake.n_calls++;
    return fake.sync_rv;
}

static int fake_truncate(struct raft_io *io, raft_index index)
{
    return fake.sync_rv;
}

static int n_close;
static void fake_close(struct raft_io *io, raft_io_close_cb cb)
{
    n_close++;
}

static void on_error(struct io_wrap *w, const char *op, int status,
                     const char *message)
{
    seen.n_errors++;
    seen.op = op;
    seen.status = status;
    snprintf(seen.message, sizeof seen.message, "%s", message);
}

static void raft_append_cb(struct raft_io_append *req, int status)
{
    seen.n_append_cb++;
    seen.append_cb_req = req;
    seen.append_cb_status = status;
}

static void raft_put_cb(struct raft_io_snapshot_put *req, int status)
{
    seen.n_put_cb++;
    seen.put_cb_status = status;
}

static void setup(struct io_wrap *w)
{
    memset(&fake, 0, sizeof fake);
    memset(&seen, 0, sizeof seen);
    memset(w, 0, sizeof *w);
    w->io.append = fake_append;
    w->io.snapshot_put = fake_snapshot_put;
    w->io.set_term = fake_set_term;
    w->io.set_vote = fake_set_vote;
    w->io.truncate = fake_truncate;
    w->io.close = fake_close;
    io_wrap_install(w, on_error, NULL);
}

static void test_io_wrap_append_success_reaches_raft_unchanged(void)
{
    struct raft_io_append req = {.data = &req};
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    CHECK(fake.append_req != &req); /* the backend got the shim */
    fake.append_cb(fake.append_req, 0);
    CHECK(seen.n_append_cb == 1);
    CHECK(seen.append_cb_req == &req);
    CHECK(req.data == &req); /* raft's own data untouched */
    CHECK(seen.append_cb_status == 0);
    CHECK(seen.n_errors == 0);
}

static void test_io_wrap_append_io_error_in_callback_is_fatal(void)
{
    struct raft_io_append req;
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, RAFT_IOERR);
    CHECK(seen.n_errors == 1);
    CHECK(strcmp(seen.op, "append") == 0);
    CHECK(seen.status == RAFT_IOERR);
}

static void test_io_wrap_append_cancel_at_shutdown_is_not_fatal(void)
{
    struct raft_io_append req;
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, RAFT_CANCELED);
    CHECK(seen.n_errors == 0);
    CHECK(seen.append_cb_status == RAFT_CANCELED);
}

static void test_io_wrap_append_cancelled_by_close_is_reported_done(void)
{
    struct raft_io_append req;
    struct io_wrap w;

    /* The libraft 0.15 workaround: see append_cb in io_wrap.c. */
    setup(&w);
    n_close = 0;
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    w.io.close(&w.io, NULL);
    CHECK(n_close == 1);
    fake.append_cb(fake.append_req, RAFT_CANCELED);
    CHECK(seen.n_append_cb == 1 && seen.append_cb_status == 0);
    CHECK(seen.n_errors == 0);
}

static void test_io_wrap_append_sync_failure_is_fatal(void)
{
    struct raft_io_append req;
    struct io_wrap w;

    setup(&w);
    fake.sync_rv = RAFT_NOSPACE;
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == RAFT_NOSPACE);
    CHECK(seen.n_errors == 1 && seen.status == RAFT_NOSPACE);
    CHECK(seen.n_append_cb == 0);
}

static void test_io_wrap_snapshot_put_error_is_fatal(void)
{
    struct raft_io_snapshot_put req;
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.snapshot_put(&w.io, 0, &req, NULL, raft_put_cb) == 0);
    fake.put_cb(fake.put_req, RAFT_IOERR);
    CHECK(seen.n_errors == 1 && strcmp(seen.op, "snapshot_put") == 0);
    CHECK(seen.n_put_cb == 1 && seen.put_cb_status == RAFT_IOERR);
}

static void test_io_wrap_sync_metadata_errors_are_fatal(void)
{
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.set_term(&w.io, 2) == 0);
    CHECK(w.io.set_vote(&w.io, 1) == 0);
    CHECK(seen.n_errors == 0);
    fake.sync_rv = RAFT_IOERR;
    CHECK(w.io.set_term(&w.io, 3) == RAFT_IOERR);
    CHECK(seen.n_errors == 1 && strcmp(seen.op, "set_term") == 0);
    CHECK(w.io.set_vote(&w.io, 2) == RAFT_IOERR);
    CHECK(seen.n_errors == 2 && strcmp(seen.op, "set_vote") == 0);
    CHECK(w.io.truncate(&w.io, 5) == RAFT_IOERR);
    CHECK(seen.n_errors == 3 && strcmp(seen.op, "truncate") == 0);
    fake.sync_rv = RAFT_NOMEM; /* not a storage failure */
    CHECK(w.io.set_term(&w.io, 4) == RAFT_NOMEM);
    CHECK(seen.n_errors == 3);
}

static void enable(const char *point, int err)
{
    fiu_enable(point, 1, (void *)(intptr_t)err, FIU_ONETIME);
}

static void test_io_wrap_fiu_append_fails_in_the_callback(void)
{
    struct raft_io_append req;
    struct io_wrap w;

    setup(&w);
    enable("taskd/raft/append", EIO);
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    CHECK(fake.append_req != NULL); /* the backend still got it */
    CHECK(seen.n_errors == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(seen.n_errors == 1 && strcmp(seen.op, "append") == 0);
    CHECK(seen.status == RAFT_IOERR);
    CHECK(strstr(seen.message, "taskd/raft/append") != NULL);
    CHECK(seen.n_append_cb == 1 && seen.append_cb_status == RAFT_IOERR);
    /* One time: the next append is fine. */
    CHECK(w.io.append(&w.io, &req, NULL, 0, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(seen.n_errors == 1 && seen.append_cb_status == 0);
}

static void test_io_wrap_fiu_enospc_is_nospace(void)
{
    struct raft_io_snapshot_put req;
    struct io_wrap w;

    setup(&w);
    enable("taskd/raft/snapshot_put", ENOSPC);
    CHECK(w.io.snapshot_put(&w.io, 0, &req, NULL, raft_put_cb) == 0);
    fake.put_cb(fake.put_req, 0);
    CHECK(seen.n_errors == 1 && strcmp(seen.op, "snapshot_put") == 0);
    CHECK(seen.status == RAFT_NOSPACE && seen.put_cb_status == RAFT_NOSPACE);
}

static void test_io_wrap_fiu_term_and_vote_fail_without_writing(void)
{
    struct io_wrap w;

    setup(&w);
    enable("taskd/raft/set_term", EIO);
    CHECK(w.io.set_term(&w.io, 2) == RAFT_IOERR);
    CHECK(fake.n_calls == 0);
    CHECK(seen.n_errors == 1 && strcmp(seen.op, "set_term") == 0);
    enable("taskd/raft/set_vote", EIO);
    CHECK(w.io.set_vote(&w.io, 1) == RAFT_IOERR);
    CHECK(fake.n_calls == 0);
    CHECK(seen.n_errors == 2 && strcmp(seen.op, "set_vote") == 0);
    CHECK(strstr(seen.message, "taskd/raft/set_vote") != NULL);
    CHECK(w.io.set_vote(&w.io, 1) == 0 && fake.n_calls == 1);
}

int main(void)
{
    fiu_init(0);
    test_io_wrap_append_success_reaches_raft_unchanged();
    test_io_wrap_append_io_error_in_callback_is_fatal();
    test_io_wrap_append_cancel_at_shutdown_is_not_fatal();
    test_io_wrap_append_cancelled_by_close_is_reported_done();
    test_io_wrap_append_sync_failure_is_fatal();
    test_io_wrap_snapshot_put_error_is_fatal();
    test_io_wrap_sync_metadata_errors_are_fatal();
    test_io_wrap_fiu_append_fails_in_the_callback();
    test_io_wrap_fiu_enospc_is_nospace();
    test_io_wrap_fiu_term_and_vote_fail_without_writing();
    if (failures > 0) {
        printf("test_io_wrap: %d FAILED\n", failures);
        return 1;
    }
    printf("test_io_wrap: ok\n");
    return 0;
}
