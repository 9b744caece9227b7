/* netns: the run's network: one namespace per node, veths on a bridge. */
#ifndef FAULTLINE_NETNS_H
#define FAULTLINE_NETNS_H

#include <stddef.h>

/* The bridge's address: where clients and the runner talk from. */
#define NETNS_BRIDGE_IP "10.77.0.1"

/* Create the bridge and, for nodes 0..n-1, a network namespace "nI" (I from
 * 1) whose eth0 has address netns_node_ip(i) on the bridge. Must run inside
 * the sandbox (sandbox_enter). Commands and their output go to @log_fd.
 * Returns 0, or a negative errno / positive exit status of the failing
 * command, with @err saying which. */
int netns_setup(int n, int log_fd, char *err, size_t errlen);

/* The address of node @i (0-based) into @buf: "10.77.0.11" for node 0. */
void netns_node_ip(int i, char *buf, size_t size);

/* The namespace name of node @i: "n1" for node 0. */
void netns_name(int i, char *buf, size_t size);

#endif /* FAULTLINE_NETNS_H */
