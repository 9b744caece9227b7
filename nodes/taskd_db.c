/* taskd_db: taskd, our task store, on the db contract (nodes/db.h). */
#include "nodes/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct taskd_settings {
    char bug[32]; /* a seeded bug to turn on, or "" */
    int election_timeout_ms;
    int heartbeat_ms;
    int snapshot_threshold;
    int snapshot_trailing;
};

#define T struct taskd_settings
static const struct setting taskd_fields[] = {
    {"bug", SETTING_STR, SETTING_STR_AT(T, bug), 0, 0, NULL, NULL,
     "a seeded bug to switch on (taskd --list-bugs), or \"\""},
    {"election_timeout_ms", SETTING_INT, SETTING_OFF(T, election_timeout_ms),
     0, 50, 60000, NULL, NULL, "Raft election timeout"},
    {"heartbeat_ms", SETTING_INT, SETTING_OFF(T, heartbeat_ms), 0, 10, 10000,
     NULL, NULL, "Raft heartbeat interval"},
    {"snapshot_threshold", SETTING_INT, SETTING_OFF(T, snapshot_threshold), 0,
     1, 1e9, NULL, NULL, "entries between snapshots"},
    {"snapshot_trailing", SETTING_INT, SETTING_OFF(T, snapshot_trailing), 0,
     0, 1e9, NULL, NULL, "entries kept behind a snapshot"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void taskd_defaults(void *p)
{
    struct taskd_settings *t = p;
    t->election_timeout_ms = 1000;
    t->heartbeat_ms = 100;
    t->snapshot_threshold = 1024;
    t->snapshot_trailing = 128;
}

static int taskd_validate(const void *p, const char *section, char *err,
                          size_t errlen)
{
    const struct taskd_settings *t = p;
    if (t->heartbeat_ms >= t->election_timeout_ms) {
        snprintf(err, errlen,
                 "\"%s.heartbeat_ms\": must be below %s.election_timeout_ms",
                 section, section);
        return -EINVAL;
    }
    return 0;
}

static const struct settings_table taskd_settings_table = {
    .size = sizeof(struct taskd_settings),
    .defaults = taskd_defaults,
    .fields = taskd_fields,
    .validate = taskd_validate,
};

/* The bug names come from taskd itself (taskd --list-bugs: a name and a
 * description per line), so the list can't drift from the binary. An older
 * binary without the option is not checked here (it refuses the name at
 * start, exit 2, which stops the run). */
static int taskd_check(const void *p, const char *bin_dir, char *err,
                       size_t errlen)
{
    const struct taskd_settings *t = p;
    char cmd[1200], line[256], names[1024] = "";
    size_t used = 0;
    bool found = false, listed = false;
    FILE *f;

    if (t->bug[0] == '\0') {
        return 0;
    }
    snprintf(cmd, sizeof cmd, "'%s/taskd' --list-bugs 2>/dev/null", bin_dir);
    f = popen(cmd, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\t \n");
        if (len == 0) {
            continue;
        }
        line[len] = '\0';
        listed = true;
        if (strcmp(line, t->bug) == 0) {
            found = true;
        }
        if (used < sizeof names) {
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                     used ? ", " : "", line);
        }
    }
    if (pclose(f) != 0 || !listed || found) {
        return 0;
    }
    snprintf(err, errlen, "\"db.bug\": unknown bug \"%s\" (known: %s)", t->bug,
             names);
    return -EINVAL;
}

static int taskd_command(const void *p, const struct db_cluster *c, int i,
                         struct db_argv *out)
{
    const struct taskd_settings *t = p;
    const struct db_node *me = &c->nodes[i];
    int rv = 0;

    out->argc = 0;
    out->used = 0;
    rv |= db_argv_pushf(out, "%s/taskd", c->bin_dir);
    rv |= db_argv_push(out, "--id");
    rv |= db_argv_pushf(out, "%d", me->id);
    rv |= db_argv_push(out, "--data");
    rv |= db_argv_push(out, me->data_dir);
    rv |= db_argv_push(out, "--raft");
    rv |= db_argv_pushf(out, "%s:%d", me->host, me->peer_port);
    rv |= db_argv_push(out, "--client");
    rv |= db_argv_pushf(out, "%s:%d", me->host, me->client_port);
    /* A member bootstraps with the initial members as voters (on its first
     * start; later its configuration is in its log); a joiner takes every
     * slot as a hint for its not_leader replies and waits to be added. */
    if (me->join) {
        rv |= db_argv_push(out, "--join");
    }
    for (int j = 0; j < c->n; j++) {
        if (!me->join && j >= c->members) {
            continue;
        }
        rv |= db_argv_push(out, "--peer");
        rv |= db_argv_pushf(out, "%d,%s:%d,%s:%d", c->nodes[j].id,
                            c->nodes[j].host, c->nodes[j].peer_port,
                            c->nodes[j].host, c->nodes[j].client_port);
    }
    rv |= db_argv_push(out, "--election-timeout");
    rv |= db_argv_pushf(out, "%d", t->election_timeout_ms);
    rv |= db_argv_push(out, "--heartbeat");
    rv |= db_argv_pushf(out, "%d", t->heartbeat_ms);
    rv |= db_argv_push(out, "--snapshot-threshold");
    rv |= db_argv_pushf(out, "%d", t->snapshot_threshold);
    rv |= db_argv_push(out, "--snapshot-trailing");
    rv |= db_argv_pushf(out, "%d", t->snapshot_trailing);
    if (t->bug[0] != '\0') {
        rv |= db_argv_push(out, "--bug");
        rv |= db_argv_push(out, t->bug);
    }
    return rv != 0 ? -ENOSPC : 0;
}

static const char *const taskd_workloads[] = {"register", "tasks", "queue",
                                              "lease", NULL};

/* Documented in nodes/taskd/README.md ("Events"). */
static const char *const taskd_events[] = {
    "start", "recovered", "stopping", "shutdown", "applied", "term",
    "leader_changed",
    "became_leader", "became_follower", "became_candidate", "became_unavailable",
    "command_applied", "apply_skipped", "snapshot_taken", "snapshot_restored",
    "snapshot_restore_skipped",
    "client_connected", "client_disconnected", "io_error",
    /* protocol events (issue 18) */
    "term_persisted", "vote_persisted", "append_persisted", "truncated",
    "snapshot_install_start", "snapshot_install_end", "commit_advanced",
    /* membership (issue 15) */
    "configuration", "member_added", "member_assigned", "member_removed",
    "transfer_started", "transfer_done",
    NULL};

const struct db_ops db_taskd = {
    .name = "taskd",
    .description = "faultline's task store: libraft 0.15, SQLite, JSON lines",
    .client = "taskd",
    .settings = &taskd_settings_table,
    .caps = DB_CAP_LIBC_TIME | DB_CAP_LIBC_IO | DB_CAP_FIU_POINTS |
            DB_CAP_DATA_DIR | DB_CAP_PROCESS | DB_CAP_MEMBERSHIP,
    .workloads = taskd_workloads,
    .log_format = DB_LOG_EVENTS,
    .events = taskd_events,
    .leader_event = "became_leader",
    .usage_status = 2,
    .check = taskd_check,
    .command = taskd_command,
};
