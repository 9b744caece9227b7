/* set: the task-set checker: acked creates are present, nothing else is. */
#ifndef FAULTLINE_SET_H
#define FAULTLINE_SET_H

#include "checker/report.h"
#include "histories/history.h"

/* Check the `create`, `delete` and `list` ops of @h (borrowed; FORMAT.md,
 * "Task operations") as Jepsen's set-full does; set.c says how each task is
 * classed. @out is initialized here; release it with report_close().
 * Returns 0 with the verdict in @out; -EINVAL when the history can't be
 * read (out->reason names the line; @out unknown); -ENOMEM. */
int checker_set(const struct history *h, struct report *out);

#endif /* FAULTLINE_SET_H */
