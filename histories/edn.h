/* edn: a reader for EDN (extensible data notation), the text of Clojure
 * data that Jepsen and Porcupine write histories in. */
#ifndef FAULTLINE_EDN_H
#define FAULTLINE_EDN_H

#include <stddef.h>

#include <jansson.h>

/* Where and why parsing failed: 1-based line and column of the offending
 * character (column counts bytes). */
struct edn_error {
    int line;
    int column;
    char text[160];
};

/* Reads EDN values one after another from a borrowed buffer. */
struct edn_reader {
    const char *s; /* borrowed: the whole text */
    size_t len;
    size_t pos;
    int line;   /* of pos, 1-based */
    size_t bol; /* position of the start of that line */
    int depth;  /* nesting, bounded by EDN_MAX_DEPTH */
};

/* Deeper nesting is an error, not a stack overflow. */
#define EDN_MAX_DEPTH 256

/* Start reading @text (borrowed; @len bytes, need not end in NUL). */
void edn_reader_init(struct edn_reader *r, const char *text, size_t len);

/* Read the next value into *@out as JSON (a new reference):
 *   nil -> null; true/false -> booleans; integers -> integers (an integer
 *   beyond 64 bits is an error); floats -> reals; strings -> strings;
 *   keywords -> strings without the colon (":ok" -> "ok"); symbols and
 *   characters -> strings; vectors, lists and sets -> arrays; maps ->
 *   objects whose keys are the keys' text (keyword without colon, string,
 *   or an integer in decimal); a tagged value (#inst "...") -> the value.
 * Comments (;), commas and #_ discards are skipped.
 * Returns 1 with a value, 0 at the end of the text (nothing but blanks
 * left), or -EINVAL with @err filled (then *@out is NULL), or -ENOMEM. */
int edn_read(struct edn_reader *r, json_t **out, struct edn_error *err);

/* The next character that is not blank or a comment (-1 at the end),
 * without consuming it; edn_reader_skip() consumes it (one bracket, when
 * walking a top-level collection one element at a time). */
int edn_reader_peek(struct edn_reader *r);
void edn_reader_skip(struct edn_reader *r);

/* Where the reader is now: 1-based line and column. */
void edn_reader_where(const struct edn_reader *r, int *line, int *column);

#endif /* FAULTLINE_EDN_H */
