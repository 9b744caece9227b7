/* test_registry: workloads, checkers and models come from one table; the
 * header of a history says which, the op names are the fallback. */
#include "checker/registry.h"
#include "test/unit.h"

#include <errno.h>
#include <string.h>

#define DATA "checker/testdata/registry/"

static int plan_of(const char *path, const struct registry_choice *c,
                   struct registry_plan *p, bool *in_header, char *err,
                   size_t errlen)
{
    struct history h;
    struct history_error herr;
    int rv = history_load(path, &h, &herr);
    if (rv != 0) {
        snprintf(err, errlen, "%s", herr.text);
        return rv;
    }
    rv = registry_plan(&h, c, p, in_header, err, errlen);
    history_close(&h);
    return rv;
}

static void test_registry_guess_follows_op_names(void)
{
    struct history h;
    struct history_event e = {.process = 0, .type = HISTORY_INVOKE};
    history_init(&h);
    CHECK(strcmp(registry_guess(&h)->name, "register") == 0);
    snprintf(e.f, sizeof e.f, "get");
    CHECK(history_add(&h, &e) == 0);
    CHECK(strcmp(registry_guess(&h)->name, "kv") == 0);
    /* A get is a task get when the history also creates tasks. */
    snprintf(e.f, sizeof e.f, "create");
    CHECK(history_add(&h, &e) == 0);
    CHECK(strcmp(registry_guess(&h)->name, "tasks") == 0);
    history_close(&h);
    history_init(&h);
    snprintf(e.f, sizeof e.f, "holder");
    CHECK(history_add(&h, &e) == 0);
    CHECK(strcmp(registry_guess(&h)->name, "lease") == 0);
    history_close(&h);
}

static void test_registry_by_request_as_declared(void)
{
    CHECK(registry_by_request("task-record"));
    CHECK(registry_by_request("task")); /* the alias */
    CHECK(registry_by_request("lease"));
    CHECK(!registry_by_request("cas-register"));
    CHECK(!registry_by_request("kv"));
    CHECK(!registry_by_request("nonesuch"));
}

static void test_registry_known_lists(void)
{
    char buf[128];
    registry_known_checkers(buf, sizeof buf);
    CHECK(strcmp(buf, "linearizable, set, queue, lease, converge, membership, "
                      "raft") == 0);
    registry_known_workloads(buf, sizeof buf);
    CHECK(strcmp(buf, "tasks, queue, lease, kv, register") == 0);
    registry_known_models(buf, sizeof buf);
    CHECK(strcmp(buf, "task-record, lease, kv, cas-register") == 0);
}

/* The header's checkers win over the op names (register ops here). */
static void test_registry_header_checkers_win(void)
{
    struct registry_choice c = {0};
    struct registry_plan p;
    bool in_header;
    char err[256];
    CHECK(plan_of(DATA "lease_header_register_ops.jsonl", &c, &p, &in_header,
                  err, sizeof err) == 0);
    CHECK(p.n == 1 && strcmp(p.checkers[0]->name, "lease") == 0);
    CHECK(p.model == NULL);
    CHECK(strcmp(p.from, "header") == 0);
    /* --checker still forces. */
    c.checkers = "linearizable";
    CHECK(plan_of(DATA "lease_header_register_ops.jsonl", &c, &p, &in_header,
                  err, sizeof err) == 0);
    CHECK(p.n == 1 && strcmp(p.checkers[0]->name, "linearizable") == 0);
    CHECK(p.model != NULL && strcmp(p.model->name, "lease") == 0);
}

static void test_registry_header_model_wins(void)
{
    struct registry_choice c = {.workload = "tasks"};
    struct registry_plan p;
    bool in_header;
    char err[256];
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == 0);
    CHECK(p.n == 3 && p.model != NULL && strcmp(p.model->name, "kv") == 0);
    CHECK(strcmp(p.workload, "register") == 0); /* header over scenario */
    /* The probes' checker after linearizable (which then runs alone among
     * the checkers of the workload's ops). */
    CHECK(strcmp(p.checkers[0]->name, "linearizable") == 0 &&
          strcmp(p.checkers[1]->name, "converge") == 0 && p.checkers[1]->probe);
}

static void test_registry_rejects_unknown_names(void)
{
    struct registry_choice c = {0};
    struct registry_plan p;
    bool in_header = false;
    char err[256];
    CHECK(plan_of(DATA "unknown_workload.jsonl", &c, &p, &in_header, err,
                  sizeof err) == -EINVAL);
    CHECK(in_header);
    CHECK(strstr(err, "field \"workload\": unknown workload \"bank\" "
                      "(known: tasks, queue, lease, kv, register") != NULL);
    CHECK(plan_of(DATA "unknown_checker.jsonl", &c, &p, &in_header, err,
                  sizeof err) == -EINVAL);
    CHECK(in_header);
    CHECK(strstr(err, "field \"checkers\": unknown checker \"elle\" (known: "
                      "linearizable, set, queue, lease, converge, membership, "
                      "raft)") != NULL);
    c.checkers = "set,bogus";
    CHECK(plan_of(DATA "unknown_checker.jsonl", &c, &p, &in_header, err,
                  sizeof err) == -EINVAL);
    CHECK(!in_header &&
          strstr(err, "--checker: unknown checker \"bogus\"") != NULL);
    c = (struct registry_choice){.model = "paxos"};
    CHECK(plan_of(DATA "unknown_checker.jsonl", &c, &p, &in_header, err,
                  sizeof err) == -EINVAL);
    CHECK(!in_header && strstr(err, "--model: unknown model \"paxos\" "
                                    "(known: task-record") != NULL);
}

/* A run-directory checker (raft) joins every run directory's plan, last;
 * --checker chooses it or leaves it out; a history file never has it. */
static void test_registry_run_dir_checkers(void)
{
    struct registry_choice c = {.workload = "tasks"};
    struct registry_plan p;
    bool in_header;
    char err[256];
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == 0);
    CHECK(!registry_plan_has(&p, "raft"));
    c.run_dir = true;
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == 0);
    CHECK(p.n == 4 && strcmp(p.checkers[3]->name, "raft") == 0 &&
          p.checkers[3]->report_run != NULL && p.checkers[3]->report == NULL);
    c.checkers = "set";
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == 0);
    CHECK(p.n == 1 && !registry_plan_has(&p, "raft"));
    c.checkers = "raft";
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == 0);
    CHECK(p.n == 1 && strcmp(p.checkers[0]->name, "raft") == 0);
    c.run_dir = false;
    CHECK(plan_of(DATA "workload_model.jsonl", &c, &p, &in_header, err,
                  sizeof err) == -EINVAL);
    CHECK(strstr(err, "--checker: raft judges a run directory") != NULL);
}

int main(void)
{
    RUN(test_registry_guess_follows_op_names);
    RUN(test_registry_by_request_as_declared);
    RUN(test_registry_known_lists);
    RUN(test_registry_run_dir_checkers);
    RUN(test_registry_header_checkers_win);
    RUN(test_registry_header_model_wins);
    RUN(test_registry_rejects_unknown_names);
    if (failures == 0) {
        printf("test_registry: all passed\n");
    }
    return failures != 0;
}
