/* test_verdict: verdicts as JSON and as one line. */
#include "checker/verdict.h"
#include "test/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool json_is(json_t *js, const char *want)
{
    char *got = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
    bool same = got != NULL && strcmp(got, want) == 0;
    if (!same) {
        fprintf(stderr, "got  %s\nwant %s\n", got ? got : "(null)", want);
    }
    free(got);
    return same;
}

static void test_verdict_valid(void)
{
    struct verdict v;
    char line[256];
    json_t *js;

    verdict_init(&v);
    v.model = "cas-register";
    v.ops = 5000;
    v.keys = 5;
    v.steps = 7;
    v.states = 3;
    js = verdict_to_json(&v);
    CHECK(js != NULL);
    CHECK(json_is(js, "{\"valid\":true,\"checker\":\"linearizable\","
                      "\"model\":\"cas-register\",\"ops\":5000,\"keys\":5,"
                      "\"partial\":false,\"stats\":{\"steps\":7,"
                      "\"states\":3}}"));
    json_decref(js);
    verdict_summary(&v, line, sizeof line);
    CHECK(strcmp(line, "valid: linearizable (cas-register, 5000 ops, 5 "
                       "keys)") == 0);
    verdict_close(&v);
}

static void test_verdict_invalid(void)
{
    struct verdict v;
    char line[512];
    json_t *js;

    verdict_init(&v);
    v.result = VERDICT_INVALID;
    v.model = "cas-register";
    v.ops = 40;
    v.keys = 2;
    v.partial = true;
    v.key = strdup("k1");
    v.has_key = true;
    v.op.index = 57;
    v.op.done_index = 60;
    v.op.process = 4;
    snprintf(v.op.f, sizeof v.op.f, "read");
    v.op.type = HISTORY_OK;
    v.op.value = json_integer(3);
    v.op.call = 1000;
    v.op.ret = 2000;
    snprintf(v.op.desc, sizeof v.op.desc, "read -> 3");
    v.prefix = 12;
    v.key_ops = 20;
    snprintf(v.state, sizeof v.state, "2");
    js = verdict_to_json(&v);
    CHECK(js != NULL);
    CHECK(json_is(js,
                  "{\"valid\":false,\"checker\":\"linearizable\",\"model\":"
                  "\"cas-register\",\"ops\":40,\"keys\":2,\"partial\":true,"
                  "\"anomaly\":{\"key\":\"k1\",\"op\":{\"index\":57,"
                  "\"process\":4,\"f\":\"read\",\"value\":3,\"type\":\"ok\","
                  "\"call\":1000,\"return\":2000,\"description\":\"read -> "
                  "3\"},\"linearized_prefix\":12,\"key_ops\":20,\"state\":"
                  "\"2\"},\"stats\":{\"steps\":0,\"states\":0}}"));
    json_decref(js);
    verdict_summary(&v, line, sizeof line);
    CHECK(strcmp(line, "invalid: key \"k1\": read -> 3 (process 4, index 57) "
                       "cannot be linearized; longest linearizable prefix 12 "
                       "of 20 ops, state 2") == 0); /* truncated: said once, by
                                                     * check, before the line */
    verdict_close(&v);
}

static void test_verdict_unknown(void)
{
    struct verdict v;
    char line[512];
    json_t *js;

    verdict_init(&v);
    v.result = VERDICT_UNKNOWN;
    v.model = "cas-register";
    v.has_key = true; /* ops without a key */
    snprintf(v.reason, sizeof v.reason, "time limit of 1 s reached");
    js = verdict_to_json(&v);
    CHECK(js != NULL);
    CHECK(json_is(js, "{\"valid\":\"unknown\",\"checker\":\"linearizable\","
                      "\"model\":\"cas-register\",\"ops\":0,\"keys\":0,"
                      "\"partial\":false,\"reason\":\"time limit of 1 s "
                      "reached\",\"key\":null,\"stats\":{\"steps\":0,"
                      "\"states\":0}}"));
    json_decref(js);
    verdict_summary(&v, line, sizeof line);
    CHECK(strcmp(line, "unknown: ops without a key: time limit of 1 s "
                       "reached (0 ops, 0 keys)") == 0);
    /* Truncation is safe. */
    verdict_summary(&v, line, 8);
    CHECK(strlen(line) == 7);
    verdict_close(&v);
    verdict_close(&v); /* twice is harmless */
    CHECK(strcmp(verdict_result_name(VERDICT_UNKNOWN), "unknown") == 0);
}

int main(void)
{
    RUN(test_verdict_valid);
    RUN(test_verdict_invalid);
    RUN(test_verdict_unknown);
    if (failures != 0) {
        printf("test_verdict: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_verdict: all passed\n");
    return 0;
}
