/* db: how the runner starts the nodes of one system under test.
 *
 * Jepsen's DB protocol (setup, start, kill, pause...) splits here into what
 * is particular to a system, a command line per node, and what is the same
 * for every system, the processes, which runner/cluster.c runs, kills,
 * pauses and restarts. A new system is a new file implementing this table. */
#ifndef FAULTLINE_DB_H
#define FAULTLINE_DB_H

#include <stddef.h>

#include "runner/scenario.h"

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
    char data_dir[4096];
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

struct db_ops {
    const char *name;
    /* Fill @out with the command that starts node @i of @nodes[0..n). The
     * binary is looked up in @bin_dir. Returns 0 or a negative errno. */
    int (*command)(const struct scenario *s, const char *bin_dir,
                   const struct db_node *nodes, int n, int i,
                   struct db_argv *out);
};

/* The db named @name ("taskd"), or NULL. */
const struct db_ops *db_find(const char *name);

extern const struct db_ops db_taskd;

#endif /* FAULTLINE_DB_H */
