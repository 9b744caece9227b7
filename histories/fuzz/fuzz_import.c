/* fuzz_import: libFuzzer target for the history readers and the checker.
 *
 *   make fuzz-readers FUZZ_SECONDS=600     (builds build/fuzz/fuzz_import)
 *
 * Each input is read as EDN values, then as a file in every format (auto,
 * our JSONL, Jepsen EDN, etcd log, Porcupine kv EDN); whatever reads is
 * exported as EDN and checked for linearizability under every model, with
 * small limits, so the pairing and translation code sees hostile input
 * too. The first byte picks nothing: every input takes every path. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "checker/linearizable.h"
#include "histories/edn.h"
#include "histories/import.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check(const struct history *h)
{
    static const char *const models[] = {"cas-register", "kv", "task-record",
                                         "lease"};
    struct checker_limits lim = {.time_s = 0.2, .memory_bytes = 8 << 20};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const struct model *m = model_find(models[i]);
        for (int whole = 0; m != NULL && whole < 2; whole++) {
            struct verdict v;
            lim.whole = whole;
            lim.threads = 1 + (unsigned)whole; /* both ways of searching */
            checker_linearizable(h, m, &lim, &v);
            verdict_close(&v);
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    struct edn_reader r;
    struct edn_error err;
    json_t *v;

    edn_reader_init(&r, (const char *)data, size);
    while (edn_read(&r, &v, &err) == 1) {
        json_decref(v);
    }
    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/tmp/fuzz_import.%d", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    for (int fmt = HISTORY_FORMAT_AUTO; fmt <= HISTORY_FORMAT_KV_EDN; fmt++) {
        struct history h;
        struct history_error herr;
        if (history_import(path, (enum history_format)fmt, &h, NULL, &herr) ==
            0) {
            FILE *devnull = fopen("/dev/null", "w");
            if (devnull != NULL) {
                history_export_edn(&h, devnull);
                fclose(devnull);
            }
            check(&h);
            history_close(&h);
        }
    }
    return 0;
}
