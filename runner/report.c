/* report: find report/report.py beside the faultline binary and run it. */
#include "runner/report.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/msg.h"
#include "runner/sandbox.h"
#include "runner/version.h"

static int find_script(const char *bin_dir, char *path, size_t size)
{
    static const char *const ups[] = {"..", "../../..", "../../../.."};
    for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
        snprintf(path, size, "%s/%s/report/report.py", bin_dir, ups[i]);
        if (access(path, R_OK) == 0) {
            return 0;
        }
    }
    snprintf(path, size, "%s/../report/report.py", bin_dir);
    return -ENOENT;
}

int report_write(const char *bin_dir, const char *run_dir, int log_fd,
                 char *err, size_t errlen)
{
    char script[PATH_MAX + 64];
    const char *python = getenv("FAULTLINE_PYTHON");
    char *argv[4];
    char dummy[1];
    int rv;

    if (err == NULL) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (python == NULL || python[0] == '\0') {
        python = REPORT_PYTHON;
    }
    if (find_script(bin_dir, script, sizeof script) != 0) {
        snprintf(err, errlen, "no report: %s not found", script);
        return -ENOENT;
    }
    if (access(python, X_OK) != 0) {
        rv = -errno;
        snprintf(err, errlen, "no report: %s: %s", python, strerror(-rv));
        return rv;
    }
    /* The page says which faultline wrote it; the script's messages
     * carry the command's prefix ("faultline report: "). */
    setenv("FAULTLINE_VERSION", faultline_version(), 1);
    setenv("FAULTLINE_PREFIX", msg_prefix(), 1);
    argv[0] = (char *)python;
    argv[1] = script;
    argv[2] = (char *)run_dir;
    argv[3] = NULL;
    rv = sandbox_run(argv, log_fd);
    if (rv < 0) {
        snprintf(err, errlen, "no report: running %s: %s", python,
                 strerror(-rv));
    } else if (rv > 0) {
        snprintf(err, errlen, "no report: %s %s exited with status %d%s",
                 python, script, rv, log_fd >= 0 ? " (see runner.log)" : "");
    }
    return rv;
}
