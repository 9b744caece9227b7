/* scenario: loading, validating and printing a run's declaration.
 *
 * Every key a scenario may hold is one row of the table below: its dotted
 * path, its type, where it lands in struct scenario and its allowed range.
 * Loading walks the JSON and looks each key up, so a misspelt key is an error
 * that names it rather than a silently ignored setting. */
#include "runner/scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field_type { F_SECTION, F_INT, F_NUM, F_STR, F_SEED, F_FAULTS };

struct field {
    const char *path;
    enum field_type type;
    size_t offset;
    size_t size; /* F_STR: buffer size */
    double min, max;
};

#define OFF(member) offsetof(struct scenario, member)
#define STR(member) OFF(member), sizeof(((struct scenario *)0)->member)

static const struct field fields[] = {
    {"name", F_STR, STR(name), 0, 0},
    {"description", F_STR, STR(description), 0, 0},
    {"nodes", F_INT, OFF(nodes), 0, 1, 9},
    {"duration_s", F_NUM, OFF(duration_s), 0, 0, 86400},
    {"recovery_s", F_NUM, OFF(recovery_s), 0, 0, 3600},
    {"seed", F_SEED, OFF(seed), 0, 0, 0},
    {"db", F_SECTION, 0, 0, 0, 0},
    {"db.name", F_STR, STR(db.name), 0, 0},
    {"db.bug", F_STR, STR(db.bug), 0, 0},
    {"db.election_timeout_ms", F_INT, OFF(db.election_timeout_ms), 0, 50,
     60000},
    {"db.heartbeat_ms", F_INT, OFF(db.heartbeat_ms), 0, 10, 10000},
    {"db.snapshot_threshold", F_INT, OFF(db.snapshot_threshold), 0, 1, 1e9},
    {"db.snapshot_trailing", F_INT, OFF(db.snapshot_trailing), 0, 0, 1e9},
    {"workload", F_SECTION, 0, 0, 0, 0},
    {"workload.name", F_STR, STR(workload.name), 0, 0},
    {"workload.clients", F_INT, OFF(workload.clients), 0, 1, 1000},
    {"workload.keys", F_INT, OFF(workload.keys), 0, 1, 100000},
    {"workload.rate", F_NUM, OFF(workload.rate), 0, 0.1, 1e6},
    {"workload.op_timeout_ms", F_INT, OFF(workload.op_timeout_ms), 0, 10,
     600000},
    {"workload.values", F_INT, OFF(workload.values), 0, 1, 1e9},
    {"workload.read", F_NUM, OFF(workload.read), 0, 0, 1e6},
    {"workload.write", F_NUM, OFF(workload.write), 0, 0, 1e6},
    {"workload.cas", F_NUM, OFF(workload.cas), 0, 0, 1e6},
    {"nemesis", F_SECTION, 0, 0, 0, 0},
    {"nemesis.faults", F_FAULTS, OFF(nemesis), 0, 0, 0},
    {"nemesis.interval_s", F_NUM, OFF(nemesis.interval_s), 0, 0.1, 86400},
    {"nemesis.restart_after_s", F_NUM, OFF(nemesis.restart_after_s), 0, 0,
     86400},
    {"checker", F_SECTION, 0, 0, 0, 0},
    {"checker.time_limit_s", F_NUM, OFF(checker.time_limit_s), 0, 0.01,
     86400},
    {"checker.memory_mb", F_INT, OFF(checker.memory_mb), 0, 1, 1 << 20},
};

/* The values each string field may take; NULL means free text. */
static const char *const known_dbs[] = {"taskd", NULL};
static const char *const known_workloads[] = {"register", NULL};
static const char *const known_faults[] = {"kill", NULL};

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
    s->nemesis.interval_s = 5;
    s->nemesis.restart_after_s = 2;
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

static int set_faults(json_t *v, const char *origin, struct scenario *s,
                      char *err, size_t errlen)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v)) {
        return fail(err, errlen, "%s: \"nemesis.faults\": expected an array "
                    "of fault names", origin);
    }
    if (json_array_size(v) > SCENARIO_MAX_FAULTS) {
        return fail(err, errlen, "%s: \"nemesis.faults\": at most %d faults",
                    origin, SCENARIO_MAX_FAULTS);
    }
    s->nemesis.n_faults = 0;
    json_array_foreach(v, i, item)
    {
        const char *name = json_string_value(item);
        if (name == NULL) {
            return fail(err, errlen, "%s: \"nemesis.faults[%zu]\": expected "
                        "a string", origin, i);
        }
        if (!in_list(known_faults, name)) {
            return fail(err, errlen, "%s: \"nemesis.faults[%zu]\": unknown "
                        "fault \"%s\" (known: kill)", origin, i, name);
        }
        snprintf(s->nemesis.faults[s->nemesis.n_faults++],
                 sizeof s->nemesis.faults[0], "%s", name);
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
    case F_FAULTS:
        return set_faults(v, origin, s, err, errlen);
    case F_STR:
        if (!json_is_string(v)) {
            return fail(err, errlen, "%s: \"%s\": expected a string", origin,
                        f->path);
        }
        if (json_string_length(v) >= f->size) {
            return fail(err, errlen, "%s: \"%s\": longer than %zu characters",
                        origin, f->path, f->size - 1);
        }
        snprintf(base + f->offset, f->size, "%s", json_string_value(v));
        return 0;
    case F_SEED:
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return fail(err, errlen, "%s: \"%s\": expected a non-negative "
                        "integer", origin, f->path);
        }
        s->seed = (uint64_t)json_integer_value(v);
        s->has_seed = true;
        return 0;
    case F_INT:
        if (!json_is_integer(v)) {
            return fail(err, errlen, "%s: \"%s\": expected an integer",
                        origin, f->path);
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
        return fail(err, errlen, "%s: \"%s\": internal: bad field type",
                    origin, f->path);
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
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "",
                 key);
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
        return fail(err, errlen, "%s: \"db.name\": unknown system \"%s\" "
                    "(known: taskd)", origin, s->db.name);
    }
    if (!in_list(known_workloads, s->workload.name)) {
        return fail(err, errlen, "%s: \"workload.name\": unknown workload "
                    "\"%s\" (known: register)", origin, s->workload.name);
    }
    if (s->workload.read + s->workload.write + s->workload.cas <= 0) {
        return fail(err, errlen, "%s: \"workload\": read, write and cas "
                    "weights are all zero", origin);
    }
    if (s->db.heartbeat_ms >= s->db.election_timeout_ms) {
        return fail(err, errlen, "%s: \"db.heartbeat_ms\": must be below "
                    "db.election_timeout_ms", origin);
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
    if (rv != 0) {
        return rv;
    }
    return validate(origin, s, err, errlen);
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

json_t *scenario_to_json(const struct scenario *s)
{
    json_t *faults = json_array();
    for (int i = 0; i < s->nemesis.n_faults; i++) {
        json_array_append_new(faults, json_string(s->nemesis.faults[i]));
    }
    return json_pack(
        "{s:s, s:s, s:i, s:f, s:f, s:I,"
        " s:{s:s, s:s, s:i, s:i, s:i, s:i},"
        " s:{s:s, s:i, s:i, s:f, s:i, s:i, s:f, s:f, s:f},"
        " s:{s:o, s:f, s:f},"
        " s:{s:f, s:i}}",
        "name", s->name, "description", s->description, "nodes", s->nodes,
        "duration_s", s->duration_s, "recovery_s", s->recovery_s, "seed",
        (json_int_t)s->seed, "db", "name", s->db.name, "bug", s->db.bug,
        "election_timeout_ms", s->db.election_timeout_ms, "heartbeat_ms",
        s->db.heartbeat_ms, "snapshot_threshold", s->db.snapshot_threshold,
        "snapshot_trailing", s->db.snapshot_trailing, "workload", "name",
        s->workload.name, "clients", s->workload.clients, "keys",
        s->workload.keys, "rate", s->workload.rate, "op_timeout_ms",
        s->workload.op_timeout_ms, "values", s->workload.values, "read",
        s->workload.read, "write", s->workload.write, "cas", s->workload.cas,
        "nemesis", "faults", faults, "interval_s", s->nemesis.interval_s,
        "restart_after_s", s->nemesis.restart_after_s, "checker",
        "time_limit_s", s->checker.time_limit_s, "memory_mb",
        s->checker.memory_mb);
}

bool scenario_has_fault(const struct scenario *s, const char *fault)
{
    for (int i = 0; i < s->nemesis.n_faults; i++) {
        if (strcmp(s->nemesis.faults[i], fault) == 0) {
            return true;
        }
    }
    return false;
}
