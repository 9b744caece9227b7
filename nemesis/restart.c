/* restart: a graceful restart: SIGTERM the target nodes (they shut down
 * cleanly); stopping the fault starts them again. */
#include "nemesis/process.h"

#include <signal.h>

static int restart_start(struct nemesis_env *env, struct rng *draw,
                         void **state)
{
    return proc_fault_start(env, draw, state, "stop", SIGTERM);
}

const struct nemesis_ops nemesis_restart = {
    .name = "restart",
    .needs = DB_CAP_PROCESS,
    .start = restart_start,
    .stop = proc_fault_start_again,
    .describe = proc_fault_describe,
};
