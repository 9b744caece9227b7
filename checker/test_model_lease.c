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

/* The state is the whole map: searching all scopes at once agrees (each
 * scope has its own clock, so the model is compositional). */
static void test_model_lease_cases_unsplit(void)
{
    int count;
    whole = true;
    failures += cases_run("checker/cases_lease_model", check_lease, &count);
    whole = false;
    CHECK(count >= 7);
}

static void test_model_lease_lookup(void)
{
    CHECK(model_find("lease") == &model_lease);
}

int main(void)
{
    RUN(test_model_lease_cases);
    RUN(test_model_lease_cases_unsplit);
    RUN(test_model_lease_lookup);
    return failures != 0;
}
