/* config: parse taskd's flags; every error names the flag it is about. */
#include "nodes/taskd/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "nodes/taskd/bug.h"

enum {
    OPT_ID = 256,
    OPT_DATA,
    OPT_RAFT,
    OPT_CLIENT,
    OPT_PEER,
    OPT_ELECTION_TIMEOUT,
    OPT_HEARTBEAT,
    OPT_SNAPSHOT_THRESHOLD,
    OPT_SNAPSHOT_TRAILING,
    OPT_REQUEST_TIMEOUT,
    OPT_DEDUP_WINDOW,
    OPT_BUG,
    OPT_JOIN,
    OPT_LIST_BUGS,
    OPT_HELP,
};

static const struct option options[] = {
    {"id", required_argument, NULL, OPT_ID},
    {"data", required_argument, NULL, OPT_DATA},
    {"raft", required_argument, NULL, OPT_RAFT},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"peer", required_argument, NULL, OPT_PEER},
    {"election-timeout", required_argument, NULL, OPT_ELECTION_TIMEOUT},
    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
    {"snapshot-threshold", required_argument, NULL, OPT_SNAPSHOT_THRESHOLD},
    {"snapshot-trailing", required_argument, NULL, OPT_SNAPSHOT_TRAILING},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW},
    {"bug", required_argument, NULL, OPT_BUG},
    {"join", no_argument, NULL, OPT_JOIN},
    {"list-bugs", no_argument, NULL, OPT_LIST_BUGS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void config_usage(FILE *out)
{
    fprintf(out,
            "usage: taskd --id N --data DIR --raft HOST:PORT "
            "--client HOST:PORT\n"
            "             --peer ID,RAFTHOST:PORT,CLIENTHOST:PORT ... "
            "(every member, this one too)\n"
            "   or: taskd --id N --data DIR --raft HOST:PORT "
            "--client HOST:PORT --join\n"
            "             [--peer ...] (join a running cluster: no "
            "bootstrap)\n"
            "             [--election-timeout MS] [--heartbeat MS]\n"
            "             [--snapshot-threshold N] [--snapshot-trailing N]\n"
            "             [--request-timeout MS] [--dedup-window N]\n"
            "             [--bug NAME]... [--list-bugs] [--help]\n"
            "\n"
            "  --election-timeout MS    default 1000\n"
            "  --heartbeat MS           default 100, below the election "
            "timeout\n"
            "  --snapshot-threshold N   entries between snapshots, default "
            "1024\n"
            "  --snapshot-trailing N    entries kept after a snapshot, "
            "default 128\n"
            "  --request-timeout MS     a client request not done by then "
            "gets a\n"
            "                           \"timeout\" error, default 5000\n"
            "  --dedup-window N         log entries a request id (rid) is "
            "remembered\n"
            "                           for, default 65536\n"
            "  --join                   start with no configuration and wait "
            "to be\n"
            "                           added (op \"add\" on the leader); "
            "--peer then\n"
            "                           only gives client addresses for "
            "not_leader hints\n"
            "  --list-bugs              print the seeded bugs, one a line: "
            "NAME<TAB>description\n"
            "  --bug NAME               TEST ONLY: switch on a seeded bug "
            "(repeatable):\n");
    bug_list(out);
    fprintf(out,
            "\n"
            "exit status: 0 after a clean shutdown (SIGTERM, SIGINT), --help "
            "or --list-bugs;\n"
            "1 when start-up failed; 2 on a usage error (unknown flag or "
            "bug, bad value);\n"
            "killed by SIGABRT after a storage error (fail-stop).\n");
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A decimal unsigned integer in [min, max], the whole string. */
static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ') {
        return -EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int config_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(addr, ':');
    struct in_addr in;
    uint64_t p;
    size_t n;

    if (colon == NULL || colon == addr) {
        return -EINVAL;
    }
    n = (size_t)(colon - addr);
    if (n >= hostlen) {
        return -EINVAL;
    }
    memcpy(host, addr, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &in) != 1) {
        return -EINVAL;
    }
    if (parse_uint(colon + 1, 1, 65535, &p) != 0) {
        return -EINVAL;
    }
    *port = (int)p;
    return 0;
}

static bool addr_valid(const char *addr)
{
    char host[CONFIG_ADDR_MAX];
    int port;

    return strlen(addr) < CONFIG_ADDR_MAX &&
           config_split_addr(addr, host, sizeof host, &port) == 0;
}

/* "ID,RAFTHOST:PORT,CLIENTHOST:PORT" */
static int parse_peer(const char *s, struct config_peer *peer, char *err,
                      size_t errlen)
{
    char buf[3 * CONFIG_ADDR_MAX];
    char *raft;
    char *client;

    if (strlen(s) >= sizeof buf) {
        return fail(err, errlen, "--peer %s: too long", s);
    }
    strcpy(buf, s);
    raft = strchr(buf, ',');
    if (raft == NULL) {
        goto bad_form;
    }
    *raft++ = '\0';
    client = strchr(raft, ',');
    if (client == NULL) {
        goto bad_form;
    }
    *client++ = '\0';
    if (parse_uint(buf, 1, UINT64_MAX, &peer->id) != 0) {
        return fail(err, errlen, "--peer %s: id '%s' is not a positive integer",
                    s, buf);
    }
    if (!addr_valid(raft)) {
        return fail(err, errlen,
                    "--peer %s: raft address '%s' is not IPV4:PORT", s, raft);
    }
    if (!addr_valid(client)) {
        return fail(err, errlen,
                    "--peer %s: client address '%s' is not IPV4:PORT", s,
                    client);
    }
    strcpy(peer->raft, raft);
    strcpy(peer->client, client);
    return 0;

bad_form:
    return fail(err, errlen,
                "--peer %s: expected ID,RAFTHOST:PORT,CLIENTHOST:PORT", s);
}

static int check_peers(struct config *cfg, char *err, size_t errlen)
{
    unsigned i;
    unsigned j;

    if (cfg->n_peers == 0 && cfg->join) {
        return 0;
    }
    if (cfg->n_peers == 0) {
        return fail(err, errlen,
                    "--peer: missing (give one per cluster member, this "
                    "node included)");
    }
    for (i = 0; i < cfg->n_peers; i++) {
        for (j = i + 1; j < cfg->n_peers; j++) {
            if (cfg->peers[i].id == cfg->peers[j].id) {
                return fail(err, errlen, "--peer: id %" PRIu64 " given twice",
                            cfg->peers[i].id);
            }
            if (strcmp(cfg->peers[i].raft, cfg->peers[j].raft) == 0) {
                return fail(err, errlen, "--peer: raft address %s given twice",
                            cfg->peers[i].raft);
            }
        }
    }
    if (config_peer(cfg, cfg->id) == NULL && !cfg->join) {
        return fail(err, errlen, "--peer: none has this node's --id %" PRIu64,
                    cfg->id);
    }
    return 0;
}

static void defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->election_timeout_ms = 1000;
    cfg->heartbeat_ms = 100;
    cfg->snapshot_threshold = 1024;
    cfg->snapshot_trailing = 128;
    cfg->request_timeout_ms = 5000;
    cfg->dedup_window = 65536;
}

int config_parse(int argc, char *const argv[], struct config *cfg, char *err,
                 size_t errlen)
{
    uint64_t v;
    int bug;
    int c;
    int rv;

    defaults(cfg);
    opterr = 0;
    optind = 0; /* glibc: start over, so tests can parse more than once */
    while ((c = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
        const char *flag = optind > 0 ? argv[optind - 1] : "?";

        switch (c) {
        case OPT_ID:
            if (parse_uint(optarg, 1, UINT64_MAX, &cfg->id) != 0) {
                return fail(err, errlen, "--id %s: expected a positive integer",
                            optarg);
            }
            break;
        case OPT_DATA:
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof cfg->data_dir) {
                return fail(err, errlen, "--data: empty or too long");
            }
            strcpy(cfg->data_dir, optarg);
            break;
        case OPT_RAFT:
        case OPT_CLIENT:
            if (!addr_valid(optarg)) {
                return fail(err, errlen, "--%s %s: expected IPV4:PORT",
                            c == OPT_RAFT ? "raft" : "client", optarg);
            }
            strcpy(c == OPT_RAFT ? cfg->raft : cfg->client, optarg);
            break;
        case OPT_PEER:
            if (cfg->n_peers == CONFIG_MAX_PEERS) {
                return fail(err, errlen, "--peer: more than %d peers",
                            CONFIG_MAX_PEERS);
            }
            rv = parse_peer(optarg, &cfg->peers[cfg->n_peers], err, errlen);
            if (rv != 0) {
                return rv;
            }
            cfg->n_peers++;
            break;
        case OPT_ELECTION_TIMEOUT:
            if (parse_uint(optarg, 10, 600000, &v) != 0) {
                return fail(err, errlen,
                            "--election-timeout %s: expected milliseconds "
                            "in [10, 600000]",
                            optarg);
            }
            cfg->election_timeout_ms = (unsigned)v;
            break;
        case OPT_HEARTBEAT:
            if (parse_uint(optarg, 1, 600000, &v) != 0) {
                return fail(err, errlen,
                            "--heartbeat %s: expected milliseconds in "
                            "[1, 600000]",
                            optarg);
            }
            cfg->heartbeat_ms = (unsigned)v;
            break;
        case OPT_SNAPSHOT_THRESHOLD:
            if (parse_uint(optarg, 1, UINT_MAX, &v) != 0) {
                return fail(err, errlen,
                            "--snapshot-threshold %s: expected a positive "
                            "integer",
                            optarg);
            }
            cfg->snapshot_threshold = (unsigned)v;
            break;
        case OPT_SNAPSHOT_TRAILING:
            if (parse_uint(optarg, 0, UINT_MAX, &v) != 0) {
                return fail(err, errlen,
                            "--snapshot-trailing %s: expected an integer >= 0",
                            optarg);
            }
            cfg->snapshot_trailing = (unsigned)v;
            break;
        case OPT_REQUEST_TIMEOUT:
            if (parse_uint(optarg, 1, 3600000, &v) != 0) {
                return fail(err, errlen,
                            "--request-timeout %s: expected milliseconds "
                            "in [1, 3600000]",
                            optarg);
            }
            cfg->request_timeout_ms = (unsigned)v;
            break;
        case OPT_DEDUP_WINDOW:
            if (parse_uint(optarg, 1, UINT_MAX, &v) != 0) {
                return fail(err, errlen,
                            "--dedup-window %s: expected a positive integer",
                            optarg);
            }
            cfg->dedup_window = (unsigned)v;
            break;
        case OPT_BUG:
            bug = bug_lookup(optarg);
            if (bug < 0) {
                return fail(err, errlen, "--bug %s: unknown bug (see --list-bugs)",
                            optarg);
            }
            cfg->bugs |= (unsigned)bug;
            break;
        case OPT_JOIN:
            cfg->join = true;
            break;
        case OPT_HELP:
            return CONFIG_HELP;
        case OPT_LIST_BUGS:
            return CONFIG_LIST_BUGS;
        case ':':
            return fail(err, errlen, "%s: missing value", flag);
        default:
            return fail(err, errlen, "%s: unknown flag", flag);
        }
    }
    if (optind < argc) {
        return fail(err, errlen, "%s: unexpected argument", argv[optind]);
    }
    if (cfg->id == 0) {
        return fail(err, errlen, "--id: missing");
    }
    if (cfg->data_dir[0] == '\0') {
        return fail(err, errlen, "--data: missing");
    }
    if (cfg->raft[0] == '\0') {
        return fail(err, errlen, "--raft: missing");
    }
    if (cfg->client[0] == '\0') {
        return fail(err, errlen, "--client: missing");
    }
    if (cfg->heartbeat_ms >= cfg->election_timeout_ms) {
        return fail(err, errlen,
                    "--heartbeat %u: must be below --election-timeout %u",
                    cfg->heartbeat_ms, cfg->election_timeout_ms);
    }
    return check_peers(cfg, err, errlen);
}

const struct config_peer *config_peer(const struct config *cfg, uint64_t id)
{
    unsigned i;

    for (i = 0; i < cfg->n_peers; i++) {
        if (cfg->peers[i].id == id) {
            return &cfg->peers[i];
        }
    }
    return NULL;
}
