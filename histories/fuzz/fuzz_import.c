/* fuzz_import: libFuzzer target for the EDN reader and the importers.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *     histories/fuzz/fuzz_import.c histories/edn.c histories/import.c \
 *     histories/history.c -ljansson -o build/fuzz_import
 *   build/fuzz_import -max_total_time=600 -max_len=4096
 *
 * Each input is read as EDN values, and as a file in every format. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "histories/edn.h"
#include "histories/import.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

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
            history_close(&h);
        }
    }
    return 0;
}
