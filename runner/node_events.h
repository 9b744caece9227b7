/* node_events: the nodes' own events, live: each node's stdout comes to the
 * runner through a pipe, every complete line is appended to the node's
 * events.jsonl (the same bytes as when stdout was the file) and each line
 * that parses as an event is handed to the subscribers, on the loop.
 *
 * Happy path: node_events_pipe() before a spawn makes a pipe (1 MB, so that
 * a runner busy for a while does not stall the node's writes) whose write
 * end becomes the child's stdout; node_events_spawned() then starts reading
 * the other end. Each spawn has a pipe of its own, read until EOF (the
 * process and everything holding its stdout gone), so an old process's last
 * lines are never lost to its successor. A line is written to the file once
 * complete; at EOF an unterminated tail is written as it is.
 * Failure modes: a failed spawn closes the pipe (node_events_spawned with
 * ok false); a write error to events.jsonl is logged once per pipe and the
 * lines still reach subscribers; a line that is not a JSON object with a
 * string "event" is written to the file but not handed on. */
#ifndef FAULTLINE_NODE_EVENTS_H
#define FAULTLINE_NODE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

/* One event of a node, as handed to subscribers. Everything is borrowed for
 * the duration of the callback. */
struct node_event {
    int node;          /* index in the cluster (0-based) */
    const char *event; /* "became_leader" */
    int64_t mono_ns;   /* the node's CLOCK_MONOTONIC stamp ("mono"), or -1 */
    int64_t time_ns;   /* its CLOCK_REALTIME stamp ("time"), or -1 */
    uint64_t read_ns;  /* the runner's CLOCK_MONOTONIC when the line came */
    const json_t *obj; /* the whole line */
};

typedef void (*node_event_cb)(void *arg, const struct node_event *e);

struct node_events;

/* A dispatcher on @loop for @n nodes; @log (borrowed, may be NULL) gets
 * errors. NULL when out of memory. */
struct node_events *node_events_new(uv_loop_t *loop, int n, FILE *log);

/* Make the stdout of node @i's next process: a pipe whose lines go to
 * @dir/events.jsonl (opened for appending, as before). On success @fd_out
 * is the write end for the child (UV_INHERIT_FD); call
 * node_events_spawned() after the spawn either way. Returns 0 or a
 * negative errno (nothing to undo). */
int node_events_pipe(struct node_events *ev, int i, const char *dir,
                     int *fd_out);

/* After the spawn of node @i: closes the parent's copy of the write end and,
 * when @ok, starts reading; otherwise drops the pipe. */
void node_events_spawned(struct node_events *ev, int i, bool ok);

/* Subscribe: @cb(@arg, event) for every event from now on, in the order
 * the lines came. Returns 0, or -ENOSPC (too many subscribers). */
int node_events_subscribe(struct node_events *ev, node_event_cb cb, void *arg);

/* Remove the subscription of (@cb, @arg); no-op when absent. */
void node_events_unsubscribe(struct node_events *ev, node_event_cb cb,
                             void *arg);

/* Hand a line to the subscribers as if node @i had written it (tests;
 * @line without its newline). Not written to any file. */
void node_events_inject(struct node_events *ev, int i, const char *line,
                        size_t len);

/* The last event named @name that node @i wrote (since the run began), or
 * NULL; borrowed, valid until the next event of that node. Lets a
 * subscriber that comes late learn a node's state (its role, its term). */
const json_t *node_events_last(const struct node_events *ev, int i,
                               const char *name);

/* Lines received so far. */
int64_t node_events_lines(const struct node_events *ev);

/* Free @ev once every pipe has reached EOF (run the loop afterwards);
 * pipes still open 2 s later are closed with what they held. */
void node_events_close(struct node_events *ev);

#endif /* FAULTLINE_NODE_EVENTS_H */
