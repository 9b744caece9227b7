/* etcd_db: etcd 3.4 (Debian's /usr/bin/etcd) on the db contract (db.h).
 *
 * A static cluster: every node is one member named after it ("n1"), with
 * the whole membership on its command line and --initial-cluster-state new
 * on every start. etcd reads the membership from its data dir once that
 * holds a WAL and ignores the flags, so a restart after a kill or a power
 * cut uses the same command line. Everything durable (WAL, snapshots,
 * bbolt) is under --data-dir = the node's data_dir, where faultfs mounts.
 *
 * etcd is a Go binary: it makes its own syscalls, so libfaketime and
 * libfiu's preloads do not reach it (no DB_CAP_LIBC_TIME, DB_CAP_LIBC_IO):
 * clock and libfiu disk faults are refused for it. It logs plain text on
 * stderr; the leader is whoever acknowledges writes, as the runner sees it
 * (every member acknowledges: followers forward to the leader, so "leader"
 * targets are a guess for etcd). */
#include "nodes/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct etcd_settings {
    char binary[256];
    int election_timeout_ms;
    int heartbeat_ms;
    int snapshot_count;
    bool pre_vote;
};

#define T struct etcd_settings
static const struct setting etcd_fields[] = {
    {"binary", SETTING_STR, SETTING_STR_AT(T, binary), 0, 0, NULL, NULL,
     "the etcd program (Debian's etcd-server: /usr/bin/etcd)"},
    {"election_timeout_ms", SETTING_INT, SETTING_OFF(T, election_timeout_ms),
     0, 50, 60000, NULL, NULL, "--election-timeout"},
    {"heartbeat_ms", SETTING_INT, SETTING_OFF(T, heartbeat_ms), 0, 10, 10000,
     NULL, NULL, "--heartbeat-interval"},
    {"snapshot_count", SETTING_INT, SETTING_OFF(T, snapshot_count), 0, 1, 1e9,
     NULL, NULL, "--snapshot-count: applied entries between snapshots"},
    {"pre_vote", SETTING_BOOL, SETTING_OFF(T, pre_vote), 0, 0, 0, NULL, NULL,
     "--pre-vote (etcd 3.4's default: off)"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void etcd_defaults(void *p)
{
    struct etcd_settings *t = p;
    snprintf(t->binary, sizeof t->binary, "/usr/bin/etcd");
    t->election_timeout_ms = 1000;
    t->heartbeat_ms = 100;
    t->snapshot_count = 10000;
    t->pre_vote = false;
}

static int etcd_validate(const void *p, const char *section, char *err,
                         size_t errlen)
{
    const struct etcd_settings *t = p;
    /* etcd itself refuses an election timeout under 5 heartbeats. */
    if (t->election_timeout_ms < 5 * t->heartbeat_ms) {
        snprintf(err, errlen,
                 "\"%s.election_timeout_ms\": etcd needs at least 5 times "
                 "%s.heartbeat_ms",
                 section, section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table etcd_settings_table = {
    .size = sizeof(struct etcd_settings),
    .defaults = etcd_defaults,
    .fields = etcd_fields,
    .validate = etcd_validate,
};

static int etcd_check(const void *p, const char *bin_dir, char *err,
                      size_t errlen)
{
    const struct etcd_settings *t = p;
    if (access(t->binary, X_OK) != 0) {
        snprintf(err, errlen,
                 "\"db.binary\": %s: %s (Debian's etcd-server installs "
                 "/usr/bin/etcd)",
                 t->binary, strerror(errno));
        return -EINVAL;
    }
    return 0;
}

static int etcd_command(const void *p, const struct db_cluster *c, int i,
                        struct db_argv *out)
{
    const struct etcd_settings *t = p;
    const struct db_node *me = &c->nodes[i];
    char cluster[2048];
    size_t used = 0;
    int rv = 0;

    for (int j = 0; j < c->n && used < sizeof cluster; j++) {
        used += (size_t)snprintf(cluster + used, sizeof cluster - used,
                                 "%s%s=http://%s:%d", j ? "," : "",
                                 c->nodes[j].name, c->nodes[j].host,
                                 c->nodes[j].peer_port);
    }
    if (used >= sizeof cluster) {
        return -ENOSPC;
    }
    out->argc = 0;
    out->used = 0;
    rv |= db_argv_push(out, t->binary);
    rv |= db_argv_pushf(out, "--name=%s", me->name);
    rv |= db_argv_pushf(out, "--data-dir=%s", me->data_dir);
    rv |= db_argv_pushf(out, "--listen-peer-urls=http://%s:%d", me->host,
                        me->peer_port);
    rv |= db_argv_pushf(out, "--initial-advertise-peer-urls=http://%s:%d",
                        me->host, me->peer_port);
    rv |= db_argv_pushf(out, "--listen-client-urls=http://%s:%d", me->host,
                        me->client_port);
    rv |= db_argv_pushf(out, "--advertise-client-urls=http://%s:%d", me->host,
                        me->client_port);
    rv |= db_argv_pushf(out, "--initial-cluster=%s", cluster);
    rv |= db_argv_push(out, "--initial-cluster-state=new");
    rv |= db_argv_push(out, "--initial-cluster-token=faultline");
    rv |= db_argv_pushf(out, "--election-timeout=%d", t->election_timeout_ms);
    rv |= db_argv_pushf(out, "--heartbeat-interval=%d", t->heartbeat_ms);
    rv |= db_argv_pushf(out, "--snapshot-count=%d", t->snapshot_count);
    rv |= db_argv_pushf(out, "--pre-vote=%s", t->pre_vote ? "true" : "false");
    rv |= db_argv_push(out, "--logger=zap");
    rv |= db_argv_push(out, "--log-outputs=stderr");
    return rv != 0 ? -ENOSPC : 0;
}

static const char *const etcd_workloads[] = {"register", "lease", NULL};

const struct db_ops db_etcd = {
    .name = "etcd",
    .description = "etcd 3.4 (Debian's etcd-server), v3 API over its JSON "
                   "gateway",
    .client = "etcd",
    .settings = &etcd_settings_table,
    .caps = DB_CAP_DATA_DIR | DB_CAP_PROCESS,
    .workloads = etcd_workloads,
    .log_format = DB_LOG_TEXT,
    .events = NULL,
    .leader_event = NULL,
    .leaderless = false,
    /* Go's flag package exits 2 on a bad flag; etcd's own configuration
     * errors exit 1, which also covers transient failures, so only 2. */
    .usage_status = 2,
    .check = etcd_check,
    .command = etcd_command,
};
