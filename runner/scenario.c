/* scenario: loading, validating and printing a run's declaration.
 *
 * Every key a scenario may hold is one row of the table below: its dotted
 * path, its type, where it lands in struct scenario and its allowed range.
 * Loading walks the JSON and looks each key up, so a misspelt key is an error
 * that names it rather than a silently ignored setting. */
#include "runner/scenario.h"

#include "nemesis/faultfs_node.h"
#include "nemesis/nemesis.h"
#include "nodes/db_events.h"
#include "runner/workload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field_type { F_SECTION, F_INT, F_NUM, F_STR, F_SEED, F_LIST, F_RULES };

struct field {
    const char *path;
    enum field_type type;
    size_t offset;
    size_t size; /* F_STR: buffer size; F_LIST: offset of the count */
    double min, max;
    /* F_LIST (and F_STR when not NULL): the values allowed. */
    bool (*allowed)(const char *value);
    const char *allowed_text;
};

#define OFF(member)         offsetof(struct scenario, member)
#define STR(member)         OFF(member), sizeof(((struct scenario *)0)->member)
#define LIST(member, count) OFF(member), OFF(count)

static bool in_list(const char *const *list, const char *s);

static const char *const target_names[] = {"one", "minority", "majority",
                                           "all", "leader",   NULL};
static const char *const partition_names[] = {"isolate-one", "isolate-leader",
                                              "halves",      "majorities-ring",
                                              "bridge",      NULL};

static const char *const clock_mode_names[] = {"bump", "strobe", "drift", NULL};

static bool clock_mode_ok(const char *v)
{
    return in_list(clock_mode_names, v);
}

static bool fault_ok(const char *v)
{
    return nemesis_find(v) != NULL;
}

static bool fs_file_ok(const char *v)
{
    return *v != '\0' && strlen(v) < SCENARIO_NAME_LEN &&
           strpbrk(v, " \t\n") == NULL;
}

static bool target_ok(const char *v)
{
    return in_list(target_names, v);
}

static bool partition_ok(const char *v)
{
    return in_list(partition_names, v);
}

static const struct field fields[] = {
    {"name", F_STR, STR(name), 0, 0, NULL, NULL},
    {"description", F_STR, STR(description), 0, 0, NULL, NULL},
    {"nodes", F_INT, OFF(nodes), 0, 1, 9, NULL, NULL},
    {"duration_s", F_NUM, OFF(duration_s), 0, 0, 86400, NULL, NULL},
    {"recovery_s", F_NUM, OFF(recovery_s), 0, 0, 3600, NULL, NULL},
    {"seed", F_SEED, OFF(seed), 0, 0, 0, NULL, NULL},
    {"db", F_SECTION, 0, 0, 0, 0, NULL, NULL},
    {"db.name", F_STR, STR(db.name), 0, 0, NULL, NULL},
    {"db.bug", F_STR, STR(db.bug), 0, 0, NULL, NULL},
    {"db.election_timeout_ms", F_INT, OFF(db.election_timeout_ms), 0, 50, 60000,
     NULL, NULL},
    {"db.heartbeat_ms", F_INT, OFF(db.heartbeat_ms), 0, 10, 10000, NULL, NULL},
    {"db.snapshot_threshold", F_INT, OFF(db.snapshot_threshold), 0, 1, 1e9,
     NULL, NULL},
    {"db.snapshot_trailing", F_INT, OFF(db.snapshot_trailing), 0, 0, 1e9, NULL,
     NULL},
    {"workload", F_SECTION, 0, 0, 0, 0, NULL, NULL},
    {"workload.name", F_STR, STR(workload.name), 0, 0, NULL, NULL},
    {"workload.clients", F_INT, OFF(workload.clients), 0, 1, 1000, NULL, NULL},
    {"workload.keys", F_INT, OFF(workload.keys), 0, 1, 100000, NULL, NULL},
    {"workload.rate", F_NUM, OFF(workload.rate), 0, 0.1, 1e6, NULL, NULL},
    {"workload.op_timeout_ms", F_INT, OFF(workload.op_timeout_ms), 0, 10,
     600000, NULL, NULL},
    {"workload.values", F_INT, OFF(workload.values), 0, 1, 1e9, NULL, NULL},
    {"workload.read", F_NUM, OFF(workload.read), 0, 0, 1e6, NULL, NULL},
    {"workload.write", F_NUM, OFF(workload.write), 0, 0, 1e6, NULL, NULL},
    {"workload.cas", F_NUM, OFF(workload.cas), 0, 0, 1e6, NULL, NULL},
    {"workload.retries", F_INT, OFF(workload.retries), 0, 0, 10, NULL, NULL},
    {"workload.rids", F_NUM, OFF(workload.rids), 0, 0, 1, NULL, NULL},
    {"workload.final_s", F_NUM, OFF(workload.final_s), 0, 1, 3600, NULL, NULL},
    {"workload.create", F_NUM, OFF(workload.create), 0, 0, 1e6, NULL, NULL},
    {"workload.get", F_NUM, OFF(workload.get), 0, 0, 1e6, NULL, NULL},
    {"workload.update", F_NUM, OFF(workload.update), 0, 0, 1e6, NULL, NULL},
    {"workload.delete", F_NUM, OFF(workload.del), 0, 0, 1e6, NULL, NULL},
    {"workload.list", F_NUM, OFF(workload.list), 0, 0, 1e6, NULL, NULL},
    {"workload.enqueue", F_NUM, OFF(workload.enqueue), 0, 0, 1e6, NULL, NULL},
    {"workload.claim", F_NUM, OFF(workload.claim), 0, 0, 1e6, NULL, NULL},
    {"workload.nack", F_NUM, OFF(workload.nack), 0, 0, 1, NULL, NULL},
    {"workload.lease_ms", F_INT, OFF(workload.lease_ms), 0, 1, 86400000, NULL,
     NULL},
    {"workload.acquire", F_NUM, OFF(workload.acquire), 0, 0, 1e6, NULL, NULL},
    {"workload.release", F_NUM, OFF(workload.release), 0, 0, 1e6, NULL, NULL},
    {"workload.holder", F_NUM, OFF(workload.holder), 0, 0, 1e6, NULL, NULL},
    {"workload.ttl_ms", F_INT, OFF(workload.ttl_ms), 0, 1, 86400000, NULL,
     NULL},
    {"nemesis", F_SECTION, 0, 0, 0, 0, NULL, NULL},
    {"nemesis.faults", F_LIST, LIST(nemesis.faults, nemesis.n_faults), 0, 0,
     fault_ok,
     "kill, pause, restart, partition, loss, clock, disk, "
     "lose-unsynced-on-kill, torn-write-on-kill, disk-error, disk-full, "
     "crash-restart"},
    {"nemesis.interval_s", F_NUM, OFF(nemesis.interval_s), 0, 0.1, 86400, NULL,
     NULL},
    {"nemesis.duration_s", F_NUM, OFF(nemesis.duration_s), 0, 0, 86400, NULL,
     NULL},
    {"nemesis.targets", F_LIST, LIST(nemesis.targets, nemesis.n_targets), 0, 0,
     target_ok, "one, minority, majority, all, leader"},
    {"nemesis.partitions", F_LIST,
     LIST(nemesis.partitions, nemesis.n_partitions), 0, 0, partition_ok,
     "isolate-one, isolate-leader, halves, majorities-ring, bridge"},
    {"nemesis.loss_probability", F_NUM, OFF(nemesis.loss_probability), 0, 0.001,
     1, NULL, NULL},
    {"nemesis.clock_offset_ms", F_INT, OFF(nemesis.clock_offset_ms), 0, 0, 1e9,
     NULL, NULL},
    {"nemesis.clock_modes", F_LIST,
     LIST(nemesis.clock_modes, nemesis.n_clock_modes), 0, 0, clock_mode_ok,
     "bump, strobe, drift"},
    {"nemesis.disk_ops", F_LIST, LIST(nemesis.disk_ops, nemesis.n_disk_ops), 0,
     0, nemesis_disk_op_known,
     "fsync, fdatasync, write, pwrite, raft-append, raft-set-term, "
     "raft-set-vote, raft-snapshot-put, sqlite-commit"},
    {"nemesis.disk_errno", F_STR, STR(nemesis.disk_errno), 0, 0,
     nemesis_disk_errno_known, "EIO, ENOSPC, EROFS, EDQUOT"},
    {"nemesis.disk_probability", F_NUM, OFF(nemesis.disk_probability), 0,
     0.0001, 1, NULL, NULL},
    {"nemesis.fs_ops", F_LIST, LIST(nemesis.fs_ops, nemesis.n_fs_ops), 0, 0,
     nemesis_faultfs_op_known,
     "read, write, fsync, fdatasync, create, rename, truncate, unlink, "
     "mkdir, open"},
    {"nemesis.fs_files", F_LIST, LIST(nemesis.fs_files, nemesis.n_fs_files), 0,
     0, fs_file_ok, "globs of at most 23 characters, no spaces"},
    /* reactive nemesis: its own parser (nemesis/rule.c) */
    {"nemesis.rules", F_RULES, OFF(nemesis.rules), 0, 0, 0, NULL, NULL},
    {"checker", F_SECTION, 0, 0, 0, 0, NULL, NULL},
    {"checker.time_limit_s", F_NUM, OFF(checker.time_limit_s), 0, 0.01, 86400,
     NULL, NULL},
    {"checker.memory_mb", F_INT, OFF(checker.memory_mb), 0, 1, 1 << 20, NULL,
     NULL},
    {"checker.threads", F_INT, OFF(checker.threads), 0, 0, 64, NULL, NULL},
};

/* The workload keys that only some workloads read; the others apply to
 * every workload. A key given for a workload that does not read it is an
 * error: it would be silently ignored. */
static const struct {
    const char *path;
    const char *workloads; /* space-separated */
} workload_keys[] = {
    {"workload.keys", "register lease"},
    {"workload.values", "register"},
    {"workload.read", "register"},
    {"workload.write", "register"},
    {"workload.cas", "register"},
    {"workload.retries", "tasks queue lease"},
    {"workload.rids", "tasks queue lease"},
    {"workload.final_s", "tasks queue"},
    {"workload.create", "tasks"},
    {"workload.get", "tasks"},
    {"workload.update", "tasks"},
    {"workload.delete", "tasks"},
    {"workload.list", "tasks"},
    {"workload.enqueue", "queue"},
    {"workload.claim", "queue"},
    {"workload.nack", "queue"},
    {"workload.lease_ms", "queue"},
    {"workload.acquire", "lease"},
    {"workload.release", "lease"},
    {"workload.holder", "lease"},
    {"workload.ttl_ms", "lease"},
};

/* The values each string field may take; NULL means free text. */
static const char *const known_dbs[] = {"taskd", NULL};

void scenario_defaults(struct scenario *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "unnamed");
    s->nodes = 3;
    s->duration_s = 60;
    s->recovery_s = 10;
    snprintf(s->db.name, sizeof s->db.name, "taskd");
    s->db.election_timeout_ms = 1000;
    s->db.heartbeat_ms = 100;
    s->db.snapshot_threshold = 1024;
    s->db.snapshot_trailing = 128;
    snprintf(s->workload.name, sizeof s->workload.name, "register");
    s->workload.clients = 10;
    s->workload.keys = 8;
    s->workload.rate = 200;
    s->workload.op_timeout_ms = 2000;
    s->workload.values = 5;
    s->workload.read = 0.5;
    s->workload.write = 0.3;
    s->workload.cas = 0.2;
    s->workload.retries = 2;
    s->workload.rids = 1;
    s->workload.final_s = 30;
    s->workload.create = 0.3;
    s->workload.get = 0.25;
    s->workload.update = 0.4;
    s->workload.del = 0;
    s->workload.list = 0.05;
    s->workload.enqueue = 0.5;
    s->workload.claim = 0.5;
    s->workload.nack = 0.1;
    s->workload.lease_ms = 1000;
    s->workload.acquire = 0.6;
    s->workload.release = 0.2;
    s->workload.holder = 0.2;
    s->workload.ttl_ms = 2000;
    s->nemesis.interval_s = 5;
    s->nemesis.duration_s = 2;
    s->nemesis.loss_probability = 0.3;
    s->nemesis.clock_offset_ms = 60000;
    snprintf(s->nemesis.disk_errno, sizeof s->nemesis.disk_errno, "EIO");
    s->nemesis.disk_probability = 1;
    s->checker.time_limit_s = 60;
    s->checker.memory_mb = 1024;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const struct field *field_find(const char *path)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(fields[i].path, path) == 0) {
            return &fields[i];
        }
    }
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++) {
        if (strcmp(*list, s) == 0) {
            return true;
        }
    }
    return false;
}

static int set_list(const struct field *f, json_t *v, const char *origin,
                    struct scenario *s, char *err, size_t errlen)
{
    char(*items)[SCENARIO_NAME_LEN] = (void *)((char *)s + f->offset);
    int *count = (int *)(void *)((char *)s + f->size);
    size_t i;
    json_t *item;

    if (!json_is_array(v)) {
        return fail(err, errlen, "%s: \"%s\": expected an array of names",
                    origin, f->path);
    }
    if (json_array_size(v) > SCENARIO_MAX_LIST) {
        return fail(err, errlen, "%s: \"%s\": at most %d names", origin,
                    f->path, SCENARIO_MAX_LIST);
    }
    if (strcmp(f->path, "nemesis.faults") == 0 &&
        json_array_size(v) > SCENARIO_MAX_FAULTS) {
        return fail(err, errlen, "%s: \"%s\": at most %d faults", origin,
                    f->path, SCENARIO_MAX_FAULTS);
    }
    *count = 0;
    json_array_foreach(v, i, item)
    {
        const char *name = json_string_value(item);
        if (name == NULL) {
            return fail(err, errlen, "%s: \"%s[%zu]\": expected a string",
                        origin, f->path, i);
        }
        if (!f->allowed(name)) {
            return fail(err, errlen,
                        "%s: \"%s[%zu]\": unknown value "
                        "\"%s\" (known: %s)",
                        origin, f->path, i, name, f->allowed_text);
        }
        snprintf(items[(*count)++], SCENARIO_NAME_LEN, "%s", name);
    }
    return 0;
}

static int set_field(const struct field *f, json_t *v, const char *origin,
                     struct scenario *s, char *err, size_t errlen)
{
    char *base = (char *)s;
    double x;

    switch (f->type) {
    case F_SECTION:
        return 0; /* walked by the caller */
    case F_LIST:
        return set_list(f, v, origin, s, err, errlen);
    case F_RULES: /* reactive nemesis */
        return rule_parse(v, origin, &s->nemesis.rules, err, errlen);
    case F_STR:
        if (!json_is_string(v)) {
            return fail(err, errlen, "%s: \"%s\": expected a string", origin,
                        f->path);
        }
        if (f->allowed != NULL && !f->allowed(json_string_value(v))) {
            return fail(err, errlen,
                        "%s: \"%s\": unknown value \"%s\" "
                        "(known: %s)",
                        origin, f->path, json_string_value(v), f->allowed_text);
        }
        if (json_string_length(v) >= f->size) {
            return fail(err, errlen, "%s: \"%s\": longer than %zu characters",
                        origin, f->path, f->size - 1);
        }
        snprintf(base + f->offset, f->size, "%s", json_string_value(v));
        return 0;
    case F_SEED:
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return fail(err, errlen,
                        "%s: \"%s\": expected a non-negative "
                        "integer",
                        origin, f->path);
        }
        s->seed = (uint64_t)json_integer_value(v);
        s->has_seed = true;
        return 0;
    case F_INT:
        if (!json_is_integer(v)) {
            return fail(err, errlen, "%s: \"%s\": expected an integer", origin,
                        f->path);
        }
        x = (double)json_integer_value(v);
        break;
    case F_NUM:
        if (!json_is_number(v)) {
            return fail(err, errlen, "%s: \"%s\": expected a number", origin,
                        f->path);
        }
        x = json_number_value(v);
        break;
    default:
        return fail(err, errlen, "%s: \"%s\": internal: bad field type", origin,
                    f->path);
    }
    if (x < f->min || x > f->max) {
        return fail(err, errlen, "%s: \"%s\": %g is out of range [%g, %g]",
                    origin, f->path, x, f->min, f->max);
    }
    if (f->type == F_INT) {
        *(int *)(void *)(base + f->offset) = (int)x;
    } else {
        *(double *)(void *)(base + f->offset) = x;
    }
    return 0;
}

static int walk(json_t *obj, const char *prefix, const char *origin,
                struct scenario *s, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char path[128];
    int rv;

    json_object_foreach(obj, key, v)
    {
        const struct field *f;
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        f = field_find(path);
        if (f == NULL) {
            return fail(err, errlen, "%s: \"%s\": unknown key", origin, path);
        }
        if (f->type == F_SECTION) {
            if (!json_is_object(v)) {
                return fail(err, errlen, "%s: \"%s\": expected an object",
                            origin, path);
            }
            rv = walk(v, path, origin, s, err, errlen);
        } else {
            rv = set_field(f, v, origin, s, err, errlen);
        }
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int validate(const char *origin, struct scenario *s, char *err,
                    size_t errlen)
{
    if (!in_list(known_dbs, s->db.name)) {
        return fail(err, errlen,
                    "%s: \"db.name\": unknown system \"%s\" "
                    "(known: taskd)",
                    origin, s->db.name);
    }
    if (workload_kind_find(s->workload.name) == NULL) {
        return fail(err, errlen,
                    "%s: \"workload.name\": unknown workload "
                    "\"%s\" (known: %s)",
                    origin, s->workload.name, workload_kind_names());
    }
    if (strcmp(s->workload.name, "register") == 0 &&
        s->workload.read + s->workload.write + s->workload.cas <= 0) {
        return fail(err, errlen,
                    "%s: \"workload\": read, write and cas "
                    "weights are all zero",
                    origin);
    }
    if (strcmp(s->workload.name, "tasks") == 0 && s->workload.create <= 0) {
        return fail(err, errlen,
                    "%s: \"workload.create\": the tasks workload needs "
                    "creates (a weight above 0)",
                    origin);
    }
    if (strcmp(s->workload.name, "queue") == 0 &&
        (s->workload.enqueue <= 0 || s->workload.claim <= 0)) {
        return fail(err, errlen,
                    "%s: \"workload\": the queue workload needs enqueue "
                    "and claim weights above 0",
                    origin);
    }
    if (strcmp(s->workload.name, "lease") == 0 && s->workload.acquire <= 0) {
        return fail(err, errlen,
                    "%s: \"workload.acquire\": the lease workload needs "
                    "acquires (a weight above 0)",
                    origin);
    }
    /* reactive nemesis: rules name events of this db */
    if (rule_validate(&s->nemesis.rules, db_events(s->db.name), s->db.name,
                      origin, err, errlen) != 0) {
        return -EINVAL;
    }
    if (s->db.heartbeat_ms >= s->db.election_timeout_ms) {
        return fail(err, errlen,
                    "%s: \"db.heartbeat_ms\": must be below "
                    "db.election_timeout_ms",
                    origin);
    }
    return 0;
}

/* The workloads that read @path, or NULL when every one does. */
static const char *workloads_of(const char *path)
{
    for (size_t i = 0; i < sizeof workload_keys / sizeof workload_keys[0];
         i++) {
        if (strcmp(workload_keys[i].path, path) == 0) {
            return workload_keys[i].workloads;
        }
    }
    return NULL;
}

static bool reads_key(const char *workload, const char *path)
{
    const char *list = workloads_of(path);
    size_t len = strlen(workload);

    if (list == NULL) {
        return true;
    }
    for (const char *p = list; (p = strstr(p, workload)) != NULL; p += len) {
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) {
            return true;
        }
    }
    return false;
}

static int check_workload_keys(json_t *obj, const char *origin,
                               const struct scenario *s, char *err,
                               size_t errlen)
{
    json_t *section = json_object_get(obj, "workload");
    const char *key;
    json_t *v;
    char path[128];

    json_object_foreach(section, key, v)
    {
        snprintf(path, sizeof path, "workload.%s", key);
        if (!reads_key(s->workload.name, path)) {
            return fail(err, errlen,
                        "%s: \"%s\": not a key of the %s workload (read by: "
                        "%s)",
                        origin, path, s->workload.name, workloads_of(path));
        }
    }
    return 0;
}

int scenario_from_json(json_t *obj, const char *origin, struct scenario *s,
                       char *err, size_t errlen)
{
    int rv;
    if (!json_is_object(obj)) {
        return fail(err, errlen, "%s: a scenario is a JSON object", origin);
    }
    rv = walk(obj, "", origin, s, err, errlen);
    if (rv == 0) {
        rv = validate(origin, s, err, errlen);
    }
    if (rv == 0) {
        rv = check_workload_keys(obj, origin, s, err, errlen);
    }
    return rv;
}

int scenario_load(const char *path, struct scenario *s, char *err,
                  size_t errlen)
{
    json_error_t jerr;
    json_t *obj;
    int rv;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        rv = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rv;
    }
    obj = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (obj == NULL) {
        return fail(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                    jerr.text);
    }
    rv = scenario_from_json(obj, path, s, err, errlen);
    json_decref(obj);
    return rv;
}

static json_t *list_json(const char (*items)[SCENARIO_NAME_LEN], int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(a, json_string(items[i]));
    }
    return a;
}

/* The workload section: the keys its workload reads, in table order. */
static json_t *workload_json(const struct scenario *s)
{
    json_t *obj = json_object();
    const char *base = (const char *)s;

    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const struct field *f = &fields[i];
        const char *key = f->path + strlen("workload.");
        json_t *v = NULL;

        if (strncmp(f->path, "workload.", 9) != 0 ||
            !reads_key(s->workload.name, f->path)) {
            continue;
        }
        switch (f->type) {
        case F_STR:
            v = json_string(base + f->offset);
            break;
        case F_INT:
            v = json_integer(*(const int *)(const void *)(base + f->offset));
            break;
        case F_NUM:
            v = json_real(*(const double *)(const void *)(base + f->offset));
            break;
        default:
            break;
        }
        if (v != NULL) {
            json_object_set_new(obj, key, v);
        }
    }
    return obj;
}

json_t *scenario_to_json(const struct scenario *s)
{
    json_t *nemesis = json_pack(
        "{s:o, s:f, s:f, s:o, s:o, s:f, s:i, s:o, s:o, s:s, s:f, s:o, s:o}",
        "faults", list_json(s->nemesis.faults, s->nemesis.n_faults),
        "interval_s", s->nemesis.interval_s, "duration_s",
        s->nemesis.duration_s, "targets",
        list_json(s->nemesis.targets, s->nemesis.n_targets), "partitions",
        list_json(s->nemesis.partitions, s->nemesis.n_partitions),
        "loss_probability", s->nemesis.loss_probability, "clock_offset_ms",
        s->nemesis.clock_offset_ms, "clock_modes",
        list_json(s->nemesis.clock_modes, s->nemesis.n_clock_modes), "disk_ops",
        list_json(s->nemesis.disk_ops, s->nemesis.n_disk_ops), "disk_errno",
        s->nemesis.disk_errno, "disk_probability", s->nemesis.disk_probability,
        "fs_ops", list_json(s->nemesis.fs_ops, s->nemesis.n_fs_ops), "fs_files",
        list_json(s->nemesis.fs_files, s->nemesis.n_fs_files));
    if (s->nemesis.rules.n > 0) { /* reactive nemesis */
        json_object_set_new(nemesis, "rules", rule_to_json(&s->nemesis.rules));
    }
    return json_pack(
        "{s:s, s:s, s:i, s:f, s:f, s:I,"
        " s:{s:s, s:s, s:i, s:i, s:i, s:i},"
        " s:o,"
        " s:o,"
        " s:{s:f, s:i, s:i}}",
        "name", s->name, "description", s->description, "nodes", s->nodes,
        "duration_s", s->duration_s, "recovery_s", s->recovery_s, "seed",
        (json_int_t)s->seed, "db", "name", s->db.name, "bug", s->db.bug,
        "election_timeout_ms", s->db.election_timeout_ms, "heartbeat_ms",
        s->db.heartbeat_ms, "snapshot_threshold", s->db.snapshot_threshold,
        "snapshot_trailing", s->db.snapshot_trailing, "workload",
        workload_json(s), "nemesis", nemesis, "checker", "time_limit_s",
        s->checker.time_limit_s, "memory_mb", s->checker.memory_mb, "threads",
        s->checker.threads);
}

bool scenario_has_fault(const struct scenario *s, const char *fault)
{
    for (int i = 0; i < s->nemesis.n_faults; i++) {
        if (strcmp(s->nemesis.faults[i], fault) == 0) {
            return true;
        }
    }
    return rule_uses_fault(&s->nemesis.rules, fault); /* reactive */
}
