/* scenario: a declarative run (cluster, workload, faults, duration, seed). */
#ifndef FAULTLINE_SCENARIO_H
#define FAULTLINE_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nemesis/rule.h"

#define SCENARIO_MAX_FAULTS 8
#define SCENARIO_MAX_LIST   12
#define SCENARIO_NAME_LEN   24

struct scenario {
    char name[64];
    char description[256];
    int nodes;
    double duration_s; /* faults and workload */
    double recovery_s; /* after the final heal: workload, no faults */
    uint64_t seed;
    bool has_seed;

    struct {
        char name[32]; /* the system under test: "taskd" */
        char bug[32];  /* a seeded bug to turn on, or "" */
        int election_timeout_ms;
        int heartbeat_ms;
        int snapshot_threshold;
        int snapshot_trailing;
    } db;

    struct {
        char name[32]; /* register, tasks, queue, lease (runner/workload.h) */
        int clients;
        int keys;    /* register: registers; lease: scopes */
        double rate; /* target ops per second, all clients together */
        int op_timeout_ms;
        int retries;    /* tasks, queue, lease: repeats of a rid after info */
        double rids;    /* tasks, queue, lease: share of requests with one */
        double final_s; /* tasks, queue: bound of the final read or drain */
        int values;     /* register: values from [0, values) */
        double read, write, cas; /* register: relative weights */
        /* tasks: relative weights */
        double create, get, update, del, list;
        /* queue: weights of enqueue and claim (when holding no task), and
         * the share of claimed tasks given back with nack instead of ack */
        double enqueue, claim, nack;
        int lease_ms; /* queue: the lease of a claim */
        /* lease: relative weights */
        double acquire, release, holder;
        int ttl_ms; /* lease: the ttl of an acquire */
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
        /* Partition shapes to draw from. */
        char partitions[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_partitions;
        double loss_probability;
        int clock_offset_ms; /* clock faults move clocks up to this far */
        char clock_modes[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_clock_modes; /* bump, strobe, drift; none listed: all */
        char disk_ops[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_disk_ops;
        char disk_errno[SCENARIO_NAME_LEN];
        double disk_probability;
        /* disk-error (faultfs): operations and file globs to draw from */
        char fs_ops[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_fs_ops;
        char fs_files[SCENARIO_MAX_LIST][SCENARIO_NAME_LEN];
        int n_fs_files;
        /* reactive: faults on node events (nemesis/rule.h) */
        struct nemesis_rules rules;
    } nemesis;

    struct {
        double time_limit_s;
        int memory_mb;
        int threads; /* keys searched at once; 0: one per core */
    } checker;
};

/* Fill @s with the defaults every scenario starts from. */
void scenario_defaults(struct scenario *s);

/* Read the scenario at @path over the defaults. Unknown keys, wrong types
 * and out-of-range values are errors naming the file and the key, written to
 * @err. Returns 0, -EINVAL (bad content) or a negative errno (unreadable). */
int scenario_load(const char *path, struct scenario *s, char *err,
                  size_t errlen);

/* Same, from a JSON object; @origin names it in errors. @obj is borrowed. */
int scenario_from_json(json_t *obj, const char *origin, struct scenario *s,
                       char *err, size_t errlen);

/* The resolved scenario (every field, with the seed), as a new reference. */
json_t *scenario_to_json(const struct scenario *s);

/* True when the scenario's nemesis includes @fault (in nemesis.faults or
 * in a reactive rule). */
bool scenario_has_fault(const struct scenario *s, const char *fault);

#endif /* FAULTLINE_SCENARIO_H */
