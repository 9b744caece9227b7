/* faultfs: a passthrough FUSE file system that knows which writes are
 * durable, loses the others on cue, and fails I/O on cue.
 *
 *   faultfs [--control SOCK] [--stash DIR] [--seed N] [--log FILE]
 *           [--ready-fd FD] [--no-sync] BACKING MOUNTPOINT
 *   faultfs ctl SOCK COMMAND...
 *
 * BACKING may be MOUNTPOINT itself: it is opened before the mount, and the
 * files stay there when the mount goes. The stash (default BACKING.stash,
 * on BACKING's file system) keeps unlinked files until their removal is
 * durable; the control socket (default BACKING.sock) takes the commands of
 * nemesis/faultfs/control.h. The durability model is in tracker.h.
 *
 * The daemon dies with its parent (PR_SET_PDEATHSIG: SIGTERM, which
 * unmounts), and a mount made in a private mount namespace dies with it.
 * --ready-fd: written "1" and closed once the mount and the socket are up.
 * --no-sync: fsync, fdatasync and O_SYNC/O_DSYNC update the durability
 * model but are not passed to the backing disk (faster; only a simulated
 * loss is modelled, a real crash of the machine may lose more).
 *
 * The kernel caches neither names nor attributes (timeouts 0), and drops a
 * file's pages when it is opened, so that a restarted process reads the
 * rolled-back content. A handle opened with O_DIRECT is served as
 * direct_io; the backing file is opened without O_DIRECT (FUSE buffers are
 * not aligned) and without O_APPEND (the kernel gives the offset). */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "nemesis/faultfs/control.h"
#include "nemesis/faultfs/rules.h"
#include "nemesis/faultfs/tracker.h"

/* Exit codes, as faultline's (README). */
#define EXIT_USAGE   3
#define EXIT_HARNESS 4

static struct {
    int root, stash;
    bool no_sync;
    struct tracker *tracker;
    struct rules *rules;
} fs;

/* An open file or directory. Every handle is on a list, so that those
 * whose release the kernel had not sent yet when the loop stopped can be
 * freed at exit. */
struct handle {
    int fd;
    ino_t ino;
    bool sync;
    struct handle *prev, *next;
    char path[];
};

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *handles;

static void handle_link(struct handle *h)
{
    pthread_mutex_lock(&handles_lock);
    h->prev = NULL;
    h->next = handles;
    if (handles != NULL) {
        handles->prev = h;
    }
    handles = h;
    pthread_mutex_unlock(&handles_lock);
}

static void handle_free(struct handle *h)
{
    pthread_mutex_lock(&handles_lock);
    if (h->prev != NULL) {
        h->prev->next = h->next;
    } else {
        handles = h->next;
    }
    if (h->next != NULL) {
        h->next->prev = h->prev;
    }
    pthread_mutex_unlock(&handles_lock);
    close(h->fd);
    free(h);
}

#define H(fi) ((struct handle *)(uintptr_t)(fi)->fh)

/* "/a/b" -> "a/b", "/" -> "." */
static const char *rel(const char *path)
{
    if (path == NULL) {
        return ".";
    }
    while (*path == '/') {
        path++;
    }
    return *path ? path : ".";
}

static int fail(enum rules_op op, const char *path)
{
    return -rules_check(fs.rules, op, path);
}

static void *ffs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    cfg->use_ino = 1;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->hard_remove = 1;
    cfg->nullpath_ok = 1;
    cfg->kernel_cache = 0;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    return NULL;
}

static int ffs_getattr(const char *path, struct stat *st,
                       struct fuse_file_info *fi)
{
    int rv = fi != NULL ? fstat(H(fi)->fd, st)
                        : fstatat(fs.root, rel(path), st, AT_SYMLINK_NOFOLLOW);
    return rv == 0 ? 0 : -errno;
}

static int ffs_access(const char *path, int mask)
{
    return faccessat(fs.root, rel(path), mask, 0) == 0 ? 0 : -errno;
}

static int ffs_readlink(const char *path, char *buf, size_t size)
{
    ssize_t n = readlinkat(fs.root, rel(path), buf, size - 1);
    if (n < 0) {
        return -errno;
    }
    buf[n] = '\0';
    return 0;
}

static int ffs_mknod(const char *path, mode_t mode, dev_t rdev)
{
    int rv = fail(RULES_CREATE, path);
    if (rv == 0 && mknodat(fs.root, rel(path), mode, rdev) != 0) {
        rv = -errno;
    }
    return rv == 0 ? tracker_created(fs.tracker, rel(path), false) : rv;
}

static int ffs_mkdir(const char *path, mode_t mode)
{
    int rv = fail(RULES_MKDIR, path);
    if (rv == 0 && mkdirat(fs.root, rel(path), mode) != 0) {
        rv = -errno;
    }
    return rv == 0 ? tracker_created(fs.tracker, rel(path), true) : rv;
}

static int ffs_symlink(const char *target, const char *path)
{
    int rv = fail(RULES_CREATE, path);
    if (rv == 0 && symlinkat(target, fs.root, rel(path)) != 0) {
        rv = -errno;
    }
    return rv == 0 ? tracker_created(fs.tracker, rel(path), false) : rv;
}

static int ffs_link(const char *from, const char *to)
{
    int rv = fail(RULES_CREATE, to);
    if (rv == 0 && linkat(fs.root, rel(from), fs.root, rel(to), 0) != 0) {
        rv = -errno;
    }
    return rv == 0 ? tracker_created(fs.tracker, rel(to), false) : rv;
}

static int ffs_unlink(const char *path)
{
    int rv = fail(RULES_UNLINK, path);
    return rv != 0 ? rv : tracker_unlink(fs.tracker, rel(path));
}

static int ffs_rmdir(const char *path)
{
    int rv = fail(RULES_UNLINK, path);
    return rv != 0 ? rv : tracker_rmdir(fs.tracker, rel(path));
}

static int ffs_rename(const char *from, const char *to, unsigned int flags)
{
    int rv = fail(RULES_RENAME, from);
    if (rv == 0) {
        rv = fail(RULES_RENAME, to);
    }
    return rv != 0 ? rv : tracker_rename(fs.tracker, rel(from), rel(to), flags);
}

static int ffs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int rv = fi != NULL ? fchmod(H(fi)->fd, mode)
                        : fchmodat(fs.root, rel(path), mode, 0);
    return rv == 0 ? 0 : -errno;
}

static int ffs_chown(const char *path, uid_t uid, gid_t gid,
                     struct fuse_file_info *fi)
{
    int rv = fi != NULL
                 ? fchown(H(fi)->fd, uid, gid)
                 : fchownat(fs.root, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
    return rv == 0 ? 0 : -errno;
}

static int ffs_utimens(const char *path, const struct timespec tv[2],
                       struct fuse_file_info *fi)
{
    int rv = fi != NULL
                 ? futimens(H(fi)->fd, tv)
                 : utimensat(fs.root, rel(path), tv, AT_SYMLINK_NOFOLLOW);
    return rv == 0 ? 0 : -errno;
}

/* A full disk refuses growth of a file past its current size. */
static int growth_refused(int fd, off_t end)
{
    struct stat st;
    return rules_full(fs.rules) && fstat(fd, &st) == 0 && end > st.st_size;
}

static int ffs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct stat st;
    int fd, rv = fail(RULES_TRUNCATE, fi ? H(fi)->path : path);
    if (rv != 0) {
        return rv;
    }
    fd = fi != NULL ? H(fi)->fd
                    : openat(fs.root, rel(path), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (growth_refused(fd, size)) {
        rv = -ENOSPC;
    } else if (fstat(fd, &st) != 0) {
        rv = -errno;
    } else {
        rv = tracker_truncate(fs.tracker, fd, st.st_ino, rel(path), size);
    }
    if (fi == NULL) {
        close(fd);
    }
    return rv;
}

static int open_handle(const char *path, int fd, struct fuse_file_info *fi)
{
    struct stat st;
    size_t len = strlen(path);
    struct handle *h = malloc(sizeof *h + len + 1);
    if (h == NULL || fstat(fd, &st) != 0) {
        int rv = h == NULL ? -ENOMEM : -errno;
        free(h);
        close(fd);
        return rv;
    }
    h->fd = fd;
    h->ino = st.st_ino;
    h->sync = (fi->flags & O_DSYNC) != 0; /* O_SYNC includes O_DSYNC */
    memcpy(h->path, path, len + 1);
    if (fi->flags & O_DIRECT) {
        fi->direct_io = 1;
    }
    handle_link(h);
    fi->fh = (uintptr_t)h;
    return 0;
}

static int backing_flags(int flags)
{
    flags &= ~(O_DIRECT | O_APPEND | O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
    if (fs.no_sync) {
        flags &= ~(O_SYNC | O_DSYNC); /* the handle keeps them (h->sync) */
    }
    return flags | O_CLOEXEC;
}

static int ffs_open(const char *path, struct fuse_file_info *fi)
{
    int fd, rv = fail(RULES_OPEN, path);
    if (rv != 0) {
        return rv;
    }
    fd = openat(fs.root, rel(path), backing_flags(fi->flags));
    if (fd < 0) {
        return -errno;
    }
    rv = open_handle(path, fd, fi);
    if (rv == 0 && (fi->flags & O_TRUNC)) {
        rv = ffs_truncate(path, 0, fi);
        if (rv != 0) {
            handle_free(H(fi));
        }
    }
    return rv;
}

static int ffs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int fd, rv = fail(RULES_CREATE, path);
    if (rv != 0) {
        return rv;
    }
    fd = openat(fs.root, rel(path), backing_flags(fi->flags) | O_CREAT | O_EXCL,
                mode);
    if (fd >= 0) {
        rv = tracker_created(fs.tracker, rel(path), false);
        if (rv != 0) {
            close(fd);
            return rv;
        }
        return open_handle(path, fd, fi);
    }
    if (errno != EEXIST || (fi->flags & O_EXCL)) {
        return -errno;
    }
    return ffs_open(path, fi); /* it was there: nothing new to journal */
}

static int ffs_read(const char *path, char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    ssize_t n;
    int rv = fail(RULES_READ, H(fi)->path);
    if (rv != 0) {
        return rv;
    }
    n = pread(H(fi)->fd, buf, size, off);
    return n >= 0 ? (int)n : -errno;
}

static int ffs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    struct handle *h = H(fi);
    int rv = fail(RULES_WRITE, h->path);
    if (rv != 0) {
        return rv;
    }
    if (growth_refused(h->fd, off + (off_t)size)) {
        return -ENOSPC;
    }
    return (int)tracker_write(fs.tracker, h->fd, h->ino, rel(h->path), buf,
                              size, off, h->sync);
}

static int ffs_statfs(const char *path, struct statvfs *st)
{
    if (fstatvfs(fs.root, st) != 0) {
        return -errno;
    }
    if (rules_full(fs.rules)) {
        st->f_bfree = st->f_bavail = 0;
    }
    return 0;
}

static int ffs_flush(const char *path, struct fuse_file_info *fi)
{
    return 0;
}

static int ffs_release(const char *path, struct fuse_file_info *fi)
{
    handle_free(H(fi));
    return 0;
}

static int ffs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    struct handle *h = H(fi);
    int rv = fail(datasync ? RULES_FDATASYNC : RULES_FSYNC, h->path);
    return rv != 0 ? rv : tracker_sync(fs.tracker, h->fd, h->ino, datasync);
}

static int ffs_fallocate(const char *path, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
    struct handle *h = H(fi);
    int rv = fail(RULES_WRITE, h->path);
    if (rv != 0) {
        return rv;
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && growth_refused(h->fd, off + len)) {
        return -ENOSPC;
    }
    return tracker_fallocate(fs.tracker, h->fd, h->ino, rel(h->path), mode, off,
                             len);
}

static int ffs_opendir(const char *path, struct fuse_file_info *fi)
{
    int fd = openat(fs.root, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    return open_handle(path, fd, fi);
}

static int ffs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
                       off_t off, struct fuse_file_info *fi,
                       enum fuse_readdir_flags flags)
{
    int fd = openat(H(fi)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        int rv = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st = {.st_ino = de->d_ino, .st_mode = DTTOIF(de->d_type)};
        if (filler(buf, de->d_name, &st, 0, 0) != 0) {
            break;
        }
    }
    closedir(d);
    return 0;
}

static int ffs_releasedir(const char *path, struct fuse_file_info *fi)
{
    return ffs_release(path, fi);
}

static int ffs_fsyncdir(const char *path, int datasync,
                        struct fuse_file_info *fi)
{
    struct handle *h = H(fi);
    int rv = fail(datasync ? RULES_FDATASYNC : RULES_FSYNC, h->path);
    return rv != 0 ? rv : tracker_syncdir(fs.tracker, h->fd, rel(h->path));
}

static const struct fuse_operations ops = {
    .init = ffs_init,
    .getattr = ffs_getattr,
    .access = ffs_access,
    .readlink = ffs_readlink,
    .mknod = ffs_mknod,
    .mkdir = ffs_mkdir,
    .symlink = ffs_symlink,
    .link = ffs_link,
    .unlink = ffs_unlink,
    .rmdir = ffs_rmdir,
    .rename = ffs_rename,
    .chmod = ffs_chmod,
    .chown = ffs_chown,
    .utimens = ffs_utimens,
    .truncate = ffs_truncate,
    .open = ffs_open,
    .create = ffs_create,
    .read = ffs_read,
    .write = ffs_write,
    .statfs = ffs_statfs,
    .flush = ffs_flush,
    .release = ffs_release,
    .fsync = ffs_fsync,
    .fallocate = ffs_fallocate,
    .opendir = ffs_opendir,
    .readdir = ffs_readdir,
    .releasedir = ffs_releasedir,
    .fsyncdir = ffs_fsyncdir,
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: faultfs [--control SOCK] [--stash DIR] [--seed N] "
        "[--log FILE] [--ready-fd FD] [--no-sync] BACKING MOUNTPOINT\n"
        "       faultfs ctl SOCK COMMAND...\n"
        "commands: ping, lose-unsynced, torn-write, fail OP ERRNO "
        "[COUNT|PROBABILITY|always] [PATTERN], fill [on|off], clear [rules], "
        "status\n");
}

static int ctl_main(int argc, char **argv)
{
    char command[1024] = "";
    size_t used = 0;
    int rv;
    if (argc < 4) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (int i = 3; i < argc; i++) {
        used += (size_t)snprintf(command + used, sizeof command - used, "%s%s",
                                 i > 3 ? " " : "", argv[i]);
        if (used >= sizeof command) {
            fprintf(stderr, "faultfs ctl: command too long\n");
            return EXIT_USAGE;
        }
    }
    rv = control_send(argv[2], command, stdout);
    if (rv < 0) {
        fprintf(stderr, "faultfs ctl: %s: %s\n", argv[2], strerror(-rv));
        return EXIT_HARNESS;
    }
    return rv;
}

int main(int argc, char **argv)
{
    const char *control = NULL, *stash = NULL, *log = NULL;
    char control_buf[4200], stash_buf[4200], err[512];
    uint64_t seed = (uint64_t)time(NULL);
    int ready_fd = -1, i;
    struct stat root_st, stash_st;
    char *fargv[] = {argv[0], "-o", "fsname=faultfs,subtype=faultfs", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse *fuse;
    int rv = EXIT_HARNESS;

    if (argc >= 2 && strcmp(argv[1], "ctl") == 0) {
        return ctl_main(argc, argv);
    }
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--no-sync") == 0) {
            fs.no_sync = true;
            i--; /* takes no value */
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "faultfs: %s needs a value\n", argv[i]);
            return EXIT_USAGE;
        }
        if (strcmp(argv[i], "--control") == 0) {
            control = argv[i + 1];
        } else if (strcmp(argv[i], "--stash") == 0) {
            stash = argv[i + 1];
        } else if (strcmp(argv[i], "--log") == 0) {
            log = argv[i + 1];
        } else if (strcmp(argv[i], "--seed") == 0) {
            seed = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--ready-fd") == 0) {
            ready_fd = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "faultfs: unknown option %s\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - i != 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (log != NULL) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "faultfs: open %s: %s\n", log, strerror(errno));
            return EXIT_HARNESS;
        }
        dup2(fd, 2);
        close(fd);
    }
    if (control == NULL) {
        snprintf(control_buf, sizeof control_buf, "%s.sock", argv[i]);
        control = control_buf;
    }
    if (stash == NULL) {
        snprintf(stash_buf, sizeof stash_buf, "%s.stash", argv[i]);
        stash = stash_buf;
    }
    /* Open the backing tree before mounting: it may be the mount point. */
    fs.root = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs.root < 0 || fstat(fs.root, &root_st) != 0) {
        fprintf(stderr, "faultfs: backing %s: %s\n", argv[i], strerror(errno));
        return EXIT_HARNESS;
    }
    if (mkdir(stash, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "faultfs: stash %s: %s\n", stash, strerror(errno));
        return EXIT_HARNESS;
    }
    fs.stash = open(stash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs.stash < 0 || fstat(fs.stash, &stash_st) != 0) {
        fprintf(stderr, "faultfs: stash %s: %s\n", stash, strerror(errno));
        return EXIT_HARNESS;
    }
    if (stash_st.st_dev != root_st.st_dev) {
        fprintf(stderr,
                "faultfs: stash %s is not on the file system of %s (files "
                "are moved there)\n",
                stash, argv[i]);
        return EXIT_HARNESS;
    }
    fs.tracker = tracker_new(fs.root, fs.stash);
    if (fs.tracker != NULL) {
        tracker_set_real_sync(fs.tracker, !fs.no_sync);
    }
    fs.rules = rules_new(seed);
    if (fs.tracker == NULL || fs.rules == NULL) {
        fprintf(stderr, "faultfs: out of memory\n");
        return EXIT_HARNESS;
    }
    fuse = fuse_new(&args, &ops, sizeof ops, NULL);
    if (fuse == NULL) {
        fprintf(stderr, "faultfs: fuse_new failed\n");
        goto out;
    }
    if (fuse_mount(fuse, argv[i + 1]) != 0) {
        fprintf(stderr, "faultfs: mount on %s failed\n", argv[i + 1]);
        goto out_destroy;
    }
    if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
        fprintf(stderr, "faultfs: signal handlers\n");
        goto out_unmount;
    }
    if (control_start(control, fs.tracker, fs.rules, seed, err, sizeof err) !=
        0) {
        fprintf(stderr, "faultfs: %s\n", err);
        goto out_signals;
    }
    fprintf(stderr, "faultfs: %s on %s, control %s, seed %" PRIu64 "\n",
            argv[i], argv[i + 1], control, seed);
    if (ready_fd >= 0) {
        if (write(ready_fd, "1", 1) != 1) {
            fprintf(stderr, "faultfs: ready fd: %s\n", strerror(errno));
        }
        close(ready_fd);
    }
    rv = fuse_loop_mt(fuse, 0) == 0 ? 0 : EXIT_HARNESS;
    unlink(control);
out_signals:
    fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
    fuse_unmount(fuse);
out_destroy:
    fuse_destroy(fuse);
out:
    while (handles != NULL) {
        handle_free(handles);
    }
    fuse_opt_free_args(&args);
    tracker_free(fs.tracker);
    rules_free(fs.rules);
    return rv;
}
