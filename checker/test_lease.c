/* test_lease: the lease checker on case folders and malformed acquires. */
#include "checker/lease.h"
#include "test/unit.h"
#include "test/cases.h"

#include <errno.h>
#include <stdlib.h>

static int check_lease(const struct history *h, enum verdict_result *result,
                       char *summary, size_t size)
{
    struct report r;
    int rv = checker_lease(h, &r);
    json_t *js;

    *result = r.result;
    if (rv != 0) {
        snprintf(summary, size, "%s", r.reason);
        report_close(&r);
        return rv;
    }
    report_summary(&r, summary, size);
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

static void test_lease_cases(void)
{
    int count;
    failures += cases_run("checker/cases_lease", check_lease, &count);
    CHECK(count >= 12);
}

static int load_text(const char *text, struct history *h)
{
    char path[] = "/tmp/faultline-test-lease-XXXXXX";
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

static void test_lease_rejects_acquire_without_token(void)
{
    struct history h;
    struct report r;
    CHECK(
        load_text("{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":"
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
