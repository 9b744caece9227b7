/* fsm_raft: glue between libraft's raft_fsm and the SQLite fsm. */
#include "nodes/taskd/fsm_raft.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nodes/taskd/event.h"
#include "nodes/taskd/failstop.h"

void fsm_raft_flush(struct fsm_raft *fr)
{
    if (fr->skip_count == 0) {
        return;
    }
    event_emit("apply_skipped",
               json_pack("{s:I, s:I, s:I, s:I}", "first",
                         (json_int_t)fr->skip_first, "last",
                         (json_int_t)fr->skip_last, "count",
                         (json_int_t)fr->skip_count, "applied_index",
                         (json_int_t)fsm_applied_index(fr->fsm)));
    fr->skip_count = 0;
}

/* FNV-1a (64 bits) of an entry's bytes, in hex: lets a checker tell, from
 * the events alone, whether two nodes applied the same entry at an index. */
static void entry_hash(const struct raft_buffer *buf, char out[17])
{
    snprintf(out, 17, "%016" PRIx64,
             fsm_fnv(FSM_FNV_INIT, buf->base, buf->len));
}

static void emit_applied(raft_index index, const struct raft_buffer *buf,
                         struct fsm_outcome *out)
{
    json_t *details = json_deep_copy(out->entry);
    char hash[17];

    if (details == NULL) {
        return;
    }
    entry_hash(buf, hash);
    json_object_set_new(details, "index", json_integer((json_int_t)index));
    json_object_set_new(details, "entry", json_string(hash));
    json_object_set_new(details, "duplicate", json_boolean(out->duplicate));
    json_object_set(details, "result", out->reply);
    event_emit("command_applied", details);
}

static int fr_apply(struct raft_fsm *iface, const struct raft_buffer *buf,
                    void **result)
{
    struct fsm_raft *fr = iface->data;
    raft_index index = raft_last_applied(fr->raft) + 1;
    struct fsm_outcome out;
    int rv;

    /* Never apply what Raft has not committed: if this fires, the index
     * derivation above no longer matches the library. */
    if (index > fr->raft->commit_index) {
        failstop("raft", "apply", RAFT_INVALID,
                 "apply index beyond commit index: libraft does not apply "
                 "in order any more");
    }
    rv = fsm_apply(fr->fsm, index, buf->base, buf->len, &out);
    if (rv != 0) {
        failstop("sqlite", "apply", fsm_errcode(fr->fsm), fsm_errmsg(fr->fsm));
    }
    json_decref(fr->last.reply);
    fr->last.reply = NULL;
    if (out.skipped) {
        fr->n_skipped++;
        if (fr->skip_count == 0) {
            fr->skip_first = index;
        }
        fr->skip_last = index;
        fr->skip_count++;
        *result = NULL;
        return 0;
    }
    fsm_raft_flush(fr);
    fr->n_applied++;
    emit_applied(index, buf, &out);
    fr->last.index = index;
    fr->last.reply = json_incref(out.reply);
    fsm_outcome_clear(&out);
    *result = &fr->last;
    return 0;
}

static int fr_snapshot(struct raft_fsm *iface, struct raft_buffer *bufs[],
                       unsigned *n_bufs)
{
    struct fsm_raft *fr = iface->data;
    struct raft_buffer *out;
    void *image;
    size_t len;
    int rv;

    rv = fsm_snapshot(fr->fsm, &image, &len);
    if (rv == -ENOMEM) {
        return RAFT_NOMEM;
    }
    if (rv != 0) {
        failstop("sqlite", "snapshot", fsm_errcode(fr->fsm),
                 fsm_errmsg(fr->fsm));
    }
    /* libraft frees snapshot buffers with raft_free(). */
    out = raft_malloc(sizeof *out);
    if (out == NULL) {
        goto err_free_image;
    }
    out->base = raft_malloc(len);
    if (out->base == NULL) {
        goto err_free_out;
    }
    memcpy(out->base, image, len);
    out->len = len;
    fsm_snapshot_free(image);
    *bufs = out;
    *n_bufs = 1;
    /* libraft takes the snapshot at its last applied index. */
    event_emit("snapshot_taken",
               json_pack("{s:I, s:I, s:I}", "index",
                         (json_int_t)raft_last_applied(fr->raft),
                         "applied_index",
                         (json_int_t)fsm_applied_index(fr->fsm), "bytes",
                         (json_int_t)len));
    return 0;

err_free_out:
    raft_free(out);
err_free_image:
    fsm_snapshot_free(image);
    return RAFT_NOMEM;
}

static int fr_restore(struct raft_fsm *iface, struct raft_buffer *buf)
{
    struct fsm_raft *fr = iface->data;
    uint64_t before = fsm_applied_index(fr->fsm);
    bool kept;
    int rv;

    rv = fsm_restore(fr->fsm, buf->base, buf->len, fr->starting, &kept);
    if (rv == -EINVAL) {
        fprintf(stderr, "taskd: refusing snapshot: %s\n", fsm_errmsg(fr->fsm));
        return RAFT_MALFORMED;
    }
    if (rv != 0) {
        failstop("sqlite", "restore", fsm_errcode(fr->fsm),
                 fsm_errmsg(fr->fsm));
    }
    /* On success the buffer is ours (libraft's contract for restore). */
    event_emit(kept ? "snapshot_restore_skipped" : "snapshot_restored",
               json_pack("{s:I, s:I, s:I, s:b}", "applied_index",
                         (json_int_t)fsm_applied_index(fr->fsm),
                         "applied_index_before", (json_int_t)before, "bytes",
                         (json_int_t)buf->len, "at_start", fr->starting));
    raft_free(buf->base);
    return 0;
}

void fsm_raft_init(struct fsm_raft *fr, struct fsm *fsm, struct raft *raft)
{
    memset(fr, 0, sizeof *fr);
    fr->fsm = fsm;
    fr->raft = raft;
    fr->iface.version = 1;
    fr->iface.data = fr;
    fr->iface.apply = fr_apply;
    fr->iface.snapshot = fr_snapshot;
    fr->iface.restore = fr_restore;
}

void fsm_raft_close(struct fsm_raft *fr)
{
    fsm_raft_flush(fr);
    json_decref(fr->last.reply);
    fr->last.reply = NULL;
}
