/* grudge: which node drops packets from which, as iptables rules inside the
 * node namespaces: what the partition and loss faults share. */
#ifndef FAULTLINE_NEMESIS_GRUDGE_H
#define FAULTLINE_NEMESIS_GRUDGE_H

#include "nemesis/nemesis.h"

struct grudge {
    bool drop[DB_MAX_NODES][DB_MAX_NODES]; /* [i][j]: i drops from j */
    int n;
    char shape[24];
    double probability; /* loss: < 1 */
};

/* Fill @g (n, shape, drops; probability when given) from @v, a value
 * grudge_json() wrote: how a replayed partition or loss takes the cuts the
 * original run made. Unknown node names are left out. */
void grudge_from_json(struct nemesis_env *env, const json_t *v,
                      struct grudge *g);

/* Add (@action "-A") or delete ("-D") the rules of @g: in node i's
 * namespace, INPUT -s ip(j) [-m statistic ...] -j DROP for each drop[i][j].
 * Returns how many rules failed (their output is in runner.log). */
int grudge_apply(struct nemesis_env *env, struct grudge *g, const char *action);

/* The grudge as a history value: shape, drops, probability. New ref. */
json_t *grudge_json(struct nemesis_env *env, struct grudge *g);

/* Record the info event @f for @g, noting @failed rules if any, so the
 * history never claims a cut that did not happen. */
void grudge_record_done(struct nemesis_env *env, const char *f,
                        struct grudge *g, int failed);

/* "partition halves" / "loss 30% (one)" into @buf. */
void grudge_describe(struct nemesis_env *env, void *state, char *buf,
                     size_t size);

#endif /* FAULTLINE_NEMESIS_GRUDGE_H */
