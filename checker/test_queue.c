/* test_queue: the queue checker on case folders and malformed claims. */
#include "checker/queue.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>

static void test_queue_cases(void)
{
    int count;
    failures += cases_run_report("checker/cases_queue", checker_queue, &count);
    CHECK(count >= 12);
}

static void test_queue_rejects_claim_without_clock(void)
{
    struct history h;
    struct report r;
    CHECK(cases_load_text(
              "{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":"
              "\"claim\",\"value\":{\"rid\":\"k\",\"worker\":\"c0\"}}\n"
              "{\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"claim\","
              "\"value\":{\"task\":\"q1\",\"worker\":\"c0\"}}\n",
              &h) == 0);
    CHECK(checker_queue(&h, &r) == -EINVAL);
    CHECK(r.result == VERDICT_UNKNOWN);
    CHECK(strstr(r.reason, "line 2: ok claim value") != NULL);
    report_close(&r);
    history_close(&h);
}

int main(void)
{
    RUN(test_queue_cases);
    RUN(test_queue_rejects_claim_without_clock);
    return failures != 0;
}
