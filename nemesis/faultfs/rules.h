/* rules: the I/O errors a faultfs mount injects on cue ("fail write EIO 3
 * *.db") and the full-disk switch.
 *
 * A rule fails one operation with one errno on the files whose path
 * matches a glob (fnmatch without flags, against the path inside the mount
 * without its leading '/', so '*' also matches '/'; default "*"), either
 * the next COUNT times (then it is spent) or each time with probability P
 * (a number with a '.', drawn from the mount's seed), or always when
 * neither is given (or "always", to give a pattern after it). Rules are checked
 * in the order given; the first that matches decides. Thread-safe. */
#ifndef FAULTLINE_FAULTFS_RULES_H
#define FAULTLINE_FAULTFS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rules_op {
    RULES_READ,
    RULES_WRITE,
    RULES_FSYNC,
    RULES_FDATASYNC,
    RULES_CREATE,
    RULES_RENAME,
    RULES_TRUNCATE,
    RULES_UNLINK,
    RULES_MKDIR,
    RULES_OPEN,
    RULES_N_OPS
};

struct rules;

/* NULL when out of memory. */
struct rules *rules_new(uint64_t seed);
void rules_free(struct rules *r);

/* Add the rule @argv[0..argc): OP ERRNO [COUNT|PROBABILITY|always] [PATTERN]
 * (the words after "fail"; ERRNO a name such as EIO or a number). Returns
 * 0, or -EINVAL with a message naming the bad word in @err. */
int rules_add(struct rules *r, int argc, char **argv, char *err, size_t size);

/* Remove every rule (the full disk stays as it is). */
void rules_clear(struct rules *r);

void rules_set_full(struct rules *r, bool full);
bool rules_full(struct rules *r);

/* The errno (positive) that @op on @path must fail with, or 0. A matching
 * counted rule is used up by one. @path as given by FUSE ("/a/b"). */
int rules_check(struct rules *r, enum rules_op op, const char *path);

/* One line per rule, and one for the full disk, into @buf. */
void rules_status(struct rules *r, char *buf, size_t size);

/* The errno called @name ("EIO", or a number), or 0. */
int rules_errno(const char *name);

#endif /* FAULTLINE_FAULTFS_RULES_H */
