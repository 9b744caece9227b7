/* store: registers, tasks, the queue and leases as SQLite tables.
 *
 * A task is a row of `tasks`: its payload (compact JSON), a status, a
 * version that every change increments, and while it runs the worker and
 * the lease expiry. `seq` is the log index of the create/enqueue: the queue
 * order. A claim takes the task with the lowest seq among those queued and
 * those running on an expired lease (lease_expires <= now). A lease is a
 * row of `leases`: holder, expiry and fencing token (the log index of the
 * acquire that gave the scope to this holder; renewals keep it). */
#include "nodes/taskd/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/reply.h"

struct store {
    sqlite3 *db;
    sqlite3_stmt *kv_read;
    sqlite3_stmt *kv_write;
    sqlite3_stmt *kv_cas;
    sqlite3_stmt *task_get;
    sqlite3_stmt *task_insert;
    sqlite3_stmt *task_set;
    sqlite3_stmt *task_delete;
    sqlite3_stmt *task_list;
    sqlite3_stmt *first_queued;
    sqlite3_stmt *first_expired;
    sqlite3_stmt *lease_get;
    sqlite3_stmt *lease_set;
    sqlite3_stmt *lease_delete;
    int errcode;
    char errmsg[512];
};

static const char tables[] =
    "CREATE TABLE IF NOT EXISTS kv ("
    "  key TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tasks ("
    "  task_id TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  worker TEXT,"
    "  lease_expires INTEGER);"
    "CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, seq);"
    "CREATE TABLE IF NOT EXISTS leases ("
    "  scope TEXT PRIMARY KEY,"
    "  holder TEXT NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  token INTEGER NOT NULL);";

#define TASK_COLUMNS                                                           \
    "task_id, seq, payload, status, version, worker, lease_expires"

static const struct {
    size_t offset;
    const char *sql;
} statements[] = {
    {offsetof(struct store, kv_read),
     "SELECT value, version FROM kv WHERE key = ?1"},
    {offsetof(struct store, kv_write),
     "INSERT INTO kv (key, value, version) VALUES (?1, ?2, 1) "
     "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
     "version = kv.version + 1"},
    {offsetof(struct store, kv_cas),
     "UPDATE kv SET value = ?3, version = version + 1 "
     "WHERE key = ?1 AND value = ?2"},
    {offsetof(struct store, task_get),
     "SELECT " TASK_COLUMNS " FROM tasks WHERE task_id = ?1"},
    {offsetof(struct store, task_insert),
     "INSERT INTO tasks (" TASK_COLUMNS ") "
     "VALUES (?1, ?2, ?3, ?4, 1, NULL, NULL)"},
    {offsetof(struct store, task_set),
     "UPDATE tasks SET status = ?2, worker = ?3, lease_expires = ?4, "
     "version = version + 1 WHERE task_id = ?1"},
    {offsetof(struct store, task_delete),
     "DELETE FROM tasks WHERE task_id = ?1"},
    {offsetof(struct store, task_list),
     "SELECT " TASK_COLUMNS " FROM tasks ORDER BY seq"},
    {offsetof(struct store, first_queued),
     "SELECT task_id, seq FROM tasks WHERE status = 'queued' "
     "ORDER BY seq LIMIT 1"},
    {offsetof(struct store, first_expired),
     "SELECT task_id, seq FROM tasks WHERE status = 'running' "
     "AND lease_expires <= ?1 ORDER BY seq LIMIT 1"},
    {offsetof(struct store, lease_get),
     "SELECT holder, expires, token FROM leases WHERE scope = ?1"},
    {offsetof(struct store, lease_set),
     "INSERT INTO leases (scope, holder, expires, token) "
     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET "
     "holder = excluded.holder, expires = excluded.expires, "
     "token = excluded.token"},
    {offsetof(struct store, lease_delete),
     "DELETE FROM leases WHERE scope = ?1"},
};

#define N_STATEMENTS (sizeof statements / sizeof statements[0])

static sqlite3_stmt **stmt_at(struct store *s, size_t i)
{
    return (sqlite3_stmt **)((char *)s + statements[i].offset);
}

int store_create_tables(sqlite3 *db)
{
    return sqlite3_exec(db, tables, NULL, NULL, NULL);
}

void store_close(struct store *s)
{
    size_t i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < N_STATEMENTS; i++) {
        sqlite3_finalize(*stmt_at(s, i));
    }
    free(s);
}

int store_open(sqlite3 *db, struct store **out)
{
    struct store *s = calloc(1, sizeof *s);
    size_t i;
    int rc;

    if (s == NULL) {
        return SQLITE_NOMEM;
    }
    s->db = db;
    for (i = 0; i < N_STATEMENTS; i++) {
        rc = sqlite3_prepare_v3(db, statements[i].sql, -1,
                                SQLITE_PREPARE_PERSISTENT, stmt_at(s, i), NULL);
        if (rc != SQLITE_OK) {
            store_close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int store_errcode(const struct store *s)
{
    return s->errcode;
}

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

static int fail(struct store *s, int rc, const char *what)
{
    s->errcode = rc;
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s (%d): %s", what,
             sqlite3_errstr(rc), rc, sqlite3_errmsg(s->db));
    return -EIO;
}

static void done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Run a statement that returns no rows. */
static int run(struct store *s, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);

    done(stmt);
    return rc == SQLITE_DONE ? 0 : fail(s, rc, what);
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *text)
{
    if (text != NULL) {
        sqlite3_bind_text(stmt, i, text, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(stmt, i);
    }
}

static json_t *text_or_null(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);

    return text != NULL ? json_string(text) : json_null();
}

static json_t *int_or_null(sqlite3_stmt *stmt, int col)
{
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL) {
        return json_null();
    }
    return json_integer(sqlite3_column_int64(stmt, col));
}

/* The task on the current row of a TASK_COLUMNS statement. */
static json_t *task_json(sqlite3_stmt *stmt)
{
    const char *payload = (const char *)sqlite3_column_text(stmt, 2);
    json_t *p =
        payload != NULL ? json_loads(payload, JSON_DECODE_ANY, NULL) : NULL;

    if (p == NULL) {
        p = json_null(); /* never stored so: payloads are checked JSON */
    }
    return json_pack(
        "{s:o, s:o, s:I, s:o, s:I, s:o, s:o}", "task_id", text_or_null(stmt, 0),
        "payload", p, "seq", (json_int_t)sqlite3_column_int64(stmt, 1),
        "status", text_or_null(stmt, 3), "version",
        (json_int_t)sqlite3_column_int64(stmt, 4), "worker",
        text_or_null(stmt, 5), "lease_expires_ms", int_or_null(stmt, 6));
}

/* Task @id as JSON in @task, or NULL when there is none. */
static int load_task(struct store *s, const char *id, json_t **task)
{
    int rc;

    bind_text(s->task_get, 1, id);
    rc = sqlite3_step(s->task_get);
    *task = NULL;
    if (rc == SQLITE_ROW) {
        *task = task_json(s->task_get);
        if (*task == NULL) {
            done(s->task_get);
            return -ENOMEM;
        }
    }
    done(s->task_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s, rc, "task get");
    }
    return 0;
}

static const char *task_str(json_t *task, const char *field)
{
    return json_string_value(json_object_get(task, field));
}

/* Set task @id's status, worker and lease; the version goes up by one. */
static int set_task(struct store *s, const char *id, const char *status,
                    const char *worker, int64_t lease_expires)
{
    bind_text(s->task_set, 1, id);
    bind_text(s->task_set, 2, status);
    bind_text(s->task_set, 3, worker);
    if (worker != NULL) {
        sqlite3_bind_int64(s->task_set, 4, lease_expires);
    } else {
        sqlite3_bind_null(s->task_set, 4);
    }
    return run(s, s->task_set, "task set");
}

/* {"ok":true,"index":@index,"task":<task @id as it is now>} */
static int ok_with_task(struct store *s, const char *id, uint64_t index,
                        json_t **reply)
{
    json_t *task;
    int rv = load_task(s, id, &task);

    if (rv != 0) {
        return rv;
    }
    *reply = json_pack("{s:b, s:I, s:o}", "ok", 1, "index", (json_int_t)index,
                       "task", task != NULL ? task : json_null());
    return *reply != NULL ? 0 : -ENOMEM;
}

static json_t *ok_index(uint64_t index)
{
    return json_pack("{s:b, s:I}", "ok", 1, "index", (json_int_t)index);
}

/* Add @field (reference stolen) to the error @reply. */
static json_t *with(json_t *reply, const char *field, json_t *value)
{
    if (reply != NULL) {
        json_object_set_new(reply, field, value);
    } else {
        json_decref(value);
    }
    return reply;
}

/* Registers. */

int store_read(struct store *s, const char *key, bool *found, int64_t *value,
               int64_t *version)
{
    int rc;

    bind_text(s->kv_read, 1, key);
    rc = sqlite3_step(s->kv_read);
    *found = rc == SQLITE_ROW;
    *value = *found ? sqlite3_column_int64(s->kv_read, 0) : 0;
    *version = *found ? sqlite3_column_int64(s->kv_read, 1) : 0;
    done(s->kv_read);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s, rc, "read");
    }
    return 0;
}

static int apply_write(struct store *s, const struct command *c, uint64_t index,
                       json_t **reply)
{
    int rv;

    bind_text(s->kv_write, 1, c->key);
    sqlite3_bind_int64(s->kv_write, 2, c->value);
    rv = run(s, s->kv_write, "write");
    if (rv == 0) {
        *reply = ok_index(index);
    }
    return rv;
}

static int apply_cas(struct store *s, const struct command *c, uint64_t index,
                     json_t **reply)
{
    int64_t value;
    int64_t version;
    bool found;
    int rv;

    bind_text(s->kv_cas, 1, c->key);
    sqlite3_bind_int64(s->kv_cas, 2, c->from);
    sqlite3_bind_int64(s->kv_cas, 3, c->to);
    rv = run(s, s->kv_cas, "cas");
    if (rv != 0) {
        return rv;
    }
    if (sqlite3_changes(s->db) == 1) {
        *reply = ok_index(index);
        return 0;
    }
    rv = store_read(s, c->key, &found, &value, &version);
    if (rv != 0) {
        return rv;
    }
    *reply = reply_error("cas_mismatch", true,
                         "current value differs from \"from\"");
    *reply = with(*reply, "value", found ? json_integer(value) : json_null());
    *reply = with(*reply, "version", json_integer(version));
    return 0;
}

/* Tasks. */

static int apply_insert(struct store *s, const struct command *c,
                        uint64_t index, const char *status, json_t **reply)
{
    json_t *task;
    int rv;

    rv = load_task(s, c->key, &task);
    if (rv != 0) {
        return rv;
    }
    if (task != NULL) {
        *reply =
            with(reply_error("exists", true, "task \"%.64s\" exists", c->key),
                 "task", task);
        return 0;
    }
    bind_text(s->task_insert, 1, c->key);
    sqlite3_bind_int64(s->task_insert, 2, (sqlite3_int64)index);
    bind_text(s->task_insert, 3, c->payload);
    bind_text(s->task_insert, 4, status);
    rv = run(s, s->task_insert, "task insert");
    if (rv != 0) {
        return rv;
    }
    return ok_with_task(s, c->key, index, reply);
}

static json_t *not_found(const char *id)
{
    return reply_error("not_found", true, "no task \"%.64s\"", id);
}

static int apply_update_status(struct store *s, const struct command *c,
                               uint64_t index, json_t **reply)
{
    json_t *task;
    int64_t version;
    int rv;

    rv = load_task(s, c->key, &task);
    if (rv != 0 || task == NULL) {
        *reply = rv == 0 ? not_found(c->key) : NULL;
        return rv;
    }
    version = json_integer_value(json_object_get(task, "version"));
    if ((c->expect_status != NULL &&
         strcmp(c->expect_status, task_str(task, "status")) != 0) ||
        (c->has_expect_version && c->expect_version != version)) {
        *reply = with(reply_error("cas_mismatch", true,
                                  "task \"%.64s\" is not in the expected "
                                  "status or version",
                                  c->key),
                      "task", task);
        return 0;
    }
    json_decref(task);
    rv = set_task(s, c->key, c->status, NULL, 0);
    return rv != 0 ? rv : ok_with_task(s, c->key, index, reply);
}

static int apply_delete(struct store *s, const struct command *c,
                        uint64_t index, json_t **reply)
{
    json_t *task;
    int rv;

    rv = load_task(s, c->key, &task);
    if (rv != 0 || task == NULL) {
        *reply = rv == 0 ? not_found(c->key) : NULL;
        return rv;
    }
    json_decref(task);
    bind_text(s->task_delete, 1, c->key);
    rv = run(s, s->task_delete, "task delete");
    if (rv == 0) {
        *reply = ok_index(index);
    }
    return rv;
}

/* Queue. */

/* The lowest seq on @stmt's one row, if any. */
static int first_row(struct store *s, sqlite3_stmt *stmt, char **id,
                     int64_t *seq)
{
    int rc = sqlite3_step(stmt);

    *id = NULL;
    if (rc == SQLITE_ROW) {
        *id = strdup((const char *)sqlite3_column_text(stmt, 0));
        *seq = sqlite3_column_int64(stmt, 1);
    }
    done(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s, rc, "claim");
    }
    return rc == SQLITE_ROW && *id == NULL ? -ENOMEM : 0;
}

int store_pick_claim(struct store *s, int64_t now_ms, char **task_id)
{
    char *queued;
    char *expired;
    int64_t queued_seq = 0;
    int64_t expired_seq = 0;
    int rv;

    rv = first_row(s, s->first_queued, &queued, &queued_seq);
    if (rv != 0) {
        return rv;
    }
    sqlite3_bind_int64(s->first_expired, 1, now_ms);
    rv = first_row(s, s->first_expired, &expired, &expired_seq);
    if (rv != 0) {
        free(queued);
        return rv;
    }
    if (queued != NULL && (expired == NULL || queued_seq < expired_seq)) {
        free(expired);
        *task_id = queued;
    } else {
        free(queued);
        *task_id = expired;
    }
    return 0;
}

static int apply_claim(struct store *s, const struct command *c, uint64_t index,
                       int64_t now_ms, json_t **reply)
{
    char *id = NULL;
    json_t *task;
    int rv;

    if (c->pick != NULL) {
        /* --bug lost-claim: the leader chose at submit time; take its word
         * without checking the task is still free. */
        rv = load_task(s, c->pick, &task);
        if (rv == 0 && task != NULL) {
            json_decref(task);
            id = strdup(c->pick);
            rv = id != NULL ? 0 : -ENOMEM;
        }
    } else {
        rv = store_pick_claim(s, now_ms, &id);
    }
    if (rv != 0) {
        return rv;
    }
    if (id == NULL) {
        *reply = reply_error("empty", true, "no queued or expired task");
        return 0;
    }
    rv = set_task(s, id, "running", c->who, now_ms + c->ms);
    if (rv == 0) {
        rv = ok_with_task(s, id, index, reply);
    }
    if (rv == 0) {
        json_object_set_new(*reply, "now_ms", json_integer(now_ms));
    }
    free(id);
    return rv;
}

/* ack (to "done") or nack (back to "queued"), by the worker running it. */
static int apply_finish(struct store *s, const struct command *c,
                        uint64_t index, const char *status, json_t **reply)
{
    const char *worker;
    json_t *task;
    int rv;

    rv = load_task(s, c->key, &task);
    if (rv != 0 || task == NULL) {
        *reply = rv == 0 ? not_found(c->key) : NULL;
        return rv;
    }
    worker = task_str(task, "worker");
    if (strcmp(task_str(task, "status"), "running") != 0 || worker == NULL ||
        strcmp(worker, c->who) != 0) {
        *reply = with(reply_error("not_holder", true,
                                  "task \"%.64s\" is not running for "
                                  "worker \"%.64s\"",
                                  c->key, c->who),
                      "task", task);
        return 0;
    }
    json_decref(task);
    rv = set_task(s, c->key, status, NULL, 0);
    return rv != 0 ? rv : ok_with_task(s, c->key, index, reply);
}

/* Leases. */

struct lease {
    bool found;
    char *holder;
    int64_t expires;
    int64_t token;
};

static int load_lease(struct store *s, const char *scope, struct lease *l)
{
    int rc;

    memset(l, 0, sizeof *l);
    bind_text(s->lease_get, 1, scope);
    rc = sqlite3_step(s->lease_get);
    if (rc == SQLITE_ROW) {
        l->found = true;
        l->holder = strdup((const char *)sqlite3_column_text(s->lease_get, 0));
        l->expires = sqlite3_column_int64(s->lease_get, 1);
        l->token = sqlite3_column_int64(s->lease_get, 2);
    }
    done(s->lease_get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s, rc, "lease get");
    }
    return l->found && l->holder == NULL ? -ENOMEM : 0;
}

static int apply_acquire(struct store *s, const struct command *c,
                         uint64_t index, int64_t now_ms, json_t **reply)
{
    struct lease l;
    int64_t token;
    int rv;

    rv = load_lease(s, c->key, &l);
    if (rv != 0) {
        return rv;
    }
    if (l.found && strcmp(l.holder, c->who) != 0 && l.expires > now_ms) {
        *reply = reply_error("held", true, "scope \"%.64s\" is held", c->key);
        *reply = with(*reply, "holder", json_string(l.holder));
        *reply = with(*reply, "expires_ms", json_integer(l.expires));
        *reply = with(*reply, "token", json_integer(l.token));
        *reply = with(*reply, "now_ms", json_integer(now_ms));
        free(l.holder);
        return 0;
    }
    /* The token changes with the holder; a renewal keeps it. */
    token = l.found && strcmp(l.holder, c->who) == 0 ? l.token : (int64_t)index;
    free(l.holder);
    bind_text(s->lease_set, 1, c->key);
    bind_text(s->lease_set, 2, c->who);
    sqlite3_bind_int64(s->lease_set, 3, now_ms + c->ms);
    sqlite3_bind_int64(s->lease_set, 4, token);
    rv = run(s, s->lease_set, "lease set");
    if (rv != 0) {
        return rv;
    }
    *reply = json_pack("{s:b, s:I, s:s, s:I, s:I, s:I}", "ok", 1, "index",
                       (json_int_t)index, "holder", c->who, "expires_ms",
                       (json_int_t)(now_ms + c->ms), "token", (json_int_t)token,
                       "now_ms", (json_int_t)now_ms);
    return 0;
}

static int apply_release(struct store *s, const struct command *c,
                         uint64_t index, json_t **reply)
{
    struct lease l;
    int rv;

    rv = load_lease(s, c->key, &l);
    if (rv != 0) {
        return rv;
    }
    if (!l.found || strcmp(l.holder, c->who) != 0) {
        *reply = with(reply_error("not_holder", true,
                                  "scope \"%.64s\" is not held by "
                                  "\"%.64s\"",
                                  c->key, c->who),
                      "holder", l.found ? json_string(l.holder) : json_null());
        free(l.holder);
        return 0;
    }
    free(l.holder);
    bind_text(s->lease_delete, 1, c->key);
    rv = run(s, s->lease_delete, "lease delete");
    if (rv == 0) {
        *reply = ok_index(index);
    }
    return rv;
}

int store_apply(struct store *s, const struct command *c, uint64_t index,
                int64_t now_ms, json_t **reply)
{
    int rv;

    *reply = NULL;
    switch (c->op) {
    case COMMAND_WRITE:
        rv = apply_write(s, c, index, reply);
        break;
    case COMMAND_CAS:
        rv = apply_cas(s, c, index, reply);
        break;
    case COMMAND_CREATE:
        rv = apply_insert(s, c, index, "pending", reply);
        break;
    case COMMAND_ENQUEUE:
        rv = apply_insert(s, c, index, "queued", reply);
        break;
    case COMMAND_UPDATE_STATUS:
        rv = apply_update_status(s, c, index, reply);
        break;
    case COMMAND_DELETE:
        rv = apply_delete(s, c, index, reply);
        break;
    case COMMAND_CLAIM:
        rv = apply_claim(s, c, index, now_ms, reply);
        break;
    case COMMAND_ACK:
        rv = apply_finish(s, c, index, "done", reply);
        break;
    case COMMAND_NACK:
        rv = apply_finish(s, c, index, "queued", reply);
        break;
    case COMMAND_ACQUIRE:
        rv = apply_acquire(s, c, index, now_ms, reply);
        break;
    case COMMAND_RELEASE:
        rv = apply_release(s, c, index, reply);
        break;
    default:
        *reply = reply_error("bad_request", true, "op %s does not mutate",
                             command_op_name(c->op));
        rv = 0;
        break;
    }
    if (rv == 0 && *reply == NULL) {
        rv = -ENOMEM;
    }
    if (rv != 0) {
        json_decref(*reply);
        *reply = NULL;
    }
    return rv;
}

/* Reads. */

static int query_read(struct store *s, const char *key, json_t **reply)
{
    int64_t value;
    int64_t version;
    bool found;
    int rv;

    rv = store_read(s, key, &found, &value, &version);
    if (rv == 0) {
        *reply = json_pack("{s:b, s:o, s:I}", "ok", 1, "value",
                           found ? json_integer(value) : json_null(), "version",
                           (json_int_t)version);
    }
    return rv;
}

static int query_list(struct store *s, json_t **reply)
{
    json_t *tasks = json_array();
    int rc;

    if (tasks == NULL) {
        return -ENOMEM;
    }
    while ((rc = sqlite3_step(s->task_list)) == SQLITE_ROW) {
        if (json_array_append_new(tasks, task_json(s->task_list)) != 0) {
            done(s->task_list);
            json_decref(tasks);
            return -ENOMEM;
        }
    }
    done(s->task_list);
    if (rc != SQLITE_DONE) {
        json_decref(tasks);
        return fail(s, rc, "list");
    }
    *reply = json_pack("{s:b, s:o}", "ok", 1, "tasks", tasks);
    return 0;
}

static int query_holder(struct store *s, const char *scope, int64_t now_ms,
                        json_t **reply)
{
    struct lease l;
    bool live;
    int rv;

    rv = load_lease(s, scope, &l);
    if (rv != 0) {
        return rv;
    }
    live = l.found && l.expires > now_ms;
    *reply = json_pack("{s:b, s:o, s:o, s:o, s:I}", "ok", 1, "holder",
                       live ? json_string(l.holder) : json_null(), "expires_ms",
                       live ? json_integer(l.expires) : json_null(), "token",
                       live ? json_integer(l.token) : json_null(), "now_ms",
                       (json_int_t)now_ms);
    free(l.holder);
    return 0;
}

int store_query(struct store *s, const struct command *c, int64_t now_ms,
                json_t **reply)
{
    json_t *task;
    int rv;

    *reply = NULL;
    switch (c->op) {
    case COMMAND_READ:
        rv = query_read(s, c->key, reply);
        break;
    case COMMAND_GET:
        rv = load_task(s, c->key, &task);
        if (rv == 0) {
            *reply = json_pack("{s:b, s:o}", "ok", 1, "task",
                               task != NULL ? task : json_null());
        }
        break;
    case COMMAND_LIST:
        rv = query_list(s, reply);
        break;
    case COMMAND_HOLDER:
        rv = query_holder(s, c->key, now_ms, reply);
        break;
    default:
        *reply = reply_error("bad_request", true, "op %s is not a read",
                             command_op_name(c->op));
        rv = 0;
        break;
    }
    if (rv == 0 && *reply == NULL) {
        rv = -ENOMEM;
    }
    return rv;
}

int store_task_exists(struct store *s, const char *task_id, bool *exists)
{
    json_t *task;
    int rv = load_task(s, task_id, &task);

    *exists = task != NULL;
    json_decref(task);
    return rv;
}
