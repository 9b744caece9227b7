/* command: the state machine commands carried in Raft log entries, encoded
 * as compact JSON: {"op":"write","key":"k","value":3} or
 * {"op":"cas","key":"k","from":3,"to":4}. */
#ifndef TASKD_COMMAND_H
#define TASKD_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define COMMAND_KEY_MAX 1024 /* bytes, not counting the NUL */
#define COMMAND_ALIGN   8    /* encoded length is a multiple of this */

enum command_op {
    COMMAND_WRITE = 1,
    COMMAND_CAS,
};

struct command {
    enum command_op op;
    char *key;     /* NUL-terminated; see command_decode for ownership */
    int64_t value; /* write */
    int64_t from;  /* cas */
    int64_t to;    /* cas */
};

/* Encode @c into a buffer obtained from @alloc (raft_malloc for the log,
 * malloc in tests), returned in @out and @len (no NUL; padded with spaces to
 * a multiple of COMMAND_ALIGN, as libraft needs). @c is borrowed.
 * Returns 0, -EINVAL (bad key) or -ENOMEM. */
int command_encode(const struct command *c, void *(*alloc)(size_t), void **out,
                   size_t *len);

/* Decode @len bytes at @buf into @c; on success @c->key is owned by @c and
 * released by command_clear(). Returns 0 or -EINVAL with a reason in @err;
 * on failure @c needs no clearing. */
int command_decode(const void *buf, size_t len, struct command *c, char *err,
                   size_t errlen);

/* Release what command_decode allocated. */
void command_clear(struct command *c);

#endif /* TASKD_COMMAND_H */
