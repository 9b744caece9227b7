/* fsm_raft: the SQLite state machine (fsm.h) seen by libraft as a raft_fsm. */
#ifndef TASKD_FSM_RAFT_H
#define TASKD_FSM_RAFT_H

#include <stdint.h>

#include <raft.h>

#include "nodes/taskd/fsm.h"

struct fsm_raft {
    struct raft_fsm iface; /* give &iface to raft_init() */

    /* private */
    struct fsm *fsm;   /* borrowed */
    struct raft *raft; /* borrowed; set before raft_start() */
    uint64_t n_applied;
    uint64_t n_skipped;
    raft_index skip_first; /* current run of skipped indices, if any */
    raft_index skip_last;
    uint64_t skip_count;
};

/* Encode an fsm_result as the apply callback's @result pointer, and back. */
#define FSM_RAFT_RESULT(R)    ((void *)(uintptr_t)(R))
#define FSM_RAFT_RESULT_OF(P) ((enum fsm_result)(uintptr_t)(P))

/* Adapt @fsm (borrowed) for @raft (borrowed: the instance @fr is given to).
 *
 * apply: libraft 0.15 does not pass the entry's index to fsm->apply. It
 * applies entries in order from last_applied + 1 and sets last_applied only
 * after each returns, for commands, barriers and configuration entries alike
 * (src/replication.c, replicationApply), so the entry being applied is
 * raft_last_applied() + 1. Already-applied indices are skipped; each run of
 * them is reported by one "apply_skipped" event (first, last, count) when
 * the run ends or at fsm_raft_flush(). The apply result is
 * FSM_RAFT_RESULT(enum fsm_result).
 *
 * snapshot/restore: the database image; "snapshot_taken" and
 * "snapshot_restored" events. A restore of an image that is not ours fails
 * with RAFT_MALFORMED.
 *
 * Any SQLite error fail-stops the node (failstop.h). */
void fsm_raft_init(struct fsm_raft *fr, struct fsm *fsm, struct raft *raft);

/* Report a pending run of skipped entries now. */
void fsm_raft_flush(struct fsm_raft *fr);

#endif /* TASKD_FSM_RAFT_H */
