/* redis_client: the client_ops of Redis with Sentinel, on hiredis' async
 * API and its libuv adapter, on the runner's loop.
 *
 * It behaves as an application that runs a Sentinel on each of its hosts:
 * to reach the primary it asks the Sentinel beside the node it is pointed
 * at (SENTINEL get-master-addr-by-name), connects there and keeps that
 * connection until it breaks; a broken connection, a timeout or a refusal
 * that says "not the primary" sends it back to Sentinel.
 *
 * Happy path: invoke(addr) with a connection to the primary at addr sends
 * the op's commands (a write, then WAIT when the scenario asks for it) and
 * the last reply completes the op.
 *
 * Routing and what each outcome means for the history:
 * - the primary known (connected, or just named by Sentinel) is elsewhere:
 *   fail, elsewhere, with leader = the primary; nothing was sent;
 * - nothing known: ask the Sentinel at the node's address (port +
 *   REDIS_SENTINEL_PORT_OFFSET); no answer, or no primary: fail,
 *   unreachable, elsewhere (nothing was sent to Redis);
 * - connect fails: fail, unreachable, elsewhere;
 * - -READONLY, -LOADING, -MASTERDOWN: the node refused before running the
 *   command: fail, elsewhere; the primary is looked up again;
 * - -NOREPLICAS (min-replicas-to-write): refused: fail;
 * - a script's own refusal (exists, not_found, cas_mismatch; the queue's
 *   empty, not_holder): fail (a script refuses before it writes; the
 *   claim's sweep of expired claims may have run, the claim did not);
 * - any other error reply, a connection lost after sending, a timeout: the
 *   write may have been applied: info;
 * - WAIT answering fewer replicas than asked: the write was applied on the
 *   primary but may not survive it: info, error "not_replicated", the
 *   count in the message.
 *
 * Completions run from a zero timer, never inside a hiredis callback, so
 * the runner's next invoke and every redisAsyncFree happen outside hiredis.
 * A connection (struct link) is detached when dropped and freed from that
 * timer, once hiredis can no longer call back with it. */
#include "nodes/client.h"
#include "nodes/redis.h"
#include "plugin/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define ADDR_LEN 64

struct link {
    struct client *owner;  /* NULL once detached */
    redisAsyncContext *ac; /* NULL once hiredis has it freed or freeing */
    char addr[ADDR_LEN];
    bool connected;
    struct link *next; /* on the client's dead list */
};

enum reply_tag { TAG_OP = 1, TAG_WAIT, TAG_SENTINEL };

struct client {
    uv_loop_t *loop;
    const struct redis_settings *set; /* NULL: no WAIT */
    struct link *redis;    /* to the node ops go to */
    struct link *sentinel; /* a lookup in progress */
    struct link *dead;     /* detached, freed from the defer timer */
    char primary[ADDR_LEN]; /* the primary Sentinel named, "" unknown */
    uv_timer_t defer;
    /* The op in flight. */
    bool busy;
    bool sent; /* its commands may have reached the node */
    bool done; /* its result is below, waiting for the defer timer */
    char addr[ADDR_LEN];
    char f[16];
    char key[64];
    char proc[96];  /* a queue op's processing:<worker> */
    char lease[24]; /* a claim's lease_ms */
    json_t *value;
    client_cb cb;
    void *arg;
    int pending; /* replies still awaited */
    bool write;  /* followed by WAIT */
    long long waited; /* WAIT's answer, -1 none */
    /* Its result. */
    enum history_type type;
    json_t *out; /* ok value, owned */
    const char *error;
    char message[256];
    char leader[ADDR_LEN];
    bool elsewhere, unreachable;
};

/* --- Scripts: what a team writes for tasks on Redis ---------------------
 *
 * A task is a hash task:<id> {status, version} and an entry in the set
 * "tasks". A request id's first answer is kept in rid:<rid> (10 minutes), so
 * a retry is answered as the first attempt was, not applied twice. */

static const char cas_lua[] =
    "#!lua\n"
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('SET', KEYS[1], ARGV[2]) return 1 end\n"
    "return 0\n";

static const char create_lua[] =
    "#!lua\n"
    "if ARGV[2] ~= '' then local d = redis.call('GET', KEYS[3])\n"
    "  if d then return {'pending', 1, 1} end end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return redis.error_reply('exists') end\n"
    "redis.call('HSET', KEYS[1], 'status', 'pending', 'version', 1)\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SET', KEYS[3], 'pending 1', 'PX', 600000) end\n"
    "return {'pending', 1, 0}\n";

static const char update_lua[] =
    "#!lua\n"
    "if ARGV[1] ~= '' then local d = redis.call('GET', KEYS[2])\n"
    "  if d then local s, v = string.match(d, '(%S+) (%d+)')\n"
    "    return {s, tonumber(v), 1} end end\n"
    "local cur = redis.call('HMGET', KEYS[1], 'status', 'version')\n"
    "if not cur[1] then return redis.error_reply('not_found') end\n"
    "if (ARGV[3] == 'status' and cur[1] ~= ARGV[4]) or\n"
    "   (ARGV[3] == 'version' and cur[2] ~= ARGV[4]) then\n"
    "  return redis.error_reply('cas_mismatch') end\n"
    "local v = redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('HSET', KEYS[1], 'status', ARGV[2])\n"
    "if ARGV[1] ~= '' then\n"
    "  redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. v, 'PX', 600000) end\n"
    "return {ARGV[2], v, 0}\n";

static const char delete_lua[] =
    "#!lua\n"
    "if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) then return 1 end\n"
    "if redis.call('DEL', KEYS[1]) == 0 then\n"
    "  return redis.error_reply('not_found') end\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SET', KEYS[3], 'deleted', 'PX', 600000) end\n"
    "return 0\n";

static const char list_lua[] =
    "#!lua flags=no-writes\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local r = redis.call('HMGET', 'task:' .. id, 'status', 'version')\n"
    "  if r[1] then out[#out + 1] = id out[#out + 1] = r[1]\n"
    "    out[#out + 1] = r[2] end end\n"
    "return out\n";

/* --- Scripts: the reliable-queue pattern ------------------------------
 *
 * LPUSH onto "queue" enqueues; a claim LMOVEs the oldest task from "queue"
 * into the worker's own list processing:<worker> and records the claim in
 * the hash "claims" (task -> "<worker> <expires_ms>"); an ack LREMs it
 * from the worker's list; a nack LREMs it and puts it back at the claiming
 * end of "queue". Expired claims are requeued by a sweep that every claim
 * runs first. Each is one script, so that a move, its claim record and the
 * sweep are applied together or not at all (and replicated as one
 * MULTI): with separate commands a failover between LMOVE and HSET leaves
 * a task no sweep can see. (BLMOVE cannot block inside a script; the
 * workload's empty claims are cheap, so the claim does not block.) Times
 * are the primary's own clock (TIME), the system clock the queue checker
 * judges leases by. Request ids are kept in rid:<rid> as for tasks. */

static const char enqueue_lua[] =
    "#!lua\n"
    "if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) then return 1 end\n"
    "redis.call('LPUSH', KEYS[1], ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SET', KEYS[2], 'queued', 'PX', 600000) end\n"
    "return 0\n";

static const char claim_lua[] =
    "#!lua\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if ARGV[3] ~= '' then local d = redis.call('GET', KEYS[3])\n"
    "  if d then local k, n, e = string.match(d, '(%S+) (%d+) (%d+)')\n"
    "    return {k, tonumber(n), tonumber(e), 1} end end\n"
    "local held = redis.call('HGETALL', KEYS[2])\n"
    "for i = 1, #held, 2 do\n"
    "  local w, e = string.match(held[i + 1], '(%S+) (%d+)')\n"
    "  if tonumber(e) <= now then\n"
    "    if redis.call('LREM', 'processing:' .. w, 1, held[i]) > 0 then\n"
    "      redis.call('RPUSH', KEYS[1], held[i]) end\n"
    "    redis.call('HDEL', KEYS[2], held[i]) end end\n"
    "local k = redis.call('LMOVE', KEYS[1], KEYS[4], 'RIGHT', 'LEFT')\n"
    "if not k then return redis.error_reply('empty') end\n"
    "local e = now + tonumber(ARGV[2])\n"
    "redis.call('HSET', KEYS[2], k, ARGV[1] .. ' ' .. e)\n"
    "if ARGV[3] ~= '' then redis.call('SET', KEYS[3],\n"
    "  k .. ' ' .. now .. ' ' .. e, 'PX', 600000) end\n"
    "return {k, now, e, 0}\n";

/* ack and nack (ARGV[3]: back onto the queue KEYS[4]). */
static const char settle_lua[] =
    "#!lua\n"
    "if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) then return 1 end\n"
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then\n"
    "  return redis.error_reply('not_holder') end\n"
    "redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "if ARGV[3] == 'nack' then redis.call('RPUSH', KEYS[4], ARGV[1]) end\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SET', KEYS[3], 'settled', 'PX', 600000) end\n"
    "return 0\n";

#define QUEUE_KEY  "queue"
#define CLAIMS_KEY "claims"

/* --- The libuv adapter, mended ---------------------------------------------
 *
 * hiredis 0.14's adapter drops a poll callback whose status is an error,
 * and libuv reports a refused connect (POLLERR) exactly so: the connect
 * callback never came and the op hung until its timeout. hiredis 1.0 hands
 * the error to hiredis as the events it waited for; these wrap the
 * adapter's functions to do the same. */

static void mended_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;
    int ev = status != 0 ? p->events : events;
    if (p->context != NULL && (ev & UV_READABLE)) {
        redisAsyncHandleRead(p->context);
    }
    if (p->context != NULL && (ev & UV_WRITABLE)) {
        redisAsyncHandleWrite(p->context);
    }
}

static void mended_update(redisLibuvEvents *p)
{
    if (p->events != 0) {
        uv_poll_start(&p->handle, p->events, mended_poll);
    } else {
        uv_poll_stop(&p->handle);
    }
}

static void mended_add_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_READABLE;
    mended_update(p);
}

static void mended_del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_READABLE;
    mended_update(p);
}

static void mended_add_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_WRITABLE;
    mended_update(p);
}

static void mended_del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_WRITABLE;
    mended_update(p);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (redisLibuvAttach(ac, loop) != REDIS_OK) {
        return -1;
    }
    ac->ev.addRead = mended_add_read;
    ac->ev.delRead = mended_del_read;
    ac->ev.addWrite = mended_add_write;
    ac->ev.delWrite = mended_del_write;
    return 0;
}

/* --- Links ---------------------------------------------------------------- */

static void defer_cb(uv_timer_t *t);

static void free_dead(struct client *c)
{
    while (c->dead != NULL) {
        struct link *l = c->dead;
        c->dead = l->next;
        free(l);
    }
}

/* Drop @l: no callback of it reaches the client any more. */
static void detach(struct client *c, struct link *l)
{
    redisAsyncContext *ac;
    if (l == NULL) {
        return;
    }
    if (c->redis == l) {
        c->redis = NULL;
    }
    if (c->sentinel == l) {
        c->sentinel = NULL;
    }
    ac = l->ac;
    l->ac = NULL;
    l->owner = NULL;
    l->next = c->dead;
    c->dead = l;
    /* hiredis frees a context itself after an error: never twice. */
    if (ac != NULL && (ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING)) ==
                          0) {
        redisAsyncFree(ac);
    }
}

static void finish_later(struct client *c)
{
    c->done = true;
    uv_timer_start(&c->defer, defer_cb, 0, 0);
}

static void fail_later(struct client *c, const char *error, bool unreachable,
                       const char *leader, const char *fmt, const char *what)
{
    c->type = HISTORY_FAIL;
    c->error = error;
    c->unreachable = unreachable;
    c->elsewhere = true;
    snprintf(c->leader, sizeof c->leader, "%s", leader != NULL ? leader : "");
    snprintf(c->message, sizeof c->message, fmt, what);
    c->pending = 0;
    finish_later(c);
}

/* The connection under the op broke, or could not be made. */
static void broken(struct client *c, struct link *l, const char *what,
                   const char *err)
{
    bool sent = c->sent;
    char msg[200];
    if (err == NULL || err[0] == '\0') {
        err = l->ac != NULL && l->ac->errstr[0] != '\0' ? l->ac->errstr
                                                        : "connection closed";
    }
    snprintf(msg, sizeof msg, "%s %s: %s", what, l->addr, err);
    c->primary[0] = '\0';
    detach(c, l);
    if (!c->busy || c->done) {
        return;
    }
    if (sent) {
        c->type = HISTORY_INFO;
        c->error = "connection_lost";
        c->elsewhere = false;
        snprintf(c->message, sizeof c->message, "%s", msg);
        c->pending = 0;
        finish_later(c);
    } else {
        fail_later(c, "unreachable", true, NULL, "%s", msg);
    }
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct client *c = l->owner;
    if (c == NULL) {
        return;
    }
    if (status != REDIS_OK) {
        /* hiredis frees it after this callback (outside IN_CALLBACK: a
         * redisAsyncFree here would free it twice). */
        l->ac = NULL;
        broken(c, l, "connect to", ac->errstr);
        return;
    }
    l->connected = true;
    if (c->busy && !c->done && l == c->redis) {
        c->sent = true; /* the queued commands go out now */
    }
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct client *c = l->owner;
    l->ac = NULL; /* being freed */
    if (c != NULL) {
        broken(c, l, "disconnected from", ac->errstr);
    }
}

static int parse_addr(const char *addr, char *host, size_t size, int *port)
{
    const char *colon = strrchr(addr, ':');
    size_t len;
    if (colon == NULL || (len = (size_t)(colon - addr)) >= size) {
        return -EINVAL;
    }
    memcpy(host, addr, len);
    host[len] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -EINVAL;
}

/* A new link to @addr (+ @port_offset), or NULL with c's op failed. */
static struct link *open_link(struct client *c, const char *addr,
                              int port_offset)
{
    char host[ADDR_LEN];
    int port;
    struct link *l;
    redisAsyncContext *ac;

    if (parse_addr(addr, host, sizeof host, &port) != 0) {
        return NULL;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        return NULL;
    }
    snprintf(l->addr, sizeof l->addr, "%s:%d", host, port + port_offset);
    ac = redisAsyncConnect(host, port + port_offset);
    if (ac == NULL || ac->err != 0 || attach(ac, c->loop) != 0) {
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        free(l);
        return NULL;
    }
    ac->data = l;
    l->ac = ac;
    l->owner = c;
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    return l;
}

/* --- Replies -------------------------------------------------------------- */

static json_int_t int_of(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER) {
        return (json_int_t)r->integer;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        return (json_int_t)strtoll(r->str, NULL, 10);
    }
    return 0;
}

static json_t *record_of(const redisReply *status, const redisReply *version)
{
    if (status == NULL || status->type != REDIS_REPLY_STRING) {
        return json_null();
    }
    return json_pack("{s:s, s:I}", "status", status->str, "version",
                     int_of(version));
}

/* Error replies that say the node refused before running anything. */
static bool refused_here(const char *err)
{
    static const char *const codes[] = {"READONLY", "LOADING", "MASTERDOWN",
                                        NULL};
    for (int i = 0; codes[i] != NULL; i++) {
        size_t n = strlen(codes[i]);
        if (strncmp(err, codes[i], n) == 0 && (err[n] == ' ' || !err[n])) {
            return true;
        }
    }
    return false;
}

/* Our scripts' refusals ("ERR cas_mismatch"): the code, or NULL. */
static const char *script_refusal(const char *err)
{
    static const char *const codes[] = {"exists", "not_found",  "cas_mismatch",
                                        "empty",  "not_holder", NULL};
    if (strncmp(err, "ERR ", 4) == 0) {
        err += 4;
    }
    for (int i = 0; codes[i] != NULL; i++) {
        if (strcmp(err, codes[i]) == 0) {
            return codes[i];
        }
    }
    return NULL;
}

/* The ok value of c's op from @r, or NULL when @r is not what it expects.
 * New reference. */
static json_t *ok_value(struct client *c, const redisReply *r)
{
    const char *f = c->f;
    if (strcmp(f, "read") == 0) {
        return r->type == REDIS_REPLY_NIL ? json_null()
                                          : json_integer(int_of(r));
    }
    if (strcmp(f, "write") == 0 || strcmp(f, "cas") == 0) {
        return json_incref(c->value);
    }
    if (strcmp(f, "status") == 0) {
        /* ROLE: ["master", offset, [[ip, port, offset]...]] */
        const char *role = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                                   r->element[0]->type == REDIS_REPLY_STRING
                               ? r->element[0]->str
                               : "";
        bool primary = strcmp(role, "master") == 0;
        size_t replicas = primary && r->elements > 2
                              ? r->element[2]->elements
                              : 0;
        return json_pack("{s:s, s:s, s:I}", "role",
                         primary && replicas > 0 ? "leader"
                         : primary               ? "primary_alone"
                                                 : "follower",
                         "redis_role", role, "replicas", (json_int_t)replicas);
    }
    if (strcmp(f, "create") == 0 || strcmp(f, "update") == 0) {
        json_t *v;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
            return NULL;
        }
        v = record_of(r->element[0], r->element[1]);
        if (int_of(r->element[2]) != 0) {
            json_object_set_new(v, "duplicate", json_true());
        }
        return v;
    }
    if (strcmp(f, "get") == 0) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
            return NULL;
        }
        return record_of(r->element[0], r->element[1]);
    }
    if (strcmp(f, "list") == 0) {
        json_t *out = json_array();
        if (r->type != REDIS_REPLY_ARRAY) {
            json_decref(out);
            return NULL;
        }
        for (size_t i = 0; i + 2 < r->elements; i += 3) {
            if (r->element[i]->type != REDIS_REPLY_STRING ||
                r->element[i + 1]->type != REDIS_REPLY_STRING) {
                continue;
            }
            json_array_append_new(
                out, json_pack("{s:s, s:s, s:I}", "id", r->element[i]->str,
                               "status", r->element[i + 1]->str, "version",
                               int_of(r->element[i + 2])));
        }
        return out;
    }
    if (strcmp(f, "enqueue") == 0 || strcmp(f, "nack") == 0) {
        return json_pack("{s:s}", "status", "queued");
    }
    if (strcmp(f, "ack") == 0) {
        return json_pack("{s:s}", "status", "done");
    }
    if (strcmp(f, "claim") == 0) {
        const char *worker =
            json_string_value(json_object_get(c->value, "worker"));
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            return NULL;
        }
        return json_pack("{s:s, s:s, s:I, s:I}", "task", r->element[0]->str,
                         "worker", worker != NULL ? worker : "", "now_ms",
                         int_of(r->element[1]), "expires_ms",
                         int_of(r->element[2]));
    }
    return json_null(); /* delete */
}

static void op_reply(struct client *c, struct link *l, const redisReply *r)
{
    const char *code;
    if (r->type != REDIS_REPLY_ERROR) {
        json_t *v = ok_value(c, r);
        if (strcmp(c->f, "cas") == 0 && int_of(r) != 1) {
            json_decref(v);
            c->type = HISTORY_FAIL;
            c->error = "cas_mismatch";
            return;
        }
        if (v == NULL) {
            c->type = HISTORY_INFO;
            c->error = "bad_reply";
            snprintf(c->message, sizeof c->message, "unexpected reply type %d",
                     r->type);
            return;
        }
        c->type = HISTORY_OK;
        c->out = v;
        return;
    }
    snprintf(c->message, sizeof c->message, "%s", r->str);
    if (refused_here(r->str)) {
        c->type = HISTORY_FAIL;
        c->error = "not_primary";
        c->elsewhere = true;
        c->primary[0] = '\0';
        detach(c, l); /* from a callback: hiredis frees it on return */
    } else if (strncmp(r->str, "NOREPLICAS", 10) == 0) {
        c->type = HISTORY_FAIL;
        c->error = "noreplicas";
    } else if ((code = script_refusal(r->str)) != NULL) {
        c->type = HISTORY_FAIL;
        c->error = code;
    } else {
        c->type = HISTORY_INFO;
        c->error = "error";
    }
}

static void wait_reply(struct client *c)
{
    int want = c->set->wait_replicas;
    if (c->type != HISTORY_OK || c->waited >= want) {
        return;
    }
    json_decref(c->out);
    c->out = NULL;
    c->type = HISTORY_INFO;
    c->error = "not_replicated";
    snprintf(c->message, sizeof c->message, "WAIT %d %d returned %lld", want,
             c->set->wait_ms, c->waited);
}

static void redis_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct link *l = ac->data;
    struct client *c = l->owner;
    const redisReply *r = reply;
    enum reply_tag tag = (enum reply_tag)(uintptr_t)priv;

    if (c == NULL || l != c->redis || !c->busy || c->done) {
        return;
    }
    if (r == NULL) {
        broken(c, l, "lost the connection to", NULL);
        return;
    }
    if (tag == TAG_OP) {
        op_reply(c, l, r);
    } else {
        c->waited = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    }
    if (--c->pending == 0) {
        if (c->write && c->set != NULL && c->set->wait_replicas > 0) {
            wait_reply(c);
        }
        finish_later(c);
    }
}

/* --- Commands ------------------------------------------------------------- */

/* The EVAL of a queue op (enqueue, claim, ack, nack) into @argv (room for
 * 12), with c->write set; -EINVAL for any other op. The strings it points
 * to live in c (c->key, c->value) or in @ridkey/@rid and c->proc. */
static int queue_args(struct client *c, const char **argv, int *argc,
                      const char *ridkey, const char *rid)
{
    const char *worker = json_string_value(json_object_get(c->value, "worker"));
    int n = 0;

    snprintf(c->proc, sizeof c->proc, "processing:%s",
             worker != NULL ? worker : "");
    argv[n++] = "EVAL";
    if (strcmp(c->f, "enqueue") == 0) {
        argv[n++] = enqueue_lua;
        argv[n++] = "2";
        argv[n++] = QUEUE_KEY;
        argv[n++] = ridkey[0] ? ridkey : "rid:";
        argv[n++] = c->key;
        argv[n++] = rid;
    } else if (strcmp(c->f, "claim") == 0) {
        snprintf(c->lease, sizeof c->lease, "%lld",
                 (long long)json_integer_value(
                     json_object_get(c->value, "lease_ms")));
        argv[n++] = claim_lua;
        argv[n++] = "4";
        argv[n++] = QUEUE_KEY;
        argv[n++] = CLAIMS_KEY;
        argv[n++] = ridkey[0] ? ridkey : "rid:";
        argv[n++] = c->proc;
        argv[n++] = worker != NULL ? worker : "";
        argv[n++] = c->lease;
        argv[n++] = rid;
    } else if (strcmp(c->f, "ack") == 0 || strcmp(c->f, "nack") == 0) {
        argv[n++] = settle_lua;
        argv[n++] = "4";
        argv[n++] = c->proc;
        argv[n++] = CLAIMS_KEY;
        argv[n++] = ridkey[0] ? ridkey : "rid:";
        argv[n++] = QUEUE_KEY;
        argv[n++] = c->key;
        argv[n++] = rid;
        argv[n++] = c->f;
    } else {
        return -EINVAL;
    }
    c->write = true;
    *argc = n;
    return 0;
}

/* Queue c's op on c->redis: its command, then WAIT after a write. */
static int send_op(struct client *c)
{
    const char *argv[12];
    char ridkey[96] = "", taskkey[96];
    const char *rid = json_string_value(json_object_get(c->value, "rid"));
    int argc = 0;
    redisAsyncContext *ac = c->redis->ac;

    if (rid == NULL) {
        rid = "";
    } else {
        snprintf(ridkey, sizeof ridkey, "rid:%s", rid);
    }
    snprintf(taskkey, sizeof taskkey, "task:%s", c->key);
    char a1[32], a2[32];
    c->write = false;
    if (strcmp(c->f, "read") == 0) {
        argv[argc++] = "GET";
        argv[argc++] = c->key;
    } else if (strcmp(c->f, "write") == 0) {
        snprintf(a1, sizeof a1, "%lld",
                 (long long)json_integer_value(c->value));
        argv[argc++] = "SET";
        argv[argc++] = c->key;
        argv[argc++] = a1;
        c->write = true;
    } else if (strcmp(c->f, "cas") == 0) {
        snprintf(a1, sizeof a1, "%lld",
                 (long long)json_integer_value(json_array_get(c->value, 0)));
        snprintf(a2, sizeof a2, "%lld",
                 (long long)json_integer_value(json_array_get(c->value, 1)));
        argv[argc++] = "EVAL";
        argv[argc++] = cas_lua;
        argv[argc++] = "1";
        argv[argc++] = c->key;
        argv[argc++] = a1;
        argv[argc++] = a2;
        c->write = true;
    } else if (strcmp(c->f, "status") == 0) {
        argv[argc++] = "ROLE";
    } else if (strcmp(c->f, "get") == 0) {
        argv[argc++] = "HMGET";
        argv[argc++] = taskkey;
        argv[argc++] = "status";
        argv[argc++] = "version";
    } else if (strcmp(c->f, "list") == 0) {
        argv[argc++] = "EVAL";
        argv[argc++] = list_lua;
        argv[argc++] = "1";
        argv[argc++] = "tasks";
    } else if (strcmp(c->f, "create") == 0 || strcmp(c->f, "delete") == 0) {
        argv[argc++] = "EVAL";
        argv[argc++] = c->f[0] == 'c' ? create_lua : delete_lua;
        argv[argc++] = "3";
        argv[argc++] = taskkey;
        argv[argc++] = "tasks";
        argv[argc++] = ridkey[0] ? ridkey : "rid:";
        argv[argc++] = c->key;
        argv[argc++] = rid;
        c->write = true;
    } else if (strcmp(c->f, "update") == 0) {
        json_t *ev = json_object_get(c->value, "expect_version");
        const char *es =
            json_string_value(json_object_get(c->value, "expect_status"));
        const char *to = json_string_value(json_object_get(c->value, "status"));
        argv[argc++] = "EVAL";
        argv[argc++] = update_lua;
        argv[argc++] = "2";
        argv[argc++] = taskkey;
        argv[argc++] = ridkey[0] ? ridkey : "rid:";
        argv[argc++] = rid;
        argv[argc++] = to != NULL ? to : "pending";
        if (json_is_integer(ev)) {
            snprintf(a1, sizeof a1, "%lld", (long long)json_integer_value(ev));
            argv[argc++] = "version";
            argv[argc++] = a1;
        } else {
            argv[argc++] = es != NULL ? "status" : "";
            argv[argc++] = es != NULL ? es : "";
        }
        c->write = true;
    } else if (queue_args(c, argv, &argc, ridkey, rid) != 0) {
        return -EINVAL;
    }
    c->pending = 1;
    c->waited = -1;
    if (redisAsyncCommandArgv(ac, redis_reply_cb, (void *)(uintptr_t)TAG_OP,
                              argc, argv, NULL) != REDIS_OK) {
        return -EIO;
    }
    if (c->write && c->set != NULL && c->set->wait_replicas > 0) {
        char n[16], ms[16];
        const char *wv[] = {"WAIT", n, ms};
        snprintf(n, sizeof n, "%d", c->set->wait_replicas);
        snprintf(ms, sizeof ms, "%d", c->set->wait_ms);
        if (redisAsyncCommandArgv(ac, redis_reply_cb,
                                  (void *)(uintptr_t)TAG_WAIT, 3, wv,
                                  NULL) == REDIS_OK) {
            c->pending++;
        }
    }
    if (c->redis->connected) {
        c->sent = true;
    }
    return 0;
}

/* Connect to the node at c->addr (or reuse the connection) and send. */
static void go_direct(struct client *c)
{
    if (c->redis != NULL && strcmp(c->redis->addr, c->addr) != 0) {
        detach(c, c->redis);
    }
    if (c->redis == NULL) {
        c->redis = open_link(c, c->addr, 0);
        if (c->redis == NULL) {
            fail_later(c, "unreachable", true, NULL, "connect %s failed",
                       c->addr);
            return;
        }
    }
    if (send_op(c) != 0) {
        broken(c, c->redis, "send to", NULL);
    }
}

/* Send to the primary if it is c->addr; else say where it is. */
static void route(struct client *c)
{
    const char *primary =
        c->redis != NULL ? c->redis->addr : c->primary[0] ? c->primary : NULL;
    if (primary == NULL) {
        return; /* ask Sentinel first */
    }
    if (strcmp(primary, c->addr) == 0) {
        go_direct(c);
    } else {
        fail_later(c, "not_primary", false, primary,
                   "Sentinel names %s the primary", primary);
    }
}

static void sentinel_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct link *l = ac->data;
    struct client *c = l->owner;
    const redisReply *r = reply;

    if (c == NULL || l != c->sentinel) {
        return;
    }
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        char msg[160];
        snprintf(msg, sizeof msg, "Sentinel %s: %s", l->addr,
                 r == NULL                        ? "no answer"
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "no primary known");
        c->primary[0] = '\0';
        detach(c, l);
        if (c->busy && !c->done) {
            fail_later(c, "no_primary", true, NULL, "%s", msg);
        }
        return;
    }
    snprintf(c->primary, sizeof c->primary, "%s:%s", r->element[0]->str,
             r->element[1]->str);
    detach(c, l);
    if (c->busy && !c->done) {
        route(c);
    }
}

static void ask_sentinel(struct client *c)
{
    c->sentinel = open_link(c, c->addr, REDIS_SENTINEL_PORT_OFFSET);
    if (c->sentinel == NULL) {
        fail_later(c, "unreachable", true, NULL, "Sentinel beside %s",
                   c->addr);
        return;
    }
    if (redisAsyncCommand(c->sentinel->ac, sentinel_reply_cb, NULL,
                          "SENTINEL get-master-addr-by-name %s",
                          REDIS_MASTER_NAME) != REDIS_OK) {
        detach(c, c->sentinel);
        fail_later(c, "unreachable", true, NULL, "Sentinel beside %s",
                   c->addr);
    }
}

/* --- The table ------------------------------------------------------------ */

static void clear_op(struct client *c)
{
    c->busy = false;
    c->done = false;
    c->sent = false;
    c->pending = 0;
    json_decref(c->value);
    c->value = NULL;
    json_decref(c->out);
    c->out = NULL;
    uv_timer_stop(&c->defer);
}

static void defer_cb(uv_timer_t *t)
{
    struct client *c = t->data;
    client_cb cb = c->cb;
    void *arg = c->arg;
    json_t *out;
    struct client_result res;

    free_dead(c);
    if (!c->busy || !c->done) {
        return;
    }
    out = c->out;
    c->out = NULL;
    res = (struct client_result){
        .type = c->type,
        .value = out != NULL ? out : json_null(),
        .error = c->type == HISTORY_OK ? NULL : c->error,
        .message = c->message[0] ? c->message : NULL,
        .leader = c->leader[0] ? c->leader : NULL,
        .unreachable = c->unreachable,
        .elsewhere = c->type == HISTORY_FAIL && c->elsewhere,
    };
    clear_op(c);
    cb(arg, &res);
    json_decref(out);
}

static const char *const known_ops[] = {
    "read",   "write", "cas",     "status", "create", "get",  "update",
    "delete", "list",  "enqueue", "claim",  "ack",    "nack", NULL};

static int redis_invoke(struct client *c, const char *addr,
                        const struct client_op *op, client_cb cb, void *arg)
{
    if (c->busy) {
        return -EBUSY;
    }
    if (!settings_in_list(known_ops, op->f)) {
        return -EINVAL;
    }
    free_dead(c);
    c->busy = true;
    c->done = false;
    c->sent = false;
    c->cb = cb;
    c->arg = arg;
    c->type = HISTORY_INFO;
    c->error = NULL;
    c->message[0] = '\0';
    c->leader[0] = '\0';
    c->elsewhere = c->unreachable = false;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    snprintf(c->f, sizeof c->f, "%s", op->f);
    snprintf(c->key, sizeof c->key, "%s", op->key != NULL ? op->key : "");
    c->value = json_incref(op->value != NULL ? op->value : json_null());

    if (strcmp(op->f, "status") == 0) {
        go_direct(c); /* the node's own role, not the primary's */
    } else if (c->redis != NULL || c->primary[0] != '\0') {
        route(c);
    } else {
        ask_sentinel(c);
    }
    return 0;
}

static void redis_abandon(struct client *c)
{
    /* Its connection's state is unknown: a real client drops it and asks
     * Sentinel again. */
    clear_op(c);
    c->primary[0] = '\0';
    detach(c, c->redis);
    detach(c, c->sentinel);
}

static bool redis_in_doubt(const struct client *c)
{
    return c->busy && c->sent;
}

static struct client *redis_new(uv_loop_t *loop)
{
    struct client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->loop = loop;
    uv_timer_init(loop, &c->defer);
    c->defer.data = c;
    return c;
}

static void redis_configure(struct client *c, const void *db_settings)
{
    c->set = db_settings;
}

static void close_cb(uv_handle_t *h)
{
    struct client *c = h->data;
    free_dead(c);
    free(c);
}

static void redis_free(struct client *c)
{
    if (c == NULL) {
        return;
    }
    redis_abandon(c);
    uv_close((uv_handle_t *)&c->defer, close_cb);
}

const struct client_ops client_redis = {
    .name = "redis",
    .new = redis_new,
    .configure = redis_configure,
    .invoke = redis_invoke,
    .abandon = redis_abandon,
    .in_doubt = redis_in_doubt,
    .free = redis_free,
};
