/* test_set: the task-set checker on case folders and malformed reads. */
#include "checker/set.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>

static int check_set(const struct history *h, enum verdict_result *result,
                     char *summary, size_t size)
{
    struct report r;
    int rv = checker_set(h, &r);
    json_t *js;

    *result = r.result;
    if (rv != 0) {
        snprintf(summary, size, "%s", r.reason);
        report_close(&r);
        return rv;
    }
    report_summary(&r, summary, size);
    /* The JSON says the same. */
    js = report_to_json(&r);
    if (js == NULL ||
        (r.result == VERDICT_INVALID) !=
            json_is_false(json_object_get(js, "valid")) ||
        (r.result == VERDICT_INVALID &&
         json_object_size(json_object_get(js, "anomalies")) == 0)) {
        snprintf(summary, size, "JSON disagrees with the verdict");
        rv = -EINVAL;
    }
    json_decref(js);
    report_close(&r);
    return rv;
}

static void test_set_cases(void)
{
    int count;
    failures += cases_run("checker/cases_set", check_set, &count);
    CHECK(count >= 12);
}

/* A history built in memory from JSON lines. */
static int load_text(const char *text, struct history *h)
{
    char path[] = "/tmp/faultline-test-set-XXXXXX";
    struct history_error err;
    int fd = mkstemp(path), rv;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        return -errno;
    }
    fputs(text, f);
    fclose(f);
    rv = history_load(path, h, &err);
    unlink(path);
    return rv;
}

static void test_set_rejects_bad_list_value(void)
{
    struct history h;
    struct report r;
    CHECK(load_text("{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":"
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
    CHECK(load_text("{\"time\":1,\"process\":0,\"type\":\"ok\","
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
