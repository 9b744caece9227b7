/* check_many: many histories in one process, one line each and a summary. */
#ifndef FAULTLINE_CHECK_MANY_H
#define FAULTLINE_CHECK_MANY_H

#include <stdbool.h>

#include "runner/check.h"

/* Should `faultline check` with these @n paths (borrowed) check many: more
 * than one path, or a directory that is not a run directory (it has no
 * history.jsonl)? */
bool check_many_wanted(char *const *paths, int n);

/* Check every history of @paths: files as they are, directories that are
 * not run directories by their regular files (sorted by name, not
 * recursive), run directories as one history (their verdict.json is
 * rewritten, their report is not). Prints one line per history ("PATH:
 * SUMMARY") and a summary line, or with @json one object: {"histories":
 * [{"path", "code", "valid", "seconds", "summary", "verdict"}...],
 * "counts": {...}, "seconds"}. @files_at_once histories are checked at once,
 * each in a child process on one thread (0 or 1: one after the other, each
 * with o->threads). Returns 1 if any history is invalid, else 2 if any is
 * unknown, else 3 if any could not be read, else 0; 4 on a harness
 * failure. */
int check_many(char *const *paths, int n, const struct check_options *o,
               bool json, int files_at_once);

#endif /* FAULTLINE_CHECK_MANY_H */
