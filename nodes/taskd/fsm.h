/* fsm: the replicated state machine: the task store (store.h) in SQLite,
 * with, in the same database and the same transaction as every change, the
 * index of the last applied Raft entry, the request-id table that makes
 * retries idempotent, and the state machine's clock. */
#ifndef TASKD_FSM_H
#define TASKD_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nodes/taskd/command.h"

struct fsm;

/* How many log entries a request id is remembered for, by default. */
#define FSM_DEDUP_WINDOW 65536

/* Under --bug unsynced-state, the applied index is written every this many
 * applied entries (and at snapshots and close). */
#define FSM_UNSYNCED_EVERY 256

struct fsm_options {
    unsigned bugs;         /* mask of enum bug (bug.h); 0 in production */
    uint64_t dedup_window; /* 0: FSM_DEDUP_WINDOW */
    /* This node's wall clock in ms, used only under --bug
     * lease-local-clock; NULL: CLOCK_REALTIME. For tests. */
    int64_t (*local_clock_ms)(void);
};

/* What applying one entry did. */
struct fsm_outcome {
    bool skipped;   /* index <= applied index: nothing done, no reply */
    bool duplicate; /* a retry of a request id already applied: @reply is
                       the first outcome, plus "duplicate":true */
    json_t *reply;  /* owned: the reply body (reply.h); "bad_request" for
                       an entry that does not decode */
    json_t *entry;  /* owned: what the entry was: op, rid, term, ts_ms,
                       leader ({"op":null,"error":...} if undecodable) */
};

/* Open (creating if missing) the database file at @path with @opts (NULL:
 * defaults). Returns 0 and the new object in @out, or a negative errno with
 * the reason in @err; on failure nothing is left open. Both are copied. */
int fsm_open(const char *path, const struct fsm_options *opts, struct fsm **out,
             char *err, size_t errlen);

/* Close the database and free @f (NULL is fine). */
void fsm_close(struct fsm *f);

/* Apply the encoded command (command.h) at Raft log @index, in one
 * transaction with the new applied index, the request id and the clock.
 * Entries must come in increasing index order; an @index at or below the
 * applied index is skipped, which makes replaying the log after a restart
 * harmless. An entry that does not decode is applied as a no-op, so that
 * every node moves past it the same way.
 *
 * Time: the entry carries its leader's wall clock (ts_ms); the state
 * machine's clock is the highest ts_ms applied so far, so it never goes
 * back, and is the same on every node. Leases and claims are judged at that
 * clock (under --bug lease-local-clock: at this node's own clock).
 *
 * Returns 0 and @out (release with fsm_outcome_clear), or -EIO on an SQLite
 * failure (fsm_errmsg says which), in which case nothing changed. */
int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_outcome *out);
void fsm_outcome_clear(struct fsm_outcome *out);

/* Answer the read @c (read, get, list, holder; borrowed) from local state.
 * holder judges expiry at max(@now_ms, the state machine's clock). Returns
 * 0 and the reply body in @reply (the caller owns it), -ENOMEM or -EIO. */
int fsm_query(struct fsm *f, const struct command *c, int64_t now_ms,
              json_t **reply);

/* Register @key (borrowed). @found is false for a key never written.
 * Returns 0 or -EIO. */
int fsm_read(struct fsm *f, const char *key, bool *found, int64_t *value,
             int64_t *version);

/* The task a claim would take now, judged at max(@now_ms, the state
 * machine's clock): its id in @task_id (the caller frees it) or NULL. For
 * --bug lost-claim. Returns 0, -ENOMEM or -EIO. */
int fsm_pick_claim(struct fsm *f, int64_t now_ms, char **task_id);

/* Whether task @task_id exists in local state. Returns 0 or -EIO. */
int fsm_task_exists(struct fsm *f, const char *task_id, bool *exists);

/* Index of the last applied command (0 for a new database). */
uint64_t fsm_applied_index(const struct fsm *f);

/* The state machine's clock: the highest ts_ms applied (0 at first). */
int64_t fsm_clock_ms(const struct fsm *f);

/* FNV-1a 64 from state @h over @data[0..len): a blob's hash is this from
 * FSM_FNV_INIT, and goes on from any prefix's. The digest and the entry
 * hashes of `command_applied` use it. */
#define FSM_FNV_INIT 0xcbf29ce484222325ull
uint64_t fsm_fnv(uint64_t h, const void *data, size_t len);

/* The replicated state's fingerprint (README.md, "digest"): FNV-1a 64 of
 * every row of kv, tasks, leases and requests in primary-key order, every
 * column, and of the state machine's clock; per table too. Not in it: the
 * applied index (given beside it) and anything per node. Replicas that
 * applied the same entries have the same digest. */
#define FSM_DIGEST_TABLES 5

struct fsm_digest {
    uint64_t applied_index; /* what the digest describes */
    uint64_t digest;        /* over the tables below, in order */
    struct {
        const char *name; /* static: "meta", "kv", "tasks", ... */
        uint64_t digest;
        int64_t rows;
    } tables[FSM_DIGEST_TABLES];
};

/* Compute @out from the database as it is now (between two applies).
 * Returns 0, or -EIO (fsm_errmsg says which query failed). */
int fsm_digest(struct fsm *f, struct fsm_digest *out);

/* A consistent image of the whole database, in @data (release it with
 * fsm_snapshot_free) and @len. Returns 0, -ENOMEM or -EIO. */
int fsm_snapshot(struct fsm *f, void **data, size_t *len);
void fsm_snapshot_free(void *data);

/* Replace the whole database, atomically, with a fsm_snapshot() image
 * (borrowed). With @keep_if_ahead, a database that already applied
 * everything the image holds is kept as it is, and @kept says so (libraft
 * restores its last snapshot at every start; the database usually has it
 * already). Returns 0; -EINVAL when @data is not such an image, leaving @f
 * unchanged; or -EIO. */
int fsm_restore(struct fsm *f, const void *data, size_t len, bool keep_if_ahead,
                bool *kept);

/* The last error, with SQLite's own text; and SQLite's extended code. */
const char *fsm_errmsg(const struct fsm *f);
int fsm_errcode(const struct fsm *f);

#endif /* TASKD_FSM_H */
