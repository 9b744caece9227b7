/* history: read and append faultline history files (JSON lines). */
#include "histories/history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_FORMAT "faultline-history"

static const char *const type_names[] = {
    [HISTORY_INVOKE] = "invoke",
    [HISTORY_OK] = "ok",
    [HISTORY_FAIL] = "fail",
    [HISTORY_INFO] = "info",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *history_type_name(enum history_type type)
{
    if ((unsigned)type >= N_TYPES) {
        return "?";
    }
    return type_names[type];
}

int history_type_parse(const char *name)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void history_error_format(const struct history_error *err, char *buf,
                          size_t size)
{
    if (size == 0) {
        return;
    }
    if (err->line > 0 && err->column > 0) {
        snprintf(buf, size, "%s:%d:%d: %s", err->path, err->line, err->column,
                 err->text);
    } else if (err->line > 0) {
        snprintf(buf, size, "%s:%d: %s", err->path, err->line, err->text);
    } else {
        snprintf(buf, size, "%s: %s", err->path, err->text);
    }
}

void history_locate(const char *path, const char *reason, char *buf,
                    size_t size)
{
    int line = 0, at = 0;

    if (sscanf(reason, "line %d: %n", &line, &at) == 1 && at > 0 && line > 0) {
        snprintf(buf, size, "%s:%d: %s", path, line, reason + at);
    } else {
        snprintf(buf, size, "%s: %s", path, reason);
    }
}

void history_event_clear(struct history_event *e)
{
    free(e->key);
    free(e->error);
    free(e->node);
    json_decref(e->value);
    e->key = NULL;
    e->error = NULL;
    e->node = NULL;
    e->value = NULL;
}

void history_init(struct history *h)
{
    memset(h, 0, sizeof *h);
    h->header.version = HISTORY_FORMAT_VERSION;
}

void history_close(struct history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        history_event_clear(&h->events[i]);
    }
    free(h->events);
    history_header_clear(&h->header);
    memset(h, 0, sizeof *h);
}

void history_header_clear(struct history_header *hd)
{
    free(hd->scenario);
    free(hd->start_wall);
    free(hd->system);
    free(hd->workload);
    free(hd->checkers);
    free(hd->model);
    free(hd->faultline_version);
    memset(hd, 0, sizeof *hd);
}

static int dup_opt(char **to, const char *from)
{
    *to = from != NULL ? strdup(from) : NULL;
    return from != NULL && *to == NULL ? -ENOMEM : 0;
}

int history_header_copy(struct history_header *to,
                        const struct history_header *from)
{
    int rv = 0;
    *to = *from;
    rv |= dup_opt(&to->scenario, from->scenario);
    rv |= dup_opt(&to->start_wall, from->start_wall);
    rv |= dup_opt(&to->system, from->system);
    rv |= dup_opt(&to->workload, from->workload);
    rv |= dup_opt(&to->checkers, from->checkers);
    rv |= dup_opt(&to->model, from->model);
    rv |= dup_opt(&to->faultline_version, from->faultline_version);
    if (rv != 0) {
        history_header_clear(to);
        return -ENOMEM;
    }
    return 0;
}

/* Make room for one more event. */
static int reserve(struct history *h)
{
    if (h->n < h->cap) {
        return 0;
    }
    size_t cap = h->cap ? h->cap * 2 : 64;
    struct history_event *ev = realloc(h->events, cap * sizeof *ev);
    if (ev == NULL) {
        return -ENOMEM;
    }
    h->events = ev;
    h->cap = cap;
    return 0;
}

/* strdup that keeps NULL as NULL; *ok is cleared when allocation fails. */
static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    if (d == NULL) {
        *ok = false;
    }
    return d;
}

int history_add(struct history *h, const struct history_event *e)
{
    if (reserve(h) != 0) {
        return -ENOMEM;
    }
    struct history_event *d = &h->events[h->n];
    bool ok = true;
    *d = *e;
    d->f[sizeof d->f - 1] = '\0';
    d->index = (int64_t)h->n;
    d->key = dup_or_null(e->key, &ok);
    d->error = dup_or_null(e->error, &ok);
    d->node = dup_or_null(e->node, &ok);
    d->value = e->value ? json_incref(e->value) : json_null();
    if (!ok) {
        history_event_clear(d);
        return -ENOMEM;
    }
    h->n++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

struct reader {
    struct history *h;
    struct history_error *err;
    int line;
};

static int fail_at(struct reader *r, int column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct reader *r, int column, const char *fmt, ...)
{
    va_list ap;
    r->err->line = r->line;
    r->err->column = column > 0 ? column : 0;
    va_start(ap, fmt);
    vsnprintf(r->err->text, sizeof r->err->text, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Optional string field: absent or null gives NULL. */
static int get_opt_string(struct reader *r, json_t *obj, const char *name,
                          char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return fail_at(r, 0, "field \"%s\": expected a string", name);
    }
    *out = strdup(json_string_value(v));
    if (*out == NULL) {
        return -ENOMEM;
    }
    return 0;
}

/* An optional array of strings, joined with ", " into *@out. */
static int get_opt_list(struct reader *r, json_t *obj, const char *name,
                        char **out)
{
    json_t *v = json_object_get(obj, name), *item;
    size_t i, len = 0;
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_array(v)) {
        return fail_at(r, 0, "field \"%s\": expected an array of names",
                       name);
    }
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            return fail_at(r, 0, "field \"%s[%zu]\": expected a string", name,
                           i);
        }
        len += json_string_length(item) + 2;
    }
    *out = calloc(1, len + 1);
    if (*out == NULL) {
        return -ENOMEM;
    }
    json_array_foreach(v, i, item)
    {
        if (i > 0) {
            strcat(*out, ", ");
        }
        strcat(*out, json_string_value(item));
    }
    return 0;
}

/* Required (or optional, if @dflt is non-NULL) non-negative integer. */
static int get_count(struct reader *r, json_t *obj, const char *name,
                     const int64_t *dflt, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL && dflt != NULL) {
        *out = *dflt;
        return 0;
    }
    if (v == NULL) {
        return fail_at(r, 0, "field \"%s\": missing", name);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fail_at(r, 0, "field \"%s\": expected a non-negative integer",
                       name);
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int parse_header(struct reader *r, json_t *obj)
{
    struct history_header *hd = &r->h->header;
    json_t *v = json_object_get(obj, "format");
    int rv;

    if (!json_is_string(v) ||
        strcmp(json_string_value(v), HEADER_FORMAT) != 0) {
        return fail_at(r, 0, "field \"format\": expected \"%s\"",
                       HEADER_FORMAT);
    }
    /* The version comes first: a newer file may change everything else. */
    v = json_object_get(obj, "version");
    if (v == NULL) {
        return fail_at(r, 0, "field \"version\": missing");
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        return fail_at(r, 0, "field \"version\": expected an integer >= 1");
    }
    if (json_integer_value(v) > HISTORY_FORMAT_VERSION) {
        return fail_at(r, 0,
                       "written by a newer faultline (format version %" PRId64
                       "; this reads up to %d)",
                       (int64_t)json_integer_value(v), HISTORY_FORMAT_VERSION);
    }
    hd->version = (int)json_integer_value(v);

    /* Seeds above INT64_MAX are written as decimal strings. */
    v = json_object_get(obj, "seed");
    if (v == NULL || json_is_null(v)) {
        hd->seed = 0;
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        hd->seed = (uint64_t)json_integer_value(v);
    } else if (json_is_string(v) && json_string_length(v) > 0 &&
               json_string_length(v) <= 20 &&
               strspn(json_string_value(v), "0123456789") ==
                   json_string_length(v)) {
        errno = 0;
        unsigned long long s = strtoull(json_string_value(v), NULL, 10);
        if (errno != 0) {
            return fail_at(r, 0, "field \"seed\": out of range");
        }
        hd->seed = (uint64_t)s;
    } else {
        return fail_at(r, 0, "field \"seed\": expected a non-negative integer");
    }

    hd->line = r->line;
    rv = get_opt_string(r, obj, "scenario", &hd->scenario);
    if (rv == 0) {
        rv = get_opt_string(r, obj, "start_wall", &hd->start_wall);
    }
    if (rv == 0) {
        rv = get_opt_string(r, obj, "system", &hd->system);
    }
    if (rv == 0) {
        rv = get_opt_string(r, obj, "workload", &hd->workload);
    }
    if (rv == 0) {
        rv = get_opt_string(r, obj, "model", &hd->model);
    }
    if (rv == 0) {
        rv = get_opt_string(r, obj, "faultline_version",
                            &hd->faultline_version);
    }
    if (rv == 0) {
        rv = get_opt_list(r, obj, "checkers", &hd->checkers);
    }
    return rv;
}

static const char *const event_fields[] = {
    "index", "time", "process", "type", "f", "key", "value", "error", "node",
};

static int parse_event(struct reader *r, json_t *obj)
{
    struct history *h = r->h;
    struct history_event e;
    const char *name;
    json_t *v;
    int64_t dflt = (int64_t)h->n;
    int rv;

    memset(&e, 0, sizeof e);
    e.line = r->line;

    json_object_foreach(obj, name, v)
    {
        size_t i;
        for (i = 0; i < sizeof event_fields / sizeof event_fields[0]; i++) {
            if (strcmp(name, event_fields[i]) == 0) {
                break;
            }
        }
        if (i == sizeof event_fields / sizeof event_fields[0]) {
            if (strcmp(name, "format") == 0) {
                return fail_at(r, 0,
                               "a header (field \"format\") is only "
                               "allowed on the first line");
            }
            return fail_at(r, 0, "unknown field \"%.64s\"", name);
        }
    }

    rv = get_count(r, obj, "index", &dflt, &e.index);
    if (rv != 0) {
        return rv;
    }
    rv = get_count(r, obj, "time", NULL, &e.time);
    if (rv != 0) {
        return rv;
    }

    v = json_object_get(obj, "process");
    if (v == NULL) {
        return fail_at(r, 0, "field \"process\": missing");
    } else if (json_is_string(v) &&
               strcmp(json_string_value(v), "nemesis") == 0) {
        e.process = HISTORY_NEMESIS;
    } else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
               json_integer_value(v) <= INT_MAX) {
        e.process = (int)json_integer_value(v);
    } else {
        return fail_at(r, 0,
                       "field \"process\": expected a non-negative "
                       "integer or \"nemesis\"");
    }

    v = json_object_get(obj, "type");
    if (v == NULL) {
        return fail_at(r, 0, "field \"type\": missing");
    }
    int type =
        json_is_string(v) ? history_type_parse(json_string_value(v)) : -1;
    if (type < 0) {
        return fail_at(r, 0,
                       "field \"type\": expected one of invoke|ok|fail|info");
    }
    e.type = (enum history_type)type;

    v = json_object_get(obj, "f");
    if (v == NULL) {
        return fail_at(r, 0, "field \"f\": missing");
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof e.f ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return fail_at(r, 0,
                       "field \"f\": expected a non-empty string of at most "
                       "%zu bytes",
                       sizeof e.f - 1);
    }
    memcpy(e.f, json_string_value(v), json_string_length(v) + 1);

    rv = get_opt_string(r, obj, "key", &e.key);
    if (rv == 0) {
        rv = get_opt_string(r, obj, "error", &e.error);
    }
    if (rv == 0) {
        rv = get_opt_string(r, obj, "node", &e.node);
    }
    if (rv == 0) {
        rv = reserve(h);
    }
    if (rv != 0) {
        goto err_clear;
    }
    v = json_object_get(obj, "value");
    e.value = v ? json_incref(v) : json_null();
    h->events[h->n++] = e;
    return 0;

err_clear:
    history_event_clear(&e);
    return rv;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

int history_load(const char *path, struct history *h, struct history_error *err)
{
    struct history_error dummy;
    struct reader r = {.h = h, .err = err ? err : &dummy, .line = 0};
    bool first = true;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    FILE *f;
    int rv = 0;

    history_init(h);
    memset(r.err, 0, sizeof *r.err);
    snprintf(r.err->path, sizeof r.err->path, "%s", path);

    f = fopen(path, "re");
    if (f == NULL) {
        rv = -errno;
        snprintf(r.err->text, sizeof r.err->text, "open: %s", strerror(-rv));
        return rv;
    }

    errno = 0;
    while ((len = getline(&buf, &cap, f)) != -1) {
        bool newline = len > 0 && buf[len - 1] == '\n';
        json_error_t jerr;
        json_t *obj;

        if (r.line == INT_MAX) {
            rv = fail_at(&r, 0, "too many lines");
            goto err_free;
        }
        r.line++;
        if (newline) {
            len--;
        }
        if (len > 0 && buf[len - 1] == '\r') {
            len--;
        }
        if (is_blank(buf, (size_t)len)) {
            continue;
        }
        obj = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL) {
            if (!newline) {
                /* A write cut short by a kill: drop it. */
                h->partial = true;
                break;
            }
            rv = fail_at(&r, jerr.column, "invalid JSON: %s", jerr.text);
            goto err_free;
        }
        if (!json_is_object(obj)) {
            rv = fail_at(&r, 0, "expected a JSON object");
        } else if (first && json_object_get(obj, "format") != NULL) {
            rv = parse_header(&r, obj);
        } else {
            rv = parse_event(&r, obj);
        }
        json_decref(obj);
        if (rv == -ENOMEM) {
            snprintf(r.err->text, sizeof r.err->text, "out of memory");
        }
        if (rv != 0) {
            goto err_free;
        }
        first = false;
        errno = 0;
    }
    if (ferror(f)) {
        rv = errno ? -errno : -EIO;
        r.err->line = 0;
        snprintf(r.err->text, sizeof r.err->text, "read: %s", strerror(-rv));
        goto err_free;
    }
    free(buf);
    fclose(f);
    return 0;

err_free:
    free(buf);
    fclose(f);
    history_close(h);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

struct history_writer {
    int fd;
    int64_t count;
    int error; /* sticky: a failed write may have left half a line */
    char *buf;
    size_t cap;
};

/* Write all of @buf, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Serialize @obj plus a newline into w->buf and write it as one write(2). */
static int write_line(struct history_writer *w, json_t *obj)
{
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t need = json_dumpb(obj, NULL, 0, flags);
    if (need == 0) {
        return -EINVAL;
    }
    if (need + 1 > w->cap) {
        size_t cap = need + 1 > 2 * w->cap ? need + 1 : 2 * w->cap;
        char *b = realloc(w->buf, cap);
        if (b == NULL) {
            return -ENOMEM;
        }
        w->buf = b;
        w->cap = cap;
    }
    if (json_dumpb(obj, w->buf, need, flags) != need) {
        return -EINVAL;
    }
    w->buf[need] = '\n';
    return write_all(w->fd, w->buf, need + 1);
}

/* json_object_set_new that remembers the first failure in *ok. */
static void set(json_t *obj, const char *name, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(obj, name, v) != 0) {
        *ok = false;
    }
}

static json_t *header_to_json(const struct history_header *hd)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    if (!ok) {
        return NULL;
    }
    set(obj, "format", json_string(HEADER_FORMAT), &ok);
    set(obj, "version", json_integer(HISTORY_FORMAT_VERSION), &ok);
    if (hd->scenario != NULL) {
        set(obj, "scenario", json_string(hd->scenario), &ok);
    }
    if (hd->seed <= (uint64_t)INT64_MAX) {
        set(obj, "seed", json_integer((json_int_t)hd->seed), &ok);
    } else {
        char s[24];
        snprintf(s, sizeof s, "%" PRIu64, hd->seed);
        set(obj, "seed", json_string(s), &ok);
    }
    if (hd->start_wall != NULL) {
        set(obj, "start_wall", json_string(hd->start_wall), &ok);
    }
    if (hd->system != NULL) {
        set(obj, "system", json_string(hd->system), &ok);
    }
    if (hd->workload != NULL) {
        set(obj, "workload", json_string(hd->workload), &ok);
    }
    if (hd->checkers != NULL) {
        json_t *a = json_array();
        char buf[256];
        snprintf(buf, sizeof buf, "%s", hd->checkers);
        for (char *save = NULL, *p = strtok_r(buf, ", ", &save); p != NULL;
             p = strtok_r(NULL, ", ", &save)) {
            json_array_append_new(a, json_string(p));
        }
        set(obj, "checkers", a, &ok);
    }
    if (hd->model != NULL) {
        set(obj, "model", json_string(hd->model), &ok);
    }
    if (hd->faultline_version != NULL) {
        set(obj, "faultline_version", json_string(hd->faultline_version),
            &ok);
    }
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* The event as a JSON object, keys in the documented order, or NULL when it
 * can't be written (bad field, invalid UTF-8, no memory). */
static json_t *event_to_json(const struct history_event *e, int64_t index)
{
    json_t *obj;
    bool ok = true;

    if (e->time < 0 || e->process < HISTORY_NEMESIS ||
        (unsigned)e->type >= N_TYPES || memchr(e->f, 0, sizeof e->f) == NULL ||
        e->f[0] == '\0') {
        return NULL;
    }
    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }
    set(obj, "index", json_integer(index), &ok);
    set(obj, "time", json_integer(e->time), &ok);
    if (e->process == HISTORY_NEMESIS) {
        set(obj, "process", json_string("nemesis"), &ok);
    } else {
        set(obj, "process", json_integer(e->process), &ok);
    }
    set(obj, "type", json_string(type_names[e->type]), &ok);
    set(obj, "f", json_string(e->f), &ok);
    if (e->key != NULL) {
        set(obj, "key", json_string(e->key), &ok);
    }
    if (e->value != NULL && !json_is_null(e->value)) {
        set(obj, "value", json_incref(e->value), &ok);
    }
    if (e->error != NULL) {
        set(obj, "error", json_string(e->error), &ok);
    }
    if (e->node != NULL) {
        set(obj, "node", json_string(e->node), &ok);
    }
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

struct history_writer *history_writer_new(const char *path,
                                          const struct history_header *header)
{
    struct history_writer *w;
    json_t *obj;
    int rv;

    w = calloc(1, sizeof *w);
    if (w == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    obj = header_to_json(header);
    if (obj == NULL) {
        rv = -EINVAL;
        goto err_free;
    }
    w->fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rv = -errno;
        goto err_decref;
    }
    rv = write_line(w, obj);
    if (rv != 0) {
        goto err_unlink;
    }
    json_decref(obj);
    return w;

err_unlink:
    /* We created the file (O_EXCL), so removing it touches nothing else. */
    close(w->fd);
    unlink(path);
err_decref:
    json_decref(obj);
err_free:
    free(w->buf);
    free(w);
    errno = -rv;
    return NULL;
}

int history_writer_append(struct history_writer *w, struct history_event *e)
{
    json_t *obj;
    int rv;

    if (w->error != 0) {
        return w->error;
    }
    obj = event_to_json(e, w->count);
    if (obj == NULL) {
        return -EINVAL;
    }
    rv = write_line(w, obj);
    json_decref(obj);
    if (rv == -EINVAL || rv == -ENOMEM) {
        return rv; /* nothing was written */
    }
    if (rv != 0) {
        w->error = rv;
        return rv;
    }
    e->index = w->count++;
    return 0;
}

int64_t history_writer_count(const struct history_writer *w)
{
    return w->count;
}

int history_writer_free(struct history_writer *w)
{
    int rv = 0;
    if (w == NULL) {
        return 0;
    }
    if (close(w->fd) != 0) {
        rv = -errno;
    }
    free(w->buf);
    free(w);
    return rv;
}

void history_retimed_warning(const struct history *h, const char *path,
                             char *buf, size_t size)
{
    buf[0] = '\0';
    if (h->time_back > 0 || h->untimed > 0) {
        int line = h->time_back > 0 ? h->time_back_line : h->untimed_line;
        if (h->untimed > 0 && h->untimed_line < line) {
            line = h->untimed_line;
        }
        snprintf(buf, size,
                 "%s:%d: warning: %zu events' :time went back and %zu had "
                 "none; the file's order is taken as the real-time order "
                 "(as Jepsen does), those events placed 1 ns after the one "
                 "before",
                 path, line, h->time_back, h->untimed);
    }
}
