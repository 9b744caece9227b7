/* run: conduct one run of a scenario, from empty cluster to verdict. */
#ifndef FAULTLINE_RUN_H
#define FAULTLINE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nemesis_step;

/* Exit codes of the faultline command (README, "Exit codes"). */
enum {
    EXIT_VALID = 0,
    EXIT_INVALID = 1,
    EXIT_UNKNOWN = 2,
    EXIT_BAD_INPUT = 3,   /* usage, scenario or history errors */
    EXIT_HARNESS = 4,     /* the harness failed: spawn, no leader, I/O */
    EXIT_INTERRUPTED = 5, /* SIGINT/SIGTERM: nodes stopped, history kept */
};

struct run_options {
    const char *scenario_path;
    uint64_t seed;
    bool has_seed;
    double time_limit_s;  /* > 0: overrides duration_s */
    const char *bin_dir;  /* where taskd is; default: beside faultline */
    const char *runs_dir; /* default: histories/runs */
    const char *bug;      /* overrides db.bug when not NULL */
    /* A replay (faultline repro): follow this schedule instead of the
     * seeded plan; the steps' replay values are taken over. */
    struct nemesis_step *replay;
    int n_replay;
    const char *origin; /* the run being replayed, noted in runner.log */
    char *dir_out;      /* when not NULL: receives the run directory */
    size_t dir_out_size;
};

/* Run the scenario; print progress, the verdict and the run directory.
 * An interrupted run leaves a file "interrupted" in its directory (what
 * stopped it, when), which `faultline check` reports as a partial history.
 * Returns one of the exit codes above. */
int run_scenario(const struct run_options *o);

#endif /* FAULTLINE_RUN_H */
