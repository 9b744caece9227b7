/* sandbox: fresh pid, mount and network namespaces for one run, so that
 * everything the run makes (processes, namespaces, bridges, veths, iptables
 * rules, mounts) disappears with it, even when the runner is SIGKILLed. */
#ifndef FAULTLINE_SANDBOX_H
#define FAULTLINE_SANDBOX_H

#include <stddef.h>

/* Split this process in two. The caller's process stays outside, forwards
 * SIGINT/SIGTERM/SIGHUP to the inside and, when the inside ends, exits with
 * its status (this function does not return there). The new process returns
 * 0 from this call as PID 1 of a new pid namespace, in new mount and network
 * namespaces (plus a user namespace when not root), with a private /proc, a
 * tmpfs on /run/netns and loopback up, set to die with its parent.
 *
 * Returns 0 inside the sandbox, or a negative errno when the namespaces
 * can't be made (nothing was changed; @err says what is missing). */
int sandbox_enter(char *err, size_t errlen);

/* Run @argv (NULL-terminated) to completion, stdout and stderr to @log_fd
 * (or inherited when -1). Returns its exit status, or a negative errno when
 * it can't be started. For set-up commands (ip, iptables) before and after
 * the event loop runs; not for use while the loop runs. */
int sandbox_run(char *const argv[], int log_fd);

#endif /* FAULTLINE_SANDBOX_H */
