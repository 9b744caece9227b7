/* test_lease: the lease checker on case folders and malformed acquires. */
#include "checker/lease.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>

static void test_lease_cases(void)
{
    int count;
    failures += cases_run_report("checker/cases_lease", checker_lease, &count);
    CHECK(count >= 12);
}

static void test_lease_rejects_acquire_without_token(void)
{
    struct history h;
    struct report r;
    CHECK(cases_load_text(
              "{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":"
              "\"acquire\",\"key\":\"s1\",\"value\":{\"rid\":\"a\","
              "\"holder\":\"c0\",\"ttl_ms\":5}}\n"
              "{\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":"
              "\"acquire\",\"key\":\"s1\",\"value\":{\"holder\":\"c0\"}}\n",
              &h) == 0);
    CHECK(checker_lease(&h, &r) == -EINVAL);
    CHECK(r.result == VERDICT_UNKNOWN);
    CHECK(strstr(r.reason, "line 2: ok acquire value") != NULL);
    report_close(&r);
    history_close(&h);
}

int main(void)
{
    RUN(test_lease_cases);
    RUN(test_lease_rejects_acquire_without_token);
    return failures != 0;
}
