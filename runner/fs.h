/* fs: small file-system helpers the runner shares. */
#ifndef FAULTLINE_FS_H
#define FAULTLINE_FS_H

#include <stdbool.h>

/* Make @path and any missing parents (mode 0755). With @fresh, the last
 * component must not exist yet (-EEXIST otherwise). Returns 0 or -errno. */
int fs_mkdirs(const char *path, bool fresh);

#endif /* FAULTLINE_FS_H */
