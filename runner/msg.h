/* msg: what a command says went wrong, on stderr, under one prefix for
 * all its messages: "faultline run: ...", "faultline check: ...". */
#ifndef FAULTLINE_MSG_H
#define FAULTLINE_MSG_H

/* The command the messages are about ("check"; borrowed, kept: a string
 * literal or argv). Before any: the messages say "faultline: ". */
void msg_command(const char *name);

/* "faultline check" (or "faultline" before msg_command). */
const char *msg_prefix(void);

/* One line on stderr: the prefix, ": ", the text, a newline. */
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same, with "warning: " before the text. */
void msg_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* FAULTLINE_MSG_H */
