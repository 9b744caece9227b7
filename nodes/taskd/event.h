/* event: the node's instrumentation, one JSON object per line on stdout. */
#ifndef TASKD_EVENT_H
#define TASKD_EVENT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Write events for node @node_id to @out (borrowed; kept until exit). Until
 * this is called events are dropped, which is what unit tests want. */
void event_init(uint64_t node_id, FILE *out);

/* Write {"time":ns,"mono":ns,"node":N,"event":@name, ...@details} and flush
 * the line. "time" is CLOCK_REALTIME (comparable across nodes and with the
 * client history, as far as clocks agree; a clock fault shifts it), "mono"
 * CLOCK_MONOTONIC (this node's own order and durations, never faked by the
 * nemesis). Takes ownership of @details, a JSON object or NULL. */
void event_emit(const char *name, json_t *details);

/* CLOCK_REALTIME in nanoseconds since the epoch. */
int64_t event_now_ns(void);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t event_mono_ns(void);

#endif /* TASKD_EVENT_H */
