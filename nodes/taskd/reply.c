/* reply: builders for reply bodies. */
#include "nodes/taskd/reply.h"

#include <stdarg.h>
#include <stdio.h>

json_t *reply_ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

json_t *reply_error(const char *code, bool definite, const char *fmt, ...)
{
    char message[512];
    json_t *reply;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    reply = json_pack("{s:b, s:s, s:s, s:b}", "ok", 0, "error", code, "message",
                      message, "definite", definite);
    if (reply == NULL) {
        /* A message quoting the client's bytes, cut inside a UTF-8
         * sequence, is not a JSON string. */
        reply =
            json_pack("{s:b, s:s, s:s, s:b}", "ok", 0, "error", code, "message",
                      "(message not valid UTF-8)", "definite", definite);
    }
    return reply;
}

bool reply_is_ok(const json_t *reply)
{
    return json_is_true(json_object_get(reply, "ok"));
}
