/* Tests of the workload kinds' decisions, without a cluster: what each
 * chooses, how it learns from completions, and its final phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/workload.h"
#include "test/unit.h"

struct fixture {
    struct scenario s;
    struct rng rng;
    struct workload_env env;
    const struct workload_kind *kind;
    void *state;
};

/* Set workload key @key of @f's scenario to the number @x. */
static void set_num(struct fixture *f, const char *key, double x)
{
    char path[64], err[256];
    json_t *v = json_real(x);
    snprintf(path, sizeof path, "workload.%s", key);
    if (scenario_set(&f->s, path, v, "test", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    json_decref(v);
}

static void set_int(struct fixture *f, const char *key, int x)
{
    char path[64], err[256];
    json_t *v = json_integer(x);
    snprintf(path, sizeof path, "workload.%s", key);
    if (scenario_set(&f->s, path, v, "test", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    json_decref(v);
}

static void setup(struct fixture *f, const char *name)
{
    char err[256];
    json_t *v = json_string(name);
    memset(f, 0, sizeof *f);
    scenario_defaults(&f->s);
    if (scenario_set(&f->s, "workload.name", v, "test", err, sizeof err) !=
        0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    json_decref(v);
    rng_init(&f->rng, 42);
    f->env.s = &f->s;
    f->env.rng = &f->rng;
    f->kind = workload_kind_find(name);
}

static void start(struct fixture *f)
{
    f->state = f->kind->new (&f->env, f->s.workload.clients);
}

static void teardown(struct fixture *f)
{
    if (f->state != NULL) {
        f->kind->free(f->state);
    }
}

static const char *field(const struct workload_op *op, const char *name)
{
    return json_string_value(json_object_get(op->value, name));
}

static void complete(struct fixture *f, int c, struct workload_op *op,
                     enum history_type type, const char *ok_json,
                     const char *error)
{
    json_t *v = ok_json != NULL ? json_loads(ok_json, 0, NULL) : json_null();
    f->kind->completed(f->state, c, op, type, v, error);
    json_decref(v);
    json_decref(op->value);
    memset(op, 0, sizeof *op);
}

static void test_workload_kinds_are_registered_by_name(void)
{
    CHECK(strcmp(workload_kind_find("register")->name, "register") == 0);
    CHECK(strcmp(workload_kind_find("tasks")->name, "tasks") == 0);
    CHECK(strcmp(workload_kind_find("queue")->name, "queue") == 0);
    CHECK(strcmp(workload_kind_find("lease")->name, "lease") == 0);
    CHECK(workload_kind_find("sets") == NULL);
    CHECK(strcmp(workload_kind_names(), "register, tasks, queue, lease") == 0);
}

static void test_tasks_first_op_creates_a_fresh_task_with_a_rid(void)
{
    struct fixture f;
    struct workload_op op = {0};
    struct workload_op op2 = {0};

    setup(&f, "tasks");
    start(&f);
    CHECK(f.kind->choose(f.state, 3, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "create") == 0);
    CHECK(strcmp(op.key, "t0") == 0);
    CHECK(strcmp(field(&op, "rid"), "c3-1") == 0);
    set_num(&f, "get", 0); set_num(&f, "update", 0); set_num(&f, "list", 0);
    CHECK(f.kind->choose(f.state, 3, &op2) == WORKLOAD_OP);
    CHECK(strcmp(op2.key, "t1") == 0);
    CHECK(strcmp(field(&op2, "rid"), "c3-2") == 0);
    complete(&f, 3, &op, HISTORY_OK, NULL, NULL);
    complete(&f, 3, &op2, HISTORY_OK, NULL, NULL);
    teardown(&f);
}

static void test_tasks_update_expects_what_was_last_seen(void)
{
    struct fixture f;
    struct workload_op op = {0};

    setup(&f, "tasks");
    start(&f);
    f.kind->choose(f.state, 0, &op); /* t0 */
    complete(&f, 0, &op, HISTORY_OK, "{\"status\":\"pending\",\"version\":1}",
             NULL);
    set_num(&f, "create", 0); set_num(&f, "get", 0); set_num(&f, "list", 0);
    for (int i = 0; i < 20; i++) {
        const char *expect;
        CHECK(f.kind->choose(f.state, 1, &op) == WORKLOAD_OP);
        CHECK(strcmp(op.f, "update") == 0 && strcmp(op.key, "t0") == 0);
        CHECK(field(&op, "rid") != NULL && field(&op, "status") != NULL);
        expect = field(&op, "expect_status");
        CHECK(expect != NULL ? strcmp(expect, "pending") == 0
                             : json_integer_value(json_object_get(
                                   op.value, "expect_version")) == 1);
        complete(&f, 1, &op, HISTORY_FAIL, NULL, "cas_mismatch");
    }
    teardown(&f);
}

static void test_tasks_final_phase_lists_until_a_list_succeeds(void)
{
    struct fixture f;
    struct workload_op op = {0};

    setup(&f, "tasks");
    start(&f);
    /* A list of the run does not count as the final one. */
    workload_op_set(&op, "list", NULL, json_null(), true);
    complete(&f, 0, &op, HISTORY_OK, "[]", NULL);
    CHECK(f.kind->final(f.state, 1, &op) == WORKLOAD_DONE);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "list") == 0 && op.read);
    complete(&f, 0, &op, HISTORY_FAIL, NULL, "timeout");
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_WAIT);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    complete(&f, 0, &op, HISTORY_OK, "[]", NULL);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_DONE);
    teardown(&f);
}

static void test_queue_worker_settles_what_it_claimed(void)
{
    struct fixture f;
    struct workload_op op = {0};

    setup(&f, "queue");
    set_num(&f, "enqueue", 0);
    set_num(&f, "nack", 0);
    start(&f);
    CHECK(f.kind->choose(f.state, 2, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "claim") == 0 && op.key[0] == '\0');
    CHECK(strcmp(field(&op, "worker"), "c2") == 0);
    CHECK(json_integer_value(json_object_get(op.value, "lease_ms")) == 1000);
    complete(&f, 2, &op, HISTORY_OK,
             "{\"task\":\"q5\",\"worker\":\"c2\",\"now_ms\":1,"
             "\"expires_ms\":1001}",
             NULL);
    CHECK(f.kind->choose(f.state, 2, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "ack") == 0 && strcmp(op.key, "q5") == 0);
    CHECK(strcmp(field(&op, "worker"), "c2") == 0);
    complete(&f, 2, &op, HISTORY_INFO, NULL, "timeout");
    CHECK(f.kind->choose(f.state, 2, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "claim") == 0);
    complete(&f, 2, &op, HISTORY_FAIL, NULL, "empty");
    teardown(&f);
}

static void test_queue_drain_ends_on_empty_after_leases_expire(void)
{
    struct fixture f;
    struct workload_op op = {0};

    setup(&f, "queue");
    set_int(&f, "clients", 1);
    set_int(&f, "lease_ms", 1);
    start(&f);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "claim") == 0);
    complete(&f, 0, &op, HISTORY_OK,
             "{\"task\":\"q1\",\"worker\":\"c0\",\"now_ms\":1,"
             "\"expires_ms\":2}",
             NULL);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "ack") == 0 && strcmp(op.key, "q1") == 0);
    complete(&f, 0, &op, HISTORY_OK, "{\"status\":\"done\"}", NULL);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    complete(&f, 0, &op, HISTORY_FAIL, NULL, "empty");
    /* Empty, but a lease from the run may still hold a task. */
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_WAIT);
    usleep(600 * 1000);
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "claim") == 0);
    complete(&f, 0, &op, HISTORY_FAIL, NULL, "empty");
    CHECK(f.kind->final(f.state, 0, &op) == WORKLOAD_DONE);
    teardown(&f);
}

static void test_lease_holder_renews_or_releases_its_scope(void)
{
    struct fixture f;
    struct workload_op op = {0};
    char scope[48];

    setup(&f, "lease");
    set_num(&f, "holder", 0); set_num(&f, "release", 0);
    start(&f);
    CHECK(f.kind->choose(f.state, 4, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "acquire") == 0 && op.key[0] == 's');
    CHECK(strcmp(field(&op, "holder"), "c4") == 0);
    CHECK(json_integer_value(json_object_get(op.value, "ttl_ms")) == 2000);
    snprintf(scope, sizeof scope, "%s", op.key);
    complete(&f, 4, &op, HISTORY_OK,
             "{\"holder\":\"c4\",\"token\":7,\"now_ms\":1,\"expires_ms\":2001}",
             NULL);
    for (int i = 0; i < 10; i++) { /* renews, never another scope */
        CHECK(f.kind->choose(f.state, 4, &op) == WORKLOAD_OP);
        CHECK(strcmp(op.f, "acquire") == 0 && strcmp(op.key, scope) == 0);
        complete(&f, 4, &op, HISTORY_OK,
                 "{\"holder\":\"c4\",\"token\":7,\"now_ms\":1,"
                 "\"expires_ms\":2001}",
                 NULL);
    }
    set_num(&f, "acquire", 0);
    set_num(&f, "release", 1);
    CHECK(f.kind->choose(f.state, 4, &op) == WORKLOAD_OP);
    CHECK(strcmp(op.f, "release") == 0 && strcmp(op.key, scope) == 0);
    complete(&f, 4, &op, HISTORY_OK, NULL, NULL);
    teardown(&f);
}

int main(void)
{
    RUN(test_workload_kinds_are_registered_by_name);
    RUN(test_tasks_first_op_creates_a_fresh_task_with_a_rid);
    RUN(test_tasks_update_expects_what_was_last_seen);
    RUN(test_tasks_final_phase_lists_until_a_list_succeeds);
    RUN(test_queue_worker_settles_what_it_claimed);
    RUN(test_queue_drain_ends_on_empty_after_leases_expire);
    RUN(test_lease_holder_renews_or_releases_its_scope);
    if (failures == 0) {
        printf("test_workload: all passed\n");
    }
    return failures != 0;
}
