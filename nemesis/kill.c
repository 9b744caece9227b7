/* kill: SIGKILL the target nodes; stopping the fault restarts them.
 * Targets are drawn among running nodes with the scenario's selectors. */
#include "nemesis/process.h"

#include <signal.h>

static int kill_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return proc_fault_start(env, draw, state, "kill", SIGKILL);
}

const struct nemesis_ops nemesis_kill = {
    .name = "kill",
    .needs = DB_CAP_PROCESS,
    .start = kill_start,
    .stop = proc_fault_start_again,
    .describe = proc_fault_describe,
};
