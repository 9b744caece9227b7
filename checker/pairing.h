/* pairing: a history's client events as ops, each invoke with its completion. */
#ifndef FAULTLINE_PAIRING_H
#define FAULTLINE_PAIRING_H

#include <stddef.h>

#include "checker/requests.h"
#include "histories/history.h"

/* One op: where its events are in h->events. */
struct pairing_op {
    size_t inv;  /* its invoke */
    size_t done; /* its completion (ok, fail or info), or SIZE_MAX when the
                  * history ended first */
};

/* Pair the client events of @h (borrowed) per process: an invoke, then
 * that process's next completion, which must be of the same f (and key,
 * when it names one) and not earlier. Nemesis events are skipped, and so
 * are the runner's digest probes (FORMAT.md, "Convergence"). A
 * process whose op ended in info must not invoke again. On success *@ops
 * (owned by the caller; free()) holds the ops in invoke order, *@n of
 * them, and 0 is returned; -EINVAL when the history can't be paired, with
 * a message naming the line (or index) in @err; or -ENOMEM. On failure
 * *@ops is NULL. */
int pairing_build(const struct history *h, struct pairing_op **ops, size_t *n,
                  char *err, size_t errlen);

/* requests_build()'s first step: r->ops and r->nops from pairing_build()
 * (req unset). Same errors; on failure r->ops is NULL. */
int pairing_request_ops(const struct history *h, struct requests *r, char *err,
                        size_t errlen);

/* "line 17", or "index 17" for an event built in memory: @buf. */
const char *pairing_where(const struct history_event *e, char *buf,
                          size_t size);

#endif /* FAULTLINE_PAIRING_H */
