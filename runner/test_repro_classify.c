/* Tests of how repro tells the same anomaly from the same class only: two
 * verdict.json files (runner/testdata/repro/), no cluster. The original of
 * each pair is issue 16's: a stale read of k0 (read -> 4, index 940). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "runner/repro.h"
#include "test/unit.h"

#define DIR "runner/testdata/repro/"

static enum repro_outcome classify(const char *original, const char *again,
                                   char *why, size_t size)
{
    char pa[256], pb[256];
    enum repro_outcome o;
    json_t *a, *b;

    snprintf(pa, sizeof pa, DIR "%s.json", original);
    snprintf(pb, sizeof pb, DIR "%s.json", again);
    a = json_load_file(pa, 0, NULL);
    b = json_load_file(pb, 0, NULL);
    if (a == NULL || b == NULL) {
        fprintf(stderr, "can't load %s or %s\n", pa, pb);
        json_decref(a);
        json_decref(b);
        return REPRO_N_OUTCOMES;
    }
    o = repro_classify(a, b, why, size);
    json_decref(a);
    json_decref(b);
    return o;
}

static void test_repro_read_of_null_on_another_key_is_the_class_only(void)
{
    char why[256];
    CHECK(classify("read4_k0", "readnull_k3", why, sizeof why) ==
          REPRO_SAME_CLASS);
    CHECK(strstr(why, "key \"k3\" (was \"k0\")") != NULL);
    CHECK(strstr(why, "read -> null (was read)") != NULL);
}

static void test_repro_same_key_is_the_same_anomaly(void)
{
    char why[256];
    CHECK(classify("read4_k0", "cas_k0", why, sizeof why) ==
          REPRO_SAME_ANOMALY);
    CHECK(strcmp(why, "linearizable invalid, key \"k0\" (a cas, was a "
                      "read)") == 0);
    CHECK(classify("read4_k0", "read4_k0", why, sizeof why) ==
          REPRO_SAME_ANOMALY);
}

static void test_repro_same_operation_type_is_the_same_anomaly(void)
{
    char why[256];
    CHECK(classify("read4_k0", "read7_k5", why, sizeof why) ==
          REPRO_SAME_ANOMALY);
    CHECK(strstr(why, "linearizable invalid, read") != NULL);
}

static void test_repro_other_key_and_operation_is_the_class_only(void)
{
    char why[256];
    CHECK(classify("read4_k0", "write_k6", why, sizeof why) ==
          REPRO_SAME_CLASS);
    CHECK(classify("cas_k0", "readnull_k3", why, sizeof why) ==
          REPRO_SAME_CLASS);
}

static void test_repro_tasks_and_scopes_are_keys(void)
{
    char why[256];
    CHECK(classify("set_lost_t2", "set_lost_t2", why, sizeof why) ==
          REPRO_SAME_ANOMALY);
    CHECK(classify("set_lost_t2", "set_lost_t9", why, sizeof why) ==
          REPRO_SAME_CLASS);
    CHECK(strstr(why, "set lost, but key \"t9\" (was \"t2\")") != NULL);
    /* The same task, another kind: not even the class. */
    CHECK(classify("set_lost_t2", "set_duplicated_t2", why, sizeof why) ==
          REPRO_OTHER_ANOMALY);
    CHECK(strstr(why, "set duplicated (the original: set lost)") != NULL);
}

static void test_repro_another_checker_is_another_anomaly(void)
{
    char why[256];
    CHECK(classify("read4_k0", "set_lost_t2", why, sizeof why) ==
          REPRO_OTHER_ANOMALY);
    CHECK(classify("set_lost_t2", "lease_two_holders_s1", why, sizeof why) ==
          REPRO_OTHER_ANOMALY);
}

static void test_repro_valid_and_unknown_runs(void)
{
    char why[256];
    CHECK(classify("read4_k0", "valid", why, sizeof why) == REPRO_VALID);
    CHECK(classify("read4_k0", "unknown", why, sizeof why) == REPRO_UNKNOWN);
    CHECK(classify("valid", "valid", why, sizeof why) == REPRO_VALID);
    /* A valid original: any anomaly is another one. */
    CHECK(classify("valid", "read4_k0", why, sizeof why) ==
          REPRO_OTHER_ANOMALY);
}

static void test_repro_reads_a_verdict_without_checkers(void)
{
    char why[256];
    /* An older verdict.json: one checker, its fields at the top. */
    CHECK(classify("old_read2_k0", "cas_k0", why, sizeof why) ==
          REPRO_SAME_ANOMALY);
    CHECK(classify("old_read2_k0", "readnull_k3", why, sizeof why) ==
          REPRO_SAME_CLASS);
}

static void test_repro_lists_each_anomaly(void)
{
    struct repro_anomaly a[REPRO_MAX_ANOMALIES];
    json_t *v = json_load_file(DIR "readnull_k3.json", 0, NULL);
    int n = repro_anomalies(v, a, REPRO_MAX_ANOMALIES);

    json_decref(v);
    CHECK(n == 1);
    CHECK(strcmp(a[0].checker, "linearizable") == 0);
    CHECK(strcmp(a[0].kind, "invalid") == 0);
    CHECK(strcmp(a[0].key, "k3") == 0);
    CHECK(strcmp(a[0].op, "read -> null") == 0);
    CHECK(strcmp(a[0].text, "key \"k3\": read -> null (index 48)") == 0);

    v = json_load_file(DIR "set_lost_t9.json", 0, NULL);
    n = repro_anomalies(v, a, REPRO_MAX_ANOMALIES);
    json_decref(v);
    CHECK(n == 1); /* the valid linearizable part adds none */
    CHECK(strcmp(a[0].checker, "set") == 0 && strcmp(a[0].kind, "lost") == 0);
    CHECK(strcmp(a[0].key, "t9") == 0 && a[0].op[0] == '\0');
}

static void test_repro_rate_and_exit_code(void)
{
    int counts[REPRO_N_OUTCOMES] = {0};
    char buf[256];

    counts[REPRO_SAME_ANOMALY] = 2;
    counts[REPRO_SAME_CLASS] = 1;
    counts[REPRO_VALID] = 2;
    repro_rate(true, counts, buf, sizeof buf);
    CHECK(strcmp(buf, "same anomaly 2 of 5, same class 1 of 5, valid 2 of "
                      "5") == 0);
    CHECK(repro_exit_code(true, counts) == 0);

    counts[REPRO_SAME_ANOMALY] = 0; /* the class only: 6 */
    counts[REPRO_UNKNOWN] = 1;
    repro_rate(true, counts, buf, sizeof buf);
    CHECK(strcmp(buf, "same anomaly 0 of 4, same class 1 of 4, valid 2 of "
                      "4, unknown 1 of 4") == 0);
    CHECK(repro_exit_code(true, counts) == REPRO_EXIT_SAME_CLASS);

    counts[REPRO_SAME_CLASS] = 0; /* neither: 1 */
    counts[REPRO_OTHER_ANOMALY] = 1;
    CHECK(repro_exit_code(true, counts) == 1);
    repro_rate(true, counts, buf, sizeof buf);
    CHECK(strcmp(buf, "same anomaly 0 of 4, same class 0 of 4, other "
                      "anomaly 1 of 4, valid 2 of 4, unknown 1 of 4") == 0);

    /* A valid original: 0 while no attempt is invalid. */
    memset(counts, 0, sizeof counts);
    counts[REPRO_VALID] = 3;
    CHECK(repro_exit_code(false, counts) == 0);
    repro_rate(false, counts, buf, sizeof buf);
    CHECK(strcmp(buf, "valid 3 of 3") == 0);
    counts[REPRO_UNKNOWN] = 1; /* not valid again */
    CHECK(repro_exit_code(false, counts) == 1);
    counts[REPRO_UNKNOWN] = 0;
    counts[REPRO_OTHER_ANOMALY] = 1;
    CHECK(repro_exit_code(false, counts) == 1);
    repro_rate(false, counts, buf, sizeof buf);
    CHECK(strcmp(buf, "invalid 1 of 4, valid 3 of 4") == 0);
}

int main(void)
{
    RUN(test_repro_read_of_null_on_another_key_is_the_class_only);
    RUN(test_repro_same_key_is_the_same_anomaly);
    RUN(test_repro_same_operation_type_is_the_same_anomaly);
    RUN(test_repro_other_key_and_operation_is_the_class_only);
    RUN(test_repro_tasks_and_scopes_are_keys);
    RUN(test_repro_another_checker_is_another_anomaly);
    RUN(test_repro_valid_and_unknown_runs);
    RUN(test_repro_reads_a_verdict_without_checkers);
    RUN(test_repro_lists_each_anomaly);
    RUN(test_repro_rate_and_exit_code);
    if (failures == 0) {
        printf("test_repro_classify: all passed\n");
    }
    return failures != 0;
}
