/* fsm: the SQLite state machine.
 *
 * Happy path: fsm_apply() runs BEGIN IMMEDIATE; the deduplication check
 * (requests table: rid -> first outcome); the operation (store.c); the
 * outcome recorded under its rid; the meta row (applied index, clock);
 * COMMIT. All of it in one transaction, so after a crash the database says
 * exactly which entries it holds and what it answered, and replaying the
 * Raft log skips them.
 *
 * Failure modes: any SQLite error inside a transaction rolls it back and
 * returns -EIO with SQLite's text; the caller (fsm_raft.c) then fail-stops.
 * The libfiu point taskd/sqlite/commit fails the COMMIT the same way. A
 * restore from a bad image is refused (-EINVAL) before the live database is
 * touched.
 *
 * Request ids are remembered for dedup_window log entries: the row of a rid
 * applied at index i is deleted once an entry past i + window is applied.
 * A retry that comes later than that is applied again; clients must stop
 * retrying long before (65536 entries is over a minute at full speed).
 *
 * Snapshots are the raw database image (sqlite3_serialize); restore loads the
 * image into an in-memory database, checks it, and copies it over the live
 * one with the backup API, which SQLite commits as one transaction. */
#include "nodes/taskd/fsm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fiu.h>
#include <sqlite3.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/reply.h"
#include "nodes/taskd/store.h"

#define FSM_SCHEMA_VERSION 2

struct fsm {
    sqlite3 *db;
    struct store *store;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *set_meta;
    sqlite3_stmt *dedup_get;
    sqlite3_stmt *dedup_put;
    sqlite3_stmt *dedup_prune;
    struct fsm_options opts;
    uint64_t applied;         /* cache of meta.applied_index */
    uint64_t applied_on_disk; /* --bug unsynced-state: what meta says */
    int64_t clock_ms;         /* cache of meta.clock_ms */
    int errcode;
    char errmsg[512];
};

static const char tables[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  applied_index INTEGER NOT NULL,"
    "  clock_ms INTEGER NOT NULL DEFAULT 0);"
    "INSERT OR IGNORE INTO meta (id, applied_index) VALUES (1, 0);"
    "CREATE TABLE IF NOT EXISTS requests ("
    "  rid TEXT PRIMARY KEY,"
    "  idx INTEGER NOT NULL,"
    "  op TEXT NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS requests_by_index ON requests (idx);";

static bool bug(const struct fsm *f, enum bug b)
{
    return bug_on(f->opts.bugs, b);
}

/* Record SQLite's view of error @rc while doing @what; returns -EIO. */
static int sqlite_fail(struct fsm *f, sqlite3 *db, int rc, const char *what)
{
    f->errcode = rc;
    snprintf(f->errmsg, sizeof f->errmsg, "%s: %s (%d): %s", what,
             sqlite3_errstr(rc), rc, db != NULL ? sqlite3_errmsg(db) : "");
    return -EIO;
}

/* Take the store's last error as ours. */
static int store_fail(struct fsm *f, int rv)
{
    if (rv == -EIO) {
        f->errcode = store_errcode(f->store);
        snprintf(f->errmsg, sizeof f->errmsg, "%s", store_errmsg(f->store));
    } else {
        f->errcode = SQLITE_NOMEM;
        snprintf(f->errmsg, sizeof f->errmsg, "out of memory");
    }
    return rv;
}

static int invalid(struct fsm *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int invalid(struct fsm *f, const char *fmt, ...)
{
    va_list ap;

    f->errcode = 0;
    va_start(ap, fmt);
    vsnprintf(f->errmsg, sizeof f->errmsg, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static void done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Run a statement that returns no rows, and reset it. */
static int run(struct fsm *f, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    done(stmt);
    if (rc != SQLITE_DONE) {
        return sqlite_fail(f, f->db, rc, what);
    }
    return 0;
}

static const struct {
    size_t offset;
    const char *sql;
} statements[] = {
    {offsetof(struct fsm, begin), "BEGIN IMMEDIATE"},
    {offsetof(struct fsm, commit), "COMMIT"},
    {offsetof(struct fsm, rollback), "ROLLBACK"},
    {offsetof(struct fsm, set_meta),
     "UPDATE meta SET applied_index = ?1, clock_ms = ?2 WHERE id = 1"},
    {offsetof(struct fsm, dedup_get),
     "SELECT op, fingerprint, outcome FROM requests WHERE rid = ?1"},
    {offsetof(struct fsm, dedup_put),
     "INSERT INTO requests (rid, idx, op, fingerprint, outcome) "
     "VALUES (?1, ?2, ?3, ?4, ?5)"},
    {offsetof(struct fsm, dedup_prune), "DELETE FROM requests WHERE idx <= ?1"},
};

#define N_STATEMENTS (sizeof statements / sizeof statements[0])

static sqlite3_stmt **stmt_at(struct fsm *f, size_t i)
{
    return (sqlite3_stmt **)((char *)f + statements[i].offset);
}

static void finalize_statements(struct fsm *f)
{
    size_t i;

    for (i = 0; i < N_STATEMENTS; i++) {
        sqlite3_finalize(*stmt_at(f, i));
        *stmt_at(f, i) = NULL;
    }
    store_close(f->store);
    f->store = NULL;
}

static int prepare_statements(struct fsm *f)
{
    size_t i;
    int rc;

    for (i = 0; i < N_STATEMENTS; i++) {
        rc = sqlite3_prepare_v3(f->db, statements[i].sql, -1,
                                SQLITE_PREPARE_PERSISTENT, stmt_at(f, i), NULL);
        if (rc != SQLITE_OK) {
            finalize_statements(f);
            return sqlite_fail(f, f->db, rc, statements[i].sql);
        }
    }
    rc = store_open(f->db, &f->store);
    if (rc != SQLITE_OK) {
        finalize_statements(f);
        return sqlite_fail(f, f->db, rc, "store statements");
    }
    return 0;
}

/* One integer from a one-row query on @db. */
static int query_int(struct fsm *f, sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *stmt;
    int rc;

    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(f, db, rc, sql);
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return sqlite_fail(f, db, rc == SQLITE_DONE ? SQLITE_NOTFOUND : rc,
                           sql);
    }
    *out = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return 0;
}

static int load_meta(struct fsm *f)
{
    int64_t applied;
    int64_t clock;
    int rv;

    rv = query_int(f, f->db, "SELECT applied_index FROM meta WHERE id = 1",
                   &applied);
    if (rv == 0) {
        rv = query_int(f, f->db, "SELECT clock_ms FROM meta WHERE id = 1",
                       &clock);
    }
    if (rv != 0) {
        return rv;
    }
    f->applied = (uint64_t)applied;
    f->applied_on_disk = f->applied;
    f->clock_ms = clock;
    return 0;
}

static int exec(struct fsm *f, const char *sql)
{
    int rc = sqlite3_exec(f->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return sqlite_fail(f, f->db, rc, sql);
    }
    return 0;
}

static int journal_mode_wal(struct fsm *f, bool *wal)
{
    sqlite3_stmt *stmt;
    int rc;

    rc =
        sqlite3_prepare_v2(f->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(f, f->db, rc, "journal_mode");
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return sqlite_fail(f, f->db, rc, "journal_mode");
    }
    *wal = strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") == 0;
    sqlite3_finalize(stmt);
    return 0;
}

/* Create the tables, or bring a version 1 (taskd v0) database up to date. */
static int create_tables(struct fsm *f, int64_t version)
{
    int rc;
    int rv;

    rv = exec(f, "BEGIN IMMEDIATE");
    if (rv != 0) {
        return rv;
    }
    if (version == 1) {
        rv = exec(f, "ALTER TABLE meta ADD COLUMN clock_ms INTEGER NOT NULL "
                     "DEFAULT 0");
    }
    if (rv == 0) {
        rv = exec(f, tables);
    }
    if (rv == 0) {
        rc = store_create_tables(f->db);
        rv = rc == SQLITE_OK ? 0 : sqlite_fail(f, f->db, rc, "store tables");
    }
    if (rv == 0) {
        rv = exec(f, "PRAGMA user_version = 2");
    }
    if (rv == 0) {
        rv = exec(f, "COMMIT");
    }
    if (rv != 0) {
        sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rv;
}

static int setup(struct fsm *f)
{
    int64_t version;
    bool wal;
    int rv;

    /* WAL, and synchronous=NORMAL: a commit reaches the WAL file but is only
     * fsync'ed at checkpoints, so a power loss (not a process crash: the OS
     * still has the pages) can take the last few transactions away. That is
     * safe here because the database is never the only copy of anything:
     *   - an entry is applied only once Raft committed it, i.e. it is
     *     fsync'ed in the Raft log of a majority, and libraft fsyncs its
     *     snapshots before it trims the log;
     *   - WAL keeps each transaction atomic and in order, so what a power
     *     loss leaves is an older prefix of the applied entries with the
     *     matching applied index (same transaction), never a torn state;
     *   - at start, libraft offers its last snapshot: it replaces the
     *     database unless the database already holds it (fsm_restore), and
     *     the entries after the database's applied index are still in the
     *     log (libraft keeps everything after its last snapshot), so the
     *     replay puts back whatever the power loss took.
     * FULL would add an fsync per applied entry for nothing. The one thing
     * this relies on is the Raft log being durable, which is libraft's job
     * (it fsyncs appends before acknowledging them).
     *
     * --bug unsynced-state: synchronous=OFF, and the applied index written
     * apart from the state (every FSM_UNSYNCED_EVERY entries). */
    rv = journal_mode_wal(f, &wal);
    if (rv != 0) {
        return rv;
    }
    if (!wal) {
        return invalid(f, "can't switch the database to WAL mode");
    }
    rv = exec(f, bug(f, BUG_UNSYNCED_STATE) ? "PRAGMA synchronous = OFF"
                                            : "PRAGMA synchronous = NORMAL");
    if (rv != 0) {
        return rv;
    }
    rv = query_int(f, f->db, "PRAGMA user_version", &version);
    if (rv != 0) {
        return rv;
    }
    if (version != 0 && version != 1 && version != FSM_SCHEMA_VERSION) {
        return invalid(f, "schema version %lld, expected %d",
                       (long long)version, FSM_SCHEMA_VERSION);
    }
    rv = create_tables(f, version);
    if (rv != 0) {
        return rv;
    }
    rv = prepare_statements(f);
    if (rv != 0) {
        return rv;
    }
    return load_meta(f);
}

int fsm_open(const char *path, const struct fsm_options *opts, struct fsm **out,
             char *err, size_t errlen)
{
    struct fsm *f;
    int rc;
    int rv;

    f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (opts != NULL) {
        f->opts = *opts;
    }
    if (f->opts.dedup_window == 0) {
        f->opts.dedup_window = FSM_DEDUP_WINDOW;
    }
    rc = sqlite3_open_v2(
        path, &f->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rv = sqlite_fail(f, f->db, rc, "open");
        goto err_close;
    }
    sqlite3_extended_result_codes(f->db, 1);
    rv = setup(f);
    if (rv != 0) {
        goto err_close;
    }
    *out = f;
    return 0;

err_close:
    snprintf(err, errlen, "%s: %s", path, f->errmsg);
    finalize_statements(f);
    sqlite3_close(f->db);
    free(f);
    return rv;
}

/* --bug unsynced-state: write the applied index, in its own transaction. */
static int sync_applied(struct fsm *f)
{
    int rv;

    if (f->applied_on_disk == f->applied) {
        return 0;
    }
    sqlite3_bind_int64(f->set_meta, 1, (sqlite3_int64)f->applied);
    sqlite3_bind_int64(f->set_meta, 2, f->clock_ms);
    rv = run(f, f->set_meta, "set applied index");
    if (rv == 0) {
        f->applied_on_disk = f->applied;
    }
    return rv;
}

void fsm_close(struct fsm *f)
{
    if (f == NULL) {
        return;
    }
    if (bug(f, BUG_UNSYNCED_STATE)) {
        sync_applied(f);
    }
    finalize_statements(f);
    sqlite3_close(f->db);
    free(f);
}

void fsm_outcome_clear(struct fsm_outcome *out)
{
    json_decref(out->reply);
    json_decref(out->entry);
    memset(out, 0, sizeof *out);
}

static int64_t realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t local_clock_ms(const struct fsm *f)
{
    return f->opts.local_clock_ms != NULL ? f->opts.local_clock_ms()
                                          : realtime_ms();
}

/* The time an entry stamped @ts_ms is judged at. */
static int64_t apply_time(const struct fsm *f, int64_t ts_ms)
{
    if (bug(f, BUG_LEASE_LOCAL_CLOCK)) {
        return local_clock_ms(f); /* differs from node to node */
    }
    return ts_ms > f->clock_ms ? ts_ms : f->clock_ms;
}

static json_t *entry_json(const struct command *c)
{
    return json_pack("{s:s, s:o, s:I, s:I, s:I}", "op", command_op_name(c->op),
                     "rid", c->rid != NULL ? json_string(c->rid) : json_null(),
                     "term", (json_int_t)c->term, "ts_ms", (json_int_t)c->ts_ms,
                     "leader", (json_int_t)c->leader);
}

/* The first outcome of request @c->rid into @reply, or NULL if it is new.
 * A rid reused for a different request is refused. */
static int dedup_lookup(struct fsm *f, const struct command *c,
                        uint64_t fingerprint, json_t **reply)
{
    const char *op;
    const char *outcome;
    int rc;

    *reply = NULL;
    sqlite3_bind_text(f->dedup_get, 1, c->rid, -1, SQLITE_STATIC);
    rc = sqlite3_step(f->dedup_get);
    if (rc == SQLITE_ROW) {
        op = (const char *)sqlite3_column_text(f->dedup_get, 0);
        outcome = (const char *)sqlite3_column_text(f->dedup_get, 2);
        if ((uint64_t)sqlite3_column_int64(f->dedup_get, 1) != fingerprint) {
            *reply = reply_error("bad_request", true,
                                 "rid \"%.64s\" was used for a different "
                                 "request (a %s)",
                                 c->rid, op);
        } else {
            *reply = json_loads(outcome, 0, NULL);
            if (*reply != NULL) {
                json_object_set_new(*reply, "duplicate", json_true());
            }
        }
        if (*reply == NULL) {
            done(f->dedup_get);
            return store_fail(f, -ENOMEM);
        }
    }
    done(f->dedup_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return sqlite_fail(f, f->db, rc, "dedup lookup");
    }
    return 0;
}

static int dedup_record(struct fsm *f, const struct command *c, uint64_t index,
                        uint64_t fingerprint, json_t *reply)
{
    char *outcome = json_dumps(reply, JSON_COMPACT);
    int rv;

    if (outcome == NULL) {
        return store_fail(f, -ENOMEM);
    }
    sqlite3_bind_text(f->dedup_put, 1, c->rid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f->dedup_put, 2, (sqlite3_int64)index);
    sqlite3_bind_text(f->dedup_put, 3, command_op_name(c->op), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(f->dedup_put, 4, (sqlite3_int64)fingerprint);
    sqlite3_bind_text(f->dedup_put, 5, outcome, -1, SQLITE_STATIC);
    rv = run(f, f->dedup_put, "dedup record");
    free(outcome);
    if (rv != 0 || index <= f->opts.dedup_window) {
        return rv;
    }
    sqlite3_bind_int64(f->dedup_prune, 1,
                       (sqlite3_int64)(index - f->opts.dedup_window));
    return run(f, f->dedup_prune, "dedup prune");
}

/* The state change of decoded command @c, inside the open transaction. */
static int apply_command(struct fsm *f, const struct command *c, uint64_t index,
                         struct fsm_outcome *out)
{
    bool dedup = c->rid != NULL && !bug(f, BUG_NO_DEDUP);
    uint64_t fingerprint = 0;
    int rv;

    if (dedup) {
        rv = command_fingerprint(c, &fingerprint);
        if (rv != 0) {
            return store_fail(f, -ENOMEM);
        }
        rv = dedup_lookup(f, c, fingerprint, &out->reply);
        if (rv != 0 || out->reply != NULL) {
            out->duplicate = out->reply != NULL;
            return rv;
        }
    }
    rv = store_apply(f->store, c, index, apply_time(f, c->ts_ms), &out->reply);
    if (rv != 0) {
        return store_fail(f, rv);
    }
    if (dedup) {
        rv = dedup_record(f, c, index, fingerprint, out->reply);
    }
    return rv;
}

/* The libfiu point taskd/sqlite/commit: fail like a real I/O error. */
static int injected_commit_failure(struct fsm *f)
{
    int err;

    if (!fiu_fail("taskd/sqlite/commit")) {
        return 0;
    }
    err = (int)(intptr_t)fiu_failinfo();
    f->errcode = err == ENOSPC ? SQLITE_FULL : SQLITE_IOERR;
    snprintf(f->errmsg, sizeof f->errmsg,
             "commit: %s (%d): injected by libfiu point taskd/sqlite/commit "
             "(errno %d)",
             sqlite3_errstr(f->errcode), f->errcode, err);
    return -EIO;
}

int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_outcome *out)
{
    struct command c;
    int64_t clock;
    char why[160];
    bool decoded;
    int rv;

    memset(out, 0, sizeof *out);
    if (index <= f->applied) {
        out->skipped = true;
        return 0;
    }
    rv = command_decode(buf, len, &c, why, sizeof why);
    if (rv == -ENOMEM) {
        return store_fail(f, -ENOMEM);
    }
    decoded = rv == 0;
    rv = run(f, f->begin, "begin");
    if (rv != 0) {
        goto out;
    }
    clock = f->clock_ms;
    if (decoded) {
        out->entry = entry_json(&c);
        rv = apply_command(f, &c, index, out);
        if (rv != 0) {
            goto err_rollback;
        }
        if (c.ts_ms > clock) {
            clock = c.ts_ms;
        }
    } else {
        out->entry = json_pack("{s:n, s:s}", "op", "error", why);
        if (out->entry == NULL) { /* @why quotes bytes cut mid-UTF-8 */
            out->entry = json_pack("{s:n, s:s}", "op", "error", "undecodable");
        }
        out->reply = reply_error("bad_request", true,
                                 "the state machine could not decode the "
                                 "command: %s",
                                 why);
    }
    if (out->reply == NULL || out->entry == NULL) {
        rv = store_fail(f, -ENOMEM);
        goto err_rollback;
    }
    sqlite3_bind_int64(f->set_meta, 1,
                       (sqlite3_int64)(bug(f, BUG_UNSYNCED_STATE)
                                           ? f->applied_on_disk
                                           : index));
    sqlite3_bind_int64(f->set_meta, 2, clock);
    rv = run(f, f->set_meta, "set applied index");
    if (rv == 0) {
        rv = injected_commit_failure(f);
    }
    if (rv == 0) {
        rv = run(f, f->commit, "commit");
    }
    if (rv != 0) {
        goto err_rollback;
    }
    f->applied = index;
    f->clock_ms = clock;
    if (!bug(f, BUG_UNSYNCED_STATE)) {
        f->applied_on_disk = index;
    } else if (index - f->applied_on_disk >= FSM_UNSYNCED_EVERY) {
        rv = sync_applied(f);
    }
    goto out;

err_rollback:
    if (!sqlite3_get_autocommit(f->db)) {
        sqlite3_step(f->rollback);
        sqlite3_reset(f->rollback);
    }
    fsm_outcome_clear(out);
out:
    if (decoded) {
        command_clear(&c);
    }
    return rv;
}

static int64_t read_time(const struct fsm *f, int64_t now_ms)
{
    if (bug(f, BUG_LEASE_LOCAL_CLOCK)) {
        return local_clock_ms(f);
    }
    return now_ms > f->clock_ms ? now_ms : f->clock_ms;
}

int fsm_query(struct fsm *f, const struct command *c, int64_t now_ms,
              json_t **reply)
{
    int rv = store_query(f->store, c, read_time(f, now_ms), reply);

    return rv != 0 ? store_fail(f, rv) : 0;
}

int fsm_read(struct fsm *f, const char *key, bool *found, int64_t *value,
             int64_t *version)
{
    int rv = store_read(f->store, key, found, value, version);

    return rv != 0 ? store_fail(f, rv) : 0;
}

int fsm_pick_claim(struct fsm *f, int64_t now_ms, char **task_id)
{
    int rv = store_pick_claim(f->store, read_time(f, now_ms), task_id);

    return rv != 0 ? store_fail(f, rv) : 0;
}

int fsm_task_exists(struct fsm *f, const char *task_id, bool *exists)
{
    int rv = store_task_exists(f->store, task_id, exists);

    return rv != 0 ? store_fail(f, rv) : 0;
}

uint64_t fsm_applied_index(const struct fsm *f)
{
    return f->applied;
}

int64_t fsm_clock_ms(const struct fsm *f)
{
    return f->clock_ms;
}

/* The digest: FNV-1a 64 over a typed encoding of each column (a tag byte,
 * then an integer as 8 bytes big-endian, or a text's length as 8 bytes and
 * its bytes), row after row in primary-key order (BINARY collation:
 * memcmp, the same on every node). The clock is the "meta" table's only
 * replicated column: meta.applied_index is the index the digest is given
 * at, and may legitimately lag on disk under --bug unsynced-state. */

static const struct {
    const char *name;
    const char *sql;
} digest_tables[FSM_DIGEST_TABLES] = {
    {"meta", "SELECT clock_ms FROM meta WHERE id = 1"},
    {"kv", "SELECT key, value, version FROM kv ORDER BY key"},
    {"tasks", "SELECT task_id, seq, payload, status, version, worker, "
              "lease_expires FROM tasks ORDER BY task_id"},
    {"leases", "SELECT scope, holder, expires, token FROM leases "
               "ORDER BY scope"},
    {"requests", "SELECT rid, idx, op, fingerprint, outcome FROM requests "
                 "ORDER BY rid"},
};

uint64_t fsm_fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull; /* the FNV prime, 64 bits */
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (56 - 8 * i));
    }
    return fsm_fnv(h, b, sizeof b);
}

static uint64_t fnv_column(uint64_t h, sqlite3_stmt *stmt, int col)
{
    unsigned char tag;
    double d;
    uint64_t bits;

    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
        tag = 'I';
        h = fsm_fnv(h, &tag, 1);
        return fnv_u64(h, (uint64_t)sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT:
        tag = 'F';
        d = sqlite3_column_double(stmt, col);
        memcpy(&bits, &d, sizeof bits);
        h = fsm_fnv(h, &tag, 1);
        return fnv_u64(h, bits);
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_type(stmt, col) == SQLITE_TEXT
                            ? (const void *)sqlite3_column_text(stmt, col)
                            : sqlite3_column_blob(stmt, col);
        int n = sqlite3_column_bytes(stmt, col);
        tag = sqlite3_column_type(stmt, col) == SQLITE_TEXT ? 'T' : 'B';
        h = fsm_fnv(h, &tag, 1);
        h = fnv_u64(h, (uint64_t)n);
        return p != NULL ? fsm_fnv(h, p, (size_t)n) : h;
    }
    default:
        tag = 'N';
        return fsm_fnv(h, &tag, 1);
    }
}

int fsm_digest(struct fsm *f, struct fsm_digest *out)
{
    uint64_t all = FSM_FNV_INIT;

    memset(out, 0, sizeof *out);
    out->applied_index = f->applied;
    for (size_t t = 0; t < FSM_DIGEST_TABLES; t++) {
        uint64_t h = FSM_FNV_INIT;
        sqlite3_stmt *stmt;
        int64_t rows = 0;
        int rc;

        rc = sqlite3_prepare_v2(f->db, digest_tables[t].sql, -1, &stmt, NULL);
        if (rc != SQLITE_OK) {
            return sqlite_fail(f, f->db, rc, digest_tables[t].sql);
        }
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            int ncol = sqlite3_column_count(stmt);
            for (int c = 0; c < ncol; c++) {
                h = fnv_column(h, stmt, c);
            }
            rows++;
        }
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE) {
            return sqlite_fail(f, f->db, rc, digest_tables[t].sql);
        }
        out->tables[t].name = digest_tables[t].name;
        out->tables[t].digest = h;
        out->tables[t].rows = rows;
        all = fsm_fnv(all, digest_tables[t].name,
                      strlen(digest_tables[t].name) + 1);
        all = fnv_u64(all, h);
    }
    out->digest = all;
    return 0;
}

/* Bytes 18 and 19 of the header: 2 marks a WAL database, 1 a rollback-journal
 * one. An in-memory database can't open a WAL image, so snapshots carry 1;
 * the backup into the live (WAL) database sets 2 again. */
static void header_to_rollback(unsigned char *image)
{
    image[18] = 1;
    image[19] = 1;
}

int fsm_snapshot(struct fsm *f, void **data, size_t *len)
{
    sqlite3_int64 size = 0;
    unsigned char *image;
    int rv;

    if (bug(f, BUG_UNSYNCED_STATE)) {
        rv = sync_applied(f);
        if (rv != 0) {
            return rv;
        }
    }
    image = sqlite3_serialize(f->db, "main", &size, 0);
    if (image == NULL) {
        int rc = sqlite3_errcode(f->db);
        return sqlite_fail(f, f->db, rc != SQLITE_OK ? rc : SQLITE_NOMEM,
                           "serialize");
    }
    if (size < 100) {
        sqlite3_free(image);
        return sqlite_fail(f, f->db, SQLITE_CORRUPT, "serialize: short image");
    }
    header_to_rollback(image);
    *data = image;
    *len = (size_t)size;
    return 0;
}

void fsm_snapshot_free(void *data)
{
    sqlite3_free(data);
}

/* Check that @db holds a taskd database; its applied index in @applied. */
static int check_image(struct fsm *f, sqlite3 *db, uint64_t *applied)
{
    static const char *const probes[] = {
        "SELECT clock_ms FROM meta WHERE id = 1",
        "SELECT count(*) FROM kv WHERE typeof(value) = 'integer' AND "
        "typeof(version) = 'integer'",
        "SELECT count(*) FROM tasks",
        "SELECT count(*) FROM leases",
        "SELECT count(*) FROM requests",
    };
    char why[sizeof f->errmsg];
    sqlite3_stmt *stmt;
    int64_t version;
    int64_t n;
    size_t i;
    int ok;
    int rc;
    int rv;

    rv = query_int(f, db, "PRAGMA user_version", &version);
    if (rv != 0) {
        goto err_query;
    }
    if (version != FSM_SCHEMA_VERSION) {
        return invalid(f, "snapshot: schema version %lld, expected %d",
                       (long long)version, FSM_SCHEMA_VERSION);
    }
    rv = query_int(f, db, "SELECT applied_index FROM meta WHERE id = 1", &n);
    if (rv != 0) {
        goto err_query;
    }
    *applied = (uint64_t)n;
    for (i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        rv = query_int(f, db, probes[i], &n);
        if (rv != 0) {
            goto err_query;
        }
    }
    rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return invalid(f, "snapshot: quick_check: %s", sqlite3_errmsg(db));
    }
    rc = sqlite3_step(stmt);
    ok = rc == SQLITE_ROW &&
         strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") == 0;
    sqlite3_finalize(stmt);
    if (!ok) {
        return invalid(f, "snapshot: quick_check failed");
    }
    return 0;

err_query:
    memcpy(why, f->errmsg, sizeof why);
    return invalid(f, "snapshot: %s", why);
}

int fsm_restore(struct fsm *f, const void *data, size_t len, bool keep_if_ahead,
                bool *kept)
{
    sqlite3 *mem = NULL;
    sqlite3_backup *backup;
    unsigned char *copy;
    uint64_t image_applied;
    int rc;
    int rv;

    *kept = false;
    if (len < 100 || memcmp(data, "SQLite format 3", 16) != 0) {
        return invalid(f, "snapshot: not an SQLite database image");
    }
    copy = sqlite3_malloc64(len);
    if (copy == NULL) {
        return sqlite_fail(f, NULL, SQLITE_NOMEM, "restore");
    }
    memcpy(copy, data, len);
    header_to_rollback(copy);

    rc = sqlite3_open_v2(":memory:", &mem,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_free(copy);
        rv = sqlite_fail(f, mem, rc, "restore: open");
        goto out;
    }
    /* On failure too, SQLite frees @copy (FREEONCLOSE). */
    rc = sqlite3_deserialize(
        mem, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
        SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
    if (rc != SQLITE_OK) {
        rv = invalid(f, "snapshot: deserialize: %s", sqlite3_errstr(rc));
        goto out;
    }
    rv = check_image(f, mem, &image_applied);
    if (rv != 0) {
        goto out;
    }
    /* Every entry the image holds is committed, so a database that applied
     * as far already holds the same state, and more. */
    if (keep_if_ahead && f->applied >= image_applied) {
        *kept = true;
        goto out;
    }

    /* From here on a failure is an I/O failure of the live database. */
    finalize_statements(f);
    backup = sqlite3_backup_init(f->db, "main", mem, "main");
    if (backup == NULL) {
        rv = sqlite_fail(f, f->db, sqlite3_errcode(f->db), "restore: backup");
        goto err_prepare;
    }
    rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        rv = sqlite_fail(f, f->db, rc, "restore: backup step");
        goto err_prepare;
    }
    rv = prepare_statements(f);
    if (rv == 0) {
        rv = load_meta(f);
    }
    goto out;

err_prepare:
    prepare_statements(f);
out:
    sqlite3_close(mem);
    return rv;
}

const char *fsm_errmsg(const struct fsm *f)
{
    return f->errmsg;
}

int fsm_errcode(const struct fsm *f)
{
    return f->errcode;
}
