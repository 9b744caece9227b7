/* msg: one prefix for a command's messages on stderr. */
#include "runner/msg.h"

#include <stdarg.h>
#include <stdio.h>

static char prefix[64] = "faultline";

void msg_command(const char *name)
{
    snprintf(prefix, sizeof prefix, "faultline%s%s", name != NULL ? " " : "",
             name != NULL ? name : "");
}

const char *msg_prefix(void)
{
    return prefix;
}

static void say(const char *what, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    fprintf(stderr, "%s: %s%s\n", prefix, what, text);
}

void msg_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("", fmt, ap);
    va_end(ap);
}

void msg_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("warning: ", fmt, ap);
    va_end(ap);
}
