/* queue: the work-queue checker: nothing lost, no task held twice. */
#ifndef FAULTLINE_QUEUE_H
#define FAULTLINE_QUEUE_H

#include "checker/report.h"
#include "histories/history.h"

/* Check the `enqueue`, `claim`, `ack` and `nack` ops of @h (borrowed;
 * FORMAT.md, "Queue operations"); queue.c states the rules. @out is
 * initialized here; release it with report_close(). Returns 0 with the
 * verdict in @out; -EINVAL when the history can't be read (out->reason
 * names the line; @out unknown); -ENOMEM. */
int checker_queue(const struct history *h, struct report *out);

#endif /* FAULTLINE_QUEUE_H */
