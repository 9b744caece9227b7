/* rpc_bug: a made-up reply from one peer, so that libraft reaches its
 * quorum one real answer short, and a RequestVote rewritten so that the
 * voter's log comparison always favours the candidate (rpc_bug.h).
 *
 * The peer whose replies are made up is the first one this node sends a
 * message to (libraft asks in configuration order): one peer, as the
 * off-by-one in a majority test (votes >= n / 2 for votes > n / 2) lets a
 * node do without one. If that peer leaves the configuration, libraft
 * ignores its replies and the bug falls silent until a restart.
 * - vote-quorum-short: every RequestVote (pre-vote or vote) to that peer
 *   is answered "granted", in the candidate's own term. The peer's real
 *   answer, when one comes, lands in the same slot of libraft's tally.
 * - commit-quorum-short: every AppendEntries to that peer (heartbeats
 *   included) is answered "appended up to prev_log_index + n_entries", as
 *   a leader that advanced a follower's match index when it sent the
 *   entries would believe.
 * The message still goes to the peer. A reply is delivered from a timer
 * of 0 ms, never from inside send(): libraft does not expect to receive
 * while it sends. By then the node may have moved on (another term,
 * another role): libraft ignores a stale reply as it would a late real
 * one.
 * - vote-ignores-log: every RequestVote this node receives claims a last
 *   entry of the candidate's own term at the highest index, so the
 *   election restriction (grant only to a log at least as up to date as
 *   one's own) never refuses; the other rules (one vote a term, a current
 *   leader's stickiness) still apply. */
#include "nodes/taskd/rpc_bug.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/io_wrap.h"

#define ADDRESS_MAX 128

struct phantom {
    struct raft_message msg;
    char address[ADDRESS_MAX];
    struct phantom *next;
};

struct rpc_bug {
    struct io_wrap *w;
    unsigned bugs;
    raft_id peer; /* whose replies are made up: the first peer sent to */
    uv_timer_t timer;
    struct phantom *queue;
    struct phantom **tail;
    raft_io_recv_cb recv;
    int (*start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                 raft_io_recv_cb recv);
    int (*send)(struct raft_io *io, struct raft_io_send *req,
                const struct raft_message *message, raft_io_send_cb cb);
};

static struct rpc_bug *rpc_of(struct raft_io *io)
{
    return io_wrap_of(io)->rpc;
}

static void deliver_cb(uv_timer_t *t)
{
    struct rpc_bug *q = t->data;
    struct phantom *p;

    /* A close from inside recv empties the queue, which ends the loop. */
    while ((p = q->queue) != NULL) {
        q->queue = p->next;
        if (q->queue == NULL) {
            q->tail = &q->queue;
        }
        q->recv(&q->w->io, &p->msg);
        free(p);
    }
}

/* The reply @q makes up for @message, or false when it makes up none. */
static bool make_reply(struct rpc_bug *q, const struct raft_message *m,
                       struct raft_message *reply)
{
    if (m->type == RAFT_IO_REQUEST_VOTE &&
        bug_on(q->bugs, BUG_VOTE_QUORUM_SHORT)) {
        const struct raft_request_vote *rv = &m->request_vote;

        reply->type = RAFT_IO_REQUEST_VOTE_RESULT;
        /* A pre-vote asks in term + 1 and the voter answers in its own
         * term, which is the candidate's. */
        reply->request_vote_result.term =
            rv->pre_vote ? rv->term - 1 : rv->term;
        reply->request_vote_result.vote_granted = true;
        reply->request_vote_result.pre_vote = TO_RAFT_TRIBOOL(rv->pre_vote);
        return true;
    }
    if (m->type == RAFT_IO_APPEND_ENTRIES &&
        bug_on(q->bugs, BUG_COMMIT_QUORUM_SHORT)) {
        const struct raft_append_entries *ae = &m->append_entries;

        reply->type = RAFT_IO_APPEND_ENTRIES_RESULT;
        reply->append_entries_result.term = ae->term;
        reply->append_entries_result.rejected = 0;
        reply->append_entries_result.last_log_index =
            ae->prev_log_index + ae->n_entries;
        return true;
    }
    return false;
}

static int wrap_send(struct raft_io *io, struct raft_io_send *req,
                     const struct raft_message *message, raft_io_send_cb cb)
{
    struct rpc_bug *q = rpc_of(io);
    struct raft_message reply = {0};
    struct phantom *p;
    int rv;

    rv = q->send(io, req, message, cb);
    if (rv != 0) {
        return rv;
    }
    if (q->peer == 0) {
        q->peer = message->server_id;
    }
    if (message->server_id != q->peer || !make_reply(q, message, &reply)) {
        return 0;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return 0; /* a seeded bug may skip a beat */
    }
    p->msg = reply;
    p->msg.server_id = message->server_id;
    snprintf(p->address, sizeof p->address, "%s",
             message->server_address != NULL ? message->server_address : "");
    p->msg.server_address = p->address;
    *q->tail = p;
    q->tail = &p->next;
    uv_timer_start(&q->timer, deliver_cb, 0, 0);
    return 0;
}

static void wrap_recv(struct raft_io *io, struct raft_message *message)
{
    struct rpc_bug *q = rpc_of(io);

    if (message->type == RAFT_IO_REQUEST_VOTE &&
        bug_on(q->bugs, BUG_VOTE_IGNORES_LOG)) {
        struct raft_request_vote *rv = &message->request_vote;

        /* No entry of a voter's log has a term above the candidate's. */
        rv->last_log_term = rv->term;
        rv->last_log_index = UINT64_MAX;
    }
    q->recv(io, message);
}

static int wrap_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                      raft_io_recv_cb recv)
{
    struct rpc_bug *q = rpc_of(io);

    q->recv = recv;
    return q->start(io, msecs, tick, wrap_recv);
}

int rpc_bug_install(struct io_wrap *w, uv_loop_t *loop, unsigned bugs)
{
    struct rpc_bug *q;
    int rv;

    bugs &= BUG_VOTE_QUORUM_SHORT | BUG_COMMIT_QUORUM_SHORT |
            BUG_VOTE_IGNORES_LOG;
    if (bugs == 0 || w->rpc != NULL) {
        return 0;
    }
    q = calloc(1, sizeof *q);
    if (q == NULL) {
        return UV_ENOMEM;
    }
    rv = uv_timer_init(loop, &q->timer);
    if (rv != 0) {
        free(q);
        return rv;
    }
    q->w = w;
    q->bugs = bugs;
    q->timer.data = q;
    q->tail = &q->queue;
    q->start = w->io.start;
    q->send = w->io.send;
    w->io.start = wrap_start;
    w->io.send = wrap_send;
    w->rpc = q;
    return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
    free(h->data);
}

void rpc_bug_close(struct io_wrap *w)
{
    struct rpc_bug *q = w->rpc;
    struct phantom *p;

    if (q == NULL) {
        return;
    }
    while ((p = q->queue) != NULL) {
        q->queue = p->next;
        free(p);
    }
    q->tail = &q->queue;
    w->io.start = q->start;
    w->io.send = q->send;
    w->rpc = NULL;
    uv_close((uv_handle_t *)&q->timer, timer_close_cb);
}
