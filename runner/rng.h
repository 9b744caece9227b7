/* rng: a small seeded generator (splitmix64) so a seed replays a run. */
#ifndef FAULTLINE_RNG_H
#define FAULTLINE_RNG_H

#include <stdint.h>

struct rng {
    uint64_t state;
};

void rng_init(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);

/* Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Uniform in [0, 1). */
double rng_unit(struct rng *r);

/* A seed from the kernel's entropy, for runs not given one. */
uint64_t rng_fresh_seed(void);

#endif /* FAULTLINE_RNG_H */
