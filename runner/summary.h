/* summary: what a person reads about a run: its failures by reason (which
 * are the operations' own answers, which are the cluster's unavailability)
 * and its verdict in words (verdict.json's "explanation"). */
#ifndef FAULTLINE_SUMMARY_H
#define FAULTLINE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SUMMARY_REASONS 16 /* distinct reasons kept; the rest are "other" */

/* Why operations failed, counted by their history `error` code. */
struct summary_fails {
    int n;
    char reason[SUMMARY_REASONS][32];
    int64_t count[SUMMARY_REASONS];
    int64_t total;
};

/* What a fail reason says about the system. The same table is in
 * report/runload.py (FAIL_EXPECTED, FAIL_AVAILABILITY); test_summary.sh
 * checks that they agree. */
enum summary_fail_class {
    SUMMARY_FAIL_EXPECTED,     /* the op's own semantics: cas_mismatch... */
    SUMMARY_FAIL_AVAILABILITY, /* not served: not_leader, timeout... */
    SUMMARY_FAIL_OTHER,
};

/* The class of @error's code (the text before a ':'). */
enum summary_fail_class summary_fail_class(const char *error);

/* Count one fail whose error is @error (borrowed; NULL: "no reason"), by
 * its code: the text before a ':' ("timeout: no node accepted the op" is
 * a timeout). */
void summary_fail_add(struct summary_fails *f, const char *error);

/* "cas_mismatch 1790, not_leader 61": at most @max reasons (0: all), the
 * largest first, into @buf ("" when nothing failed). */
void summary_fails_format(const struct summary_fails *f, int max, char *buf,
                          size_t size);

/* The summary's line about failures, when any:
 * "faultline: fail 1851: cas_mismatch 1790, not_leader 61 (expected 1790:
 * the operations' own answers; availability 61: not served)". */
void summary_print_fails(FILE *out, const struct summary_fails *f);

/* Print @run_dir/verdict.json's "explanation" (one plain sentence per
 * anomaly, written there by report/report.py), one "faultline: " line
 * each. Returns the number of sentences printed (0 when there is none). */
int summary_print_explanation(FILE *out, const char *run_dir);

#endif /* FAULTLINE_SUMMARY_H */
