/* fs: small file-system helpers the runner shares. */
#ifndef FAULTLINE_FS_H
#define FAULTLINE_FS_H

#include <stdbool.h>
#include <stddef.h>

/* Make @path and any missing parents (mode 0755). With @fresh, the last
 * component must not exist yet (-EEXIST otherwise). Returns 0 or -errno. */
int fs_mkdirs(const char *path, bool fresh);

/* Is @dir a run directory holding @file ("history.jsonl")? Returns 0 if
 * so, else -errno with the words every command uses in @err: "DIR: No such
 * file or directory", "DIR: not a directory (expected a run directory)",
 * "DIR/FILE: no such file: not a run directory". A @file that exists but
 * can't be read is left to its reader to say. */
int fs_run_dir(const char *dir, const char *file, char *err, size_t size);

#endif /* FAULTLINE_FS_H */
