/* test_store: tasks, the queue, leases and registers, on an in-memory
 * database, with explicit log indices and times. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/store.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,         \
                    __LINE__, __func__, #cond);                                \
            failures++;                                                        \
            goto out;                                                          \
        }                                                                      \
    } while (0)

struct fixture {
    sqlite3 *db;
    struct store *s;
    uint64_t index; /* of the last applied command */
    json_t *reply;  /* of the last op */
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    if (sqlite3_open(":memory:", &f->db) != SQLITE_OK ||
        store_create_tables(f->db) != SQLITE_OK ||
        store_open(f->db, &f->s) != SQLITE_OK) {
        fprintf(stderr, "test_store: setup: %s\n", sqlite3_errmsg(f->db));
        exit(1);
    }
}

static void teardown(struct fixture *f)
{
    json_decref(f->reply);
    store_close(f->s);
    sqlite3_close(f->db);
}

/* Apply the request @text at the next index and time @now; the reply is
 * f->reply. Returns "ok" or the error code. */
static const char *op(struct fixture *f, int64_t now, const char *text)
{
    json_t *req = json_loads(text, 0, NULL);
    struct command c;
    char err[256];
    int rv;

    json_decref(f->reply);
    f->reply = NULL;
    if (req == NULL || command_from_request(req, &c, err, sizeof err) != 0) {
        fprintf(stderr, "test bug: %s\n", text);
        exit(1);
    }
    json_decref(req);
    if (command_op_mutates(c.op)) {
        rv = store_apply(f->s, &c, ++f->index, now, &f->reply);
    } else {
        rv = store_query(f->s, &c, now, &f->reply);
    }
    command_clear(&c);
    if (rv != 0) {
        fprintf(stderr, "store: %d: %s\n", rv, store_errmsg(f->s));
        return "EIO";
    }
    if (json_is_true(json_object_get(f->reply, "ok"))) {
        return "ok";
    }
    /* Every error the store gives is definite. */
    if (!json_is_true(json_object_get(f->reply, "definite"))) {
        return "not definite";
    }
    return json_string_value(json_object_get(f->reply, "error"));
}

static bool is(const char *a, const char *b)
{
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "  got \"%s\", expected \"%s\"\n", a, b);
        return false;
    }
    return true;
}

/* A field of the reply's task. */
static json_t *task(struct fixture *f, const char *field)
{
    return json_object_get(json_object_get(f->reply, "task"), field);
}

static const char *task_str(struct fixture *f, const char *field)
{
    const char *s = json_string_value(task(f, field));
    return s != NULL ? s : "(null)";
}

static int64_t task_int(struct fixture *f, const char *field)
{
    return json_integer_value(task(f, field));
}

static int64_t reply_int(struct fixture *f, const char *field)
{
    return json_integer_value(json_object_get(f->reply, field));
}

static void test_store_create_get_update_delete(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0,
                "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":{\"x\":1}}"),
             "ok"));
    CHECK(reply_int(&f, "index") == 1);
    CHECK(is(task_str(&f, "status"), "pending") &&
          task_int(&f, "version") == 1);
    CHECK(is(op(&f, 0, "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":2}"),
             "exists"));
    CHECK(json_integer_value(json_object_get(task(&f, "payload"), "x")) == 1);
    CHECK(is(op(&f, 0, "{\"op\":\"get\",\"task_id\":\"t\"}"), "ok"));
    CHECK(task_int(&f, "seq") == 1 && is(task_str(&f, "task_id"), "t"));
    CHECK(is(op(&f, 0, "{\"op\":\"get\",\"task_id\":\"nope\"}"), "ok"));
    CHECK(json_is_null(json_object_get(f.reply, "task")));

    /* Compare-and-set on status, on version, on both. */
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"a\","
                "\"expect_status\":\"nope\"}"),
             "cas_mismatch"));
    CHECK(is(task_str(&f, "status"), "pending"));
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"a\","
                "\"expect_status\":\"pending\"}"),
             "ok"));
    CHECK(task_int(&f, "version") == 2 && is(task_str(&f, "status"), "a"));
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"b\","
                "\"expect_version\":1}"),
             "cas_mismatch"));
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"b\","
                "\"expect_version\":2,\"expect_status\":\"x\"}"),
             "cas_mismatch"));
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":\"b\","
                "\"expect_version\":2,\"expect_status\":\"a\"}"),
             "ok"));
    CHECK(task_int(&f, "version") == 3);
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"u\",\"status\":\"b\","
                "\"expect_version\":0}"),
             "not_found"));
    CHECK(is(op(&f, 0, "{\"op\":\"delete\",\"task_id\":\"t\"}"), "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"delete\",\"task_id\":\"t\"}"), "not_found"));
    CHECK(is(op(&f, 0, "{\"op\":\"list\"}"), "ok"));
    CHECK(json_array_size(json_object_get(f.reply, "tasks")) == 0);
out:
    teardown(&f);
}

static void test_store_list_is_in_creation_order(void)
{
    struct fixture f;
    json_t *tasks;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"create\",\"task_id\":\"b\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"a\",\"payload\":2}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"create\",\"task_id\":\"c\",\"payload\":3}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"list\"}"), "ok"));
    tasks = json_object_get(f.reply, "tasks");
    CHECK(json_array_size(tasks) == 3);
    CHECK(is(
        json_string_value(json_object_get(json_array_get(tasks, 0), "task_id")),
        "b"));
    CHECK(is(
        json_string_value(json_object_get(json_array_get(tasks, 1), "status")),
        "queued"));
out:
    teardown(&f);
}

static void test_store_claim_takes_oldest_queued_then_empty(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"create\",\"task_id\":\"p\",\"payload\":0}"),
             "ok")); /* not queued: never claimed */
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q1\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q2\",\"payload\":2}"),
             "ok"));
    CHECK(is(
        op(&f, 1000, "{\"op\":\"claim\",\"worker\":\"w1\",\"lease_ms\":500}"),
        "ok"));
    CHECK(is(task_str(&f, "task_id"), "q1") &&
          is(task_str(&f, "status"), "running") &&
          is(task_str(&f, "worker"), "w1"));
    CHECK(task_int(&f, "lease_expires_ms") == 1500 &&
          reply_int(&f, "now_ms") == 1000 && task_int(&f, "version") == 2);
    CHECK(is(
        op(&f, 1000, "{\"op\":\"claim\",\"worker\":\"w2\",\"lease_ms\":500}"),
        "ok"));
    CHECK(is(task_str(&f, "task_id"), "q2"));
    CHECK(is(
        op(&f, 1499, "{\"op\":\"claim\",\"worker\":\"w3\",\"lease_ms\":500}"),
        "empty"));
out:
    teardown(&f);
}

static void test_store_expired_lease_is_claimed_again(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q\",\"payload\":1}"),
             "ok"));
    CHECK(is(
        op(&f, 1000, "{\"op\":\"claim\",\"worker\":\"w1\",\"lease_ms\":500}"),
        "ok"));
    /* Expired at exactly lease_expires. */
    CHECK(is(
        op(&f, 1500, "{\"op\":\"claim\",\"worker\":\"w2\",\"lease_ms\":500}"),
        "ok"));
    CHECK(is(task_str(&f, "task_id"), "q") && is(task_str(&f, "worker"), "w2"));
    /* The first worker lost it: its ack is refused, the holder's is not. */
    CHECK(
        is(op(&f, 1600, "{\"op\":\"ack\",\"task_id\":\"q\",\"worker\":\"w1\"}"),
           "not_holder"));
    CHECK(is(task_str(&f, "worker"), "w2"));
    CHECK(
        is(op(&f, 1600, "{\"op\":\"ack\",\"task_id\":\"q\",\"worker\":\"w2\"}"),
           "ok"));
    CHECK(is(task_str(&f, "status"), "done") &&
          json_is_null(task(&f, "worker")) &&
          json_is_null(task(&f, "lease_expires_ms")));
    /* Done is done. */
    CHECK(is(
        op(&f, 9999, "{\"op\":\"claim\",\"worker\":\"w3\",\"lease_ms\":500}"),
        "empty"));
    CHECK(
        is(op(&f, 9999, "{\"op\":\"ack\",\"task_id\":\"q\",\"worker\":\"w2\"}"),
           "not_holder"));
out:
    teardown(&f);
}

static void test_store_ack_after_expiry_without_reclaim_is_accepted(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":10}"),
             "ok"));
    CHECK(
        is(op(&f, 5000, "{\"op\":\"ack\",\"task_id\":\"q\",\"worker\":\"w\"}"),
           "ok"));
out:
    teardown(&f);
}

static void test_store_nack_requeues_in_original_order(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q1\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q2\",\"payload\":2}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":9999}"),
             "ok"));
    CHECK(is(task_str(&f, "task_id"), "q1"));
    CHECK(is(op(&f, 0, "{\"op\":\"nack\",\"task_id\":\"q1\",\"worker\":\"x\"}"),
             "not_holder"));
    CHECK(is(op(&f, 0, "{\"op\":\"nack\",\"task_id\":\"q1\",\"worker\":\"w\"}"),
             "ok"));
    CHECK(is(task_str(&f, "status"), "queued") && task_int(&f, "version") == 3);
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"v\",\"lease_ms\":9999}"),
             "ok"));
    CHECK(is(task_str(&f, "task_id"), "q1"));
    CHECK(is(op(&f, 0, "{\"op\":\"nack\",\"task_id\":\"zz\",\"worker\":\"w\"}"),
             "not_found"));
out:
    teardown(&f);
}

static void test_store_update_to_queued_makes_a_task_claimable(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"create\",\"task_id\":\"t\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":9}"),
             "empty"));
    CHECK(is(op(&f, 0,
                "{\"op\":\"update_status\",\"task_id\":\"t\",\"status\":"
                "\"queued\",\"expect_version\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":9}"),
             "ok"));
    CHECK(is(task_str(&f, "task_id"), "t"));
out:
    teardown(&f);
}

static void test_store_lost_claim_pick_is_taken_unchecked(void)
{
    struct fixture f;
    struct command c = {
        .op = COMMAND_CLAIM, .who = "w2", .ms = 100, .pick = "q"};

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"q\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w1\",\"lease_ms\":100}"),
             "ok"));
    json_decref(f.reply);
    CHECK(store_apply(f.s, &c, ++f.index, 50, &f.reply) == 0);
    CHECK(json_is_true(json_object_get(f.reply, "ok")));
    CHECK(is(task_str(&f, "worker"), "w2"));
    c.pick = "gone";
    json_decref(f.reply);
    CHECK(store_apply(f.s, &c, ++f.index, 50, &f.reply) == 0);
    CHECK(is(json_string_value(json_object_get(f.reply, "error")), "empty"));
out:
    teardown(&f);
}

static void test_store_pick_claim_prefers_lowest_seq(void)
{
    struct fixture f;
    char *id = NULL;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"a\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"enqueue\",\"task_id\":\"b\",\"payload\":1}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"claim\",\"worker\":\"w\",\"lease_ms\":10}"),
             "ok"));
    /* a runs until 10, b is queued: before 10 b, from 10 on a. */
    CHECK(store_pick_claim(f.s, 9, &id) == 0 && id != NULL && is(id, "b"));
    free(id);
    CHECK(store_pick_claim(f.s, 10, &id) == 0 && id != NULL && is(id, "a"));
    free(id);
    id = NULL;
out:
    free(id);
    teardown(&f);
}

static void test_store_lease_acquire_renew_expire_release(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 1000,
                "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"a\","
                "\"ttl_ms\":100}"),
             "ok"));
    CHECK(reply_int(&f, "expires_ms") == 1100 && reply_int(&f, "token") == 1);
    CHECK(is(op(&f, 1050,
                "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"b\","
                "\"ttl_ms\":100}"),
             "held"));
    CHECK(is(json_string_value(json_object_get(f.reply, "holder")), "a"));
    CHECK(reply_int(&f, "expires_ms") == 1100);
    /* A renewal extends and keeps the token. */
    CHECK(is(op(&f, 1090,
                "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"a\","
                "\"ttl_ms\":100}"),
             "ok"));
    CHECK(reply_int(&f, "expires_ms") == 1190 && reply_int(&f, "token") == 1);
    CHECK(is(op(&f, 1189, "{\"op\":\"holder\",\"scope\":\"s\"}"), "ok"));
    CHECK(is(json_string_value(json_object_get(f.reply, "holder")), "a"));
    CHECK(is(op(&f, 1190, "{\"op\":\"holder\",\"scope\":\"s\"}"), "ok"));
    CHECK(json_is_null(json_object_get(f.reply, "holder")));
    /* Expired: another holder takes it, with a new token. */
    CHECK(is(op(&f, 1190,
                "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"b\","
                "\"ttl_ms\":100}"),
             "ok"));
    CHECK(reply_int(&f, "token") == (int64_t)f.index);
    CHECK(is(
        op(&f, 1200, "{\"op\":\"release\",\"scope\":\"s\",\"holder\":\"a\"}"),
        "not_holder"));
    CHECK(is(json_string_value(json_object_get(f.reply, "holder")), "b"));
    CHECK(is(
        op(&f, 1200, "{\"op\":\"release\",\"scope\":\"s\",\"holder\":\"b\"}"),
        "ok"));
    CHECK(is(
        op(&f, 1200, "{\"op\":\"release\",\"scope\":\"s\",\"holder\":\"b\"}"),
        "not_holder"));
    CHECK(json_is_null(json_object_get(f.reply, "holder")));
    CHECK(is(op(&f, 1200,
                "{\"op\":\"acquire\",\"scope\":\"s\",\"holder\":\"a\","
                "\"ttl_ms\":100}"),
             "ok"));
out:
    teardown(&f);
}

static void test_store_registers(void)
{
    struct fixture f;

    setup(&f);
    CHECK(is(op(&f, 0, "{\"op\":\"read\",\"key\":\"k\"}"), "ok"));
    CHECK(json_is_null(json_object_get(f.reply, "value")) &&
          reply_int(&f, "version") == 0);
    CHECK(is(op(&f, 0, "{\"op\":\"cas\",\"key\":\"k\",\"from\":0,\"to\":1}"),
             "cas_mismatch"));
    CHECK(json_is_null(json_object_get(f.reply, "value")));
    CHECK(is(op(&f, 0, "{\"op\":\"write\",\"key\":\"k\",\"value\":5}"), "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"cas\",\"key\":\"k\",\"from\":5,\"to\":6}"),
             "ok"));
    CHECK(is(op(&f, 0, "{\"op\":\"cas\",\"key\":\"k\",\"from\":5,\"to\":7}"),
             "cas_mismatch"));
    CHECK(reply_int(&f, "value") == 6 && reply_int(&f, "version") == 2);
out:
    teardown(&f);
}

int main(void)
{
    test_store_create_get_update_delete();
    test_store_list_is_in_creation_order();
    test_store_claim_takes_oldest_queued_then_empty();
    test_store_expired_lease_is_claimed_again();
    test_store_ack_after_expiry_without_reclaim_is_accepted();
    test_store_nack_requeues_in_original_order();
    test_store_update_to_queued_makes_a_task_claimable();
    test_store_lost_claim_pick_is_taken_unchecked();
    test_store_pick_claim_prefers_lowest_seq();
    test_store_lease_acquire_renew_expire_release();
    test_store_registers();
    if (failures > 0) {
        printf("test_store: %d FAILED\n", failures);
        return 1;
    }
    printf("test_store: ok\n");
    return 0;
}
