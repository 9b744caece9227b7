/* reply: the bodies of client replies, {"ok":true,...} or
 * {"ok":false,"error":CODE,"message":TEXT,"definite":BOOL}; the API adds the
 * request's "id". The state machine builds them too: an outcome is stored
 * for deduplication exactly as it was first sent. */
#ifndef TASKD_REPLY_H
#define TASKD_REPLY_H

#include <stdbool.h>

#include <jansson.h>
#include <raft.h>

#include "nodes/taskd/config.h"

/* {"ok":true}, or NULL when out of memory. */
json_t *reply_ok(void);

/* {"ok":false,"error":@code,"message":...,"definite":@definite}, the message
 * formatted from @fmt; NULL when out of memory. @code is borrowed. */
json_t *reply_error(const char *code, bool definite, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* not_leader: {"ok":false,"error":"not_leader",...,"definite":true,
 * "leader":ADDR} where ADDR is the client address (from @cfg's --peer
 * list) of the leader @raft knows of, or null (no leader known, or one not
 * in --peer, e.g. a node added at run time; also while this node, still
 * leader, transfers its leadership: libraft then reports no leader and
 * refuses requests). Both borrowed. */
json_t *reply_not_leader(struct raft *raft, const struct config *cfg,
                         const char *state_name);

/* True when @reply says "ok":true. */
bool reply_is_ok(const json_t *reply);

#endif /* TASKD_REPLY_H */
