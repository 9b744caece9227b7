/* fs_error: I/O errors below the target nodes, from their faultfs
 * (nemesis/faultfs/rules.h), reaching every write path (libraft's O_DSYNC
 * segment writes too, which libfiu's preload can't):
 *   disk-error  fail one operation (drawn from nemesis.fs_ops: read, write,
 *               fsync, fdatasync, create, rename, truncate, unlink, mkdir,
 *               open; default fsync) on the files matching one pattern
 *               (drawn from nemesis.fs_files, globs inside the data
 *               directory; default "*"), with nemesis.disk_errno, each
 *               time with nemesis.disk_probability
 *   disk-full   ENOSPC for any growth of a file (a full disk)
 * Unlike libfiu's faults, these outlive a node's restart: a node that
 * fail-stops and is restarted meets the same disk until the fault ends
 * (`clear rules`, `fill off`). */
#include "nemesis/faultfs_node.h"
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct nemesis_ops nemesis_disk_error;

struct fs_settings {
    char ops[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_ops; /* none listed: fsync */
    char files[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_files; /* none listed: every file */
    char err[SETTINGS_NAME_LEN];
    double probability;
};

static bool file_ok(const char *v)
{
    return *v != '\0' && strpbrk(v, " \t\n") == NULL;
}

static const char *files_known(void)
{
    return "globs of at most 23 characters, no spaces";
}

#define T struct fs_settings
static const struct setting fs_fields[] = {
    {"fs_ops", SETTING_LIST, SETTING_LIST_AT(T, ops, n_ops), 0, 0,
     nemesis_faultfs_op_known, nemesis_faultfs_op_names,
     "file operations to fail"},
    {"fs_files", SETTING_LIST, SETTING_LIST_AT(T, files, n_files), 0, 0,
     file_ok, files_known, "globs of the files to fail, in the data dir"},
    {"disk_errno", SETTING_STR, SETTING_STR_AT(T, err), 0, 0,
     nemesis_errno_known, nemesis_errno_names, "the error injected"},
    {"disk_probability", SETTING_NUM, SETTING_OFF(T, probability), 0, 0.0001, 1,
     NULL, NULL, "the share of calls that fail while the fault is on"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void fs_defaults(void *p)
{
    struct fs_settings *f = p;
    snprintf(f->err, sizeof f->err, "EIO");
    f->probability = 1;
}

static const struct settings_table fs_table = {
    .size = sizeof(struct fs_settings),
    .defaults = fs_defaults,
    .fields = fs_fields,
};

struct fs_fault {
    const char *kind; /* "disk-error", "disk-full" */
    int nodes[DB_MAX_NODES];
    int n;
    char op[32];
    char files[128];
};

static json_t *describe_json(struct nemesis_env *env, struct fs_fault *f)
{
    json_t *v =
        json_pack("{s:o}", "nodes", nemesis_node_names(env, f->nodes, f->n));
    if (strcmp(f->kind, "disk-error") == 0) {
        json_object_set_new(v, "op", json_string(f->op));
        json_object_set_new(v, "files", json_string(f->files));
        const struct fs_settings *set =
            nemesis_settings(env->s, &nemesis_disk_error);
        json_object_set_new(v, "errno", json_string(set->err));
        json_object_set_new(v, "probability", json_real(set->probability));
    }
    return v;
}

static int fs_start(struct nemesis_env *env, struct rng *draw, void **state,
                    const char *kind)
{
    const struct fs_settings *set =
        nemesis_settings(env->s, &nemesis_disk_error);
    const char *selector = nemesis_draw_selector(env, draw);
    struct fs_fault *f = calloc(1, sizeof *f);
    char command[256], reply[512];
    json_t *took;

    if (f == NULL) {
        return -ENOMEM;
    }
    f->kind = kind;
    snprintf(f->op, sizeof f->op, "%s",
             set->n_ops > 0 ? set->ops[rng_below(draw, (uint64_t)set->n_ops)]
                            : "fsync");
    snprintf(f->files, sizeof f->files, "%s",
             set->n_files > 0
                 ? set->files[rng_below(draw, (uint64_t)set->n_files)]
                 : "*");
    f->n = nemesis_pick(env, draw, selector, false, f->nodes);
    if (env->replay != NULL) {
        const char *op = json_string_value(json_object_get(env->replay, "op"));
        const char *files =
            json_string_value(json_object_get(env->replay, "files"));
        if (op != NULL && nemesis_faultfs_op_known(op)) {
            snprintf(f->op, sizeof f->op, "%s", op);
        }
        if (files != NULL) {
            snprintf(f->files, sizeof f->files, "%s", files);
        }
        f->n = nemesis_replay_nodes(env, json_object_get(env->replay, "nodes"),
                                    f->nodes);
    }
    if (f->n == 0) {
        free(f);
        return -EAGAIN;
    }
    if (strcmp(kind, "disk-full") == 0) {
        snprintf(command, sizeof command, "fill on");
    } else if (set->probability >= 1) {
        snprintf(command, sizeof command, "fail %s %s always %s", f->op,
                 set->err, f->files);
    } else {
        snprintf(command, sizeof command, "fail %s %s %.4f %s", f->op,
                 set->err, set->probability, f->files);
    }
    env->record(env->arg, HISTORY_INVOKE, kind, describe_json(env, f));
    took = json_array();
    for (int k = 0; k < f->n; k++) {
        if (nemesis_faultfs_command(env->cluster, f->nodes[k], command, reply,
                                    sizeof reply) == 0) {
            json_array_append_new(
                took, json_string(env->cluster->nodes[f->nodes[k]].spec.name));
        }
    }
    {
        json_t *info = describe_json(env, f);
        json_object_set_new(info, "enabled", took);
        env->record(env->arg, HISTORY_INFO, kind, info);
    }
    *state = f;
    return 0;
}

static int fs_stop(struct nemesis_env *env, void *state)
{
    struct fs_fault *f = state;
    char end[32], reply[512];
    const char *command =
        strcmp(f->kind, "disk-full") == 0 ? "fill off" : "clear rules";
    snprintf(end, sizeof end, "%s-heal", f->kind);
    env->record(env->arg, HISTORY_INVOKE, end, describe_json(env, f));
    for (int k = 0; k < f->n; k++) {
        nemesis_faultfs_command(env->cluster, f->nodes[k], command, reply,
                                sizeof reply);
    }
    env->record(env->arg, HISTORY_INFO, end, describe_json(env, f));
    free(f);
    return 0;
}

static void fs_describe(struct nemesis_env *env, void *state, char *buf,
                        size_t size)
{
    struct fs_fault *f = state;
    size_t used;
    if (strcmp(f->kind, "disk-full") == 0) {
        used = (size_t)snprintf(buf, size, "disk-full");
    } else {
        used = (size_t)snprintf(buf, size, "disk-error %s %s", f->op, f->files);
    }
    for (int i = 0; i < f->n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 env->cluster->nodes[f->nodes[i]].spec.name);
    }
}

static int error_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return fs_start(env, draw, state, "disk-error");
}

static int full_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    return fs_start(env, draw, state, "disk-full");
}

const struct nemesis_ops nemesis_disk_error = {
    .name = "disk-error",
    .settings = &fs_table,
    .needs = DB_CAP_DATA_DIR,
    .prepare_node = nemesis_faultfs_prepare,
    .start = error_start,
    .stop = fs_stop,
    .describe = fs_describe,
};

const struct nemesis_ops nemesis_disk_full = {
    .name = "disk-full",
    .needs = DB_CAP_DATA_DIR,
    .prepare_node = nemesis_faultfs_prepare,
    .start = full_start,
    .stop = fs_stop,
    .describe = fs_describe,
};
