/* redis: what Redis' db (redis_db.c) and client (redis_client.c) share:
 * where a node's Sentinel listens, the name it monitors, and the settings
 * the client reads (WAIT after writes). */
#ifndef FAULTLINE_REDIS_H
#define FAULTLINE_REDIS_H

/* A node's Sentinel listens beside its redis-server, at the same address:
 * the client finds it from the address it is given, as an application
 * that runs a Sentinel on each of its hosts would. */
#define REDIS_SENTINEL_PORT_OFFSET 1
#define REDIS_MASTER_NAME          "faultline"

struct redis_settings {
    char appendfsync[16];    /* "everysec", "always" or "no" */
    int wait_replicas;       /* WAIT for this many replicas after a write */
    int wait_ms;             /* WAIT's timeout */
    int min_replicas;        /* min-replicas-to-write (0: off) */
    int quorum;              /* Sentinels that must agree the primary is down */
    int down_after_ms;       /* Sentinel's down-after-milliseconds */
    int failover_timeout_ms; /* Sentinel's failover-timeout */
};

#endif /* FAULTLINE_REDIS_H */
