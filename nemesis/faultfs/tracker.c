/* tracker: per-file undo logs and a directory journal; see tracker.h. */
#include "nemesis/faultfs/tracker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512

/* Durable content of bytes [off, off+len) before a non-durable change. */
struct undo {
    off_t off;
    size_t len;
    unsigned char *data; /* NULL: zeros */
};

/* A file with non-durable changes. */
struct file {
    ino_t ino;
    int fd; /* our own read-write descriptor: keeps the inode (and so its
             * number) alive while we track it */
    off_t durable_size;
    struct undo *undo;
    int n_undo, cap_undo;
    uint64_t undo_bytes;
    char path[256];
    struct file *next;
};

enum jop { J_CREATE, J_MKDIR, J_UNLINK, J_RMDIR, J_RENAME, J_EXCHANGE };

static const char *const jop_names[] = {"create", "mkdir",  "unlink",
                                        "rmdir",  "rename", "exchange"};

/* A non-durable directory change. */
struct jentry {
    enum jop op;
    char *a, *b;    /* path; rename: from, to */
    long stash;     /* unlink, rename: the stashed file (-1: none) */
    bool stash_dir; /* rename: an empty directory was replaced */
    mode_t mode;    /* rmdir, replaced directory */
};

struct tracker {
    int root, stash_dir;
    bool no_real_sync;
    pthread_mutex_t lock;
    struct file *files;
    struct jentry *j;
    int n_j, cap_j;
    long next_stash;
    struct {
        bool valid;
        ino_t ino;
        off_t off;
        size_t len;
    } last; /* the last non-durable write */
    struct {
        uint64_t writes, dsync_writes, saves, saved_bytes, syncs;
    } count; /* since the start, for status */
};

struct tracker *tracker_new(int root_fd, int stash_fd)
{
    struct tracker *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    t->root = root_fd;
    t->stash_dir = stash_fd;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void tracker_set_real_sync(struct tracker *t, bool on)
{
    t->no_real_sync = !on;
}

static void file_free(struct file *f)
{
    for (int i = 0; i < f->n_undo; i++) {
        free(f->undo[i].data);
    }
    free(f->undo);
    if (f->fd >= 0) {
        close(f->fd);
    }
    free(f);
}

static void jentry_clear(struct jentry *e)
{
    free(e->a);
    free(e->b);
}

void tracker_free(struct tracker *t)
{
    struct file *f, *next;
    if (t == NULL) {
        return;
    }
    for (f = t->files; f != NULL; f = next) {
        next = f->next;
        file_free(f);
    }
    for (int i = 0; i < t->n_j; i++) {
        jentry_clear(&t->j[i]);
    }
    free(t->j);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* --- file data ----------------------------------------------------------- */

/* The tracked file @ino; with @create, start tracking it (its current size
 * is durable) when it is not yet. NULL when not tracked (or *@err set on
 * failure). Called with t->lock held. */
static struct file *file_get(struct tracker *t, int fd, ino_t ino,
                             const char *path, bool create, int *err)
{
    struct file *f;
    struct stat st;
    char self[64];

    *err = 0;
    for (f = t->files; f != NULL; f = f->next) {
        if (f->ino == ino) {
            break;
        }
    }
    if (f == NULL && create) {
        f = calloc(1, sizeof *f);
        if (f == NULL) {
            *err = -ENOMEM;
            return NULL;
        }
        /* Reopen read-write whatever the handle's mode: we read the old
         * content and roll back through it. */
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        f->fd = open(self, O_RDWR | O_CLOEXEC);
        if (f->fd < 0 || fstat(f->fd, &st) != 0) {
            *err = -errno;
            if (f->fd >= 0) {
                close(f->fd);
            }
            free(f);
            return NULL;
        }
        f->ino = ino;
        f->durable_size = st.st_size;
        f->next = t->files;
        t->files = f;
    }
    if (f != NULL && path != NULL) {
        snprintf(f->path, sizeof f->path, "%s", path);
    }
    return f;
}

static int undo_push(struct file *f, off_t off, size_t len, unsigned char *data)
{
    if (f->n_undo == f->cap_undo) {
        int cap = f->cap_undo ? f->cap_undo * 2 : 8;
        struct undo *u = realloc(f->undo, (size_t)cap * sizeof *u);
        if (u == NULL) {
            return -ENOMEM;
        }
        f->undo = u;
        f->cap_undo = cap;
    }
    f->undo[f->n_undo++] = (struct undo){off, len, data};
    f->undo_bytes += len;
    return 0;
}

/* Save the current content of [off, off+len) clipped to the durable size. */
static int save(struct file *f, off_t off, off_t len)
{
    unsigned char *data;
    ssize_t got;
    if (off >= f->durable_size || len <= 0) {
        return 0;
    }
    if (off + len > f->durable_size) {
        len = f->durable_size - off;
    }
    data = malloc((size_t)len);
    if (data == NULL) {
        return -ENOMEM;
    }
    got = pread(f->fd, data, (size_t)len, off);
    if (got < 0) {
        free(data);
        return -errno;
    }
    /* Shorter: an earlier truncate, whose own undo entry (replayed after
     * this one) holds the durable bytes. */
    memset(data + got, 0, (size_t)(len - got));
    if (undo_push(f, off, (size_t)len, data) != 0) {
        free(data);
        return -ENOMEM;
    }
    return 0;
}

/* [off, off+len) is durable now: drop what the undo log says of it. */
static int trim(struct file *f, off_t off, off_t len)
{
    off_t end = off + len;
    for (int i = 0; i < f->n_undo; i++) {
        struct undo *u = &f->undo[i];
        off_t uend = u->off + (off_t)u->len;
        if (uend <= off || u->off >= end) {
            continue;
        }
        if (u->off < off && uend > end) {
            /* Split: keep the head here, the tail as a new entry at the
             * same place in the order. */
            size_t tail = (size_t)(uend - end);
            unsigned char *data = NULL;
            struct undo *grown;
            if (u->data != NULL) {
                data = malloc(tail);
                if (data == NULL) {
                    return -ENOMEM;
                }
                memcpy(data, u->data + (end - u->off), tail);
            }
            if (f->n_undo == f->cap_undo) {
                grown =
                    realloc(f->undo, (size_t)(f->cap_undo * 2) * sizeof *grown);
                if (grown == NULL) {
                    free(data);
                    return -ENOMEM;
                }
                f->undo = grown;
                f->cap_undo *= 2;
                u = &f->undo[i];
            }
            memmove(&f->undo[i + 2], &f->undo[i + 1],
                    (size_t)(f->n_undo - i - 1) * sizeof *u);
            f->undo[i + 1] = (struct undo){end, tail, data};
            f->n_undo++;
            f->undo_bytes -= (uint64_t)(end - off);
            u->len = (size_t)(off - u->off);
            i++;
        } else if (u->off < off) {
            f->undo_bytes -= (uint64_t)(uend - off);
            u->len = (size_t)(off - u->off);
        } else if (uend > end) {
            size_t cut = (size_t)(end - u->off);
            if (u->data != NULL) {
                memmove(u->data, u->data + cut, u->len - cut);
            }
            f->undo_bytes -= cut;
            u->off = end;
            u->len -= cut;
        } else {
            f->undo_bytes -= u->len;
            free(u->data);
            memmove(u, u + 1, (size_t)(f->n_undo - i - 1) * sizeof *u);
            f->n_undo--;
            i--;
        }
    }
    return 0;
}

/* Stop tracking @f and free it. Called with t->lock held. */
static void untrack(struct tracker *t, struct file *f)
{
    struct file **p;
    for (p = &t->files; *p != NULL; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            break;
        }
    }
    if (t->last.valid && t->last.ino == f->ino) {
        t->last.valid = false;
    }
    file_free(f);
}

/* A durable write of [off, off+n) to @f: those bytes, and the size of the
 * file, are durable now (as with fdatasync, the size is metadata needed to
 * read the data back). Bytes inside that size not written durably (a gap
 * before @off, non-durable or fallocated bytes after it) read as zeros
 * after a loss. */
static int sync_write_done(struct file *f, off_t off, ssize_t n)
{
    struct stat st;
    off_t end = off + n, size;
    int err = trim(f, off, n);
    if (err != 0) {
        return err;
    }
    size = fstat(f->fd, &st) == 0 ? st.st_size : end;
    if (size < end) {
        size = end;
    }
    if (off > f->durable_size) {
        err = undo_push(f, f->durable_size, (size_t)(off - f->durable_size),
                        NULL);
    }
    if (err == 0 && size > end && size > f->durable_size) {
        off_t from = end > f->durable_size ? end : f->durable_size;
        err = undo_push(f, from, (size_t)(size - from), NULL);
    }
    if (size > f->durable_size) {
        f->durable_size = size;
    }
    return err;
}

/* A non-durable write holds t->lock from saving the old bytes to writing
 * the new ones (a memory copy into the page cache); a durable one writes
 * first, outside it (it waits for the disk), then updates the log. */
ssize_t tracker_write(struct tracker *t, int fd, ino_t ino, const char *path,
                      const void *buf, size_t len, off_t off, bool sync)
{
    int err = 0;
    ssize_t n;
    struct file *f;

    if (sync) {
        __atomic_add_fetch(&t->count.dsync_writes, 1, __ATOMIC_RELAXED);
        n = pwrite(fd, buf, len, off);
        if (n <= 0) {
            return n < 0 ? -errno : 0;
        }
        pthread_mutex_lock(&t->lock);
        f = file_get(t, fd, ino, path, false, &err);
        if (f != NULL) {
            err = sync_write_done(f, off, n);
        }
        if (t->last.valid && t->last.ino == ino && t->last.off < off + n &&
            off < t->last.off + (off_t)t->last.len) {
            t->last.valid = false;
        }
        pthread_mutex_unlock(&t->lock);
        return err != 0 ? err : n;
    }
    pthread_mutex_lock(&t->lock);
    t->count.writes++;
    f = file_get(t, fd, ino, path, true, &err);
    if (f != NULL && off < f->durable_size) {
        t->count.saves++;
        t->count.saved_bytes += (uint64_t)len;
        err = save(f, off, (off_t)len);
    }
    if (err != 0) {
        n = err;
    } else if ((n = pwrite(fd, buf, len, off)) < 0) {
        n = -errno;
    } else if (n > 0) {
        t->last.valid = true;
        t->last.ino = ino;
        t->last.off = off;
        t->last.len = (size_t)n;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

int tracker_truncate(struct tracker *t, int fd, ino_t ino, const char *path,
                     off_t size)
{
    int err;
    struct file *f;
    pthread_mutex_lock(&t->lock);
    f = file_get(t, fd, ino, path, true, &err);
    if (f != NULL) {
        err = save(f, size, f->durable_size - size);
    }
    if (err == 0 && ftruncate(fd, size) != 0) {
        err = -errno;
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

int tracker_fallocate(struct tracker *t, int fd, ino_t ino, const char *path,
                      int mode, off_t off, off_t len)
{
    int err;
    struct file *f;
    pthread_mutex_lock(&t->lock);
    f = file_get(t, fd, ino, path, true, &err);
    if (f != NULL && (mode & ~FALLOC_FL_KEEP_SIZE) != 0) {
        /* punch hole, zero range: content changes; collapse and insert
         * shift everything after @off */
        bool shift =
            (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) != 0;
        err = save(f, off, shift ? f->durable_size - off : len);
    }
    if (err == 0 && fallocate(fd, mode, off, len) != 0) {
        err = -errno;
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

int tracker_sync(struct tracker *t, int fd, ino_t ino, bool datasync)
{
    int err;
    struct file *f;
    if (!t->no_real_sync && (datasync ? fdatasync(fd) : fsync(fd)) != 0) {
        return -errno;
    }
    /* Fully durable: nothing left to track. */
    pthread_mutex_lock(&t->lock);
    t->count.syncs++;
    f = file_get(t, fd, ino, NULL, false, &err);
    if (f != NULL) {
        untrack(t, f);
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

/* --- directory journal --------------------------------------------------- */

static int journal_push(struct tracker *t, struct jentry e)
{
    if (t->n_j == t->cap_j) {
        int cap = t->cap_j ? t->cap_j * 2 : 16;
        struct jentry *j = realloc(t->j, (size_t)cap * sizeof *j);
        if (j == NULL) {
            return -ENOMEM;
        }
        t->j = j;
        t->cap_j = cap;
    }
    t->j[t->n_j++] = e;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int push(struct tracker *t, enum jop op, const char *a, const char *b,
                long stash, bool stash_dir, mode_t mode)
{
    struct jentry e = {op,    dup_or_null(a), dup_or_null(b),
                       stash, stash_dir,      mode};
    if (e.a == NULL || (b != NULL && e.b == NULL) || journal_push(t, e) != 0) {
        jentry_clear(&e);
        return -ENOMEM;
    }
    return 0;
}

static void stash_name(long n, char *buf, size_t size)
{
    snprintf(buf, size, "%ld", n);
}

int tracker_created(struct tracker *t, const char *path, bool dir)
{
    int rv;
    pthread_mutex_lock(&t->lock);
    rv = push(t, dir ? J_MKDIR : J_CREATE, path, NULL, -1, false, 0);
    pthread_mutex_unlock(&t->lock);
    return rv;
}

int tracker_unlink(struct tracker *t, const char *path)
{
    char name[32];
    struct stat st;
    int rv = 0;
    pthread_mutex_lock(&t->lock);
    /* unlink(2) semantics first: a directory is EISDIR, not moved. */
    if (fstatat(t->root, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rv = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        rv = -EISDIR;
    } else {
        long n = t->next_stash++;
        stash_name(n, name, sizeof name);
        if (renameat(t->root, path, t->stash_dir, name) != 0) {
            rv = -errno;
        } else {
            rv = push(t, J_UNLINK, path, NULL, n, false, 0);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rv;
}

int tracker_rmdir(struct tracker *t, const char *path)
{
    struct stat st;
    int rv = 0;
    pthread_mutex_lock(&t->lock);
    if (fstatat(t->root, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        unlinkat(t->root, path, AT_REMOVEDIR) != 0) {
        rv = -errno;
    } else {
        rv = push(t, J_RMDIR, path, NULL, -1, false, st.st_mode & 07777);
    }
    pthread_mutex_unlock(&t->lock);
    return rv;
}

int tracker_rename(struct tracker *t, const char *from, const char *to,
                   unsigned flags)
{
    struct stat st;
    char name[32];
    long n = -1;
    bool replaced_dir = false;
    mode_t mode = 0;
    int rv = 0;

    pthread_mutex_lock(&t->lock);
    if (flags & RENAME_EXCHANGE) {
        if (renameat2(t->root, from, t->root, to, RENAME_EXCHANGE) != 0) {
            rv = -errno;
        } else {
            rv = push(t, J_EXCHANGE, from, to, -1, false, 0);
        }
        goto out;
    }
    if (!(flags & RENAME_NOREPLACE) &&
        fstatat(t->root, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* @to is replaced: keep it for the undo. A file is linked into the
         * stash (the rename below stays atomic); an (empty) directory only
         * needs its mode. */
        if (S_ISDIR(st.st_mode)) {
            replaced_dir = true;
            mode = st.st_mode & 07777;
        } else {
            n = t->next_stash++;
            stash_name(n, name, sizeof name);
            if (linkat(t->root, to, t->stash_dir, name, 0) != 0) {
                rv = -errno;
                goto out;
            }
        }
    }
    if (renameat2(t->root, from, t->root, to, flags) != 0) {
        rv = -errno;
        if (n >= 0) {
            unlinkat(t->stash_dir, name, 0);
        }
        goto out;
    }
    rv = push(t, J_RENAME, from, to, n, replaced_dir, mode);
out:
    pthread_mutex_unlock(&t->lock);
    return rv;
}

static void parent_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, size, ".");
    } else {
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
    }
}

static bool touches(const struct jentry *e, const char *dir)
{
    char p[4096];
    parent_of(e->a, p, sizeof p);
    if (strcmp(p, dir) == 0) {
        return true;
    }
    if (e->b != NULL) {
        parent_of(e->b, p, sizeof p);
        return strcmp(p, dir) == 0;
    }
    return false;
}

/* Entries [0, n) are durable: forget them and their stashed files. */
static void commit(struct tracker *t, int n)
{
    char name[32];
    for (int i = 0; i < n; i++) {
        if (t->j[i].stash >= 0) {
            stash_name(t->j[i].stash, name, sizeof name);
            unlinkat(t->stash_dir, name, 0);
        }
        jentry_clear(&t->j[i]);
    }
    memmove(t->j, t->j + n, (size_t)(t->n_j - n) * sizeof *t->j);
    t->n_j -= n;
}

int tracker_syncdir(struct tracker *t, int fd, const char *path)
{
    int last = -1;
    if (!t->no_real_sync && fsync(fd) != 0) {
        return -errno;
    }
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_j; i++) {
        if (touches(&t->j[i], path)) {
            last = i;
        }
    }
    commit(t, last + 1);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* --- rollback ------------------------------------------------------------ */

static int remove_tree(int dirfd, const char *path)
{
    int fd, rv = 0;
    DIR *d;
    struct dirent *de;
    if (unlinkat(dirfd, path, AT_REMOVEDIR) == 0) {
        return 0;
    }
    if (errno != ENOTEMPTY && errno != EEXIST) {
        return unlinkat(dirfd, path, 0) == 0 ? 0 : -errno;
    }
    fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        rv = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (unlinkat(fd, de->d_name, 0) != 0) {
            int r = remove_tree(fd, de->d_name);
            rv = rv != 0 ? rv : r;
        }
    }
    closedir(d);
    if (unlinkat(dirfd, path, AT_REMOVEDIR) != 0 && rv == 0) {
        rv = -errno;
    }
    return rv;
}

static int undo_entry(struct tracker *t, const struct jentry *e)
{
    char name[32];
    int rv = 0;
    if (e->stash >= 0) {
        stash_name(e->stash, name, sizeof name);
    }
    switch (e->op) {
    case J_CREATE:
        rv = unlinkat(t->root, e->a, 0) == 0 ? 0 : -errno;
        break;
    case J_MKDIR:
        rv = remove_tree(t->root, e->a);
        break;
    case J_UNLINK:
        rv = renameat(t->stash_dir, name, t->root, e->a) == 0 ? 0 : -errno;
        break;
    case J_RMDIR:
        rv = mkdirat(t->root, e->a, e->mode) == 0 ? 0 : -errno;
        break;
    case J_RENAME:
        rv = renameat(t->root, e->b, t->root, e->a) == 0 ? 0 : -errno;
        if (rv == 0 && e->stash >= 0) {
            rv = renameat(t->stash_dir, name, t->root, e->b) == 0 ? 0 : -errno;
        } else if (rv == 0 && e->stash_dir) {
            rv = mkdirat(t->root, e->b, e->mode) == 0 ? 0 : -errno;
        }
        break;
    case J_EXCHANGE:
        rv = renameat2(t->root, e->a, t->root, e->b, RENAME_EXCHANGE) == 0
                 ? 0
                 : -errno;
        break;
    }
    return rv;
}

/* Roll @f back to its durable content. */
static int file_rollback(struct file *f)
{
    static const unsigned char zeros[SECTOR * 8];
    int rv = 0;
    for (int i = f->n_undo - 1; i >= 0; i--) {
        struct undo *u = &f->undo[i];
        size_t done = 0;
        while (done < u->len) {
            size_t chunk = u->len - done;
            const void *src = u->data ? u->data + done : zeros;
            ssize_t w;
            if (u->data == NULL && chunk > sizeof zeros) {
                chunk = sizeof zeros;
            }
            w = pwrite(f->fd, src, chunk, u->off + (off_t)done);
            if (w <= 0) {
                rv = rv != 0 ? rv : -errno;
                break;
            }
            done += (size_t)w;
        }
    }
    if (ftruncate(f->fd, f->durable_size) != 0 && rv == 0) {
        rv = -errno;
    }
    return rv;
}

int tracker_lose_unsynced(struct tracker *t, bool torn, uint64_t seed,
                          char *buf, size_t size)
{
    struct file *f, *next;
    unsigned char *kept = NULL;
    size_t keep = 0;
    struct file *torn_file = NULL;
    uint64_t restored = 0, cut = 0;
    int files = 0, dirops, rv = 0;

    pthread_mutex_lock(&t->lock);
    if (torn && t->last.valid) {
        for (f = t->files; f != NULL; f = f->next) {
            if (f->ino == t->last.ino) {
                torn_file = f;
            }
        }
    }
    if (torn_file != NULL) {
        size_t len = t->last.len;
        uint64_t r = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        r ^= r >> 33;
        if (len > SECTOR) {
            keep = SECTOR * (1 + r % ((len - 1) / SECTOR));
        } else if (len > 1) {
            keep = 1 + r % (len - 1);
        }
        kept = keep > 0 ? malloc(keep) : NULL;
        if (kept == NULL ||
            pread(torn_file->fd, kept, keep, t->last.off) != (ssize_t)keep) {
            free(kept);
            kept = NULL;
            keep = 0;
        }
    }
    /* Names first (newest first), then content: the files are reached by
     * their descriptors, whatever their names. */
    dirops = t->n_j;
    for (int i = t->n_j - 1; i >= 0; i--) {
        int r = undo_entry(t, &t->j[i]);
        if (r != 0 && rv == 0) {
            rv = r;
        }
        jentry_clear(&t->j[i]);
    }
    t->n_j = 0;
    for (f = t->files; f != NULL; f = f->next) {
        off_t cur;
        struct stat st;
        int r;
        cur = fstat(f->fd, &st) == 0 ? st.st_size : f->durable_size;
        restored += f->undo_bytes;
        if (cur > f->durable_size) {
            cut += (uint64_t)(cur - f->durable_size);
        }
        r = file_rollback(f);
        if (r != 0 && rv == 0) {
            rv = r;
        }
        if (f == torn_file && kept != NULL &&
            pwrite(f->fd, kept, keep, t->last.off) != (ssize_t)keep &&
            rv == 0) {
            rv = -errno;
        }
        files++;
    }
    if (kept != NULL) {
        snprintf(
            buf, size,
            "files=%d restored=%llu cut=%llu dirops=%d torn=%s:%lld+%zu/%zu",
            files, (unsigned long long)restored, (unsigned long long)cut,
            dirops, torn_file->path, (long long)t->last.off, keep, t->last.len);
    } else {
        snprintf(buf, size, "files=%d restored=%llu cut=%llu dirops=%d torn=%s",
                 files, (unsigned long long)restored, (unsigned long long)cut,
                 dirops, torn ? "none" : "off");
    }
    free(kept);
    for (f = t->files; f != NULL; f = next) {
        next = f->next;
        file_free(f);
    }
    t->files = NULL;
    t->last.valid = false;
    pthread_mutex_unlock(&t->lock);
    return rv;
}

uint64_t tracker_status(struct tracker *t, char *buf, size_t size)
{
    uint64_t total = 0;
    size_t used = 0;
    buf[0] = '\0';
#define OUT(...)                                                               \
    do {                                                                       \
        if (used < size) {                                                     \
            int n_ = snprintf(buf + used, size - used, __VA_ARGS__);           \
            used += n_ > 0 ? (size_t)n_ : 0;                                   \
        }                                                                      \
    } while (0)
    pthread_mutex_lock(&t->lock);
    for (struct file *f = t->files; f != NULL; f = f->next) {
        struct stat st;
        uint64_t b;
        if (fstat(f->fd, &st) != 0) {
            st.st_size = f->durable_size;
        }
        b = f->undo_bytes;
        if (st.st_size > f->durable_size) {
            b += (uint64_t)(st.st_size - f->durable_size);
        }
        total += b;
        OUT("file %s ino=%llu nondurable=%llu durable_size=%lld size=%lld\n",
            f->path, (unsigned long long)f->ino, (unsigned long long)b,
            (long long)f->durable_size, (long long)st.st_size);
    }
    OUT("count writes=%llu dsync_writes=%llu saves=%llu saved_bytes=%llu "
        "syncs=%llu\n",
        (unsigned long long)t->count.writes,
        (unsigned long long)t->count.dsync_writes,
        (unsigned long long)t->count.saves,
        (unsigned long long)t->count.saved_bytes,
        (unsigned long long)t->count.syncs);
    for (int i = 0; i < t->n_j; i++) {
        OUT("dir %s %s%s%s\n", jop_names[t->j[i].op], t->j[i].a,
            t->j[i].b ? " " : "", t->j[i].b ? t->j[i].b : "");
    }
    pthread_mutex_unlock(&t->lock);
#undef OUT
    return total;
}
