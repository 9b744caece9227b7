/* shrink: cut a failing history down to a small sub-history that still
 * fails the same way (delta debugging over client operations). */
#ifndef FAULTLINE_SHRINK_H
#define FAULTLINE_SHRINK_H

#include <stdbool.h>
#include <stddef.h>

#include "checker/linearizable.h"
#include "histories/history.h"

/* Does the candidate @h (borrowed; a shallow view: do not keep it) still
 * show the anomaly? Returns 1 yes, 0 no (valid, unknown, another anomaly),
 * or a negative errno to stop shrinking. */
typedef int (*shrink_test_fn)(const struct history *h, void *arg);

struct shrink_stats {
    size_t ops_before; /* client operations given */
    size_t ops_after;  /* client operations kept */
    size_t checks;     /* calls of the test */
    double seconds;
    bool time_out; /* the time limit stopped it: the result is still
                    * failing but may not be minimal */
};

/* ddmin (Zeller and Hildebrandt, 2002) over the client operations of @h:
 * an operation is its invoke and its completion, removed together; the
 * events kept stay in their order, so each process keeps its order.
 * Nemesis events are left out of the candidates (checkers skip them).
 * @keep_op, when not NULL, first restricts the operations to those it
 * accepts (e.g. one key), if the test still fails on them. Stops after
 * @time_s seconds (0: no limit) with the smallest failing history so far.
 *
 * On success @out (initialized here; free with history_close) holds copies
 * of the kept events, nemesis events within their time span added back as
 * context, and out_index[i] (malloc'd, owned by the caller) the index in
 * @h of out's event i. Returns 0; -EINVAL when @h itself does not fail the
 * test (nothing to shrink); -ENOMEM; or the test's error. */
int shrink_history(const struct history *h,
                   bool (*keep_op)(const struct history_event *inv,
                                   void *arg),
                   shrink_test_fn test, void *arg, double time_s,
                   struct history *out, size_t **out_index,
                   struct shrink_stats *stats);

/* A test for shrink_history: the history is invalid under the model
 * @arg->model (a struct shrink_lin *), within @arg->limits. For the
 * cas-register model, every value an ok read returns must also be written
 * by a write or cas of the candidate invoked before the read returned
 * (when the first history tested, the whole one, satisfies this): a lone read of a value nobody wrote
 * is invalid but says nothing about what went wrong. */
struct shrink_lin {
    const struct model *model;
    struct checker_limits limits;
    const char *key; /* the anomaly's key (NULL: ops without a key) */
    bool explain_known, explain; /* set by the first call */
};
int shrink_test_linearizable(const struct history *h, void *arg);
bool shrink_keep_key(const struct history_event *inv, void *arg);

#endif /* FAULTLINE_SHRINK_H */
