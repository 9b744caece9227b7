/* api: the client requests and their replies, on top of Raft.
 *
 * Request:  {"id":ID,"op":OP,...operands...[,"rid":RID]}
 * Reply:    {"id":ID,"ok":true,...} or
 *           {"id":ID,"ok":false,"error":CODE,"message":TEXT,
 *            "definite":BOOL[,...]}
 * ID is any JSON integer or string, echoed verbatim; replies on one
 * connection may come out of order. "definite":true means the operation
 * certainly did not take effect; false that it may have. The ops, operands,
 * replies and error codes are listed in nodes/taskd/README.md. */
#ifndef TASKD_API_H
#define TASKD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <raft.h>
#include <uv.h>

#include "nodes/taskd/admin.h"
#include "nodes/taskd/client.h"
#include "nodes/taskd/config.h"
#include "nodes/taskd/fsm.h"

struct pending;
struct read_batch;

struct api {
    /* private */
    struct raft *raft;            /* borrowed */
    struct fsm *fsm;              /* borrowed */
    const struct config *cfg;     /* borrowed: peers, node id, bugs, timeout */
    uv_timer_t sweep;             /* replies "timeout" to overdue requests */
    uv_timer_t kick;              /* starts the next barrier */
    struct pending *ticking_head; /* requests not yet replied, oldest first */
    struct pending *ticking_tail;
    struct pending *read_queue; /* reads waiting for the next barrier */
    struct pending *read_queue_tail;
    struct read_batch *barrier; /* the barrier in flight, if any */
    json_t *seen_rids;          /* --bug dedup-in-memory: rid -> outcome */
    struct admin admin;         /* add, assign, remove, transfer, members */
    bool closing;
};

/* Start the API of this node on @loop. All arguments are borrowed and must
 * outlive the api. Returns 0 or a negative libuv error code. */
int api_init(struct api *api, uv_loop_t *loop, struct raft *raft,
             struct fsm *fsm, const struct config *cfg);

/* Stop: reads still waiting for a barrier get a "shutdown" error; the
 * timer is closed. Requests already in Raft complete (with RAFT_SHUTDOWN)
 * when raft_close() runs, which must come after this. */
void api_close(struct api *api);

/* Handle one request line from @conn; the reply is sent now or when Raft
 * completes the operation. Use as the client_line_cb, with the api as its
 * data. */
void api_handle_line(struct client_conn *conn, const char *line, size_t len,
                     void *data);

/* "follower", "candidate", "leader" or "unavailable" for a raft_state(). */
const char *api_state_name(int state);

#endif /* TASKD_API_H */
