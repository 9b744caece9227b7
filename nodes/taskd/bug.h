/* bug: seeded bugs a test can switch on to prove the checker catches them.
 * Each is a mistake real teams make; nodes/taskd/BUGS.md says what anomaly
 * each should cause. With no --bug, none of this code runs. */
#ifndef TASKD_BUG_H
#define TASKD_BUG_H

#include <stdbool.h>
#include <stdio.h>

/* One bit per bug. A new bug is a new value here and a row in bug.c. */
enum bug {
    BUG_STALE_READ = 1u << 0,        /* reads from local state, any node */
    BUG_ACK_BEFORE_COMMIT = 1u << 1, /* writes acked once appended */
    BUG_NO_DEDUP = 1u << 2,          /* request ids ignored */
    BUG_LOST_CLAIM = 1u << 3,        /* claim decided outside the FSM */
    BUG_LEASE_LOCAL_CLOCK = 1u << 4, /* expiry judged by the local clock */
    BUG_UNSYNCED_STATE = 1u << 5,    /* synchronous=OFF, applied index apart */
    BUG_LEADER_LOCAL_READ = 1u << 6, /* leader reads without a barrier */
    BUG_DEDUP_IN_MEMORY = 1u << 7,   /* request ids kept in leader memory */
    BUG_CHANGE_BEFORE_COMMIT = 1u << 8, /* membership change acked on submit */
    /* The Raft layer: taskd's storage path under libraft (io_wrap.c). */
    BUG_VOTE_NOT_PERSISTED = 1u << 9,  /* set_vote writes nothing */
    BUG_TERM_NOT_PERSISTED = 1u << 10, /* set_term writes nothing */
    BUG_APPEND_EARLY_ACK = 1u << 11,   /* appends acked before written */
    BUG_TRUNCATE_SKIPPED = 1u << 12,   /* conflicting entries kept on disk */
    BUG_SNAPSHOT_OFF_BY_ONE = 1u << 13, /* snapshot labelled index + 1 */
    /* libraft's messages (rpc_bug.c): quorums, the election rule. */
    BUG_VOTE_QUORUM_SHORT = 1u << 14,   /* a peer's vote counted unasked */
    BUG_COMMIT_QUORUM_SHORT = 1u << 15, /* a peer's ack counted on send */
    BUG_VOTE_IGNORES_LOG = 1u << 16,    /* votes granted to shorter logs */
};

/* The bug named @name, or -ENOENT when no bug has that name. */
int bug_lookup(const char *name);

/* The name of @b, or NULL when @b is not a single known bug. */
const char *bug_name(enum bug b);

/* True when @b is set in the mask @bugs. */
bool bug_on(unsigned bugs, enum bug b);

/* Write one line per known bug ("  name  description") to @out. */
void bug_list(FILE *out);

/* Write one line per known bug, "name<TAB>description", to @out: what
 * taskd --list-bugs prints, for programs. */
void bug_list_tsv(FILE *out);

#endif /* TASKD_BUG_H */
