/* node: one taskd process: Raft over TCP, the SQLite state machine and the
 * client API, all driven by one libuv loop. */
#ifndef TASKD_NODE_H
#define TASKD_NODE_H

#include "nodes/taskd/config.h"

/* Run the node described by @cfg (borrowed) until SIGTERM or SIGINT.
 * Returns the process exit code: 0 after a clean shutdown, 1 when start-up
 * failed (the reason is on stderr). Storage errors never return: they
 * fail-stop (failstop.h). */
int node_run(const struct config *cfg);

#endif /* TASKD_NODE_H */
