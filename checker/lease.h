/* lease: the leader-lease checker: one holder at a time, fencing tokens
 * that only grow. */
#ifndef FAULTLINE_LEASE_H
#define FAULTLINE_LEASE_H

#include "checker/report.h"
#include "histories/history.h"

/* Check the `acquire`, `release` and `holder` ops of @h (borrowed;
 * FORMAT.md, "Lease operations"); lease.c states the rules. @out is
 * initialized here; release it with report_close(). Returns 0 with the
 * verdict in @out; -EINVAL when the history can't be read (out->reason
 * names the line; @out unknown); -ENOMEM. */
int checker_lease(const struct history *h, struct report *out);

#endif /* FAULTLINE_LEASE_H */
