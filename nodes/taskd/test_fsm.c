/* test_fsm: the SQLite state machine, without Raft.
 *
 * Usage: test_fsm [SEED]   (or FAULTLINE_SEED=N); the seed drives the
 * randomized model test and is printed first. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fiu-control.h>
#include <fiu.h>
#include <sqlite3.h>

#include "nodes/taskd/bug.h"
#include "test/unit.h"
#include "nodes/taskd/command.h"
#include "nodes/taskd/fsm.h"


#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        int rv_ = (expr);                                                      \
        if (rv_ != 0) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s returned %d\n", __FILE__, __LINE__, \
                    __func__, #expr, rv_);                                     \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

/* A scratch directory per test, removed at the end. */
struct scratch {
    char dir[256];
    char db[300];
    char db2[300];
};

static void scratch_init(struct scratch *s)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(s->dir, sizeof s->dir, "%s/test_fsm.XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(s->db, sizeof s->db, "%s/a.db", s->dir);
    snprintf(s->db2, sizeof s->db2, "%s/b.db", s->dir);
}

static void scratch_close(struct scratch *s)
{
    const char *names[] = {"a.db", "a.db-wal", "a.db-shm",
                           "b.db", "b.db-wal", "b.db-shm"};
    char path[400];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
        unlink(path);
    }
    rmdir(s->dir);
}

static struct fsm *open_with(const char *path, unsigned bugs)
{
    struct fsm_options opts = {.bugs = bugs};
    char err[512];
    struct fsm *f;

    if (fsm_open(path, &opts, &f, err, sizeof err) != 0) {
        fprintf(stderr, "fsm_open: %s\n", err);
        exit(1);
    }
    return f;
}

static struct fsm *open_fsm(const char *path)
{
    return open_with(path, 0);
}

/* What an apply did, in short. */
enum res {
    R_APPLIED,  /* "ok":true */
    R_MISMATCH, /* cas_mismatch */
    R_SKIPPED,
    R_BAD,   /* bad_request */
    R_OTHER, /* another error: see last_error */
};

static char last_error[64];

static enum res classify(struct fsm_outcome *out)
{
    const char *error;

    if (out->skipped) {
        return R_SKIPPED;
    }
    if (json_is_true(json_object_get(out->reply, "ok"))) {
        return R_APPLIED;
    }
    error = json_string_value(json_object_get(out->reply, "error"));
    snprintf(last_error, sizeof last_error, "%s", error ? error : "?");
    if (error != NULL && strcmp(error, "cas_mismatch") == 0) {
        return R_MISMATCH;
    }
    if (error != NULL && strcmp(error, "bad_request") == 0) {
        return R_BAD;
    }
    return R_OTHER;
}

/* Apply the encoded @c at @index; the outcome in @out if not NULL. */
static int apply_cmd(struct fsm *f, uint64_t index, const struct command *c,
                     enum res *result, struct fsm_outcome *out)
{
    struct fsm_outcome mine;
    void *buf;
    size_t len;
    int rv;

    rv = command_encode(c, malloc, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    if (out == NULL) {
        out = &mine;
    }
    rv = fsm_apply(f, index, buf, len, out);
    free(buf);
    if (rv == 0) {
        *result = classify(out);
    }
    if (out == &mine && rv == 0) {
        fsm_outcome_clear(out);
    }
    return rv;
}

static int write_at(struct fsm *f, uint64_t index, const char *key,
                    int64_t value, enum res *result)
{
    struct command c = {
        .op = COMMAND_WRITE, .key = (char *)key, .value = value};
    return apply_cmd(f, index, &c, result, NULL);
}

static int cas_at(struct fsm *f, uint64_t index, const char *key, int64_t from,
                  int64_t to, enum res *result)
{
    struct command c = {
        .op = COMMAND_CAS, .key = (char *)key, .from = from, .to = to};
    return apply_cmd(f, index, &c, result, NULL);
}

/* True when @key reads as (@value, @version), or as unset if !@found. */
static bool reads_as(struct fsm *f, const char *key, bool found, int64_t value,
                     int64_t version)
{
    bool got_found;
    int64_t got_value;
    int64_t got_version;

    if (fsm_read(f, key, &got_found, &got_value, &got_version) != 0) {
        return false;
    }
    if (got_found != found) {
        return false;
    }
    return !found || (got_value == value && got_version == version);
}

static void test_fsm_new_database_is_empty(void)
{
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 0);
    CHECK(reads_as(f, "x", false, 0, 0));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_version_counts_successful_writes(void)
{
    enum res r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 10, &r));
    CHECK(r == R_APPLIED);
    CHECK_OK(write_at(f, 2, "x", 11, &r));
    CHECK_OK(cas_at(f, 3, "x", 11, 12, &r));
    CHECK(r == R_APPLIED);
    CHECK(reads_as(f, "x", true, 12, 3));
    CHECK(fsm_applied_index(f) == 3);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_replay_after_reopen_is_skipped(void)
{
    enum res r;
    struct scratch s;
    struct fsm *f;
    uint64_t i;

    scratch_init(&s);
    f = open_fsm(s.db);
    for (i = 1; i <= 20; i++) {
        CHECK_OK(write_at(f, i, i % 2 ? "odd" : "even", (int64_t)i, &r));
        CHECK(r == R_APPLIED);
    }
    fsm_close(f);

    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 20);
    for (i = 1; i <= 20; i++) {
        CHECK_OK(write_at(f, i, i % 2 ? "odd" : "even", 1000, &r));
        CHECK(r == R_SKIPPED);
    }
    CHECK(reads_as(f, "odd", true, 19, 10));
    CHECK(reads_as(f, "even", true, 20, 10));
    /* The next new index applies again. */
    CHECK_OK(write_at(f, 21, "odd", 21, &r));
    CHECK(r == R_APPLIED);
    CHECK(reads_as(f, "odd", true, 21, 11));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_gaps_in_indices_are_fine(void)
{
    enum res r;
    struct scratch s;
    struct fsm *f;

    /* Barriers and configuration entries take indices the FSM never sees. */
    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 3, "x", 1, &r));
    CHECK_OK(write_at(f, 7, "x", 2, &r));
    CHECK(r == R_APPLIED);
    CHECK_OK(write_at(f, 5, "x", 3, &r));
    CHECK(r == R_SKIPPED);
    CHECK(reads_as(f, "x", true, 2, 2));
    CHECK(fsm_applied_index(f) == 7);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_cas_mismatch_leaves_state_unchanged(void)
{
    enum res r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(cas_at(f, 1, "x", 0, 1, &r));
    CHECK(r == R_MISMATCH); /* unset is not 0 */
    CHECK(reads_as(f, "x", false, 0, 0));
    CHECK_OK(write_at(f, 2, "x", 5, &r));
    CHECK_OK(cas_at(f, 3, "x", 4, 6, &r));
    CHECK(r == R_MISMATCH);
    CHECK(reads_as(f, "x", true, 5, 1));
    /* A mismatch still consumes its index. */
    CHECK(fsm_applied_index(f) == 3);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_bad_command_is_applied_as_noop(void)
{
    static const char junk[] = "{\"op\":\"frob\",\"key\":\"x\"}";
    struct fsm_outcome out;
    enum res r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 5, &r));
    CHECK_OK(fsm_apply(f, 2, junk, sizeof junk - 1, &out));
    CHECK(classify(&out) == R_BAD);
    CHECK(json_is_false(json_object_get(out.reply, "ok")));
    CHECK(json_is_null(json_object_get(out.entry, "op")));
    fsm_outcome_clear(&out);
    CHECK_OK(fsm_apply(f, 3, "\xff", 1, &out));
    CHECK(classify(&out) == R_BAD);
    fsm_outcome_clear(&out);
    CHECK(fsm_applied_index(f) == 3);
    CHECK(reads_as(f, "x", true, 5, 1));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_snapshot_restores_same_state_in_fresh_fsm(void)
{
    bool kept;
    enum res r;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;
    int i;

    scratch_init(&s);
    a = open_fsm(s.db);
    for (i = 1; i <= 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 7);
        CHECK_OK(write_at(a, (uint64_t)i, key, i, &r));
    }
    CHECK_OK(cas_at(a, 51, "k1", 50, 99, &r));
    CHECK(r == R_APPLIED);
    CHECK_OK(fsm_snapshot(a, &image, &len));

    b = open_fsm(s.db2);
    CHECK_OK(fsm_restore(b, image, len, false, &kept));
    fsm_snapshot_free(image);
    CHECK(fsm_applied_index(b) == 51);
    CHECK(reads_as(b, "k1", true, 99, 9));
    CHECK(reads_as(b, "k0", true, 49, 7));
    CHECK(reads_as(b, "k6", true, 48, 7));
    /* Restored, then replayed: the snapshot's own indices are skipped. */
    CHECK_OK(write_at(b, 51, "k1", -1, &r));
    CHECK(r == R_SKIPPED);
    CHECK_OK(write_at(b, 52, "k1", 100, &r));
    CHECK(r == R_APPLIED);
    CHECK(reads_as(b, "k1", true, 100, 10));
    fsm_close(b);

    /* It ended on disk. */
    b = open_fsm(s.db2);
    CHECK(fsm_applied_index(b) == 52);
    CHECK(reads_as(b, "k1", true, 100, 10));
    CHECK(reads_as(b, "k0", true, 49, 7));
    fsm_close(b);
    fsm_close(a);
    scratch_close(&s);
}

/* Replicas that applied the same entries have one digest, however they got
 * there (applied, or restored from a snapshot); one entry more or one
 * column different changes it. */
static void test_fsm_digest_is_the_replicated_state(void)
{
    struct fsm_digest da, db;
    bool kept;
    enum res r;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;

    scratch_init(&s);
    a = open_fsm(s.db);
    b = open_fsm(s.db2);
    CHECK_OK(fsm_digest(a, &da));
    CHECK_OK(fsm_digest(b, &db));
    CHECK(da.digest == db.digest && da.applied_index == 0);
    for (int i = 1; i <= 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 5);
        CHECK_OK(write_at(a, (uint64_t)i, key, i, &r));
        CHECK_OK(write_at(b, (uint64_t)i, key, i, &r));
    }
    CHECK_OK(fsm_digest(a, &da));
    CHECK_OK(fsm_digest(b, &db));
    CHECK(da.applied_index == 20 && db.applied_index == 20);
    CHECK(da.digest == db.digest);
    CHECK(strcmp(da.tables[1].name, "kv") == 0 && da.tables[1].rows == 5);

    /* The same value at another version is another state. */
    CHECK_OK(write_at(a, 21, "k1", 16, &r));
    CHECK_OK(fsm_digest(a, &da));
    CHECK(da.digest != db.digest && da.tables[1].digest != db.tables[1].digest);
    CHECK(da.tables[3].digest == db.tables[3].digest); /* leases: empty */

    /* A snapshot restored elsewhere is the same state. */
    CHECK_OK(fsm_snapshot(a, &image, &len));
    CHECK_OK(fsm_restore(b, image, len, false, &kept));
    fsm_snapshot_free(image);
    CHECK_OK(fsm_digest(b, &db));
    CHECK(db.applied_index == 21 && da.digest == db.digest);
    fsm_close(a);
    fsm_close(b);
    scratch_close(&s);
}

static void test_fsm_restore_replaces_rather_than_merges(void)
{
    bool kept;
    enum res r;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;

    scratch_init(&s);
    a = open_fsm(s.db);
    CHECK_OK(write_at(a, 1, "x", 1, &r));
    CHECK_OK(fsm_snapshot(a, &image, &len));

    b = open_fsm(s.db2);
    CHECK_OK(write_at(b, 1, "y", 1, &r));
    CHECK_OK(write_at(b, 2, "x", 7, &r));
    CHECK_OK(write_at(b, 9, "x", 8, &r));
    /* A restore may rewind: libraft restores its last snapshot at start. */
    CHECK_OK(fsm_restore(b, image, len, false, &kept));
    fsm_snapshot_free(image);
    CHECK(fsm_applied_index(b) == 1);
    CHECK(reads_as(b, "y", false, 0, 0));
    CHECK(reads_as(b, "x", true, 1, 1));
    fsm_close(b);
    fsm_close(a);
    scratch_close(&s);
}

static void test_fsm_restore_rejects_garbage_and_keeps_state(void)
{
    bool kept;
    unsigned char junk[4096];
    enum res r;
    struct scratch s;
    struct fsm *f;
    void *image;
    size_t len;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 1, &r));

    memset(junk, 0xab, sizeof junk);
    CHECK(fsm_restore(f, junk, sizeof junk, false, &kept) == -EINVAL);
    CHECK(fsm_restore(f, junk, 10, false, &kept) == -EINVAL);

    /* A valid SQLite file that is not ours. */
    CHECK_OK(fsm_snapshot(f, &image, &len));
    ((unsigned char *)image)[60] ^= 0x7f; /* user_version */
    CHECK(fsm_restore(f, image, len, false, &kept) == -EINVAL);
    fsm_snapshot_free(image);

    CHECK(fsm_applied_index(f) == 1);
    CHECK(reads_as(f, "x", true, 1, 1));
    CHECK_OK(write_at(f, 2, "x", 2, &r));
    CHECK(reads_as(f, "x", true, 2, 2));
    fsm_close(f);
    scratch_close(&s);
}

/* A task request with a rid and leader stamps, at @index. */
static int task_op(struct fsm *f, uint64_t index, const char *text,
                   int64_t ts_ms, enum res *r, struct fsm_outcome *out)
{
    json_t *req = json_loads(text, 0, NULL);
    struct command c;
    char err[256];
    int rv;

    if (req == NULL || command_from_request(req, &c, err, sizeof err) != 0) {
        fprintf(stderr, "test bug: %s\n", text);
        exit(1);
    }
    json_decref(req);
    c.ts_ms = ts_ms;
    c.term = 1;
    c.leader = 1;
    rv = apply_cmd(f, index, &c, r, out);
    command_clear(&c);
    return rv;
}

static int64_t reply_int(struct fsm_outcome *out, const char *field)
{
    return json_integer_value(json_object_get(out->reply, field));
}

static json_t *task_field(struct fsm_outcome *out, const char *field)
{
    return json_object_get(json_object_get(out->reply, "task"), field);
}

static const char create_t1[] =
    "{\"op\":\"create\",\"task_id\":\"t1\",\"payload\":1,\"rid\":\"r1\"}";

static void test_fsm_retry_of_a_rid_returns_first_outcome(void)
{
    struct fsm_outcome out;
    struct scratch s;
    struct fsm *f;
    enum res r;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(task_op(f, 1, create_t1, 10, &r, &out));
    CHECK(r == R_APPLIED && !out.duplicate);
    CHECK(json_is_string(json_object_get(out.entry, "rid")));
    fsm_outcome_clear(&out);
    /* The retry, later in the log: same outcome, applied once. */
    CHECK_OK(task_op(f, 5, create_t1, 20, &r, &out));
    CHECK(r == R_APPLIED && out.duplicate);
    CHECK(reply_int(&out, "index") == 1);
    CHECK(json_is_true(json_object_get(out.reply, "duplicate")));
    CHECK(json_integer_value(task_field(&out, "version")) == 1);
    fsm_outcome_clear(&out);
    /* Without a rid, the same request is a new one. */
    CHECK_OK(task_op(f, 6,
                     "{\"op\":\"create\",\"task_id\":\"t1\",\"payload\":1}", 30,
                     &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "exists") == 0);
    fsm_outcome_clear(&out);
    /* A failed request is remembered as failed. */
    CHECK_OK(task_op(f, 7,
                     "{\"op\":\"delete\",\"task_id\":\"no\",\"rid\":\"r2\"}",
                     40, &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "not_found") == 0);
    fsm_outcome_clear(&out);
    CHECK_OK(task_op(f, 8,
                     "{\"op\":\"create\",\"task_id\":\"no\",\"payload\":0}", 40,
                     &r, NULL));
    CHECK_OK(task_op(f, 9,
                     "{\"op\":\"delete\",\"task_id\":\"no\",\"rid\":\"r2\"}",
                     40, &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "not_found") == 0 &&
          out.duplicate);
    fsm_outcome_clear(&out);
    /* A rid reused for another request is refused, changing nothing. */
    CHECK_OK(task_op(f, 10,
                     "{\"op\":\"create\",\"task_id\":\"t2\",\"payload\":1,"
                     "\"rid\":\"r1\"}",
                     50, &r, &out));
    CHECK(r == R_BAD);
    CHECK(strstr(json_string_value(json_object_get(out.reply, "message")),
                 "different request") != NULL);
    fsm_outcome_clear(&out);
    CHECK_OK(task_op(f, 11,
                     "{\"op\":\"delete\",\"task_id\":\"t1\",\"rid\":\"r1\"}",
                     50, &r, &out));
    CHECK(r == R_BAD);
    fsm_outcome_clear(&out);
    CHECK(fsm_applied_index(f) == 11);
    fsm_close(f);

    /* The table is durable state: it survives a restart. */
    f = open_fsm(s.db);
    CHECK_OK(task_op(f, 12, create_t1, 60, &r, &out));
    CHECK(r == R_APPLIED && out.duplicate && reply_int(&out, "index") == 1);
    fsm_outcome_clear(&out);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_rids_travel_in_snapshots(void)
{
    struct fsm_outcome out;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;
    bool kept;
    enum res r;

    scratch_init(&s);
    a = open_fsm(s.db);
    CHECK_OK(task_op(a, 1, create_t1, 10, &r, NULL));
    CHECK_OK(fsm_snapshot(a, &image, &len));
    b = open_fsm(s.db2);
    CHECK_OK(fsm_restore(b, image, len, false, &kept));
    fsm_snapshot_free(image);
    CHECK(!kept);
    CHECK_OK(task_op(b, 2, create_t1, 20, &r, &out));
    CHECK(r == R_APPLIED && out.duplicate);
    fsm_outcome_clear(&out);
    fsm_close(a);
    fsm_close(b);
    scratch_close(&s);
}

static void test_fsm_rids_expire_after_the_window(void)
{
    struct fsm_options opts = {.dedup_window = 10};
    struct fsm_outcome out;
    struct scratch s;
    char err[256];
    struct fsm *f;
    enum res r;

    scratch_init(&s);
    CHECK_OK(fsm_open(s.db, &opts, &f, err, sizeof err));
    CHECK_OK(task_op(f, 1, create_t1, 10, &r, NULL));
    CHECK_OK(task_op(f, 11, create_t1, 10, &r, &out)); /* 1 + 10: still kept */
    CHECK(out.duplicate);
    fsm_outcome_clear(&out);
    /* Index 12 prunes what is at or below 2. */
    CHECK_OK(task_op(f, 12,
                     "{\"op\":\"write\",\"key\":\"k\",\"value\":1,"
                     "\"rid\":\"other\"}",
                     10, &r, NULL));
    CHECK_OK(task_op(f, 13, create_t1, 10, &r, &out));
    CHECK(!out.duplicate && r == R_OTHER && strcmp(last_error, "exists") == 0);
    fsm_outcome_clear(&out);
    fsm_close(f);
    scratch_close(&s);
}

static const char enqueue_q[] =
    "{\"op\":\"enqueue\",\"task_id\":\"q\",\"payload\":1}";
static const char claim_w1[] =
    "{\"op\":\"claim\",\"worker\":\"w1\",\"lease_ms\":100}";
static const char claim_w2[] =
    "{\"op\":\"claim\",\"worker\":\"w2\",\"lease_ms\":100}";

static void test_fsm_clock_is_the_entries_and_never_goes_back(void)
{
    struct fsm_outcome out;
    struct scratch s;
    struct fsm *f;
    enum res r;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK(fsm_clock_ms(f) == 0);
    CHECK_OK(task_op(f, 1, enqueue_q, 1000, &r, NULL));
    CHECK_OK(task_op(f, 2, claim_w1, 1000, &r, &out));
    CHECK(r == R_APPLIED && reply_int(&out, "now_ms") == 1000);
    CHECK(json_integer_value(task_field(&out, "lease_expires_ms")) == 1100);
    fsm_outcome_clear(&out);
    CHECK_OK(task_op(f, 3, "{\"op\":\"write\",\"key\":\"k\",\"value\":1}", 1200,
                     &r, NULL));
    CHECK(fsm_clock_ms(f) == 1200);
    /* A new leader whose clock is behind: the state machine's clock still
     * says the lease expired. */
    CHECK_OK(task_op(f, 4, claim_w2, 900, &r, &out));
    CHECK(r == R_APPLIED && reply_int(&out, "now_ms") == 1200);
    fsm_outcome_clear(&out);
    CHECK(fsm_clock_ms(f) == 1200);
    fsm_close(f);
    f = open_fsm(s.db);
    CHECK(fsm_clock_ms(f) == 1200);
    fsm_close(f);
    scratch_close(&s);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static void test_fsm_lease_local_clock_bug_judges_by_the_node(void)
{
    struct fsm_options opts = {.bugs = BUG_LEASE_LOCAL_CLOCK,
                               .local_clock_ms = fake_clock};
    struct fsm_outcome out;
    struct scratch s;
    char err[256];
    struct fsm *f;
    struct fsm *g;
    enum res r;

    /* Two replicas apply the same entries; their clocks differ. */
    scratch_init(&s);
    CHECK_OK(fsm_open(s.db, &opts, &f, err, sizeof err));
    CHECK_OK(fsm_open(s.db2, &opts, &g, err, sizeof err));
    fake_now = 1000;
    CHECK_OK(task_op(f, 1, enqueue_q, 1000, &r, NULL));
    CHECK_OK(task_op(f, 2, claim_w1, 1000, &r, NULL));
    CHECK_OK(task_op(g, 1, enqueue_q, 1000, &r, NULL));
    CHECK_OK(task_op(g, 2, claim_w1, 1000, &r, NULL));
    /* The entry says 1050; one node's clock says 1050, the other's 2000. */
    fake_now = 1050;
    CHECK_OK(task_op(f, 3, claim_w2, 1050, &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "empty") == 0);
    fsm_outcome_clear(&out);
    fake_now = 2000;
    CHECK_OK(task_op(g, 3, claim_w2, 1050, &r, &out));
    CHECK(r == R_APPLIED); /* the replicas now disagree on who runs q */
    fsm_outcome_clear(&out);
    {
        struct fsm_digest df, dg;
        CHECK_OK(fsm_digest(f, &df));
        CHECK_OK(fsm_digest(g, &dg));
        CHECK(df.applied_index == 3 && dg.applied_index == 3);
        CHECK(df.digest != dg.digest); /* what convergence checks see */
    }
    fsm_close(f);
    fsm_close(g);

    /* Without the bug both judge at the entry's time. */
    opts.bugs = 0;
    unlink(s.db2);
    CHECK_OK(fsm_open(s.db2, &opts, &g, err, sizeof err));
    CHECK_OK(task_op(g, 1, enqueue_q, 1000, &r, NULL));
    CHECK_OK(task_op(g, 2, claim_w1, 1000, &r, NULL));
    CHECK_OK(task_op(g, 3, claim_w2, 1050, &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "empty") == 0);
    fsm_outcome_clear(&out);
    fsm_close(g);
    scratch_close(&s);
}

static void test_fsm_no_dedup_bug_applies_retries_again(void)
{
    struct fsm_outcome out;
    struct scratch s;
    struct fsm *f;
    enum res r;

    scratch_init(&s);
    f = open_with(s.db, BUG_NO_DEDUP);
    CHECK_OK(task_op(f, 1, create_t1, 10, &r, NULL));
    CHECK(r == R_APPLIED);
    CHECK_OK(task_op(f, 2, create_t1, 10, &r, &out));
    CHECK(r == R_OTHER && strcmp(last_error, "exists") == 0 && !out.duplicate);
    fsm_outcome_clear(&out);
    fsm_close(f);
    scratch_close(&s);
}

/* A crash, as the database sees it: another connection opens the file
 * while the first is still open and never closed cleanly. */
static void test_fsm_crash_replay_is_skipped_but_not_with_unsynced_state(void)
{
    struct scratch s;
    struct fsm *f;
    struct fsm *crashed;
    bool found;
    int64_t value;
    int64_t version;
    enum res r;
    uint64_t i;

    scratch_init(&s);
    crashed = open_fsm(s.db);
    for (i = 1; i <= 10; i++) {
        CHECK_OK(write_at(crashed, i, "k", (int64_t)i, &r));
    }
    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 10);
    for (i = 1; i <= 10; i++) {
        CHECK_OK(write_at(f, i, "k", (int64_t)i, &r));
        CHECK(r == R_SKIPPED);
    }
    CHECK_OK(fsm_read(f, "k", &found, &value, &version));
    CHECK(version == 10);
    fsm_close(f);
    fsm_close(crashed);
    scratch_close(&s);

    scratch_init(&s);
    crashed = open_with(s.db, BUG_UNSYNCED_STATE);
    for (i = 1; i <= 10; i++) {
        CHECK_OK(write_at(crashed, i, "k", (int64_t)i, &r));
    }
    f = open_with(s.db, BUG_UNSYNCED_STATE);
    CHECK(fsm_applied_index(f) == 0);
    for (i = 1; i <= 10; i++) {
        CHECK_OK(write_at(f, i, "k", (int64_t)i, &r));
        CHECK(r == R_APPLIED); /* again */
    }
    CHECK_OK(fsm_read(f, "k", &found, &value, &version));
    CHECK(version == 20);
    fsm_close(f);
    fsm_close(crashed);
    scratch_close(&s);
}

static void test_fsm_unsynced_state_bug_writes_index_every_n(void)
{
    struct scratch s;
    struct fsm *f;
    struct fsm *g;
    enum res r;
    uint64_t i;

    scratch_init(&s);
    f = open_with(s.db, BUG_UNSYNCED_STATE);
    for (i = 1; i <= FSM_UNSYNCED_EVERY + 5; i++) {
        CHECK_OK(write_at(f, i, "k", (int64_t)i, &r));
    }
    g = open_fsm(s.db);
    CHECK(fsm_applied_index(g) == FSM_UNSYNCED_EVERY);
    fsm_close(g);
    fsm_close(f); /* a clean close writes it */
    g = open_fsm(s.db);
    CHECK(fsm_applied_index(g) == FSM_UNSYNCED_EVERY + 5);
    fsm_close(g);
    scratch_close(&s);
}

static void test_fsm_restore_at_start_keeps_a_database_ahead(void)
{
    struct scratch s;
    struct fsm *f;
    void *image;
    size_t len;
    bool kept;
    enum res r;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "k", 1, &r));
    CHECK_OK(fsm_snapshot(f, &image, &len));
    CHECK_OK(write_at(f, 2, "k", 2, &r));
    CHECK_OK(fsm_restore(f, image, len, true, &kept));
    CHECK(kept && fsm_applied_index(f) == 2);
    CHECK_OK(fsm_restore(f, image, len, false, &kept));
    CHECK(!kept && fsm_applied_index(f) == 1);
    CHECK_OK(write_at(f, 2, "k", 3, &r));
    CHECK(r == R_APPLIED);
    /* Behind the image: restored even when asked to keep. */
    fsm_snapshot_free(image);
    CHECK_OK(fsm_snapshot(f, &image, &len));
    fsm_close(f);
    f = open_fsm(s.db2);
    CHECK_OK(fsm_restore(f, image, len, true, &kept));
    CHECK(!kept && fsm_applied_index(f) == 2);
    fsm_snapshot_free(image);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_injected_commit_failure_changes_nothing(void)
{
    struct scratch s;
    struct fsm *f;
    bool found;
    int64_t value;
    int64_t version;
    enum res r;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "k", 1, &r));
    CHECK(fiu_enable("taskd/sqlite/commit", 1, (void *)(intptr_t)EIO,
                     FIU_ONETIME) == 0);
    CHECK(write_at(f, 2, "k", 2, &r) == -EIO);
    CHECK(strstr(fsm_errmsg(f), "taskd/sqlite/commit") != NULL);
    CHECK(fsm_errcode(f) == SQLITE_IOERR);
    CHECK(fsm_applied_index(f) == 1);
    CHECK_OK(fsm_read(f, "k", &found, &value, &version));
    CHECK(value == 1 && version == 1);
    /* One time only: the retry goes through. */
    CHECK_OK(write_at(f, 2, "k", 2, &r));
    CHECK(r == R_APPLIED && fsm_applied_index(f) == 2);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_reads_tasks_and_leases(void)
{
    struct command get = {.op = COMMAND_GET, .key = "t1"};
    struct command holder = {.op = COMMAND_HOLDER, .key = "s"};
    struct scratch s;
    struct fsm *f;
    json_t *reply;
    char *pick;
    bool exists;
    enum res r;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(task_op(f, 1, create_t1, 10, &r, NULL));
    CHECK_OK(fsm_query(f, &get, 0, &reply));
    CHECK(json_integer_value(
              json_object_get(json_object_get(reply, "task"), "version")) == 1);
    json_decref(reply);
    CHECK_OK(fsm_task_exists(f, "t1", &exists));
    CHECK(exists);
    CHECK_OK(fsm_task_exists(f, "t2", &exists));
    CHECK(!exists);
    CHECK_OK(task_op(f, 2,
                     "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"h\","
                     "\"ttl_ms\":100}",
                     1000, &r, NULL));
    /* A reader's clock behind the state machine's does not revive or kill
     * leases: reads judge at max(now, clock). */
    CHECK_OK(fsm_query(f, &holder, 0, &reply));
    CHECK(json_is_string(json_object_get(reply, "holder")));
    CHECK(json_integer_value(json_object_get(reply, "now_ms")) == 1000);
    json_decref(reply);
    CHECK_OK(fsm_query(f, &holder, 1100, &reply));
    CHECK(json_is_null(json_object_get(reply, "holder")));
    json_decref(reply);
    CHECK_OK(task_op(f, 3, enqueue_q, 1000, &r, NULL));
    CHECK_OK(fsm_pick_claim(f, 0, &pick));
    CHECK(pick != NULL && strcmp(pick, "q") == 0);
    free(pick);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_opens_a_v0_database(void)
{
    struct scratch s;
    sqlite3 *db;
    struct fsm *f;
    bool found;
    int64_t value;
    int64_t version;
    enum res r;

    scratch_init(&s);
    CHECK(sqlite3_open(s.db, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE kv (key TEXT PRIMARY KEY, value INTEGER "
                       "NOT NULL, version INTEGER NOT NULL);"
                       "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = "
                       "1), applied_index INTEGER NOT NULL);"
                       "INSERT INTO meta VALUES (1, 7);"
                       "INSERT INTO kv VALUES ('k', 3, 2);"
                       "PRAGMA user_version = 1;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 7 && fsm_clock_ms(f) == 0);
    CHECK_OK(fsm_read(f, "k", &found, &value, &version));
    CHECK(found && value == 3 && version == 2);
    CHECK_OK(task_op(f, 8, create_t1, 10, &r, NULL));
    CHECK(r == R_APPLIED);
    fsm_close(f);
    scratch_close(&s);
}

/* splitmix64 */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define MODEL_KEYS 5

static void test_fsm_random_ops_match_model(void)
{
    struct {
        bool set;
        int64_t value;
        int64_t version;
    } model[MODEL_KEYS] = {{0}};
    enum res r;
    struct scratch s;
    struct fsm *f;
    uint64_t index = 0;
    int step;
    int k;

    scratch_init(&s);
    f = open_fsm(s.db);
    for (step = 0; step < 400; step++) {
        char key[8];
        int64_t a = (int64_t)(rnd() % 4);
        int64_t b = (int64_t)(rnd() % 4);
        unsigned what = (unsigned)(rnd() % 10);

        k = (int)(rnd() % MODEL_KEYS);
        snprintf(key, sizeof key, "k%d", k);
        if (what < 4) {
            index += 1 + rnd() % 3;
            CHECK_OK(write_at(f, index, key, a, &r));
            CHECK(r == R_APPLIED);
            model[k].set = true;
            model[k].value = a;
            model[k].version++;
        } else if (what < 8) {
            bool match = model[k].set && model[k].value == a;
            index += 1 + rnd() % 3;
            CHECK_OK(cas_at(f, index, key, a, b, &r));
            CHECK(r == (match ? R_APPLIED : R_MISMATCH));
            if (match) {
                model[k].value = b;
                model[k].version++;
            }
        } else if (what == 8) {
            /* Replay an index already applied: must change nothing. */
            CHECK_OK(write_at(f, index - rnd() % (index + 1), key, 77, &r));
            CHECK(r == R_SKIPPED);
        } else {
            fsm_close(f);
            f = open_fsm(s.db);
            CHECK(fsm_applied_index(f) == index);
        }
        for (k = 0; k < MODEL_KEYS; k++) {
            snprintf(key, sizeof key, "k%d", k);
            CHECK(reads_as(f, key, model[k].set, model[k].value,
                           model[k].version));
        }
    }
    fsm_close(f);
    scratch_close(&s);
}

int main(int argc, char *argv[])
{
    const char *seed_text = argc > 1 ? argv[1] : getenv("FAULTLINE_SEED");
    uint64_t seed;

    seed = seed_text != NULL ? strtoull(seed_text, NULL, 0)
                             : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    printf("test_fsm: seed %" PRIu64 "\n", seed);
    fflush(stdout);
    rng_state = seed;
    fiu_init(0);

    test_fsm_new_database_is_empty();
    test_fsm_version_counts_successful_writes();
    test_fsm_replay_after_reopen_is_skipped();
    test_fsm_gaps_in_indices_are_fine();
    test_fsm_cas_mismatch_leaves_state_unchanged();
    test_fsm_bad_command_is_applied_as_noop();
    test_fsm_snapshot_restores_same_state_in_fresh_fsm();
    test_fsm_digest_is_the_replicated_state();
    test_fsm_restore_replaces_rather_than_merges();
    test_fsm_restore_rejects_garbage_and_keeps_state();
    test_fsm_random_ops_match_model();
    test_fsm_retry_of_a_rid_returns_first_outcome();
    test_fsm_rids_travel_in_snapshots();
    test_fsm_rids_expire_after_the_window();
    test_fsm_clock_is_the_entries_and_never_goes_back();
    test_fsm_lease_local_clock_bug_judges_by_the_node();
    test_fsm_no_dedup_bug_applies_retries_again();
    test_fsm_crash_replay_is_skipped_but_not_with_unsynced_state();
    test_fsm_unsynced_state_bug_writes_index_every_n();
    test_fsm_restore_at_start_keeps_a_database_ahead();
    test_fsm_injected_commit_failure_changes_nothing();
    test_fsm_reads_tasks_and_leases();
    test_fsm_opens_a_v0_database();

    if (failures > 0) {
        printf("test_fsm: %d FAILED (seed %" PRIu64 ")\n", failures, seed);
        return 1;
    }
    printf("test_fsm: ok\n");
    return 0;
}
