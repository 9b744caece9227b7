/* event: JSON-lines instrumentation on stdout, flushed line by line so a
 * killed node loses at most the line it was writing. */
#include "nodes/taskd/event.h"

#include <time.h>

static FILE *event_out;
static uint64_t event_node;

void event_init(uint64_t node_id, FILE *out)
{
    event_node = node_id;
    event_out = out;
}

int64_t event_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t event_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void event_emit(const char *name, json_t *details)
{
    json_t *obj;
    char *line;

    if (event_out == NULL) {
        json_decref(details);
        return;
    }
    obj = json_object();
    if (obj == NULL) {
        goto out;
    }
    json_object_set_new(obj, "time", json_integer(event_now_ns()));
    json_object_set_new(obj, "mono", json_integer(event_mono_ns()));
    json_object_set_new(obj, "node", json_integer((json_int_t)event_node));
    json_object_set_new(obj, "event", json_string(name));
    if (details != NULL) {
        json_object_update(obj, details);
    }
    line = json_dumps(obj, JSON_COMPACT);
    if (line != NULL) {
        fputs(line, event_out);
        fputc('\n', event_out);
        fflush(event_out);
        free(line);
    }
    json_decref(obj);
out:
    json_decref(details);
}
