/* configuration: the membership a run ended with, asked of every running
 * node (the client's members op, nodes/client.h) and written to the run
 * directory as configuration.json. */
#ifndef FAULTLINE_CONFIGURATION_H
#define FAULTLINE_CONFIGURATION_H

#include <uv.h>

#include "nodes/client.h"
#include "runner/cluster.h"

/* Ask every running node of @c (borrowed until @done) for its
 * configuration with @ops, for at most @timeout_ms, then write
 * @dir/configuration.json and call @done(@arg) from the loop. The file
 * holds each node's answer ("nodes": {"n1": {"members": [...], "index",
 * "committed"} or {"error": ...}}), the leader's (else the newest) as
 * "configuration" with the members by name ("voters", "standbys",
 * "spares"), and the runner's own view ("runner"). Returns 0, or a negative errno when nothing
 * was started (@done is then not called). */
int configuration_fetch(uv_loop_t *loop, struct cluster *c,
                        const struct client_ops *ops, const char *dir,
                        uint64_t timeout_ms, void (*done)(void *arg),
                        void *arg);

#endif /* FAULTLINE_CONFIGURATION_H */
