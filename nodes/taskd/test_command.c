/* test_command: requests and Raft log commands: validation, encoding. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/command.h"
#include "test/unit.h"


/* Parse @text as a request into @c. */
static int from_text(const char *text, struct command *c, char *err,
                     size_t errlen)
{
    json_t *req = json_loads(text, 0, NULL);
    int rv;

    if (req == NULL) {
        snprintf(err, errlen, "test bug: bad JSON %s", text);
        return -1;
    }
    rv = command_from_request(req, c, err, errlen);
    json_decref(req);
    return rv;
}

/* Encode @c, decode it back into @out. */
static int round_trip(const struct command *c, struct command *out)
{
    char err[256];
    void *buf;
    size_t len;
    int rv;

    rv = command_encode(c, malloc, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = command_decode(buf, len, out, err, sizeof err);
    if (rv != 0) {
        fprintf(stderr, "decode: %s: %.*s\n", err, (int)len, (char *)buf);
    }
    free(buf);
    return rv;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool equal(const struct command *a, const struct command *b)
{
    return a->op == b->op && same(a->rid, b->rid) && a->ts_ms == b->ts_ms &&
           a->term == b->term && a->leader == b->leader &&
           same(a->pick, b->pick) && same(a->key, b->key) &&
           same(a->payload, b->payload) && same(a->status, b->status) &&
           same(a->expect_status, b->expect_status) &&
           a->has_expect_version == b->has_expect_version &&
           a->expect_version == b->expect_version && same(a->who, b->who) &&
           a->value == b->value && a->from == b->from && a->to == b->to &&
           a->ms == b->ms;
}

/* Every mutating request, parsed, stamped, encoded and decoded, comes back
 * the same. */
static void test_command_round_trips_every_mutating_op(void)
{
    static const char *requests[] = {
        "{\"op\":\"write\",\"key\":\"k\",\"value\":-7}",
        "{\"op\":\"write\",\"key\":\"\",\"value\":0,\"rid\":\"r\"}",
        "{\"op\":\"cas\",\"key\":\"ключ\",\"from\":-9223372036854775808,"
        "\"to\":9223372036854775807}",
        "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":{\"b\":[1,2.5,null]},"
        "\"rid\":\"c-1\"}",
        "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":null}",
        "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"done\","
        "\"expect_status\":\"pending\"}",
        "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"done\","
        "\"expect_version\":0}",
        "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"x\","
        "\"expect_status\":\"y\",\"expect_version\":3}",
        "{\"op\":\"delete\",\"task_id\":\"t\"}",
        "{\"op\":\"enqueue\",\"task_id\":\"q\",\"payload\":\"text\"}",
        "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":1}",
        "{\"op\":\"ack\",\"task_id\":\"q\",\"worker\":\"w\"}",
        "{\"op\":\"nack\",\"task_id\":\"q\",\"worker\":\"w\"}",
        "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"h\",\"ttl_ms\":"
        "86400000}",
        "{\"op\":\"release\",\"scope\":\"s\",\"holder\":\"h\"}",
    };
    struct command in;
    struct command out;
    char err[256];
    size_t i;

    for (i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        if (from_text(requests[i], &in, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", requests[i], err);
            CHECK(false);
        }
        CHECK(command_op_mutates(in.op));
        in.ts_ms = 1700000000123;
        in.term = 7;
        in.leader = 3;
        CHECK(round_trip(&in, &out) == 0);
        CHECK(equal(&in, &out));
        command_clear(&in);
        command_clear(&out);
    }
}

static void test_command_keeps_the_lost_claim_pick(void)
{
    struct command in = {
        .op = COMMAND_CLAIM, .who = "w", .ms = 5, .pick = "t9"};
    struct command out;

    CHECK(round_trip(&in, &out) == 0);
    CHECK(out.pick != NULL && strcmp(out.pick, "t9") == 0);
    command_clear(&out);
}

static void test_command_reads_parse_but_never_encode(void)
{
    static const char *reads[] = {
        "{\"op\":\"read\",\"key\":\"k\"}",
        "{\"op\":\"get\",\"task_id\":\"t\",\"rid\":\"ignored\"}",
        "{\"op\":\"list\"}",
        "{\"op\":\"holder\",\"scope\":\"s\"}",
    };
    struct command c;
    char err[256];
    void *buf;
    size_t len;
    size_t i;

    for (i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        CHECK(from_text(reads[i], &c, err, sizeof err) == 0);
        CHECK(command_op_reads(c.op) && !command_op_mutates(c.op));
        CHECK(c.rid == NULL);
        CHECK(command_encode(&c, malloc, &buf, &len) == -EINVAL);
        command_clear(&c);
    }
}

/* Bad requests: the error names what is wrong. */
static void test_command_rejects_bad_requests(void)
{
    static const struct {
        const char *request;
        const char *error; /* a substring of the message */
    } cases[] = {
        {"{}", "\"op\" missing"},
        {"{\"op\":7}", "\"op\" missing"},
        {"{\"op\":\"frob\"}", "unknown op \"frob\""},
        {"{\"op\":\"read\"}", "\"key\" missing"},
        {"{\"op\":\"write\",\"key\":\"k\"}", "\"value\" must be"},
        {"{\"op\":\"write\",\"key\":\"k\",\"value\":1.5}", "\"value\" must be"},
        {"{\"op\":\"cas\",\"key\":\"k\",\"from\":1}", "\"to\""},
        {"{\"op\":\"write\",\"key\":3,\"value\":1}", "\"key\" missing"},
        {"{\"op\":\"create\",\"task_id\":\"t\"}", "\"payload\" missing"},
        {"{\"op\":\"create\",\"task_id\":\"\",\"payload\":1}", "\"task_id\""},
        {"{\"op\":\"get\"}", "\"task_id\" missing"},
        {"{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"x\"}",
         "expect_status"},
        {"{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"running\","
         "\"expect_version\":1}",
         "claim only"},
        {"{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"x\","
         "\"expect_version\":-1}",
         "\"expect_version\" must be in"},
        {"{\"op\":\"claim\",\"worker\":\"w\"}", "\"lease_ms\""},
        {"{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":0}", "\"lease_ms\""},
        {"{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":86400001}",
         "\"lease_ms\""},
        {"{\"op\":\"ack\",\"task_id\":\"t\"}", "\"worker\" missing"},
        {"{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"h\"}", "\"ttl_ms\""},
        {"{\"op\":\"release\",\"scope\":\"s\"}", "\"holder\" missing"},
        {"{\"op\":\"holder\"}", "\"scope\" missing"},
        {"{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"rid\":\"\"}",
         "\"rid\""},
        {"{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"rid\":5}", "\"rid\""},
        {"{\"op\":\"write\",\"key\":\"a\\u0000b\",\"value\":1}", "NUL"},
    };
    struct command c;
    char err[256];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = json_loads(cases[i].request, JSON_ALLOW_NUL, NULL);
        int rv;

        CHECK(req != NULL);
        err[0] = '\0';
        rv = command_from_request(req, &c, err, sizeof err);
        json_decref(req);
        if (rv != -EINVAL || strstr(err, cases[i].error) == NULL) {
            fprintf(stderr, "%s: rv %d, message \"%s\", expected \"%s\"\n",
                    cases[i].request, rv, err, cases[i].error);
            CHECK(false);
        }
    }
}

static void test_command_rejects_oversized_fields(void)
{
    char *big = malloc(COMMAND_PAYLOAD_MAX + 16);
    struct command c = {.op = COMMAND_WRITE, .key = big};
    char err[256];
    char *text;
    void *buf;
    size_t len;
    int rv;

    CHECK(big != NULL);
    memset(big, 'k', COMMAND_KEY_MAX + 1);
    big[COMMAND_KEY_MAX + 1] = '\0';
    CHECK(command_encode(&c, malloc, &buf, &len) == -EINVAL);
    big[COMMAND_KEY_MAX] = '\0';
    CHECK(command_encode(&c, malloc, &buf, &len) == 0);
    free(buf);

    /* A payload string longer than the limit once quoted. */
    memset(big, 'p', COMMAND_PAYLOAD_MAX);
    big[COMMAND_PAYLOAD_MAX] = '\0';
    text = malloc(COMMAND_PAYLOAD_MAX + 128);
    snprintf(text, COMMAND_PAYLOAD_MAX + 128,
             "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":\"%s\"}", big);
    rv = from_text(text, &c, err, sizeof err);
    free(text);
    free(big);
    CHECK(rv == -EINVAL && strstr(err, "\"payload\" longer") != NULL);
}

static void test_command_encoding_is_8_byte_aligned_json(void)
{
    char key[40];
    size_t n;

    /* Every key length hits every padding amount. */
    for (n = 0; n < sizeof key - 1; n++) {
        struct command c = {.op = COMMAND_WRITE, .key = key, .value = 1};
        void *buf;
        size_t len;

        memset(key, 'x', n);
        key[n] = '\0';
        CHECK(command_encode(&c, malloc, &buf, &len) == 0);
        CHECK(len % COMMAND_ALIGN == 0);
        CHECK(((char *)buf)[0] == '{');
        free(buf);
    }
}

static void test_command_rejects_bad_entries(void)
{
    static const char *bad[] = {
        "",
        "[]",
        "{\"op\":\"write\",\"key\":\"k\"}",
        "{\"op\":\"write\",\"key\":\"k\",\"value\":1.5}",
        "{\"op\":\"cas\",\"key\":\"k\",\"from\":1}",
        "{\"op\":\"frob\",\"key\":\"k\"}",
        "{\"op\":\"read\",\"key\":\"k\"}",
        "{\"op\":\"status\"}",
        "{\"op\":\"write\",\"key\":3,\"value\":1}",
        "{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"value\":2}",
        "{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"ts_ms\":-1}",
        "{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"term\":\"x\"}",
    };
    struct command c;
    char err[128];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(command_decode(bad[i], strlen(bad[i]), &c, err, sizeof err) ==
              -EINVAL);
        CHECK(err[0] != '\0');
    }
}

static void test_command_decodes_v0_entries(void)
{
    /* taskd v0 logged no stamps: they decode as 0. */
    static const char v0[] =
        "{\"op\":\"cas\",\"key\":\"k\",\"from\":1,\"to\":2}"
        "   ";
    struct command c;
    char err[128];

    CHECK(command_decode(v0, sizeof v0 - 1, &c, err, sizeof err) == 0);
    CHECK(c.op == COMMAND_CAS && c.from == 1 && c.to == 2);
    CHECK(c.ts_ms == 0 && c.term == 0 && c.leader == 0 && c.rid == NULL);
    command_clear(&c);
}

static void test_command_fingerprint_ignores_rid_and_stamps(void)
{
    struct command a = {.op = COMMAND_CREATE,
                        .key = "t",
                        .payload = "[1]",
                        .rid = "r1",
                        .ts_ms = 5,
                        .term = 2,
                        .leader = 1};
    struct command b = {.op = COMMAND_CREATE,
                        .key = "t",
                        .payload = "[1]",
                        .rid = "r2",
                        .ts_ms = 9,
                        .term = 3,
                        .leader = 2};
    uint64_t fa;
    uint64_t fb;

    CHECK(command_fingerprint(&a, &fa) == 0);
    CHECK(command_fingerprint(&b, &fb) == 0 && fa == fb);
    b.payload = "[2]";
    CHECK(command_fingerprint(&b, &fb) == 0 && fa != fb);
    b.payload = "[1]";
    b.op = COMMAND_ENQUEUE;
    CHECK(command_fingerprint(&b, &fb) == 0 && fa != fb);
    b.op = COMMAND_GET;
    CHECK(command_fingerprint(&b, &fb) == -EINVAL);
}

static void test_command_op_names_round_trip(void)
{
    enum command_op op;

    for (op = COMMAND_READ; op <= COMMAND_STATUS; op++) {
        CHECK(command_op_lookup(command_op_name(op)) == op);
    }
    CHECK(command_op_lookup("nope") == COMMAND_NONE);
    CHECK(strcmp(command_op_name(COMMAND_NONE), "?") == 0);
}

int main(void)
{
    test_command_round_trips_every_mutating_op();
    test_command_keeps_the_lost_claim_pick();
    test_command_reads_parse_but_never_encode();
    test_command_rejects_bad_requests();
    test_command_rejects_oversized_fields();
    test_command_encoding_is_8_byte_aligned_json();
    test_command_rejects_bad_entries();
    test_command_decodes_v0_entries();
    test_command_fingerprint_ignores_rid_and_stamps();
    test_command_op_names_round_trip();
    if (failures > 0) {
        printf("test_command: %d FAILED\n", failures);
        return 1;
    }
    printf("test_command: ok\n");
    return 0;
}
