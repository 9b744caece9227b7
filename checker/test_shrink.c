/* Tests of shrink: ddmin over a history's operations. Randomized histories
 * print their seed; give one as argv[1] to replay it. */
#include "checker/shrink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker/model.h"
#include "test/unit.h"

static uint64_t seed;

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void add(struct history *h, int64_t t, int process,
                enum history_type type, const char *f, const char *key,
                json_t *value)
{
    struct history_event e;
    memset(&e, 0, sizeof e);
    e.time = t;
    e.process = process;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.key = (char *)key;
    e.value = value != NULL ? value : json_null();
    history_add(h, &e);
    json_decref(value);
}

/* @n register ops over 5 keys by 4 processes, two at a time overlapping,
 * with a kill now and then; with @stale, one read in the middle returns the
 * value its key held two writes earlier: invalid, on that key only. */
static void make_history(struct history *h, int n, bool stale)
{
    static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4"};
    int64_t value[5] = {-1, -1, -1, -1, -1}, old[5] = {-1, -1, -1, -1, -1};
    uint64_t r = seed;
    int64_t t = 1000;

    history_init(h);
    for (int i = 0; i < n; i++) {
        int k = (int)(next(&r) % 5);
        int p = i % 4;
        bool write = next(&r) % 2 == 0 || value[k] < 0;
        if (stale && i == n / 2) {
            /* The stale read: on a key that has had two values. */
            for (k = 0; k < 4 && old[k] < 0; k++) {
            }
            write = old[k] < 0;
        }
        if (i % 500 == 250) {
            add(h, t, HISTORY_NEMESIS, HISTORY_INFO, "kill",
                NULL, json_pack("[s]", "n2"));
        }
        if (write) {
            int64_t v = (int64_t)(next(&r) % 1000);
            add(h, t, p, HISTORY_INVOKE, "write", keys[k], json_integer(v));
            add(h, t + 5, p, HISTORY_OK, "write", keys[k], json_integer(v));
            if (value[k] != v) {
                old[k] = value[k];
            }
            value[k] = v;
        } else {
            int64_t seen = value[k];
            if (stale && i == n / 2) {
                seen = old[k];
            }
            add(h, t, p, HISTORY_INVOKE, "read", keys[k], NULL);
            add(h, t + 5, p, HISTORY_OK, "read", keys[k], json_integer(seen));
        }
        t += 10;
    }
}

static size_t client_invokes(const struct history *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        n += h->events[i].process != HISTORY_NEMESIS &&
             h->events[i].type == HISTORY_INVOKE;
    }
    return n;
}

static void test_shrink_cuts_thousands_of_ops_to_a_few(void)
{
    struct history h, out;
    struct shrink_stats st;
    struct verdict v;
    struct shrink_lin lin = {.model = model_find("cas-register")};
    size_t *idx = NULL;
    int rv;

    make_history(&h, 5000, true);
    CHECK(checker_linearizable(&h, lin.model, NULL, &v) == 0);
    CHECK(v.result == VERDICT_INVALID);
    lin.key = v.key != NULL ? strdup(v.key) : NULL;
    verdict_close(&v);

    rv = shrink_history(&h, shrink_keep_key, shrink_test_linearizable, &lin,
                        60, &out, &idx, &st);
    CHECK(rv == 0);
    printf("  5000 ops -> %zu ops, %zu checks, %.2f s\n", st.ops_after,
           st.checks, st.seconds);
    CHECK(st.ops_before == 5000);
    CHECK(st.ops_after <= 10);
    CHECK(st.ops_after == client_invokes(&out));
    CHECK(!st.time_out);
    /* Still invalid, on the same key. */
    CHECK(checker_linearizable(&out, lin.model, NULL, &v) == 0);
    CHECK(v.result == VERDICT_INVALID);
    CHECK(v.key != NULL && lin.key != NULL && strcmp(v.key, lin.key) == 0);
    verdict_close(&v);
    /* Events come from the original, in its order. */
    for (size_t i = 0; i + 1 < out.n; i++) {
        CHECK(idx[i] < idx[i + 1]);
        CHECK(out.events[i].time == h.events[idx[i]].time);
    }
    free(idx);
    free((char *)lin.key);
    history_close(&out);
    history_close(&h);
}

static void test_shrink_refuses_a_valid_history(void)
{
    struct history h, out;
    struct shrink_stats st;
    struct shrink_lin lin = {.model = model_find("cas-register")};
    size_t *idx = NULL;

    make_history(&h, 500, false);
    CHECK(shrink_history(&h, NULL, shrink_test_linearizable, &lin, 10, &out,
                         &idx, &st) == -EINVAL);
    CHECK(idx == NULL);
    history_close(&h);
}

/* Out of time at once: the answer is the history it started from (still
 * invalid), and says it is not minimal. */
static void test_shrink_time_limit_keeps_a_failing_history(void)
{
    struct history h, out;
    struct shrink_stats st;
    struct verdict v;
    struct shrink_lin lin = {.model = model_find("cas-register")};
    size_t *idx = NULL;
    int rv;

    make_history(&h, 2000, true);
    rv = shrink_history(&h, NULL, shrink_test_linearizable, &lin, 1e-9, &out,
                        &idx, &st);
    CHECK(rv == 0);
    CHECK(st.time_out);
    CHECK(checker_linearizable(&out, lin.model, NULL, &v) == 0);
    CHECK(v.result == VERDICT_INVALID);
    verdict_close(&v);
    free(idx);
    history_close(&out);
    history_close(&h);
}

int main(int argc, char **argv)
{
    seed = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
    printf("test_shrink: seed %" PRIu64 "\n", seed);
    RUN(test_shrink_cuts_thousands_of_ops_to_a_few);
    RUN(test_shrink_refuses_a_valid_history);
    RUN(test_shrink_time_limit_keeps_a_failing_history);
    if (failures != 0) {
        printf("test_shrink: %d failed (seed %" PRIu64 ")\n", failures, seed);
    }
    return failures != 0;
}
