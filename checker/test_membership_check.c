/* test_membership_check: the membership checker on case folders and a bad
 * configuration record. */
#include "checker/membership.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void test_membership_cases(void)
{
    int count;
    failures += cases_run_report("checker/cases_membership", checker_membership,
                                 &count);
    CHECK(count >= 7);
}

static void test_membership_rejects_configuration_without_lists(void)
{
    struct history h;
    struct report r;
    CHECK(
        cases_load_text("{\"time\":0,\"process\":\"nemesis\",\"type\":\"info\","
                        "\"f\":\"remove\",\"value\":{\"node\":\"n2\","
                        "\"outcome\":\"committed\"}}\n"
                        "{\"time\":1,\"process\":\"nemesis\",\"type\":\"info\","
                        "\"f\":\"configuration\",\"value\":{\"voters\":"
                        "[\"n1\"]}}\n",
                        &h) == 0);
    CHECK(checker_membership(&h, &r) == -EINVAL);
    CHECK(r.result == VERDICT_UNKNOWN);
    CHECK(strstr(r.reason, "line 2: configuration value") != NULL);
    report_close(&r);
    history_close(&h);
}

int main(void)
{
    RUN(test_membership_cases);
    RUN(test_membership_rejects_configuration_without_lists);
    return failures != 0;
}
