/* report: anomaly classes, counts and examples, as JSON and one line. */
#include "checker/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int report_init(struct report *r, const char *checker)
{
    memset(r, 0, sizeof *r);
    r->checker = checker;
    r->result = VERDICT_VALID;
    r->info = json_object();
    return r->info != NULL ? 0 : -ENOMEM;
}

void report_close(struct report *r)
{
    for (size_t i = 0; i < r->nclasses; i++) {
        json_decref(r->classes[i].examples);
    }
    json_decref(r->info);
    memset(r, 0, sizeof *r);
}

int report_class(struct report *r, const char *name, bool anomaly)
{
    if (r->nclasses == REPORT_CLASSES) {
        return REPORT_CLASSES - 1; /* a programming error: share the last */
    }
    r->classes[r->nclasses] = (struct report_class){
        .name = name,
        .anomaly = anomaly,
        .examples = json_array(),
    };
    return (int)r->nclasses++;
}

void report_add(struct report *r, int cls, json_t *example)
{
    struct report_class *c = &r->classes[cls];
    c->count++;
    if (example != NULL && c->examples != NULL &&
        json_array_size(c->examples) < REPORT_EXAMPLES) {
        json_array_append(c->examples, example);
    }
    json_decref(example);
}

json_t *report_example(const char *field, const char *value, const char *fmt,
                       ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return json_pack("{s:s,s:s}", field, value, "description", text);
}

void report_fail(struct report *r, int rv, const char *err)
{
    r->result = VERDICT_UNKNOWN;
    snprintf(r->reason, sizeof r->reason, "%s",
             rv == -ENOMEM ? "out of memory" : err);
}

void report_unknown(struct report *r, const char *reason)
{
    if (r->reason[0] == '\0') {
        snprintf(r->reason, sizeof r->reason, "%s", reason);
    }
}

void report_note(struct report *r, const char *text)
{
    snprintf(r->note, sizeof r->note, "%s", text);
}

void report_finish(struct report *r)
{
    r->result = r->reason[0] != '\0' ? VERDICT_UNKNOWN : VERDICT_VALID;
    for (size_t i = 0; i < r->nclasses; i++) {
        if (r->classes[i].anomaly && r->classes[i].count > 0) {
            r->result = VERDICT_INVALID;
        }
    }
}

static void set(json_t *o, const char *name, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, name, v) != 0) {
        *ok = false;
    }
}

json_t *report_to_json(const struct report *r)
{
    json_t *o = json_object(), *counts = json_object(),
           *anomalies = json_object();
    bool ok = o != NULL && counts != NULL && anomalies != NULL;

    if (!ok) {
        json_decref(o);
        json_decref(counts);
        json_decref(anomalies);
        return NULL;
    }
    set(o, "valid",
        r->result == VERDICT_VALID     ? json_true()
        : r->result == VERDICT_INVALID ? json_false()
                                       : json_string("unknown"),
        &ok);
    set(o, "checker", json_string(r->checker), &ok);
    set(o, "ops", json_integer((json_int_t)r->ops), &ok);
    if (r->reason[0] != '\0') {
        set(o, "reason", json_string(r->reason), &ok);
    }
    if (r->note[0] != '\0') {
        set(o, "note", json_string(r->note), &ok);
    }
    for (size_t i = 0; i < r->nclasses; i++) {
        const struct report_class *c = &r->classes[i];
        set(counts, c->name, json_integer((json_int_t)c->count), &ok);
        if (c->anomaly && c->count > 0) {
            set(anomalies, c->name,
                json_pack("{s:I,s:O}", "count", (json_int_t)c->count,
                          "examples", c->examples),
                &ok);
        }
    }
    for (size_t i = 0; i < r->nclasses; i++) {
        if (r->classes[i].anomaly && r->classes[i].count > 0) {
            set(o, "kind", json_string(r->classes[i].name), &ok);
            break; /* the first anomaly class: what repro compares */
        }
    }
    set(o, "counts", counts, &ok);
    set(o, "anomalies", anomalies, &ok);
    if (r->info != NULL && json_object_update(o, r->info) != 0) {
        ok = false;
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* "40 ok, 2 unknown": every class with members, anomalies or not. */
static size_t counts_text(const struct report *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->nclasses && used < size; i++) {
        if (r->classes[i].count > 0) {
            used += (size_t)snprintf(buf + used, size - used, "%s%zu %s",
                                     used ? ", " : "", r->classes[i].count,
                                     r->classes[i].name);
        }
    }
    if (used == 0) {
        used = (size_t)snprintf(buf, size, "nothing to check");
    }
    return used;
}

void report_summary(const struct report *r, char *buf, size_t size)
{
    char counts[1024];
    size_t used;
    bool lead = true;

    if (size == 0) {
        return;
    }
    used = counts_text(r, counts, sizeof counts);
    if (r->note[0] != '\0' && used < sizeof counts) {
        snprintf(counts + used, sizeof counts - used, "; %s", r->note);
    }
    switch (r->result) {
    case VERDICT_VALID:
        snprintf(buf, size, "valid: %s (%s)", r->checker, counts);
        return;
    case VERDICT_UNKNOWN:
        snprintf(buf, size, "unknown: %s: %s (%s)", r->checker, r->reason,
                 counts);
        return;
    case VERDICT_INVALID:
        break;
    }
    used = (size_t)snprintf(buf, size, "invalid: %s:", r->checker);
    for (size_t i = 0; i < r->nclasses && used < size; i++) {
        const struct report_class *c = &r->classes[i];
        json_t *ex = json_array_get(c->examples, 0);
        const char *d = json_string_value(json_object_get(ex, "description"));
        if (!c->anomaly || c->count == 0) {
            continue;
        }
        used += (size_t)snprintf(
            buf + used, size - used, "%s %zu %s%s%s%s", lead ? "" : ";",
            c->count, c->name, d ? " (first: " : "", d ? d : "", d ? ")" : "");
        lead = false;
    }
    if (r->note[0] != '\0' && used < size) {
        snprintf(buf + used, size - used, "; %s", r->note);
    }
}
