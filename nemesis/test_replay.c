/* Tests of replay: reading the fault schedule a run followed back from its
 * history (nemesis_schedule_from_history). */
#include <math.h>
#include <string.h>

#include "nemesis/nemesis.h"
#include "test/unit.h"

static void add(struct history *h, double t_s, enum history_type type,
                const char *f, json_t *value)
{
    struct history_event e;
    memset(&e, 0, sizeof e);
    e.time = (int64_t)(t_s * 1e9);
    e.process = HISTORY_NEMESIS;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.value = value;
    history_add(h, &e);
    json_decref(value);
}

static void both(struct history *h, double t_s, const char *f, json_t *v)
{
    add(h, t_s, HISTORY_INVOKE, f, json_incref(v));
    add(h, t_s + 0.01, HISTORY_INFO, f, v);
}

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-6;
}

static void test_replay_pairs_each_fault_with_its_end(void)
{
    struct nemesis_step steps[8];
    struct history h;
    json_t *cut = json_pack("{s:s, s:{s:[s]}}", "shape", "isolate-leader",
                            "drops", "n1", "n2");
    json_t *n2 = json_pack("[s]", "n2");
    int skipped, n;

    history_init(&h);
    /* The fault phase began at 2 s. */
    both(&h, 5, "kill", json_pack("[s]", "n2"));
    both(&h, 6, "pause", json_pack("[s]", "n2"));
    both(&h, 6.5, "partition", json_incref(cut));
    both(&h, 7, "resume", json_pack("[s]", "n2"));
    both(&h, 7.5, "start", json_pack("[s]", "n2"));
    both(&h, 8, "heal", json_incref(cut));
    both(&h, 9, "stop", json_pack("[s, s]", "n1", "n3"));
    both(&h, 9.5, "meteor", json_pack("[s]", "n1")); /* unknown kind */
    json_decref(cut);

    n = nemesis_schedule_from_history(&h, 2000000000, 30, steps, 8, &skipped);
    CHECK(n == 4);
    CHECK(skipped == 1);
    CHECK(strcmp(steps[0].ops->name, "kill") == 0);
    CHECK(near(steps[0].at_s, 3) && near(steps[0].duration_s, 2.5));
    CHECK(json_equal(steps[0].replay, n2));
    /* pause ends at resume, not at the kill's start. */
    CHECK(strcmp(steps[1].ops->name, "pause") == 0);
    CHECK(near(steps[1].at_s, 4) && near(steps[1].duration_s, 1));
    CHECK(strcmp(steps[2].ops->name, "partition") == 0);
    CHECK(near(steps[2].duration_s, 1.5));
    CHECK(strcmp(json_string_value(
                     json_object_get(steps[2].replay, "shape")),
                 "isolate-leader") == 0);
    /* A restart ("stop") that never ended lasts until the phase ends. */
    CHECK(strcmp(steps[3].ops->name, "restart") == 0);
    CHECK(near(steps[3].at_s, 7) && near(steps[3].duration_s, 30 - 7));
    nemesis_steps_clear(steps, n);
    CHECK(steps[0].replay == NULL);
    json_decref(n2);
    history_close(&h);
}

static void test_replay_of_a_history_without_faults_is_empty(void)
{
    struct nemesis_step steps[2];
    struct history h;
    int skipped;

    history_init(&h);
    CHECK(nemesis_schedule_from_history(&h, 0, 10, steps, 2, &skipped) == 0);
    CHECK(skipped == 0);
    history_close(&h);
}

/* A reactive fault's value carries its trigger; its end is recorded as the
 * kind records it, and the replay takes the nodes from "nodes". */
static void test_replay_pairs_a_reactive_fault_with_its_end(void)
{
    struct nemesis_step steps[4];
    struct history h;
    json_t *trigger = json_pack("{s:s, s:s, s:I}", "node", "n3", "event",
                                "became_leader", "mono", (json_int_t)12345);
    int skipped, n;

    history_init(&h);
    both(&h, 3, "crash-restart",
         json_pack("{s:[s], s:O, s:i}", "nodes", "n3", "trigger", trigger,
                   "rule", 1));
    both(&h, 3.2, "partition",
         json_pack("{s:s, s:{s:[s]}, s:O, s:i}", "shape", "isolate", "drops",
                   "n1", "n2", "trigger", trigger, "rule", 0));
    both(&h, 3.05, "start", json_pack("[s]", "n3"));
    both(&h, 4, "heal",
         json_pack("{s:s, s:{s:[s]}}", "shape", "isolate", "drops", "n1",
                   "n2"));
    json_decref(trigger);
    n = nemesis_schedule_from_history(&h, 2000000000, 30, steps, 4, &skipped);
    CHECK(n == 2);
    CHECK(strcmp(steps[0].ops->name, "crash-restart") == 0);
    CHECK(near(steps[0].at_s, 1) && near(steps[0].duration_s, 0.05));
    CHECK(strcmp(steps[1].ops->name, "partition") == 0);
    CHECK(near(steps[1].duration_s, 0.8));
    nemesis_steps_clear(steps, n);
    history_close(&h);
}

int main(void)
{
    RUN(test_replay_pairs_a_reactive_fault_with_its_end);
    RUN(test_replay_pairs_each_fault_with_its_end);
    RUN(test_replay_of_a_history_without_faults_is_empty);
    return failures != 0;
}
