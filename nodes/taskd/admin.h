/* admin: membership changes and leadership transfer on the client API.
 *
 * Requests (one JSON line each, like every other op; "id" echoed):
 *   {"op":"add","node_id":N,"address":"IPV4:PORT"}   new server, as spare
 *   {"op":"assign","node_id":N,"role":"voter"|"standby"|"spare"}
 *   {"op":"remove","node_id":N}
 *   {"op":"transfer","node_id":N}                    N = 0: any voter
 *   {"op":"members"}                                 local, no Raft round
 * add, assign and remove go through libraft (raft_add, raft_assign,
 * raft_remove) and are answered once the configuration entry is committed
 * (libraft's change callback); transfer once the target (or, for 0, another
 * node) is known as leader. Replies and error codes are listed in
 * nodes/taskd/README.md ("Admin operations"). */
#ifndef TASKD_ADMIN_H
#define TASKD_ADMIN_H

#include <stdbool.h>

#include <jansson.h>
#include <raft.h>
#include <uv.h>

#include "nodes/taskd/client.h"
#include "nodes/taskd/config.h"

struct admin_req;

struct admin {
    /* private */
    struct raft *raft;          /* borrowed */
    const struct config *cfg;   /* borrowed */
    uv_timer_t sweep;           /* deadlines, and transfers waiting to see
                                   the new leader */
    struct admin_req *requests; /* not replied, or still held by libraft */
    bool closing;
};

/* Start on @loop. Arguments are borrowed and must outlive the admin.
 * Returns 0 or a negative libuv error code. */
int admin_init(struct admin *a, uv_loop_t *loop, struct raft *raft,
               const struct config *cfg);

/* Stop: requests not answered yet get "shutdown" (definite:false); the ones
 * libraft still holds are freed by its callbacks, when raft_close() runs,
 * which must come after this. */
void admin_close(struct admin *a);

/* True when @op (borrowed, may be NULL) is one of the admin ops. */
bool admin_is_op(const char *op);

/* Handle the admin request @req (borrowed) with @id (borrowed) from @conn;
 * the reply is sent now or when libraft completes. */
void admin_handle(struct admin *a, struct client_conn *conn, json_t *id,
                  const char *op, json_t *req);

/* This node's view of the configuration: {"index":I,"committed":BOOL,
 * "committed_index":C,"servers":[{"id","address","role"}...]}, where I is
 * the index of the latest configuration entry (uncommitted when there is
 * one) and C the latest committed one (0: none yet, a node waiting to
 * join). New reference, or NULL when out of memory. */
json_t *admin_configuration_json(const struct raft *r);

/* "voter", "standby", "spare", or "unknown". */
const char *admin_role_name(int role);

#endif /* TASKD_ADMIN_H */
