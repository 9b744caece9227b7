/* test_command: encoding of Raft log commands. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/taskd/command.h"

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

static void test_command_round_trips_write_and_cas(void)
{
    struct command in = {.op = COMMAND_WRITE, .key = "k", .value = -7};
    struct command out;
    char err[128];
    void *buf;
    size_t len;

    CHECK(command_encode(&in, malloc, &buf, &len) == 0);
    CHECK(command_decode(buf, len, &out, err, sizeof err) == 0);
    CHECK(out.op == COMMAND_WRITE && strcmp(out.key, "k") == 0 &&
          out.value == -7);
    command_clear(&out);
    free(buf);

    in = (struct command){
        .op = COMMAND_CAS, .key = "ключ", .from = INT64_MIN, .to = INT64_MAX};
    CHECK(command_encode(&in, malloc, &buf, &len) == 0);
    CHECK(command_decode(buf, len, &out, err, sizeof err) == 0);
    CHECK(out.op == COMMAND_CAS && strcmp(out.key, "ключ") == 0 &&
          out.from == INT64_MIN && out.to == INT64_MAX);
    command_clear(&out);
    free(buf);
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
        "{\"op\":\"delete\",\"key\":\"k\"}",
        "{\"op\":\"write\",\"key\":3,\"value\":1}",
        "{\"op\":\"write\",\"key\":\"k\",\"value\":1,\"value\":2}",
    };
    struct command c;
    char err[128];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(command_decode(bad[i], strlen(bad[i]), &c, err, sizeof err) ==
              -EINVAL);
        CHECK(err[0] != '\0');
    }
}

static void test_command_rejects_oversized_key(void)
{
    char *key = malloc(COMMAND_KEY_MAX + 2);
    struct command c = {.op = COMMAND_WRITE, .key = key};
    void *buf;
    size_t len;

    memset(key, 'k', COMMAND_KEY_MAX + 1);
    key[COMMAND_KEY_MAX + 1] = '\0';
    CHECK(command_encode(&c, malloc, &buf, &len) == -EINVAL);
    free(key);
}

int main(void)
{
    test_command_round_trips_write_and_cas();
    test_command_encoding_is_8_byte_aligned_json();
    test_command_rejects_bad_entries();
    test_command_rejects_oversized_key();
    if (failures > 0) {
        printf("test_command: %d FAILED\n", failures);
        return 1;
    }
    printf("test_command: ok\n");
    return 0;
}
