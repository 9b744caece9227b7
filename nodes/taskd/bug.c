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
    {BUG_VOTE_NOT_PERSISTED, "vote-not-persisted",
     "set_vote reports success without writing: a restarted node can vote "
     "twice in one term"},
    {BUG_TERM_NOT_PERSISTED, "term-not-persisted",
     "set_term reports success without writing: a restarted node's term "
     "goes back"},
    {BUG_APPEND_EARLY_ACK, "append-early-ack",
     "log appends acknowledged to Raft at once, written 20 ms later "
     "(group commit)"},
    {BUG_TRUNCATE_SKIPPED, "truncate-skipped",
     "log truncation not done on disk: conflicting entries come back after "
     "a restart"},
    {BUG_SNAPSHOT_OFF_BY_ONE, "snapshot-off-by-one",
     "local snapshots stored labelled one index past their content"},
    {BUG_VOTE_QUORUM_SHORT, "vote-quorum-short",
     "elections won one vote short of a majority: a candidate counts the "
     "vote of one peer as granted when it asks for it"},
    {BUG_COMMIT_QUORUM_SHORT, "commit-quorum-short",
     "entries committed one acknowledgment short of a majority: the leader "
     "counts one follower's append as done when it sends it"},
    {BUG_VOTE_IGNORES_LOG, "vote-ignores-log",
     "votes granted without comparing logs: a candidate whose log lacks "
     "committed entries can win"},
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
    size_t width = 0;
    size_t i;

    /* At least two spaces after the longest name: ci/gate-mutants reads
     * the names from --help by that gap. */
    for (i = 0; i < N_BUGS; i++) {
        size_t len = strlen(bugs_table[i].name);
        width = len > width ? len : width;
    }
    for (i = 0; i < N_BUGS; i++) {
        fprintf(out, "  %-*s  %s\n", (int)width, bugs_table[i].name,
                bugs_table[i].description);
    }
}

void bug_list_tsv(FILE *out)
{
    size_t i;

    for (i = 0; i < N_BUGS; i++) {
        fprintf(out, "%s\t%s\n", bugs_table[i].name,
                bugs_table[i].description);
    }
}
