/* Tests of the reactive nemesis's decisions (reactive_decide), without a
 * cluster: a seed and an event sequence fix them; probability, role, where,
 * max and cooldown are respected; rules parse and fail naming the field.
 * The event sequences are random from a seed: REACTIVE_SEED=N repeats one. */
#include <stdlib.h>
#include <string.h>

#include "nemesis/reactive.h"
#include "nodes/db.h"
#include "test/unit.h"

#define MAX_EVENTS 2000

static uint64_t seed;

struct events {
    struct node_event e[MAX_EVENTS];
    json_t *obj[MAX_EVENTS];
    int n;
};

static void add(struct events *ev, int node, int64_t mono_ms, json_t *obj)
{
    struct node_event *e = &ev->e[ev->n];
    json_object_set_new(obj, "mono", json_integer(mono_ms * 1000000));
    ev->obj[ev->n] = obj;
    *e = (struct node_event){
        .node = node,
        .event = json_string_value(json_object_get(obj, "event")),
        .mono_ns = mono_ms * 1000000,
        .time_ns = -1,
        .obj = obj,
    };
    ev->n++;
}

static void clear(struct events *ev)
{
    for (int i = 0; i < ev->n; i++) {
        json_decref(ev->obj[i]);
    }
    ev->n = 0;
}

/* A plausible stream: elections now and then, appends and votes between,
 * one event every ms, from @s. */
static void random_events(struct events *ev, uint64_t s, int n)
{
    struct rng r;
    int64_t term = 1;
    rng_init(&r, s);
    for (int i = 0; i < n && ev->n < MAX_EVENTS; i++) {
        int node = (int)rng_below(&r, 3);
        uint64_t kind = rng_below(&r, 10);
        json_t *o;
        if (kind == 0) {
            term++;
            o = json_pack("{s:s, s:I}", "event", "became_leader", "term",
                          (json_int_t)term);
        } else if (kind == 1) {
            o = json_pack("{s:s, s:I}", "event", "became_follower", "term",
                          (json_int_t)term);
        } else if (kind < 5) {
            o = json_pack("{s:s, s:I, s:I}", "event", "vote_persisted", "term",
                          (json_int_t)term, "vote", (json_int_t)node + 1);
        } else {
            int64_t k = (int64_t)rng_below(&r, 4);
            o = json_pack("{s:s, s:I, s:I, s:I}", "event", "append_persisted",
                          "first", (json_int_t)i, "last", (json_int_t)(i + k),
                          "n", (json_int_t)(k + 1));
        }
        add(ev, node, i, o);
    }
}

static int parse(const char *text, struct nemesis_rules *rules, char *err,
                 size_t errlen)
{
    json_t *v = json_loads(text, 0, NULL);
    int rv;
    if (v == NULL) {
        snprintf(err, errlen, "bad JSON in the test");
        return -1;
    }
    rv = rule_parse(v, "t.json", rules, err, errlen);
    json_decref(v);
    return rv;
}

static int fires(const struct reactive_decision *d, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        k += d[i].fire;
    }
    return k;
}

static void test_reactive_same_seed_same_decisions(void)
{
    static struct events ev;
    static struct reactive_decision a[MAX_EVENTS], b[MAX_EVENTS], c[MAX_EVENTS];
    struct nemesis_rules rules;
    char err[256];
    int na, nb, nc;
    bool differ = false;

    CHECK(parse("[{\"on\": \"vote_persisted\", \"probability\": 0.5, "
                "\"delay_ms\": [0, 10], \"fault\": \"crash-restart\"},"
                "{\"on\": \"append_persisted\", \"role\": \"follower\", "
                "\"probability\": 0.3, \"fault\": \"kill\", "
                "\"target\": \"leader\"}]",
                &rules, err, sizeof err) == 0);
    random_events(&ev, seed, 1000);
    na = reactive_decide(&rules, seed, 3, ev.e, ev.n, a, MAX_EVENTS);
    nb = reactive_decide(&rules, seed, 3, ev.e, ev.n, b, MAX_EVENTS);
    nc = reactive_decide(&rules, seed + 1, 3, ev.e, ev.n, c, MAX_EVENTS);
    clear(&ev);
    CHECK(na > 100 && na == nb && na == nc);
    for (int i = 0; i < na; i++) {
        CHECK(a[i].rule == b[i].rule && a[i].event == b[i].event);
        CHECK(a[i].fire == b[i].fire && a[i].delay_ms == b[i].delay_ms);
        CHECK(a[i].n_targets == b[i].n_targets);
        CHECK(memcmp(a[i].targets, b[i].targets,
                     sizeof(int) * (size_t)a[i].n_targets) == 0);
        CHECK(a[i].delay_ms >= 0 && a[i].delay_ms <= 10);
        differ |= a[i].fire != c[i].fire || a[i].delay_ms != c[i].delay_ms;
    }
    CHECK(differ); /* another seed, other decisions */
    CHECK(fires(a, na) > 0 && fires(a, na) < na);
}

/* A rule's draws do not depend on the other rules, nor on whether it fired:
 * adding a rule, or a max that stops one, leaves the others' decisions. */
static void test_reactive_rules_draw_apart(void)
{
    static struct events ev;
    static struct reactive_decision a[MAX_EVENTS], b[MAX_EVENTS];
    struct nemesis_rules one, two;
    char err[256];
    int na, nb, k = 0;

    CHECK(parse("[{\"on\": \"vote_persisted\", \"probability\": 0.5, "
                "\"fault\": \"kill\"}]",
                &one, err, sizeof err) == 0);
    CHECK(parse("[{\"on\": \"vote_persisted\", \"probability\": 0.5, "
                "\"fault\": \"kill\"}, {\"on\": \"vote_persisted\", "
                "\"probability\": 0.5, \"fault\": \"pause\", \"max\": 3}]",
                &two, err, sizeof err) == 0);
    random_events(&ev, seed ^ 7, 500);
    na = reactive_decide(&one, seed, 3, ev.e, ev.n, a, MAX_EVENTS);
    nb = reactive_decide(&two, seed, 3, ev.e, ev.n, b, MAX_EVENTS);
    clear(&ev);
    CHECK(nb == 2 * na);
    for (int i = 0; i < nb; i++) {
        if (b[i].rule == 0) {
            CHECK(b[i].fire == a[k].fire && b[i].event == a[k].event);
            k++;
        }
    }
    CHECK(k == na);
    CHECK(fires(b, nb) - fires(a, na) == 3); /* rule 1 stopped at max 3 */
}

static void test_reactive_probability_bounds(void)
{
    static struct events ev;
    static struct reactive_decision d[MAX_EVENTS];
    struct nemesis_rules rules;
    char err[256];
    int n;

    CHECK(parse("[{\"on\": \"vote_persisted\", \"probability\": 0, "
                "\"fault\": \"kill\"}, {\"on\": \"vote_persisted\", "
                "\"fault\": \"kill\"}]",
                &rules, err, sizeof err) == 0);
    random_events(&ev, seed, 300);
    n = reactive_decide(&rules, seed, 3, ev.e, ev.n, d, MAX_EVENTS);
    clear(&ev);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        CHECK(d[i].fire == (d[i].rule == 1)); /* p 0 never, p 1 always */
        CHECK(d[i].fire || strcmp(d[i].why, "probability") == 0);
    }
}

static void test_reactive_role_is_the_nodes_last_announced(void)
{
    static struct events ev;
    struct reactive_decision d[16];
    struct nemesis_rules rules;
    char err[256];
    int n;

    CHECK(parse("[{\"on\": \"append_persisted\", \"role\": \"leader\", "
                "\"fault\": \"crash-restart\"}]",
                &rules, err, sizeof err) == 0);
    add(&ev, 0, 1,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 1));
    add(&ev, 1, 2,
        json_pack("{s:s, s:i}", "event", "became_leader", "term", 2));
    add(&ev, 0, 3,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 1));
    add(&ev, 1, 4,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 1));
    add(&ev, 1, 5,
        json_pack("{s:s, s:i}", "event", "became_follower", "term", 3));
    add(&ev, 1, 6,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 1));
    n = reactive_decide(&rules, seed, 3, ev.e, ev.n, d, 16);
    clear(&ev);
    CHECK(n == 4);
    CHECK(!d[0].fire && strcmp(d[0].why, "role") == 0); /* not known */
    CHECK(!d[1].fire && strcmp(d[1].why, "role") == 0); /* n1: no leader */
    CHECK(d[2].fire && d[2].event == 3 && d[2].n_targets == 1 &&
          d[2].targets[0] == 1);
    CHECK(!d[3].fire && strcmp(d[3].why, "role") == 0); /* stepped down */
}

static void test_reactive_max_cooldown_where_and_targets(void)
{
    static struct events ev;
    struct reactive_decision d[64];
    struct nemesis_rules rules;
    char err[256];
    int n;

    CHECK(parse("[{\"on\": \"append_persisted\", \"where\": {\"n\": \">=2\"},"
                " \"fault\": \"kill\", \"target\": \"others\", \"max\": 2,"
                " \"cooldown_ms\": 100}]",
                &rules, err, sizeof err) == 0);
    /* at 0 ms n=1 (where), 10 ms fires, 50 ms cooldown, 200 ms fires,
     * 400 ms max. */
    add(&ev, 2, 0,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 1));
    add(&ev, 2, 10,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 2));
    add(&ev, 0, 50,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 5));
    add(&ev, 0, 200,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 3));
    add(&ev, 1, 400,
        json_pack("{s:s, s:i}", "event", "append_persisted", "n", 3));
    n = reactive_decide(&rules, seed, 3, ev.e, ev.n, d, 64);
    clear(&ev);
    CHECK(n == 5);
    CHECK(!d[0].fire && strcmp(d[0].why, "where") == 0);
    CHECK(d[1].fire && d[1].n_targets == 2 && d[1].targets[0] == 0 &&
          d[1].targets[1] == 1);
    CHECK(!d[2].fire && strcmp(d[2].why, "cooldown") == 0);
    CHECK(d[3].fire && d[3].targets[0] == 1 && d[3].targets[1] == 2);
    CHECK(!d[4].fire && strcmp(d[4].why, "max") == 0);
}

/* A boolean condition: the leader's uncommitted configuration entry
 * ("committed": false) fires, the committed one does not. */
static void test_reactive_where_boolean(void)
{
    static struct events ev;
    struct reactive_decision d[8];
    struct nemesis_rules rules;
    char err[256];
    int n;

    CHECK(parse("[{\"on\": \"configuration\", \"where\":"
                " {\"committed\": false}, \"fault\": \"kill\"}]",
                &rules, err, sizeof err) == 0);
    add(&ev, 0, 0,
        json_pack("{s:s, s:b, s:i}", "event", "configuration", "committed",
                  0, "index", 7));
    add(&ev, 0, 10,
        json_pack("{s:s, s:b, s:i}", "event", "configuration", "committed",
                  1, "index", 7));
    add(&ev, 0, 20,
        json_pack("{s:s, s:s}", "event", "configuration", "committed",
                  "false"));
    n = reactive_decide(&rules, seed, 3, ev.e, ev.n, d, 8);
    clear(&ev);
    CHECK(n == 3);
    CHECK(d[0].fire);
    CHECK(!d[1].fire && strcmp(d[1].why, "where") == 0);
    CHECK(!d[2].fire && strcmp(d[2].why, "where") == 0);
}

static void test_reactive_leader_target_needs_a_leader(void)
{
    static struct events ev;
    struct reactive_decision d[8];
    struct nemesis_rules rules;
    char err[256];
    int n;

    CHECK(parse("[{\"on\": \"vote_persisted\", \"fault\": \"pause\", "
                "\"target\": \"leader\"}]",
                &rules, err, sizeof err) == 0);
    add(&ev, 0, 1,
        json_pack("{s:s, s:i}", "event", "vote_persisted", "term", 2));
    add(&ev, 2, 2,
        json_pack("{s:s, s:i}", "event", "became_leader", "term", 2));
    add(&ev, 1, 3,
        json_pack("{s:s, s:i}", "event", "became_leader", "term", 3));
    add(&ev, 0, 4,
        json_pack("{s:s, s:i}", "event", "vote_persisted", "term", 3));
    n = reactive_decide(&rules, seed, 3, ev.e, ev.n, d, 8);
    clear(&ev);
    CHECK(n == 2);
    CHECK(!d[0].fire && strcmp(d[0].why, "no leader") == 0);
    CHECK(d[1].fire && d[1].targets[0] == 1); /* the higher term wins */
}

static void expect_error(const char *rules_text, const char *field)
{
    struct nemesis_rules rules;
    char err[512] = "";
    int rv = parse(rules_text, &rules, err, sizeof err);
    if (rv == 0 || strstr(err, field) == NULL) {
        fprintf(stderr, "  rules %s: got %d \"%s\", wanted the field %s\n",
                rules_text, rv, err, field);
        failures++;
    }
}

static void test_reactive_bad_rules_name_the_field(void)
{
    int before = failures;
    expect_error("[{\"on\": \"x\", \"fault\": \"nuke\"}]",
                 "\"nemesis.rules[0].fault\": unknown value \"nuke\"");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\"}, {\"on\": \"x\", "
                 "\"fault\": \"kill\", \"probability\": 1.5}]",
                 "\"nemesis.rules[1].probability\"");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", \"probability\": -1}]",
                 "\"nemesis.rules[0].probability\"");
    expect_error(
        "[{\"on\": \"x\", \"fault\": \"kill\", \"delay_ms\": [10, 0]}]",
        "\"nemesis.rules[0].delay_ms\": range reversed");
    expect_error(
        "[{\"on\": \"x\", \"fault\": \"kill\", \"delay_ms\": [-1, 0]}]",
        "\"nemesis.rules[0].delay_ms\": a delay can't be negative");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", \"max\": 0}]",
                 "\"nemesis.rules[0].max\"");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", \"role\": \"king\"}]",
                 "\"nemesis.rules[0].role\": unknown value \"king\"");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", \"target\": \"everyone\"}]",
                 "\"nemesis.rules[0].target\": unknown value \"everyone\"");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", \"when\": 1}]",
                 "\"nemesis.rules[0].when\": unknown key");
    expect_error("[{\"fault\": \"kill\"}]", "\"nemesis.rules[0].on\": missing");
    expect_error("[{\"on\": \"x\", \"fault\": \"kill\", "
                 "\"where\": {\"n\": \">=two\"}}]",
                 "\"nemesis.rules[0].where.n\"");
    CHECK(failures == before);
}

static void test_reactive_unknown_event_names_the_field(void)
{
    struct nemesis_rules rules;
    char err[1024] = "";
    CHECK(parse("[{\"on\": \"became_leader\", \"fault\": \"kill\"}, "
                "{\"on\": \"vote_persisterd\", \"fault\": \"kill\"}]",
                &rules, err, sizeof err) == 0);
    CHECK(rule_validate(&rules, db_find("taskd")->events, "taskd", "t.json",
                        err, sizeof err) != 0);
    CHECK(strstr(err, "\"nemesis.rules[1].on\": unknown event "
                      "\"vote_persisterd\" for taskd") != NULL);
}

int main(void)
{
    const char *env = getenv("REACTIVE_SEED");
    seed = env != NULL ? strtoull(env, NULL, 10) : rng_fresh_seed();
    printf("test_reactive: seed %llu (REACTIVE_SEED=%llu to repeat)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    RUN(test_reactive_same_seed_same_decisions);
    RUN(test_reactive_rules_draw_apart);
    RUN(test_reactive_probability_bounds);
    RUN(test_reactive_role_is_the_nodes_last_announced);
    RUN(test_reactive_max_cooldown_where_and_targets);
    RUN(test_reactive_where_boolean);
    RUN(test_reactive_leader_target_needs_a_leader);
    RUN(test_reactive_bad_rules_name_the_field);
    RUN(test_reactive_unknown_event_names_the_field);
    return failures != 0;
}
