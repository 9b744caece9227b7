/* scenario: loading, validating and printing a run's declaration.
 *
 * The shared keys are rows of the tables below (plugin/settings.h over
 * struct scenario itself); every other key of a section goes to the plugin
 * that owns it: "db.*" to the system's settings table (nodes/db.h),
 * "workload.*" to the workload kind's (runner/workload.h), "nemesis.*" to
 * every fault kind that declares the key (nemesis/nemesis.h). Loading walks
 * the JSON and looks each key up, so a misspelt key is an error that names
 * it rather than a silently ignored setting, and the "known: ..." lists
 * come from the registries. */
#include "runner/scenario.h"

#include "nemesis/nemesis.h"
#include "nodes/db.h"
#include "runner/workload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S struct scenario

static bool fault_ok(const char *v)
{
    return nemesis_find(v) != NULL;
}

static bool target_ok(const char *v)
{
    return settings_in_list(nemesis_selectors, v);
}

static const char *targets_known(void)
{
    static char buf[128];
    return settings_join(nemesis_selectors, buf, sizeof buf);
}

static const struct setting top_fields[] = {
    {"name", SETTING_STR, SETTING_STR_AT(S, name), 0, 0, NULL, NULL, NULL},
    {"description", SETTING_STR, SETTING_STR_AT(S, description), 0, 0, NULL,
     NULL, NULL},
    {"nodes", SETTING_INT, SETTING_OFF(S, nodes), 0, 1, DB_MAX_NODES, NULL,
     NULL, NULL},
    {"members", SETTING_INT, SETTING_OFF(S, members), 0, 0, DB_MAX_NODES,
     NULL, NULL, NULL},
    {"duration_s", SETTING_NUM, SETTING_OFF(S, duration_s), 0, 0, 86400, NULL,
     NULL, NULL},
    {"recovery_s", SETTING_NUM, SETTING_OFF(S, recovery_s), 0, 0, 3600, NULL,
     NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct setting workload_fields[] = {
    {"clients", SETTING_INT, SETTING_OFF(S, workload.clients), 0, 1, 1000,
     NULL, NULL, NULL},
    {"rate", SETTING_NUM, SETTING_OFF(S, workload.rate), 0, 0.1, 1e6, NULL,
     NULL, NULL},
    {"op_timeout_ms", SETTING_INT, SETTING_OFF(S, workload.op_timeout_ms), 0,
     10, 600000, NULL, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

/* Read only by kinds whose requests carry rids (workload_kind.rids). */
static const struct setting rid_fields[] = {
    {"retries", SETTING_INT, SETTING_OFF(S, workload.retries), 0, 0, 10, NULL,
     NULL, NULL},
    {"rids", SETTING_NUM, SETTING_OFF(S, workload.rids), 0, 0, 1, NULL, NULL,
     NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

/* Read only by kinds with a final phase (workload_kind.final). */
static const struct setting final_fields[] = {
    {"final_s", SETTING_NUM, SETTING_OFF(S, workload.final_s), 0, 1, 3600,
     NULL, NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct setting nemesis_fields[] = {
    {"faults", SETTING_LIST, SETTING_LIST_AT(S, nemesis.faults, nemesis.n_faults),
     0, SCENARIO_MAX_FAULTS, fault_ok, nemesis_kind_names, NULL},
    {"interval_s", SETTING_NUM, SETTING_OFF(S, nemesis.interval_s), 0, 0.1,
     86400, NULL, NULL, NULL},
    {"duration_s", SETTING_NUM, SETTING_OFF(S, nemesis.duration_s), 0, 0,
     86400, NULL, NULL, NULL},
    {"targets", SETTING_LIST,
     SETTING_LIST_AT(S, nemesis.targets, nemesis.n_targets), 0, 0, target_ok,
     targets_known, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct setting checker_fields[] = {
    {"time_limit_s", SETTING_NUM, SETTING_OFF(S, checker.time_limit_s), 0,
     0.01, 86400, NULL, NULL, NULL},
    {"memory_mb", SETTING_INT, SETTING_OFF(S, checker.memory_mb), 0, 1,
     1 << 20, NULL, NULL, NULL},
    {"threads", SETTING_INT, SETTING_OFF(S, checker.threads), 0, 0, 64, NULL,
     NULL, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

#define TABLE(fields) {sizeof(S), NULL, fields, NULL}
static const struct settings_table top_table = TABLE(top_fields);
static const struct settings_table workload_table = TABLE(workload_fields);
static const struct settings_table rid_table = TABLE(rid_fields);
static const struct settings_table final_table = TABLE(final_fields);
static const struct settings_table nemesis_table = TABLE(nemesis_fields);
static const struct settings_table checker_table = TABLE(checker_fields);
#undef TABLE
#undef S

static const char *const sections[] = {"db", "workload", "nemesis", "checker",
                                       NULL};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static void apply_db_defaults(struct scenario *s, const struct db_ops *db)
{
    memset(s->db.settings, 0, sizeof s->db.settings);
    settings_defaults(db->settings, s->db.settings);
}

static void apply_workload_defaults(struct scenario *s,
                                    const struct workload_kind *k)
{
    memset(s->workload.settings, 0, sizeof s->workload.settings);
    settings_defaults(k->settings, s->workload.settings);
}

void scenario_defaults(struct scenario *s)
{
    const struct nemesis_ops *ops;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "unnamed");
    s->nodes = 3;
    s->duration_s = 60;
    s->recovery_s = 10;
    snprintf(s->db.name, sizeof s->db.name, "taskd");
    apply_db_defaults(s, db_find(s->db.name));
    snprintf(s->workload.name, sizeof s->workload.name, "register");
    apply_workload_defaults(s, workload_kind_find(s->workload.name));
    s->workload.clients = 10;
    s->workload.rate = 200;
    s->workload.op_timeout_ms = 2000;
    s->workload.retries = 2;
    s->workload.rids = 1;
    s->workload.final_s = 30;
    s->nemesis.interval_s = 5;
    s->nemesis.duration_s = 2;
    for (int i = 0; (ops = nemesis_kind_at(i)) != NULL; i++) {
        settings_defaults(ops->settings, s->nemesis.kinds[i]);
    }
    s->checker.time_limit_s = 60;
    s->checker.memory_mb = 1024;
}

const void *scenario_db_settings(const struct scenario *s)
{
    return s->db.settings;
}

const void *scenario_workload_settings(const struct scenario *s)
{
    return s->workload.settings;
}

const void *scenario_fault_settings(const struct scenario *s, int kind_index)
{
    if (kind_index < 0 || kind_index >= SCENARIO_MAX_KINDS) {
        return NULL;
    }
    return s->nemesis.kinds[kind_index];
}

/* --- keys, section by section ------------------------------------------- */

static int set_seed(json_t *v, const char *origin, struct scenario *s,
                    char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fail(err, errlen,
                    "%s: \"seed\": expected a non-negative integer", origin);
    }
    s->seed = (uint64_t)json_integer_value(v);
    s->has_seed = true;
    return 0;
}

/* Set @key of the section's shared @table, or -ENOENT. */
static int set_shared(const struct settings_table *table, struct scenario *s,
                      const char *key, json_t *v, const char *origin,
                      const char *section, char *err, size_t errlen)
{
    return settings_set(table, s, key, v, origin, section, err, errlen);
}

static int set_db_key(struct scenario *s, const char *key, json_t *v,
                      const char *origin, char *err, size_t errlen)
{
    const struct db_ops *db = db_find(s->db.name);
    char keys[512];
    int rv;

    if (strcmp(key, "name") == 0) {
        const char *name = json_string_value(v);
        const struct db_ops *to = name != NULL ? db_find(name) : NULL;
        if (to == NULL) {
            return fail(err, errlen,
                        "%s: \"db.name\": unknown system \"%s\" (known: %s)",
                        origin, name != NULL ? name : "(not a string)",
                        db_names());
        }
        if (to != db) {
            apply_db_defaults(s, to);
        }
        snprintf(s->db.name, sizeof s->db.name, "%s", name);
        return 0;
    }
    rv = settings_set(db->settings, s->db.settings, key, v, origin, "db", err,
                      errlen);
    if (rv == -ENOENT) {
        settings_keys(db->settings, keys, sizeof keys);
        return fail(err, errlen,
                    "%s: \"db.%s\": unknown key for the system %s (known: "
                    "name%s%s)",
                    origin, key, db->name, keys[0] ? ", " : "", keys);
    }
    return rv;
}

/* The workload keys every kind, or kinds like @k, read, comma-separated. */
static void workload_keys(const struct workload_kind *k, char *buf,
                          size_t size)
{
    char own[512];
    settings_keys(k->settings, own, sizeof own);
    snprintf(buf, size, "name, clients, rate, op_timeout_ms%s%s%s%s",
             k->rids ? ", retries, rids" : "", k->final ? ", final_s" : "",
             own[0] ? ", " : "", own);
}

/* The kinds (other than @k) that read @key, comma-separated; "" if none. */
static void kinds_reading(const char *key, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = workload_kind_names(); *p != '\0';) {
        char name[32];
        size_t len = strcspn(p, ",");
        const struct workload_kind *k;
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        k = workload_kind_find(name);
        if (k != NULL &&
            (settings_field(k->settings, key) != NULL ||
             (k->rids && settings_field(&rid_table, key) != NULL) ||
             (k->final && settings_field(&final_table, key) != NULL)) &&
            used < size) {
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     used ? " " : "", name);
        }
        p += len;
        while (*p == ',' || *p == ' ') {
            p++;
        }
    }
}

static int set_workload_key(struct scenario *s, const char *key, json_t *v,
                            const char *origin, char *err, size_t errlen)
{
    const struct workload_kind *k = workload_kind_find(s->workload.name);
    char keys[768], readers[128];
    int rv;

    if (strcmp(key, "name") == 0) {
        const char *name = json_string_value(v);
        const struct workload_kind *to =
            name != NULL ? workload_kind_find(name) : NULL;
        if (to == NULL) {
            return fail(err, errlen,
                        "%s: \"workload.name\": unknown workload \"%s\" "
                        "(known: %s)",
                        origin, name != NULL ? name : "(not a string)",
                        workload_kind_names());
        }
        if (to != k) {
            apply_workload_defaults(s, to);
        }
        snprintf(s->workload.name, sizeof s->workload.name, "%s", name);
        return 0;
    }
    rv = set_shared(&workload_table, s, key, v, origin, "workload", err,
                    errlen);
    if (rv == -ENOENT && k->rids) {
        rv = set_shared(&rid_table, s, key, v, origin, "workload", err, errlen);
    }
    if (rv == -ENOENT && k->final != NULL) {
        rv = set_shared(&final_table, s, key, v, origin, "workload", err,
                        errlen);
    }
    if (rv == -ENOENT) {
        rv = settings_set(k->settings, s->workload.settings, key, v, origin,
                          "workload", err, errlen);
    }
    if (rv == -ENOENT) {
        kinds_reading(key, readers, sizeof readers);
        if (readers[0] != '\0') {
            return fail(err, errlen,
                        "%s: \"workload.%s\": not a key of the %s workload "
                        "(read by: %s)",
                        origin, key, k->name, readers);
        }
        workload_keys(k, keys, sizeof keys);
        return fail(err, errlen,
                    "%s: \"workload.%s\": unknown key (known for %s: %s)",
                    origin, key, k->name, keys);
    }
    return rv;
}

static int set_nemesis_key(struct scenario *s, const char *key, json_t *v,
                           const char *origin, char *err, size_t errlen)
{
    const struct nemesis_ops *ops;
    bool owned = false;
    int rv;

    if (strcmp(key, "rules") == 0) { /* reactive: nemesis/rule.c */
        return rule_parse(v, origin, &s->nemesis.rules, err, errlen);
    }
    rv = set_shared(&nemesis_table, s, key, v, origin, "nemesis", err, errlen);
    if (rv != -ENOENT) {
        return rv;
    }
    /* Every fault kind that declares the key gets the value. */
    for (int i = 0; (ops = nemesis_kind_at(i)) != NULL; i++) {
        rv = settings_set(ops->settings, s->nemesis.kinds[i], key, v, origin,
                          "nemesis", err, errlen);
        if (rv == 0) {
            owned = true;
        } else if (rv != -ENOENT) {
            return rv;
        }
    }
    if (!owned) {
        char keys[1024];
        size_t used;
        settings_keys(&nemesis_table, keys, sizeof keys);
        used = strlen(keys);
        used += (size_t)snprintf(keys + used, sizeof keys - used, ", rules");
        for (int i = 0; (ops = nemesis_kind_at(i)) != NULL; i++) {
            char more[256];
            settings_keys(ops->settings, more, sizeof more);
            for (char *p = strtok(more, ", "); p != NULL && used < sizeof keys;
                 p = strtok(NULL, ", ")) {
                if (strstr(keys, p) == NULL) {
                    used += (size_t)snprintf(keys + used, sizeof keys - used,
                                             ", %s", p);
                }
            }
        }
        return fail(err, errlen, "%s: \"nemesis.%s\": unknown key (known: %s)",
                    origin, key, keys);
    }
    return 0;
}

static int set_section_key(struct scenario *s, const char *section,
                           const char *key, json_t *v, const char *origin,
                           char *err, size_t errlen)
{
    int rv;
    if (strcmp(section, "db") == 0) {
        return set_db_key(s, key, v, origin, err, errlen);
    }
    if (strcmp(section, "workload") == 0) {
        return set_workload_key(s, key, v, origin, err, errlen);
    }
    if (strcmp(section, "nemesis") == 0) {
        return set_nemesis_key(s, key, v, origin, err, errlen);
    }
    rv = set_shared(&checker_table, s, key, v, origin, "checker", err, errlen);
    if (rv == -ENOENT) {
        char keys[256];
        settings_keys(&checker_table, keys, sizeof keys);
        return fail(err, errlen, "%s: \"checker.%s\": unknown key (known: %s)",
                    origin, key, keys);
    }
    return rv;
}

static int walk_section(json_t *obj, const char *section, const char *origin,
                        struct scenario *s, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    int rv;

    if (!json_is_object(obj)) {
        return fail(err, errlen, "%s: \"%s\": expected an object", origin,
                    section);
    }
    /* The name first: it says whose keys the others are. */
    v = json_object_get(obj, "name");
    if (v != NULL && (strcmp(section, "db") == 0 ||
                      strcmp(section, "workload") == 0)) {
        rv = set_section_key(s, section, "name", v, origin, err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "name") == 0 && (strcmp(section, "db") == 0 ||
                                         strcmp(section, "workload") == 0)) {
            continue;
        }
        rv = set_section_key(s, section, key, v, origin, err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int walk(json_t *obj, const char *origin, struct scenario *s,
                char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    int rv;

    /* Sections in a fixed order (db and workload before the faults, whose
     * refusals depend on the system). */
    for (int i = 0; sections[i] != NULL; i++) {
        v = json_object_get(obj, sections[i]);
        if (v != NULL) {
            rv = walk_section(v, sections[i], origin, s, err, errlen);
            if (rv != 0) {
                return rv;
            }
        }
    }
    json_object_foreach(obj, key, v)
    {
        if (settings_in_list(sections, key)) {
            continue;
        }
        if (strcmp(key, "seed") == 0) {
            rv = set_seed(v, origin, s, err, errlen);
        } else {
            rv = set_shared(&top_table, s, key, v, origin, "", err, errlen);
        }
        if (rv == -ENOENT) {
            char keys[256];
            settings_keys(&top_table, keys, sizeof keys);
            return fail(err, errlen,
                        "%s: \"%s\": unknown key (known: %s, seed, db, "
                        "workload, nemesis, checker)",
                        origin, key, keys);
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
    const struct db_ops *db = db_find(s->db.name);
    const struct workload_kind *k = workload_kind_find(s->workload.name);
    int rv;

    rv = settings_validate(db->settings, s->db.settings, origin, "db", err,
                           errlen);
    if (rv == 0) {
        rv = settings_validate(k->settings, s->workload.settings, origin,
                               "workload", err, errlen);
    }
    if (rv != 0) {
        return rv;
    }
    if (s->members > s->nodes) {
        return fail(err, errlen,
                    "%s: \"members\": %d initial members, but \"nodes\" is "
                    "%d (members must be at most nodes)",
                    origin, s->members, s->nodes);
    }
    if (s->members > 0 && s->members < s->nodes &&
        (db->caps & DB_CAP_MEMBERSHIP) == 0) {
        return fail(err, errlen,
                    "%s: \"members\": fewer members than nodes needs a "
                    "system that %s; %s does not",
                    origin, db_cap_text(DB_CAP_MEMBERSHIP), db->name);
    }
    if (!db_serves(db, k->name)) {
        return fail(err, errlen,
                    "%s: \"workload.name\": the system %s does not serve the "
                    "%s workload",
                    origin, db->name, k->name);
    }
    for (int i = 0; i < s->nemesis.n_faults; i++) {
        const struct nemesis_ops *ops = nemesis_find(s->nemesis.faults[i]);
        unsigned missing = nemesis_needs(s, ops) & ~db->caps;
        int idx = nemesis_kind_index(ops);
        if (missing != 0) {
            return fail(err, errlen,
                        "%s: \"nemesis.faults[%d]\": the fault %s needs a "
                        "system that %s; %s does not",
                        origin, i, ops->name, db_cap_text(missing), db->name);
        }
        rv = settings_validate(ops->settings, s->nemesis.kinds[idx], origin,
                               "nemesis", err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    /* reactive: rules name this db's events and faults it can take */
    for (int i = 0; i < s->nemesis.rules.n; i++) {
        const struct nemesis_ops *ops =
            nemesis_find(s->nemesis.rules.rule[i].fault);
        unsigned missing = ops != NULL ? nemesis_needs(s, ops) & ~db->caps : 0;
        if (missing != 0) {
            return fail(err, errlen,
                        "%s: \"nemesis.rules[%d].fault\": the fault %s needs "
                        "a system that %s; %s does not",
                        origin, i, ops->name, db_cap_text(missing), db->name);
        }
    }
    return rule_validate(&s->nemesis.rules, db->events, s->db.name,
                         origin, err, errlen);
}

int scenario_from_json(json_t *obj, const char *origin, struct scenario *s,
                       char *err, size_t errlen)
{
    int rv;
    if (!json_is_object(obj)) {
        return fail(err, errlen, "%s: a scenario is a JSON object", origin);
    }
    rv = walk(obj, origin, s, err, errlen);
    if (rv != 0) {
        return rv;
    }
    return validate(origin, s, err, errlen);
}

int scenario_set(struct scenario *s, const char *path, json_t *v,
                 const char *origin, char *err, size_t errlen)
{
    char section[32];
    const char *dot = strchr(path, '.');
    int rv;

    if (dot == NULL) {
        rv = strcmp(path, "seed") == 0
                 ? set_seed(v, origin, s, err, errlen)
                 : set_shared(&top_table, s, path, v, origin, "", err, errlen);
        if (rv == -ENOENT) {
            return fail(err, errlen, "%s: \"%s\": unknown key", origin, path);
        }
    } else {
        snprintf(section, sizeof section, "%.*s", (int)(dot - path), path);
        if (!settings_in_list(sections, section)) {
            return fail(err, errlen, "%s: \"%s\": unknown section \"%s\"",
                        origin, path, section);
        }
        rv = set_section_key(s, section, dot + 1, v, origin, err, errlen);
    }
    return rv;
}

/* The line of @text where the key path @dotted ("nemesis.rules[2].fault")
 * is written: each name found as a JSON key (quoted, then blanks and a
 * colon) after the previous one, array indices skipped. 0 when not found
 * (a key the defaults filled in). */
static int key_line(const char *text, const char *dotted)
{
    const char *at = text, *p = dotted, *found = NULL;
    char name[96];
    int line = 1;

    while (*p != '\0') {
        size_t n = strcspn(p, ".[");
        snprintf(name, sizeof name, "\"%.*s\"", (int)n, p);
        p += n;
        while (*p == '[') {
            p += strcspn(p, "]");
            p += *p == ']';
        }
        p += *p == '.';
        for (found = strstr(at, name); found != NULL;
             found = strstr(found + 1, name)) {
            const char *r = found + strlen(name);
            r += strspn(r, " \t\r\n");
            if (*r == ':') {
                break;
            }
        }
        if (found == NULL) {
            return 0;
        }
        at = found + strlen(name);
    }
    for (const char *c = text; found != NULL && c < found; c++) {
        line += *c == '\n';
    }
    return found != NULL ? line : 0;
}

/* "PATH: \"key\": text" into "PATH:LINE: \"key\": text", as a history's
 * errors say where they are. */
static void locate(const char *path, const char *text, char *err, size_t errlen)
{
    size_t n = strlen(path);
    char key[128], rest[1024];
    const char *q;
    int line;

    if (strncmp(err, path, n) != 0 || strncmp(err + n, ": \"", 3) != 0) {
        return;
    }
    q = strchr(err + n + 3, '"');
    if (q == NULL || (size_t)(q - (err + n + 3)) >= sizeof key) {
        return;
    }
    snprintf(key, sizeof key, "%.*s", (int)(q - (err + n + 3)), err + n + 3);
    line = key_line(text, key);
    if (line > 0) {
        snprintf(rest, sizeof rest, "%s", err + n + 2);
        snprintf(err, errlen, "%s:%d: %s", path, line, rest);
    }
}

int scenario_load(const char *path, struct scenario *s, char *err,
                  size_t errlen)
{
    json_error_t jerr;
    json_t *obj;
    char *text = NULL;
    size_t size = 0;
    int rv;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        rv = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rv;
    }
    {
        FILE *mem = open_memstream(&text, &size);
        char buf[4096];
        size_t got;
        while (mem != NULL && (got = fread(buf, 1, sizeof buf, f)) > 0) {
            fwrite(buf, 1, got, mem);
        }
        rv = ferror(f) ? -errno : 0;
        if (mem == NULL || fclose(mem) != 0) {
            rv = -ENOMEM;
        }
    }
    fclose(f);
    if (rv != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rv));
        free(text);
        return rv;
    }
    obj = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        free(text);
        if (jerr.column > 0) {
            return fail(err, errlen, "%s:%d:%d: %s", path, jerr.line,
                        jerr.column, jerr.text);
        }
        return fail(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
    }
    rv = scenario_from_json(obj, path, s, err, errlen);
    if (rv != 0) {
        locate(path, text, err, errlen);
    }
    json_decref(obj);
    free(text);
    return rv;
}

json_t *scenario_to_json(const struct scenario *s)
{
    const struct db_ops *db = db_find(s->db.name);
    const struct workload_kind *k = workload_kind_find(s->workload.name);
    json_t *top = json_object(), *sec;

    settings_to_json(&top_table, s, top);
    json_object_set_new(top, "seed", json_integer((json_int_t)s->seed));

    sec = json_pack("{s:s}", "name", s->db.name);
    settings_to_json(db->settings, s->db.settings, sec);
    json_object_set_new(top, "db", sec);

    sec = json_pack("{s:s}", "name", s->workload.name);
    settings_to_json(&workload_table, s, sec);
    if (k->rids) {
        settings_to_json(&rid_table, s, sec);
    }
    if (k->final != NULL) {
        settings_to_json(&final_table, s, sec);
    }
    settings_to_json(k->settings, s->workload.settings, sec);
    json_object_set_new(top, "workload", sec);

    /* The shared keys, then the keys of the kinds in use. */
    sec = json_object();
    settings_to_json(&nemesis_table, s, sec);
    for (int i = 0; i < s->nemesis.n_faults; i++) {
        const struct nemesis_ops *ops = nemesis_find(s->nemesis.faults[i]);
        settings_to_json(ops->settings,
                         s->nemesis.kinds[nemesis_kind_index(ops)], sec);
    }
    if (s->nemesis.rules.n > 0) { /* reactive */
        json_object_set_new(sec, "rules", rule_to_json(&s->nemesis.rules));
    }
    json_object_set_new(top, "nemesis", sec);

    sec = json_object();
    settings_to_json(&checker_table, s, sec);
    json_object_set_new(top, "checker", sec);
    return top;
}

const char *scenario_db_string(const struct scenario *s, const char *key)
{
    const struct db_ops *db = db_find(s->db.name);
    const struct setting *f =
        db != NULL ? settings_field(db->settings, key) : NULL;
    if (f == NULL || f->type != SETTING_STR) {
        return "";
    }
    return (const char *)s->db.settings + f->offset;
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
