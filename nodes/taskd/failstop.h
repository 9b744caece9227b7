/* failstop: stop the node at once when its storage can't be trusted. */
#ifndef TASKD_FAILSTOP_H
#define TASKD_FAILSTOP_H

/* Write an "io_error" event and a line on stderr, then abort(). A node that
 * lost a write must not keep serving from a state it can no longer vouch
 * for; the Raft log on the other nodes is the way back.
 *
 * @source is the layer ("raft", "sqlite"), @op what was being done
 * ("append", "apply"), @code the dependency's own error code and @message
 * its text (all borrowed; @message may be NULL). */
void failstop(const char *source, const char *op, int code, const char *message)
    __attribute__((noreturn));

#endif /* TASKD_FAILSTOP_H */
