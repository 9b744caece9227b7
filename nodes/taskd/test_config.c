/* test_config: taskd's command line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nodes/taskd/bug.h"
#include "test/unit.h"
#include "nodes/taskd/config.h"

#define ARGC(A) ((int)(sizeof(A) / sizeof((A)[0])))

#define BASE                                                                   \
    "taskd", "--id", "2", "--data", "/tmp/x", "--raft", "127.0.0.1:7002",      \
        "--client", "127.0.0.1:8002", "--peer",                                \
        "1,127.0.0.1:7001,127.0.0.1:8001", "--peer",                           \
        "2,127.0.0.1:7002,127.0.0.1:8002"

static struct config cfg;
static char err[512];

static void test_config_parses_flags_and_applies_defaults(void)
{
    char *argv[] = {BASE};

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) == 0);
    CHECK(cfg.id == 2);
    CHECK(strcmp(cfg.data_dir, "/tmp/x") == 0);
    CHECK(strcmp(cfg.raft, "127.0.0.1:7002") == 0);
    CHECK(strcmp(cfg.client, "127.0.0.1:8002") == 0);
    CHECK(cfg.n_peers == 2);
    CHECK(config_peer(&cfg, 1) != NULL &&
          strcmp(config_peer(&cfg, 1)->client, "127.0.0.1:8001") == 0);
    CHECK(config_peer(&cfg, 3) == NULL);
    CHECK(cfg.election_timeout_ms == 1000 && cfg.heartbeat_ms == 100);
    CHECK(cfg.snapshot_threshold == 1024 && cfg.snapshot_trailing == 128);
    CHECK(cfg.request_timeout_ms == 5000 && cfg.dedup_window == 65536);
    CHECK(cfg.bugs == 0);
}

static void test_config_accepts_equals_form_and_bug(void)
{
    char *argv[] = {BASE,
                    "--election-timeout=300",
                    "--heartbeat",
                    "30",
                    "--snapshot-threshold=8",
                    "--snapshot-trailing=0",
                    "--bug=stale-read"};

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) == 0);
    CHECK(cfg.election_timeout_ms == 300 && cfg.heartbeat_ms == 30);
    CHECK(cfg.snapshot_threshold == 8 && cfg.snapshot_trailing == 0);
    CHECK(bug_on(cfg.bugs, BUG_STALE_READ));
}

static void test_config_takes_several_bugs_and_the_new_flags(void)
{
    char *argv[] = {BASE,    "--bug",          "no-dedup",
                    "--bug", "lost-claim",     "--request-timeout",
                    "250",   "--dedup-window", "9"};

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) == 0);
    CHECK(cfg.bugs == (BUG_NO_DEDUP | BUG_LOST_CLAIM));
    CHECK(cfg.request_timeout_ms == 250 && cfg.dedup_window == 9);
}

static void test_config_every_bug_has_a_name(void)
{
    unsigned bit;
    int n = 0;

    for (bit = 1; bit != 0; bit <<= 1) {
        const char *name = bug_name((enum bug)bit);
        if (name != NULL) {
            CHECK(bug_lookup(name) == (int)bit);
            n++;
        }
    }
    CHECK(n == 17);
    CHECK(bug_lookup("stale-read") == BUG_STALE_READ);
    CHECK(bug_lookup("vote-not-persisted") == BUG_VOTE_NOT_PERSISTED);
    CHECK(bug_lookup("nope") == -ENOENT);
}

static void test_config_help(void)
{
    char *argv[] = {"taskd", "--help"};

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) == CONFIG_HELP);
}

static void test_config_list_bugs(void)
{
    char *argv[] = {"taskd", "--list-bugs"};
    char *both[] = {"taskd", "--bug", "stale-read", "--list-bugs"};
    char line[256];
    FILE *out = tmpfile();
    int n = 0;

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) ==
          CONFIG_LIST_BUGS);
    CHECK(config_parse(ARGC(both), both, &cfg, err, sizeof err) ==
          CONFIG_LIST_BUGS);
    /* One "NAME<TAB>description" line per bug, every NAME accepted. */
    CHECK(out != NULL);
    bug_list_tsv(out);
    rewind(out);
    while (fgets(line, sizeof line, out) != NULL) {
        char *tab = strchr(line, '\t');
        CHECK(tab != NULL && tab > line && tab[1] != '\n');
        *tab = '\0';
        CHECK(bug_lookup(line) > 0);
        n++;
    }
    fclose(out);
    CHECK(n == 17);
}

/* Each case: extra arguments after BASE and the flag the error must name. */
static void expect_error(char *extra1, char *extra2, const char *flag)
{
    char *argv[] = {BASE, extra1, extra2};
    int argc = ARGC(argv) - (extra2 == NULL) - (extra1 == NULL);

    err[0] = '\0';
    CHECK(config_parse(argc, argv, &cfg, err, sizeof err) == -EINVAL);
    if (strstr(err, flag) == NULL) {
        fprintf(stderr, "error \"%s\" does not name %s\n", err, flag);
        failures++;
    }
}

static void test_config_errors_name_the_flag(void)
{
    expect_error("--bug", "nope", "--bug");
    expect_error("--peer", "3,127.0.0.1:7003", "--peer");
    expect_error("--peer", "2,127.0.0.1:7009,127.0.0.1:8009", "--peer");
    expect_error("--peer", "x,127.0.0.1:7003,127.0.0.1:8003", "--peer");
    expect_error("--peer", "3,host:7003,127.0.0.1:8003", "--peer");
    expect_error("--heartbeat", "1000", "--heartbeat");
    expect_error("--election-timeout", "-5", "--election-timeout");
    expect_error("--snapshot-threshold", "0", "--snapshot-threshold");
    expect_error("--raft", "127.0.0.1", "--raft");
    expect_error("--client", "127.0.0.1:99999", "--client");
    expect_error("--id", "0", "--id");
    expect_error("--nope", NULL, "--nope");
    expect_error("stray", NULL, "stray");
    expect_error("--data", NULL, "--data");
    expect_error("--request-timeout", "0", "--request-timeout");
    expect_error("--dedup-window", "0", "--dedup-window");
}

static void test_config_requires_own_peer(void)
{
    char *argv[] = {"taskd",
                    "--id",
                    "3",
                    "--data",
                    "/tmp/x",
                    "--raft",
                    "127.0.0.1:7003",
                    "--client",
                    "127.0.0.1:8003",
                    "--peer",
                    "1,127.0.0.1:7001,127.0.0.1:8001"};

    CHECK(config_parse(ARGC(argv), argv, &cfg, err, sizeof err) == -EINVAL);
    CHECK(strstr(err, "--peer") != NULL);
}

static void test_config_join_needs_no_peers(void)
{
    char *alone[] = {
        "taskd",  "--id",           "4",        "--data",         "/tmp/x",
        "--raft", "127.0.0.1:7004", "--client", "127.0.0.1:8004", "--join"};
    char *hints[] = {
        "taskd",          "--id",     "4",
        "--data",         "/tmp/x",   "--raft",
        "127.0.0.1:7004", "--client", "127.0.0.1:8004",
        "--join",         "--peer",   "1,127.0.0.1:7001,127.0.0.1:8001"};

    CHECK(config_parse(ARGC(alone), alone, &cfg, err, sizeof err) == 0);
    CHECK(cfg.join && cfg.n_peers == 0 && config_peer(&cfg, 4) == NULL);
    CHECK(config_parse(ARGC(hints), hints, &cfg, err, sizeof err) == 0);
    CHECK(cfg.join && cfg.n_peers == 1);
    CHECK(config_parse(ARGC(alone) - 1, alone, &cfg, err, sizeof err) ==
          -EINVAL);
    CHECK(strstr(err, "--peer") != NULL);
}

int main(void)
{
    test_config_parses_flags_and_applies_defaults();
    test_config_accepts_equals_form_and_bug();
    test_config_takes_several_bugs_and_the_new_flags();
    test_config_every_bug_has_a_name();
    test_config_help();
    test_config_list_bugs();
    test_config_errors_name_the_flag();
    test_config_requires_own_peer();
    test_config_join_needs_no_peers();
    if (failures > 0) {
        printf("test_config: %d FAILED\n", failures);
        return 1;
    }
    printf("test_config: ok\n");
    return 0;
}
