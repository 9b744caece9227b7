/* edn: a recursive-descent EDN reader that yields jansson values.
 *
 * The grammar is the EDN spec's (github.com/edn-format/edn): whitespace
 * includes commas; ; starts a comment to the end of the line; #_ discards
 * the next value; #{...} is a set; #tag value is a tagged value. Every
 * error names the line and column where the reader stood. */
#include "histories/edn.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void edn_reader_init(struct edn_reader *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->s = text;
    r->len = len;
    r->line = 1;
}

void edn_reader_where(const struct edn_reader *r, int *line, int *column)
{
    *line = r->line;
    *column = (int)(r->pos - r->bol) + 1;
}

static int fail(struct edn_reader *r, struct edn_error *err, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

static int fail(struct edn_reader *r, struct edn_error *err, const char *fmt,
                ...)
{
    va_list ap;
    edn_reader_where(r, &err->line, &err->column);
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int peek(const struct edn_reader *r)
{
    return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static void advance(struct edn_reader *r)
{
    if (r->s[r->pos] == '\n') {
        r->line++;
        r->bol = r->pos + 1;
    }
    r->pos++;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' ||
           c == '\f' || c == '\v';
}

/* Characters that end a token. */
static bool is_delim(int c)
{
    return c < 0 || is_space(c) || c == '(' || c == ')' || c == '[' ||
           c == ']' || c == '{' || c == '}' || c == '"' || c == ';';
}

static void skip_blank(struct edn_reader *r)
{
    for (;;) {
        int c = peek(r);
        if (is_space(c)) {
            advance(r);
        } else if (c == ';') {
            while (peek(r) >= 0 && peek(r) != '\n') {
                advance(r);
            }
        } else {
            return;
        }
    }
}

static int read_value(struct edn_reader *r, json_t **out,
                      struct edn_error *err);

/* A printable form of character @c for messages. */
static const char *show(int c, char *buf, size_t size)
{
    if (c < 0) {
        snprintf(buf, size, "end of input");
    } else if (c >= 0x20 && c < 0x7f) {
        snprintf(buf, size, "'%c'", c);
    } else {
        snprintf(buf, size, "byte 0x%02x", c);
    }
    return buf;
}

static int read_string(struct edn_reader *r, json_t **out,
                       struct edn_error *err)
{
    struct edn_reader start = *r;
    size_t cap = 64, n = 0;
    char *buf = malloc(cap);

    if (buf == NULL) {
        return -ENOMEM;
    }
    advance(r); /* the quote */
    for (;;) {
        int c = peek(r);
        char tmp[8];
        size_t add = 1;
        if (c < 0) {
            free(buf);
            return fail(&start, err, "string not closed before end of input");
        }
        if (c == '"') {
            advance(r);
            break;
        }
        if (c == '\\') {
            advance(r);
            c = peek(r);
            switch (c) {
            case 'n':
                tmp[0] = '\n';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case '"':
            case '\\':
            case '/':
                tmp[0] = (char)c;
                break;
            case 'u': {
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    advance(r);
                    int d = peek(r);
                    if (d < 0 || !isxdigit(d)) {
                        free(buf);
                        return fail(r, err, "string: \\u needs 4 hex digits");
                    }
                    cp = cp * 16 + (unsigned)(isdigit(d)
                                                  ? d - '0'
                                                  : tolower(d) - 'a' + 10);
                }
                if (cp >= 0xd800 && cp < 0xe000) {
                    free(buf);
                    return fail(r, err, "string: \\u%04x is a surrogate", cp);
                }
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xc0 | (cp >> 6));
                    tmp[1] = (char)(0x80 | (cp & 0x3f));
                    add = 2;
                } else {
                    tmp[0] = (char)(0xe0 | (cp >> 12));
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    tmp[2] = (char)(0x80 | (cp & 0x3f));
                    add = 3;
                }
                break;
            }
            default: {
                char b[32];
                free(buf);
                return fail(r, err, "string: unknown escape \\ then %s",
                            show(c, b, sizeof b));
            }
            }
            advance(r);
        } else {
            tmp[0] = (char)c;
            advance(r);
        }
        if (n + add + 1 > cap) {
            char *nb;
            cap *= 2;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        memcpy(buf + n, tmp, add);
        n += add;
    }
    *out = json_stringn(buf, n);
    free(buf);
    if (*out == NULL) {
        return fail(&start, err, "string is not valid UTF-8");
    }
    return 1;
}

/* A token: a number, nil/true/false, a symbol, a keyword. */
static int read_token(struct edn_reader *r, json_t **out, struct edn_error *err)
{
    struct edn_reader start = *r;
    size_t from = r->pos, n;
    char tok[128];
    int c0;

    while (!is_delim(peek(r))) {
        advance(r);
    }
    n = r->pos - from;
    if (n == 0) {
        char b[32];
        return fail(r, err, "unexpected %s", show(peek(r), b, sizeof b));
    }
    if (n >= sizeof tok) {
        return fail(&start, err, "token of %zu bytes is too long", n);
    }
    memcpy(tok, r->s + from, n);
    tok[n] = '\0';
    c0 = (unsigned char)tok[0];

    if (isdigit(c0) ||
        ((c0 == '-' || c0 == '+') && isdigit((unsigned char)tok[1]))) {
        char *end;
        bool is_float = strpbrk(tok, ".eE") != NULL || tok[n - 1] == 'M';
        if (!is_float) {
            if (tok[n - 1] == 'N') {
                tok[--n] = '\0';
            }
            errno = 0;
            long long v = strtoll(tok, &end, 10);
            if (errno == ERANGE) {
                return fail(&start, err, "integer %s does not fit in 64 bits",
                            tok);
            }
            if (*end != '\0') {
                return fail(&start, err, "bad number \"%s\"", tok);
            }
            *out = json_integer(v);
        } else {
            if (tok[n - 1] == 'M') {
                tok[--n] = '\0';
            }
            double d = strtod(tok, &end);
            if (*end != '\0') {
                return fail(&start, err, "bad number \"%s\"", tok);
            }
            *out = json_real(d);
        }
        return *out ? 1 : -ENOMEM;
    }
    if (strcmp(tok, "nil") == 0) {
        *out = json_null();
        return 1;
    }
    if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
        *out = json_boolean(tok[0] == 't');
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)tok[i];
        if (!(isalnum(c) || strchr(".*+!-_?$%&=<>/:#'", c) != NULL ||
              c >= 0x80)) {
            struct edn_reader at = start;
            at.pos += i;
            return fail(&at, err, "character '%c' in \"%s\"", c, tok);
        }
    }
    if (c0 == ':') {
        if (n == 1 || tok[1] == ':') {
            return fail(&start, err, "bad keyword \"%s\"", tok);
        }
        *out = json_string(tok + 1);
    } else {
        if (isdigit(c0) || c0 == '#' || c0 == '\'') {
            return fail(&start, err, "bad symbol \"%s\"", tok);
        }
        *out = json_string(tok);
    }
    if (*out == NULL) {
        return fail(&start, err, "\"%s\" is not valid UTF-8", tok);
    }
    return 1;
}

/* The text a map key becomes. */
static int key_text(struct edn_reader *at, json_t *k, char *buf, size_t size,
                    struct edn_error *err)
{
    if (json_is_string(k)) {
        snprintf(buf, size, "%s", json_string_value(k));
    } else if (json_is_integer(k)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(k));
    } else if (json_is_null(k)) {
        snprintf(buf, size, "nil");
    } else if (json_is_boolean(k)) {
        snprintf(buf, size, "%s", json_is_true(k) ? "true" : "false");
    } else {
        return fail(at, err, "map key must be a keyword, string or number");
    }
    return 0;
}

/* Elements until @close; @map: pairs into an object. */
static int read_seq(struct edn_reader *r, int close, bool map, json_t **out,
                    struct edn_error *err)
{
    struct edn_reader start = *r;
    json_t *coll = map ? json_object() : json_array();
    json_t *key = NULL;
    struct edn_reader key_at;
    int rv;

    if (coll == NULL) {
        return -ENOMEM;
    }
    if (++r->depth > EDN_MAX_DEPTH) {
        json_decref(coll);
        return fail(r, err, "nested deeper than %d", EDN_MAX_DEPTH);
    }
    advance(r); /* the opening bracket */
    for (;;) {
        json_t *v = NULL;
        skip_blank(r);
        int c = peek(r);
        if (c == close) {
            advance(r);
            break;
        }
        if (c < 0) {
            rv = fail(&start, err, "'%c' not closed before end of input",
                      close == ')'   ? '('
                      : close == ']' ? '['
                                     : '{');
            goto err;
        }
        if (c == ')' || c == ']' || c == '}') {
            rv = fail(r, err, "'%c' where '%c' was expected", c, close);
            goto err;
        }
        struct edn_reader at = *r;
        rv = read_value(r, &v, err);
        if (rv < 0) {
            goto err;
        }
        if (rv == 0) {
            continue; /* a discarded value */
        }
        if (!map) {
            if (json_array_append_new(coll, v) != 0) {
                rv = -ENOMEM;
                goto err;
            }
        } else if (key == NULL) {
            key = v;
            key_at = at;
        } else {
            char kt[256];
            rv = key_text(&key_at, key, kt, sizeof kt, err);
            if (rv == 0 && json_object_get(coll, kt) != NULL) {
                rv = fail(&key_at, err, "duplicate map key \"%s\"", kt);
            }
            json_decref(key);
            key = NULL;
            if (rv != 0) {
                json_decref(v);
                goto err;
            }
            if (json_object_set_new(coll, kt, v) != 0) {
                rv = -ENOMEM;
                goto err;
            }
        }
    }
    if (key != NULL) {
        rv = fail(&key_at, err, "map key without a value");
        goto err;
    }
    r->depth--;
    *out = coll;
    return 1;

err:
    json_decref(key);
    json_decref(coll);
    return rv;
}

/* One value; 0 when it was a #_ discard (nothing to return). */
static int read_value(struct edn_reader *r, json_t **out, struct edn_error *err)
{
    int c = peek(r);
    int rv;

    *out = NULL;
    switch (c) {
    case '"':
        return read_string(r, out, err);
    case '(':
        return read_seq(r, ')', false, out, err);
    case '[':
        return read_seq(r, ']', false, out, err);
    case '{':
        return read_seq(r, '}', true, out, err);
    case ')':
    case ']':
    case '}':
        return fail(r, err, "unmatched '%c'", c);
    case '\\': {
        size_t from = r->pos + 1;
        advance(r);
        if (peek(r) < 0) {
            return fail(r, err, "character literal cut off");
        }
        advance(r);
        while (!is_delim(peek(r))) {
            advance(r);
        }
        *out = json_stringn(r->s + from, r->pos - from);
        return *out ? 1 : fail(r, err, "character is not valid UTF-8");
    }
    case '#': {
        struct edn_reader start = *r;
        advance(r);
        c = peek(r);
        if (c == '{') {
            return read_seq(r, '}', false, out, err);
        }
        if (c == '_') {
            json_t *dead = NULL;
            advance(r);
            skip_blank(r);
            if (peek(r) < 0) {
                return fail(r, err, "#_ with nothing to discard");
            }
            rv = read_value(r, &dead, err);
            json_decref(dead);
            return rv < 0 ? rv : 0;
        }
        if (c < 0 || !isalpha(c)) {
            return fail(&start, err, "'#' must start a set, #_ or a tag");
        }
        json_t *tag = NULL;
        rv = read_token(r, &tag, err);
        json_decref(tag);
        if (rv < 0) {
            return rv;
        }
        if (++r->depth > EDN_MAX_DEPTH) {
            return fail(r, err, "nested deeper than %d", EDN_MAX_DEPTH);
        }
        skip_blank(r);
        if (peek(r) < 0) {
            return fail(r, err, "tag with no value after it");
        }
        do {
            json_decref(*out);
            rv = read_value(r, out, err);
            skip_blank(r);
        } while (rv == 0 && peek(r) >= 0);
        r->depth--;
        if (rv == 0) {
            return fail(r, err, "tag with no value after it");
        }
        return rv;
    }
    default:
        return read_token(r, out, err);
    }
}

int edn_reader_peek(struct edn_reader *r)
{
    skip_blank(r);
    return peek(r);
}

void edn_reader_skip(struct edn_reader *r)
{
    if (r->pos < r->len) {
        advance(r);
    }
}

int edn_read(struct edn_reader *r, json_t **out, struct edn_error *err)
{
    *out = NULL;
    for (;;) {
        skip_blank(r);
        if (peek(r) < 0) {
            return 0;
        }
        int rv = read_value(r, out, err);
        if (rv != 0) {
            return rv;
        }
    }
}
