/* settings: reading, checking and printing a plugin's settings table. */
#include "plugin/settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

const struct setting *settings_field(const struct settings_table *t,
                                     const char *key)
{
    if (t == NULL || t->fields == NULL) {
        return NULL;
    }
    for (const struct setting *f = t->fields; f->key != NULL; f++) {
        if (strcmp(f->key, key) == 0) {
            return f;
        }
    }
    return NULL;
}

void settings_defaults(const struct settings_table *t, void *out)
{
    if (t == NULL) {
        return;
    }
    memset(out, 0, t->size);
    if (t->defaults != NULL) {
        t->defaults(out);
    }
}

bool settings_in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++) {
        if (strcmp(*list, s) == 0) {
            return true;
        }
    }
    return false;
}

const char *settings_join(const char *const *list, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (; *list != NULL && used < size; list++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                         *list);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
    return buf;
}

static const char *known_text(const struct setting *f)
{
    return f->known != NULL ? f->known() : "see the documentation";
}

static int set_list(const struct setting *f, void *out, json_t *v,
                    const char *origin, const char *path, char *err,
                    size_t errlen)
{
    char(*items)[SETTINGS_NAME_LEN] = (void *)((char *)out + f->offset);
    int *count = (int *)(void *)((char *)out + f->size);
    size_t i;
    json_t *item;

    if (!json_is_array(v)) {
        return fail(err, errlen, "%s: \"%s\": expected an array of names",
                    origin, path);
    }
    if (json_array_size(v) > (size_t)(f->max > 0 ? f->max : SETTINGS_MAX_LIST)
        || json_array_size(v) > SETTINGS_MAX_LIST) {
        return fail(err, errlen, "%s: \"%s\": at most %d names", origin,
                    path,
                    f->max > 0 ? (int)f->max : SETTINGS_MAX_LIST);
    }
    *count = 0;
    json_array_foreach(v, i, item)
    {
        const char *name = json_string_value(item);
        if (name == NULL) {
            return fail(err, errlen, "%s: \"%s[%zu]\": expected a string",
                        origin, path, i);
        }
        if (strlen(name) >= SETTINGS_NAME_LEN) {
            return fail(err, errlen,
                        "%s: \"%s[%zu]\": longer than %d characters",
                        origin, path, i, SETTINGS_NAME_LEN - 1);
        }
        if (f->allowed != NULL && !f->allowed(name)) {
            return fail(err, errlen,
                        "%s: \"%s[%zu]\": unknown value \"%s\" (known: %s)",
                        origin, path, i, name, known_text(f));
        }
        snprintf(items[(*count)++], SETTINGS_NAME_LEN, "%s", name);
    }
    return 0;
}

int settings_set(const struct settings_table *t, void *out, const char *key,
                 json_t *v, const char *origin, const char *section,
                 char *err, size_t errlen)
{
    const struct setting *f = settings_field(t, key);
    char *base = out;
    double x;

    char path[160];

    if (f == NULL) {
        return -ENOENT;
    }
    /* The key as the scenario spells it: "db.bug", or "nodes" at the top. */
    snprintf(path, sizeof path, "%s%s%s", section, *section ? "." : "", key);
    switch (f->type) {
    case SETTING_LIST:
        return set_list(f, out, v, origin, path, err, errlen);
    case SETTING_STR:
        if (!json_is_string(v)) {
            return fail(err, errlen, "%s: \"%s\": expected a string",
                        origin, path);
        }
        if (f->allowed != NULL && !f->allowed(json_string_value(v))) {
            return fail(err, errlen,
                        "%s: \"%s\": unknown value \"%s\" (known: %s)",
                        origin, path, json_string_value(v),
                        known_text(f));
        }
        if (json_string_length(v) >= f->size) {
            return fail(err, errlen, "%s: \"%s\": longer than %zu characters",
                        origin, path, f->size - 1);
        }
        snprintf(base + f->offset, f->size, "%s", json_string_value(v));
        return 0;
    case SETTING_BOOL:
        if (!json_is_boolean(v)) {
            return fail(err, errlen, "%s: \"%s\": expected true or false",
                        origin, path);
        }
        *(bool *)(void *)(base + f->offset) = json_is_true(v);
        return 0;
    case SETTING_INT:
        if (!json_is_integer(v)) {
            return fail(err, errlen, "%s: \"%s\": expected an integer",
                        origin, path);
        }
        x = (double)json_integer_value(v);
        break;
    case SETTING_NUM:
        if (!json_is_number(v)) {
            return fail(err, errlen, "%s: \"%s\": expected a number",
                        origin, path);
        }
        x = json_number_value(v);
        break;
    default:
        return fail(err, errlen, "%s: \"%s\": internal: bad field type",
                    origin, path);
    }
    if (x < f->min || x > f->max) {
        return fail(err, errlen, "%s: \"%s\": %g is out of range [%g, %g]",
                    origin, path, x, f->min, f->max);
    }
    if (f->type == SETTING_INT) {
        *(int *)(void *)(base + f->offset) = (int)x;
    } else {
        *(double *)(void *)(base + f->offset) = x;
    }
    return 0;
}

int settings_validate(const struct settings_table *t, const void *settings,
                      const char *origin, const char *section, char *err,
                      size_t errlen)
{
    char msg[512];
    int rv;
    if (t == NULL || t->validate == NULL) {
        return 0;
    }
    msg[0] = '\0';
    rv = t->validate(settings, section, msg, sizeof msg);
    if (rv != 0) {
        return fail(err, errlen, "%s: %s", origin, msg);
    }
    return 0;
}

void settings_to_json(const struct settings_table *t, const void *settings,
                      json_t *obj)
{
    const char *base = settings;
    if (t == NULL || t->fields == NULL) {
        return;
    }
    for (const struct setting *f = t->fields; f->key != NULL; f++) {
        json_t *v = NULL;
        switch (f->type) {
        case SETTING_STR:
            v = json_string(base + f->offset);
            break;
        case SETTING_INT:
            v = json_integer(*(const int *)(const void *)(base + f->offset));
            break;
        case SETTING_NUM:
            v = json_real(*(const double *)(const void *)(base + f->offset));
            break;
        case SETTING_BOOL:
            v = json_boolean(*(const bool *)(const void *)(base + f->offset));
            break;
        case SETTING_LIST: {
            const char(*items)[SETTINGS_NAME_LEN] =
                (const void *)(base + f->offset);
            int n = *(const int *)(const void *)(base + f->size);
            v = json_array();
            for (int i = 0; i < n; i++) {
                json_array_append_new(v, json_string(items[i]));
            }
            break;
        }
        }
        if (v != NULL) {
            json_object_set_new(obj, f->key, v);
        }
    }
}

void settings_keys(const struct settings_table *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (t == NULL || t->fields == NULL) {
        return;
    }
    for (const struct setting *f = t->fields; f->key != NULL && used < size;
         f++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                         f->key);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

bool settings_list_has(const struct settings_table *t, const void *settings,
                       const char *key, const char *value)
{
    const struct setting *f = settings_field(t, key);
    const char *base = settings;
    if (f == NULL || f->type != SETTING_LIST) {
        return false;
    }
    const char(*items)[SETTINGS_NAME_LEN] = (const void *)(base + f->offset);
    int n = *(const int *)(const void *)(base + f->size);
    for (int i = 0; i < n; i++) {
        if (strcmp(items[i], value) == 0) {
            return true;
        }
    }
    return false;
}
