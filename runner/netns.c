/* netns: builds the run's network with iproute2, inside the sandbox.
 *
 *   sandbox netns:  fl0 (bridge, 10.77.0.1/24) -- vI (veth) ...
 *   netns nI:       eth0 (10.77.0.1I/24, veth peer of vI), lo
 *
 * Nodes listen on their eth0 address; clients connect from the bridge.
 * Faults act inside the node namespaces (iptables there), so the runner's
 * own traffic to a node is cut only when a fault means it to be. */
#include "runner/netns.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runner/sandbox.h"

#define BRIDGE "fl0"

void netns_node_ip(int i, char *buf, size_t size)
{
    snprintf(buf, size, "10.77.0.%d", 11 + i);
}

void netns_name(int i, char *buf, size_t size)
{
    snprintf(buf, size, "n%d", i + 1);
}

/* Run "ip ARGS..." (a space-separated line; no argument has a space). */
static int ip(int log_fd, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ip(int log_fd, char *err, size_t errlen, const char *fmt, ...)
{
    char line[512];
    char *argv[32];
    int argc = 0;
    va_list ap;
    int rv;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    argv[argc++] = "ip";
    for (char *tok = strtok(line, " "); tok != NULL && argc < 31;
         tok = strtok(NULL, " ")) {
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    rv = sandbox_run(argv, log_fd);
    if (rv != 0) {
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "network set-up: \"ip %s\" %s %d", line,
                 rv < 0 ? "could not run:" : "exited with", rv);
    }
    return rv;
}

int netns_setup(int n, int log_fd, char *err, size_t errlen)
{
    char name[16], addr[32];
    int rv;

    rv = ip(log_fd, err, errlen, "link add " BRIDGE " type bridge");
    if (rv == 0) {
        rv = ip(log_fd, err, errlen,
                "addr add " NETNS_BRIDGE_IP "/24 dev " BRIDGE);
    }
    if (rv == 0) {
        rv = ip(log_fd, err, errlen, "link set " BRIDGE " up");
    }
    for (int i = 0; rv == 0 && i < n; i++) {
        netns_name(i, name, sizeof name);
        netns_node_ip(i, addr, sizeof addr);
        rv = ip(log_fd, err, errlen, "netns add %s", name);
        if (rv == 0) {
            rv = ip(log_fd, err, errlen,
                    "link add v%d type veth peer name eth0 netns %s", i + 1,
                    name);
        }
        if (rv == 0) {
            rv = ip(log_fd, err, errlen, "link set v%d master " BRIDGE " up",
                    i + 1);
        }
        if (rv == 0) {
            rv = ip(log_fd, err, errlen, "-n %s addr add %s/24 dev eth0", name,
                    addr);
        }
        if (rv == 0) {
            rv = ip(log_fd, err, errlen, "-n %s link set eth0 up", name);
        }
        if (rv == 0) {
            rv = ip(log_fd, err, errlen, "-n %s link set lo up", name);
        }
    }
    return rv;
}
