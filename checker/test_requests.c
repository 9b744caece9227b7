/* test_requests: pairing, grouping attempts by rid, and the merged history. */
#include "checker/requests.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INV(t, p, f, k, rid)                                                   \
    "{\"time\":" #t ",\"process\":" #p ",\"type\":\"invoke\",\"f\":\"" f       \
    "\",\"key\":\"" k "\",\"value\":{\"rid\":\"" rid "\"}}\n"
#define DONE(t, p, type, f, k, err)                                            \
    "{\"time\":" #t ",\"process\":" #p ",\"type\":\"" type "\",\"f\":\"" f     \
    "\",\"key\":\"" k "\"" err "}\n"

/* info then ok, same rid: one request, ok, called at the first attempt,
 * returned at the ok, on the first attempt's process. */
static void test_requests_groups_retries_by_rid(void)
{
    struct history h, m;
    struct requests r;
    char err[256];
    CHECK(cases_load_text(INV(0, 0, "create", "t1",
                              "a") DONE(5, 0, "info", "create", "t1", "")
                              INV(10, 1, "create", "t1", "a")
                                  DONE(20, 1, "ok", "create", "t1", "")
                                      INV(30, 1, "create", "t2", "b")
                                          DONE(40, 1, "ok", "create", "t2", ""),
                          &h) == 0);
    CHECK(requests_build(&h, &r, err, sizeof err) == 0);
    CHECK(r.nops == 3);
    CHECK(r.nreqs == 2);
    CHECK(r.reqs[0].attempts == 2);
    CHECK(r.reqs[0].outcome == REQUEST_OK);
    CHECK(r.reqs[0].call == 0 && r.reqs[0].ret == 20);
    CHECK(r.reqs[0].fresh_oks == 1);
    CHECK(r.ops[1].req == 0 && r.ops[2].req == 1);
    CHECK(requests_history(&h, &r, NULL, &m) == 0);
    CHECK(m.n == 4);
    CHECK(m.events[0].type == HISTORY_INVOKE && m.events[0].process == 0);
    CHECK(m.events[1].type == HISTORY_OK && m.events[1].time == 20 &&
          m.events[1].process == 0);
    /* t2's request keeps process 1: free by then. */
    CHECK(m.events[2].process == 1);
    history_close(&m);
    requests_free(&r);
    history_close(&h);
}

/* A refusal on a retry is the request's outcome; not_leader is not. */
static void test_requests_refusal_is_the_outcome(void)
{
    struct history h;
    struct requests r;
    char err[256];
    CHECK(cases_load_text(
              INV(0, 0, "create", "t1", "a") DONE(5, 0, "info", "create", "t1",
                                                  "") INV(10, 1, "create", "t1",
                                                          "a")
                  DONE(20, 1, "fail", "create", "t1", ",\"error\":\"exists\"")
                      INV(30, 1, "create", "t2", "b")
                          DONE(40, 1, "info", "create", "t2", "")
                              INV(50, 2, "create", "t2", "b")
                                  DONE(60, 2, "fail", "create", "t2",
                                       ",\"error\":\"not_leader\""),
              &h) == 0);
    CHECK(requests_build(&h, &r, err, sizeof err) == 0);
    CHECK(r.nreqs == 2);
    CHECK(r.reqs[0].outcome == REQUEST_FAILED);
    CHECK(r.reqs[0].refused == 1);
    CHECK(r.reqs[1].outcome == REQUEST_UNKNOWN);
    requests_free(&r);
    history_close(&h);
}

static void test_requests_rejects_unpaired(void)
{
    struct history h;
    struct requests r;
    char err[256] = "";
    CHECK(cases_load_text(INV(0, 0, "create", "t1", "a")
                              INV(1, 0, "create", "t2", "b"),
                          &h) == 0);
    CHECK(requests_build(&h, &r, err, sizeof err) == -EINVAL);
    CHECK(strstr(err, "line 2: process 0 invokes create while its create") !=
          NULL);
    CHECK(r.ops == NULL && r.nops == 0);
    history_close(&h);
}

int main(void)
{
    RUN(test_requests_groups_retries_by_rid);
    RUN(test_requests_refusal_is_the_outcome);
    RUN(test_requests_rejects_unpaired);
    return failures != 0;
}
