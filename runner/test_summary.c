/* Tests of the run summary's fails by reason: counted by error code (the
 * text before a ':' is the code, the rest a message), the largest first,
 * each classed as the op's own answer or the cluster's availability. */
#include <stdio.h>
#include <string.h>

#include "runner/summary.h"
#include "test/unit.h"

static void test_summary_counts_fails_by_code_not_message(void)
{
    struct summary_fails f = {0};
    char buf[256];

    for (int i = 0; i < 5; i++) {
        summary_fail_add(&f, "cas_mismatch");
    }
    summary_fail_add(&f, "timeout: no node accepted the op");
    summary_fail_add(&f, "timeout: no node accepted the op within 1500 ms");
    summary_fail_add(&f, "timeout");
    summary_fail_add(&f, "not_leader");
    summary_fail_add(&f, NULL);
    summary_fails_format(&f, 0, buf, sizeof buf);
    CHECK(f.total == 10);
    CHECK(strcmp(buf, "cas_mismatch 5, timeout 3, not_leader 1, "
                      "no reason 1") == 0);
    summary_fails_format(&f, 2, buf, sizeof buf);
    CHECK(strcmp(buf, "cas_mismatch 5, timeout 3, ...") == 0);
}

static void test_summary_classes_expected_and_availability(void)
{
    CHECK(summary_fail_class("cas_mismatch") == SUMMARY_FAIL_EXPECTED);
    CHECK(summary_fail_class("empty") == SUMMARY_FAIL_EXPECTED);
    CHECK(summary_fail_class("not_leader") == SUMMARY_FAIL_AVAILABILITY);
    CHECK(summary_fail_class("timeout: no node accepted the op") ==
          SUMMARY_FAIL_AVAILABILITY);
    CHECK(summary_fail_class("bad_request") == SUMMARY_FAIL_OTHER);
    CHECK(summary_fail_class(NULL) == SUMMARY_FAIL_OTHER);
}

static void test_summary_prints_the_split_line(void)
{
    struct summary_fails f = {0};
    char buf[512] = "";
    FILE *out = fmemopen(buf, sizeof buf, "w");

    summary_fail_add(&f, "cas_mismatch");
    summary_fail_add(&f, "cas_mismatch");
    summary_fail_add(&f, "unreachable: connection refused");
    summary_print_fails(out, &f);
    fclose(out);
    CHECK(strcmp(buf, "faultline: fail 3: cas_mismatch 2, unreachable 1 "
                      "(expected 2: the operations' own answers; "
                      "availability 1: not served)\n") == 0);
}

int main(void)
{
    RUN(test_summary_counts_fails_by_code_not_message);
    RUN(test_summary_classes_expected_and_availability);
    RUN(test_summary_prints_the_split_line);
    if (failures == 0) {
        printf("test_summary: all passed\n");
    }
    return failures != 0;
}
