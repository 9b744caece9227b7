/* test_raft_safety: the raft checker on small event files, one property at
 * a time, each with the case that must stay valid beside it. */
#include "checker/raft_safety.h"
#include "test/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NODES 3

static char paths[MAX_NODES][64];

/* The acknowledged changes judge() passes (none unless a test sets them). */
static const struct raft_safety_change *changes;
static size_t nchanges;

/* Write @texts[i] as node i+1's events file; NULL: no file. */
static void write_nodes(const char *const texts[MAX_NODES],
                        struct raft_safety_node nodes[MAX_NODES])
{
    static const char *names[MAX_NODES] = {"n1", "n2", "n3"};

    for (int i = 0; i < MAX_NODES; i++) {
        snprintf(paths[i], sizeof paths[i],
                 "/tmp/faultline-test-raft-%d-%d.jsonl", (int)getpid(), i);
        unlink(paths[i]);
        if (texts[i] != NULL) {
            FILE *f = fopen(paths[i], "w");
            if (f != NULL) {
                fputs(texts[i], f);
                fclose(f);
            }
        }
        nodes[i] = (struct raft_safety_node){names[i], paths[i]};
    }
}

/* The verdict on @texts: the count of anomaly class @cls (NULL: none
 * expected, the verdict must be valid). */
static size_t judge(const char *const texts[MAX_NODES], const char *cls,
                    enum verdict_result *result, char *summary, size_t size)
{
    struct raft_safety_node nodes[MAX_NODES];
    struct report r;
    size_t count = 0;

    write_nodes(texts, nodes);
    if (checker_raft_safety(nodes, MAX_NODES, changes, nchanges, &r) != 0) {
        *result = VERDICT_UNKNOWN;
        report_close(&r);
        return 0;
    }
    *result = r.result;
    report_summary(&r, summary, size);
    for (size_t k = 0; k < r.nclasses; k++) {
        if (cls != NULL && strcmp(r.classes[k].name, cls) == 0) {
            count = r.classes[k].count;
        }
    }
    report_close(&r);
    for (int i = 0; i < MAX_NODES; i++) {
        unlink(paths[i]);
    }
    return count;
}

#define START(JOIN) "{\"event\":\"start\",\"join\":" JOIN "}\n"
#define RECOVERED(T, V, LAST)                                                  \
    "{\"event\":\"recovered\",\"term\":" #T ",\"voted_for\":" #V               \
    ",\"last_index\":" #LAST "}\n"
#define TERM(T) "{\"event\":\"term_persisted\",\"term\":" #T "}\n"
#define VOTE(T, V)                                                             \
    "{\"event\":\"vote_persisted\",\"term\":" #T ",\"vote\":" #V "}\n"
#define APPEND(F, L)                                                           \
    "{\"event\":\"append_persisted\",\"first\":" #F ",\"last\":" #L "}\n"
#define LEADER(T) "{\"event\":\"became_leader\",\"term\":" #T "}\n"
#define APPLIED(I, H)                                                          \
    "{\"event\":\"command_applied\",\"index\":" #I ",\"entry\":\"" H "\"}\n"

static void test_term_lost(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(2)
                                      TERM(3) START("false") RECOVERED(2, 0, 1),
                                  NULL, NULL};
    const char *good[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(2)
                                       TERM(3) START("false")
                                           RECOVERED(3, 0, 1),
                                   NULL, NULL};

    CHECK(judge(bad, "term_lost", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "came back with term 2") != NULL);
    CHECK(strstr(s, "persisted term 3") != NULL);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0);
    CHECK(v == VERDICT_VALID);
}

static void test_vote_lost(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(2)
                                      VOTE(2, 3) START("false")
                                          RECOVERED(2, 0, 1),
                                  NULL, NULL};
    /* A newer term clears the vote: nothing to keep. */
    const char *newer[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(2)
                                        VOTE(2, 3) TERM(3) START("false")
                                            RECOVERED(3, 0, 1),
                                    NULL, NULL};
    const char *kept[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(2)
                                       VOTE(2, 3) START("false")
                                           RECOVERED(2, 3, 1),
                                   NULL, NULL};

    CHECK(judge(bad, "vote_lost", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "persisted a vote for 3") != NULL);
    CHECK(judge(newer, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
    CHECK(judge(kept, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

static void test_log_lost(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) APPEND(2, 5)
                                      APPEND(6, 9) START("false")
                                          RECOVERED(1, 0, 5),
                                  NULL, NULL};
    /* A truncation lowers what must come back; an install sets it. */
    const char *truncated[MAX_NODES] = {
        START("false") RECOVERED(1, 0, 1) APPEND(
            2, 9) "{\"event\":\"truncated\",\"index\":6}\n" START("false")
            RECOVERED(1, 0, 5),
        START("false") RECOVERED(1, 0, 1)
            APPEND(2, 9) "{\"event\":\"snapshot_install_end\",\"index\":4,"
                         "\"term\":1}\n" START("false") RECOVERED(1, 0, 4),
        NULL};

    CHECK(judge(bad, "log_lost", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "log ending at index 5") != NULL);
    CHECK(strstr(s, "up to 9 durable") != NULL);
    CHECK(judge(truncated, NULL, &v, s, sizeof s) == 0);
    CHECK(v == VERDICT_VALID);
}

static void test_wiped_member_starts_over(void)
{
    char s[1024];
    enum verdict_result v;
    const char *wiped[MAX_NODES] = {
        START("false") RECOVERED(1, 0, 1) TERM(4) APPEND(2, 9) START("true")
            RECOVERED(0, 0, 0) TERM(4) START("true") RECOVERED(4, 0, 0),
        NULL, NULL};
    /* Without join an empty log is a loss. */
    const char *emptied[MAX_NODES] = {START("false") RECOVERED(1, 0, 1) TERM(4)
                                          APPEND(2, 9) START("false")
                                              RECOVERED(0, 0, 0),
                                      NULL, NULL};

    CHECK(judge(wiped, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
    CHECK(judge(emptied, "log_lost", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
}

static void test_two_leaders(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {START("false") LEADER(2) LEADER(4),
                                  START("false") LEADER(3) LEADER(4), NULL};
    /* The same node twice in one term (a restart) is one leader. */
    const char *good[MAX_NODES] = {START("false") LEADER(2) LEADER(2),
                                   START("false") LEADER(3), NULL};

    CHECK(judge(bad, "two_leaders", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "n1 and n2 both became leader in term 4") != NULL);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

static void test_sole_voter_self_election(void)
{
    char s[1024];
    enum verdict_result v;
    /* n2 led term 4, removed itself; n1, now the only voter, is made
     * leader by libraft in term 4 without an election. */
    const char *texts[MAX_NODES] = {
        START("false") "{\"event\":\"configuration\",\"node\":1,"
                       "\"servers\":[{\"id\":1,\"role\":\"voter\"}]}\n" LEADER(
                           4),
        START("false") LEADER(4), NULL};

    CHECK(judge(texts, "sole_voter_term_reused", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_VALID);
}

#define CANDIDATE(T) "{\"event\":\"became_candidate\",\"term\":" #T "}\n"
#define CONF_VOTERS(ME, VOTERS)                                                \
    "{\"event\":\"configuration\",\"node\":" #ME ",\"servers\":[" VOTERS   \
    "]}\n"
#define VOTER(ID) "{\"id\":" #ID ",\"role\":\"voter\"}"

/* At a restart as the only voter libraft makes the node leader before it
 * reports the configuration it restored: the configuration event right
 * after the leadership says whether it was that fast path. A leadership
 * without candidacy whose configuration has other voters is no such
 * thing: two leaders. */
static void test_sole_voter_at_restart(void)
{
    char s[1024];
    enum verdict_result v;
    const char *self[MAX_NODES] = {
        START("false") CANDIDATE(9) LEADER(10),
        START("false") RECOVERED(10, 1, 5) LEADER(10) CONF_VOTERS(2, VOTER(2)),
        NULL};
    const char *not_alone[MAX_NODES] = {
        START("false") CANDIDATE(9) LEADER(10),
        START("false") RECOVERED(10, 1, 5) LEADER(10)
            CONF_VOTERS(2, VOTER(1) "," VOTER(2) "," VOTER(3)),
        NULL};
    const char *elected[MAX_NODES] = {
        START("false") CANDIDATE(9) LEADER(10),
        START("false") CANDIDATE(9) LEADER(10) CONF_VOTERS(2, VOTER(2)),
        NULL};

    CHECK(judge(self, "sole_voter_term_reused", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_VALID);
    CHECK(judge(not_alone, "two_leaders", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    /* Elected (a candidacy seen): the configuration after does not excuse
     * it. */
    CHECK(judge(elected, "two_leaders", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
}

static void test_applied_differently(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {
        APPLIED(5, "00000000000000aa") APPLIED(6, "00000000000000bb"),
        APPLIED(5, "00000000000000aa") APPLIED(6, "00000000000000cc"),
        APPLIED(6, "00000000000000bb")};
    const char *good[MAX_NODES] = {
        APPLIED(5, "00000000000000aa") APPLIED(6, "00000000000000bb"),
        APPLIED(5, "00000000000000aa"), APPLIED(6, "00000000000000bb")};

    CHECK(judge(bad, "applied_differently", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "different entries at index 6") != NULL);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
    CHECK(strstr(s, "2 indices applied on two or more nodes") != NULL);
}

/* A change acknowledged at an index where a command was applied: its
 * entry was overwritten, never committed. At an index without a command
 * (the configuration entry itself: taskd applies no command there), or
 * with none applied anywhere, nothing is said. */
static void test_change_overwritten(void)
{
    char s[1024];
    enum verdict_result v;
    const struct raft_safety_change acked[] = {
        {7, "remove n1", 12}, {9, "add n4", 20}, {40, "assign n2 voter", 30}};
    const char *nodes3[MAX_NODES] = {
        APPLIED(6, "00000000000000aa") APPLIED(8, "00000000000000bb"),
        APPLIED(6, "00000000000000aa") APPLIED(9, "00000000000000cc"),
        NULL};
    const char *good[MAX_NODES] = {
        APPLIED(6, "00000000000000aa") APPLIED(8, "00000000000000bb"),
        APPLIED(6, "00000000000000aa") APPLIED(10, "00000000000000cc"),
        NULL};

    changes = acked;
    nchanges = 3;
    CHECK(judge(nodes3, "change_overwritten", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "add n4 acknowledged as committed at index 9 "
                    "(history.jsonl:20), but n2 applied a command") != NULL);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
    changes = NULL;
    nchanges = 0;
    CHECK(judge(nodes3, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

#define APPLIED_R(I, H, R)                                                     \
    "{\"event\":\"command_applied\",\"index\":" #I ",\"entry\":\"" H           \
    "\",\"duplicate\":false,\"result\":" R "}\n"

static void test_answered_differently(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {
        APPLIED_R(5, "00000000000000aa", "{\"ok\":true,\"v\":1}"),
        APPLIED_R(5, "00000000000000aa", "{\"ok\":false,\"error\":\"x\"}"),
        NULL};
    /* Key order is not a difference. */
    const char *good[MAX_NODES] = {
        APPLIED_R(5, "00000000000000aa", "{\"ok\":true,\"v\":1}"),
        APPLIED_R(5, "00000000000000aa", "{\"v\":1,\"ok\":true}"), NULL};

    CHECK(judge(bad, "answered_differently", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

#define APPLIED_RID(I, RID, DUP)                                               \
    "{\"event\":\"command_applied\",\"index\":" #I ",\"rid\":\"" RID           \
    "\",\"duplicate\":" DUP "}\n"

static void test_applied_twice(void)
{
    char s[1024];
    enum verdict_result v;
    const char *bad[MAX_NODES] = {APPLIED_RID(5, "c1-1", "false")
                                      APPLIED_RID(9, "c1-1", "false"),
                                  APPLIED_RID(5, "c1-1", "false"), NULL};
    /* The same index on every node is one application; a retry answered
     * as a duplicate is what dedup is for. */
    const char *good[MAX_NODES] = {
        APPLIED_RID(5, "c1-1", "false") APPLIED_RID(9, "c1-1", "true"),
        APPLIED_RID(5, "c1-1", "false") APPLIED_RID(9, "c1-1", "true"),
        APPLIED_RID(5, "c1-1", "false")};

    CHECK(judge(bad, "applied_twice", &v, s, sizeof s) == 1);
    CHECK(v == VERDICT_INVALID);
    CHECK(strstr(s, "at index 5") != NULL && strstr(s, "index 9") != NULL);
    CHECK(judge(good, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

static void test_cut_lines_and_missing_files(void)
{
    char s[1024];
    enum verdict_result v;
    /* A killed node's last line may be cut; a slot that never ran has no
     * file. Neither is an anomaly or an error. */
    const char *texts[MAX_NODES] = {
        START("false") RECOVERED(1, 0, 1) "{\"event\":\"term_pers", NULL,
        "not json\n"};

    CHECK(judge(texts, NULL, &v, s, sizeof s) == 0 && v == VERDICT_VALID);
}

int main(void)
{
    RUN(test_term_lost);
    RUN(test_vote_lost);
    RUN(test_log_lost);
    RUN(test_wiped_member_starts_over);
    RUN(test_two_leaders);
    RUN(test_sole_voter_self_election);
    RUN(test_sole_voter_at_restart);
    RUN(test_applied_differently);
    RUN(test_answered_differently);
    RUN(test_applied_twice);
    RUN(test_change_overwritten);
    RUN(test_cut_lines_and_missing_files);
    return failures != 0;
}
