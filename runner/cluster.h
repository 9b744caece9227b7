/* cluster: the node processes of a run: start, signal, restart, stop. */
#ifndef FAULTLINE_CLUSTER_H
#define FAULTLINE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "nodes/db.h"

/* Every node listens on these, at its own address. */
#define CLUSTER_PEER_PORT   7000
#define CLUSTER_CLIENT_PORT 8000

struct cluster_proc;
struct node_events;
struct cluster;

/* A node's environment, being built for one start (see cluster.prepare). */
struct cluster_env {
    char **env;  /* NULL-terminated entries */
    size_t n, max;
    char *buf;   /* storage of the entries we add */
    size_t used, size;
    char preload[1024]; /* LD_PRELOAD, space-separated */
};

/* Add a printf-formatted "NAME=value" to @e. Returns 0 or -ENOSPC. */
int cluster_env_put(struct cluster_env *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add @lib to the node's LD_PRELOAD. Returns 0 or -ENOSPC. */
int cluster_env_preload(struct cluster_env *e, const char *lib);

struct cluster_node {
    struct db_node spec;
    struct cluster *owner;
    struct cluster_proc *proc; /* NULL when not running */
    /* The db's sidecar process (db_ops.sidecar_command), or NULL. It gets
     * the node's signals; a node counts as running by @proc alone. */
    struct cluster_proc *sidecar;
    bool paused;
    bool killed; /* we sent the signal that will end it */
    int starts;  /* times spawned */
    int crashes; /* exits we did not cause */
    uv_timer_t restart_timer;
    /* In the configuration, as the runner last knew it (the initial
     * members, then what the membership faults saw): clients are pointed
     * only at members (cluster_next_member). */
    bool member;
    char role[8]; /* "voter", "standby", "spare"; "" when not a member */
};

struct cluster {
    uv_loop_t *loop;
    const struct db_ops *db;
    const void *db_settings; /* borrowed: the db's own settings */
    char bin_dir[1024];
    int n;
    int members; /* nodes[0..members) form the initial configuration */
    struct cluster_node nodes[DB_MAX_NODES];
    FILE *log;     /* borrowed: the runner's log */
    bool stopping; /* no restarts any more */
    int live;      /* processes spawned and not yet reaped */
    int leader;    /* the node last seen acting as leader, or -1 */
    int handles;   /* uv handles open, for cluster_close */
    /* The nodes' stdout, live: into events.jsonl and to subscribers
     * (runner/node_events.h). */
    struct node_events *events;
    /* A plan being printed (faultline schedule): every node counts as
     * running, and signals, starts and the faults' commands are not
     * carried out (each fault's side effect checks this). */
    bool dry_run;
    /* Called for each node with @env NULL once before its first start,
     * then before every start with its environment being built: what the
     * faults of the run need (mounts, preloads). The cluster knows no
     * fault kind. NULL: nothing to prepare. */
    int (*prepare)(void *arg, struct cluster *c, int i,
                   struct cluster_env *env);
    void *prepare_arg;
    /* Called when node @i exited with the db's usage status (a bad command
     * line or configuration): it is not restarted; the run should stop.
     * @line is the last line of its stderr. May be NULL. */
    void (*on_usage_error)(void *arg, struct cluster *c, int i,
                           const char *line);
    void *usage_arg;
};

/* Prepare @c: node folders under @run_dir/nodes/, addresses in the run's
 * network (runner/netns.h; netns_setup must have run).
 * @db, @db_settings and @log are borrowed and must outlive @c. Returns 0 or a negative
 * errno (with a message on @log). */
int cluster_init(struct cluster *c, uv_loop_t *loop, const struct db_ops *db,
                 const void *db_settings, int nodes, const char *bin_dir,
                 const char *run_dir, FILE *log);

/* A cluster of @nodes with addresses and folders as a run under
 * @run_dir would have, for a dry run (see dry_run): nothing is created. */
void cluster_init_dry(struct cluster *c, const struct db_ops *db,
                      const void *db_settings, int nodes, const char *run_dir);

/* Make nodes[0..@members) the initial configuration (voters) and the
 * others slots that start only as joiners (db_node.join), started by a
 * membership fault. cluster_init makes every node a member. */
void cluster_set_members(struct cluster *c, int members);

/* The first node from @from on (wrapping around) that is a member and
 * running; @from itself when there is none. */
int cluster_next_member(const struct cluster *c, int from);

/* Run the preparations that come before the nodes first start (prepare
 * with env NULL, then the db's setup) for every node. Set c->prepare
 * first. Returns 0 or a negative errno (with a message on the log). */
int cluster_prepare(struct cluster *c);

/* Spawn node @i if it is not running. Returns 0 or a negative errno. */
int cluster_start(struct cluster *c, int i);

/* Send @sig to node @i. SIGKILL/SIGTERM mark the exit as ours (no automatic
 * restart); SIGSTOP/SIGCONT track the paused flag. Returns 0, -ESRCH when
 * the node is not running, or a negative errno. */
int cluster_signal(struct cluster *c, int i, int sig);

bool cluster_running(const struct cluster *c, int i);

/* The pid of node @i's process, or 0 when it is not running. */
int cluster_pid(const struct cluster *c, int i);

/* Number of nodes running. */
int cluster_up(const struct cluster *c);

/* The client address "host:port" of node @i. */
void cluster_client_addr(const struct cluster *c, int i, char *buf,
                         size_t size);

/* The index of the node whose client address is @addr, or -1. */
int cluster_node_of(const struct cluster *c, const char *addr);

/* Stop every node: SIGCONT the paused ones, then @sig to all; no more
 * restarts. Processes are reaped by the loop. */
void cluster_stop(struct cluster *c, int sig);

/* Close the cluster's handles; run the loop afterwards to finish. */
void cluster_close(struct cluster *c);

#endif /* FAULTLINE_CLUSTER_H */
