/* test_fsm: the SQLite state machine, without Raft.
 *
 * Usage: test_fsm [SEED]   (or FAULTLINE_SEED=N); the seed drives the
 * randomized model test and is printed first. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodes/taskd/command.h"
#include "nodes/taskd/fsm.h"

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,         \
                    __LINE__, __func__, #cond);                                \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        int rv_ = (expr);                                                      \
        if (rv_ != 0) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s returned %d\n", __FILE__, __LINE__, \
                    __func__, #expr, rv_);                                     \
            failures++;                                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

/* A scratch directory per test, removed at the end. */
struct scratch {
    char dir[256];
    char db[300];
    char db2[300];
};

static void scratch_init(struct scratch *s)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(s->dir, sizeof s->dir, "%s/test_fsm.XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(s->db, sizeof s->db, "%s/a.db", s->dir);
    snprintf(s->db2, sizeof s->db2, "%s/b.db", s->dir);
}

static void scratch_close(struct scratch *s)
{
    const char *names[] = {"a.db", "a.db-wal", "a.db-shm",
                           "b.db", "b.db-wal", "b.db-shm"};
    char path[400];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
        unlink(path);
    }
    rmdir(s->dir);
}

static struct fsm *open_fsm(const char *path)
{
    char err[512];
    struct fsm *f;

    if (fsm_open(path, &f, err, sizeof err) != 0) {
        fprintf(stderr, "fsm_open: %s\n", err);
        exit(1);
    }
    return f;
}

static int apply(struct fsm *f, uint64_t index, enum command_op op,
                 const char *key, int64_t a, int64_t b, enum fsm_result *result)
{
    struct command c = {.op = op, .key = (char *)key};
    void *buf;
    size_t len;
    int rv;

    if (op == COMMAND_WRITE) {
        c.value = a;
    } else {
        c.from = a;
        c.to = b;
    }
    rv = command_encode(&c, malloc, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = fsm_apply(f, index, buf, len, result);
    free(buf);
    return rv;
}

static int write_at(struct fsm *f, uint64_t index, const char *key,
                    int64_t value, enum fsm_result *result)
{
    return apply(f, index, COMMAND_WRITE, key, value, 0, result);
}

static int cas_at(struct fsm *f, uint64_t index, const char *key, int64_t from,
                  int64_t to, enum fsm_result *result)
{
    return apply(f, index, COMMAND_CAS, key, from, to, result);
}

/* True when @key reads as (@value, @version), or as unset if !@found. */
static bool reads_as(struct fsm *f, const char *key, bool found, int64_t value,
                     int64_t version)
{
    bool got_found;
    int64_t got_value;
    int64_t got_version;

    if (fsm_read(f, key, &got_found, &got_value, &got_version) != 0) {
        return false;
    }
    if (got_found != found) {
        return false;
    }
    return !found || (got_value == value && got_version == version);
}

static void test_fsm_new_database_is_empty(void)
{
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 0);
    CHECK(reads_as(f, "x", false, 0, 0));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_version_counts_successful_writes(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 10, &r));
    CHECK(r == FSM_APPLIED);
    CHECK_OK(write_at(f, 2, "x", 11, &r));
    CHECK_OK(cas_at(f, 3, "x", 11, 12, &r));
    CHECK(r == FSM_APPLIED);
    CHECK(reads_as(f, "x", true, 12, 3));
    CHECK(fsm_applied_index(f) == 3);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_replay_after_reopen_is_skipped(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;
    uint64_t i;

    scratch_init(&s);
    f = open_fsm(s.db);
    for (i = 1; i <= 20; i++) {
        CHECK_OK(write_at(f, i, i % 2 ? "odd" : "even", (int64_t)i, &r));
        CHECK(r == FSM_APPLIED);
    }
    fsm_close(f);

    f = open_fsm(s.db);
    CHECK(fsm_applied_index(f) == 20);
    for (i = 1; i <= 20; i++) {
        CHECK_OK(write_at(f, i, i % 2 ? "odd" : "even", 1000, &r));
        CHECK(r == FSM_SKIPPED);
    }
    CHECK(reads_as(f, "odd", true, 19, 10));
    CHECK(reads_as(f, "even", true, 20, 10));
    /* The next new index applies again. */
    CHECK_OK(write_at(f, 21, "odd", 21, &r));
    CHECK(r == FSM_APPLIED);
    CHECK(reads_as(f, "odd", true, 21, 11));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_gaps_in_indices_are_fine(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;

    /* Barriers and configuration entries take indices the FSM never sees. */
    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 3, "x", 1, &r));
    CHECK_OK(write_at(f, 7, "x", 2, &r));
    CHECK(r == FSM_APPLIED);
    CHECK_OK(write_at(f, 5, "x", 3, &r));
    CHECK(r == FSM_SKIPPED);
    CHECK(reads_as(f, "x", true, 2, 2));
    CHECK(fsm_applied_index(f) == 7);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_cas_mismatch_leaves_state_unchanged(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(cas_at(f, 1, "x", 0, 1, &r));
    CHECK(r == FSM_CAS_MISMATCH); /* unset is not 0 */
    CHECK(reads_as(f, "x", false, 0, 0));
    CHECK_OK(write_at(f, 2, "x", 5, &r));
    CHECK_OK(cas_at(f, 3, "x", 4, 6, &r));
    CHECK(r == FSM_CAS_MISMATCH);
    CHECK(reads_as(f, "x", true, 5, 1));
    /* A mismatch still consumes its index. */
    CHECK(fsm_applied_index(f) == 3);
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_bad_command_is_applied_as_noop(void)
{
    static const char junk[] = "{\"op\":\"delete\",\"key\":\"x\"}";
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 5, &r));
    CHECK_OK(fsm_apply(f, 2, junk, sizeof junk - 1, &r));
    CHECK(r == FSM_BAD_COMMAND);
    CHECK_OK(fsm_apply(f, 3, "\xff", 1, &r));
    CHECK(r == FSM_BAD_COMMAND);
    CHECK(fsm_applied_index(f) == 3);
    CHECK(reads_as(f, "x", true, 5, 1));
    fsm_close(f);
    scratch_close(&s);
}

static void test_fsm_snapshot_restores_same_state_in_fresh_fsm(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;
    int i;

    scratch_init(&s);
    a = open_fsm(s.db);
    for (i = 1; i <= 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 7);
        CHECK_OK(write_at(a, (uint64_t)i, key, i, &r));
    }
    CHECK_OK(cas_at(a, 51, "k1", 50, 99, &r));
    CHECK(r == FSM_APPLIED);
    CHECK_OK(fsm_snapshot(a, &image, &len));

    b = open_fsm(s.db2);
    CHECK_OK(fsm_restore(b, image, len));
    fsm_snapshot_free(image);
    CHECK(fsm_applied_index(b) == 51);
    CHECK(reads_as(b, "k1", true, 99, 9));
    CHECK(reads_as(b, "k0", true, 49, 7));
    CHECK(reads_as(b, "k6", true, 48, 7));
    /* Restored, then replayed: the snapshot's own indices are skipped. */
    CHECK_OK(write_at(b, 51, "k1", -1, &r));
    CHECK(r == FSM_SKIPPED);
    CHECK_OK(write_at(b, 52, "k1", 100, &r));
    CHECK(r == FSM_APPLIED);
    CHECK(reads_as(b, "k1", true, 100, 10));
    fsm_close(b);

    /* It ended on disk. */
    b = open_fsm(s.db2);
    CHECK(fsm_applied_index(b) == 52);
    CHECK(reads_as(b, "k1", true, 100, 10));
    CHECK(reads_as(b, "k0", true, 49, 7));
    fsm_close(b);
    fsm_close(a);
    scratch_close(&s);
}

static void test_fsm_restore_replaces_rather_than_merges(void)
{
    enum fsm_result r;
    struct scratch s;
    struct fsm *a;
    struct fsm *b;
    void *image;
    size_t len;

    scratch_init(&s);
    a = open_fsm(s.db);
    CHECK_OK(write_at(a, 1, "x", 1, &r));
    CHECK_OK(fsm_snapshot(a, &image, &len));

    b = open_fsm(s.db2);
    CHECK_OK(write_at(b, 1, "y", 1, &r));
    CHECK_OK(write_at(b, 2, "x", 7, &r));
    CHECK_OK(write_at(b, 9, "x", 8, &r));
    /* A restore may rewind: libraft restores its last snapshot at start. */
    CHECK_OK(fsm_restore(b, image, len));
    fsm_snapshot_free(image);
    CHECK(fsm_applied_index(b) == 1);
    CHECK(reads_as(b, "y", false, 0, 0));
    CHECK(reads_as(b, "x", true, 1, 1));
    fsm_close(b);
    fsm_close(a);
    scratch_close(&s);
}

static void test_fsm_restore_rejects_garbage_and_keeps_state(void)
{
    unsigned char junk[4096];
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;
    void *image;
    size_t len;

    scratch_init(&s);
    f = open_fsm(s.db);
    CHECK_OK(write_at(f, 1, "x", 1, &r));

    memset(junk, 0xab, sizeof junk);
    CHECK(fsm_restore(f, junk, sizeof junk) == -EINVAL);
    CHECK(fsm_restore(f, junk, 10) == -EINVAL);

    /* A valid SQLite file that is not ours. */
    CHECK_OK(fsm_snapshot(f, &image, &len));
    ((unsigned char *)image)[60] ^= 0x7f; /* user_version */
    CHECK(fsm_restore(f, image, len) == -EINVAL);
    fsm_snapshot_free(image);

    CHECK(fsm_applied_index(f) == 1);
    CHECK(reads_as(f, "x", true, 1, 1));
    CHECK_OK(write_at(f, 2, "x", 2, &r));
    CHECK(reads_as(f, "x", true, 2, 2));
    fsm_close(f);
    scratch_close(&s);
}

/* splitmix64 */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define MODEL_KEYS 5

static void test_fsm_random_ops_match_model(void)
{
    struct {
        bool set;
        int64_t value;
        int64_t version;
    } model[MODEL_KEYS] = {{0}};
    enum fsm_result r;
    struct scratch s;
    struct fsm *f;
    uint64_t index = 0;
    int step;
    int k;

    scratch_init(&s);
    f = open_fsm(s.db);
    for (step = 0; step < 400; step++) {
        char key[8];
        int64_t a = (int64_t)(rnd() % 4);
        int64_t b = (int64_t)(rnd() % 4);
        unsigned what = (unsigned)(rnd() % 10);

        k = (int)(rnd() % MODEL_KEYS);
        snprintf(key, sizeof key, "k%d", k);
        if (what < 4) {
            index += 1 + rnd() % 3;
            CHECK_OK(write_at(f, index, key, a, &r));
            CHECK(r == FSM_APPLIED);
            model[k].set = true;
            model[k].value = a;
            model[k].version++;
        } else if (what < 8) {
            bool match = model[k].set && model[k].value == a;
            index += 1 + rnd() % 3;
            CHECK_OK(cas_at(f, index, key, a, b, &r));
            CHECK(r == (match ? FSM_APPLIED : FSM_CAS_MISMATCH));
            if (match) {
                model[k].value = b;
                model[k].version++;
            }
        } else if (what == 8) {
            /* Replay an index already applied: must change nothing. */
            CHECK_OK(write_at(f, index - rnd() % (index + 1), key, 77, &r));
            CHECK(r == FSM_SKIPPED);
        } else {
            fsm_close(f);
            f = open_fsm(s.db);
            CHECK(fsm_applied_index(f) == index);
        }
        for (k = 0; k < MODEL_KEYS; k++) {
            snprintf(key, sizeof key, "k%d", k);
            CHECK(reads_as(f, key, model[k].set, model[k].value,
                           model[k].version));
        }
    }
    fsm_close(f);
    scratch_close(&s);
}

int main(int argc, char *argv[])
{
    const char *seed_text = argc > 1 ? argv[1] : getenv("FAULTLINE_SEED");
    uint64_t seed;

    seed = seed_text != NULL ? strtoull(seed_text, NULL, 0)
                             : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    printf("test_fsm: seed %" PRIu64 "\n", seed);
    fflush(stdout);
    rng_state = seed;

    test_fsm_new_database_is_empty();
    test_fsm_version_counts_successful_writes();
    test_fsm_replay_after_reopen_is_skipped();
    test_fsm_gaps_in_indices_are_fine();
    test_fsm_cas_mismatch_leaves_state_unchanged();
    test_fsm_bad_command_is_applied_as_noop();
    test_fsm_snapshot_restores_same_state_in_fresh_fsm();
    test_fsm_restore_replaces_rather_than_merges();
    test_fsm_restore_rejects_garbage_and_keeps_state();
    test_fsm_random_ops_match_model();

    if (failures > 0) {
        printf("test_fsm: %d FAILED (seed %" PRIu64 ")\n", failures, seed);
        return 1;
    }
    printf("test_fsm: ok\n");
    return 0;
}
