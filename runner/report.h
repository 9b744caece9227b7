/* report: write a run directory's report.html with report/report.py. */
#ifndef FAULTLINE_RUNNER_REPORT_H
#define FAULTLINE_RUNNER_REPORT_H

#include <stddef.h>

/* Where report.py is looked for: @bin_dir/../report/report.py, then up to
 * two folders higher (build/asan/bin is three folders below the tree).
 * The interpreter is /usr/bin/python3, or $FAULTLINE_PYTHON when set (the
 * tests point it at a missing file). */
#define REPORT_PYTHON "/usr/bin/python3"

/* Run report.py on @run_dir (borrowed), writing @run_dir/report.html; its
 * output goes to @log_fd (inherited when -1). Synchronous: not for use
 * while an event loop runs. Returns 0, or a negative errno when python3 or
 * report.py is missing or can't be started, or report.py's exit status
 * (> 0) when it failed; @err (may be NULL) says what went wrong. */
int report_write(const char *bin_dir, const char *run_dir, int log_fd,
                 char *err, size_t errlen);

#endif /* FAULTLINE_RUNNER_REPORT_H */
