/* faultfs_node: a faultfs mount (nemesis/faultfs/) under each node's data
 * directory, for the faults that lose un-fsynced writes or fail I/O below
 * the node: lose-unsynced-on-kill, torn-write-on-kill (power_loss.c),
 * disk-error and disk-full (fs_error.c).
 *
 * In a scenario with one of them, the runner starts one faultfs per node
 * before the node (cluster_init), mounted over nodes/nN/data itself (the
 * files stay there when the mount goes) inside the run's mount namespace,
 * with its control socket at nodes/nN/faultfs.sock, unlinked files kept in
 * nodes/nN/faultfs.stash until their removal is durable, and its log in
 * nodes/nN/faultfs.log. It dies with the runner (PR_SET_PDEATHSIG, and the
 * pid namespace), and the mount with the mount namespace. */
#ifndef FAULTLINE_NEMESIS_FAULTFS_NODE_H
#define FAULTLINE_NEMESIS_FAULTFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner/cluster.h"
#include "runner/scenario.h"


/* The prepare_node of every faultfs fault kind: mount node @i's faultfs
 * before it first starts (@env NULL); nothing at each start. */
int nemesis_faultfs_prepare(struct cluster *c, const struct scenario *s,
                            const void *settings, int i,
                            struct cluster_env *env);

/* Start node @i's faultfs and wait until it is mounted (at most 10 s).
 * Returns 0, or a negative errno with a message on c->log. */
int nemesis_faultfs_mount(struct cluster *c, int i, uint64_t run_seed);

/* Send @command to node @i's faultfs; its last reply line goes to @reply.
 * Returns 0 (ok), 1 (an error reply) or a negative errno (unreachable). */
int nemesis_faultfs_command(struct cluster *c, int i, const char *command,
                            char *reply, size_t size);

/* Names a scenario may use in nemesis.fs_ops, and their list. */
bool nemesis_faultfs_op_known(const char *op);
const char *nemesis_faultfs_op_names(void);

#endif /* FAULTLINE_NEMESIS_FAULTFS_NODE_H */
