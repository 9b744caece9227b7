/* fsm_raft: the SQLite state machine (fsm.h) seen by libraft as a raft_fsm. */
#ifndef TASKD_FSM_RAFT_H
#define TASKD_FSM_RAFT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <raft.h>

#include "nodes/taskd/fsm.h"

/* What the apply callback's @result points to. */
struct fsm_raft_result {
    raft_index index; /* the entry this is the outcome of */
    json_t *reply;    /* the reply body; borrowed (see fsm_raft_init) */
};

struct fsm_raft {
    struct raft_fsm iface; /* give &iface to raft_init() */
    /* Set around raft_start(): the snapshot libraft restores then is kept
     * out when the database already holds it (fsm_restore). */
    bool starting;

    /* private */
    struct fsm *fsm;   /* borrowed */
    struct raft *raft; /* borrowed; set before raft_start() */
    struct fsm_raft_result last;
    uint64_t n_applied;
    uint64_t n_skipped;
    raft_index skip_first; /* current run of skipped indices, if any */
    raft_index skip_last;
    uint64_t skip_count;
};

/* Adapt @fsm (borrowed) for @raft (borrowed: the instance @fr is given to).
 *
 * apply: libraft 0.15 does not pass the entry's index to fsm->apply. It
 * applies entries in order from last_applied + 1 and sets last_applied only
 * after each returns, for commands, barriers and configuration entries alike
 * (src/replication.c, replicationApply), so the entry being applied is
 * raft_last_applied() + 1. Already-applied indices are skipped; each run of
 * them is reported by one "apply_skipped" event (first, last, count) when
 * the run ends or at fsm_raft_flush(). Every applied command is reported by
 * a "command_applied" event (index, op, rid, term, ts_ms, leader,
 * duplicate, result).
 *
 * The apply result is a struct fsm_raft_result *, NULL for a skipped entry.
 * It stays valid until the next apply: libraft 0.15 calls the request's
 * callback right after fsm->apply returns (src/replication.c, applyCommand),
 * and the callback must check that result->index is its request's index.
 *
 * snapshot/restore: the database image; "snapshot_taken",
 * "snapshot_restored" and "snapshot_restore_skipped" events. A restore of an
 * image that is not ours fails with RAFT_MALFORMED.
 *
 * Any SQLite error fail-stops the node (failstop.h). */
void fsm_raft_init(struct fsm_raft *fr, struct fsm *fsm, struct raft *raft);

/* Release the last result. */
void fsm_raft_close(struct fsm_raft *fr);

/* Report a pending run of skipped entries now. */
void fsm_raft_flush(struct fsm_raft *fr);

#endif /* TASKD_FSM_RAFT_H */
