/* command: one client operation, as parsed from a request line and as carried
 * in a Raft log entry (compact JSON, padded to 8 bytes).
 *
 * A request and its log entry use the same field names, so one table of ops
 * (command.c) validates both: {"op":"create","task_id":"t1","payload":{..}}.
 * The log entry adds what the leader decided at submit time: "ts_ms" (its
 * wall clock), "term", "leader" (its node id), "rid" (the client's request
 * id, when given) and, under --bug lost-claim, "pick". */
#ifndef TASKD_COMMAND_H
#define TASKD_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define COMMAND_KEY_MAX     1024        /* key, task_id, scope: bytes, no NUL */
#define COMMAND_NAME_MAX    256         /* worker, holder, rid */
#define COMMAND_STATUS_MAX  64          /* status, expect_status */
#define COMMAND_PAYLOAD_MAX (60 * 1024) /* payload, as compact JSON */
#define COMMAND_MS_MAX      86400000    /* lease_ms, ttl_ms: one day */
#define COMMAND_ALIGN       8 /* encoded length is a multiple of this */

enum command_op {
    COMMAND_NONE = 0,
    /* registers */
    COMMAND_READ,
    COMMAND_WRITE,
    COMMAND_CAS,
    /* tasks */
    COMMAND_CREATE,
    COMMAND_GET,
    COMMAND_UPDATE_STATUS,
    COMMAND_DELETE,
    COMMAND_LIST,
    /* queue */
    COMMAND_ENQUEUE,
    COMMAND_CLAIM,
    COMMAND_ACK,
    COMMAND_NACK,
    /* leases */
    COMMAND_ACQUIRE,
    COMMAND_RELEASE,
    COMMAND_HOLDER,
    /* local, never in the log */
    COMMAND_STATUS,
};

/* Every string is NUL-terminated and owned by the command (command_clear).
 * Fields an op does not use are NULL or 0. */
struct command {
    enum command_op op;
    char *rid; /* client request id; NULL: no deduplication */
    /* Stamped by the leader at submit time (log entries only). */
    int64_t ts_ms;   /* leader's CLOCK_REALTIME, ms since the epoch */
    uint64_t term;   /* leader's term */
    uint64_t leader; /* leader's node id */
    char *pick;      /* --bug lost-claim: the task the leader chose */
    /* Operands. */
    char *key;     /* register key, task_id or lease scope */
    char *payload; /* create, enqueue: compact JSON text */
    char *status;  /* update_status: the new status */
    char *expect_status;
    bool has_expect_version;
    int64_t expect_version;
    char *who; /* worker (claim, ack, nack) or holder (acquire, release) */
    int64_t value, from, to; /* write, cas */
    int64_t ms;              /* claim: lease_ms; acquire: ttl_ms */
};

/* The op named @name, or COMMAND_NONE. */
enum command_op command_op_lookup(const char *name);

/* The name of @op ("create"), or "?". */
const char *command_op_name(enum command_op op);

/* True for the ops that change state (go through the log). */
bool command_op_mutates(enum command_op op);

/* True for the linearizable reads (read, get, list, holder). */
bool command_op_reads(enum command_op op);

/* Fill @c from a client request @req (borrowed): "op", the op's operands
 * and "rid". Unknown fields are ignored. Returns 0, or -EINVAL with a
 * message for the client in @err (naming the field at fault); on failure @c
 * needs no clearing. */
int command_from_request(json_t *req, struct command *c, char *err,
                         size_t errlen);

/* Encode @c (borrowed) for the log into a buffer from @alloc (raft_malloc,
 * or malloc in tests), returned in @out and @len: no NUL, padded with
 * spaces to a multiple of COMMAND_ALIGN, as libraft needs. Returns 0,
 * -EINVAL (@c fails the checks command_from_request makes) or -ENOMEM. */
int command_encode(const struct command *c, void *(*alloc)(size_t), void **out,
                   size_t *len);

/* Decode a log entry into @c: the same checks as command_from_request, plus
 * the leader's stamps. A pure function of the bytes, so that every node
 * decodes an entry the same way. Returns 0, or -EINVAL with the reason in
 * @err (@c then needs no clearing), or -ENOMEM. */
int command_decode(const void *buf, size_t len, struct command *c, char *err,
                   size_t errlen);

/* A 64-bit hash (FNV-1a) of @c's op and operands, not of its rid or the
 * leader's stamps: two requests with the same fingerprint ask for the same
 * thing. Returns 0, -EINVAL (not a mutating op) or -ENOMEM. */
int command_fingerprint(const struct command *c, uint64_t *out);

/* Release what @c owns; @c is then zeroed. */
void command_clear(struct command *c);

#endif /* TASKD_COMMAND_H */
