/* test_set: the task-set checker on case folders and malformed reads. */
#include "checker/set.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>

static void test_set_cases(void)
{
    int count;
    failures += cases_run_report("checker/cases_set", checker_set, &count);
    CHECK(count >= 12);
}

static void test_set_rejects_bad_list_value(void)
{
    struct history h;
    struct report r;
    CHECK(
        cases_load_text("{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":"
                        "\"list\"}\n{\"time\":1,\"process\":0,\"type\":\"ok\","
                        "\"f\":\"list\",\"value\":[{\"task\":\"t1\"}]}\n",
                        &h) == 0);
    CHECK(checker_set(&h, &r) == -EINVAL);
    CHECK(r.result == VERDICT_UNKNOWN);
    CHECK(strstr(r.reason, "line 2: ok list value[0]") != NULL);
    report_close(&r);
    history_close(&h);
}

static void test_set_rejects_unpaired(void)
{
    struct history h;
    struct report r;
    CHECK(cases_load_text("{\"time\":1,\"process\":0,\"type\":\"ok\","
                          "\"f\":\"list\",\"value\":[]}\n",
                          &h) == 0);
    CHECK(checker_set(&h, &r) == -EINVAL);
    CHECK(strstr(r.reason, "line 1: process 0: ok list without an invoke") !=
          NULL);
    report_close(&r);
    history_close(&h);
}

int main(void)
{
    RUN(test_set_cases);
    RUN(test_set_rejects_bad_list_value);
    RUN(test_set_rejects_unpaired);
    return failures != 0;
}
