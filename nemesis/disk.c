/* disk: make the target nodes' file I/O fail, with libfiu.
 *
 * Nodes of a scenario with disk faults start under libfiu's preload
 * (runner/cluster.c: fiu_run_preload.so + fiu_posix_preload.so, control
 * FIFOs at nodes/nN/fiu-PID.{in,out}). A fault enables one fault point on
 * each target with `fiu-ctrl`, failing it with the scenario's errno (EIO,
 * ENOSPC...) with probability disk_probability:
 *   fsync, fdatasync, write, pwrite   posix/io/sync/..., posix/io/rw/...
 *   raft-append, raft-set-term, raft-set-vote, raft-snapshot-put,
 *   sqlite-commit                     taskd's own points (taskd/...), which
 *                                     reach libraft's io_submit writes that
 *                                     the preload can't see
 * A node that hits the error is expected to fail-stop; the cluster restarts
 * it (a new process starts with no fault enabled). Stopping the fault
 * disables the point on targets still running the same process. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/sandbox.h"

static const char *point_of(const char *op);

struct point {
    const char *op;   /* scenario name */
    const char *name; /* libfiu point */
};

static const struct point points[] = {
    {"fsync", "posix/io/sync/fsync"},
    {"fdatasync", "posix/io/sync/fdatasync"},
    {"write", "posix/io/rw/write"},
    {"pwrite", "posix/io/rw/pwrite"},
    {"raft-append", "taskd/raft/append"},
    {"raft-set-term", "taskd/raft/set_term"},
    {"raft-set-vote", "taskd/raft/set_vote"},
    {"raft-snapshot-put", "taskd/raft/snapshot_put"},
    {"sqlite-commit", "taskd/sqlite/commit"},
    {NULL, NULL},
};

extern const struct nemesis_ops nemesis_disk;

#define FIU_LIB_DIR "/usr/lib/fiu"

struct disk_settings {
    char ops[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_ops; /* none listed: fsync */
    char err[SETTINGS_NAME_LEN];
    double probability;
};

static bool op_ok(const char *op)
{
    for (int i = 0; points[i].op != NULL; i++) {
        if (strcmp(points[i].op, op) == 0) {
            return true;
        }
    }
    return false;
}

static const char *ops_known(void)
{
    static char buf[256];
    size_t used = 0;
    for (int i = 0; points[i].op != NULL && used < sizeof buf; i++) {
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                 i ? ", " : "", points[i].op);
    }
    return buf;
}

static const struct setting disk_fields[] = {
    {"disk_ops", SETTING_LIST, SETTING_LIST_AT(struct disk_settings, ops, n_ops),
     0, 0, op_ok, ops_known, "operations to fail (libfiu points)"},
    {"disk_errno", SETTING_STR, SETTING_STR_AT(struct disk_settings, err), 0, 0,
     nemesis_errno_known, nemesis_errno_names, "the error injected"},
    {"disk_probability", SETTING_NUM,
     SETTING_OFF(struct disk_settings, probability), 0, 0.0001, 1, NULL, NULL,
     "the share of calls that fail while the fault is on"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static void disk_defaults(void *p)
{
    struct disk_settings *d = p;
    snprintf(d->err, sizeof d->err, "EIO");
    d->probability = 1;
}

static const struct settings_table disk_table = {
    .size = sizeof(struct disk_settings),
    .defaults = disk_defaults,
    .fields = disk_fields,
};

/* True when libfiu's POSIX preload is needed in the nodes (fsync,
 * write...); false when only the node's own points are used. */
static bool needs_preload(const struct disk_settings *d)
{
    if (d->n_ops == 0) {
        return true; /* the default op is fsync */
    }
    for (int i = 0; i < d->n_ops; i++) {
        if (strncmp(point_of(d->ops[i]), "posix/", 6) == 0) {
            return true;
        }
    }
    return false;
}

static unsigned disk_needs(const void *settings)
{
    const struct disk_settings *d = settings;
    unsigned needs = needs_preload(d) ? DB_CAP_LIBC_IO : 0;
    for (int i = 0; i < d->n_ops; i++) {
        if (strncmp(point_of(d->ops[i]), "posix/", 6) != 0) {
            needs |= DB_CAP_FIU_POINTS;
        }
    }
    return needs;
}

/* libfiu's preload listens on the node's fiu-PID FIFOs; it keeps the
 * node's pid (nothing is exec'd in between). With only the node's own
 * points, the node opens the same FIFOs itself, with no preload (which an
 * ASan build can't take). */
static int disk_prepare(struct cluster *c, const struct scenario *s,
                        const void *settings, int i, struct cluster_env *env)
{
    const char *dir = c->nodes[i].spec.dir;
    int rv = 0;
    if (env == NULL) {
        return 0;
    }
    if (needs_preload(settings)) {
        rv |= cluster_env_preload(env, FIU_LIB_DIR "/fiu_run_preload.so");
        rv |= cluster_env_preload(env, FIU_LIB_DIR "/fiu_posix_preload.so");
        rv |= cluster_env_put(env, "FIU_CTRL_FIFO=%s/fiu", dir);
        rv |= cluster_env_put(env, "FIU_ENABLE=");
    } else {
        rv |= cluster_env_put(env, "TASKD_FIU_FIFO=%s/fiu", dir);
    }
    return rv != 0 ? -ENOSPC : 0;
}

static const char *point_of(const char *op)
{
    for (int i = 0; points[i].op != NULL; i++) {
        if (strcmp(points[i].op, op) == 0) {
            return points[i].name;
        }
    }
    return NULL;
}


struct disk_fault {
    int nodes[DB_MAX_NODES];
    int pids[DB_MAX_NODES];
    int n;
    const char *op;
    const char *err;
};

static int fiu_ctrl(struct nemesis_env *env, int i, int pid,
                    const char *command)
{
    char prefix[4200], pidbuf[16];
    char *argv[] = {"timeout",       "2",    "fiu-ctrl", "-f", prefix, "-c",
                    (char *)command, pidbuf, NULL};
    if (env->cluster->dry_run) {
        return 0;
    }
    snprintf(prefix, sizeof prefix, "%s/fiu", env->cluster->nodes[i].spec.dir);
    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    return sandbox_run(argv, env->log_fd);
}

static json_t *describe_json(struct nemesis_env *env, struct disk_fault *f)
{
    return json_pack("{s:s, s:s, s:s, s:f, s:o}", "op", f->op, "point",
                     point_of(f->op), "errno", f->err, "probability",
                     ((const struct disk_settings *)nemesis_settings(
                          env->s, &nemesis_disk))
                         ->probability,
                     "nodes",
                     nemesis_node_names(env, f->nodes, f->n));
}

static int disk_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const struct disk_settings *d = nemesis_settings(env->s, &nemesis_disk);
    const char *selector = nemesis_draw_selector(env, draw);
    struct disk_fault *f = calloc(1, sizeof *f);
    char command[256];
    json_t *enabled, *info;

    if (f == NULL) {
        return -ENOMEM;
    }
    f->op = d->n_ops > 0 ? d->ops[rng_below(draw, (uint64_t)d->n_ops)]
                         : "fsync";
    f->err = d->err;
    f->n = nemesis_pick(env, draw, selector, true, f->nodes);
    if (env->replay != NULL) {
        const char *op = json_string_value(json_object_get(env->replay, "op"));
        for (int i = 0; op != NULL && points[i].op != NULL; i++) {
            if (strcmp(points[i].op, op) == 0) {
                f->op = points[i].op;
            }
        }
        f->n = nemesis_replay_nodes(env, json_object_get(env->replay, "nodes"),
                                    f->nodes);
    }
    if (f->n == 0) {
        free(f);
        return -EAGAIN;
    }
    if (d->probability >= 1) {
        snprintf(command, sizeof command,
                 "enable name=%s,failnum=1,"
                 "failinfo=%d",
                 point_of(f->op), nemesis_errno_value(f->err));
    } else {
        snprintf(command, sizeof command,
                 "enable_random name=%s,failnum=1,"
                 "failinfo=%d,probability=%.4f",
                 point_of(f->op), nemesis_errno_value(f->err),
                 d->probability);
    }
    env->record(env->arg, HISTORY_INVOKE, "disk", describe_json(env, f));
    enabled = json_array();
    for (int k = 0; k < f->n; k++) {
        f->pids[k] = cluster_pid(env->cluster, f->nodes[k]);
        if (f->pids[k] > 0 &&
            fiu_ctrl(env, f->nodes[k], f->pids[k], command) == 0) {
            json_array_append_new(
                enabled,
                json_string(env->cluster->nodes[f->nodes[k]].spec.name));
        }
    }
    /* Where fiu-ctrl failed (the node died meanwhile...), the history says
     * so: "enabled" lists where the fault really took. */
    info = describe_json(env, f);
    json_object_set_new(info, "enabled", enabled);
    env->record(env->arg, HISTORY_INFO, "disk", info);
    *state = f;
    return 0;
}

static int disk_stop(struct nemesis_env *env, void *state)
{
    struct disk_fault *f = state;
    char command[128];
    snprintf(command, sizeof command, "disable name=%s", point_of(f->op));
    env->record(env->arg, HISTORY_INVOKE, "disk-heal", describe_json(env, f));
    for (int k = 0; k < f->n; k++) {
        if (f->pids[k] > 0 &&
            cluster_pid(env->cluster, f->nodes[k]) == f->pids[k]) {
            fiu_ctrl(env, f->nodes[k], f->pids[k], command);
        }
    }
    env->record(env->arg, HISTORY_INFO, "disk-heal", describe_json(env, f));
    free(f);
    return 0;
}

static void disk_describe(struct nemesis_env *env, void *state, char *buf,
                          size_t size)
{
    struct disk_fault *f = state;
    size_t used = (size_t)snprintf(buf, size, "disk %s %s", f->op, f->err);
    for (int i = 0; i < f->n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 env->cluster->nodes[f->nodes[i]].spec.name);
    }
}

const struct nemesis_ops nemesis_disk = {
    .name = "disk",
    .settings = &disk_table,
    .needs = DB_CAP_PROCESS,
    .needs_of = disk_needs,
    .prepare_node = disk_prepare,
    .start = disk_start,
    .stop = disk_stop,
    .describe = disk_describe,
};
