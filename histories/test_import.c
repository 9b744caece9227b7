/* test_import: the EDN reader and the importers, and EDN export. */
#include "histories/edn.h"
#include "test/unit.h"
#include "histories/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

/* Parse @text as one EDN value; return it (or NULL with @err). */
static json_t *edn1(const char *text, struct edn_error *err)
{
    struct edn_reader r;
    json_t *v = NULL;
    edn_reader_init(&r, text, strlen(text));
    return edn_read(&r, &v, err) == 1 ? v : NULL;
}

static void test_edn_reads_values(void)
{
    struct edn_error err;
    json_t *v = edn1("{:process 3, :type :ok, :f :cas, :value [1 -2], "
                     ":key \"a\\\"b\", :x nil, :t true, :r 1.5, #_ :gone "
                     ":s #{1}, :l (1 2) :tag #inst \"2020\" :c \\a}",
                     &err);
    CHECK(v != NULL);
    CHECK(json_integer_value(json_object_get(v, "process")) == 3);
    CHECK(strcmp(json_string_value(json_object_get(v, "type")), "ok") == 0);
    CHECK(json_array_size(json_object_get(v, "value")) == 2);
    CHECK(json_integer_value(json_array_get(json_object_get(v, "value"), 1)) ==
          -2);
    CHECK(strcmp(json_string_value(json_object_get(v, "key")), "a\"b") == 0);
    CHECK(json_is_null(json_object_get(v, "x")));
    CHECK(json_is_true(json_object_get(v, "t")));
    CHECK(json_real_value(json_object_get(v, "r")) == 1.5);
    CHECK(json_object_get(v, "gone") == NULL);
    CHECK(json_array_size(json_object_get(v, "s")) == 1);
    CHECK(strcmp(json_string_value(json_object_get(v, "tag")), "2020") == 0);
    CHECK(strcmp(json_string_value(json_object_get(v, "c")), "a") == 0);
    json_decref(v);
}

struct bad_case {
    const char *text;
    int line, column;
    const char *words;
};

static void test_edn_rejects_malformed_with_place(void)
{
    static const struct bad_case cases[] = {
        {"{:a 1", 1, 1, "not closed"},
        {"[1 2}", 1, 5, "where ']'"},
        {"{:a 1 :b}", 1, 7, "without a value"},
        {"\"abc", 1, 1, "string not closed"},
        {"\n  99999999999999999999", 2, 3, "64 bits"},
        {"{:a 1 :a 2}", 1, 7, "duplicate"},
        {"[1 ]]", 1, 1, NULL}, /* one value read fine; see below */
        {"\"\\q\"", 1, 3, "unknown escape"},
        {"#", 1, 1, "'#'"},
        {"{[1] 2}", 1, 2, "map key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct edn_error err = {0};
        json_t *v = edn1(cases[i].text, &err);
        if (cases[i].words == NULL) {
            json_decref(v);
            continue;
        }
        if (v != NULL || err.line != cases[i].line ||
            err.column != cases[i].column ||
            strstr(err.text, cases[i].words) == NULL) {
            fprintf(stderr, "case %zu \"%s\": got %d:%d %s\n", i, cases[i].text,
                    err.line, err.column, err.text);
        }
        CHECK(v == NULL);
        CHECK(err.line == cases[i].line);
        CHECK(err.column == cases[i].column);
        CHECK(strstr(err.text, cases[i].words) != NULL);
    }
}

static void test_edn_rejects_deep_nesting(void)
{
    char buf[2000];
    struct edn_error err;
    memset(buf, '[', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    CHECK(edn1(buf, &err) == NULL);
    CHECK(strstr(err.text, "nested deeper") != NULL);
}

static void test_import_jepsen_vector_skips_nothing(void)
{
    const char *p = write_tmp(
        "h.edn", "[{:type :invoke, :f :write, :value 1, :process 0, "
                 ":time 10, :index 0}\n"
                 " {:type :info, :f :start, :process :nemesis, :time 11, "
                 ":index 1}\n"
                 " {:type :ok, :f :write, :value 1, :process 0, :time 12, "
                 ":index 2}]\n");
    struct history h;
    struct history_error err;
    enum history_format used;
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, &used, &err) == 0);
    CHECK(used == HISTORY_FORMAT_EDN);
    CHECK(h.n == 3);
    CHECK(h.events[1].process == HISTORY_NEMESIS);
    CHECK(h.events[2].time == 12 && h.events[2].line == 3);
    history_close(&h);
}

static void test_import_edn_errors_name_the_place(void)
{
    struct history h;
    struct history_error err;
    const char *p =
        write_tmp("bad.edn", "{:process 0, :type :invoke, :f :get, "
                             ":key \"k\"}\n"
                             "{:process 0, :type :okay, :f :get}\n");
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, NULL, &err) == -EINVAL);
    CHECK(err.line == 2 && err.column == 1);
    CHECK(strstr(err.text, ":type") != NULL);
    p = write_tmp("cut.edn", "[{:process 0, :type :invoke, :f :read, :time 1}\n"
                             " {:process 0, :type :ok, :f ");
    CHECK(history_import(p, HISTORY_FORMAT_EDN, &h, NULL, &err) == -EINVAL);
    CHECK(err.line == 2);
}

/* Jepsen's file order is the real-time order: a :time going back is
 * moved after the previous event's, counted, and the history still reads
 * (issue 16, item 12). */
static void test_import_edn_time_going_back_follows_file_order(void)
{
    struct history h;
    struct history_error err;
    char warn[512];
    const char *p = write_tmp(
        "back.edn",
        "{:type :invoke, :f :write, :value 1, :process 0, :time 100}\n"
        "{:type :ok, :f :write, :value 1, :process 0, :time 200}\n"
        "{:type :invoke, :f :read, :process 1, :time 150}\n"
        "{:type :ok, :f :read, :value nil, :process 1, :time 120}\n"
        "{:type :invoke, :f :read, :process 1, :time 300}\n");
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, NULL, &err) == 0);
    CHECK(h.n == 5 && h.time_back == 2 && h.time_back_line == 3);
    CHECK(h.events[1].time == 200 && h.events[2].time == 201 &&
          h.events[3].time == 202 && h.events[4].time == 300);
    history_retimed_warning(&h, "back.edn", warn, sizeof warn);
    CHECK(strstr(warn, "back.edn:3: warning: 2 events' :time went back") ==
          warn);
    history_close(&h);
}

/* What Jepsen writes and the importer used to refuse or misread: an
 * event without :time among timed ones, missing or repeated :index,
 * keys it does not know, :info without :value, nemesis ops, and
 * #jepsen.history.Op records. */
static void test_import_edn_reads_what_jepsen_writes(void)
{
    struct history h;
    struct history_error err;
    enum history_format used;
    const char *p = write_tmp(
        "jepsen.edn",
        "{:type :info, :f :start, :process :nemesis, :value nil}\n"
        "{:type :invoke, :f :write, :value 1, :process 0, :time 100, "
        ":index 3, :node \"n1\", :debug {:a 1}}\n"
        "{:type :info, :f :start-partition, :process :nemesis, :value "
        "[:isolated {\"n1\" #{\"n2\"}}]}\n"
        "{:type :info, :f :write, :process 0, :time 200, :index 3, "
        ":error :timeout}\n");
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, &used, &err) == 0);
    CHECK(used == HISTORY_FORMAT_EDN);
    CHECK(h.n == 4 && h.untimed == 2 && h.time_back == 0);
    CHECK(h.events[0].process == HISTORY_NEMESIS && h.events[0].time == 0);
    CHECK(h.events[2].time == 101 && h.events[3].time == 200);
    CHECK(h.events[3].value == NULL || json_is_null(h.events[3].value));
    history_close(&h);
    p = write_tmp("op.edn", "#jepsen.history.Op{:index 0, :time 1, :type "
                            ":invoke, :process 0, :f :read, :value nil}\n"
                            "#jepsen.history.Op{:index 1, :time 2, :type "
                            ":ok, :process 0, :f :read, :value 3}\n");
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, &used, &err) == 0);
    CHECK(used == HISTORY_FORMAT_EDN && h.n == 2);
    CHECK(json_integer_value(h.events[1].value) == 3);
    history_close(&h);
}

static void test_import_etcd_log_and_empty(void)
{
    struct history h;
    struct history_error err;
    enum history_format used;
    const char *p =
        write_tmp("e.log", "noise line\n"
                           "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]\n"
                           "INFO  jepsen.util - 1 :info :cas :timed-out\n");
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, &used, &err) == 0);
    CHECK(used == HISTORY_FORMAT_ETCD_LOG && h.n == 2);
    CHECK(json_array_size(h.events[0].value) == 2);
    CHECK(h.events[1].type == HISTORY_INFO);
    CHECK(strcmp(h.events[1].error, "timed-out") == 0);
    history_close(&h);
    p = write_tmp("empty.log", "");
    CHECK(history_import(p, HISTORY_FORMAT_ETCD_LOG, &h, NULL, &err) ==
          -EINVAL);
    CHECK(strstr(err.text, "no events") != NULL);
    p = write_tmp("badv.log", "INFO  jepsen.util - 1 :invoke :cas [1 2\n");
    CHECK(history_import(p, HISTORY_FORMAT_ETCD_LOG, &h, NULL, &err) ==
          -EINVAL);
    CHECK(err.line == 1 && strstr(err.text, "not closed") != NULL);
}

static void test_export_edn_reads_back(void)
{
    struct history h, back;
    struct history_error err;
    const char *p = write_tmp(
        "x.jsonl",
        "{\"index\":0,\"time\":5,\"process\":2,\"type\":\"invoke\","
        "\"f\":\"cas\",\"key\":\"k \\\"1\",\"value\":[1,2]}\n"
        "{\"index\":1,\"time\":6,\"process\":\"nemesis\",\"type\":\"info\","
        "\"f\":\"kill\",\"value\":[\"n2\"]}\n"
        "{\"index\":2,\"time\":9,\"process\":2,\"type\":\"ok\",\"f\":\"cas\","
        "\"key\":\"k \\\"1\",\"value\":[1,2]}\n");
    char out[512];
    CHECK(history_import(p, HISTORY_FORMAT_AUTO, &h, NULL, &err) == 0);
    snprintf(out, sizeof out, "%s/x.edn", tmpdir);
    FILE *f = fopen(out, "w");
    CHECK(f != NULL);
    CHECK(history_export_edn(&h, f) == 0);
    fclose(f);
    CHECK(history_import(out, HISTORY_FORMAT_EDN, &back, NULL, &err) == 0);
    CHECK(back.n == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(back.events[i].time == h.events[i].time);
        CHECK(back.events[i].process == h.events[i].process);
        CHECK(back.events[i].type == h.events[i].type);
        CHECK(strcmp(back.events[i].f, h.events[i].f) == 0);
        CHECK(json_equal(back.events[i].value, h.events[i].value));
    }
    CHECK(strcmp(back.events[0].key, "k \"1") == 0);
    history_close(&h);
    history_close(&back);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_import.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_edn_reads_values);
    RUN(test_edn_rejects_malformed_with_place);
    RUN(test_edn_rejects_deep_nesting);
    RUN(test_import_jepsen_vector_skips_nothing);
    RUN(test_import_edn_errors_name_the_place);
    RUN(test_import_edn_time_going_back_follows_file_order);
    RUN(test_import_edn_reads_what_jepsen_writes);
    RUN(test_import_etcd_log_and_empty);
    RUN(test_export_edn_reads_back);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("test_import: %s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
