/* scenario: a declarative run (cluster, workload, faults, duration, seed).
 *
 * The scenario keeps the keys every run has (nodes, durations, seed, the
 * names of the system and the workload, the fault list and its timing,
 * the checker's limits) and hands every other key of a section to the
 * plugin that owns it (plugin/settings.h): "db.*" to the system under test
 * (nodes/db.h), "workload.*" to the workload kind (runner/workload.h), and
 * "nemesis.*" to the fault kinds (nemesis/nemesis.h) that declare the key.
 * Each plugin reads its own settings with scenario_db_settings() and
 * friends. */
#ifndef FAULTLINE_SCENARIO_H
#define FAULTLINE_SCENARIO_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nemesis/rule.h"
#include "plugin/settings.h"

#define SCENARIO_MAX_FAULTS 8
#define SCENARIO_MAX_LIST   SETTINGS_MAX_LIST
#define SCENARIO_NAME_LEN   SETTINGS_NAME_LEN
#define SCENARIO_MAX_KINDS  24 /* fault kinds in the registry, at most */
#define SCENARIO_KIND_BYTES 1024 /* settings of one fault kind, at most */

struct scenario {
    char name[64];
    char description[256];
    int nodes;
    /* The initial configuration: nodes n1..n<members> (0: every node); the
     * other slots join only when a membership fault adds them. */
    int members;
    double duration_s; /* faults and workload */
    double recovery_s; /* after the final heal: workload, no faults */
    uint64_t seed;
    bool has_seed;

    struct {
        char name[32]; /* the system under test: "taskd" (nodes/db.h) */
        alignas(max_align_t) unsigned char settings[SETTINGS_MAX];
    } db;

    struct {
        char name[32]; /* register, tasks, queue, lease (runner/workload.h) */
        int clients;
        double rate; /* target ops per second, all clients together */
        int op_timeout_ms;
        int retries;    /* kinds with request ids: repeats of a rid after info */
        double rids;    /* kinds with request ids: share of requests with one */
        double final_s; /* kinds with a final phase: its bound */
        alignas(max_align_t) unsigned char settings[SETTINGS_MAX];
    } workload;

    struct {
        char faults[SCENARIO_MAX_FAULTS][SCENARIO_NAME_LEN];
        int n_faults;
        double interval_s; /* time between fault starts */
        double duration_s; /* how long each fault lasts */
        /* Process, clock, disk and loss faults pick targets with one of
         * these: one, minority, majority, all, leader. */
        char targets[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_targets;
        /* Each fault kind's own settings, by its place in the registry. */
        alignas(max_align_t) unsigned char
            kinds[SCENARIO_MAX_KINDS][SCENARIO_KIND_BYTES];
        /* reactive: faults on node events (nemesis/rule.h) */
        struct nemesis_rules rules;
    } nemesis;

    struct {
        double time_limit_s;
        int memory_mb;
        int threads; /* keys searched at once; 0: one per core */
    } checker;
};

/* Fill @s with the defaults every scenario starts from: the shared keys,
 * and the default system's and workload's settings. */
void scenario_defaults(struct scenario *s);

/* Read the scenario at @path over the defaults. Unknown keys, wrong types
 * and out-of-range values are errors naming the file and the key, written to
 * @err; so is a fault the system cannot take, or a workload it does not
 * serve. Returns 0, -EINVAL (bad content) or a negative errno (unreadable). */
int scenario_load(const char *path, struct scenario *s, char *err,
                  size_t errlen);

/* Same, from a JSON object; @origin names it in errors. @obj is borrowed. */
int scenario_from_json(json_t *obj, const char *origin, struct scenario *s,
                       char *err, size_t errlen);

/* Set one key given by its dotted path ("db.bug", "workload.cas") to @v
 * (borrowed), as if the scenario had said so, with the key's own checks
 * (type, range, allowed values; a new db or workload name brings its
 * defaults) but not the checks across keys. For command-line overrides and
 * tests. Returns 0 or -EINVAL with a message. */
int scenario_set(struct scenario *s, const char *path, json_t *v,
                 const char *origin, char *err, size_t errlen);

/* The resolved scenario (every field, with the seed), as a new reference. */
json_t *scenario_to_json(const struct scenario *s);

/* True when the scenario's nemesis includes @fault (in nemesis.faults or
 * in a reactive rule). */
bool scenario_has_fault(const struct scenario *s, const char *fault);

/* The settings of the system under test, of the workload kind, and of the
 * fault kind at @kind_index in the nemesis registry (borrowed). */
const void *scenario_db_settings(const struct scenario *s);
const void *scenario_workload_settings(const struct scenario *s);
const void *scenario_fault_settings(const struct scenario *s, int kind_index);

/* The db's string setting @key ("bug": the seeded bug a run switches on),
 * or "" when the system has no such setting. Borrowed. */
const char *scenario_db_string(const struct scenario *s, const char *key);

#endif /* FAULTLINE_SCENARIO_H */
