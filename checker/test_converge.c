/* test_converge: the convergence checker on case folders and bad digests. */
#include "checker/converge.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void test_converge_cases(void)
{
    int count;
    failures +=
        cases_run_report("checker/cases_converge", checker_converge, &count);
    CHECK(count >= 8);
}

static void test_converge_rejects_digest_without_index(void)
{
    struct history h;
    struct report r;
    CHECK(cases_load_text(
              "{\"time\":0,\"process\":1000000,\"type\":\"invoke\",\"f\":"
              "\"digest\",\"key\":\"n1\"}\n"
              "{\"time\":1,\"process\":1000000,\"type\":\"ok\",\"f\":"
              "\"digest\",\"key\":\"n1\",\"value\":{\"digest\":\"ab\"}}"
              "\n",
              &h) == 0);
    CHECK(checker_converge(&h, &r) == -EINVAL);
    CHECK(r.result == VERDICT_UNKNOWN);
    CHECK(strstr(r.reason, "line 2: ok digest value") != NULL);
    report_close(&r);
    history_close(&h);
}

int main(void)
{
    RUN(test_converge_cases);
    RUN(test_converge_rejects_digest_without_index);
    return failures != 0;
}
