/* taskd_db: the command line that starts one taskd node of a cluster. */
#include "nodes/db.h"
#include "nodes/db_events.h"

#include <errno.h>

static int taskd_command(const struct scenario *s, const char *bin_dir,
                         const struct db_node *nodes, int n, int i,
                         struct db_argv *out)
{
    const struct db_node *me = &nodes[i];
    int rv = 0;

    out->argc = 0;
    out->used = 0;
    rv |= db_argv_pushf(out, "%s/taskd", bin_dir);
    rv |= db_argv_push(out, "--id");
    rv |= db_argv_pushf(out, "%d", me->id);
    rv |= db_argv_push(out, "--data");
    rv |= db_argv_push(out, me->data_dir);
    rv |= db_argv_push(out, "--raft");
    rv |= db_argv_pushf(out, "%s:%d", me->host, me->peer_port);
    rv |= db_argv_push(out, "--client");
    rv |= db_argv_pushf(out, "%s:%d", me->host, me->client_port);
    for (int j = 0; j < n; j++) {
        rv |= db_argv_push(out, "--peer");
        rv |= db_argv_pushf(out, "%d,%s:%d,%s:%d", nodes[j].id, nodes[j].host,
                            nodes[j].peer_port, nodes[j].host,
                            nodes[j].client_port);
    }
    rv |= db_argv_push(out, "--election-timeout");
    rv |= db_argv_pushf(out, "%d", s->db.election_timeout_ms);
    rv |= db_argv_push(out, "--heartbeat");
    rv |= db_argv_pushf(out, "%d", s->db.heartbeat_ms);
    rv |= db_argv_push(out, "--snapshot-threshold");
    rv |= db_argv_pushf(out, "%d", s->db.snapshot_threshold);
    rv |= db_argv_push(out, "--snapshot-trailing");
    rv |= db_argv_pushf(out, "%d", s->db.snapshot_trailing);
    if (s->db.bug[0] != '\0') {
        rv |= db_argv_push(out, "--bug");
        rv |= db_argv_push(out, s->db.bug);
    }
    return rv != 0 ? -ENOSPC : 0;
}

const struct db_ops db_taskd = {
    .name = "taskd",
    .command = taskd_command,
};

/* The node events taskd writes on stdout (nodes/taskd/README.md, "Events"),
 * which reactive nemesis rules may name ("on"). The Raft-layer ones after
 * the blank line come with taskd's Raft-event work (term_persisted...);
 * until a taskd emits them, a rule on them never fires. To move onto
 * struct db_ops with the plugin contract. */
const char *const taskd_events[] = {
    "start", "recovered", "term", "became_follower", "became_candidate",
    "became_leader", "leader_changed", "command_applied", "apply_skipped",
    "applied", "snapshot_taken", "snapshot_restored",
    "snapshot_restore_skipped", "client_connected", "client_disconnected",
    "io_error", "stopping", "shutdown",

    "term_persisted", "vote_persisted", "append_persisted", "truncated",
    "snapshot_install_start", "snapshot_install_end", "commit_advanced",
    NULL,
};
