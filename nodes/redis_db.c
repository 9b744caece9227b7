/* redis_db: Redis 7 with Sentinel on the db contract (nodes/db.h).
 *
 * Each node runs a redis-server (its command) and a redis-sentinel (its
 * sidecar) in its own network namespace. Node 1 starts as the primary and
 * the others as its replicas; every Sentinel watches the primary with a
 * small quorum, a down-after of about a second and a failover timeout of a
 * few seconds, so that failovers happen inside a run. From then on the
 * configuration is Redis' own: Sentinel rewrites both files (a failover
 * points replicas at the new primary with CONFIG REWRITE), and a node
 * started again reads them back, as a restarted server would.
 *
 * What is where: redis.conf and sentinel.conf in the node's folder; the
 * AOF (appendonlydir/) and RDB in data_dir, under faultfs when the scenario
 * cuts power; redis-server logs to stderr (stderr.log), Sentinel to
 * sidecar.log. */
#include "nodes/db.h"
#include "nodes/redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fsync_allowed(const char *v)
{
    static const char *const modes[] = {"everysec", "always", "no", NULL};
    return settings_in_list(modes, v);
}

static const char *fsync_known(void)
{
    return "everysec, always, no";
}

#define T struct redis_settings
static const struct setting redis_fields[] = {
    {"appendfsync", SETTING_STR, SETTING_STR_AT(T, appendfsync), 0, 0,
     fsync_allowed, fsync_known,
     "when the AOF is fsynced: everysec (Redis' default), always, no"},
    {"wait_replicas", SETTING_INT, SETTING_OFF(T, wait_replicas), 0, 0,
     DB_MAX_NODES - 1, NULL, NULL,
     "after every write the client sends WAIT for this many replicas "
     "(0: no WAIT); fewer acks make the op info"},
    {"wait_ms", SETTING_INT, SETTING_OFF(T, wait_ms), 0, 1, 60000, NULL, NULL,
     "WAIT's timeout"},
    {"min_replicas", SETTING_INT, SETTING_OFF(T, min_replicas), 0, 0,
     DB_MAX_NODES - 1, NULL, NULL,
     "min-replicas-to-write: the primary refuses writes with fewer "
     "replicas in reach (0: off, Redis' default)"},
    {"quorum", SETTING_INT, SETTING_OFF(T, quorum), 0, 1, DB_MAX_NODES, NULL,
     NULL, "Sentinels that must agree the primary is down"},
    {"down_after_ms", SETTING_INT, SETTING_OFF(T, down_after_ms), 0, 100,
     600000, NULL, NULL, "Sentinel's down-after-milliseconds"},
    {"failover_timeout_ms", SETTING_INT, SETTING_OFF(T, failover_timeout_ms),
     0, 500, 3600000, NULL, NULL, "Sentinel's failover-timeout"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void redis_defaults(void *p)
{
    struct redis_settings *r = p;
    snprintf(r->appendfsync, sizeof r->appendfsync, "everysec");
    r->wait_replicas = 0;
    r->wait_ms = 100;
    r->min_replicas = 0;
    r->quorum = 2;
    r->down_after_ms = 1000;
    r->failover_timeout_ms = 3000;
}

static const struct settings_table redis_settings_table = {
    .size = sizeof(struct redis_settings),
    .defaults = redis_defaults,
    .fields = redis_fields,
};

/* Both programs come from Debian (redis-server, redis-sentinel). */
static int redis_check(const void *p, const char *bin_dir, char *err,
                       size_t errlen)
{
    static const char *const progs[] = {"redis-server", "redis-sentinel",
                                        NULL};
    for (int i = 0; progs[i] != NULL; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", progs[i]);
        if (system(cmd) != 0) {
            snprintf(err, errlen,
                     "\"db.name\": redis needs %s (Debian package %s; "
                     "make deps installs it)",
                     progs[i], progs[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static int write_file(const char *dir, const char *name, const char *text,
                      char *err, size_t errlen)
{
    char path[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        int e = errno;
        snprintf(err, errlen, "write %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

static int redis_setup(const void *p, const struct db_cluster *c, int i,
                       char *err, size_t errlen)
{
    const struct redis_settings *s = p;
    const struct db_node *me = &c->nodes[i], *first = &c->nodes[0];
    char conf[8192];
    int n, rv;

    n = snprintf(conf, sizeof conf,
                 "# faultline node %s (nodes/redis_db.c)\n"
                 "bind %s\nport %d\nprotected-mode no\ndaemonize no\n"
                 "logfile /dev/stderr\ndir %s\n"
                 "appendonly yes\nappendfsync %s\n"
                 "min-replicas-to-write %d\nmin-replicas-max-lag 10\n",
                 me->name, me->host, me->client_port, me->data_dir,
                 s->appendfsync, s->min_replicas);
    if (i > 0) {
        n += snprintf(conf + n, sizeof conf - (size_t)n, "replicaof %s %d\n",
                      first->host, first->client_port);
    }
    rv = write_file(me->dir, "redis.conf", conf, err, errlen);
    if (rv != 0) {
        return rv;
    }
    snprintf(conf, sizeof conf,
             "# faultline node %s (nodes/redis_db.c)\n"
             "bind %s\nport %d\nprotected-mode no\ndaemonize no\n"
             "logfile \"\"\ndir %s\n"
             "sentinel monitor %s %s %d %d\n"
             "sentinel down-after-milliseconds %s %d\n"
             "sentinel failover-timeout %s %d\n"
             "sentinel parallel-syncs %s 1\n"
             "sentinel myid %040x\n",
             me->name, me->host, me->client_port + REDIS_SENTINEL_PORT_OFFSET,
             me->dir, REDIS_MASTER_NAME, first->host, first->client_port,
             s->quorum, REDIS_MASTER_NAME, s->down_after_ms, REDIS_MASTER_NAME,
             s->failover_timeout_ms, REDIS_MASTER_NAME, (unsigned)me->id);
    /* The replicas and the other Sentinels, as a deployment's rewritten
     * sentinel.conf lists them: otherwise a Sentinel learns of replicas at
     * its next INFO of the primary (every 10 s) and a failover in the first
     * seconds finds "no good slave". */
    n = (int)strlen(conf);
    for (int j = 0; j < c->n; j++) {
        const struct db_node *o = &c->nodes[j];
        if (j > 0) {
            n += snprintf(conf + n, sizeof conf - (size_t)n,
                          "sentinel known-replica %s %s %d\n",
                          REDIS_MASTER_NAME, o->host, o->client_port);
        }
        if (j != i) {
            n += snprintf(conf + n, sizeof conf - (size_t)n,
                          "sentinel known-sentinel %s %s %d %040x\n",
                          REDIS_MASTER_NAME, o->host,
                          o->client_port + REDIS_SENTINEL_PORT_OFFSET,
                          (unsigned)o->id);
        }
    }
    return write_file(me->dir, "sentinel.conf", conf, err, errlen);
}

static int redis_command(const void *p, const struct db_cluster *c, int i,
                         struct db_argv *out)
{
    int rv = db_argv_push(out, "redis-server");
    rv |= db_argv_pushf(out, "%s/redis.conf", c->nodes[i].dir);
    return rv != 0 ? -ENOSPC : 0;
}

static int sentinel_command(const void *p, const struct db_cluster *c, int i,
                            struct db_argv *out)
{
    int rv = db_argv_push(out, "redis-sentinel");
    rv |= db_argv_pushf(out, "%s/sentinel.conf", c->nodes[i].dir);
    return rv != 0 ? -ENOSPC : 0;
}

static const char *const redis_workloads[] = {"register", "tasks", "queue",
                                              NULL};

const struct db_ops db_redis = {
    .name = "redis",
    .description = "Redis 7 with Sentinel: a primary, replicas, failover",
    .client = "redis",
    .settings = &redis_settings_table,
    /* No DB_CAP_LIBC_TIME: Debian's redis-server is linked with jemalloc,
     * whose start calls clock_gettime inside libfaketime's own start
     * ("Cannot recover from unexpected recursive calls to
     * clock_gettime()"), and the server never comes up. A clock fault is
     * refused before the run instead of failing it. */
    .caps = DB_CAP_LIBC_IO | DB_CAP_DATA_DIR | DB_CAP_PROCESS,
    .workloads = redis_workloads,
    .log_format = DB_LOG_TEXT,
    /* redis-server exits 1 on a bad configuration, and also on fatal
     * errors a restart may get past (an AOF it can't open after a power
     * cut): restart it as a supervisor would, never stop the run. */
    .usage_status = 0,
    .check = redis_check,
    .setup = redis_setup,
    .command = redis_command,
    .sidecar_command = sentinel_command,
};
