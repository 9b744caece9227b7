/* config: taskd's command line, parsed and checked. */
#ifndef TASKD_CONFIG_H
#define TASKD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_PEERS 16
#define CONFIG_ADDR_MAX  64 /* "255.255.255.255:65535" fits with room */

/* Returned by config_parse when --help was given. */
#define CONFIG_HELP 1
/* Returned by config_parse when --list-bugs was given. */
#define CONFIG_LIST_BUGS 2

struct config_peer {
    uint64_t id;
    char raft[CONFIG_ADDR_MAX];   /* HOST:PORT of its Raft transport */
    char client[CONFIG_ADDR_MAX]; /* HOST:PORT of its client API */
};

struct config {
    uint64_t id;
    char data_dir[4096];
    char raft[CONFIG_ADDR_MAX];   /* where this node's Raft listens */
    char client[CONFIG_ADDR_MAX]; /* where this node's client API listens */
    struct config_peer peers[CONFIG_MAX_PEERS]; /* includes this node, unless
                                                   join */
    unsigned n_peers;
    bool join; /* --join: no bootstrap; wait to be added to a cluster */
    unsigned election_timeout_ms;
    unsigned heartbeat_ms;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    unsigned request_timeout_ms; /* a client request not done by then gets
                                    a "timeout" error */
    unsigned dedup_window;       /* log entries a request id is kept for */
    unsigned bugs;               /* mask of enum bug */
};

/* Parse @argv into @cfg (which the caller allocates; it is filled with the
 * defaults first). Returns 0, CONFIG_HELP when --help was given,
 * CONFIG_LIST_BUGS when --list-bugs was (the first of the two wins), or -EINVAL
 * with a message naming the offending flag in @err. @argv is borrowed: every
 * string is copied. */
int config_parse(int argc, char *const argv[], struct config *cfg, char *err,
                 size_t errlen);

/* Write the usage text to @out. */
void config_usage(FILE *out);

/* The peer with @id, or NULL. */
const struct config_peer *config_peer(const struct config *cfg, uint64_t id);

/* Split "HOST:PORT" (IPv4 literal host) into @host (size @hostlen) and @port.
 * Returns 0 or -EINVAL. */
int config_split_addr(const char *addr, char *host, size_t hostlen, int *port);

#endif /* TASKD_CONFIG_H */
