/* power_loss: a power cut of the target nodes: SIGKILL them, then roll back
 * every write and directory change their faultfs did not see made durable
 * (fsync, O_DSYNC, directory fsync; nemesis/faultfs/tracker.h), as if the
 * machine had lost power. Stopping the fault starts them again.
 *   lose-unsynced-on-kill  the non-durable state is lost
 *   torn-write-on-kill     the same, but the last non-durable write keeps
 *                          a prefix of whole sectors (a torn write)
 * The rollback waits for the killed process to be gone (a zombie: no more
 * system calls) so that no write of it lands after the rollback. What was
 * lost is written to the history as an info event "lose-unsynced" per node
 * (files, bytes, directory changes, and the torn write). */
#include "nemesis/faultfs_node.h"
#include "nemesis/process.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GONE_TIMEOUT_MS 3000

/* Is process @pid a zombie or gone? */
static bool gone(int pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return true;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p == NULL || (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

static void wait_gone(int pid)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    for (int waited = 0; pid > 0 && !gone(pid) && waited < GONE_TIMEOUT_MS;
         waited += 5) {
        nanosleep(&ts, NULL);
    }
}

static int power_start(struct nemesis_env *env, struct rng *draw, void **state,
                       const char *verb, bool torn)
{
    int pids[DB_MAX_NODES] = {0};
    struct proc_fault *f;
    int rv;

    /* The pids before the kill: the cluster forgets them once reaped. */
    for (int i = 0; i < env->cluster->n; i++) {
        pids[i] = cluster_pid(env->cluster, i);
    }
    rv = proc_fault_start(env, draw, state, verb, SIGKILL);
    if (rv != 0) {
        return rv;
    }
    f = *state;
    for (int k = 0; k < f->n; k++) {
        int i = f->nodes[k];
        char reply[512];
        json_t *info;
        wait_gone(pids[i]);
        if (torn) {
            nemesis_faultfs_command(env->cluster, i, "torn-write", reply,
                                    sizeof reply);
        }
        rv = nemesis_faultfs_command(env->cluster, i, "lose-unsynced", reply,
                                     sizeof reply);
        info = json_pack("{s:s, s:s, s:b}", "node",
                         env->cluster->nodes[i].spec.name, "result",
                         rv >= 0 ? reply : strerror(-rv), "ok", rv == 0);
        env->record(env->arg, HISTORY_INFO, "lose-unsynced", info);
    }
    return 0;
}

static int lose_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return power_start(env, draw, state, "lose-unsynced-on-kill", false);
}

static int torn_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return power_start(env, draw, state, "torn-write-on-kill", true);
}

const struct nemesis_ops nemesis_lose_unsynced = {
    .name = "lose-unsynced-on-kill",
    .needs = DB_CAP_PROCESS | DB_CAP_DATA_DIR,
    .prepare_node = nemesis_faultfs_prepare,
    .start = lose_start,
    .stop = proc_fault_start_again,
    .describe = proc_fault_describe,
};

const struct nemesis_ops nemesis_torn_write = {
    .name = "torn-write-on-kill",
    .needs = DB_CAP_PROCESS | DB_CAP_DATA_DIR,
    .prepare_node = nemesis_faultfs_prepare,
    .start = torn_start,
    .stop = proc_fault_start_again,
    .describe = proc_fault_describe,
};
