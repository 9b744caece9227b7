/* report: a checker's verdict as counts of anomaly classes with examples. */
#ifndef FAULTLINE_CHECKER_REPORT_H
#define FAULTLINE_CHECKER_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "checker/verdict.h"

/* Examples kept per class, and classes per report. */
#define REPORT_EXAMPLES 5
#define REPORT_CLASSES  16

struct report_class {
    const char *name; /* static: "lost" */
    bool anomaly;     /* any member makes the verdict invalid */
    size_t count;
    json_t *examples; /* owned array of at most REPORT_EXAMPLES objects */
};

/* What the set, queue and lease checkers say: every element they judge
 * falls in one class; the classes that are anomalies decide the verdict. */
struct report {
    const char *checker; /* static: "set", "queue", "lease" */
    enum verdict_result result;
    char reason[256]; /* why it is unknown (or what stops it being valid) */
    struct report_class classes[REPORT_CLASSES];
    size_t nclasses;
    json_t *info;   /* owned object: other numbers the checker reports */
    char note[512]; /* said after the counts in the summary, or "" */
    size_t ops;     /* client operations read */
};

/* Make @r an empty valid report of @checker (static string). Returns 0 or
 * -ENOMEM. Release with report_close(). */
int report_init(struct report *r, const char *checker);
void report_close(struct report *r);

/* Declare a class (before adding to it); returns its number. */
int report_class(struct report *r, const char *name, bool anomaly);

/* Count one member of class @cls; @example (an object, ownership taken;
 * may be NULL) is kept when fewer than REPORT_EXAMPLES are. Give it a
 * "description" string: the summary quotes the first one. */
void report_add(struct report *r, int cls, json_t *example);

/* An example for report_add(): {@field: @value, "description": the text
 * of @fmt} (strings copied; the text cut at 255 bytes); NULL when out of
 * memory. The set and queue checkers name a "task", lease a "scope". */
json_t *report_example(const char *field, const char *value, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* The checker could not judge the history (@rv: -ENOMEM, or -EINVAL with
 * @err saying why, copied): make @r unknown with that reason. */
void report_fail(struct report *r, int rv, const char *err);

/* Say why the verdict can't be valid without an anomaly (copied). */
void report_unknown(struct report *r, const char *reason);

/* Say @text (copied) in the summary after the counts, and in the JSON as
 * "note": what the counts alone do not say. */
void report_note(struct report *r, const char *text);

/* Set r->result: invalid if an anomaly class has members, else unknown if
 * report_unknown() was called, else valid. */
void report_finish(struct report *r);

/* {"valid": true|false|"unknown", "checker": C, "ops": N,
 *  "counts": {class: n, ...}, "anomalies": {class: {"count": n,
 *  "examples": [...]}, ...} (anomaly classes with members),
 *  "kind": the first anomaly class with members (invalid),
 *  "reason": "..." (unknown), "note": "..." (when set), ...info}; NULL
 *  when out of memory. */
json_t *report_to_json(const struct report *r);

/* One line: "invalid: set: 2 lost (first: ...); 1 phantom (...)",
 * "valid: set (40 ok, 2 unknown)", "unknown: set: REASON (...)"; a note
 * follows the counts ("valid: converge (3 agreed; NOTE)") or ends the
 * line ("invalid: ...; NOTE"). */
void report_summary(const struct report *r, char *buf, size_t size);

#endif /* FAULTLINE_CHECKER_REPORT_H */
