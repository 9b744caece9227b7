/* rpc_bug: the seeded bugs of the decisions libraft takes on its messages,
 * --bug vote-quorum-short, commit-quorum-short and vote-ignores-log
 * (BUGS.md), emulated at raft_io's send and receive.
 *
 * libraft counts votes and acknowledgments and compares logs itself, so a
 * node that should need one answer fewer than a majority is given one
 * answer more instead (a made-up reply from one peer, delivered to libraft
 * as if the network had brought it), and a voter that should not compare
 * logs is shown a candidate whose log can never be behind. In a 3-node
 * cluster the quorum bugs let one node act alone: a lone candidate wins, a
 * lone leader commits. With no --bug, none of this is installed. */
#ifndef TASKD_RPC_BUG_H
#define TASKD_RPC_BUG_H

#include <raft.h>
#include <uv.h>

struct io_wrap;
struct rpc_bug;

/* Route @w->io's start, send and receive through the bugs of this module
 * set in @bugs (a mask of enum bug). Does nothing, and returns 0, when
 * none is set. Call after io_wrap_install() and before raft_start().
 * Returns 0 or a libuv error (UV_ENOMEM). */
int rpc_bug_install(struct io_wrap *w, uv_loop_t *loop, unsigned bugs);

/* Drop the replies not yet delivered and release the timer; called from
 * the wrapped close. Safe when nothing was installed. */
void rpc_bug_close(struct io_wrap *w);

#endif /* TASKD_RPC_BUG_H */
