/* fsm: the SQLite state machine.
 *
 * Happy path: fsm_apply() runs BEGIN IMMEDIATE, the write or cas, the update
 * of meta.applied_index, COMMIT. The applied index lives in the same
 * transaction as the data, so after a crash the database says exactly which
 * entries it holds, and replaying the Raft log skips them.
 *
 * Failure modes: any SQLite error inside a transaction rolls it back and
 * returns -EIO with SQLite's text; the caller (fsm_raft.c) then fail-stops.
 * A restore from a bad image is refused (-EINVAL) before the live database
 * is touched.
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

#include <sqlite3.h>

#include "nodes/taskd/command.h"

#define FSM_SCHEMA_VERSION 1

struct fsm {
    sqlite3 *db;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *read;
    sqlite3_stmt *write;
    sqlite3_stmt *cas;
    sqlite3_stmt *set_applied;
    uint64_t applied; /* cache of meta.applied_index */
    int errcode;
    char errmsg[512];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS kv ("
    "  key TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  applied_index INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta (id, applied_index) VALUES (1, 0);";

/* Record SQLite's view of error @rc while doing @what; returns -EIO. */
static int sqlite_fail(struct fsm *f, sqlite3 *db, int rc, const char *what)
{
    f->errcode = rc;
    snprintf(f->errmsg, sizeof f->errmsg, "%s: %s (%d): %s", what,
             sqlite3_errstr(rc), rc, db != NULL ? sqlite3_errmsg(db) : "");
    return -EIO;
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

/* Run a statement that returns no rows, and reset it. */
static int run(struct fsm *f, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) {
        return sqlite_fail(f, f->db, rc, what);
    }
    return 0;
}

static void finalize_statements(struct fsm *f)
{
    sqlite3_stmt **stmts[] = {&f->begin, &f->commit, &f->rollback,   &f->read,
                              &f->write, &f->cas,    &f->set_applied};
    size_t i;

    for (i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
}

static int prepare_statements(struct fsm *f)
{
    static const struct {
        size_t offset;
        const char *sql;
    } table[] = {
        {offsetof(struct fsm, begin), "BEGIN IMMEDIATE"},
        {offsetof(struct fsm, commit), "COMMIT"},
        {offsetof(struct fsm, rollback), "ROLLBACK"},
        {offsetof(struct fsm, read),
         "SELECT value, version FROM kv WHERE key = ?1"},
        {offsetof(struct fsm, write),
         "INSERT INTO kv (key, value, version) VALUES (?1, ?2, 1) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
         "version = kv.version + 1"},
        {offsetof(struct fsm, cas),
         "UPDATE kv SET value = ?3, version = version + 1 "
         "WHERE key = ?1 AND value = ?2"},
        {offsetof(struct fsm, set_applied),
         "UPDATE meta SET applied_index = ?1 WHERE id = 1"},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        sqlite3_stmt **stmt = (sqlite3_stmt **)((char *)f + table[i].offset);
        rc = sqlite3_prepare_v3(f->db, table[i].sql, -1,
                                SQLITE_PREPARE_PERSISTENT, stmt, NULL);
        if (rc != SQLITE_OK) {
            finalize_statements(f);
            return sqlite_fail(f, f->db, rc, table[i].sql);
        }
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

static int load_applied(struct fsm *f)
{
    int64_t v;
    int rv;

    rv = query_int(f, f->db, "SELECT applied_index FROM meta WHERE id = 1", &v);
    if (rv != 0) {
        return rv;
    }
    f->applied = (uint64_t)v;
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
     *   - on every start libraft restores its last snapshot into this
     *     database (fsm_restore, which also rewinds meta.applied_index) and
     *     then re-applies every committed entry after it;
     *   - WAL keeps each transaction atomic, so what a power loss leaves is
     *     an older prefix of the applied entries, with a matching
     *     applied_index, never a torn state.
     * So whatever a power loss takes from SQLite, the replay puts back;
     * FULL would add an fsync per applied entry for nothing. The one thing
     * this does rely on is the Raft log being durable, which is libraft's
     * job (it fsyncs appends before acknowledging them). */
    rv = journal_mode_wal(f, &wal);
    if (rv != 0) {
        return rv;
    }
    if (!wal) {
        return invalid(f, "can't switch the database to WAL mode");
    }
    rv = exec(f, "PRAGMA synchronous = NORMAL");
    if (rv != 0) {
        return rv;
    }
    rv = query_int(f, f->db, "PRAGMA user_version", &version);
    if (rv != 0) {
        return rv;
    }
    if (version != 0 && version != FSM_SCHEMA_VERSION) {
        return invalid(f, "schema version %lld, expected %d",
                       (long long)version, FSM_SCHEMA_VERSION);
    }
    rv = exec(f, "BEGIN IMMEDIATE");
    if (rv != 0) {
        return rv;
    }
    rv = exec(f, schema);
    if (rv == 0) {
        rv = exec(f, "PRAGMA user_version = 1");
    }
    if (rv == 0) {
        rv = exec(f, "COMMIT");
    }
    if (rv != 0) {
        sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
        return rv;
    }
    rv = prepare_statements(f);
    if (rv != 0) {
        return rv;
    }
    return load_applied(f);
}

int fsm_open(const char *path, struct fsm **out, char *err, size_t errlen)
{
    struct fsm *f;
    int rc;
    int rv;

    f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
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

void fsm_close(struct fsm *f)
{
    if (f == NULL) {
        return;
    }
    finalize_statements(f);
    sqlite3_close(f->db);
    free(f);
}

static int apply_command(struct fsm *f, const struct command *c,
                         enum fsm_result *result)
{
    int rv;

    switch (c->op) {
    case COMMAND_WRITE:
        sqlite3_bind_text(f->write, 1, c->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->write, 2, c->value);
        rv = run(f, f->write, "write");
        *result = FSM_APPLIED;
        return rv;
    case COMMAND_CAS:
        sqlite3_bind_text(f->cas, 1, c->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->cas, 2, c->from);
        sqlite3_bind_int64(f->cas, 3, c->to);
        rv = run(f, f->cas, "cas");
        *result = sqlite3_changes(f->db) == 1 ? FSM_APPLIED : FSM_CAS_MISMATCH;
        return rv;
    }
    *result = FSM_BAD_COMMAND;
    return 0;
}

int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              enum fsm_result *result)
{
    struct command c;
    char why[128];
    bool decoded;
    int rv;

    if (index <= f->applied) {
        *result = FSM_SKIPPED;
        return 0;
    }
    /* An undecodable entry is still applied, as a no-op, so that every node
     * moves its applied index past it in the same way. */
    decoded = command_decode(buf, len, &c, why, sizeof why) == 0;
    rv = run(f, f->begin, "begin");
    if (rv != 0) {
        goto out;
    }
    *result = FSM_BAD_COMMAND;
    if (decoded) {
        rv = apply_command(f, &c, result);
        if (rv != 0) {
            goto err_rollback;
        }
    }
    sqlite3_bind_int64(f->set_applied, 1, (sqlite3_int64)index);
    rv = run(f, f->set_applied, "set applied index");
    if (rv != 0) {
        goto err_rollback;
    }
    rv = run(f, f->commit, "commit");
    if (rv != 0) {
        goto err_rollback;
    }
    f->applied = index;
    goto out;

err_rollback:
    if (!sqlite3_get_autocommit(f->db)) {
        sqlite3_step(f->rollback);
        sqlite3_reset(f->rollback);
    }
out:
    if (decoded) {
        command_clear(&c);
    }
    return rv;
}

int fsm_read(struct fsm *f, const char *key, bool *found, int64_t *value,
             int64_t *version)
{
    int rc;

    sqlite3_bind_text(f->read, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(f->read);
    if (rc == SQLITE_ROW) {
        *found = true;
        *value = sqlite3_column_int64(f->read, 0);
        *version = sqlite3_column_int64(f->read, 1);
    } else {
        *found = false;
        *value = 0;
        *version = 0;
    }
    sqlite3_reset(f->read);
    sqlite3_clear_bindings(f->read);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return sqlite_fail(f, f->db, rc, "read");
    }
    return 0;
}

uint64_t fsm_applied_index(const struct fsm *f)
{
    return f->applied;
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

/* Check that @db holds a taskd database. */
static int check_image(struct fsm *f, sqlite3 *db)
{
    char why[sizeof f->errmsg];
    sqlite3_stmt *stmt;
    int64_t version;
    int64_t n;
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
    if (rv == 0) {
        rv = query_int(f, db,
                       "SELECT count(*) FROM kv WHERE typeof(value) = "
                       "'integer' AND typeof(version) = 'integer'",
                       &n);
    }
    if (rv != 0) {
        goto err_query;
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

int fsm_restore(struct fsm *f, const void *data, size_t len)
{
    sqlite3 *mem = NULL;
    sqlite3_backup *backup;
    unsigned char *copy;
    int rc;
    int rv;

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
    rv = check_image(f, mem);
    if (rv != 0) {
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
        rv = load_applied(f);
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
