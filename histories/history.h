/* history: the record of a run, one JSON event per line (see FORMAT.md). */
#ifndef FAULTLINE_HISTORY_H
#define FAULTLINE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The format version this code writes and the newest it reads. */
#define HISTORY_FORMAT_VERSION 1

/* The process number of the nemesis (written as the string "nemesis"). */
#define HISTORY_NEMESIS (-1)

enum history_type {
    HISTORY_INVOKE = 0,
    HISTORY_OK,
    HISTORY_FAIL, /* certainly did not happen */
    HISTORY_INFO, /* may or may not have happened */
};

/* One line of a history. */
struct history_event {
    int64_t index;          /* position in the history, from 0 */
    int64_t time;           /* ns since the run started (monotonic clock) */
    int process;            /* client process, or HISTORY_NEMESIS */
    enum history_type type; /* invoke, ok, fail or info */
    char f[32];             /* operation: read, write, cas, kill, start... */
    char *key;              /* owned; NULL when the event has no key */
    json_t *value;          /* owned reference; json_null() when absent */
    char *error;            /* owned; NULL when absent */
    char *node;             /* owned; node that served the op, or NULL */
    int line;               /* line in the file it was read from, or 0 */
};

/* The first line of a history file: what produced it. */
struct history_header {
    int version;      /* format version, HISTORY_FORMAT_VERSION or older */
    char *scenario;   /* owned; scenario name, or NULL */
    uint64_t seed;    /* the run's seed */
    char *start_wall; /* owned; UTC wall time of time 0, ISO 8601, or NULL */
    /* What the run was (each owned, NULL when the file does not say: older
     * histories): the system under test ("taskd"), the workload kind
     * ("tasks"), the checkers that judge it, comma-separated ("set,
     * linearizable"; a JSON array in the file), the linearizability model
     * ("task-record"; null in the file reads as NULL), and the faultline
     * that wrote it. check, shrink and the report judge by them
     * (checker/registry.h). */
    char *system;
    char *workload;
    char *checkers;
    char *model;
    char *faultline_version;
    int line; /* the header's line in the file, or 0 */
};

/* Copy @from's header into @to (which holds nothing yet): strings copied.
 * Returns 0 or -ENOMEM (then @to holds nothing). */
int history_header_copy(struct history_header *to,
                        const struct history_header *from);

/* Free what @hd holds and zero it. */
void history_header_clear(struct history_header *hd);

/* A history read into memory. */
struct history {
    struct history_header header;
    struct history_event *events; /* owned array of n events */
    size_t n;
    size_t cap;
    bool partial; /* the file ended in a truncated line, which was dropped */
    /* Imported Jepsen EDN, whose file order is the real-time order: events
     * whose :time went back, or that had none while others did, were
     * given the previous event's time + 1 ns (histories/import.h). How
     * many, and the first one's line. */
    size_t time_back, untimed;
    int time_back_line, untimed_line;
};

/* "FILE:LINE: 3 events' :time went back ...": one warning line for the
 * events the importer re-timed, or "" when it re-timed none. */
void history_retimed_warning(const struct history *h, const char *path,
                             char *buf, size_t size);

/* Where and why reading failed. */
struct history_error {
    char path[512];
    int line;   /* 1-based line in the file, 0 when not about a line */
    int column; /* 1-based column when known, else 0 */
    char text[256];
};

/* Format "path:line:column: text" (omitting what is unknown) into buf. */
void history_error_format(const struct history_error *err, char *buf,
                          size_t size);

/* A checker's reason for refusing a history at @path, as a history error
 * is said: "line 12: text" (the checkers' words, checker/pairing.h)
 * becomes "path:12: text", anything else "path: text". Into @buf. */
void history_locate(const char *path, const char *reason, char *buf,
                    size_t size);

/* Read the history file at @path into @h (which the caller allocates; it is
 * initialized by this call). A last line without a newline that does not
 * parse is a truncated write: it is dropped and @h->partial is set. Returns 0,
 * or -EINVAL for a malformed line or a future format version (details in
 * @err), or a negative errno when the file can't be read. On failure @h is
 * left empty and need not be closed. */
int history_load(const char *path, struct history *h,
                 struct history_error *err);

/* Free what @h holds. */
void history_close(struct history *h);

/* Make @h an empty history (version HISTORY_FORMAT_VERSION, no events), for
 * building one in memory with history_add(). Free it with history_close(). */
void history_init(struct history *h);

/* Append a copy of @e to @h: strings are copied, a new reference is taken on
 * the value, and the copy's index is set to its position. Returns 0 or
 * -ENOMEM (then @h is unchanged). */
int history_add(struct history *h, const struct history_event *e);

/* Free what @e holds (not @e itself). */
void history_event_clear(struct history_event *e);

/* Name of a type ("invoke", ...), and parse one back (-1 if unknown). */
const char *history_type_name(enum history_type type);
int history_type_parse(const char *name);

/* Appends events to a history file, one whole line per write(2), so that a
 * runner killed at any moment leaves every completed line readable. */
struct history_writer;

/* Create the file at @path (failing if it exists) and write the header line.
 * @header is borrowed. Returns NULL with errno set on failure. */
struct history_writer *history_writer_new(const char *path,
                                          const struct history_header *header);

/* Append @e, assigning e->index from the writer's counter. @e is borrowed.
 * Returns 0 or a negative errno. */
int history_writer_append(struct history_writer *w, struct history_event *e);

/* Number of events written so far. */
int64_t history_writer_count(const struct history_writer *w);

/* Close the file and free @w. Returns 0 or a negative errno from close. */
int history_writer_free(struct history_writer *w);

#endif /* FAULTLINE_HISTORY_H */
