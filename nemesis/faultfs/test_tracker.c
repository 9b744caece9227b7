/* Tests of the durability model (tracker.h) on real files in a temporary
 * folder: what lose-unsynced keeps and what it rolls back. */
#include "nemesis/faultfs/tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test/unit.h"

static char base[64];
static int root = -1, stash = -1;
static struct tracker *t;
static char msg[512];

static void setup(void)
{
    char path[128];
    snprintf(base, sizeof base, "/tmp/test_tracker.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/root", base);
    mkdir(path, 0755);
    root = open(path, O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof path, "%s/stash", base);
    mkdir(path, 0755);
    stash = open(path, O_RDONLY | O_DIRECTORY);
    t = tracker_new(root, stash);
    if (root < 0 || stash < 0 || t == NULL) {
        perror("setup");
        exit(1);
    }
}

static void teardown(void)
{
    char cmd[128];
    tracker_free(t);
    close(root);
    close(stash);
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", base);
    }
}

/* A file's content, NUL-terminated, into a static buffer; "" if missing. */
static const char *content(const char *path)
{
    static char buf[8192];
    int fd = openat(root, path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0) {
        close(fd);
    }
    return buf;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return fstatat(root, path, &st, 0) == 0 ? st.st_size : -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static ino_t ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* A file made durable (content and name) through the tracker. */
static int durable_file(const char *path, const char *text)
{
    int fd = openat(root, path, O_RDWR | O_CREAT | O_EXCL, 0644);
    tracker_created(t, path, false);
    tracker_write(t, fd, ino_of(fd), path, text, strlen(text), 0, false);
    tracker_sync(t, fd, ino_of(fd), false);
    tracker_syncdir(t, root, ".");
    return fd;
}

static ssize_t put(int fd, const char *path, const char *text, off_t off,
                   bool sync)
{
    return tracker_write(t, fd, ino_of(fd), path, text, strlen(text), off,
                         sync);
}

static int lose(void)
{
    return tracker_lose_unsynced(t, false, 1, msg, sizeof msg);
}

static void test_write_without_fsync_is_lost(void)
{
    int fd = durable_file("a", "durable");
    CHECK(put(fd, "a", "-appended", 7, false) == 9);
    CHECK(put(fd, "a", "DUR", 0, false) == 3);
    CHECK(strcmp(content("a"), "DURable-appended") == 0);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "durable") == 0);
    close(fd);
}

static void test_write_with_fsync_stays(void)
{
    int fd = durable_file("a", "one");
    CHECK(put(fd, "a", "two", 0, false) == 3);
    CHECK(tracker_sync(t, fd, ino_of(fd), true) == 0);
    CHECK(put(fd, "a", "three", 0, false) == 5);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "two") == 0);
    close(fd);
}

static void test_model_holds_without_real_sync(void)
{
    int fd;
    tracker_set_real_sync(t, false);
    fd = durable_file("a", "one");
    CHECK(put(fd, "a", "two", 0, false) == 3);
    CHECK(tracker_sync(t, fd, ino_of(fd), false) == 0);
    CHECK(put(fd, "a", "three", 0, false) == 5);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "two") == 0);
    close(fd);
}

static void test_overlapping_writes_roll_back_to_durable_content(void)
{
    int fd = durable_file("a", "0123456789");
    CHECK(put(fd, "a", "abcd", 2, false) == 4);
    CHECK(put(fd, "a", "XYZ", 4, false) == 3);
    CHECK(tracker_truncate(t, fd, ino_of(fd), "a", 3) == 0);
    CHECK(put(fd, "a", "Q", 8, false) == 1);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "0123456789") == 0);
    close(fd);
}

static void test_new_file_and_name_are_lost(void)
{
    int fd = openat(root, "new", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(tracker_created(t, "new", false) == 0);
    CHECK(put(fd, "new", "data", 0, false) == 4);
    CHECK(tracker_sync(t, fd, ino_of(fd), false) == 0);
    /* data durable, name not: the name goes */
    CHECK(lose() == 0);
    CHECK(!exists("new"));
    close(fd);
}

static void test_new_name_synced_but_data_not_is_empty(void)
{
    int fd = openat(root, "new", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(tracker_created(t, "new", false) == 0);
    CHECK(put(fd, "new", "data", 0, false) == 4);
    CHECK(tracker_syncdir(t, root, ".") == 0);
    CHECK(lose() == 0);
    CHECK(exists("new") && size_of("new") == 0);
    close(fd);
}

static void test_rename_without_dir_fsync_is_rolled_back(void)
{
    int a = durable_file("a", "A"), b = durable_file("b", "B");
    CHECK(tracker_rename(t, "a", "b", 0) == 0);
    CHECK(strcmp(content("b"), "A") == 0 && !exists("a"));
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "A") == 0);
    CHECK(strcmp(content("b"), "B") == 0);
    close(a);
    close(b);
}

static void test_rename_with_dir_fsync_stays(void)
{
    int a = durable_file("a", "A");
    CHECK(mkdirat(root, "d", 0755) == 0);
    CHECK(tracker_created(t, "d", true) == 0);
    CHECK(tracker_syncdir(t, root, ".") == 0);
    CHECK(tracker_rename(t, "a", "d/a", 0) == 0);
    /* the rename touches "." and "d": a sync of either commits it */
    CHECK(tracker_syncdir(t, root, "d") == 0);
    CHECK(lose() == 0);
    CHECK(!exists("a"));
    CHECK(strcmp(content("d/a"), "A") == 0);
    close(a);
}

static void test_unlink_without_dir_fsync_is_restored(void)
{
    int a = durable_file("a", "keep me");
    int b = durable_file("b", "gone");
    CHECK(tracker_unlink(t, "a") == 0);
    CHECK(tracker_unlink(t, "b") == 0);
    CHECK(!exists("a"));
    CHECK(tracker_unlink(t, "a") == -ENOENT);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "keep me") == 0);
    CHECK(strcmp(content("b"), "gone") == 0);
    /* with the directory synced, the unlink is durable */
    CHECK(tracker_unlink(t, "b") == 0);
    CHECK(tracker_syncdir(t, root, ".") == 0);
    CHECK(lose() == 0);
    CHECK(!exists("b"));
    close(a);
    close(b);
}

static void test_new_directory_tree_is_removed(void)
{
    int fd;
    CHECK(mkdirat(root, "d", 0755) == 0);
    CHECK(tracker_created(t, "d", true) == 0);
    fd = openat(root, "d/f", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(tracker_created(t, "d/f", false) == 0);
    CHECK(put(fd, "d/f", "data", 0, false) == 4);
    CHECK(lose() == 0);
    CHECK(!exists("d/f") && !exists("d"));
    close(fd);
}

static void test_syncdir_commits_earlier_changes_in_order(void)
{
    int fd;
    CHECK(mkdirat(root, "d", 0755) == 0);
    CHECK(tracker_created(t, "d", true) == 0);
    fd = openat(root, "d/f", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK(tracker_created(t, "d/f", false) == 0);
    CHECK(mkdirat(root, "e", 0755) == 0);
    CHECK(tracker_created(t, "e", true) == 0);
    /* syncing d commits "mkdir d" too (before it in the journal), not e */
    CHECK(tracker_syncdir(t, root, "d") == 0);
    CHECK(lose() == 0);
    CHECK(exists("d/f") && !exists("e"));
    close(fd);
}

static void test_dsync_write_survives_and_gap_reads_zeros(void)
{
    int fd = durable_file("a", "abc");
    char buf[16];
    CHECK(put(fd, "a", "lost", 3, false) == 4);
    CHECK(put(fd, "a", "SYNC", 10, true) == 4);
    CHECK(put(fd, "a", "x", 20, false) == 1);
    CHECK(lose() == 0);
    CHECK(size_of("a") == 14);
    CHECK(pread(fd, buf, 14, 0) == 14);
    CHECK(memcmp(buf, "abc\0\0\0\0\0\0\0SYNC", 14) == 0);
    close(fd);
}

static void test_dsync_write_inside_undone_range_stays(void)
{
    int fd = durable_file("a", "0123456789");
    CHECK(put(fd, "a", "abcdefghij", 0, false) == 10);
    CHECK(put(fd, "a", "XY", 4, true) == 2);
    CHECK(lose() == 0);
    CHECK(strcmp(content("a"), "0123XY6789") == 0);
    close(fd);
}

static void test_dsync_write_makes_fallocated_size_durable(void)
{
    int fd = durable_file("a", "");
    char buf[8];
    CHECK(tracker_fallocate(t, fd, ino_of(fd), "a", 0, 0, 4096) == 0);
    CHECK(put(fd, "a", "rec1", 0, true) == 4);
    CHECK(lose() == 0);
    CHECK(size_of("a") == 4096);
    CHECK(pread(fd, buf, 8, 0) == 8 && memcmp(buf, "rec1\0\0\0\0", 8) == 0);
    close(fd);
}

static void test_torn_write_keeps_a_sector_prefix(void)
{
    int fd = durable_file("a", "");
    static char big[4096];
    struct stat st;
    memset(big, 'w', sizeof big);
    CHECK(tracker_write(t, fd, ino_of(fd), "a", big, sizeof big, 0, false) ==
          (ssize_t)sizeof big);
    CHECK(tracker_lose_unsynced(t, true, 7, msg, sizeof msg) == 0);
    CHECK(strstr(msg, "torn=a:0+") != NULL);
    CHECK(fstat(fd, &st) == 0);
    CHECK(st.st_size > 0 && st.st_size < 4096 && st.st_size % 512 == 0);
    close(fd);
}

static void test_status_counts_nondurable_bytes(void)
{
    char buf[4096];
    int fd = durable_file("a", "12345");
    CHECK(tracker_status(t, buf, sizeof buf) == 0);
    CHECK(put(fd, "a", "ab", 1, false) == 2);
    CHECK(put(fd, "a", "tail", 5, false) == 4);
    CHECK(tracker_rename(t, "a", "b", 0) == 0);
    CHECK(tracker_status(t, buf, sizeof buf) == 6);
    CHECK(strstr(buf, "file a ") != NULL);
    CHECK(strstr(buf, "dir rename a b") != NULL);
    CHECK(lose() == 0);
    CHECK(tracker_status(t, buf, sizeof buf) == 0);
    CHECK(strncmp(buf, "count writes=3 dsync_writes=0 saves=1 ", 38) == 0);
    close(fd);
}

#define CASE(fn)                                                               \
    do {                                                                       \
        setup();                                                               \
        RUN(fn);                                                               \
        teardown();                                                            \
    } while (0)

int main(void)
{
    CASE(test_write_without_fsync_is_lost);
    CASE(test_write_with_fsync_stays);
    CASE(test_model_holds_without_real_sync);
    CASE(test_overlapping_writes_roll_back_to_durable_content);
    CASE(test_new_file_and_name_are_lost);
    CASE(test_new_name_synced_but_data_not_is_empty);
    CASE(test_rename_without_dir_fsync_is_rolled_back);
    CASE(test_rename_with_dir_fsync_stays);
    CASE(test_unlink_without_dir_fsync_is_restored);
    CASE(test_new_directory_tree_is_removed);
    CASE(test_syncdir_commits_earlier_changes_in_order);
    CASE(test_dsync_write_survives_and_gap_reads_zeros);
    CASE(test_dsync_write_inside_undone_range_stays);
    CASE(test_dsync_write_makes_fallocated_size_durable);
    CASE(test_torn_write_keeps_a_sector_prefix);
    CASE(test_status_counts_nondurable_bytes);
    return failures != 0;
}
