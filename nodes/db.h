/* db: the contract between faultline and a system under test.
 *
 * Jepsen's DB protocol (setup, start, kill, pause...) splits here into what
 * is particular to a system, described by this table, and what is the same
 * for every system: the processes, which runner/cluster.c spawns, kills,
 * pauses and restarts. A new system is a new file implementing this table
 * plus a client (nodes/client.h), and one line in each registry (db.c,
 * client.c). nodes/README.md is the guide; nodes/taskd_db.c the example.
 *
 * Nothing here knows the runner: a db sees its own settings (the "db"
 * section of a scenario, as its settings table declares it), the nodes'
 * addresses and folders, and writes files and command lines. */
#ifndef FAULTLINE_DB_H
#define FAULTLINE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "plugin/settings.h"

#define DB_MAX_NODES 9
#define DB_MAX_ARGS  64

/* What the runner knows of one node. */
struct db_node {
    int id;          /* 1-based */
    char name[16];   /* "n1" */
    char host[64];   /* address the node listens on */
    char netns[16];  /* its network namespace */
    int peer_port;   /* replication traffic */
    int client_port; /* client API */
    char dir[4096];  /* the node's folder in the run directory */
    char data_dir[4096]; /* its durable state: faultfs mounts here */
    /* DB_CAP_MEMBERSHIP: start as a joiner, with no configuration of its
     * own, waiting to be added (a slot beyond the initial members, or a
     * node whose data was wiped); else start, or bootstrap on the first
     * start, as a member. */
    bool join;
};

/* The cluster as a db sees it (borrowed for the call). */
struct db_cluster {
    const struct db_node *nodes;
    int n;
    /* nodes[0..members) are the initial configuration (every one a voter);
     * the others are slots that start only as joiners (db_node.join). */
    int members;
    const char *bin_dir; /* where faultline's own binaries are */
};

/* Storage for one command line. */
struct db_argv {
    char *argv[DB_MAX_ARGS + 1]; /* NULL-terminated; points into buf */
    int argc;
    char buf[8192];
    size_t used;
};

/* Append @arg to @a (copied). Returns 0, or -ENOSPC when full. */
int db_argv_push(struct db_argv *a, const char *arg);

/* Append a printf-formatted argument. */
int db_argv_pushf(struct db_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* What a system can take. A fault kind names the capabilities it needs
 * (nemesis_ops.needs); a scenario asking for a fault the system lacks is
 * refused before the run, naming both. */
enum db_cap {
    /* Reads the clock through libc: libfaketime's preload moves it. A Go
     * binary makes its own syscalls and does not. */
    DB_CAP_LIBC_TIME = 1u << 0,
    /* Does its file I/O through libc: libfiu's POSIX preload fails it. */
    DB_CAP_LIBC_IO = 1u << 1,
    /* Has taskd-style libfiu points of its own (nodes/taskd/README.md). */
    DB_CAP_FIU_POINTS = 1u << 2,
    /* Keeps every durable byte under db_node.data_dir, so a faultfs
     * mounted there sees all of it. */
    DB_CAP_DATA_DIR = 1u << 3,
    /* Understands SIGSTOP/SIGCONT, SIGKILL and restarts like any process. */
    DB_CAP_PROCESS = 1u << 4,
    /* Changes its membership at run time: its client performs the admin
     * ops add, assign, remove, transfer and members (nodes/client.h), and
     * a node started with db_node.join waits to be added. */
    DB_CAP_MEMBERSHIP = 1u << 5,
};

/* Where a node's stdout goes and what it holds. */
enum db_log_format {
    DB_LOG_EVENTS, /* JSON lines with "event", "time", "mono" (taskd's) */
    DB_LOG_TEXT,   /* plain text: kept, not read */
};

struct db_ops {
    const char *name;
    const char *description; /* one line, for `faultline run --help` */
    /* The client_ops (nodes/client.h) that talks to it. */
    const char *client;
    /* Its keys in a scenario's "db" section ("name" is the scenario's). */
    const struct settings_table *settings;
    unsigned caps;                /* DB_CAP_* */
    const char *const *workloads; /* the workload kinds it serves */
    enum db_log_format log_format; /* of the node's stdout (events.jsonl) */
    /* DB_LOG_EVENTS: the event names its nodes emit (NULL-terminated), which
     * reactive fault rules may name; NULL when it emits none. */
    const char *const *events;
    /* How to find the leader or primary: the event a node emits when it
     * becomes leader (DB_LOG_EVENTS), or NULL. Either way the runner also
     * takes the node that acknowledges a write as leader; a system with no
     * leader concept says so with leaderless = true. */
    const char *leader_event;
    bool leaderless;
    /* The exit status of a node given a bad command line or configuration
     * (0: none): the run stops at once with its stderr instead of
     * restarting the node in a loop. */
    int usage_status;

    /* Check @settings against the system itself before anything starts
     * (e.g. that a seeded bug's name exists, asking the binary in
     * @bin_dir). Write a message naming the key to @err. May be NULL.
     * Returns 0 or -EINVAL. */
    int (*check)(const void *settings, const char *bin_dir, char *err,
                 size_t errlen);
    /* Prepare node @i before its first start: configuration files in
     * nodes[i].dir, anything its data dir needs. May be NULL. Returns 0 or
     * a negative errno with a message in @err. */
    int (*setup)(const void *settings, const struct db_cluster *c, int i,
                 char *err, size_t errlen);
    /* Fill @out with the command that starts node @i (every start, also
     * restarts: it must resume from its data dir). Returns 0 or a negative
     * errno. */
    int (*command)(const void *settings, const struct db_cluster *c, int i,
                   struct db_argv *out);
    /* Fill @out with the command of node @i's second process, a helper
     * that lives beside the node (Redis' Sentinel), or leave it NULL. The
     * runner starts it with the node (after it, same namespace and
     * environment), sends it every signal the node gets (kill, pause,
     * stop) and restarts it after a second when it exits on its own; its
     * stdout and stderr go to nodes/nN/sidecar.log. */
    int (*sidecar_command)(const void *settings, const struct db_cluster *c,
                           int i, struct db_argv *out);
};

/* The db named @name ("taskd"), or NULL. */
const struct db_ops *db_find(const char *name);

/* The names of every db, comma-separated, for messages. */
const char *db_names(void);

/* What the capabilities in @caps mean, in words ("reads the clock through
 * libc (libfaketime)", joined with "and"). */
const char *db_cap_text(unsigned caps);

/* True when @db serves the workload kind @workload. */
bool db_serves(const struct db_ops *db, const char *workload);

#endif /* FAULTLINE_DB_H */
