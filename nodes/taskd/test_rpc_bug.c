/* test_rpc_bug: the message bugs around raft_io (rpc_bug.c) over a fake
 * transport that records what is sent, on a real libuv loop (the made-up
 * replies come from a timer). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "nodes/taskd/bug.h"
#include "nodes/taskd/io_wrap.h"
#include "test/unit.h"

#define MAX_SEEN 8

static struct {
    int n_sent;
    raft_io_recv_cb recv; /* what the backend was given by start() */
} fake;

/* What reached "libraft": the messages delivered to its recv callback. */
static struct {
    int n;
    struct raft_message msg[MAX_SEEN];
    char address[MAX_SEEN][64];
} got;

static int fake_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                      raft_io_recv_cb recv)
{
    fake.recv = recv;
    return 0;
}

static int fake_send(struct raft_io *io, struct raft_io_send *req,
                     const struct raft_message *message, raft_io_send_cb cb)
{
    fake.n_sent++;
    return 0;
}

static void fake_close(struct raft_io *io, raft_io_close_cb cb)
{
}

static void raft_recv(struct raft_io *io, struct raft_message *msg)
{
    if (got.n < MAX_SEEN) {
        got.msg[got.n] = *msg;
        snprintf(got.address[got.n], sizeof got.address[0], "%s",
                 msg->server_address);
        got.msg[got.n].server_address = got.address[got.n];
        got.n++;
    }
}

static void setup(struct io_wrap *w, uv_loop_t *loop, unsigned bugs)
{
    memset(&fake, 0, sizeof fake);
    memset(&got, 0, sizeof got);
    memset(w, 0, sizeof *w);
    w->io.start = fake_start;
    w->io.send = fake_send;
    w->io.close = fake_close;
    uv_loop_init(loop);
    io_wrap_install(w, NULL, NULL);
    io_wrap_set_bugs(w, loop, bugs);
    w->io.start(&w->io, 100, NULL, raft_recv);
}

static void teardown(struct io_wrap *w, uv_loop_t *loop)
{
    w->io.close(&w->io, NULL);
    uv_run(loop, UV_RUN_DEFAULT); /* the timer's close */
    uv_loop_close(loop);
}

static struct raft_message vote_request(raft_id to, raft_term term,
                                        bool pre_vote)
{
    struct raft_message m = {.type = RAFT_IO_REQUEST_VOTE,
                             .server_id = to,
                             .server_address = "127.0.0.1:900"};

    m.request_vote.term = term;
    m.request_vote.candidate_id = 1;
    m.request_vote.last_log_index = 40;
    m.request_vote.last_log_term = 3;
    m.request_vote.pre_vote = pre_vote;
    return m;
}

static struct raft_message append(raft_id to, raft_term term,
                                  raft_index prev, unsigned n)
{
    struct raft_message m = {.type = RAFT_IO_APPEND_ENTRIES,
                             .server_id = to,
                             .server_address = "127.0.0.1:901"};

    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.n_entries = n;
    return m;
}

static void send_msg(struct io_wrap *w, struct raft_message m)
{
    struct raft_io_send req;

    w->io.send(&w->io, &req, &m, NULL);
}

/* A pre-vote (term + 1) and a vote to the first peer are granted in the
 * candidate's term, the next round's included; the other peer's are not;
 * nothing arrives before the loop runs. */
static void test_rpc_bug_vote_quorum_short_grants_one_peer(void)
{
    struct io_wrap w;
    uv_loop_t loop;

    setup(&w, &loop, BUG_VOTE_QUORUM_SHORT);
    send_msg(&w, vote_request(2, 6, true));
    send_msg(&w, vote_request(3, 6, true));
    CHECK(fake.n_sent == 2 && got.n == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(got.n == 1);
    CHECK(got.msg[0].type == RAFT_IO_REQUEST_VOTE_RESULT);
    CHECK(got.msg[0].server_id == 2);
    CHECK(strcmp(got.msg[0].server_address, "127.0.0.1:900") == 0);
    CHECK(got.msg[0].request_vote_result.term == 5);
    CHECK(got.msg[0].request_vote_result.vote_granted);
    CHECK(got.msg[0].request_vote_result.pre_vote == raft_tribool_true);
    send_msg(&w, vote_request(3, 6, false));
    send_msg(&w, vote_request(2, 6, false));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(got.n == 2 && got.msg[1].server_id == 2);
    CHECK(got.msg[1].request_vote_result.term == 6);
    CHECK(got.msg[1].request_vote_result.pre_vote == raft_tribool_false);
    /* Appends get no reply under this bug. */
    send_msg(&w, append(2, 6, 10, 1));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(got.n == 2);
    teardown(&w, &loop);
}

static void test_rpc_bug_commit_quorum_short_acks_on_send(void)
{
    struct io_wrap w;
    uv_loop_t loop;

    setup(&w, &loop, BUG_COMMIT_QUORUM_SHORT);
    send_msg(&w, append(3, 4, 10, 3));
    send_msg(&w, append(2, 4, 10, 3));
    send_msg(&w, append(3, 4, 13, 0)); /* a heartbeat */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(fake.n_sent == 3 && got.n == 2);
    CHECK(got.msg[0].type == RAFT_IO_APPEND_ENTRIES_RESULT);
    CHECK(got.msg[0].server_id == 3 && got.msg[1].server_id == 3);
    CHECK(got.msg[0].append_entries_result.term == 4);
    CHECK(got.msg[0].append_entries_result.rejected == 0);
    CHECK(got.msg[0].append_entries_result.last_log_index == 13);
    CHECK(got.msg[1].append_entries_result.last_log_index == 13);
    /* Votes get no reply under this bug. */
    send_msg(&w, vote_request(3, 5, false));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(got.n == 2);
    teardown(&w, &loop);
}

/* Replies not yet delivered at close are dropped (ASan: and freed). */
static void test_rpc_bug_close_drops_pending_replies(void)
{
    struct io_wrap w;
    uv_loop_t loop;

    setup(&w, &loop, BUG_COMMIT_QUORUM_SHORT | BUG_VOTE_QUORUM_SHORT);
    send_msg(&w, append(2, 4, 10, 1));
    send_msg(&w, vote_request(2, 4, false));
    teardown(&w, &loop);
    CHECK(got.n == 0);
}

/* A RequestVote received is rewritten so the candidate's log is never
 * behind; other messages pass unchanged. */
static void test_rpc_bug_vote_ignores_log_rewrites_requests(void)
{
    struct io_wrap w;
    uv_loop_t loop;
    struct raft_message m = vote_request(1, 9, false);
    struct raft_message a = append(1, 9, 20, 0);

    setup(&w, &loop, BUG_VOTE_IGNORES_LOG);
    fake.recv(&w.io, &m);
    fake.recv(&w.io, &a);
    CHECK(got.n == 2);
    CHECK(got.msg[0].request_vote.term == 9);
    CHECK(got.msg[0].request_vote.last_log_term == 9);
    CHECK(got.msg[0].request_vote.last_log_index == UINT64_MAX);
    CHECK(got.msg[1].append_entries.prev_log_index == 20);
    /* It answers nothing itself. */
    send_msg(&w, vote_request(2, 9, false));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(got.n == 2);
    teardown(&w, &loop);
}

/* With none of these bugs, start and send are the backend's own. */
static void test_rpc_bug_none_installs_nothing(void)
{
    struct io_wrap w;
    uv_loop_t loop;

    setup(&w, &loop, BUG_VOTE_NOT_PERSISTED);
    CHECK(w.io.start == fake_start && w.io.send == fake_send);
    CHECK(fake.recv == raft_recv);
    teardown(&w, &loop);
}

int main(void)
{
    RUN(test_rpc_bug_vote_quorum_short_grants_one_peer);
    RUN(test_rpc_bug_commit_quorum_short_acks_on_send);
    RUN(test_rpc_bug_close_drops_pending_replies);
    RUN(test_rpc_bug_vote_ignores_log_rewrites_requests);
    RUN(test_rpc_bug_none_installs_nothing);
    if (failures > 0) {
        printf("test_rpc_bug: %d FAILED\n", failures);
        return 1;
    }
    printf("test_rpc_bug: ok\n");
    return 0;
}
