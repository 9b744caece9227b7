/* settings: the keys a plugin reads from its section of a scenario.
 *
 * Every plugin (a system under test, a workload, a fault kind) owns its
 * settings: a struct of its own, described by a table of fields (key, type,
 * where it lands, range, allowed values) and a validate function. The
 * scenario keeps the shared keys and hands each section's other keys to the
 * plugin that declared them; the walker below reads, checks and prints them,
 * so that a misspelt or out-of-range key is an error naming the file and
 * the key, never a silently ignored setting. */
#ifndef FAULTLINE_SETTINGS_H
#define FAULTLINE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define SETTINGS_NAME_LEN 24 /* an item of a SETTING_LIST, with its NUL */
#define SETTINGS_MAX_LIST 12

enum setting_type {
    SETTING_INT,  /* int */
    SETTING_NUM,  /* double */
    SETTING_STR,  /* char[size] */
    SETTING_LIST, /* char[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN] + int count */
    SETTING_BOOL, /* bool */
};

struct setting {
    const char *key; /* within the section: "election_timeout_ms" */
    enum setting_type type;
    size_t offset; /* in the plugin's settings struct */
    size_t size;   /* STR: buffer size; LIST: offset of the count (int) */
    double min, max; /* INT and NUM */
    /* STR (optional) and LIST: is @value allowed? */
    bool (*allowed)(const char *value);
    /* The allowed values for messages ("a, b, c"), from the registry that
     * decides them; NULL when @allowed says it all. */
    const char *(*known)(void);
    const char *help; /* one line, for `faultline help settings` */
};

/* Helpers for tables: SETTING_OFF(struct x, field). */
#define SETTING_OFF(type, member) offsetof(type, member)
#define SETTING_STR_AT(type, member)                                           \
    offsetof(type, member), sizeof(((type *)0)->member)
#define SETTING_LIST_AT(type, member, count)                                   \
    offsetof(type, member), offsetof(type, count)

struct settings_table {
    size_t size; /* of the plugin's settings struct (at most SETTINGS_MAX) */
    /* Fill @settings with the defaults (the struct is zeroed first). */
    void (*defaults)(void *settings);
    const struct setting *fields; /* ends with a row whose key is NULL */
    /* Checks across fields, after every key was read; write a message
     * naming the field to @err ("\"db.heartbeat_ms\": must be below ...",
     * @section is the prefix to print) and return -EINVAL, or 0. May be
     * NULL. */
    int (*validate)(const void *settings, const char *section, char *err,
                    size_t errlen);
};

/* Largest settings struct a plugin may declare. */
#define SETTINGS_MAX 2048

/* The field of @t named @key, or NULL. */
const struct setting *settings_field(const struct settings_table *t,
                                     const char *key);

/* Zero @out and apply @t's defaults. */
void settings_defaults(const struct settings_table *t, void *out);

/* Set @key of @out from @v. @origin and @section name the place in errors
 * ("scenarios/x.json: \"db.bug\": ..."). Returns 0, -ENOENT when @t has no
 * such key (nothing written to @err), or -EINVAL with a message. */
int settings_set(const struct settings_table *t, void *out, const char *key,
                 json_t *v, const char *origin, const char *section,
                 char *err, size_t errlen);

/* Run @t's validate, if any. */
int settings_validate(const struct settings_table *t, const void *settings,
                      const char *origin, const char *section, char *err,
                      size_t errlen);

/* Add every field of @settings to the object @obj (key: value). */
void settings_to_json(const struct settings_table *t, const void *settings,
                      json_t *obj);

/* The keys of @t, comma-separated, into @buf (for "known: ..."). */
void settings_keys(const struct settings_table *t, char *buf, size_t size);

/* True when the NULL-terminated @list holds @s. */
bool settings_in_list(const char *const *list, const char *s);

/* @list (NULL-terminated) joined with ", " into @buf; returns @buf. */
const char *settings_join(const char *const *list, char *buf, size_t size);

/* True when list field @key of @settings holds @value. */
bool settings_list_has(const struct settings_table *t, const void *settings,
                       const char *key, const char *value);

#endif /* FAULTLINE_SETTINGS_H */
