/* bug: the table of seeded bugs, looked up by the name given to --bug. */
#include "nodes/taskd/bug.h"

#include <errno.h>
#include <string.h>

static const struct {
    enum bug bug;
    const char *name;
    const char *description;
} bugs_table[] = {
    {BUG_STALE_READ, "stale-read",
     "serve reads from local state on any node, with no barrier"},
    {BUG_ACK_BEFORE_COMMIT, "ack-before-commit",
     "reply ok to write/create/enqueue once appended locally, before "
     "commit"},
    {BUG_NO_DEDUP, "no-dedup",
     "ignore request ids: a retried request is applied again"},
    {BUG_LOST_CLAIM, "lost-claim",
     "the leader picks the task to claim from its local state at submit; "
     "the FSM does not check it is still free"},
    {BUG_LEASE_LOCAL_CLOCK, "lease-local-clock",
     "judge lease and claim expiry by each node's own clock when applying "
     "and reading"},
    {BUG_UNSYNCED_STATE, "unsynced-state",
     "SQLite synchronous=OFF; the applied index written apart from the "
     "state, every 256 entries"},
    {BUG_LEADER_LOCAL_READ, "leader-local-read",
     "the leader serves reads from local state with no barrier"},
    {BUG_DEDUP_IN_MEMORY, "dedup-in-memory",
     "request ids remembered in the leader's memory, not replicated"},
    {BUG_CHANGE_BEFORE_COMMIT, "change-before-commit",
     "reply ok to add/assign/remove once libraft accepted the change, "
     "before the configuration entry is committed"},
};

#define N_BUGS (sizeof bugs_table / sizeof bugs_table[0])

int bug_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        if (strcmp(bugs_table[i].name, name) == 0) {
            return (int)bugs_table[i].bug;
        }
    }
    return -ENOENT;
}

const char *bug_name(enum bug b)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        if (bugs_table[i].bug == b) {
            return bugs_table[i].name;
        }
    }
    return NULL;
}

bool bug_on(unsigned bugs, enum bug b)
{
    return (bugs & (unsigned)b) != 0;
}

void bug_list(FILE *out)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        fprintf(out, "  %-18s %s\n", bugs_table[i].name,
                bugs_table[i].description);
    }
}
