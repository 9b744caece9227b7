/* linearizable: the Wing-Gong-Lowe linearizability checker, split by key. */
#ifndef FAULTLINE_LINEARIZABLE_H
#define FAULTLINE_LINEARIZABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "checker/model.h"
#include "checker/verdict.h"
#include "histories/history.h"

/* The most threads a check uses. */
#define CHECKER_THREADS_MAX 64

/* Bounds on the search; a zero field means no limit. Reaching one makes the
 * verdict unknown (never valid), naming the limit and the key. */
struct checker_limits {
    double time_s;       /* wall-clock seconds for the whole history */
    size_t memory_bytes; /* for the whole check: the visited-state caches of
                          * the keys being searched, and the model's tables */
    bool whole;          /* search the whole history as one part: do not
                          * split it by key (for comparison and tests); the
                          * verdict then names no key (verdict.whole).
                          * With a model that is a product of keys
                          * (model.per_key) the verdict is the same split
                          * or not (locality), so the keys are searched one
                          * by one all the same and the verdict says so
                          * (verdict.per_key), unless no_compose */
    bool no_compose;     /* with whole: one search of the whole history
                          * even for a per-key model (benchmarks, tests) */
    unsigned threads;    /* keys searched at once, each on a thread; 0: one
                          * per online core (at most CHECKER_THREADS_MAX) */
};

/* Check that @h is linearizable under @m (both borrowed; @lim may be NULL).
 *
 * Client ops are paired per process: an invoke, then that process's next
 * ok/fail/info. Nemesis events are skipped. A fail op did not happen and is
 * left out; an op without a result (info, or still open when the history
 * ends) may take effect at any time after its invoke, or never; the model
 * may drop it (a read without a result constrains nothing). Ops are split
 * by key and each key is searched on its own, intervals closed: an op
 * that returns at the instant another is invoked overlaps it.
 *
 * @out is initialized by this call and must be released with
 * verdict_close(). Returns 0 with the verdict in @out (valid, invalid or
 * unknown); -EINVAL when the history can't be checked (pairing broken, or
 * a value the model can't read): @out is then unknown and out->reason names
 * the line; or -ENOMEM (@out unknown). */
int checker_linearizable(const struct history *h, const struct model *m,
                         const struct checker_limits *lim, struct verdict *out);

#endif /* FAULTLINE_LINEARIZABLE_H */
