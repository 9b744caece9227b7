/* api: the client requests (read, write, cas, status) and their replies.
 *
 * Request:  {"id":ID,"op":"read","key":K}
 *           {"id":ID,"op":"write","key":K,"value":INT}
 *           {"id":ID,"op":"cas","key":K,"from":INT,"to":INT}
 *           {"id":ID,"op":"status"}
 * Reply:    {"id":ID,"ok":true,...} or
 *           {"id":ID,"ok":false,"error":CODE,"message":TEXT,
 *            "definite":BOOL[,"leader":"HOST:PORT"|null]}
 * ID is any JSON integer or string, echoed verbatim. "definite":true means
 * the operation certainly did not take effect; false that it may have.
 * Error codes: bad_request, not_leader, cas_mismatch, leadership_lost,
 * shutdown, raft_error. */
#ifndef TASKD_API_H
#define TASKD_API_H

#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "nodes/taskd/client.h"
#include "nodes/taskd/config.h"
#include "nodes/taskd/fsm.h"

struct api {
    struct raft *raft;        /* borrowed */
    struct fsm *fsm;          /* borrowed */
    const struct config *cfg; /* borrowed: peers, node id, bugs */
};

/* Handle one request line from @conn; the reply is sent now or when Raft
 * completes the operation. Use as the client_line_cb, with the api as its
 * data. */
void api_handle_line(struct client_conn *conn, const char *line, size_t len,
                     void *data);

/* "follower", "candidate", "leader" or "unavailable" for a raft_state(). */
const char *api_state_name(int state);

#endif /* TASKD_API_H */
