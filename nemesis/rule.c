/* rule: parsing, checking and printing the reactive nemesis's rules. */
#include "nemesis/rule.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Faults that act on chosen nodes; the others (clock, disk, loss...) draw
 * their parameters from the timed schedule's settings and stay there. */
const char *const rule_fault_names[] = {
    "crash-restart",
    "kill",
    "pause",
    "restart",
    "partition",
    "lose-unsynced-on-kill",
    "torn-write-on-kill",
    NULL,
};

static const char *const role_names[] = {"any", "leader", "follower",
                                         "candidate", NULL};
static const char *const target_names[] = {"self", "leader", "others", "all",
                                           NULL};
static const char *const cmp_names[] = {"==", "!=", "<", "<=", ">", ">="};

#define DEFAULT_DURATION_MS 1000

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

static int index_of(const char *const *list, const char *s)
{
    for (int i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static void join(const char *const *list, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; list[i] != NULL && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                 i > 0 ? ", " : "", list[i]);
    }
}

const char *rule_role_name(enum rule_role role)
{
    return role_names[role];
}

const char *rule_target_name(enum rule_target target)
{
    return target_names[target];
}

/* A string key whose value is one of @list: its index in *@out. */
static int get_choice(json_t *v, const char *const *list, const char *origin,
                      const char *path, int *out, char *err, size_t errlen)
{
    char known[256];
    if (!json_is_string(v)) {
        return fail(err, errlen, "%s: \"%s\": expected a string", origin, path);
    }
    *out = index_of(list, json_string_value(v));
    if (*out < 0) {
        join(list, known, sizeof known);
        return fail(err, errlen, "%s: \"%s\": unknown value \"%s\" (known: %s)",
                    origin, path, json_string_value(v), known);
    }
    return 0;
}

static int get_name(json_t *v, const char *origin, const char *path, char *out,
                    char *err, size_t errlen)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return fail(err, errlen, "%s: \"%s\": expected a non-empty string",
                    origin, path);
    }
    if (json_string_length(v) >= RULE_NAME_LEN) {
        return fail(err, errlen, "%s: \"%s\": longer than %d characters",
                    origin, path, RULE_NAME_LEN - 1);
    }
    snprintf(out, RULE_NAME_LEN, "%s", json_string_value(v));
    return 0;
}

static int get_number(json_t *v, const char *origin, const char *path,
                      double min, double max, double *out, char *err,
                      size_t errlen)
{
    if (!json_is_number(v)) {
        return fail(err, errlen, "%s: \"%s\": expected a number", origin, path);
    }
    *out = json_number_value(v);
    if (!(*out >= min && *out <= max)) {
        return fail(err, errlen, "%s: \"%s\": %g is out of range [%g, %g]",
                    origin, path, *out, min, max);
    }
    return 0;
}

/* "delay_ms": a number, or [lo, hi] with 0 <= lo <= hi. */
static int get_delay(json_t *v, const char *origin, const char *path,
                     double out[2], char *err, size_t errlen)
{
    if (json_is_number(v)) {
        out[0] = out[1] = json_number_value(v);
    } else if (json_is_array(v) && json_array_size(v) == 2 &&
               json_is_number(json_array_get(v, 0)) &&
               json_is_number(json_array_get(v, 1))) {
        out[0] = json_number_value(json_array_get(v, 0));
        out[1] = json_number_value(json_array_get(v, 1));
    } else {
        return fail(err, errlen,
                    "%s: \"%s\": expected [min, max] in milliseconds", origin,
                    path);
    }
    if (out[0] < 0 || out[1] < 0) {
        return fail(err, errlen, "%s: \"%s\": a delay can't be negative",
                    origin, path);
    }
    if (out[0] > out[1]) {
        return fail(err, errlen,
                    "%s: \"%s\": range reversed ([%g, %g]: min above max)",
                    origin, path, out[0], out[1]);
    }
    if (out[1] > 3600000) {
        return fail(err, errlen, "%s: \"%s\": at most an hour", origin, path);
    }
    return 0;
}

/* One condition: "field": 3, "field": "create", "field": ">=2",
 * "field": false. */
static int get_where(const char *field, json_t *v, const char *origin,
                     const char *path, struct rule_where *w, char *err,
                     size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (strlen(field) == 0 || strlen(field) >= RULE_NAME_LEN) {
        return fail(err, errlen,
                    "%s: \"%s\": field names are 1 to %d "
                    "characters",
                    origin, path, RULE_NAME_LEN - 1);
    }
    snprintf(w->field, sizeof w->field, "%s", field);
    w->cmp = RULE_EQ;
    if (json_is_number(v)) {
        w->number = json_number_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        w->is_boolean = true;
        w->boolean = json_is_true(v);
        return 0;
    }
    if (!json_is_string(v)) {
        return fail(err, errlen,
                    "%s: \"%s\": expected a number, a string, a boolean "
                    "or a comparison such as \">=2\"",
                    origin, path);
    }
    const char *s = json_string_value(v);
    static const struct {
        const char *op;
        enum rule_cmp cmp;
    } ops[] = {{">=", RULE_GE}, {"<=", RULE_LE}, {"!=", RULE_NE},
               {"==", RULE_EQ}, {">", RULE_GT},  {"<", RULE_LT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t len = strlen(ops[i].op);
        if (strncmp(s, ops[i].op, len) == 0) {
            char *end;
            double x = strtod(s + len, &end);
            if (end == s + len || *end != '\0' || !isfinite(x)) {
                return fail(err, errlen,
                            "%s: \"%s\": \"%s\": expected a number after %s",
                            origin, path, s, ops[i].op);
            }
            w->cmp = ops[i].cmp;
            w->number = x;
            return 0;
        }
    }
    if (strlen(s) >= RULE_NAME_LEN) {
        return fail(err, errlen, "%s: \"%s\": longer than %d characters",
                    origin, path, RULE_NAME_LEN - 1);
    }
    w->is_string = true;
    snprintf(w->string, sizeof w->string, "%s", s);
    return 0;
}

static void rule_defaults(struct nemesis_rule *r)
{
    memset(r, 0, sizeof *r);
    r->role = RULE_ROLE_ANY;
    r->probability = 1;
    r->target = RULE_TARGET_SELF;
    r->max = INT_MAX;
    r->duration_ms = DEFAULT_DURATION_MS;
}

static int parse_one(json_t *obj, const char *origin, int idx,
                     struct nemesis_rule *r, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char path[128];
    char base[48];
    int rv = 0, choice;
    double x;

    snprintf(base, sizeof base, "nemesis.rules[%d]", idx);
    if (!json_is_object(obj)) {
        return fail(err, errlen, "%s: \"%s\": expected an object", origin,
                    base);
    }
    rule_defaults(r);
    if (json_object_get(obj, "on") == NULL) {
        return fail(err, errlen,
                    "%s: \"%s.on\": missing (the node event "
                    "that triggers the rule)",
                    origin, base);
    }
    if (json_object_get(obj, "fault") == NULL) {
        return fail(err, errlen, "%s: \"%s.fault\": missing", origin, base);
    }
    json_object_foreach(obj, key, v)
    {
        snprintf(path, sizeof path, "%s.%s", base, key);
        if (strcmp(key, "on") == 0) {
            rv = get_name(v, origin, path, r->on, err, errlen);
        } else if (strcmp(key, "role") == 0) {
            rv = get_choice(v, role_names, origin, path, &choice, err, errlen);
            r->role = (enum rule_role)choice;
        } else if (strcmp(key, "probability") == 0) {
            rv =
                get_number(v, origin, path, 0, 1, &r->probability, err, errlen);
        } else if (strcmp(key, "delay_ms") == 0) {
            rv = get_delay(v, origin, path, r->delay_ms, err, errlen);
        } else if (strcmp(key, "fault") == 0) {
            rv = get_choice(v, rule_fault_names, origin, path, &choice, err,
                            errlen);
            if (rv == 0) {
                snprintf(r->fault, sizeof r->fault, "%s",
                         rule_fault_names[choice]);
            }
        } else if (strcmp(key, "target") == 0) {
            rv =
                get_choice(v, target_names, origin, path, &choice, err, errlen);
            r->target = (enum rule_target)choice;
        } else if (strcmp(key, "max") == 0) {
            if (!json_is_integer(v)) {
                return fail(err, errlen, "%s: \"%s\": expected an integer",
                            origin, path);
            }
            if (json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
                return fail(err, errlen,
                            "%s: \"%s\": %lld is out of range [1, 1000000]",
                            origin, path, (long long)json_integer_value(v));
            }
            r->max = (int)json_integer_value(v);
        } else if (strcmp(key, "cooldown_ms") == 0) {
            rv = get_number(v, origin, path, 0, 86400000, &r->cooldown_ms, err,
                            errlen);
        } else if (strcmp(key, "duration_ms") == 0) {
            rv = get_number(v, origin, path, 0, 86400000, &x, err, errlen);
            r->duration_ms = x;
        } else if (strcmp(key, "where") == 0) {
            const char *field;
            json_t *cond;
            if (!json_is_object(v)) {
                return fail(err, errlen,
                            "%s: \"%s\": expected an object of conditions",
                            origin, path);
            }
            if (json_object_size(v) > RULE_MAX_WHERE) {
                return fail(err, errlen, "%s: \"%s\": at most %d conditions",
                            origin, path, RULE_MAX_WHERE);
            }
            json_object_foreach(v, field, cond)
            {
                char wpath[192];
                snprintf(wpath, sizeof wpath, "%s.%s", path, field);
                rv = get_where(field, cond, origin, wpath,
                               &r->where[r->n_where], err, errlen);
                if (rv != 0) {
                    return rv;
                }
                r->n_where++;
            }
        } else {
            return fail(err, errlen,
                        "%s: \"%s\": unknown key (known: on, role, "
                        "probability, delay_ms, fault, target, max, "
                        "cooldown_ms, duration_ms, where)",
                        origin, path);
        }
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

int rule_parse(json_t *v, const char *origin, struct nemesis_rules *out,
               char *err, size_t errlen)
{
    struct nemesis_rules tmp;
    size_t i;
    json_t *item;

    if (!json_is_array(v)) {
        return fail(err, errlen,
                    "%s: \"nemesis.rules\": expected an array "
                    "of rules",
                    origin);
    }
    if (json_array_size(v) > RULE_MAX) {
        return fail(err, errlen, "%s: \"nemesis.rules\": at most %d rules",
                    origin, RULE_MAX);
    }
    memset(&tmp, 0, sizeof tmp);
    json_array_foreach(v, i, item)
    {
        int rv = parse_one(item, origin, (int)i, &tmp.rule[i], err, errlen);
        if (rv != 0) {
            return rv;
        }
        tmp.n++;
    }
    *out = tmp;
    return 0;
}

int rule_validate(const struct nemesis_rules *rules, const char *const *events,
                  const char *db_name, const char *origin, char *err,
                  size_t errlen)
{
    char known[1024];
    for (int i = 0; i < rules->n; i++) {
        if (events == NULL || index_of(events, rules->rule[i].on) < 0) {
            if (events != NULL) {
                join(events, known, sizeof known);
            } else {
                snprintf(known, sizeof known, "none");
            }
            return fail(err, errlen,
                        "%s: \"nemesis.rules[%d].on\": unknown event \"%s\" "
                        "for %s (known: %s)",
                        origin, i, rules->rule[i].on, db_name, known);
        }
    }
    return 0;
}

bool rule_uses_fault(const struct nemesis_rules *rules, const char *fault)
{
    for (int i = 0; i < rules->n; i++) {
        if (strcmp(rules->rule[i].fault, fault) == 0) {
            return true;
        }
    }
    return false;
}

static json_t *where_json(const struct nemesis_rule *r)
{
    json_t *obj = json_object();
    for (int k = 0; k < r->n_where; k++) {
        const struct rule_where *w = &r->where[k];
        char text[64];
        if (w->is_string) {
            json_object_set_new(obj, w->field, json_string(w->string));
        } else if (w->is_boolean) {
            json_object_set_new(obj, w->field, json_boolean(w->boolean));
        } else {
            snprintf(text, sizeof text, "%s%g", cmp_names[w->cmp], w->number);
            json_object_set_new(obj, w->field, json_string(text));
        }
    }
    return obj;
}

json_t *rule_to_json(const struct nemesis_rules *rules)
{
    json_t *a = json_array();
    for (int i = 0; i < rules->n; i++) {
        const struct nemesis_rule *r = &rules->rule[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:f, s:[f, f], s:s, s:s, s:i, s:f, s:f}", "on", r->on,
            "role", rule_role_name(r->role), "probability", r->probability,
            "delay_ms", r->delay_ms[0], r->delay_ms[1], "fault", r->fault,
            "target", rule_target_name(r->target), "max", r->max, "cooldown_ms",
            r->cooldown_ms, "duration_ms", r->duration_ms);
        if (r->n_where > 0) {
            json_object_set_new(o, "where", where_json(r));
        }
        json_array_append_new(a, o);
    }
    return a;
}

void rule_print(FILE *f, const struct nemesis_rules *rules)
{
    for (int i = 0; i < rules->n; i++) {
        const struct nemesis_rule *r = &rules->rule[i];
        char where[256] = "";
        fprintf(f, "rule %d: on %s", i, r->on);
        if (r->role != RULE_ROLE_ANY) {
            fprintf(f, " (role %s)", rule_role_name(r->role));
        }
        if (r->n_where > 0) {
            json_t *w = where_json(r);
            char *text = json_dumps(w, JSON_COMPACT);
            snprintf(where, sizeof where, " where %s", text ? text : "");
            free(text);
            json_decref(w);
            fputs(where, f);
        }
        fprintf(f, ": p %g, after %g-%g ms, %s %s", r->probability,
                r->delay_ms[0], r->delay_ms[1], r->fault,
                rule_target_name(r->target));
        if (strcmp(r->fault, "crash-restart") != 0) {
            fprintf(f, " for %g ms", r->duration_ms);
        }
        if (r->max < INT_MAX) {
            fprintf(f, ", max %d", r->max);
        }
        if (r->cooldown_ms > 0) {
            fprintf(f, ", cooldown %g ms", r->cooldown_ms);
        }
        fputc('\n', f);
    }
}

static bool cmp_holds(enum rule_cmp cmp, double a, double b)
{
    switch (cmp) {
    case RULE_EQ:
        return a == b;
    case RULE_NE:
        return a != b;
    case RULE_LT:
        return a < b;
    case RULE_LE:
        return a <= b;
    case RULE_GT:
        return a > b;
    case RULE_GE:
        return a >= b;
    }
    return false;
}

bool rule_where_matches(const struct nemesis_rule *r, const json_t *obj)
{
    for (int k = 0; k < r->n_where; k++) {
        const struct rule_where *w = &r->where[k];
        json_t *v = json_object_get(obj, w->field);
        if (w->is_string) {
            if (!json_is_string(v) ||
                strcmp(json_string_value(v), w->string) != 0) {
                return false;
            }
        } else if (w->is_boolean) {
            if (!json_is_boolean(v) || json_is_true(v) != w->boolean) {
                return false;
            }
        } else if (!json_is_number(v) ||
                   !cmp_holds(w->cmp, json_number_value(v), w->number)) {
            return false;
        }
    }
    return true;
}
