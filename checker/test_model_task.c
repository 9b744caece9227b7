/* test_model_task: the task-record model on case folders, split by task and
 * whole, through the merge of attempts into requests. */
#include "checker/linearizable.h"
#include "checker/requests.h"
#include "test/unit.h"
#include "test/cases.h"

static const char *const lists[] = {"list", NULL};
static bool whole;

static int check_task(const struct history *h, enum verdict_result *result,
                      char *summary, size_t size)
{
    struct checker_limits lim = {.time_s = 20, .whole = whole};
    struct verdict v;
    int rv = requests_linearizable(h, &model_task, &lim, lists, &v);
    *result = v.result;
    if (rv != 0) {
        snprintf(summary, size, "%s", v.reason);
    } else {
        verdict_summary(&v, summary, size);
    }
    verdict_close(&v);
    return rv;
}

static void test_model_task_cases(void)
{
    int count;
    whole = false;
    failures += cases_run("checker/cases_task", check_task, &count);
    CHECK(count >= 8);
}

/* The state is the whole map: searching all tasks at once agrees. */
static void test_model_task_cases_unsplit(void)
{
    int count;
    whole = true;
    failures += cases_run("checker/cases_task", check_task, &count);
    whole = false;
    CHECK(count >= 8);
}

static void test_model_task_lookup(void)
{
    CHECK(model_find("task-record") == &model_task);
    CHECK(model_find("task") == &model_task);
}

int main(void)
{
    RUN(test_model_task_cases);
    RUN(test_model_task_cases_unsplit);
    RUN(test_model_task_lookup);
    return failures != 0;
}
