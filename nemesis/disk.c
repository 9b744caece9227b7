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

static const struct {
    const char *name;
    int value;
} errnos[] = {{"EIO", EIO},
              {"ENOSPC", ENOSPC},
              {"EROFS", EROFS},
              {"EDQUOT", EDQUOT},
              {NULL, 0}};

bool nemesis_disk_op_known(const char *op)
{
    for (int i = 0; points[i].op != NULL; i++) {
        if (strcmp(points[i].op, op) == 0) {
            return true;
        }
    }
    return false;
}

bool nemesis_disk_errno_known(const char *name)
{
    for (int i = 0; errnos[i].name != NULL; i++) {
        if (strcmp(errnos[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

bool nemesis_disk_needs_preload(const struct scenario *s)
{
    if (s->nemesis.n_disk_ops == 0) {
        return true; /* the default op is fsync */
    }
    for (int i = 0; i < s->nemesis.n_disk_ops; i++) {
        if (strncmp(s->nemesis.disk_ops[i], "posix", 5) == 0 ||
            strncmp(point_of(s->nemesis.disk_ops[i]), "posix/", 6) == 0) {
            return true;
        }
    }
    return false;
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

static int errno_of(const char *name)
{
    for (int i = 0; errnos[i].name != NULL; i++) {
        if (strcmp(errnos[i].name, name) == 0) {
            return errnos[i].value;
        }
    }
    return EIO;
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
    snprintf(prefix, sizeof prefix, "%s/fiu", env->cluster->nodes[i].spec.dir);
    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    return sandbox_run(argv, env->log_fd);
}

static json_t *describe_json(struct nemesis_env *env, struct disk_fault *f)
{
    return json_pack("{s:s, s:s, s:s, s:f, s:o}", "op", f->op, "point",
                     point_of(f->op), "errno", f->err, "probability",
                     env->s->nemesis.disk_probability, "nodes",
                     nemesis_node_names(env, f->nodes, f->n));
}

static int disk_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const struct scenario *s = env->s;
    const char *selector = nemesis_draw_selector(env, draw);
    struct disk_fault *f = calloc(1, sizeof *f);
    char command[256];
    json_t *enabled, *info;

    if (f == NULL) {
        return -ENOMEM;
    }
    f->op =
        s->nemesis.n_disk_ops > 0
            ? s->nemesis
                  .disk_ops[rng_below(draw, (uint64_t)s->nemesis.n_disk_ops)]
            : "fsync";
    f->err = s->nemesis.disk_errno;
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
    if (s->nemesis.disk_probability >= 1) {
        snprintf(command, sizeof command,
                 "enable name=%s,failnum=1,"
                 "failinfo=%d",
                 point_of(f->op), errno_of(f->err));
    } else {
        snprintf(command, sizeof command,
                 "enable_random name=%s,failnum=1,"
                 "failinfo=%d,probability=%.4f",
                 point_of(f->op), errno_of(f->err),
                 s->nemesis.disk_probability);
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
    .start = disk_start,
    .stop = disk_stop,
    .describe = disk_describe,
};
