/* etcd_client: the client_ops of etcd 3.4, its v3 API over the JSON gateway.
 *
 * Every op is one or a few HTTP/1.1 POSTs (/v3/kv/range, /v3/kv/put...),
 * made by libcurl's multi-socket interface on the runner's libuv loop: one
 * CURLM per loop, shared by every client on it (so connections are pooled),
 * its sockets watched with uv_poll and its timeouts with a uv_timer. Keys
 * and values are base64, as the gateway wants; int64 fields come back as
 * strings.
 *
 * Outcomes, in the history's terms:
 * - register: read is a linearizable range (serializable false); write a
 *   put; cas a txn comparing the value (compare VALUE EQUAL; on success a
 *   put; else fail "cas_mismatch");
 * - nothing of a request that changes state was handed to libcurl's socket
 *   (no body read yet) and the connection failed: fail, elsewhere;
 * - a changing request's body was read (it may have reached the node: also
 *   when libcurl retries a request on a fresh connection after a pooled one
 *   died), and then an error or no reply: info; an error reply is info too,
 *   unless etcd says it refused it before proposing (too many requests,
 *   no space...): fail;
 * - a read that fails is a fail (it changed nothing), elsewhere;
 * - abandon() removes the transfer, which closes its connection.
 *
 * Leases (workload lease: acquire, release, holder on scopes), on etcd's
 * lock service. A scope is the lock's name; its holder the owner of the
 * lowest-created key under "scope/" (the lock key is scope/<lease hex>);
 * the fencing token that key's create revision. Times are this process's
 * monotonic clock in ms, the same for every client:
 *
 *   acquire (new)  range scope/ (held by another lease: fail "lock_held",
 *                  nothing sent), grant a lease of ttl_ms (rounded up to
 *                  s), lock with it, range the lock key: now_ms = when that
 *                  last range was sent (the lock was held then), expires_ms
 *                  = when the grant was sent + the granted TTL (etcd's
 *                  leader expires it no sooner), token = create revision;
 *   acquire (held) a renewal: keepalive of its lease; now_ms = when sent,
 *                  expires_ms = now_ms + TTL; TTL 0: the lease is gone:
 *                  fail "lease_expired";
 *   release        a txn deleting the lock key if its create revision is
 *                  still the token (etcd's /v3/lock/unlock deletes the key
 *                  whether or not it still exists, and says ok after the
 *                  lease expired and another holder took the lock: it can't
 *                  tell a release from a no-op), else fail "not_holder";
 *   holder         range scope/ (first created): the owner's lease, looked
 *                  up in the table of acquires this process saw succeed:
 *                  holder, token, expires_ms; now_ms = the later of the
 *                  read's invoke and that acquire's now_ms. Past expires_ms
 *                  the lease counts as expired (null), as the lease model
 *                  judges expiry. An owner whose acquire did not return ok
 *                  (in flight, or info) is unknown: the read fails, saying
 *                  nothing. */
#include "nodes/client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* --- one CURLM per loop -------------------------------------------------- */

struct multi {
    uv_loop_t *loop;
    CURLM *curlm;
    uv_timer_t timer;
    int refs;
    struct sock *socks; /* open uv_polls */
    struct multi *next;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct multi *m;
    struct sock *next; /* in m->socks */
};

static struct multi *multis;

static void check_done(struct multi *m);

static void sock_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void sock_drop(struct multi *m, struct sock *s)
{
    for (struct sock **pp = &m->socks; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_close_cb);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    struct sock *s = p->data;
    struct multi *m = s->m;
    int flags = 0, running;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(m->curlm, s->fd, flags, &running);
    check_done(m);
}

static int socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
    struct multi *m = userp;
    struct sock *s = socketp;
    int events = 0;

    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(m->curlm, fd, NULL);
            sock_drop(m, s);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            return -1;
        }
        if (uv_poll_init_socket(m->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->m = m;
        s->poll.data = s;
        s->next = m->socks;
        m->socks = s;
        curl_multi_assign(m->curlm, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        events |= UV_READABLE;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        events |= UV_WRITABLE;
    }
    uv_poll_start(&s->poll, events, poll_cb);
    return 0;
}

static void timer_cb(uv_timer_t *t)
{
    struct multi *m = t->data;
    int running;
    curl_multi_socket_action(m->curlm, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

static int timer_fn(CURLM *curlm, long timeout_ms, void *userp)
{
    struct multi *m = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&m->timer);
    } else {
        /* 0 too goes through the loop: libcurl must not be re-entered. */
        uv_timer_start(&m->timer, timer_cb, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

static struct multi *multi_get(uv_loop_t *loop)
{
    struct multi *m;
    for (m = multis; m != NULL; m = m->next) {
        if (m->loop == loop) {
            m->refs++;
            return m;
        }
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
        (m->curlm = curl_multi_init()) == NULL) {
        free(m);
        return NULL;
    }
    m->loop = loop;
    m->refs = 1;
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    curl_multi_setopt(m->curlm, CURLMOPT_SOCKETFUNCTION, socket_fn);
    curl_multi_setopt(m->curlm, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->curlm, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(m->curlm, CURLMOPT_TIMERDATA, m);
    m->next = multis;
    multis = m;
    return m;
}

static void multi_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void lease_table_clear(void);

static void multi_put(struct multi *m)
{
    if (--m->refs > 0) {
        return;
    }
    for (struct multi **pp = &multis; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    curl_multi_cleanup(m->curlm); /* may remove sockets through socket_fn */
    while (m->socks != NULL) {
        sock_drop(m, m->socks);
    }
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, multi_close_cb);
    curl_global_cleanup();
    if (multis == NULL) {
        lease_table_clear();
    }
}

/* --- leases this process saw acquired (for holder reads) ----------------- */

struct lease_entry {
    int64_t lease;
    char holder[32];
    int64_t token, now_ms, expires_ms;
};

static struct lease_entry *leases;
static size_t nleases, capleases;

static struct lease_entry *lease_find(int64_t lease)
{
    for (size_t i = 0; i < nleases; i++) {
        if (leases[i].lease == lease) {
            return &leases[i];
        }
    }
    return NULL;
}

static void lease_put(const struct lease_entry *e)
{
    struct lease_entry *old = lease_find(e->lease);
    if (old != NULL) {
        *old = *e;
        return;
    }
    if (nleases == capleases) {
        size_t cap = capleases ? capleases * 2 : 64;
        struct lease_entry *p = realloc(leases, cap * sizeof *p);
        if (p == NULL) {
            return; /* holder reads of it will say nothing */
        }
        leases = p;
        capleases = cap;
    }
    leases[nleases++] = *e;
}

static void lease_forget(int64_t lease)
{
    struct lease_entry *e = lease_find(lease);
    if (e != NULL) {
        *e = leases[--nleases];
    }
}

static void lease_table_clear(void)
{
    free(leases);
    leases = NULL;
    nleases = capleases = 0;
}

/* --- the client ----------------------------------------------------------- */

/* A scope this client holds (it believes). */
struct held {
    char scope[48];
    int64_t lease, token;
    char key[128]; /* the lock key */
};

enum step {
    S_STATUS,
    S_READ,
    S_WRITE,
    S_CAS,
    S_ACQ_CHECK,  /* range scope/: free? */
    S_ACQ_GRANT,  /* lease grant */
    S_ACQ_LOCK,   /* lock */
    S_ACQ_VERIFY, /* range the lock key: its create revision */
    S_RENEW,      /* keepalive */
    S_RELEASE,    /* txn delete if still ours */
    S_HOLDER,     /* range scope/ */
};

struct client {
    uv_loop_t *loop;
    struct multi *m;
    CURL *easy;
    struct curl_slist *headers;
    char base[160]; /* "http://host:port" */
    char curl_err[CURL_ERROR_SIZE];
    /* The op in flight. */
    bool busy;
    bool sent;     /* a changing request's body was read by libcurl */
    bool changing; /* the request in flight changes state */
    bool attached; /* easy is in the multi */
    enum step step;
    char f[16];
    char key[48];
    char holder[32];
    json_t *op_value;
    int ttl_ms;
    int64_t lease, granted_ttl, token;
    uint64_t grant_sent_ms, verify_sent_ms, invoked_ms;
    char lock_key[128];
    char *body;
    size_t body_len, body_off;
    char *resp;
    size_t resp_len, resp_cap;
    client_cb cb;
    void *arg;
    struct held *held;
    size_t nheld;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* Base64 (standard alphabet, padded). */
static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const char *in, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len) {
            v |= (unsigned char)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= (unsigned char)in[i + 2];
        }
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Decode @in into @out (NUL-terminated); -1 on bad input or no room. */
static int b64_decode(const char *in, char *out, size_t size)
{
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (; *in != '\0' && *in != '='; in++) {
        const char *p = strchr(b64, *in);
        if (p == NULL) {
            return -1;
        }
        v = (v << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= size) {
                return -1;
            }
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (int)o;
}

static json_t *b64_json(const char *s)
{
    char buf[256];
    b64_encode(s, strlen(s), buf, sizeof buf);
    return json_string(buf);
}

/* An int64 field the gateway writes as a string (or a number); @def when
 * absent. */
static int64_t int_field(json_t *obj, const char *name, int64_t def)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_string(v)) {
        return strtoll(json_string_value(v), NULL, 10);
    }
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    return def;
}

static struct held *held_find(struct client *c, const char *scope)
{
    for (size_t i = 0; i < c->nheld; i++) {
        if (strcmp(c->held[i].scope, scope) == 0) {
            return &c->held[i];
        }
    }
    return NULL;
}

static void held_drop(struct client *c, const char *scope)
{
    struct held *h = held_find(c, scope);
    if (h != NULL) {
        *h = c->held[--c->nheld];
    }
}

static void held_set(struct client *c, const struct held *h)
{
    struct held *old = held_find(c, h->scope);
    struct held *p;
    if (old != NULL) {
        *old = *h;
        return;
    }
    p = realloc(c->held, (c->nheld + 1) * sizeof *p);
    if (p == NULL) {
        return; /* it will renew by acquiring anew, and fail: held */
    }
    c->held = p;
    c->held[c->nheld++] = *h;
}

static void detach(struct client *c)
{
    if (c->attached) {
        curl_multi_remove_handle(c->m->curlm, c->easy);
        c->attached = false;
    }
}

static void clear_op(struct client *c)
{
    c->busy = false;
    c->sent = false;
    json_decref(c->op_value);
    c->op_value = NULL;
    free(c->body);
    c->body = NULL;
}

static void complete(struct client *c, struct client_result *res)
{
    client_cb cb = c->cb;
    void *arg = c->arg;
    json_t *value = json_incref(res->value); /* may be c->op_value */
    if (!c->busy) {
        json_decref(value);
        return;
    }
    clear_op(c);
    cb(arg, res);
    json_decref(value);
}

static void complete_error(struct client *c, enum history_type type,
                           const char *error, const char *message,
                           bool elsewhere)
{
    struct client_result res = {
        .type = type,
        .value = json_null(),
        .error = error,
        .message = message,
        .unreachable = elsewhere && !c->sent,
        .elsewhere = elsewhere,
    };
    complete(c, &res);
}

static void complete_ok(struct client *c, json_t *value)
{
    struct client_result res = {.type = HISTORY_OK, .value = value};
    complete(c, &res);
}

static size_t read_fn(char *buf, size_t size, size_t n, void *userp)
{
    struct client *c = userp;
    size_t left = c->body_len - c->body_off;
    size_t len = size * n < left ? size * n : left;
    if (c->changing) {
        c->sent = true;
    }
    memcpy(buf, c->body + c->body_off, len);
    c->body_off += len;
    return len;
}

static int seek_fn(void *userp, curl_off_t offset, int origin)
{
    struct client *c = userp;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > c->body_len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    c->body_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t write_fn(char *data, size_t size, size_t n, void *userp)
{
    struct client *c = userp;
    size_t len = size * n;
    if (c->resp_len + len + 1 > c->resp_cap) {
        size_t cap = (c->resp_len + len + 1) * 2;
        char *p = realloc(c->resp, cap);
        if (p == NULL) {
            return 0; /* libcurl fails the transfer */
        }
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, data, len);
    c->resp_len += len;
    c->resp[c->resp_len] = '\0';
    return len;
}

/* POST @body (stolen) to @path as step @step. */
static int post(struct client *c, enum step step, const char *path,
                json_t *body, bool changing)
{
    char url[256];
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    CURLMcode mc;

    json_decref(body);
    if (text == NULL) {
        return -ENOMEM;
    }
    detach(c);
    free(c->body);
    c->body = text;
    c->body_len = strlen(text);
    c->body_off = 0;
    c->resp_len = 0;
    c->step = step;
    c->changing = changing;
    c->curl_err[0] = '\0';
    snprintf(url, sizeof url, "%s%s", c->base, path);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)c->body_len);
    mc = curl_multi_add_handle(c->m->curlm, c->easy);
    if (mc != CURLM_OK) {
        return -ENOMEM;
    }
    c->attached = true;
    return 0;
}

/* Continue with the next request of a multi-request op; on failure the op
 * ends (nothing of this request was sent). */
static void post_next(struct client *c, enum step step, const char *path,
                      json_t *body, bool changing)
{
    if (post(c, step, path, body, changing) != 0) {
        complete_error(c, c->sent ? HISTORY_INFO : HISTORY_FAIL, "error",
                       "out of memory", false);
    }
}

/* etcd errors that say the request was refused before it was proposed:
 * nothing happened. Anything else from a changing request is in doubt. */
static bool refused_before_proposing(const char *msg)
{
    static const char *const texts[] = {
        "etcdserver: too many requests",
        "etcdserver: request is too large",
        "etcdserver: key is not provided",
        "etcdserver: mvcc: database space exceeded",
        "etcdserver: not capable",
        "etcdserver: no leader", /* only before proposing (interceptor) */
        NULL,
    };
    for (int i = 0; texts[i] != NULL; i++) {
        if (strstr(msg, texts[i]) != NULL) {
            return true;
        }
    }
    return false;
}

static bool is_read_step(enum step s)
{
    return s == S_STATUS || s == S_READ || s == S_HOLDER || s == S_ACQ_CHECK;
}

/* The request failed (transport or error reply) at step @c->step. */
static void request_failed(struct client *c, const char *error,
                           const char *message)
{
    if (is_read_step(c->step) || !c->sent) {
        /* A read did nothing; a changing request whose body never left did
         * nothing either (an acquire whose grant failed has no lock). */
        complete_error(c, HISTORY_FAIL, error, message, true);
    } else if (refused_before_proposing(message)) {
        complete_error(c, HISTORY_FAIL, error, message, true);
    } else {
        complete_error(c, HISTORY_INFO, error, message, false);
    }
}

static void on_status(struct client *c, json_t *r)
{
    json_t *hdr = json_object_get(r, "header");
    const char *me = json_string_value(json_object_get(hdr, "member_id"));
    const char *leader = json_string_value(json_object_get(r, "leader"));
    json_t *v = json_pack("{s:s, s:s?, s:s?}", "state",
                          me != NULL && leader != NULL &&
                                  strcmp(me, leader) == 0
                              ? "leader"
                              : "follower",
                          "member", me, "leader", leader);
    complete_ok(c, v != NULL ? v : json_null());
    json_decref(v);
}

static void on_read(struct client *c, json_t *r)
{
    json_t *kv = json_array_get(json_object_get(r, "kvs"), 0);
    const char *v = json_string_value(json_object_get(kv, "value"));
    char text[64], *end;
    json_t *value;
    long long n;

    if (kv == NULL) {
        complete_ok(c, json_null()); /* unset */
        return;
    }
    if (v == NULL || b64_decode(v, text, sizeof text) <= 0 ||
        (n = strtoll(text, &end, 10), *end != '\0')) {
        complete_error(c, HISTORY_FAIL, "bad_value",
                       "the value is not an integer", false);
        return;
    }
    value = json_integer(n);
    complete_ok(c, value);
    json_decref(value);
}

static void on_cas(struct client *c, json_t *r)
{
    if (json_is_true(json_object_get(r, "succeeded"))) {
        complete_ok(c, c->op_value);
    } else {
        complete_error(c, HISTORY_FAIL, "cas_mismatch",
                       "compare VALUE EQUAL failed", false);
    }
}

/* The lowest-created key under "scope/" of @r, or NULL. */
static json_t *owner_kv(json_t *r)
{
    return json_array_get(json_object_get(r, "kvs"), 0);
}

static json_t *prefix_range(const char *scope)
{
    char from[64], to[64];
    json_t *body;
    snprintf(from, sizeof from, "%s/", scope);
    snprintf(to, sizeof to, "%s0", scope); /* '/' + 1 */
    body = json_pack("{s:o, s:o, s:s, s:s, s:i}", "key", b64_json(from),
                     "range_end", b64_json(to), "sort_target", "CREATE",
                     "sort_order", "ASCEND", "limit", 1);
    return body;
}

static json_t *lease_value(const char *holder, int64_t token, int64_t now,
                           int64_t expires)
{
    return json_pack("{s:s, s:I, s:I, s:I}", "holder", holder, "token",
                     (json_int_t)token, "now_ms", (json_int_t)now,
                     "expires_ms", (json_int_t)expires);
}

static void on_acq_check(struct client *c, json_t *r)
{
    json_t *kv = owner_kv(r);
    if (kv != NULL) {
        complete_error(c, HISTORY_FAIL, "lock_held",
                       "the lock has an owner: not asked for", false);
        return;
    }
    c->grant_sent_ms = now_ms();
    post_next(c, S_ACQ_GRANT, "/v3/lease/grant",
              json_pack("{s:I}", "TTL", (json_int_t)((c->ttl_ms + 999) / 1000)),
              false);
}

static void on_acq_grant(struct client *c, json_t *r)
{
    char id[32];
    c->lease = int_field(r, "ID", 0);
    c->granted_ttl = int_field(r, "TTL", 0);
    if (c->lease == 0 || c->granted_ttl <= 0) {
        complete_error(c, HISTORY_FAIL, "grant_failed",
                       "lease grant returned no lease", true);
        return;
    }
    snprintf(id, sizeof id, "%" PRId64, c->lease);
    post_next(c, S_ACQ_LOCK, "/v3/lock/lock",
              json_pack("{s:o, s:s}", "name", b64_json(c->key), "lease", id),
              true);
}

static void on_acq_lock(struct client *c, json_t *r)
{
    const char *k = json_string_value(json_object_get(r, "key"));
    if (k == NULL || b64_decode(k, c->lock_key, sizeof c->lock_key) <= 0) {
        complete_error(c, HISTORY_INFO, "bad_reply", "lock returned no key",
                       false);
        return;
    }
    c->verify_sent_ms = now_ms();
    post_next(c, S_ACQ_VERIFY, "/v3/kv/range",
              json_pack("{s:o}", "key", b64_json(c->lock_key)), false);
}

static void on_acq_verify(struct client *c, json_t *r)
{
    json_t *kv = owner_kv(r);
    int64_t expires = (int64_t)c->grant_sent_ms + c->granted_ttl * 1000;
    int64_t now = (int64_t)c->verify_sent_ms;
    struct lease_entry e = {.lease = c->lease};
    struct held h = {.lease = c->lease};
    json_t *v;

    if (kv == NULL || expires <= now) {
        /* Locked, and already gone (its lease expired while it waited):
         * it happened, with no time left to hold it. */
        complete_error(c, HISTORY_INFO, "lease_expired",
                       "the lock was granted after its lease ran out", false);
        return;
    }
    c->token = int_field(kv, "create_revision", 0);
    snprintf(e.holder, sizeof e.holder, "%s", c->holder);
    e.token = c->token;
    e.now_ms = now;
    e.expires_ms = expires;
    lease_put(&e);
    snprintf(h.scope, sizeof h.scope, "%s", c->key);
    h.token = c->token;
    snprintf(h.key, sizeof h.key, "%s", c->lock_key);
    held_set(c, &h);
    v = lease_value(c->holder, c->token, now, expires);
    complete_ok(c, v != NULL ? v : json_null());
    json_decref(v);
}

static void on_renew(struct client *c, json_t *r)
{
    json_t *res = json_object_get(r, "result");
    int64_t ttl = int_field(res, "TTL", 0);
    int64_t now = (int64_t)c->grant_sent_ms;
    struct lease_entry *e = lease_find(c->lease);
    json_t *v;

    if (json_object_get(r, "error") != NULL) {
        request_failed(c, "error",
                       json_string_value(json_object_get(
                           json_object_get(r, "error"), "message")));
        return;
    }
    if (ttl <= 0) {
        held_drop(c, c->key);
        lease_forget(c->lease);
        complete_error(c, HISTORY_FAIL, "lease_expired",
                       "keepalive: the lease is gone", false);
        return;
    }
    if (e != NULL) {
        e->now_ms = now;
        e->expires_ms = now + ttl * 1000;
    }
    v = lease_value(c->holder, c->token, now, now + ttl * 1000);
    complete_ok(c, v != NULL ? v : json_null());
    json_decref(v);
}

static void on_release(struct client *c, json_t *r)
{
    held_drop(c, c->key);
    lease_forget(c->lease);
    if (json_is_true(json_object_get(r, "succeeded"))) {
        complete_ok(c, json_null());
    } else {
        complete_error(c, HISTORY_FAIL, "not_holder",
                       "the lock key is gone (its lease expired)", false);
    }
}

static void on_holder(struct client *c, json_t *r)
{
    json_t *kv = owner_kv(r);
    uint64_t done = now_ms();
    const struct lease_entry *e;
    json_t *v;
    int64_t now;

    if (kv == NULL) {
        v = json_pack("{s:n, s:n, s:I, s:n}", "holder", "token", "now_ms",
                      (json_int_t)done, "expires_ms");
        complete_ok(c, v != NULL ? v : json_null());
        json_decref(v);
        return;
    }
    e = lease_find(int_field(kv, "lease", 0));
    if (e == NULL || e->token != int_field(kv, "create_revision", -1)) {
        complete_error(c, HISTORY_FAIL, "owner_unknown",
                       "the owner's acquire has not returned ok", false);
        return;
    }
    now = e->now_ms > (int64_t)c->invoked_ms ? e->now_ms
                                             : (int64_t)c->invoked_ms;
    if (now >= e->expires_ms) {
        v = json_pack("{s:n, s:n, s:I, s:n}", "holder", "token", "now_ms",
                      (json_int_t)now, "expires_ms");
    } else {
        v = json_pack("{s:s, s:I, s:I, s:I}", "holder", e->holder, "token",
                      (json_int_t)e->token, "now_ms", (json_int_t)now,
                      "expires_ms", (json_int_t)e->expires_ms);
    }
    complete_ok(c, v != NULL ? v : json_null());
    json_decref(v);
}

static void transfer_done(struct client *c, CURLcode code)
{
    long http = 0;
    json_t *r;
    const char *msg;

    c->attached = false; /* check_done removed it */
    if (code != CURLE_OK) {
        char text[CURL_ERROR_SIZE + 64];
        snprintf(text, sizeof text, "%s%s%s", curl_easy_strerror(code),
                 c->curl_err[0] ? ": " : "", c->curl_err);
        request_failed(c,
                       code == CURLE_COULDNT_CONNECT ? "unreachable"
                                                     : "connection_lost",
                       text);
        return;
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &http);
    r = c->resp != NULL ? json_loadb(c->resp, c->resp_len, 0, NULL) : NULL;
    if (http != 200 || r == NULL || json_object_get(r, "error") != NULL) {
        char text[256];
        msg = json_string_value(json_object_get(r, "message"));
        if (msg == NULL) {
            msg = json_string_value(json_object_get(r, "error"));
        }
        if (msg == NULL && c->step == S_RENEW) {
            msg = json_string_value(json_object_get(
                json_object_get(r, "error"), "message"));
        }
        snprintf(text, sizeof text, "HTTP %ld: %s", http,
                 msg != NULL ? msg : "no JSON reply");
        json_decref(r);
        request_failed(c, "error", text);
        return;
    }
    switch (c->step) {
    case S_STATUS:
        on_status(c, r);
        break;
    case S_READ:
        on_read(c, r);
        break;
    case S_WRITE:
        complete_ok(c, c->op_value);
        break;
    case S_CAS:
        on_cas(c, r);
        break;
    case S_ACQ_CHECK:
        on_acq_check(c, r);
        break;
    case S_ACQ_GRANT:
        on_acq_grant(c, r);
        break;
    case S_ACQ_LOCK:
        on_acq_lock(c, r);
        break;
    case S_ACQ_VERIFY:
        on_acq_verify(c, r);
        break;
    case S_RENEW:
        on_renew(c, r);
        break;
    case S_RELEASE:
        on_release(c, r);
        break;
    case S_HOLDER:
        on_holder(c, r);
        break;
    }
    json_decref(r);
}

static void check_done(struct multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->curlm, &left)) != NULL) {
        struct client *c = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
        curl_multi_remove_handle(m->curlm, easy);
        if (c != NULL && c->attached) {
            transfer_done(c, code);
        }
    }
}

/* --- building requests ---------------------------------------------------- */

static json_t *kv_put(const char *key, json_int_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, value);
    return json_pack("{s:o, s:o}", "key", b64_json(key), "value",
                     b64_json(text));
}

static json_t *cas_txn(const char *key, json_int_t from, json_int_t to)
{
    char text[32];
    snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, from);
    return json_pack("{s:[{s:o, s:s, s:s, s:o}], s:[{s:o}]}", "compare", "key",
                     b64_json(key), "target", "VALUE", "result", "EQUAL",
                     "value", b64_json(text), "success", "requestPut",
                     kv_put(key, to));
}

static json_t *release_txn(const struct held *h)
{
    char rev[32];
    snprintf(rev, sizeof rev, "%" PRId64, h->token);
    return json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:{s:o}}]}", "compare",
                     "key", b64_json(h->key), "target", "CREATE", "result",
                     "EQUAL", "create_revision", rev, "success",
                     "requestDeleteRange", "key", b64_json(h->key));
}

/* Start @op; -EINVAL for an op etcd does not map. */
static int start_op(struct client *c, const struct client_op *op)
{
    const char *f = op->f;
    json_t *v = op->value;

    if (strcmp(f, "status") == 0) {
        return post(c, S_STATUS, "/v3/maintenance/status", json_object(),
                    false);
    }
    if (op->key == NULL) {
        return -EINVAL;
    }
    if (strcmp(f, "read") == 0) {
        return post(c, S_READ, "/v3/kv/range",
                    json_pack("{s:o, s:b}", "key", b64_json(op->key),
                              "serializable", 0),
                    false);
    }
    if (strcmp(f, "write") == 0 && json_is_integer(v)) {
        return post(c, S_WRITE, "/v3/kv/put",
                    kv_put(op->key, json_integer_value(v)), true);
    }
    if (strcmp(f, "cas") == 0 && json_is_integer(json_array_get(v, 0)) &&
        json_is_integer(json_array_get(v, 1))) {
        return post(c, S_CAS, "/v3/kv/txn",
                    cas_txn(op->key,
                            json_integer_value(json_array_get(v, 0)),
                            json_integer_value(json_array_get(v, 1))),
                    true);
    }
    if (strcmp(f, "holder") == 0) {
        return post(c, S_HOLDER, "/v3/kv/range", prefix_range(op->key), false);
    }
    if (strcmp(f, "acquire") == 0 || strcmp(f, "release") == 0) {
        const char *holder = json_string_value(json_object_get(v, "holder"));
        struct held *h = held_find(c, op->key);
        char id[32];
        if (holder == NULL) {
            return -EINVAL;
        }
        snprintf(c->holder, sizeof c->holder, "%s", holder);
        if (strcmp(f, "release") == 0) {
            if (h == NULL) {
                return 1; /* nothing to release: fail at once */
            }
            c->lease = h->lease;
            return post(c, S_RELEASE, "/v3/kv/txn", release_txn(h), true);
        }
        c->ttl_ms = (int)json_integer_value(json_object_get(v, "ttl_ms"));
        if (c->ttl_ms <= 0) {
            c->ttl_ms = 2000;
        }
        if (h != NULL) {
            c->lease = h->lease;
            c->token = h->token;
            c->grant_sent_ms = now_ms();
            snprintf(id, sizeof id, "%" PRId64, h->lease);
            return post(c, S_RENEW, "/v3/lease/keepalive",
                        json_pack("{s:s}", "ID", id), true);
        }
        return post(c, S_ACQ_CHECK, "/v3/kv/range", prefix_range(op->key),
                     false);
    }
    return -EINVAL;
}

static int etcd_invoke(struct client *c, const char *addr,
                       const struct client_op *op, client_cb cb, void *arg)
{
    int rv;
    if (c->busy) {
        return -EBUSY;
    }
    snprintf(c->base, sizeof c->base, "http://%s", addr);
    snprintf(c->f, sizeof c->f, "%s", op->f);
    snprintf(c->key, sizeof c->key, "%s", op->key != NULL ? op->key : "");
    c->op_value = json_incref(op->value);
    c->cb = cb;
    c->arg = arg;
    c->busy = true;
    c->sent = false;
    c->invoked_ms = now_ms();
    rv = start_op(c, op);
    if (rv == 1) {
        /* A release of a scope this client does not hold: nothing sent. */
        complete_error(c, HISTORY_FAIL, "not_holder",
                       "this client holds no lock on the scope", false);
        return 0;
    }
    if (rv != 0) {
        clear_op(c);
    }
    return rv;
}

static void etcd_abandon(struct client *c)
{
    detach(c);
    clear_op(c);
}

static bool etcd_in_doubt(const struct client *c)
{
    return c->busy && c->sent;
}

static struct client *etcd_new(uv_loop_t *loop)
{
    struct client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->loop = loop;
    c->m = multi_get(loop);
    if (c->m == NULL) {
        free(c);
        return NULL;
    }
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        multi_put(c->m);
        free(c);
        return NULL;
    }
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(c->easy, CURLOPT_READFUNCTION, read_fn);
    curl_easy_setopt(c->easy, CURLOPT_READDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_SEEKFUNCTION, seek_fn);
    curl_easy_setopt(c->easy, CURLOPT_SEEKDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_fn);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    return c;
}

static void etcd_free(struct client *c)
{
    if (c == NULL) {
        return;
    }
    etcd_abandon(c);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    multi_put(c->m);
    free(c->resp);
    free(c->held);
    free(c);
}

const struct client_ops client_etcd = {
    .name = "etcd",
    .new = etcd_new,
    .invoke = etcd_invoke,
    .abandon = etcd_abandon,
    .in_doubt = etcd_in_doubt,
    .free = etcd_free,
};
