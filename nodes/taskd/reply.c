/* reply: builders for reply bodies. */
#include "nodes/taskd/reply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

json_t *reply_ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

json_t *reply_error(const char *code, bool definite, const char *fmt, ...)
{
    char message[512];
    json_t *reply;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    reply = json_pack("{s:b, s:s, s:s, s:b}", "ok", 0, "error", code, "message",
                      message, "definite", definite);
    if (reply == NULL) {
        /* A message quoting the client's bytes, cut inside a UTF-8
         * sequence, is not a JSON string. */
        reply =
            json_pack("{s:b, s:s, s:s, s:b}", "ok", 0, "error", code, "message",
                      "(message not valid UTF-8)", "definite", definite);
    }
    return reply;
}

bool reply_is_ok(const json_t *reply)
{
    return json_is_true(json_object_get(reply, "ok"));
}

json_t *reply_not_leader(struct raft *raft, const struct config *cfg,
                         const char *state_name)
{
    const struct config_peer *peer = NULL;
    const char *raft_address;
    raft_id id;
    json_t *body;

    raft_leader(raft, &id, &raft_address);
    if (id != 0) {
        peer = config_peer(cfg, id);
    }
    if (raft_state(raft) == RAFT_LEADER) {
        /* libraft refuses requests while it hands leadership over. */
        body = reply_error("not_leader", true,
                           "node %" PRIu64 " is transferring its leadership",
                           cfg->id);
    } else {
        body = reply_error("not_leader", true,
                           "node %" PRIu64 " is %s, not leader", cfg->id,
                           state_name);
    }
    if (body != NULL) {
        json_object_set_new(body, "leader",
                            peer != NULL ? json_string(peer->client)
                                         : json_null());
    }
    return body;
}
