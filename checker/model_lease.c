/* model_lease: leader leases per scope (FORMAT.md, "Lease operations").
 *
 * A scope is free or held: (holder, fencing token, expiry), and has a
 * clock: every acquire and holder reply carries the now_ms it was judged
 * at, and those never go back in the order the scope's ops take effect
 * (an acquire moves the clock to its now_ms; a holder read needs now_ms >=
 * the clock, as taskd judges reads at the later of the leader's wall clock
 * and the state machine's clock). The system has one clock for all scopes,
 * but a clock per scope keeps the model compositional (the checker splits
 * by scope); the lease checker (lease.c) compares clocks across scopes in
 * real time. The rules are
 * taskd's (nodes/taskd/README.md, "Leases"):
 *
 *   acquire H  succeeds when the scope is free, expired (expiry <= now_ms),
 *              or held by H; it keeps the token when H already held it
 *              (a renewal, expired or not), else the token is new and
 *              larger than any the scope had; expiry = now_ms + ttl_ms
 *   release H  succeeds when H holds the scope (expired or not): free
 *   holder     the holder and its token and expiry when held and not
 *              expired at now_ms, else null
 *
 * An acquire whose outcome is unknown may take the scope at an unknown
 * time: its token and expiry are then unknown, and the first reply that
 * shows them fixes them (so the model never rejects what it can't see).
 * Attempts of one request (same rid) are merged first (requests.h).
 *
 * The state is the whole map of scopes, hash-consed (checker/intern.h),
 * so the model is right split by scope or not. Not for two
 * checks at once (the intern tables are static). */
#include "checker/model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker/intern.h"

enum { LEASE_ACQUIRE, LEASE_RELEASE, LEASE_HOLDER };

#define NONE    UINT32_MAX
#define UNKNOWN INT64_MIN /* a token or expiry not seen yet */

static struct intern strings; /* scopes and holders */
static struct intern maps;    /* sorted arrays of struct scope */
static struct intern seen;    /* struct obs: what a reply showed */

/* One held scope: plain words, no padding. */
struct scope {
    uint32_t scope;  /* string id */
    uint32_t holder; /* string id */
    int64_t token;   /* or UNKNOWN */
    int64_t expires; /* or UNKNOWN */
    int64_t floor;   /* the largest token the scope has had */
    int64_t clock;   /* the latest now_ms of an acquire, or INT64_MIN */
};

/* The state: the map of scopes (released ones stay, for their floor and
 * clock: holder NONE). */
struct leases {
    uint64_t map;
};

/* A reply: holder (NONE: null), token, now_ms, expires_ms. */
struct obs {
    int64_t token, now, expires;
    uint32_t holder, zero;
};

static void lease_reset(void)
{
    intern_free(&strings);
    intern_free(&maps);
    intern_free(&seen);
}

static uint32_t str_id(const char *s)
{
    return intern_put(&strings, s, strlen(s));
}

static const struct obs *obs_of(int64_t id)
{
    size_t len;
    return intern_get(&seen, (uint32_t)id, &len);
}

static bool get_int(json_t *o, const char *name, int64_t *v)
{
    json_t *x = json_object_get(o, name);
    if (!json_is_integer(x)) {
        return false;
    }
    *v = json_integer_value(x);
    return true;
}

static int op_from_events(const struct history_event *invoke,
                          const struct history_event *done, struct model_op *op,
                          char *err, size_t errlen)
{
    const char *f = invoke->f;
    json_t *in = invoke->value;
    uint32_t sid, hid = NONE;
    struct obs o = {0};
    uint32_t id;

    memset(op, 0, sizeof *op);
    op->open = done == NULL;
    if (invoke->key == NULL) {
        snprintf(err, errlen, "%s without a key (the scope)", f);
        return -EINVAL;
    }
    if (strcmp(f, "acquire") == 0) {
        op->f = LEASE_ACQUIRE;
    } else if (strcmp(f, "release") == 0) {
        op->f = LEASE_RELEASE;
    } else if (strcmp(f, "holder") == 0) {
        op->f = LEASE_HOLDER;
        if (done == NULL) {
            return MODEL_DROP;
        }
    } else {
        snprintf(err, errlen,
                 "unknown operation \"%s\" (lease has acquire, release, "
                 "holder)",
                 f);
        return -EINVAL;
    }
    sid = str_id(invoke->key);
    if (op->f != LEASE_HOLDER) {
        const char *h = json_string_value(json_object_get(in, "holder"));
        if (h == NULL) {
            snprintf(err, errlen, "%s value: expected {\"holder\": string}", f);
            return -EINVAL;
        }
        hid = str_id(h);
    }
    if (sid == NONE || (op->f != LEASE_HOLDER && hid == NONE)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    op->in[0] = (int64_t)((uint64_t)sid | (uint64_t)hid << 32);
    if (done == NULL || op->f == LEASE_RELEASE) {
        return MODEL_KEEP;
    }
    /* An ok acquire or holder read: what it showed. */
    {
        json_t *v = done->value;
        json_t *h = json_object_get(v, "holder");
        o.holder = NONE;
        if (!get_int(v, "now_ms", &o.now) ||
            (op->f == LEASE_ACQUIRE && !json_is_string(h)) ||
            (h != NULL && !json_is_null(h) &&
             (!json_is_string(h) || !get_int(v, "token", &o.token) ||
              !get_int(v, "expires_ms", &o.expires)))) {
            snprintf(err, errlen,
                     "ok %s value: expected {\"holder\": string%s, "
                     "\"token\", \"now_ms\", \"expires_ms\": integers}",
                     f, op->f == LEASE_HOLDER ? " or null" : "");
            return -EINVAL;
        }
        if (json_is_string(h)) {
            o.holder = str_id(json_string_value(h));
            if (o.holder == NONE) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
            }
        }
        op->out_nil = o.holder == NONE;
        id = intern_put(&seen, &o, sizeof o);
        if (id == NONE) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        op->out = id;
    }
    return MODEL_KEEP;
}

static void init(void *state)
{
    struct leases *s = state;
    s->map = intern_put(&maps, "", 0);
}

/* The entry of @scope in @map (a copy), or false when it has none. */
static bool find(uint64_t map, uint32_t scope, struct scope *out)
{
    size_t len;
    const struct scope *r = intern_get(&maps, (uint32_t)map, &len);
    for (size_t i = 0; i < len / sizeof *r; i++) {
        if (r[i].scope == scope) {
            *out = r[i];
            return true;
        }
    }
    return false;
}

/* @map with @e set for its scope: a map id, or NONE. */
static uint32_t with(uint64_t map, const struct scope *e)
{
    size_t len, n, m = 0;
    const struct scope *r = intern_get(&maps, (uint32_t)map, &len);
    struct scope small[8], *buf = small;
    uint32_t id;
    bool placed = false;

    n = len / sizeof *r;
    if (n + 1 > sizeof small / sizeof small[0]) {
        buf = malloc((n + 1) * sizeof *buf);
        if (buf == NULL) {
            return NONE;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!placed && r[i].scope >= e->scope) {
            buf[m++] = *e;
            placed = true;
            if (r[i].scope == e->scope) {
                continue;
            }
        }
        buf[m++] = r[i];
    }
    if (!placed) {
        buf[m++] = *e;
    }
    id = intern_put(&maps, buf, m * sizeof *buf);
    if (buf != small) {
        free(buf);
    }
    return id;
}

static bool step(const void *state, const struct model_op *op, void *next)
{
    const struct leases *s = state;
    struct leases *nx = next;
    uint32_t sid = (uint32_t)((uint64_t)op->in[0]);
    uint32_t hid = (uint32_t)((uint64_t)op->in[0] >> 32);
    struct scope e = {
        .scope = sid, .holder = NONE, .floor = 0, .clock = INT64_MIN};
    bool held = find(s->map, sid, &e) && e.holder != NONE;
    const struct obs *o =
        op->open || op->f == LEASE_RELEASE ? NULL : obs_of(op->out);
    uint32_t id;

    *nx = *s;
    switch (op->f) {
    case LEASE_HOLDER:
        if (o->now < e.clock) {
            return false;
        }
        if (o->holder == NONE) {
            /* Free, or expired at now (an unknown expiry may be). */
            return !held || e.expires == UNKNOWN || e.expires <= o->now;
        }
        if (!held || e.holder != o->holder || o->expires <= o->now ||
            (e.expires != UNKNOWN && e.expires != o->expires) ||
            (e.token != UNKNOWN && e.token != o->token) ||
            (e.token == UNKNOWN && o->token <= e.floor)) {
            return false;
        }
        if (e.token == UNKNOWN || e.expires == UNKNOWN) {
            e.token = o->token; /* learned */
            e.expires = o->expires;
            e.floor = e.token > e.floor ? e.token : e.floor;
            break;
        }
        return true;
    case LEASE_RELEASE:
        if (!held || e.holder != hid) {
            return false;
        }
        e.holder = NONE;
        e.token = e.expires = 0;
        break;
    case LEASE_ACQUIRE: {
        bool mine = held && e.holder == hid;
        if (o == NULL) {
            /* Unknown outcome: if it took effect, it was at a time we don't
             * know (perhaps once the other holder's lease expired): the
             * holder is H, token and expiry unknown (a renewal keeps a
             * known token). */
            e.holder = hid;
            if (!mine) {
                e.token = UNKNOWN;
            }
            e.expires = UNKNOWN;
            break;
        }
        if (o->now < e.clock || o->holder != hid || o->expires <= o->now) {
            return false;
        }
        if (held && !mine && e.expires != UNKNOWN && e.expires > o->now) {
            return false; /* held by another: it would be refused */
        }
        if (mine && e.token != UNKNOWN) {
            if (o->token != e.token) {
                return false; /* a renewal keeps the token */
            }
        } else if (o->token <= e.floor) {
            return false; /* a new token is larger than any before */
        }
        e.holder = hid;
        e.token = o->token;
        e.expires = o->expires;
        e.floor = o->token > e.floor ? o->token : e.floor;
        e.clock = o->now;
        break;
    }
    default:
        return false;
    }
    id = with(s->map, &e);
    if (id == NONE) {
        return false;
    }
    nx->map = id;
    return true;
}

static bool equal(const void *a, const void *b)
{
    const struct leases *x = a, *y = b;
    return x->map == y->map;
}

static uint64_t hash(const void *state)
{
    const struct leases *s = state;
    uint64_t z = s->map * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Tokens: "H holds scope S with token T", and "H holds S" for an
 * acquire of unknown outcome (its token is unknown). */
enum { TOK_HELD = 1, TOK_HOLDER };

/* An acquire by H leaves H holding the scope, with the token it shows. */
static void writes(const struct model_op *op, void (*add)(void *, uint64_t),
                   void *arg)
{
    uint64_t sid = (uint32_t)((uint64_t)op->in[0]);
    uint32_t hid = (uint32_t)((uint64_t)op->in[0] >> 32);
    if (op->f != LEASE_ACQUIRE) {
        return;
    }
    if (op->open) {
        add(arg, model_token(TOK_HOLDER, sid, hid));
    } else {
        add(arg, model_token(TOK_HELD, sid,
                             (uint64_t)hid << 32 ^
                                 (uint64_t)obs_of(op->out)->token));
    }
}

/* A holder read of H with token T needs an acquire by H that showed T
 * or whose outcome is unknown (scopes start free: a read of nobody needs
 * nothing). */
static const char *needs(const struct model_op *op,
                         void (*add)(void *, uint64_t), void *arg)
{
    uint64_t sid = (uint32_t)((uint64_t)op->in[0]);
    const struct obs *o;
    if (op->f != LEASE_HOLDER) {
        return NULL;
    }
    o = obs_of(op->out);
    if (o->holder == NONE) {
        return NULL;
    }
    add(arg, model_token(TOK_HELD, sid,
                         (uint64_t)o->holder << 32 ^ (uint64_t)o->token));
    add(arg, model_token(TOK_HOLDER, sid, o->holder));
    return "a holder and token";
}

static const char *text(uint32_t id, char *buf, size_t size)
{
    size_t len;
    const char *p;
    if (id == NONE) {
        snprintf(buf, size, "nobody");
        return buf;
    }
    p = intern_get(&strings, id, &len);
    snprintf(buf, size, "%.*s", (int)(len < 32 ? len : 32), p);
    return buf;
}

static void describe_op(const struct model_op *op, char *buf, size_t size)
{
    char sc[40], h[40], h2[40];
    uint32_t sid = (uint32_t)((uint64_t)op->in[0]);
    uint32_t hid = (uint32_t)((uint64_t)op->in[0] >> 32);
    const struct obs *o =
        op->open || op->f == LEASE_RELEASE ? NULL : obs_of(op->out);

    text(sid, sc, sizeof sc);
    switch (op->f) {
    case LEASE_ACQUIRE:
        if (o == NULL) {
            snprintf(buf, size, "acquire %s by %s (outcome unknown)", sc,
                     text(hid, h, sizeof h));
        } else {
            snprintf(buf, size,
                     "acquire %s by %s -> token %" PRId64 ", now %" PRId64
                     ", until %" PRId64,
                     sc, text(hid, h, sizeof h), o->token, o->now, o->expires);
        }
        break;
    case LEASE_RELEASE:
        snprintf(buf, size, "release %s by %s%s", sc, text(hid, h, sizeof h),
                 op->open ? " (outcome unknown)" : "");
        break;
    case LEASE_HOLDER:
        if (o->holder == NONE) {
            snprintf(buf, size, "holder %s -> nobody at %" PRId64, sc, o->now);
        } else {
            snprintf(buf, size,
                     "holder %s -> %s, token %" PRId64 ", until %" PRId64
                     " at %" PRId64,
                     sc, text(o->holder, h2, sizeof h2), o->token, o->expires,
                     o->now);
        }
        break;
    default:
        snprintf(buf, size, "?");
    }
}

static void describe_state(const void *state, char *buf, size_t size)
{
    const struct leases *s = state;
    size_t len, used;
    const struct scope *r = intern_get(&maps, (uint32_t)s->map, &len);
    used = (size_t)snprintf(buf, size, "{");
    for (size_t i = 0; i < len / sizeof *r && used < size; i++) {
        char sc[40], h[40];
        if (r[i].holder == NONE) {
            continue;
        }
        used += (size_t)snprintf(
            buf + used, size - used, "%s%s: %s", used > 1 ? ", " : "",
            text(r[i].scope, sc, sizeof sc), text(r[i].holder, h, sizeof h));
        if (used < size && r[i].token != UNKNOWN) {
            used += (size_t)snprintf(buf + used, size - used, " token %" PRId64,
                                     r[i].token);
        }
        if (used < size && r[i].expires != UNKNOWN) {
            used += (size_t)snprintf(buf + used, size - used, " until %" PRId64,
                                     r[i].expires);
        }
    }
    if (used < size) {
        snprintf(buf + used, size - used, "}");
    }
}

const struct model model_lease = {
    .name = "lease",
    .state_size = sizeof(struct leases),
    .op_from_events = op_from_events,
    .init = init,
    .step = step,
    .equal = equal,
    .hash = hash,
    .writes = writes,
    .needs = needs,
    .per_key = true,
    .describe_op = describe_op,
    .describe_state = describe_state,
    .reset = lease_reset,
};
