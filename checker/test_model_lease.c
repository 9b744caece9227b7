/* test_model_lease: the lease model on case folders, split by scope and
 * whole, through the merge of attempts into requests. */
#include "checker/linearizable.h"
#include "checker/requests.h"
#include "test/unit.h"
#include "test/cases.h"

static const char *const none[] = {NULL};
static bool whole;

static int check_lease(const struct history *h, enum verdict_result *result,
                       char *summary, size_t size)
{
    struct checker_limits lim = {.time_s = 20, .whole = whole};
    struct verdict v;
    int rv = requests_linearizable(h, &model_lease, &lim, none, &v);
    *result = v.result;
    if (rv != 0) {
        snprintf(summary, size, "%s", v.reason);
    } else {
        verdict_summary(&v, summary, size);
    }
    verdict_close(&v);
    return rv;
}

static void test_model_lease_cases(void)
{
    int count;
    whole = false;
    failures += cases_run("checker/cases_lease_model", check_lease, &count);
    CHECK(count >= 7);
}

/* Searched whole, the clock is shared by the scopes: the acquire of s2 at
 * an earlier now_ms after s1's returned can't be placed. */
static void test_model_lease_clock_spans_scopes_unsplit(void)
{
    struct history h;
    struct history_error err;
    enum verdict_result result;
    char summary[512];
    CHECK(history_load("checker/cases_lease_model/clock_back_across_scopes/"
                       "history.jsonl",
                       &h, &err) == 0);
    whole = true;
    CHECK(check_lease(&h, &result, summary, sizeof summary) == 0);
    whole = false;
    history_close(&h);
    CHECK(result == VERDICT_INVALID);
}

static void test_model_lease_lookup(void)
{
    CHECK(model_find("lease") == &model_lease);
}

int main(void)
{
    RUN(test_model_lease_cases);
    RUN(test_model_lease_clock_spans_scopes_unsplit);
    RUN(test_model_lease_lookup);
    return failures != 0;
}
