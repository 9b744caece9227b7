/* clock: move the wall clock of target nodes with libfaketime.
 *
 * Nodes of a scenario with clock faults start with libfaketime preloaded
 * (clock_prepare), reading their offset from nodes/nN/faketime.rc (at
 * most a second old: FAKETIME_CACHE_DURATION=1); the monotonic clock is left
 * alone (FAKETIME_DONT_FAKE_MONOTONIC=1), as on a machine whose NTP steps
 * the time. Modes, drawn per fault:
 *   bump    jump by a random offset within +-clock_offset_ms, held
 *   strobe  flip between that offset and none every 2.5 s
 *   drift   the clock runs fast or slow (rate 0.8 to 1.25) from now on,
 *           with FAKETIME_XRESET=1 so the rate applies from the change
 * The modes drawn from are nemesis.clock_modes (all three when empty).
 * Stopping the fault puts the offset back to zero. The offset file is
 * replaced by rename, so it is never read half-written. */
#include "nemesis/nemesis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libfaketime re-reads the offset file at most once a second
 * (FAKETIME_CACHE_DURATION=1): a faster strobe would not be seen. 2.5 s
 * does not divide the cache period, so the flips land at varying phases. */
#define STROBE_MS 2500

extern const struct nemesis_ops nemesis_clock;

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

struct clock_settings {
    int offset_ms; /* clock faults move clocks up to this far */
    char modes[SETTINGS_MAX_LIST][SETTINGS_NAME_LEN];
    int n_modes; /* bump, strobe, drift; none listed: all */
};

static const char *const clock_modes[] = {"bump", "strobe", "drift", NULL};

static bool mode_ok(const char *v)
{
    return settings_in_list(clock_modes, v);
}

static const char *modes_known(void)
{
    static char buf[64];
    return settings_join(clock_modes, buf, sizeof buf);
}

#define T struct clock_settings
static const struct setting clock_fields[] = {
    {"clock_offset_ms", SETTING_INT, SETTING_OFF(T, offset_ms), 0, 0, 1e9,
     NULL, NULL, "clock faults move clocks up to this far"},
    {"clock_modes", SETTING_LIST, SETTING_LIST_AT(T, modes, n_modes), 0, 0,
     mode_ok, modes_known, "modes to draw from (none listed: all)"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
#undef T

static void clock_defaults(void *p)
{
    ((struct clock_settings *)p)->offset_ms = 60000;
}

static const struct settings_table clock_table = {
    .size = sizeof(struct clock_settings),
    .defaults = clock_defaults,
    .fields = clock_fields,
};

/* Nodes start with libfaketime preloaded, reading their offset file. */
static int clock_prepare(struct cluster *c, const struct scenario *s,
                         const void *settings, int i, struct cluster_env *env)
{
    int rv = 0;
    if (env == NULL) {
        return 0;
    }
    nemesis_clock_set(c, i, 0, 1);
    rv |= cluster_env_preload(env, FAKETIME_LIB);
    rv |= cluster_env_put(env, "FAKETIME_TIMESTAMP_FILE=%s/faketime.rc",
                          c->nodes[i].spec.dir);
    rv |= cluster_env_put(env, "FAKETIME_CACHE_DURATION=1");
    rv |= cluster_env_put(env, "FAKETIME_DONT_FAKE_MONOTONIC=1");
    /* a drift's rate runs from its change */
    rv |= cluster_env_put(env, "FAKETIME_XRESET=1");
    return rv != 0 ? -ENOSPC : 0;
}

struct clock_fault {
    struct nemesis_env *env;
    int nodes[DB_MAX_NODES];
    int n;
    double offset_s;
    bool strobe;
    double rate; /* drift: != 1 */
    bool on;     /* strobe: offset applied now */
    uv_timer_t timer;
};

int nemesis_clock_set(struct cluster *c, int i, double offset_s, double rate)
{
    char path[4200], tmp[4200];
    FILE *f;
    if (c->dry_run) {
        return 0;
    }
    snprintf(path, sizeof path, "%s/faketime.rc", c->nodes[i].spec.dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        return -errno;
    }
    if (rate != 1) {
        fprintf(f, "%+.3f x%.4f\n", offset_s, rate);
    } else {
        fprintf(f, "%+.3f\n", offset_s);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        return -errno;
    }
    return 0;
}

static void set_all(struct clock_fault *f, double offset_s)
{
    for (int i = 0; i < f->n; i++) {
        nemesis_clock_set(f->env->cluster, f->nodes[i], offset_s, 1);
    }
}

static const char *mode_of(const struct clock_fault *f)
{
    return f->rate != 1 ? "drift" : f->strobe ? "strobe" : "bump";
}

static void strobe_cb(uv_timer_t *t)
{
    struct clock_fault *f = t->data;
    f->on = !f->on;
    set_all(f, f->on ? f->offset_s : 0);
}

static json_t *describe_json(struct clock_fault *f)
{
    if (f->rate != 1) {
        return json_pack("{s:s, s:f, s:o}", "mode", "drift", "rate", f->rate,
                         "nodes", nemesis_node_names(f->env, f->nodes, f->n));
    }
    return json_pack("{s:s, s:f, s:o}", "mode", mode_of(f), "offset_ms",
                     f->offset_s * 1000, "nodes",
                     nemesis_node_names(f->env, f->nodes, f->n));
}

static int clock_start(struct nemesis_env *env, struct rng *draw, void **state)
{
    const char *selector = nemesis_draw_selector(env, draw);
    const struct clock_settings *set = nemesis_settings(env->s, &nemesis_clock);
    double max_s = set->offset_ms / 1000.0;
    struct clock_fault *f = calloc(1, sizeof *f);
    const char *mode;

    if (f == NULL) {
        return -ENOMEM;
    }
    f->env = env;
    f->n = nemesis_pick(env, draw, selector, false, f->nodes);
    f->offset_s = (rng_unit(draw) * 2 - 1) * max_s;
    mode = "bump";
    if (set->n_modes > 0) {
        mode = set->modes[rng_below(draw, (uint64_t)set->n_modes)];
    } else {
        static const char *const all[] = {"bump", "strobe", "drift"};
        mode = all[rng_below(draw, 3)];
    }
    switch (mode[0]) {
    case 'b':
        f->rate = 1;
        break;
    case 's':
        f->rate = 1;
        f->strobe = true;
        break;
    default:
        /* 0.8 to 1.25, as likely slow as fast. */
        f->rate = rng_below(draw, 2) ? 1 + rng_unit(draw) * 0.25
                                     : 1 / (1 + rng_unit(draw) * 0.25);
        f->offset_s = 0;
        break;
    }
    if (env->replay != NULL) {
        const json_t *v = env->replay;
        const char *m = json_string_value(json_object_get(v, "mode"));
        f->n = nemesis_replay_nodes(env, json_object_get(v, "nodes"),
                                    f->nodes);
        f->strobe = m != NULL && strcmp(m, "strobe") == 0;
        f->rate = m != NULL && strcmp(m, "drift") == 0
                      ? json_number_value(json_object_get(v, "rate"))
                      : 1;
        if (f->rate <= 0) {
            f->rate = 1;
        }
        f->offset_s =
            f->rate != 1
                ? 0
                : json_number_value(json_object_get(v, "offset_ms")) / 1000;
    }
    f->on = true;
    uv_timer_init(env->loop, &f->timer);
    f->timer.data = f;
    env->record(env->arg, HISTORY_INVOKE, "clock", describe_json(f));
    if (f->rate != 1) {
        for (int i = 0; i < f->n; i++) {
            nemesis_clock_set(env->cluster, f->nodes[i], 0, f->rate);
        }
    } else {
        set_all(f, f->offset_s);
    }
    if (f->strobe) {
        uv_timer_start(&f->timer, strobe_cb, STROBE_MS, STROBE_MS);
    }
    env->record(env->arg, HISTORY_INFO, "clock", describe_json(f));
    *state = f;
    return 0;
}

static void free_cb(uv_handle_t *h)
{
    free(h->data);
}

static int clock_stop(struct nemesis_env *env, void *state)
{
    struct clock_fault *f = state;
    env->record(env->arg, HISTORY_INVOKE, "clock-reset", describe_json(f));
    uv_timer_stop(&f->timer);
    set_all(f, 0);
    env->record(env->arg, HISTORY_INFO, "clock-reset", describe_json(f));
    uv_close((uv_handle_t *)&f->timer, free_cb);
    return 0;
}

static void clock_describe(struct nemesis_env *env, void *state, char *buf,
                           size_t size)
{
    struct clock_fault *f = state;
    size_t used =
        (size_t)snprintf(buf, size, "clock %s %+.0f ms",
                         f->strobe ? "strobe" : "bump", f->offset_s * 1000);
    for (int i = 0; i < f->n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, " %s",
                                 env->cluster->nodes[f->nodes[i]].spec.name);
    }
}

const struct nemesis_ops nemesis_clock = {
    .name = "clock",
    .settings = &clock_table,
    .needs = DB_CAP_LIBC_TIME,
    .prepare_node = clock_prepare,
    .start = clock_start,
    .stop = clock_stop,
    .describe = clock_describe,
};
