/* fs: small file-system helpers the runner shares. */
#include "runner/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int fs_mkdirs(const char *path, bool fresh)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        return -ENAMETOOLONG;
    }
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && (fresh || errno != EEXIST)) {
        return -errno;
    }
    return 0;
}

int fs_run_dir(const char *dir, const char *file, char *err, size_t size)
{
    char path[PATH_MAX + 64];
    struct stat st;

    if (stat(dir, &st) != 0) {
        snprintf(err, size, "%s: %s", dir, strerror(errno));
        return -ENOENT;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, size, "%s: not a directory (expected a run directory)",
                 dir);
        return -ENOTDIR;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (stat(path, &st) != 0 && errno == ENOENT) {
        snprintf(err, size, "%s: no such file: not a run directory", path);
        return -ENOENT;
    }
    return 0;
}
