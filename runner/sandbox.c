/* sandbox: namespaces that die whole with the run.
 *
 * clone() with CLONE_NEWPID makes the child PID 1 of a new pid namespace:
 * when it exits, the kernel SIGKILLs every process left in the namespace
 * (the nodes, any `ip` or `iptables` still running). The child also has its
 * own mount namespace (so the tmpfs on /run/netns, which holds the
 * per-node network namespaces, is visible to nobody else and goes away with
 * the last process) and its own network namespace (so the bridge, the veths
 * and, inside the node namespaces, every iptables rule vanish with it). The
 * child asks for SIGKILL when its parent dies, so a SIGKILLed runner takes
 * the whole tree down. Without root, a user namespace maps us to root
 * inside, where the kernel allows unprivileged user namespaces. */
#include "runner/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/msg.h"

extern char **environ;

static volatile pid_t inside_pid;

/* Forward a signal someone sent us with kill(); signals from the terminal
 * (SI_KERNEL) reach the inside directly, since it is in our process group. */
static void forward(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (inside_pid > 0 && info->si_code != SI_KERNEL) {
        kill(inside_pid, sig);
    }
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0) {
        return -errno;
    }
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static int map_ids(pid_t pid, uid_t uid, gid_t gid)
{
    char path[64], map[64];
    int rv;
    snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
    write_file(path, "deny"); /* absent on old kernels: fine */
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    snprintf(map, sizeof map, "0 %u 1\n", uid);
    rv = write_file(path, map);
    if (rv != 0) {
        return rv;
    }
    snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
    snprintf(map, sizeof map, "0 %u 1\n", gid);
    return write_file(path, map);
}

/* The outside: wait for the inside and exit as it did. */
static void outside(pid_t pid, int go_fd, bool userns, uid_t uid, gid_t gid)
{
    struct sigaction sa;
    int status, rv;

    inside_pid = pid;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (userns && map_ids(pid, uid, gid) != 0) {
        msg_error("cannot map user ids into the sandbox's user namespace: %s",
                  strerror(errno));
        kill(pid, SIGKILL);
    } else if (write(go_fd, "g", 1) != 1) {
        kill(pid, SIGKILL);
    }
    close(go_fd);

    do {
        rv = waitpid(pid, &status, 0);
    } while (rv < 0 && errno == EINTR);
    if (rv < 0) {
        exit(4);
    }
    exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static int mount_private(char *err, size_t errlen)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "sandbox: making / private: %s", strerror(errno));
        return -errno;
    }
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) != 0) {
        snprintf(err, errlen, "sandbox: mounting /proc: %s", strerror(errno));
        return -errno;
    }
    mkdir("/run/netns", 0755);
    if (mount("faultline-netns", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=0755") != 0) {
        snprintf(err, errlen, "sandbox: mounting a tmpfs on /run/netns: %s",
                 strerror(errno));
        return -errno;
    }
    return 0;
}

int sandbox_enter(char *err, size_t errlen)
{
    static char *const lo_up[] = {"ip", "link", "set", "lo", "up", NULL};
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET;
    bool userns = geteuid() != 0;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int go[2];
    char byte;
    pid_t pid;
    int rv;

    if (userns) {
        flags |= CLONE_NEWUSER;
    }
    if (pipe2(go, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "sandbox: pipe: %s", strerror(errno));
        return -errno;
    }
    fflush(NULL);
    /* clone without CLONE_VM and without a new stack behaves like fork. */
    pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        rv = -errno;
        close(go[0]);
        close(go[1]);
        if (rv == -EPERM || rv == -EINVAL || rv == -ENOSPC) {
            snprintf(err, errlen,
                     "sandbox: cannot create pid/mount/network namespaces "
                     "(%s). faultline needs root, or a kernel that allows "
                     "unprivileged user namespaces "
                     "(sysctl kernel.unprivileged_userns_clone=1 and "
                     "user.max_user_namespaces > 0)",
                     strerror(-rv));
        } else {
            snprintf(err, errlen, "sandbox: clone: %s", strerror(-rv));
        }
        return rv;
    }
    if (pid > 0) {
        close(go[0]);
        outside(pid, go[1], userns, uid, gid); /* does not return */
    }

    /* Inside: PID 1. Die with the parent; wait for its go (EOF: it died
     * before setting us up, so leave). */
    close(go[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (read(go[0], &byte, 1) != 1) {
        _exit(4);
    }
    close(go[0]);
    rv = mount_private(err, errlen);
    if (rv != 0) {
        return rv;
    }
    rv = sandbox_run(lo_up, -1);
    if (rv != 0) {
        snprintf(err, errlen, "sandbox: ip link set lo up: %s",
                 rv < 0 ? strerror(-rv) : "failed (is iproute2 installed?)");
        return rv < 0 ? rv : -EIO;
    }
    return 0;
}

int sandbox_run(char *const argv[], int log_fd)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status, rv;

    posix_spawn_file_actions_init(&fa);
    if (log_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
    }
    rv = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rv != 0) {
        return -rv;
    }
    do {
        rv = waitpid(pid, &status, 0);
    } while (rv < 0 && errno == EINTR);
    if (rv < 0) {
        return -errno;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
