/* import: Jepsen EDN, Jepsen etcd logs and Porcupine kv histories in; Jepsen
 * EDN out. Every reader goes through histories/edn.c for values, so a value
 * is parsed the same way in every format. */
#include "histories/import.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "histories/edn.h"

static const char *const format_names[] = {"auto", "jsonl", "edn", "etcd-log",
                                           "kv-edn"};

const char *history_format_name(enum history_format f)
{
    if ((unsigned)f < sizeof format_names / sizeof format_names[0]) {
        return format_names[f];
    }
    return "?";
}

int history_format_parse(const char *name)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *history_format_model(enum history_format f)
{
    switch (f) {
    case HISTORY_FORMAT_ETCD_LOG:
        return "cas-register";
    case HISTORY_FORMAT_KV_EDN:
        return "kv";
    default:
        return NULL;
    }
}

static int fail(struct history_error *err, int line, int column,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct history_error *err, int line, int column,
                const char *fmt, ...)
{
    va_list ap;
    err->line = line;
    err->column = column;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The whole file, NUL-terminated, in a new buffer. */
static int slurp(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf;

    if (f == NULL) {
        return -errno;
    }
    buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n + 1 < cap) {
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        fclose(f);
        free(buf);
        return -e;
    }
    fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* EDN maps (Jepsen history.edn, Porcupine kv)                        */
/* ------------------------------------------------------------------ */

struct edn_state {
    int64_t last_index; /* -1: none yet */
    int64_t last_time;
    bool any_time;
};

/* One map into an event appended to @h. */
static int add_map(struct history *h, json_t *m, int line, int column,
                   struct edn_state *st, struct history_error *err)
{
    struct history_event e;
    json_t *p, *t, *f, *v;
    char keybuf[64], errbuf[256];
    int type, rv;

    if (!json_is_object(m)) {
        return fail(err, line, column,
                    "expected a map like {:process 0, :type :invoke, ...}");
    }
    memset(&e, 0, sizeof e);
    e.line = line;
    p = json_object_get(m, "process");
    t = json_object_get(m, "type");
    f = json_object_get(m, "f");
    if (p == NULL || t == NULL) {
        return fail(err, line, column, "map without %s",
                    p == NULL ? ":process" : ":type");
    }
    if (json_is_string(p) && strcmp(json_string_value(p), "nemesis") == 0) {
        e.process = HISTORY_NEMESIS;
    } else if (json_is_integer(p) && json_integer_value(p) >= 0 &&
               json_integer_value(p) <= INT32_MAX) {
        e.process = (int)json_integer_value(p);
    } else {
        return fail(err, line, column,
                    ":process: expected an integer >= 0 or :nemesis");
    }
    type = json_is_string(t) ? history_type_parse(json_string_value(t)) : -1;
    if (type < 0) {
        return fail(err, line, column,
                    ":type: expected one of :invoke :ok :fail :info");
    }
    e.type = (enum history_type)type;
    if (f == NULL && e.process == HISTORY_NEMESIS) {
        snprintf(e.f, sizeof e.f, "nemesis");
    } else if (!json_is_string(f) || json_string_length(f) == 0 ||
               json_string_length(f) >= sizeof e.f) {
        return fail(err, line, column,
                    ":f: expected a keyword of 1 to %zu characters",
                    sizeof e.f - 1);
    } else {
        snprintf(e.f, sizeof e.f, "%s", json_string_value(f));
    }
    if ((v = json_object_get(m, "index")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return fail(err, line, column, ":index: expected an integer >= 0");
        }
        /* Not used: the event's place in the file is its index, as in
         * Jepsen, whatever :index says. */
        st->last_index = json_integer_value(v);
    }
    /* The file's order is the real-time order (Jepsen, Knossos and Elle
     * read it so): a :time that goes back (clocks of several machines, a
     * merged file) or a missing one (an event written by hand) is moved
     * to 1 ns after the previous event's, and counted; the others are
     * kept as they are. */
    if ((v = json_object_get(m, "time")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return fail(err, line, column, ":time: expected an integer >= 0");
        }
        if (!st->any_time && h->n > 0) {
            /* Untimed events before the first timed one stay first, at
             * time 0. */
            for (size_t i = 0; i < h->n; i++) {
                h->events[i].time = 0;
            }
            h->untimed += h->n;
            h->untimed_line = h->events[0].line;
            st->last_time = 0;
        }
        st->any_time = true;
        e.time = json_integer_value(v);
        if (e.time < st->last_time) {
            if (h->time_back++ == 0) {
                h->time_back_line = line;
            }
            e.time = st->last_time + 1;
        }
    } else if (st->any_time) {
        if (h->untimed++ == 0) {
            h->untimed_line = line;
        }
        e.time = st->last_time + 1;
    } else {
        e.time = (int64_t)h->n; /* none has a time yet: its place */
    }
    st->last_time = e.time;
    if ((v = json_object_get(m, "key")) != NULL && !json_is_null(v)) {
        if (json_is_string(v)) {
            e.key = (char *)json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(keybuf, sizeof keybuf, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            e.key = keybuf;
        } else {
            return fail(err, line, column,
                        ":key: expected a string or an integer");
        }
    }
    if ((v = json_object_get(m, "error")) != NULL && !json_is_null(v)) {
        if (json_is_string(v)) {
            snprintf(errbuf, sizeof errbuf, "%s", json_string_value(v));
        } else {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(errbuf, sizeof errbuf, "%s", d ? d : "?");
            free(d);
        }
        e.error = errbuf;
    }
    e.value = json_object_get(m, "value");
    rv = history_add(h, &e);
    if (rv == 0) {
        h->events[h->n - 1].line = line;
    }
    return rv;
}

static int import_edn(const char *text, size_t len, struct history *h,
                      struct history_error *err)
{
    struct edn_reader r;
    struct edn_error ee;
    struct edn_state st = {.last_index = -1};
    bool wrapped = false;
    int rv;

    edn_reader_init(&r, text, len);
    int c = edn_reader_peek(&r);
    if (c == '[' || c == '(') {
        wrapped = true;
        edn_reader_skip(&r);
    }
    for (;;) {
        json_t *m = NULL;
        int line, column;
        c = edn_reader_peek(&r);
        edn_reader_where(&r, &line, &column);
        if (wrapped && (c == ']' || c == ')')) {
            edn_reader_skip(&r);
            if (edn_reader_peek(&r) >= 0) {
                edn_reader_where(&r, &line, &column);
                return fail(err, line, column,
                            "text after the end of the history");
            }
            break;
        }
        if (wrapped && c < 0) {
            return fail(err, line, column,
                        "the history's '[' is not closed before the end");
        }
        rv = edn_read(&r, &m, &ee);
        if (rv == -EINVAL) {
            return fail(err, ee.line, ee.column, "%s", ee.text);
        }
        if (rv < 0) {
            return rv;
        }
        if (rv == 0) {
            break;
        }
        rv = add_map(h, m, line, column, &st, err);
        json_decref(m);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Jepsen etcd logs                                                   */
/* ------------------------------------------------------------------ */

/* Lines "INFO jepsen.util - PROCESS :TYPE :F VALUE" are events (their line
 * number is their time); other lines are ignored. */
static int import_etcd_log(const char *text, struct history *h,
                           struct history_error *err)
{
    const char *p = text;
    int lineno = 0;

    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024], *tok[8], *save = NULL, *rest;
        int nt = 0;

        lineno++;
        if (n >= sizeof line) {
            n = sizeof line - 1; /* only the start of long lines matters */
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol ? eol + 1 : p + strlen(p);

        while (nt < 6) {
            char *t = strtok_r(nt == 0 ? line : NULL, " \t\r", &save);
            if (t == NULL) {
                break;
            }
            tok[nt++] = t;
        }
        if (nt < 6 || strcmp(tok[0], "INFO") != 0 ||
            strcmp(tok[1], "jepsen.util") != 0 || strcmp(tok[2], "-") != 0) {
            continue;
        }
        rest = save != NULL ? save : (char *)"";
        while (*rest == ' ' || *rest == '\t') {
            rest++;
        }
        int col = (int)(tok[3] - line) + 1;
        struct history_event e;
        memset(&e, 0, sizeof e);
        e.time = lineno;
        e.line = lineno;
        if (strcmp(tok[3], ":nemesis") == 0) {
            e.process = HISTORY_NEMESIS;
        } else {
            char *end;
            long v = strtol(tok[3], &end, 10);
            if (*end != '\0' || v < 0 || v > INT32_MAX) {
                return fail(err, lineno, col,
                            "process: expected an integer, got \"%s\"", tok[3]);
            }
            e.process = (int)v;
        }
        int type = tok[4][0] == ':' ? history_type_parse(tok[4] + 1) : -1;
        if (type < 0) {
            return fail(err, lineno, (int)(tok[4] - line) + 1,
                        "type: expected :invoke, :ok, :fail or :info, got "
                        "\"%s\"",
                        tok[4]);
        }
        e.type = (enum history_type)type;
        if (tok[5][0] != ':' || strlen(tok[5] + 1) == 0 ||
            strlen(tok[5] + 1) >= sizeof e.f) {
            return fail(err, lineno, (int)(tok[5] - line) + 1,
                        "f: expected a keyword, got \"%s\"", tok[5]);
        }
        snprintf(e.f, sizeof e.f, "%s", tok[5] + 1);

        struct edn_reader r;
        struct edn_error ee;
        json_t *v = NULL;
        int vcol = (int)(rest - line) + 1;
        edn_reader_init(&r, rest, strlen(rest));
        int rv = edn_read(&r, &v, &ee);
        if (rv == 1 && edn_reader_peek(&r) >= 0) {
            json_decref(v);
            edn_reader_where(&r, &ee.line, &ee.column);
            snprintf(ee.text, sizeof ee.text, "text after the value");
            rv = -EINVAL;
        }
        if (rv == -EINVAL) {
            return fail(err, lineno, vcol + ee.column - 1, "value: %s",
                        ee.text);
        }
        if (rv < 0) {
            return rv;
        }
        if (rv == 0) {
            v = json_null();
        }
        if (rest[0] == ':') { /* :timed-out: a reason, not a value */
            e.error = (char *)json_string_value(v);
            e.value = json_null();
        } else {
            e.value = v;
        }
        rv = history_add(h, &e);
        if (rv == 0) {
            h->events[h->n - 1].line = lineno;
        }
        if (e.value != v) {
            json_decref(e.value);
        }
        json_decref(v);
        if (rv != 0) {
            return rv;
        }
    }
    if (h->n == 0) {
        return fail(err, 0, 0,
                    "no events: not one \"INFO jepsen.util - PROCESS TYPE F "
                    "VALUE\" line (an empty or truncated log?)");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Detection and the entry point                                      */
/* ------------------------------------------------------------------ */

static enum history_format detect(const char *text)
{
    const char *p = text;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '[' || *p == '(' || *p == ';' || *p == '#') {
        return HISTORY_FORMAT_EDN; /* '#': Jepsen's #jepsen.history.Op{...} */
    }
    if (*p == '{') {
        const char *q = p + 1;
        while (isspace((unsigned char)*q) || *q == ',') {
            q++;
        }
        if (*q == ':') {
            const char *eol = strchr(p, '\n');
            size_t n = eol ? (size_t)(eol - p) : strlen(p);
            /* Porcupine's kv lines have a :key and no :time; a Jepsen
             * line may lack :time (a nemesis op) but has no :key. */
            bool timed = memmem(p, n, ":time", 5) != NULL;
            bool keyed = memmem(p, n, ":key", 4) != NULL;
            return timed || !keyed ? HISTORY_FORMAT_EDN
                                   : HISTORY_FORMAT_KV_EDN;
        }
        return HISTORY_FORMAT_JSONL;
    }
    size_t n = strlen(p);
    if (memmem(p, n < 65536 ? n : 65536, "jepsen.util", 11) != NULL) {
        return HISTORY_FORMAT_ETCD_LOG;
    }
    return HISTORY_FORMAT_JSONL;
}

int history_import(const char *path, enum history_format fmt, struct history *h,
                   enum history_format *used, struct history_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rv;

    memset(err, 0, sizeof *err);
    snprintf(err->path, sizeof err->path, "%s", path);
    history_init(h);
    if (fmt == HISTORY_FORMAT_AUTO || fmt != HISTORY_FORMAT_JSONL) {
        rv = slurp(path, &text, &len);
        if (rv != 0) {
            snprintf(err->text, sizeof err->text, "%s", strerror(-rv));
            return rv;
        }
        if (fmt == HISTORY_FORMAT_AUTO) {
            if (strspn(text, " \t\r\n") == len) {
                free(text);
                fail(err, 0, 0, "empty file: no history to check");
                return -EINVAL;
            }
            if (strlen(text) != len) {
                fmt = HISTORY_FORMAT_JSONL; /* binary: let it say where */
            } else {
                fmt = detect(text);
            }
        }
    }
    if (used != NULL) {
        *used = fmt;
    }
    switch (fmt) {
    case HISTORY_FORMAT_EDN:
    case HISTORY_FORMAT_KV_EDN:
        rv = import_edn(text, len, h, err);
        if (rv == 0 && h->n == 0) {
            rv = fail(err, 0, 0, "no events in the EDN history");
        }
        break;
    case HISTORY_FORMAT_ETCD_LOG:
        rv = import_etcd_log(text, h, err);
        break;
    default:
        free(text);
        return history_load(path, h, err);
    }
    free(text);
    if (rv != 0) {
        if (rv == -ENOMEM && err->text[0] == '\0') {
            snprintf(err->text, sizeof err->text, "out of memory");
        }
        history_close(h);
        history_init(h);
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* Export                                                             */
/* ------------------------------------------------------------------ */

static bool keyword_ok(const char *s)
{
    if (s[0] == '\0' || isdigit((unsigned char)s[0])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr("-_?!*.+<>=", *p) == NULL) {
            return false;
        }
    }
    return true;
}

static void put_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void put_value(FILE *out, json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;

    switch (json_typeof(v)) {
    case JSON_NULL:
        fputs("nil", out);
        break;
    case JSON_TRUE:
        fputs("true", out);
        break;
    case JSON_FALSE:
        fputs("false", out);
        break;
    case JSON_INTEGER:
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        fprintf(out, "%.17g", json_real_value(v));
        break;
    case JSON_STRING:
        put_string(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY:
        fputc('[', out);
        json_array_foreach(v, i, x)
        {
            if (i > 0) {
                fputc(' ', out);
            }
            put_value(out, x);
        }
        fputc(']', out);
        break;
    case JSON_OBJECT: {
        bool first = true;
        fputc('{', out);
        json_object_foreach(v, k, x)
        {
            fputs(first ? "" : ", ", out);
            first = false;
            if (keyword_ok(k)) {
                fprintf(out, ":%s ", k);
            } else {
                put_string(out, k, strlen(k));
                fputc(' ', out);
            }
            put_value(out, x);
        }
        fputc('}', out);
        break;
    }
    }
}

int history_export_edn(const struct history *h, FILE *out)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct history_event *e = &h->events[i];
        fprintf(out, "{:index %zu, :time %" PRId64 ", :process ", i, e->time);
        if (e->process == HISTORY_NEMESIS) {
            fputs(":nemesis", out);
        } else {
            fprintf(out, "%d", e->process);
        }
        fprintf(out, ", :type :%s, :f ", history_type_name(e->type));
        if (keyword_ok(e->f)) {
            fprintf(out, ":%s", e->f);
        } else {
            put_string(out, e->f, strlen(e->f));
        }
        if (e->key != NULL) {
            fputs(", :key ", out);
            put_string(out, e->key, strlen(e->key));
        }
        fputs(", :value ", out);
        put_value(out, e->value ? e->value : json_null());
        if (e->error != NULL) {
            fputs(", :error ", out);
            put_string(out, e->error, strlen(e->error));
        }
        fputs("}\n", out);
    }
    return ferror(out) ? -EIO : 0;
}
