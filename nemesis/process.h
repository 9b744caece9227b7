/* process: what the kill and pause faults share: picking target processes
 * and describing them. */
#ifndef FAULTLINE_NEMESIS_PROCESS_H
#define FAULTLINE_NEMESIS_PROCESS_H

#include "nemesis/nemesis.h"

struct proc_fault {
    const char *verb; /* "kill" or "pause" */
    int nodes[DB_MAX_NODES];
    int n;
    char selector[16];
};

/* Send @sig to targets drawn with @draw among running nodes (paused ones
 * left out for SIGSTOP), recording @verb; *@state gets a struct
 * proc_fault. Returns 0 or -EAGAIN (no target) or -ENOMEM. */
int proc_fault_start(struct nemesis_env *env, struct rng *draw, void **state,
                     const char *verb, int sig);

/* Start the nodes of @state (a struct proc_fault) again, recording it, and
 * free @state: how kill and restart faults end. */
int proc_fault_start_again(struct nemesis_env *env, void *state);

/* "verb n1 n2" into @buf. */
void proc_fault_describe(struct nemesis_env *env, void *state, char *buf,
                         size_t size);

#endif /* FAULTLINE_NEMESIS_PROCESS_H */
