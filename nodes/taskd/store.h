/* store: the task store's tables in an open SQLite database (registers,
 * tasks and their queue, leases) and the operations on them. No
 * transactions, no applied index, no deduplication: that is fsm.c's job.
 *
 * Every operation is deterministic given the database, the command, its log
 * index and @now_ms: the time the caller decided (fsm.c: the leader's clock
 * carried in the log entry). Outcomes are reply bodies (reply.h); the
 * errors they carry are all definite (the op changed nothing):
 *   exists       create/enqueue of a task_id that is taken ("task": it)
 *   not_found    update_status/delete/ack/nack of a missing task
 *   cas_mismatch cas ("value","version": current), update_status ("task")
 *   not_holder   ack/nack by a worker not running the task ("task");
 *                release by a holder not holding the scope ("holder")
 *   held         acquire of a scope another holder has, unexpired
 *                ("holder","expires_ms","token")
 *   empty        claim with no queued or expired task */
#ifndef TASKD_STORE_H
#define TASKD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "nodes/taskd/command.h"

struct store;

/* Create the store's tables in @db if missing (call inside a transaction).
 * Returns 0, or an SQLite error code. */
int store_create_tables(sqlite3 *db);

/* Prepare the statements on @db (borrowed; it must outlive the store).
 * Returns 0 and the new store in @out, or an SQLite error code. */
int store_open(sqlite3 *db, struct store **out);

/* Finalize the statements and free @s (NULL is fine). */
void store_close(struct store *s);

/* Apply the mutating command @c (borrowed) at log @index and time @now_ms.
 * Returns 0 and the outcome in @reply (the caller owns it), or -EIO (the
 * SQLite code in store_errcode, the text in store_errmsg) or -ENOMEM. */
int store_apply(struct store *s, const struct command *c, uint64_t index,
                int64_t now_ms, json_t **reply);

/* Answer the read @c (read, get, list, holder) from the current state;
 * holder judges expiry at @now_ms. Same returns as store_apply. */
int store_query(struct store *s, const struct command *c, int64_t now_ms,
                json_t **reply);

/* The task a claim at @now_ms would take: its id in @task_id (the caller
 * frees it), or NULL when there is none. Returns 0, -EIO or -ENOMEM. */
int store_pick_claim(struct store *s, int64_t now_ms, char **task_id);

/* Whether task @task_id exists. Returns 0 or -EIO. */
int store_task_exists(struct store *s, const char *task_id, bool *exists);

/* Register @key: @found is false for a key never written. 0 or -EIO. */
int store_read(struct store *s, const char *key, bool *found, int64_t *value,
               int64_t *version);

/* The last error: SQLite's extended code and text. */
int store_errcode(const struct store *s);
const char *store_errmsg(const struct store *s);

#endif /* TASKD_STORE_H */
