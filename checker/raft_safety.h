/* raft_safety: Raft's own safety properties, judged from the nodes' protocol
 * events (nodes/taskd/README.md, "Events") rather than from client
 * operations.
 *
 * A bug in how a node keeps its term, vote or log, or in how it truncates
 * and installs snapshots, often leaves no trace a client can see: the
 * damage needs a second, unlucky fault to surface as a lost write. The
 * nodes report what they persisted, what they found on disk when they came
 * back, whom they led and what they applied; these are checked against the
 * properties of the Raft paper (Ongaro and Ousterhout, 2014, figure 3):
 *
 *   two_leaders    two nodes became leader in the same term (Election
 *                  Safety), both after an election; a node that became
 *                  leader as the only voter of its configuration is
 *                  counted apart (sole_voter_term_reused, not an anomaly):
 *                  libraft 0.15 self-elects such a node without a new term
 *                  (docs/findings/libraft-sole-voter-term.md); at a
 *                  restart it does so before it reports the configuration
 *                  it restored, so a leadership without a candidacy is
 *                  judged by the configuration event right after it
 *   term_lost      a node came back with a lower term than it had
 *                  persisted before it stopped (persistent state: a node
 *                  that forgets its term can vote twice in one term)
 *   vote_lost      a node came back in the term it had persisted a vote in,
 *                  without that vote (it can vote again, for another)
 *   log_lost       a node came back with a shorter log than it had
 *                  reported durable (after its truncations and snapshot
 *                  installs): an entry counted in a quorum is gone
 *   applied_differently  two nodes applied different entries at one index
 *                  (State Machine Safety)
 *   answered_differently  two nodes applied the same entry at one index and
 *                  answered differently (its reply, or whether it was a
 *                  duplicate): their states had diverged before it
 *   change_overwritten  a membership change acknowledged as committed at
 *                  index I (the history), while a node applied a command
 *                  at I (its events): the configuration entry was never
 *                  committed, the acknowledgement was early (an operator
 *                  acting on it, e.g. wiping a "removed" voter, loses data)
 *   applied_twice  one request id (`rid`) applied at two indices, not
 *                  answered as a duplicate the second time: a retry
 *                  executed again (exactly-once application, as the task
 *                  store promises; a client may never see it)
 *
 * Facts, not anomalies, are counted too: restarts compared, terms with a
 * leader, indices applied on two or more nodes. A node whose data dir was
 * emptied on purpose (a wiped member rejoining: `start` with join and an
 * empty log) starts over. Lines that are not JSON objects (the last line
 * of a killed node may be cut) are skipped and counted. */
#ifndef FAULTLINE_RAFT_SAFETY_H
#define FAULTLINE_RAFT_SAFETY_H

#include <stddef.h>

#include "checker/report.h"

/* One node's events file. */
struct raft_safety_node {
    const char *name; /* "n1" */
    const char *path; /* .../nodes/n1/events.jsonl */
};

/* A membership change the history says was acknowledged as committed,
 * with the log index of its configuration entry (nemesis add, assign,
 * remove infos with outcome "committed" and "index"). */
struct raft_safety_change {
    long long index;
    char what[64]; /* "remove n1", "assign n2 voter" */
    int line;         /* in history.jsonl */
};

/* Check the events of @n nodes. @out is initialized here (checker "raft");
 * release it with report_close(). Returns 0 with the verdict in @out: valid
 * or invalid, and out->info "protocol_events" the number of protocol events
 * read (0: the system reports none, nothing was judged); -EIO when a file
 * cannot be read (out->reason names it); -ENOMEM. */
int checker_raft_safety(const struct raft_safety_node *nodes, size_t n,
                        const struct raft_safety_change *changes,
                        size_t nchanges, struct report *out);

/* The same over a run directory's nodes (@run_dir/nodes/NAME/events.jsonl,
 * in name order) and the changes its history.jsonl acknowledged: the
 * registry's "raft" checker. Returns what
 * checker_raft_safety() returns, or -ENOENT (@out released) when there is
 * nothing to judge: no nodes directory, or no protocol events in it. */
int checker_raft_safety_run(const char *run_dir, struct report *out);

#endif /* FAULTLINE_RAFT_SAFETY_H */
