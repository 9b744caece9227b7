/* import: read histories written by other tools (Jepsen, Porcupine) into a
 * struct history, and write ours as Jepsen EDN. */
#ifndef FAULTLINE_IMPORT_H
#define FAULTLINE_IMPORT_H

#include <stdio.h>

#include "histories/history.h"

enum history_format {
    HISTORY_FORMAT_AUTO = 0, /* look at the content */
    HISTORY_FORMAT_JSONL,    /* ours (FORMAT.md) */
    HISTORY_FORMAT_EDN,      /* Jepsen's history.edn */
    HISTORY_FORMAT_ETCD_LOG, /* Jepsen etcd logs (Porcupine's test data) */
    HISTORY_FORMAT_KV_EDN,   /* Porcupine's kv histories: EDN maps, no time */
};

/* "jsonl", "edn", "etcd-log", "kv-edn" (and "auto"); parse one back
 * (-1 when unknown). */
const char *history_format_name(enum history_format f);
int history_format_parse(const char *name);

/* The model a format implies: "cas-register" for etcd-log, "kv" for
 * kv-edn, else NULL (the caller decides). */
const char *history_format_model(enum history_format f);

/* Read @path in format @fmt (AUTO: detect it from the first bytes; the
 * format used is stored in *@used when @used is not NULL) into @h, which
 * is initialized by this call. Events get times in file order when the
 * format has none (etcd-log, kv-edn, an EDN history without :time), so
 * that the file order is real-time order. Jepsen EDN: every map needs
 * :process, :type and :f; :value, :time, :index, :key and :error are read;
 * other keys are ignored; :process :nemesis events are kept as nemesis
 * events (checkers skip them).
 *
 * Returns 0; -EINVAL with @err naming path:line[:column] for malformed
 * input (an empty etcd log or a history with no events included); a
 * negative errno when the file can't be read. On failure @h is left empty
 * and need not be closed. */
int history_import(const char *path, enum history_format fmt, struct history *h,
                   enum history_format *used, struct history_error *err);

/* Write @h (borrowed) to @out as Jepsen EDN, one map per line:
 *   {:index 0, :time 12345, :process 3, :type :invoke, :f :cas,
 *    :key "k1", :value [1 2]}
 * (:process :nemesis for the fault injector), which Knossos and Elle read.
 * Returns 0 or -EIO. */
int history_export_edn(const struct history *h, FILE *out);

#endif /* FAULTLINE_IMPORT_H */
