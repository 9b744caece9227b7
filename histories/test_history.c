/* test_history: the history file format, read and written. */
#include "histories/history.h"
#include "test/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void append_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot append to %s\n", path);
        exit(2);
    }
}

static struct history_event make_event(int process, enum history_type type,
                                       const char *f, const char *key,
                                       json_t *value, int64_t time)
{
    struct history_event e;
    memset(&e, 0, sizeof e);
    e.process = process;
    e.type = type;
    snprintf(e.f, sizeof e.f, "%s", f);
    e.key = (char *)key;
    e.value = value;
    e.time = time;
    return e;
}

static bool strings_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static void test_history_round_trip(void)
{
    char path[512];
    struct history_header hd = {.version = 1,
                                .scenario = "default",
                                .seed = 42,
                                .start_wall = "2026-11-22T10:00:00.123Z"};
    struct history_event in[6];
    struct history_writer *w;
    struct history h;
    struct history_error err;

    tmp_path(path, sizeof path, "round_trip.jsonl");
    in[0] = make_event(3, HISTORY_INVOKE, "cas", "k1", json_pack("[ii]", 1, 2),
                       12345);
    in[1] = make_event(HISTORY_NEMESIS, HISTORY_INFO, "kill", NULL,
                       json_pack("[s]", "n2"), 12400);
    in[2] =
        make_event(3, HISTORY_OK, "cas", "k1", json_pack("[ii]", 1, 2), 12500);
    in[2].node = "n1";
    in[3] = make_event(4, HISTORY_INVOKE, "read", "k1", NULL, 13000);
    in[4] = make_event(4, HISTORY_INFO, "read", "k1", NULL, 14000);
    in[4].error = "timeout: no reply in 500 ms";
    in[5] = make_event(7, HISTORY_FAIL, "write", "k\"2\n\xc3\xa9",
                       json_integer(-9000000000LL), 15000);

    w = history_writer_new(path, &hd);
    CHECK(w != NULL);
    for (int i = 0; i < 6; i++) {
        CHECK(history_writer_append(w, &in[i]) == 0);
        CHECK(in[i].index == i);
    }
    CHECK(history_writer_count(w) == 6);
    CHECK(history_writer_free(w) == 0);

    CHECK(history_load(path, &h, &err) == 0);
    CHECK(!h.partial);
    CHECK(h.header.version == 1);
    CHECK(h.header.seed == 42);
    CHECK(strings_equal(h.header.scenario, "default"));
    CHECK(strings_equal(h.header.start_wall, "2026-11-22T10:00:00.123Z"));
    CHECK(h.n == 6);
    for (int i = 0; i < 6; i++) {
        const struct history_event *a = &in[i], *b = &h.events[i];
        CHECK(b->index == i);
        CHECK(b->time == a->time);
        CHECK(b->process == a->process);
        CHECK(b->type == a->type);
        CHECK(strcmp(b->f, a->f) == 0);
        CHECK(strings_equal(b->key, a->key));
        CHECK(strings_equal(b->error, a->error));
        CHECK(strings_equal(b->node, a->node));
        CHECK(b->value != NULL);
        CHECK(a->value == NULL ? json_is_null(b->value)
                               : json_equal(a->value, b->value));
        CHECK(b->line == i + 2);
    }
    history_close(&h);
    for (int i = 0; i < 6; i++) {
        json_decref(in[i].value);
    }
}

/* The writer's output is exactly the documented line, keys in order. */
static void test_history_writes_documented_line(void)
{
    char path[512], buf[1024];
    struct history_header hd = {.version = 1,
                                .scenario = "default",
                                .seed = 42,
                                .start_wall = "2026-11-22T10:00:00.123Z"};
    struct history_event e = make_event(3, HISTORY_INVOKE, "cas", "k1",
                                        json_pack("[ii]", 1, 2), 12345);
    struct history_event n = make_event(HISTORY_NEMESIS, HISTORY_INFO, "kill",
                                        NULL, json_pack("[s]", "n2"), 20000);
    const char *want =
        "{\"format\":\"faultline-history\",\"version\":1,\"scenario\":"
        "\"default\",\"seed\":42,\"start_wall\":\"2026-11-22T10:00:00.123Z\"}\n"
        "{\"index\":0,\"time\":12345,\"process\":3,\"type\":\"invoke\",\"f\":"
        "\"cas\",\"key\":\"k1\",\"value\":[1,2],\"error\":\"e\",\"node\":"
        "\"n1\"}\n"
        "{\"index\":1,\"time\":20000,\"process\":\"nemesis\",\"type\":"
        "\"info\",\"f\":\"kill\",\"value\":[\"n2\"]}\n";
    struct history_writer *w;
    FILE *f;
    size_t len;

    e.error = "e";
    e.node = "n1";
    tmp_path(path, sizeof path, "documented.jsonl");
    w = history_writer_new(path, &hd);
    CHECK(w != NULL);
    CHECK(history_writer_append(w, &e) == 0);
    CHECK(history_writer_append(w, &n) == 0);
    CHECK(history_writer_free(w) == 0);
    f = fopen(path, "r");
    CHECK(f != NULL);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    json_decref(e.value);
    json_decref(n.value);
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", buf, want);
    }
    CHECK(strcmp(buf, want) == 0);
}

static void test_history_writer_refuses_existing_file(void)
{
    char path[512];
    struct history_header hd = {.version = 1};
    tmp_path(path, sizeof path, "exists.jsonl");
    write_file(path, "keep\n", 5);
    errno = 0;
    CHECK(history_writer_new(path, &hd) == NULL);
    CHECK(errno == EEXIST);
}

static void test_history_writer_rejects_bad_event(void)
{
    char path[512];
    struct history_header hd = {.version = 1};
    struct history_event e =
        make_event(0, HISTORY_INVOKE, "write", "k", json_integer(1), 10);
    struct history_writer *w;
    struct history h;

    tmp_path(path, sizeof path, "bad_event.jsonl");
    w = history_writer_new(path, &hd);
    CHECK(w != NULL);
    e.time = -1;
    CHECK(history_writer_append(w, &e) == -EINVAL);
    e.time = 10;
    e.key = "\xff\xfe"; /* not UTF-8 */
    CHECK(history_writer_append(w, &e) == -EINVAL);
    e.key = "k";
    e.type = (enum history_type)9;
    CHECK(history_writer_append(w, &e) == -EINVAL);
    e.type = HISTORY_INVOKE;
    CHECK(history_writer_append(w, &e) == 0);
    CHECK(e.index == 0);
    CHECK(history_writer_free(w) == 0);
    json_decref(e.value);
    /* Nothing half-written by the rejected events. */
    CHECK(history_load(path, &h, NULL) == 0);
    CHECK(h.n == 1 && !h.partial);
    history_close(&h);
}

static void test_history_big_seed_round_trips(void)
{
    char path[512];
    struct history_header hd = {.version = 1, .seed = UINT64_MAX - 1};
    struct history_writer *w;
    struct history h;

    tmp_path(path, sizeof path, "big_seed.jsonl");
    w = history_writer_new(path, &hd);
    CHECK(w != NULL);
    CHECK(history_writer_free(w) == 0);
    CHECK(history_load(path, &h, NULL) == 0);
    CHECK(h.header.seed == UINT64_MAX - 1);
    CHECK(h.header.scenario == NULL && h.n == 0);
    history_close(&h);
}

/* What a runner killed mid-write leaves: N whole lines, then part of one. */
static void test_history_drops_truncated_last_line(void)
{
    char path[512];
    struct history_header hd = {.version = 1, .seed = 7};
    struct history_writer *w;
    struct history h;
    struct history_error err;
    const int n = 100;

    tmp_path(path, sizeof path, "killed.jsonl");
    w = history_writer_new(path, &hd);
    CHECK(w != NULL);
    for (int i = 0; i < n; i++) {
        struct history_event e =
            make_event(i % 5, i % 2 ? HISTORY_OK : HISTORY_INVOKE, "write", "k",
                       json_integer(i), i * 10);
        CHECK(history_writer_append(w, &e) == 0);
        json_decref(e.value);
    }
    CHECK(history_writer_free(w) == 0);
    append_file(path, "{\"index\":100,\"time\":1000,\"process\":0,\"ty");

    CHECK(history_load(path, &h, &err) == 0);
    CHECK(h.n == (size_t)n);
    CHECK(h.partial);
    CHECK(h.events[n - 1].index == n - 1);
    history_close(&h);

    /* Every prefix of a file is readable: the kill can land anywhere. */
    {
        FILE *f = fopen(path, "r");
        static char whole[65536];
        size_t len;
        char cut[512];
        CHECK(f != NULL);
        len = fread(whole, 1, sizeof whole, f);
        fclose(f);
        tmp_path(cut, sizeof cut, "cut.jsonl");
        for (size_t at = 0; at <= len; at += 7) {
            write_file(cut, whole, at);
            CHECK(history_load(cut, &h, &err) == 0);
            size_t lines = 0;
            for (size_t i = 0; i < at; i++) {
                lines += whole[i] == '\n';
            }
            /* Whole lines are events (minus the header); a cut line is
             * dropped, or kept if it happens to parse. */
            CHECK(h.n + 1 >= lines || (lines == 0 && h.n == 0));
            CHECK(h.n <= lines);
            history_close(&h);
        }
    }
}

static void test_history_keeps_last_line_without_newline(void)
{
    char path[512];
    struct history h;
    const char *text = "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":"
                       "\"read\"}\n"
                       "{\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":"
                       "\"read\",\"value\":null}";
    tmp_path(path, sizeof path, "no_newline.jsonl");
    write_file(path, text, strlen(text));
    CHECK(history_load(path, &h, NULL) == 0);
    CHECK(h.n == 2 && !h.partial);
    CHECK(json_is_null(h.events[1].value));
    history_close(&h);
}

/* Hand-written histories: no header, blank lines, CRLF, no index. */
static void test_history_reads_hand_written(void)
{
    char path[512];
    struct history h;
    struct history_error err;
    const char *text =
        "\n"
        "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"write\","
        "\"key\":\"x\",\"value\":1}\r\n"
        "   \n"
        "{\"time\":5,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\","
        "\"value\":[\"n1\"]}\n"
        "{\"time\":9,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":"
        "\"x\",\"value\":1,\"node\":null}\n";
    tmp_path(path, sizeof path, "hand.jsonl");
    write_file(path, text, strlen(text));
    CHECK(history_load(path, &h, &err) == 0);
    CHECK(h.header.version == 1);
    CHECK(h.n == 3);
    CHECK(h.events[0].index == 0 && h.events[0].line == 2);
    CHECK(h.events[1].index == 1 && h.events[1].process == HISTORY_NEMESIS);
    CHECK(h.events[1].key == NULL && h.events[1].line == 4);
    CHECK(h.events[2].index == 2 && h.events[2].node == NULL);
    CHECK(json_integer_value(h.events[2].value) == 1);
    history_close(&h);
}

static void test_history_missing_file(void)
{
    struct history h;
    struct history_error err;
    char buf[1024];
    CHECK(history_load("histories/testdata/no/such/file.jsonl", &h, &err) ==
          -ENOENT);
    history_error_format(&err, buf, sizeof buf);
    CHECK(strstr(buf, "histories/testdata/no/such/file.jsonl") != NULL);
    CHECK(h.n == 0 && h.events == NULL);
}

static void test_history_empty_file(void)
{
    char path[512];
    struct history h;
    tmp_path(path, sizeof path, "empty.jsonl");
    write_file(path, "", 0);
    CHECK(history_load(path, &h, NULL) == 0);
    CHECK(h.n == 0 && !h.partial && h.header.version == 1);
    history_close(&h);
}

static void test_history_header_only(void)
{
    char path[512];
    struct history h;
    const char *text =
        "{\"format\":\"faultline-history\",\"version\":1,\"seed\":\"99\","
        "\"extra\":true}\n";
    tmp_path(path, sizeof path, "header_only.jsonl");
    write_file(path, text, strlen(text));
    CHECK(history_load(path, &h, NULL) == 0);
    CHECK(h.n == 0 && h.header.seed == 99);
    history_close(&h);
}

static void test_history_in_memory(void)
{
    struct history h;
    struct history_event e =
        make_event(1, HISTORY_INVOKE, "write", "k", json_integer(5), 3);
    history_init(&h);
    e.index = 77;
    CHECK(history_add(&h, &e) == 0);
    CHECK(history_add(&h, &e) == 0);
    json_decref(e.value);
    CHECK(h.n == 2 && h.events[1].index == 1);
    CHECK(h.events[0].key != e.key && strcmp(h.events[0].key, "k") == 0);
    CHECK(json_integer_value(h.events[1].value) == 5);
    history_close(&h);
}

static void test_history_type_names(void)
{
    for (int t = HISTORY_INVOKE; t <= HISTORY_INFO; t++) {
        CHECK(history_type_parse(history_type_name((enum history_type)t)) == t);
    }
    CHECK(history_type_parse("done") == -1);
}

/* Each folder in histories/testdata holds a malformed history.jsonl and, in
 * `error`, text the formatted error must contain. */
static void test_history_rejects_malformed(void)
{
    const char *root = "histories/testdata";
    DIR *d = opendir(root);
    struct dirent *de;
    int cases = 0;

    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char path[1024], epath[1024], want[512], got[1024];
        struct history h;
        struct history_error err;
        FILE *f;
        int rv;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s/history.jsonl", root, de->d_name);
        snprintf(epath, sizeof epath, "%s/%s/error", root, de->d_name);
        f = fopen(epath, "r");
        if (f == NULL || fgets(want, sizeof want, f) == NULL) {
            fprintf(stderr, "%s: unreadable\n", epath);
            failures++;
            if (f != NULL) {
                fclose(f);
            }
            continue;
        }
        fclose(f);
        want[strcspn(want, "\n")] = '\0';
        rv = history_load(path, &h, &err);
        history_error_format(&err, got, sizeof got);
        if (rv != -EINVAL || strstr(got, want) == NULL) {
            fprintf(stderr, "case %s: rv %d, error \"%s\", want \"%s\"\n",
                    de->d_name, rv, got, want);
            failures++;
        } else if (h.n != 0 || h.events != NULL) {
            fprintf(stderr, "case %s: history not left empty\n", de->d_name);
            failures++;
        }
        cases++;
    }
    closedir(d);
    CHECK(cases >= 10);
}

/* Random damage to a valid file: any outcome but a crash or a leak. */
static void test_history_survives_garbage(void)
{
    uint64_t seed = (uint64_t)getpid() * 2654435761u;
    const char *env = getenv("FAULTLINE_SEED");
    const char *lines[] = {
        "{\"format\":\"faultline-history\",\"version\":1,\"seed\":3}\n",
        "{\"index\":0,\"time\":1,\"process\":2,\"type\":\"invoke\",\"f\":"
        "\"cas\",\"key\":\"k\",\"value\":[1,2]}\n",
        "{\"index\":1,\"time\":3,\"process\":\"nemesis\",\"type\":\"info\","
        "\"f\":\"kill\",\"value\":[\"n1\"]}\n",
        "{\"index\":2,\"time\":4,\"process\":2,\"type\":\"ok\",\"f\":\"cas\","
        "\"key\":\"k\",\"value\":[1,2],\"node\":\"n3\",\"error\":\"x\"}\n",
    };
    const char junk[] = "{}[]\",:\\0123456789-eE.truefalsnl \n\r\t\x80\xff";
    char text[4096], path[512];

    if (env != NULL) {
        seed = strtoull(env, NULL, 0);
    }
    printf("test_history_survives_garbage: FAULTLINE_SEED=%" PRIu64 "\n", seed);
    tmp_path(path, sizeof path, "garbage.jsonl");
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        for (size_t i = 0; i < 4; i++) {
            size_t l = strlen(lines[i]);
            memcpy(text + len, lines[i], l);
            len += l;
        }
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int edits = 1 + (int)((seed >> 33) % 6);
        for (int k = 0; k < edits; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)((seed >> 33) % len);
            char c = junk[(seed >> 20) % (sizeof junk - 1)];
            switch ((seed >> 50) % 3) {
            case 0:
                text[at] = c;
                break;
            case 1: /* truncate */
                len = at;
                break;
            default: /* insert */
                if (len + 1 < sizeof text) {
                    memmove(text + at + 1, text + at, len - at);
                    text[at] = c;
                    len++;
                }
            }
            if (len == 0) {
                break;
            }
        }
        write_file(path, text, len);
        struct history h;
        struct history_error err;
        char msg[1024];
        int rv = history_load(path, &h, &err);
        if (rv == 0) {
            history_close(&h);
        } else {
            CHECK(rv == -EINVAL);
            history_error_format(&err, msg, sizeof msg);
            CHECK(err.line > 0);
        }
    }
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_history.XXXXXX", base);
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }

    RUN(test_history_round_trip);
    RUN(test_history_writes_documented_line);
    RUN(test_history_writer_refuses_existing_file);
    RUN(test_history_writer_rejects_bad_event);
    RUN(test_history_big_seed_round_trips);
    RUN(test_history_drops_truncated_last_line);
    RUN(test_history_keeps_last_line_without_newline);
    RUN(test_history_reads_hand_written);
    RUN(test_history_missing_file);
    RUN(test_history_empty_file);
    RUN(test_history_header_only);
    RUN(test_history_in_memory);
    RUN(test_history_type_names);
    RUN(test_history_rejects_malformed);
    RUN(test_history_survives_garbage);

    /* Remove the scratch files. */
    DIR *d = opendir(tmpdir);
    if (d != NULL) {
        struct dirent *de;
        char p[1024];
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(tmpdir);

    if (failures != 0) {
        printf("test_history: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_history: all passed\n");
    return 0;
}
