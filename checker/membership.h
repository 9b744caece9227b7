/* membership: the membership checker: a configuration change the system
 * acknowledged as committed is in the configuration the run ended with,
 * unless a later change touched that node. */
#ifndef FAULTLINE_MEMBERSHIP_CHECK_H
#define FAULTLINE_MEMBERSHIP_CHECK_H

#include "checker/report.h"
#include "histories/history.h"

/* Check the nemesis's membership changes of @h (borrowed; FORMAT.md,
 * "Membership"): each node's last change with outcome "committed" (add:
 * a member; assign R: role R; remove: not a member), when no change of
 * unknown outcome touched the node after it, against the last nemesis
 * "configuration" info (the runner's end-of-run read of the newest
 * configuration). A change that is not there is an anomaly (class
 * "lost"); "kept" counts the nodes that agree, "not_judged" those whose
 * last change is unknown. A history without a "configuration" record is
 * valid, with nothing to judge; one whose record says no node answered
 * is unknown. @out is initialized here; release it with report_close().
 * Returns 0 with the verdict in @out; -EINVAL when the configuration
 * record is not {voters, standbys, spares} lists of names (out->reason
 * names the line; @out unknown); -ENOMEM. */
int checker_membership(const struct history *h, struct report *out);

#endif /* FAULTLINE_MEMBERSHIP_CHECK_H */
