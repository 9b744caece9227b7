/* client: how a workload talks to one system under test.
 *
 * Jepsen's client protocol (open, invoke, close) on a libuv loop: a client
 * holds at most one operation in flight, against a node it is pointed at,
 * and reports how it ended in the history's terms: ok, fail (certainly did
 * not happen) or info (may have happened). A new system is a new file
 * implementing this table. */
#ifndef FAULTLINE_CLIENT_H
#define FAULTLINE_CLIENT_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "histories/history.h"

/* An operation to perform, in the history's terms (histories/FORMAT.md):
 * f is read, write, cas; create, get, update, delete, list; enqueue, claim,
 * ack, nack; acquire, release, holder; or, for the runner, status (the
 * node's own state) and digest (the node's replicated state, for the
 * convergence check at the end of a run: any node answers it, from its own
 * state, at once; ok value {"applied_index": N, "digest": "HEX", "rows":
 * {TABLE: N, ...}, "tables": {TABLE: "HEX", ...}}, where nodes that
 * applied the same index must have the same digest; rows and tables, each
 * table's row count and digest, are optional, for people). A system
 * without it returns -EINVAL from invoke, and the run skips the
 * convergence check. Everything is borrowed for the call.
 *
 * A system with DB_CAP_MEMBERSHIP (nodes/db.h) also takes the admin ops the
 * runner's membership faults send (key NULL; roles are "voter", "standby":
 * replicates, no vote, "spare": neither; ids are db_node.id):
 *   add      {"id": N, "peer": "host:port"}: add node N (its db_node host
 *            and peer_port) as a spare; ok once the change is committed;
 *   assign   {"id": N, "role": R}: give member N role R (to voter: after it
 *            caught up); ok once committed;
 *   remove   {"id": N}: ok once the configuration without N is committed;
 *            add, assign and remove: ok value {"index": I}, the log index
 *            of the committed configuration entry, when the system has one
 *            (null otherwise): the raft checker looks for it in the nodes'
 *            events;
 *   transfer {"id": N}: hand the leadership to voter N (0: any other
 *            voter); ok value {"leader": id} once it is known;
 *   members  null: the configuration as the node sees it (no round trip):
 *            ok value {"members": [{"id": N, "role": R}...], "index": the
 *            configuration's version (higher is newer), "committed": bool}.
 * A change ends ok (committed), fail (certainly not made: refused, busy,
 * unknown node, elsewhere when the node is not the leader) or info (it may
 * still take effect). The fault kinds know these ops, never a wire format. */
struct client_op {
    const char *f;
    const char *key; /* the register, task id or scope; NULL when none */
    json_t *value;   /* the invoke value: write: N; cas: [from, to]; the
                      * task, queue and lease ops: an object of their fields
                      * (rid, worker, lease_ms, ...); else null */
};

/* How an operation ended. */
struct client_result {
    enum history_type type; /* HISTORY_OK, HISTORY_FAIL or HISTORY_INFO */
    json_t *value;          /* borrowed for the callback: ok's value as
                             * FORMAT.md records it (status: the reply;
                             * digest: as above) */
    const char *error;      /* fail/info: short code ("not_leader"...) */
    const char *message;    /* fail/info: text for people, or NULL */
    const char *leader;     /* "host:port" of the leader or primary this
                             * node names (with elsewhere), or NULL */
    bool unreachable;       /* fail: could not connect; nothing was sent */
    /* fail: the node refused the op before doing anything (not the leader,
     * no leader yet, shutting down, unreachable): the runner may send the
     * same op to @leader or another node. The client decides this from its
     * system's replies; the runner never reads error codes. */
    bool elsewhere;
};

struct client;
typedef void (*client_cb)(void *arg, const struct client_result *res);

struct client_ops {
    const char *name;
    /* A new client on @loop, not yet connected. NULL when out of memory. */
    struct client *(*new)(uv_loop_t *loop);
    /* Hand @c the db's settings (the scenario's "db" section, as the db's
     * settings table declares it; borrowed, they outlive @c), right after
     * new(), for a client whose behaviour the scenario sets (Redis' WAIT
     * after writes). May be NULL. */
    void (*configure)(struct client *c, const void *db_settings);
    /* Perform @op at the node listening on @addr ("host:port"), connecting
     * (or reconnecting, when @addr changed) first. @cb is called exactly
     * once, unless abandon() comes first. Returns 0, or -EBUSY when an op
     * is already in flight, -EINVAL for an op the system does not know, or
     * a negative errno. */
    int (*invoke)(struct client *c, const char *addr,
                  const struct client_op *op, client_cb cb, void *arg);
    /* Give up on the op in flight (it timed out): its callback will not be
     * called, and the connection is dropped since its state is unknown. */
    void (*abandon)(struct client *c);
    /* True when the op in flight may have reached the node. */
    bool (*in_doubt)(const struct client *c);
    /* Close and free @c (asynchronously; no callback is called after). */
    void (*free)(struct client *c);
};

/* The client named @name ("taskd"), or NULL. */
const struct client_ops *client_find(const char *name);

#endif /* FAULTLINE_CLIENT_H */
