/* faultfs_node: start a node's faultfs and talk to it; see faultfs_node.h. */
#include "nemesis/faultfs_node.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000

static const char *const fs_ops[] = {
    "read",     "write",  "fsync", "fdatasync", "create", "rename",
    "truncate", "unlink", "mkdir", "open",      NULL};

int nemesis_faultfs_prepare(struct cluster *c, const struct scenario *s,
                            const void *settings, int i,
                            struct cluster_env *env)
{
    return env == NULL ? nemesis_faultfs_mount(c, i, s->seed) : 0;
}

const char *nemesis_faultfs_op_names(void)
{
    static char buf[256];
    return settings_join(fs_ops, buf, sizeof buf);
}

bool nemesis_faultfs_op_known(const char *op)
{
    for (int i = 0; fs_ops[i] != NULL; i++) {
        if (strcmp(fs_ops[i], op) == 0) {
            return true;
        }
    }
    return false;
}

static void say(struct cluster *c, const char *fmt, const char *a,
                const char *b)
{
    if (c->log != NULL) {
        fprintf(c->log, "faultfs: ");
        fprintf(c->log, fmt, a, b);
        fputc('\n', c->log);
        fflush(c->log);
    }
}

int nemesis_faultfs_mount(struct cluster *c, int i, uint64_t run_seed)
{
    const struct db_node *n = &c->nodes[i].spec;
    char bin[1100], sock[4200], stash[4200], log[4200], seed[32], ready[16];
    char *argv[] = {bin,
                    "--control",
                    sock,
                    "--stash",
                    stash,
                    "--log",
                    log,
                    "--seed",
                    seed,
                    "--ready-fd",
                    ready,
                    (char *)n->data_dir,
                    (char *)n->data_dir,
                    NULL};
    struct pollfd pfd;
    char byte = 0;
    int p[2], rv;
    pid_t pid;

    snprintf(bin, sizeof bin, "%s/faultfs", c->bin_dir);
    snprintf(sock, sizeof sock, "%s/faultfs.sock", n->dir);
    snprintf(stash, sizeof stash, "%s/faultfs.stash", n->dir);
    snprintf(log, sizeof log, "%s/faultfs.log", n->dir);
    snprintf(seed, sizeof seed, "%llu",
             (unsigned long long)(run_seed * 16 + (uint64_t)n->id));
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -errno;
    }
    snprintf(ready, sizeof ready, "%d", p[1]);
    pid = fork();
    if (pid < 0) {
        rv = -errno;
        close(p[0]);
        close(p[1]);
        return rv;
    }
    if (pid == 0) {
        /* Our own session, as the nodes: a terminal's Ctrl-C reaches only
         * the runner. The ready end survives the exec. */
        setsid();
        fcntl(p[1], F_SETFD, 0);
        execv(bin, argv);
        fprintf(stderr, "faultfs: exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    pfd.fd = p[0];
    pfd.events = POLLIN;
    do {
        rv = poll(&pfd, 1, READY_TIMEOUT_MS);
    } while (rv < 0 && errno == EINTR);
    if (rv <= 0 || read(p[0], &byte, 1) != 1 || byte != '1') {
        say(c, "%s: did not mount (see %s)", n->name, log);
        close(p[0]);
        return -EIO;
    }
    close(p[0]);
    say(c, "%s: mounted over %s", n->name, n->data_dir);
    return 0;
}

int nemesis_faultfs_command(struct cluster *c, int i, const char *command,
                            char *reply, size_t size)
{
    const struct db_node *n = &c->nodes[i].spec;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (c->dry_run) {
        snprintf(reply, size, "ok (dry run)");
        return 0;
    }
    struct timeval tv = {30, 0};
    char buf[4096], line[512] = "";
    size_t used = 0;
    int dir, sock, rv = 0;

    reply[0] = '\0';
    /* The node's folder may be deeper than sun_path allows: reach the
     * socket through a descriptor of the folder. */
    dir = open(n->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        return -errno;
    }
    snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/faultfs.sock",
             dir);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        rv = -errno;
        close(dir);
        return rv;
    }
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while ((rv = connect(sock, (struct sockaddr *)&a, sizeof a)) != 0 &&
           errno == EINTR) {
    }
    if (rv != 0 || dprintf(sock, "%s\n", command) < 0) {
        rv = -errno;
        goto out;
    }
    shutdown(sock, SHUT_WR);
    for (;;) {
        ssize_t got = read(sock, buf, sizeof buf);
        if (got < 0 && errno == EINTR) {
            continue; /* SIGCHLD of the node we just killed */
        }
        if (got <= 0) {
            break;
        }
        for (ssize_t k = 0; k < got; k++) {
            if (buf[k] != '\n') {
                if (used < sizeof line - 1) {
                    line[used++] = buf[k];
                }
            } else if (used > 0) {
                line[used] = '\0';
                snprintf(reply, size, "%s", line);
                used = 0;
            }
        }
    }
    rv = strncmp(reply, "ok", 2) == 0 ? 0 : reply[0] != '\0' ? 1 : -EPROTO;
out:
    close(sock);
    close(dir);
    if (c->log != NULL) {
        fprintf(c->log, "faultfs: %s: %s -> %s\n", n->name, command,
                rv >= 0 ? reply : strerror(-rv));
        fflush(c->log);
    }
    return rv;
}
