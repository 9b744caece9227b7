/* failstop: the one way out for I/O errors. */
#include "nodes/taskd/failstop.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "nodes/taskd/event.h"

void failstop(const char *source, const char *op, int code, const char *message)
{
    if (message == NULL) {
        message = "";
    }
    event_emit("io_error",
               json_pack("{s:s, s:s, s:i, s:s}", "source", source, "op", op,
                         "code", code, "message", message));
    fprintf(stderr, "taskd: fail-stop: %s %s failed (code %d): %s\n", source,
            op, code, message);
    fflush(NULL);
    abort();
}
