/* converge: the replica-convergence checker: nodes that applied the same
 * log index hold the same state (Raft's State Machine Safety). */
#ifndef FAULTLINE_CONVERGE_H
#define FAULTLINE_CONVERGE_H

#include "checker/report.h"
#include "histories/history.h"

/* Check the `digest` ops of @h (borrowed; FORMAT.md, "Convergence"):
 * among each node's last ok digest, any two at the same applied_index with
 * different digests are an anomaly (class "diverged"); a node alone at its
 * index is "not_compared"; nodes that match another are "agreed". A
 * history without digest ops is valid, with nothing to compare. @out is
 * initialized here; release it with report_close(). Returns 0 with the
 * verdict in @out; -EINVAL when an ok digest value is not {node?,
 * applied_index, digest} (out->reason names the line; @out unknown);
 * -ENOMEM. */
int checker_converge(const struct history *h, struct report *out);

#endif /* FAULTLINE_CONVERGE_H */
