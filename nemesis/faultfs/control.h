/* control: the command channel of a faultfs mount, a Unix stream socket.
 *
 * Protocol: a client connects, writes one command line ("lose-unsynced\n")
 * and reads the reply until the server closes: zero or more lines of
 * detail, then a last line that starts with "ok" or "error: ". Commands:
 *   ping                       ok, when the mount is up
 *   lose-unsynced              roll back every non-durable write and
 *                              directory change (the node must be dead)
 *   torn-write                 the next lose-unsynced keeps a prefix of
 *                              the last non-durable write
 *   fail OP ERRNO [COUNT|PROBABILITY|always] [PATTERN]
 *                              inject errors (nemesis/faultfs/rules.h)
 *   fill [on|off]              ENOSPC for any growth of a file (or not)
 *   clear [rules]              remove every rule, and the full disk
 *                              unless "rules" is given
 *   status                     non-durable bytes per file and directory
 *                              changes, the rules; "ok nondurable=N"
 * One connection is served at a time. A socket path longer than sun_path
 * is reached through its folder (the server binds and the client connects
 * relative to it). */
#ifndef FAULTLINE_FAULTFS_CONTROL_H
#define FAULTLINE_FAULTFS_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "nemesis/faultfs/rules.h"
#include "nemesis/faultfs/tracker.h"

/* Listen on @path (replacing a stale socket) and serve commands for
 * @tracker and @rules (borrowed) on a thread of its own. Returns 0 or
 * -errno, with a message in @err. */
int control_start(const char *path, struct tracker *tracker,
                  struct rules *rules, uint64_t seed, char *err, size_t size);

/* Client side: send @command to the socket at @path and write the reply to
 * @out (a FILE *). Returns 0 when the reply ends in "ok", 1 when it ends in
 * "error", -errno when the server can't be reached. */
int control_send(const char *path, const char *command, void *out);

#endif /* FAULTLINE_FAULTFS_CONTROL_H */
