/* control: the command socket of a faultfs mount; see control.h. */
#include "nemesis/faultfs/control.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX (256 * 1024)
#define MAX_WORDS 8

struct control {
    int fd;
    struct tracker *tracker;
    struct rules *rules;
    uint64_t seed;
    bool torn;
};

/* Split @path into folder and name; the address gets the name, and the
 * caller runs in the folder (fchdir). Returns the folder's descriptor or
 * -errno. */
static int address_of(const char *path, struct sockaddr_un *a)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    char dir[4096];
    int fd;

    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(name) >= sizeof a->sun_path) {
        return -ENAMETOOLONG;
    }
    snprintf(a->sun_path, sizeof a->sun_path, "%s", name);
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* Bind (@listen_) or connect @sock to @path, from @path's folder. */
static int at_folder(int sock, const char *path, bool listen_)
{
    struct sockaddr_un a;
    int dir = address_of(path, &a), here, rv = 0;
    if (dir < 0) {
        return dir;
    }
    here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || fchdir(dir) != 0) {
        rv = -errno;
    } else {
        if (listen_) {
            unlink(a.sun_path);
        }
        if ((listen_ ? bind(sock, (struct sockaddr *)&a, sizeof a)
                     : connect(sock, (struct sockaddr *)&a, sizeof a)) != 0) {
            rv = -errno;
        }
        if (fchdir(here) != 0 && rv == 0) {
            rv = -errno;
        }
    }
    if (here >= 0) {
        close(here);
    }
    close(dir);
    return rv;
}

static void reply(int fd, const char *s)
{
    size_t len = strlen(s), done = 0;
    while (done < len) {
        ssize_t n = write(fd, s + done, len - done);
        if (n <= 0) {
            return;
        }
        done += (size_t)n;
    }
}

static void serve(struct control *c, int fd, char *line, char *out)
{
    char *words[MAX_WORDS], *save = NULL, *w;
    int n = 0;
    char msg[512];

    for (w = strtok_r(line, " \t\r\n", &save); w != NULL && n < MAX_WORDS;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        words[n++] = w;
    }
    if (n == 0) {
        reply(fd, "error: empty command\n");
    } else if (strcmp(words[0], "ping") == 0) {
        reply(fd, "ok\n");
    } else if (strcmp(words[0], "lose-unsynced") == 0) {
        int rv = tracker_lose_unsynced(c->tracker, c->torn, c->seed++, msg,
                                       sizeof msg);
        c->torn = false;
        snprintf(out, REPLY_MAX, rv == 0 ? "ok %s\n" : "error: %s: %s\n", msg,
                 strerror(-rv));
        reply(fd, out);
    } else if (strcmp(words[0], "torn-write") == 0) {
        c->torn = true;
        reply(fd, "ok torn-write armed for the next lose-unsynced\n");
    } else if (strcmp(words[0], "fail") == 0) {
        if (rules_add(c->rules, n - 1, words + 1, msg, sizeof msg) == 0) {
            reply(fd, "ok\n");
        } else {
            snprintf(out, REPLY_MAX, "error: %s\n", msg);
            reply(fd, out);
        }
    } else if (strcmp(words[0], "fill") == 0) {
        bool off = n > 1 && strcmp(words[1], "off") == 0;
        if (n > 2 || (n == 2 && !off && strcmp(words[1], "on") != 0)) {
            reply(fd, "error: usage: fill [on|off]\n");
        } else {
            rules_set_full(c->rules, !off);
            reply(fd, off ? "ok disk not full\n" : "ok disk full\n");
        }
    } else if (strcmp(words[0], "clear") == 0) {
        bool rules_only = n > 1 && strcmp(words[1], "rules") == 0;
        if (n > 2 || (n == 2 && !rules_only)) {
            reply(fd, "error: usage: clear [rules]\n");
        } else {
            rules_clear(c->rules);
            if (!rules_only) {
                rules_set_full(c->rules, false);
            }
            reply(fd, "ok\n");
        }
    } else if (strcmp(words[0], "status") == 0) {
        uint64_t total = tracker_status(c->tracker, out, REPLY_MAX - 1024);
        size_t used = strlen(out);
        rules_status(c->rules, out + used, REPLY_MAX - 512 - used);
        used = strlen(out);
        snprintf(out + used, REPLY_MAX - used, "ok nondurable=%llu\n",
                 (unsigned long long)total);
        reply(fd, out);
    } else {
        snprintf(out, REPLY_MAX,
                 "error: unknown command '%s' (ping, lose-unsynced, "
                 "torn-write, fail, fill, clear, status)\n",
                 words[0]);
        reply(fd, out);
    }
}

static void *control_main(void *arg)
{
    struct control *c = arg;
    char line[1024];
    char *out = malloc(REPLY_MAX);
    if (out == NULL) {
        return NULL;
    }
    for (;;) {
        size_t used = 0;
        int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            break;
        }
        while (used < sizeof line - 1) {
            ssize_t n = read(fd, line + used, sizeof line - 1 - used);
            if (n <= 0) {
                break;
            }
            used += (size_t)n;
            if (memchr(line, '\n', used) != NULL) {
                break;
            }
        }
        line[used] = '\0';
        serve(c, fd, line, out);
        close(fd);
    }
    free(out);
    return NULL;
}

int control_start(const char *path, struct tracker *tracker,
                  struct rules *rules, uint64_t seed, char *err, size_t size)
{
    struct control *c = calloc(1, sizeof *c);
    pthread_t th;
    int rv;

    if (c == NULL) {
        return -ENOMEM;
    }
    c->tracker = tracker;
    c->rules = rules;
    c->seed = seed;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        rv = -errno;
        snprintf(err, size, "socket: %s", strerror(errno));
        free(c);
        return rv;
    }
    rv = at_folder(c->fd, path, true);
    if (rv == 0 && listen(c->fd, 8) != 0) {
        rv = -errno;
    }
    if (rv == 0 && (rv = -pthread_create(&th, NULL, control_main, c)) == 0) {
        pthread_detach(th);
        return 0;
    }
    snprintf(err, size, "control socket %s: %s", path, strerror(-rv));
    close(c->fd);
    free(c);
    return rv;
}

int control_send(const char *path, const char *command, void *out)
{
    FILE *f = out;
    struct timeval tv = {30, 0};
    char buf[4096], cur[1024], last[1024] = "";
    size_t len = strlen(command), done = 0, used = 0;
    int sock, rv;

    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        return -errno;
    }
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    rv = at_folder(sock, path, false);
    while (rv == 0 && done < len) {
        ssize_t n = write(sock, command + done, len - done);
        if (n <= 0) {
            rv = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (rv == 0 && (write(sock, "\n", 1) != 1)) {
        rv = -errno;
    }
    if (rv != 0) {
        close(sock);
        return rv;
    }
    shutdown(sock, SHUT_WR);
    /* Echo the reply, remembering its last line. */
    for (;;) {
        ssize_t n = read(sock, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        fwrite(buf, 1, (size_t)n, f);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (used < sizeof cur - 1) {
                    cur[used++] = buf[i];
                }
            } else if (used > 0) {
                memcpy(last, cur, used);
                last[used] = '\0';
                used = 0;
            }
        }
    }
    close(sock);
    fflush(f);
    if (strncmp(last, "ok", 2) == 0) {
        return 0;
    }
    return last[0] == '\0' ? -EPROTO : 1;
}
