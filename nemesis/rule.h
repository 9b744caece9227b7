/* rule: the reactive nemesis's rules as a scenario declares them
 * ("nemesis.rules"): parsing, validation, printing. No includes of the
 * runner: struct scenario holds the rules by value.
 *
 * A rule reads: when node event @on happens on a node (whose role, as last
 * seen from that node's events, is @role; whose fields satisfy @where),
 * with probability @probability, after a delay drawn from @delay_ms, inject
 * @fault on @target, at most @max times, and not again within @cooldown_ms
 * (measured on the events' CLOCK_MONOTONIC stamps) of the last fire. The
 * decisions themselves live in nemesis/reactive.h. */
#ifndef FAULTLINE_NEMESIS_RULE_H
#define FAULTLINE_NEMESIS_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define RULE_MAX       16 /* rules in a scenario */
#define RULE_MAX_WHERE 4  /* conditions of one rule */
#define RULE_NAME_LEN  32

enum rule_role {
    RULE_ROLE_ANY,
    RULE_ROLE_LEADER,
    RULE_ROLE_FOLLOWER,
    RULE_ROLE_CANDIDATE,
};

enum rule_target {
    RULE_TARGET_SELF,   /* the node the event came from */
    RULE_TARGET_LEADER, /* the node last seen leading (highest term) */
    RULE_TARGET_OTHERS, /* every node but the event's */
    RULE_TARGET_ALL,    /* every node at once (a rack's power cut) */
};

enum rule_cmp { RULE_EQ, RULE_NE, RULE_LT, RULE_LE, RULE_GT, RULE_GE };

/* One condition on a field of the event: numeric ("n": ">=2", "term": 3),
 * string equality ("op": "create") or boolean equality ("committed":
 * false). */
struct rule_where {
    char field[RULE_NAME_LEN];
    enum rule_cmp cmp;
    bool is_string;
    bool is_boolean;
    bool boolean;
    double number;
    char string[RULE_NAME_LEN];
};

struct nemesis_rule {
    char on[RULE_NAME_LEN]; /* node event name */
    enum rule_role role;
    double probability; /* [0, 1] */
    double delay_ms[2]; /* drawn uniformly from [lo, hi] */
    char fault[RULE_NAME_LEN];
    enum rule_target target;
    int max;            /* fires at most; >= 1 */
    double cooldown_ms; /* no fire within this of the last one */
    double duration_ms; /* faults that last: kill, pause, partition... */
    struct rule_where where[RULE_MAX_WHERE];
    int n_where;
};

struct nemesis_rules {
    struct nemesis_rule rule[RULE_MAX];
    int n;
};

/* The fault kinds a rule may inject, NULL-terminated. */
extern const char *const rule_fault_names[];

/* Read the JSON array @v ("nemesis.rules") into @out. Each key is checked
 * (unknown keys, wrong types, an unknown fault, role or target, a
 * probability outside [0, 1], a delay range reversed or negative, max < 1):
 * errors name @origin and the field ("nemesis.rules[1].probability") in
 * @err. Event names are checked later, against the db (rule_validate).
 * Returns 0 or -EINVAL; @out is left unchanged on error. */
int rule_parse(json_t *v, const char *origin, struct nemesis_rules *out,
               char *err, size_t errlen);

/* Check the rules' events against @events (the db's, NULL-terminated).
 * Returns 0 or -EINVAL with a message naming the field. */
int rule_validate(const struct nemesis_rules *rules, const char *const *events,
                  const char *db_name, const char *origin, char *err,
                  size_t errlen);

/* True when a rule injects @fault. */
bool rule_uses_fault(const struct nemesis_rules *rules, const char *fault);

/* The rules as a JSON array (resolved: every key), a new reference. */
json_t *rule_to_json(const struct nemesis_rules *rules);

/* One line per rule, for `faultline schedule`. */
void rule_print(FILE *f, const struct nemesis_rules *rules);

/* Does the JSON event @obj satisfy every condition of @r? (A missing
 * field fails its condition.) @obj is borrowed. */
bool rule_where_matches(const struct nemesis_rule *r, const json_t *obj);

const char *rule_role_name(enum rule_role role);
const char *rule_target_name(enum rule_target target);

#endif /* FAULTLINE_NEMESIS_RULE_H */
