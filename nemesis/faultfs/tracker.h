/* tracker: which writes and directory changes under a faultfs mount are
 * durable, and how to roll back the rest, as after a power loss.
 *
 * The model. The backing files are the "volatile" view: what a process sees
 * before a crash (the page cache). The durable view is kept as a difference
 * from it:
 *   - per file (by inode): the size at the last sync (durable_size) and an
 *     undo log: before a non-durable write, truncate or hole punch changes
 *     bytes below durable_size, their current content is saved. Rolling
 *     back replays the undo log newest first, then cuts the file to
 *     durable_size. Bytes written past durable_size need no saving: the cut
 *     removes them.
 *   - per mount: a journal of non-durable directory changes (create, mkdir,
 *     unlink, rmdir, rename). An unlinked or replaced file is moved into a
 *     stash directory instead of being removed, so that rolling back (newest
 *     first) can put it back.
 * What makes things durable:
 *   - fsync or fdatasync of a file: all of its data and its size (both
 *     calls are treated alike).
 *   - a write through a handle opened with O_SYNC or O_DSYNC: the bytes of
 *     that write, and the file's size (as fdatasync makes a size change
 *     durable: it is needed to read the data back). Bytes within that size
 *     that were not written durably (a gap before the write, fallocated or
 *     non-durable bytes after it) read as zeros after a loss.
 *   - fsync of a directory: every journalled change up to the newest one
 *     that touches that directory (as parent of a name; a rename touches
 *     both parents). Earlier changes elsewhere commit with it, as a
 *     journalling file system commits metadata in order; this keeps the
 *     journal a suffix that can be undone step by step.
 * Limits: a new file's name is not durable until its directory is synced,
 * even if the file's data is (stricter than ext4, which commits the name
 * with the file's fsync in practice); mmap'd writes reach us only when the
 * kernel writes the pages back; chmod/chown/utimes, xattrs and links made
 * durable by other paths are not tracked (always durable); a write racing a
 * sync of the same file may count as durable; torn writes keep a prefix of
 * the last non-durable write only. Files present before the mount, and
 * never written, are durable.
 *
 * Every path is relative to the backing root ("a/b", "." for the root).
 * Thread-safe: one lock for the tables, one per tracked file. */
#ifndef FAULTLINE_FAULTFS_TRACKER_H
#define FAULTLINE_FAULTFS_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tracker;

/* A tracker for the tree under @root_fd, stashing removed files in
 * @stash_fd, a directory on the same file system (both borrowed; they must
 * outlive the tracker). NULL when out of memory. */
struct tracker *tracker_new(int root_fd, int stash_fd);
void tracker_free(struct tracker *t);

/* With @on false, fsync and fdatasync update the model without reaching
 * the backing disk (the model alone says what survives a simulated loss;
 * a real crash of the machine may then lose more). Default: on. */
void tracker_set_real_sync(struct tracker *t, bool on);

/* File data. @fd is an open backing file, @ino its inode, @path its name
 * (copied, for status only). Each performs the call on @fd and records it;
 * returns what the call returns, or -errno. */

/* pwrite(@fd, @buf, @len, @off); @sync when the handle is O_SYNC/O_DSYNC. */
ssize_t tracker_write(struct tracker *t, int fd, ino_t ino, const char *path,
                      const void *buf, size_t len, off_t off, bool sync);
/* ftruncate(@fd, @size). */
int tracker_truncate(struct tracker *t, int fd, ino_t ino, const char *path,
                     off_t size);
/* fallocate(@fd, @mode, @off, @len). */
int tracker_fallocate(struct tracker *t, int fd, ino_t ino, const char *path,
                      int mode, off_t off, off_t len);
/* fsync/fdatasync(@fd): everything written to @ino becomes durable. */
int tracker_sync(struct tracker *t, int fd, ino_t ino, bool datasync);

/* Directory changes, performed on the backing tree and journalled. */

/* Record that @path was just created (a file, node, symlink or link; a
 * directory when @dir). */
int tracker_created(struct tracker *t, const char *path, bool dir);
int tracker_unlink(struct tracker *t, const char *path);
int tracker_rmdir(struct tracker *t, const char *path);
/* renameat2 with @flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int tracker_rename(struct tracker *t, const char *from, const char *to,
                   unsigned flags);
/* fsync(@fd), the directory @path: its journalled changes become durable. */
int tracker_syncdir(struct tracker *t, int fd, const char *path);

/* Roll back every non-durable write and directory change. With @torn, the
 * last non-durable write keeps a prefix (whole 512-byte sectors when it is
 * longer than one; its length drawn from @seed) instead of vanishing.
 * Writes a one-line summary into @buf: "files=F restored=R cut=C dirops=D
 * torn=PATH:OFFSET+KEPT/LEN" (R bytes written back to their durable
 * content, zeros included; C bytes cut off past the durable sizes, most of
 * them fallocated space; D directory changes undone). Returns 0 or -errno (the
 * first failure; the rest is still rolled back). Callers make sure nothing
 * writes meanwhile (the node is dead). */
int tracker_lose_unsynced(struct tracker *t, bool torn, uint64_t seed,
                          char *buf, size_t size);

/* Non-durable state, one line per file ("file PATH ino=I nondurable=B
 * durable_size=D size=S") and per journalled change ("dir OP PATH [PATH]"),
 * into @buf (cut to @size). Returns the number of non-durable bytes. */
uint64_t tracker_status(struct tracker *t, char *buf, size_t size);

#endif /* FAULTLINE_FAULTFS_TRACKER_H */
