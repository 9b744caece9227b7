/* test_redis_client: the Redis client's mapping against a real Redis, and
 * its following of a Sentinel failover. Driven by nodes/test_redis.sh,
 * which starts the servers:
 *
 *   test_redis_client mapping ADDR
 *     a primary at ADDR with a Sentinel at port + 1 and no replica;
 *   test_redis_client failover PRIMARY REPLICA PRIMARY_PID
 *     a primary and a replica, each with a Sentinel beside it; the test
 *     SIGKILLs PRIMARY_PID and expects the client to find the new one. */
#include "nodes/client.h"
#include "nodes/redis.h"
#include "test/unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static const struct client_ops *ops;
static const char *addr_a, *addr_b;
static int primary_pid;

struct outcome {
    bool done;
    enum history_type type;
    json_t *value;
    char error[64];
    char leader[64];
    bool elsewhere;
};

static void result_cb(void *arg, const struct client_result *res)
{
    struct outcome *o = arg;
    o->done = true;
    o->type = res->type;
    o->value = json_incref(res->value);
    snprintf(o->error, sizeof o->error, "%s", res->error ? res->error : "");
    snprintf(o->leader, sizeof o->leader, "%s", res->leader ? res->leader : "");
    o->elsewhere = res->elsewhere;
}

static void timeout_cb(uv_timer_t *t)
{
    (void)t;
}

/* One attempt of @f at @addr, bounded by 2 s (then abandoned: info). */
static struct outcome attempt(struct client *c, const char *addr,
                              const char *f, const char *key, json_t *value)
{
    struct outcome o = {.type = HISTORY_INFO};
    struct client_op op = {.f = f, .key = key, .value = value};
    uint64_t deadline = uv_now(&loop) + 2000;
    uv_timer_t t;

    uv_timer_init(&loop, &t);
    uv_timer_start(&t, timeout_cb, 50, 50);
    if (ops->invoke(c, addr, &op, result_cb, &o) != 0) {
        snprintf(o.error, sizeof o.error, "invoke");
        o.done = true;
    }
    while (!o.done && uv_now(&loop) < deadline) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    if (!o.done) {
        ops->abandon(c);
        snprintf(o.error, sizeof o.error, "timeout");
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    json_decref(value);
    return o;
}

static bool is_ok(const struct outcome *o, const char *want_json)
{
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    bool same = o->type == HISTORY_OK && json_equal(o->value, want);
    if (!same) {
        char *got = json_dumps(o->value, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(stderr, "  want ok %s, got type %d value %s error %s\n",
                want_json, o->type, got, o->error);
        free(got);
    }
    json_decref(want);
    return same;
}

static bool is_fail(const struct outcome *o, const char *error)
{
    bool same = o->type == HISTORY_FAIL && strcmp(o->error, error) == 0;
    if (!same) {
        fprintf(stderr, "  want fail %s, got type %d error %s\n", error,
                o->type, o->error);
    }
    return same;
}

static void done_with(struct client *c, struct outcome *o, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(o[i].value);
    }
    ops->free(c);
    uv_run(&loop, UV_RUN_NOWAIT);
}

#define J(text) json_loads(text, JSON_DECODE_ANY, NULL)

static void test_register_ops_map_to_get_set_and_a_cas_script(void)
{
    struct client *c = ops->new (&loop);
    struct outcome o[8];
    o[0] = attempt(c, addr_a, "write", "k1", J("3"));
    o[1] = attempt(c, addr_a, "read", "k1", json_null());
    o[2] = attempt(c, addr_a, "cas", "k1", J("[3, 4]"));
    o[3] = attempt(c, addr_a, "cas", "k1", J("[3, 5]"));
    o[4] = attempt(c, addr_a, "read", "k1", json_null());
    o[5] = attempt(c, addr_a, "read", "never", json_null());
    o[6] = attempt(c, addr_a, "status", NULL, json_null());
    done_with(c, o, 0);
    CHECK(is_ok(&o[0], "3"));
    CHECK(is_ok(&o[1], "3"));
    CHECK(is_ok(&o[2], "[3, 4]"));
    CHECK(is_fail(&o[3], "cas_mismatch") && !o[3].elsewhere);
    CHECK(is_ok(&o[4], "4"));
    CHECK(is_ok(&o[5], "null"));
    CHECK(o[6].type == HISTORY_OK &&
          strcmp(json_string_value(json_object_get(o[6].value, "redis_role")),
                 "master") == 0);
    for (int i = 0; i < 7; i++) {
        json_decref(o[i].value);
    }
}

static void test_task_ops_refuse_an_existing_id_and_answer_a_retry_once(void)
{
    struct client *c = ops->new (&loop);
    struct outcome o[12];
    int n = 0;
    o[n++] = attempt(c, addr_a, "create", "t1", J("{\"rid\": \"r1\"}"));
    o[n++] = attempt(c, addr_a, "create", "t1", J("{\"rid\": \"r1\"}"));
    o[n++] = attempt(c, addr_a, "create", "t1", J("{\"rid\": \"r2\"}"));
    o[n++] = attempt(c, addr_a, "update", "t1",
                     J("{\"rid\": \"r3\", \"status\": \"active\", "
                       "\"expect_status\": \"pending\"}"));
    o[n++] = attempt(c, addr_a, "update", "t1",
                     J("{\"rid\": \"r3\", \"status\": \"active\", "
                       "\"expect_status\": \"pending\"}"));
    o[n++] = attempt(c, addr_a, "update", "t1",
                     J("{\"rid\": \"r4\", \"status\": \"done\", "
                       "\"expect_version\": 1}"));
    o[n++] = attempt(c, addr_a, "update", "t9",
                     J("{\"status\": \"done\", \"expect_status\": \"x\"}"));
    o[n++] = attempt(c, addr_a, "get", "t1", json_null());
    o[n++] = attempt(c, addr_a, "get", "t9", json_null());
    o[n++] = attempt(c, addr_a, "list", NULL, json_null());
    ops->free(c);
    uv_run(&loop, UV_RUN_NOWAIT);
    n = 0;
    if (!is_ok(&o[n++], "{\"status\": \"pending\", \"version\": 1}") ||
        !is_ok(&o[n++], "{\"status\": \"pending\", \"version\": 1, "
                        "\"duplicate\": true}") ||
        !is_fail(&o[n++], "exists") ||
        !is_ok(&o[n++], "{\"status\": \"active\", \"version\": 2}") ||
        !is_ok(&o[n++], "{\"status\": \"active\", \"version\": 2, "
                        "\"duplicate\": true}") ||
        !is_fail(&o[n++], "cas_mismatch") || !is_fail(&o[n++], "not_found") ||
        !is_ok(&o[n++], "{\"status\": \"active\", \"version\": 2}") ||
        !is_ok(&o[n++], "null") ||
        !is_ok(&o[n++],
               "[{\"id\": \"t1\", \"status\": \"active\", \"version\": 2}]")) {
        fprintf(stderr, "  (op %d)\n", n - 1);
        failures++;
    }
    for (int i = 0; i < 10; i++) {
        json_decref(o[i].value);
    }
}

/* A claim's task, or "" when @o is not an ok claim for @worker whose lease
 * is @lease_ms long. */
static const char *claimed(const struct outcome *o, const char *worker,
                           json_int_t lease_ms)
{
    json_t *v = o->value;
    const char *task = json_string_value(json_object_get(v, "task"));
    const char *w = json_string_value(json_object_get(v, "worker"));
    json_int_t now = json_integer_value(json_object_get(v, "now_ms"));
    json_int_t exp = json_integer_value(json_object_get(v, "expires_ms"));
    if (o->type != HISTORY_OK || task == NULL || w == NULL ||
        strcmp(w, worker) != 0 || now <= 0 || exp != now + lease_ms) {
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(stderr,
                "  want a claim by %s (lease %lld), got type %d %s %s\n",
                worker, (long long)lease_ms, o->type, got, o->error);
        free(got);
        return "";
    }
    return task;
}

#define QOP(f, key, rid, worker, lease)                                        \
    attempt(c, addr_a, f, key,                                                 \
            lease > 0 ? json_pack("{s:s, s:s, s:i}", "rid", rid, "worker",     \
                                  worker, "lease_ms", lease)                   \
            : worker != NULL                                                   \
                ? json_pack("{s:s, s:s}", "rid", rid, "worker", worker)        \
                : json_pack("{s:s}", "rid", rid))

static void test_queue_claims_in_order_sweeps_expired_and_acks_once(void)
{
    struct client *c = ops->new (&loop);
    struct outcome o[20];
    int n = 0;
    o[n++] = QOP("enqueue", "q1", "e1", NULL, 0);   /* 0 */
    o[n++] = QOP("enqueue", "q1", "e1", NULL, 0);   /* retry */
    o[n++] = QOP("enqueue", "q2", "e2", NULL, 0);   /* 2 */
    o[n++] = QOP("claim", NULL, "k1", "w1", 60000); /* q1 */
    o[n++] = QOP("claim", NULL, "k1", "w1", 60000); /* retry */
    o[n++] = QOP("claim", NULL, "k2", "w2", 100);   /* 5: q2 */
    o[n++] = QOP("claim", NULL, "k3", "w3", 60000); /* empty */
    o[n++] = QOP("ack", "q1", "a1", "w2", 0);       /* 7 */
    o[n++] = QOP("ack", "q1", "a2", "w1", 0);       /* done */
    o[n++] = QOP("ack", "q1", "a2", "w1", 0);       /* retry */
    uv_sleep(150); /* w2's lease on q2 runs out */
    uv_update_time(&loop);
    o[n++] = QOP("claim", NULL, "k4", "w3", 60000); /* 10: q2 */
    o[n++] = QOP("ack", "q2", "a3", "w2", 0);       /* not w2's */
    o[n++] = QOP("nack", "q2", "n1", "w3", 0);      /* 12 */
    o[n++] = QOP("claim", NULL, "k5", "w1", 60000); /* q2 again */
    o[n++] = QOP("ack", "q2", "a4", "w1", 0);       /* 14 */
    o[n++] = QOP("claim", NULL, "k6", "w1", 60000); /* empty */
    done_with(c, o, 0);

    CHECK(is_ok(&o[0], "{\"status\": \"queued\"}"));
    CHECK(is_ok(&o[1], "{\"status\": \"queued\"}"));
    CHECK(is_ok(&o[2], "{\"status\": \"queued\"}"));
    CHECK(strcmp(claimed(&o[3], "w1", 60000), "q1") == 0);
    CHECK(json_equal(o[4].value, o[3].value)); /* the first answer again */
    CHECK(strcmp(claimed(&o[5], "w2", 100), "q2") == 0);
    CHECK(is_fail(&o[6], "empty") && !o[6].elsewhere);
    CHECK(is_fail(&o[7], "not_holder"));
    CHECK(is_ok(&o[8], "{\"status\": \"done\"}"));
    CHECK(is_ok(&o[9], "{\"status\": \"done\"}"));
    CHECK(strcmp(claimed(&o[10], "w3", 60000), "q2") == 0);
    CHECK(json_integer_value(json_object_get(o[10].value, "now_ms")) >=
          json_integer_value(json_object_get(o[5].value, "expires_ms")));
    CHECK(is_fail(&o[11], "not_holder"));
    CHECK(is_ok(&o[12], "{\"status\": \"queued\"}"));
    CHECK(strcmp(claimed(&o[13], "w1", 60000), "q2") == 0);
    CHECK(is_ok(&o[14], "{\"status\": \"done\"}"));
    CHECK(is_fail(&o[15], "empty"));
    for (int i = 0; i < n; i++) {
        json_decref(o[i].value);
    }
}

static void test_wait_without_replicas_makes_a_write_info(void)
{
    static struct redis_settings set = {.wait_replicas = 1, .wait_ms = 50};
    struct client *c = ops->new (&loop);
    struct outcome o[4];
    ops->configure(c, &set);
    o[0] = attempt(c, addr_a, "write", "k2", J("7"));
    o[1] = attempt(c, addr_a, "read", "k2", json_null());
    o[2] = attempt(c, addr_a, "cas", "k2", J("[1, 2]"));
    o[3] = attempt(c, addr_a, "enqueue", "qw", J("{\"rid\": \"ew\"}"));
    done_with(c, o, 4);
    CHECK(o[0].type == HISTORY_INFO && strcmp(o[0].error, "not_replicated") == 0);
    CHECK(o[1].type == HISTORY_OK); /* reads send no WAIT */
    CHECK(is_fail(&o[2], "cas_mismatch"));
    CHECK(o[3].type == HISTORY_INFO &&
          strcmp(o[3].error, "not_replicated") == 0);
}

static void test_no_sentinel_is_a_fail_to_try_elsewhere(void)
{
    struct client *c = ops->new (&loop);
    struct outcome o[1];
    o[0] = attempt(c, "127.0.0.1:1", "write", "k1", J("1"));
    done_with(c, o, 1);
    CHECK(o[0].type == HISTORY_FAIL && o[0].elsewhere);
}

/* The client follows what Sentinel says until a write is acknowledged;
 * each attempt's result is printed. Returns the node that took it. */
static const char *write_until_ok(struct client *c, const char *start,
                                  json_int_t v, int max_ms)
{
    static char served[64];
    char addr[64];
    uint64_t deadline = uv_now(&loop) + (uint64_t)max_ms;
    snprintf(addr, sizeof addr, "%s", start);
    while (uv_now(&loop) < deadline) {
        struct outcome o = attempt(c, addr, "write", "kf", json_integer(v));
        json_decref(o.value);
        if (o.type == HISTORY_OK) {
            snprintf(served, sizeof served, "%s", addr);
            return served;
        }
        printf("  write at %s: %s %s%s%s\n", addr,
               o.type == HISTORY_FAIL ? "fail" : "info", o.error,
               o.leader[0] ? " -> " : "", o.leader);
        if (o.leader[0] != '\0') {
            snprintf(addr, sizeof addr, "%s", o.leader);
        } else {
            /* no primary named: the other node, as the runner would */
            snprintf(addr, sizeof addr, "%s",
                     strcmp(addr, addr_a) == 0 ? addr_b : addr_a);
            uv_sleep(100);
        }
        uv_update_time(&loop);
    }
    return NULL;
}

static void test_client_follows_a_failover_to_the_new_primary(void)
{
    struct client *c = ops->new (&loop);
    const char *served;

    /* Pointed at the replica, Sentinel sends it to the primary. */
    served = write_until_ok(c, addr_b, 1, 5000);
    CHECK(served != NULL && strcmp(served, addr_a) == 0);
    CHECK(kill(primary_pid, SIGKILL) == 0);
    served = write_until_ok(c, addr_a, 2, 20000);
    ops->free(c);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(served != NULL && strcmp(served, addr_b) == 0);
}

int main(int argc, char **argv)
{
    ops = client_find("redis");
    uv_loop_init(&loop);
    if (argc == 1) {
        /* make test-c runs every test binary bare: this one needs servers,
         * which nodes/test_redis.sh starts before running it. */
        printf("skip test_redis_client: run by nodes/test_redis.sh\n");
        return 0;
    }
    if (ops == NULL || argc < 3) {
        fprintf(stderr, "usage: test_redis_client mapping ADDR | failover "
                        "PRIMARY REPLICA PRIMARY_PID\n");
        return 2;
    }
    addr_a = argv[2];
    if (strcmp(argv[1], "mapping") == 0) {
        RUN(test_register_ops_map_to_get_set_and_a_cas_script);
        RUN(test_task_ops_refuse_an_existing_id_and_answer_a_retry_once);
        RUN(test_queue_claims_in_order_sweeps_expired_and_acks_once);
        RUN(test_wait_without_replicas_makes_a_write_info);
        RUN(test_no_sentinel_is_a_fail_to_try_elsewhere);
    } else if (strcmp(argv[1], "failover") == 0 && argc == 5) {
        addr_b = argv[3];
        primary_pid = atoi(argv[4]);
        RUN(test_client_follows_a_failover_to_the_new_primary);
    } else {
        return 2;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return failures != 0;
}
