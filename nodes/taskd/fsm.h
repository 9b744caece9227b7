/* fsm: the replicated state machine, a key -> (integer value, version) map in
 * SQLite, with the index of the last applied Raft entry stored beside it. */
#ifndef TASKD_FSM_H
#define TASKD_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fsm;

/* What applying one command did. */
enum fsm_result {
    FSM_APPLIED = 0,  /* the write or cas took effect */
    FSM_CAS_MISMATCH, /* cas found another value (or none): no change */
    FSM_SKIPPED,      /* index <= applied index: already applied, no change */
    FSM_BAD_COMMAND,  /* undecodable command: applied as a no-op */
};

/* Open (creating if missing) the database file at @path. Returns 0 and the
 * new object in @out, or a negative errno with the reason in @err; on failure
 * nothing is left open. @path is copied. */
int fsm_open(const char *path, struct fsm **out, char *err, size_t errlen);

/* Close the database and free @f. */
void fsm_close(struct fsm *f);

/* Apply the encoded command (see command.h) at Raft log @index, in one
 * transaction with the new applied index. Commands must come in increasing
 * index order; an @index at or below the applied index is skipped, which is
 * what makes replaying the log after a restart harmless. Returns 0 and
 * @result, or -EIO on an SQLite failure (fsm_errmsg says which), in which
 * case nothing changed. */
int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              enum fsm_result *result);

/* Read @key (borrowed). @found is false for a key never written. Returns 0
 * or -EIO. */
int fsm_read(struct fsm *f, const char *key, bool *found, int64_t *value,
             int64_t *version);

/* Index of the last applied command (0 for a new database). */
uint64_t fsm_applied_index(const struct fsm *f);

/* A consistent image of the whole database, in @data (release it with
 * fsm_snapshot_free) and @len. Returns 0, -ENOMEM or -EIO. */
int fsm_snapshot(struct fsm *f, void **data, size_t *len);
void fsm_snapshot_free(void *data);

/* Replace the whole database, atomically, with a fsm_snapshot() image
 * (borrowed). Returns 0; -EINVAL when @data is not such an image, leaving
 * @f unchanged; or -EIO. */
int fsm_restore(struct fsm *f, const void *data, size_t len);

/* The last error, with SQLite's own text; and SQLite's extended code. */
const char *fsm_errmsg(const struct fsm *f);
int fsm_errcode(const struct fsm *f);

#endif /* TASKD_FSM_H */
