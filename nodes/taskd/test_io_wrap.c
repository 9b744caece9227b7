/* test_io_wrap: the storage checks around raft_io, over a fake backend that
 * completes requests with whatever status the test chooses. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fiu-control.h>
#include <fiu.h>
#include <jansson.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/event.h"
#include "nodes/taskd/io_wrap.h"
#include "test/unit.h"


/* The fake backend: remembers the request it was given, returns @sync_rv. */
static struct {
    int sync_rv;
    int n_calls; /* of set_term and set_vote */
    int n_appends;
    int n_truncates;
    unsigned append_n;        /* entries in the last append */
    raft_index put_index;     /* the last snapshot_put's label */
    unsigned put_trailing;
    int order[8];             /* 'a'ppend, 't'runcate, in call order */
    int n_order;
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
    fake.append_n = n;
    fake.n_appends++;
    if (fake.n_order < 8) {
        fake.order[fake.n_order++] = 'a';
    }
    return fake.sync_rv;
}

static int fake_snapshot_put(struct raft_io *io, unsigned trailing,
                             struct raft_io_snapshot_put *req,
                             const struct raft_snapshot *snapshot,
                             raft_io_snapshot_put_cb cb)
{
    fake.put_req = req;
    fake.put_cb = cb;
    fake.put_index = snapshot != NULL ? snapshot->index : 0;
    fake.put_trailing = trailing;
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
    fake.n_truncates++;
    if (fake.n_order < 8) {
        fake.order[fake.n_order++] = 't';
    }
    return fake.sync_rv;
}

/* A log of 3 entries from index 5, term 7, voted for 2. */
static int fake_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                     struct raft_snapshot **snapshot, raft_index *start_index,
                     struct raft_entry *entries[], size_t *n_entries)
{
    *term = 7;
    *voted_for = 2;
    *snapshot = NULL;
    *start_index = 5;
    *entries = NULL;
    *n_entries = 3;
    return 0;
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

/* libraft always passes a snapshot to snapshot_put. */
static struct raft_snapshot any_snapshot = {.index = 10, .term = 2};

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
    w->io.load = fake_load;
    io_wrap_install(w, on_error, NULL);
}

/* Events go to a temporary file; events_read() parses what was written
 * since the last call (NULL-terminated array of objects, caller decrefs). */
static FILE *events_file;
static long events_pos;

static void events_start(void)
{
    if (events_file == NULL) {
        events_file = tmpfile();
    }
    fseek(events_file, 0, SEEK_END);
    events_pos = ftell(events_file);
    event_init(9, events_file);
}

/* The next event after the last one read, or NULL. */
static json_t *event_next(void)
{
    char line[4096];
    json_t *e;

    fflush(events_file);
    fseek(events_file, events_pos, SEEK_SET);
    if (fgets(line, sizeof line, events_file) == NULL) {
        return NULL;
    }
    events_pos = ftell(events_file);
    e = json_loads(line, 0, NULL);
    return e;
}

/* True when the next event is @name with integer fields @k1 = @v1 (and
 * @k2 = @v2 unless @k2 is NULL). */
static bool next_is(const char *name, const char *k1, json_int_t v1,
                    const char *k2, json_int_t v2)
{
    json_t *e = event_next();
    bool ok;

    ok = e != NULL &&
         strcmp(json_string_value(json_object_get(e, "event")), name) == 0 &&
         json_integer_value(json_object_get(e, k1)) == v1 &&
         (k2 == NULL || json_integer_value(json_object_get(e, k2)) == v2) &&
         json_integer_value(json_object_get(e, "mono")) > 0;
    if (!ok) {
        char *text = e != NULL ? json_dumps(e, 0) : NULL;
        fprintf(stderr, "expected event %s, got %s\n", name,
                text != NULL ? text : "nothing");
        free(text);
    }
    json_decref(e);
    return ok;
}

static void events_stop(void)
{
    event_init(0, NULL);
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
    CHECK(w.io.snapshot_put(&w.io, 0, &req, &any_snapshot, raft_put_cb) == 0);
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
    CHECK(w.io.snapshot_put(&w.io, 0, &req, &any_snapshot, raft_put_cb) == 0);
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

static void test_io_wrap_events_mark_what_became_durable(void)
{
    struct raft_io_append req;
    struct raft_io_snapshot_put put;
    struct raft_snapshot snap = {.index = 40, .term = 9};
    struct raft_entry entries[2];
    struct io_wrap w;
    raft_term term;
    raft_id vote;
    struct raft_snapshot *loaded;
    raft_index start;
    struct raft_entry *got;
    size_t n;

    setup(&w);
    events_start();
    CHECK(w.io.load(&w.io, &term, &vote, &loaded, &start, &got, &n) == 0);
    CHECK(w.io.set_term(&w.io, 8) == 0);
    CHECK(next_is("term_persisted", "term", 8, NULL, 0));
    CHECK(w.io.set_vote(&w.io, 3) == 0);
    CHECK(next_is("vote_persisted", "term", 8, "vote", 3));
    /* The log holds 5..7: the next append is 8..9. */
    memset(entries, 0, sizeof entries);
    CHECK(w.io.append(&w.io, &req, entries, 2, raft_append_cb) == 0);
    CHECK(event_next() == NULL); /* not durable yet */
    fake.append_cb(fake.append_req, 0);
    CHECK(next_is("append_persisted", "first", 8, "last", 9));
    CHECK(w.io.truncate(&w.io, 9) == 0);
    CHECK(next_is("truncated", "index", 9, NULL, 0));
    CHECK(w.io.append(&w.io, &req, entries, 1, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(next_is("append_persisted", "first", 9, "n", 1));
    /* A failed append is not reported. */
    CHECK(w.io.append(&w.io, &req, entries, 1, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, RAFT_IOERR);
    CHECK(event_next() == NULL);
    /* An install (trailing 0): start, then end once restored. */
    CHECK(w.io.snapshot_put(&w.io, 0, &put, &snap, raft_put_cb) == 0);
    CHECK(next_is("snapshot_install_start", "index", 40, "term", 9));
    CHECK(event_next() == NULL);
    fake.put_cb(fake.put_req, 0);
    CHECK(seen.n_put_cb == 1);
    CHECK(next_is("snapshot_install_end", "index", 40, "term", 9));
    CHECK(w.io.append(&w.io, &req, entries, 1, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(next_is("append_persisted", "first", 41, "last", 41));
    /* A local snapshot (trailing > 0) is no install. */
    CHECK(w.io.snapshot_put(&w.io, 4, &put, &snap, raft_put_cb) == 0);
    fake.put_cb(fake.put_req, 0);
    CHECK(event_next() == NULL);
    CHECK(fake.put_index == 40);
    /* Nothing written, nothing reported. */
    fake.sync_rv = RAFT_IOERR;
    CHECK(w.io.set_vote(&w.io, 2) == RAFT_IOERR);
    CHECK(event_next() == NULL);
    events_stop();
}

static void test_io_wrap_vote_not_persisted_bug_writes_no_vote(void)
{
    struct io_wrap w;

    setup(&w);
    CHECK(io_wrap_set_bugs(&w, NULL, BUG_VOTE_NOT_PERSISTED) == 0);
    events_start();
    CHECK(w.io.set_term(&w.io, 4) == 0);
    CHECK(fake.n_calls == 1); /* the term is written */
    CHECK(w.io.set_vote(&w.io, 2) == 0);
    CHECK(fake.n_calls == 1); /* the vote is not, yet raft hears success */
    CHECK(next_is("term_persisted", "term", 4, NULL, 0));
    CHECK(next_is("vote_persisted", "term", 4, "vote", 2));
    events_stop();
}

static void test_io_wrap_term_not_persisted_bug_writes_no_term(void)
{
    struct io_wrap w;

    setup(&w);
    CHECK(io_wrap_set_bugs(&w, NULL, BUG_TERM_NOT_PERSISTED) == 0);
    CHECK(w.io.set_term(&w.io, 4) == 0);
    CHECK(fake.n_calls == 0);
    CHECK(w.io.set_vote(&w.io, 2) == 0);
    CHECK(fake.n_calls == 1);
}

static void test_io_wrap_truncate_skipped_bug_leaves_the_log(void)
{
    struct raft_io_append req;
    struct raft_entry e = {0};
    struct io_wrap w;

    setup(&w);
    CHECK(w.io.truncate(&w.io, 3) == 0);
    CHECK(fake.n_truncates == 1);
    setup(&w);
    CHECK(io_wrap_set_bugs(&w, NULL, BUG_TRUNCATE_SKIPPED) == 0);
    events_start();
    CHECK(w.io.truncate(&w.io, 3) == 0);
    CHECK(fake.n_truncates == 0);
    CHECK(next_is("truncated", "index", 3, NULL, 0));
    /* Raft's view goes on from index 3; the disk's does not. */
    CHECK(w.io.append(&w.io, &req, &e, 1, raft_append_cb) == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(next_is("append_persisted", "first", 3, "last", 3));
    events_stop();
}

static void test_io_wrap_snapshot_off_by_one_bug_labels_local_snapshots(void)
{
    struct raft_io_snapshot_put put;
    struct raft_snapshot snap = {.index = 40, .term = 9};
    struct io_wrap w;

    setup(&w);
    CHECK(io_wrap_set_bugs(&w, NULL, BUG_SNAPSHOT_OFF_BY_ONE) == 0);
    CHECK(w.io.snapshot_put(&w.io, 4, &put, &snap, raft_put_cb) == 0);
    CHECK(fake.put_index == 41 && fake.put_trailing == 4);
    CHECK(snap.index == 40); /* libraft's own copy untouched */
    fake.put_cb(fake.put_req, 0);
    CHECK(seen.n_put_cb == 1 && seen.put_cb_status == 0);
    /* An installed snapshot is stored as received. */
    CHECK(w.io.snapshot_put(&w.io, 0, &put, &snap, raft_put_cb) == 0);
    CHECK(fake.put_index == 40);
    fake.put_cb(fake.put_req, 0);
}

static void test_io_wrap_append_early_ack_bug_acks_before_writing(void)
{
    struct raft_io_append req1;
    struct raft_io_append req2;
    struct raft_entry e = {.term = 1, .type = RAFT_COMMAND};
    char payload[8] = "abcdefg";
    struct io_wrap w;
    uv_loop_t loop;
    uint64_t start;

    e.buf.base = payload;
    e.buf.len = sizeof payload;
    CHECK(uv_loop_init(&loop) == 0);
    setup(&w);
    CHECK(io_wrap_set_bugs(&w, &loop, BUG_APPEND_EARLY_ACK) == 0);
    CHECK(w.io.append(&w.io, &req1, &e, 1, raft_append_cb) == 0);
    CHECK(fake.n_appends == 0 && seen.n_append_cb == 0);
    /* Next loop iteration: raft hears "durable"; the disk has nothing. */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(seen.n_append_cb == 1 && seen.append_cb_req == &req1);
    CHECK(seen.append_cb_status == 0);
    CHECK(fake.n_appends == 0);
    /* Group commit: written some 20 ms later, a copy of the entries. */
    start = uv_now(&loop);
    while (fake.n_appends == 0 && uv_now(&loop) - start < 1000) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    CHECK(fake.n_appends == 1 && fake.append_n == 1);
    CHECK(uv_now(&loop) - start >= 15);
    fake.append_cb(fake.append_req, 0);
    CHECK(seen.n_append_cb == 1); /* raft is not told twice */
    /* A truncate first writes what was acknowledged, in order. */
    CHECK(w.io.append(&w.io, &req2, &e, 1, raft_append_cb) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(seen.n_append_cb == 2 && fake.n_appends == 1);
    CHECK(w.io.truncate(&w.io, 2) == 0);
    CHECK(fake.n_appends == 2 && fake.n_truncates == 1);
    CHECK(fake.n_order == 3 && fake.order[1] == 'a' && fake.order[2] == 't');
    fake.append_cb(fake.append_req, 0);
    /* Close releases the timers; the loop ends. */
    w.io.close(&w.io, NULL);
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&loop) == 0);
}

static void test_io_wrap_no_bug_changes_nothing(void)
{
    struct raft_io_append req;
    struct raft_io_snapshot_put put;
    struct raft_snapshot snap = {.index = 40, .term = 9};
    struct raft_entry e = {0};
    struct io_wrap w;

    /* Bugs of other layers do not reach the storage path. */
    setup(&w);
    CHECK(io_wrap_set_bugs(&w, NULL,
                           BUG_STALE_READ | BUG_ACK_BEFORE_COMMIT |
                               BUG_UNSYNCED_STATE) == 0);
    CHECK(w.io.set_term(&w.io, 2) == 0 && w.io.set_vote(&w.io, 1) == 0);
    CHECK(fake.n_calls == 2);
    CHECK(w.io.append(&w.io, &req, &e, 1, raft_append_cb) == 0);
    CHECK(fake.n_appends == 1 && seen.n_append_cb == 0);
    fake.append_cb(fake.append_req, 0);
    CHECK(seen.n_append_cb == 1);
    CHECK(w.io.truncate(&w.io, 1) == 0 && fake.n_truncates == 1);
    CHECK(w.io.snapshot_put(&w.io, 4, &put, &snap, raft_put_cb) == 0);
    CHECK(fake.put_index == 40);
    fake.put_cb(fake.put_req, 0);
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
    RUN(test_io_wrap_events_mark_what_became_durable);
    RUN(test_io_wrap_vote_not_persisted_bug_writes_no_vote);
    RUN(test_io_wrap_term_not_persisted_bug_writes_no_term);
    RUN(test_io_wrap_truncate_skipped_bug_leaves_the_log);
    RUN(test_io_wrap_snapshot_off_by_one_bug_labels_local_snapshots);
    RUN(test_io_wrap_append_early_ack_bug_acks_before_writing);
    RUN(test_io_wrap_no_bug_changes_nothing);
    if (failures > 0) {
        printf("test_io_wrap: %d FAILED\n", failures);
        return 1;
    }
    printf("test_io_wrap: ok\n");
    return 0;
}
