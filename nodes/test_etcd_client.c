/* test_etcd_client: the etcd client's mapping against a real etcd.
 *
 * Starts a single-member etcd (Debian's /usr/bin/etcd, or $ETCD) in a
 * temporary directory on free ports, killed when the test ends, even when
 * it crashes (PR_SET_PDEATHSIG). Each case invokes one op and checks the
 * outcome the history would record; etcdctl (when installed) reads back
 * what a write stored, so the base64 mapping is checked against etcd's own
 * client. Skips (exit 0, saying so) when etcd is not installed. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodes/client.h"

static int failures;
static pid_t etcd_pid;
static char tmpdir[] = "/tmp/faultline-etcd-XXXXXX";

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void cleanup(void)
{
    char cmd[128];
    if (etcd_pid > 0) {
        kill(etcd_pid, SIGKILL);
        waitpid(etcd_pid, NULL, 0);
        etcd_pid = 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_etcd_client: could not remove %s\n", tmpdir);
    }
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

static void start_etcd(const char *bin, int client_port, int peer_port)
{
    char a[8][256];
    etcd_pid = fork();
    if (etcd_pid != 0) {
        return;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    snprintf(a[0], sizeof a[0], "--data-dir=%s/data", tmpdir);
    snprintf(a[1], sizeof a[1], "--listen-client-urls=http://127.0.0.1:%d",
             client_port);
    snprintf(a[2], sizeof a[2], "--advertise-client-urls=http://127.0.0.1:%d",
             client_port);
    snprintf(a[3], sizeof a[3], "--listen-peer-urls=http://127.0.0.1:%d",
             peer_port);
    snprintf(a[4], sizeof a[4],
             "--initial-advertise-peer-urls=http://127.0.0.1:%d", peer_port);
    snprintf(a[5], sizeof a[5], "--initial-cluster=t=http://127.0.0.1:%d",
             peer_port);
    snprintf(a[6], sizeof a[6], "--log-outputs=%s/etcd.log", tmpdir);
    execl(bin, bin, "--name=t", a[0], a[1], a[2], a[3], a[4], a[5],
          "--logger=zap", a[6], (char *)NULL);
    _exit(127);
}

/* --- one op at a time ----------------------------------------------------- */

static uv_loop_t loop;
static uv_timer_t timer;
static const struct client_ops *ops;

struct outcome {
    bool done;
    enum history_type type;
    json_t *value;
    char error[64];
    bool elsewhere, unreachable;
};

static void op_cb(void *arg, const struct client_result *res)
{
    struct outcome *o = arg;
    o->done = true;
    o->type = res->type;
    o->value = json_deep_copy(res->value);
    snprintf(o->error, sizeof o->error, "%s", res->error ? res->error : "");
    o->elsewhere = res->elsewhere;
    o->unreachable = res->unreachable;
}

static void timer_cb(uv_timer_t *t)
{
    (void)t;
}

/* Run @f on @key with @value (stolen) at @addr until it completes, or
 * @ms pass (then o.done is false and the op is still in flight). */
static struct outcome invoke_for(struct client *c, const char *addr,
                                 const char *f, const char *key, json_t *value,
                                 int ms)
{
    struct outcome o = {0};
    struct client_op op = {.f = f, .key = key, .value = value};
    int rv = ops->invoke(c, addr, &op, op_cb, &o);
    json_decref(value);
    if (rv != 0) {
        fprintf(stderr, "invoke %s: %s\n", f, strerror(-rv));
        o.done = true;
        o.type = HISTORY_FAIL;
        snprintf(o.error, sizeof o.error, "invoke:%d", rv);
        return o;
    }
    uv_timer_start(&timer, timer_cb, (uint64_t)ms, 0);
    while (!o.done && uv_is_active((uv_handle_t *)&timer)) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&timer);
    return o;
}

static struct outcome invoke(struct client *c, const char *addr,
                             const char *f, const char *key, json_t *value)
{
    struct outcome o = invoke_for(c, addr, f, key, value, 10000);
    CHECK(o.done);
    return o;
}

static json_t *lease_arg(const char *holder)
{
    return json_pack("{s:s, s:s, s:i}", "rid", "r", "holder", holder,
                     "ttl_ms", 2000);
}

static bool is_ok_int(const struct outcome *o, json_int_t v)
{
    return o->type == HISTORY_OK && json_is_integer(o->value) &&
           json_integer_value(o->value) == v;
}

static json_int_t field_int(const struct outcome *o, const char *name)
{
    return json_integer_value(json_object_get(o->value, name));
}

static void clear(struct outcome *o)
{
    json_decref(o->value);
    o->value = NULL;
}

/* What etcdctl reads at @key, into @buf ("" when etcdctl is missing). */
static void etcdctl_get(const char *addr, const char *key, char *buf,
                        size_t size)
{
    char cmd[256];
    FILE *f;
    buf[0] = '\0';
    snprintf(cmd, sizeof cmd,
             "ETCDCTL_API=3 etcdctl --endpoints=http://%s get %s "
             "--print-value-only 2>/dev/null",
             addr, key);
    f = popen(cmd, "r");
    if (f == NULL) {
        return;
    }
    if (fgets(buf, (int)size, f) == NULL) {
        buf[0] = '\0';
    }
    buf[strcspn(buf, "\n")] = '\0';
    pclose(f);
}

static void test_register(struct client *c, const char *addr)
{
    struct outcome o;
    char got[64];

    o = invoke(c, addr, "read", "k1", json_null());
    CHECK(o.type == HISTORY_OK && json_is_null(o.value)); /* unset */
    clear(&o);
    o = invoke(c, addr, "write", "k1", json_integer(3));
    CHECK(is_ok_int(&o, 3));
    clear(&o);
    etcdctl_get(addr, "k1", got, sizeof got);
    CHECK(got[0] == '\0' || strcmp(got, "3") == 0);
    o = invoke(c, addr, "read", "k1", json_null());
    CHECK(is_ok_int(&o, 3));
    clear(&o);
    o = invoke(c, addr, "cas", "k1", json_pack("[i, i]", 3, 4));
    CHECK(o.type == HISTORY_OK &&
          json_integer_value(json_array_get(o.value, 0)) == 3 &&
          json_integer_value(json_array_get(o.value, 1)) == 4);
    clear(&o);
    o = invoke(c, addr, "cas", "k1", json_pack("[i, i]", 3, 5));
    CHECK(o.type == HISTORY_FAIL && strcmp(o.error, "cas_mismatch") == 0 &&
          !o.elsewhere);
    clear(&o);
    o = invoke(c, addr, "read", "k1", json_null());
    CHECK(is_ok_int(&o, 4));
    clear(&o);
    o = invoke(c, addr, "cas", "k2", json_pack("[i, i]", 1, 2));
    CHECK(o.type == HISTORY_FAIL && strcmp(o.error, "cas_mismatch") == 0);
    clear(&o);
    o = invoke(c, addr, "list", NULL, json_null());
    CHECK(o.type == HISTORY_FAIL && strcmp(o.error, "invoke:-22") == 0);
    clear(&o);
}

static void test_locks(struct client *a, struct client *b, const char *addr)
{
    struct outcome o;
    json_int_t token, now, expires;

    o = invoke(a, addr, "acquire", "s0", lease_arg("c0"));
    CHECK(o.type == HISTORY_OK);
    token = field_int(&o, "token");
    now = field_int(&o, "now_ms");
    expires = field_int(&o, "expires_ms");
    CHECK(token > 0 && expires > now && expires - now <= 2000 &&
          strcmp(json_string_value(json_object_get(o.value, "holder")),
                 "c0") == 0);
    clear(&o);
    o = invoke(b, addr, "holder", "s0", json_null());
    CHECK(o.type == HISTORY_OK && field_int(&o, "token") == token &&
          field_int(&o, "expires_ms") == expires &&
          json_is_string(json_object_get(o.value, "holder")));
    clear(&o);
    o = invoke(b, addr, "acquire", "s0", lease_arg("c1"));
    CHECK(o.type == HISTORY_FAIL && strcmp(o.error, "lock_held") == 0);
    clear(&o);
    o = invoke(a, addr, "acquire", "s0", lease_arg("c0")); /* renew */
    CHECK(o.type == HISTORY_OK && field_int(&o, "token") == token &&
          field_int(&o, "now_ms") >= now);
    clear(&o);
    o = invoke(a, addr, "release", "s0", lease_arg("c0"));
    CHECK(o.type == HISTORY_OK);
    clear(&o);
    o = invoke(b, addr, "holder", "s0", json_null());
    CHECK(o.type == HISTORY_OK &&
          json_is_null(json_object_get(o.value, "holder")));
    clear(&o);
    o = invoke(a, addr, "release", "s0", lease_arg("c0"));
    CHECK(o.type == HISTORY_FAIL && strcmp(o.error, "not_holder") == 0);
    clear(&o);
    o = invoke(b, addr, "acquire", "s0", lease_arg("c1"));
    CHECK(o.type == HISTORY_OK && field_int(&o, "token") > token);
    clear(&o);
}

/* A changing op sent to a stopped node is in doubt (info after the
 * timeout); one refused at connect is a fail to try elsewhere. */
static void test_outcomes(struct client *c, const char *addr,
                          const char *closed)
{
    struct outcome o;

    o = invoke(c, closed, "write", "k1", json_integer(7));
    CHECK(o.type == HISTORY_FAIL && o.elsewhere && o.unreachable);
    clear(&o);
    o = invoke(c, closed, "read", "k1", json_null());
    CHECK(o.type == HISTORY_FAIL && o.elsewhere);
    clear(&o);

    kill(etcd_pid, SIGSTOP);
    o = invoke_for(c, addr, "write", "k1", json_integer(8), 300);
    CHECK(!o.done && ops->in_doubt(c));
    ops->abandon(c);
    CHECK(!ops->in_doubt(c));
    kill(etcd_pid, SIGCONT);
    /* The abandoned write may still land: read whatever is there. */
    o = invoke(c, addr, "read", "k1", json_null());
    CHECK(is_ok_int(&o, 4) || is_ok_int(&o, 8));
    clear(&o);
}

int main(void)
{
    const char *bin = getenv("ETCD") ? getenv("ETCD") : "/usr/bin/etcd";
    int cport, pport, closed_port;
    char addr[64], closed[64];
    struct client *a, *b;
    struct outcome o = {0};

    if (access(bin, X_OK) != 0) {
        printf("test_etcd_client: SKIP: %s not installed\n", bin);
        return 0;
    }
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    cport = free_port();
    pport = free_port();
    closed_port = free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", cport);
    snprintf(closed, sizeof closed, "127.0.0.1:%d", closed_port);
    start_etcd(bin, cport, pport);
    if (etcd_pid < 0) {
        perror("fork");
        return 1;
    }
    uv_loop_init(&loop);
    uv_timer_init(&loop, &timer);
    ops = client_find("etcd");
    CHECK(ops != NULL);
    if (ops == NULL) {
        return 1;
    }
    a = ops->new(&loop);
    b = ops->new(&loop);

    /* Wait for the member to lead: status until it says so (10 s). */
    for (int i = 0; i < 200; i++) {
        o = invoke_for(a, addr, "status", NULL, json_null(), 50);
        if (!o.done) {
            ops->abandon(a);
            continue;
        }
        if (o.type == HISTORY_OK &&
            strcmp(json_string_value(json_object_get(o.value, "state")),
                   "leader") == 0) {
            clear(&o);
            break;
        }
        clear(&o);
        uv_timer_start(&timer, timer_cb, 50, 0); /* refused: not up yet */
        uv_run(&loop, UV_RUN_ONCE);
        o.done = false;
    }
    CHECK(o.done && o.type == HISTORY_OK);
    if (failures == 0) {
        test_register(a, addr);
        test_locks(a, b, addr);
        test_outcomes(a, addr, closed);
    }
    ops->free(a);
    ops->free(b);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    printf("test_etcd_client: %s (%d failures)\n", failures ? "FAIL" : "ok",
           failures);
    return failures ? 1 : 0;
}
