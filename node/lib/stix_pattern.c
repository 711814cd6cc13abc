/* STIX 2.1 pattern parser: a lexer that follows the lexer rules of
 * STIXPattern.g4 and a recursive-descent parser for its parser rules.
 *
 * The ANTLR lexer takes the longest match and, on a tie, the rule listed
 * first; that decides every case below ("0.5" is one float but "007" is three
 * integers; "AND" is a keyword but "ANDY" and "AND-x" are identifiers; "true"
 * is a boolean, "True" an identifier). Where an h'..', b'..', t'..' or '..'
 * literal is malformed ANTLR would fall back to shorter tokens (an identifier
 * "h", a lone quote, ...) that no parser rule accepts, so the pattern fails
 * either way; we say what is wrong with the literal instead, which accepts
 * exactly the same language with a more useful message. */
#include "stix_pattern.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    T_EOF,
    /* literals */
    T_INT_POS, T_INT_NEG, T_FLOAT_POS, T_FLOAT_NEG, T_HEX, T_BINARY, T_STRING,
    T_BOOL, T_TIMESTAMP,
    /* keywords */
    T_AND, T_OR, T_NOT, T_FOLLOWEDBY, T_LIKE, T_MATCHES, T_ISSUPERSET,
    T_ISSUBSET, T_EXISTS, T_LAST, T_IN, T_START, T_STOP, T_SECONDS, T_WITHIN,
    T_REPEATS, T_TIMES,
    /* identifiers: object types may contain '-', property names may not */
    T_IDENT, T_IDENT_HYPHEN,
    /* operators and punctuation */
    T_EQ, T_NEQ, T_LT, T_LE, T_GT, T_GE, T_COLON, T_DOT, T_COMMA, T_RPAREN,
    T_LPAREN, T_RBRACK, T_LBRACK, T_PLUS, T_HYPHEN, T_POWER, T_DIVIDE,
    T_ASTERISK,
    /* the grammar's catch-all: lexed so the parser can say where it is */
    T_INVALID
} s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t pos;
    size_t len;
} s_token_t;

static const struct {
    const char *text;
    s_kind_t kind;
} s_keywords[] = {
    /* BoolLiteral precedes the TRUE and FALSE keyword rules, so it wins. */
    {"true", T_BOOL},           {"false", T_BOOL},
    {"AND", T_AND},             {"OR", T_OR},
    {"NOT", T_NOT},             {"FOLLOWEDBY", T_FOLLOWEDBY},
    {"LIKE", T_LIKE},           {"MATCHES", T_MATCHES},
    {"ISSUPERSET", T_ISSUPERSET}, {"ISSUBSET", T_ISSUBSET},
    {"EXISTS", T_EXISTS},       {"LAST", T_LAST},
    {"IN", T_IN},               {"START", T_START},
    {"STOP", T_STOP},           {"SECONDS", T_SECONDS},
    {"WITHIN", T_WITHIN},       {"REPEATS", T_REPEATS},
    {"TIMES", T_TIMES},
};

/* (object type, property, key) that moux indexes; key NULL for one-step
 * paths. Hash names are case-sensitive dictionary keys in STIX. */
static const struct {
    const char *type;
    const char *prop;
    const char *key;
    ind_type_t kind;
} s_maps[] = {
    {"ipv4-addr", "value", NULL, IND_IPV4},
    {"ipv6-addr", "value", NULL, IND_IPV6},
    {"domain-name", "value", NULL, IND_DOMAIN},
    {"url", "value", NULL, IND_URL},
    {"email-addr", "value", NULL, IND_EMAIL},
    {"file", "hashes", "MD5", IND_MD5},
    {"file", "hashes", "SHA-1", IND_SHA1},
    {"file", "hashes", "SHA1", IND_SHA1},
    {"file", "hashes", "SHA-256", IND_SHA256},
    {"file", "hashes", "SHA256", IND_SHA256},
};

#define S_PATH_STEPS 2 /* no mapped path is longer than property.key */

/* An object path as far as extraction needs it. */
typedef struct {
    s_token_t type;
    s_token_t steps[S_PATH_STEPS];
    size_t nsteps; /* all of them, indexes included */
    int indexed;   /* has a [n] or [*] step: never a mapped path */
} s_path_t;

typedef struct {
    const char *src; /* NUL terminated, length checked, valid UTF-8 */
    s_token_t tok;   /* the one token of lookahead */
    size_t depth;
    int failed;
    size_t obs_cap;
    stix_pattern_result_t *out;
} s_parser_t;

/* ---- character classes (ASCII only: the grammar's sets are ASCII) ---- */

static int s_is_digit(char c) { return c >= '0' && c <= '9'; }
static int s_is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int s_is_ident(char c) { return s_is_alpha_(c) || s_is_digit(c); }
static int s_is_hex(char c)
{
    return s_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int s_is_b64(char c)
{
    return s_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '/';
}
static char s_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* ---- errors ---- */

/* Length of the UTF-8 sequence starting with lead byte c (input is valid). */
static size_t s_utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Cuts a UTF-8 sequence that truncation left incomplete at the end of s, so
 * the message stays valid UTF-8 (JSON needs it). */
static void s_trim_utf8(char *s)
{
    size_t len = strlen(s), k = len;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
        k--;
    if (k > 0 && (unsigned char)s[k - 1] >= 0xc0 &&
        len - (k - 1) < s_utf8_len((unsigned char)s[k - 1]))
        s[k - 1] = '\0';
}

/* Records the first error only: later ones are consequences of it. */
__attribute__((format(printf, 3, 4))) static int s_fail(s_parser_t *p, size_t pos,
                                                        const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    stix_pattern_result_t *out = p->out;
    out->error_pos = pos;
    int n = snprintf(out->error, sizeof out->error, "at %zu: ", pos);
    if (n < 0 || (size_t)n >= sizeof out->error)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error + n, sizeof out->error - (size_t)n, fmt, ap);
    va_end(ap);
    s_trim_utf8(out->error);
    return -1;
}

/* One character for a message: printable ASCII as is, anything else as \xNN
 * so that messages stay one line of valid UTF-8. */
static void s_char_desc(char c, char buf[8])
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f)
        snprintf(buf, 8, "%c", c);
    else
        snprintf(buf, 8, "\\x%02x", u);
}

/* The current token for "but found ...": its text quoted, long tokens cut at
 * a character boundary, control characters escaped. */
static void s_describe(const s_parser_t *p, char *buf, size_t cap)
{
    const s_token_t *t = &p->tok;
    if (t->kind == T_EOF) {
        snprintf(buf, cap, "end of pattern");
        return;
    }
    size_t shown = t->len;
    if (shown > 40) {
        shown = 40;
        while (((unsigned char)p->src[t->pos + shown] & 0xc0) == 0x80)
            shown--;
    }
    /* A string literal brings its own quotes. */
    int is_string = t->kind == T_STRING;
    size_t len = (size_t)snprintf(buf, cap, "%s", is_string ? "string " : "'");
    /* Whole characters only, so the message stays valid UTF-8. */
    for (size_t i = 0, n; i < shown && len + 8 < cap; i += n) {
        char c = p->src[t->pos + i], one[8] = {0};
        n = s_utf8_len((unsigned char)c);
        if (n == 1)
            s_char_desc(c, one);
        else
            memcpy(one, p->src + t->pos + i, n);
        len += (size_t)snprintf(buf + len, cap - len, "%s", one);
    }
    snprintf(buf + len, cap - len, "%s%s", shown < t->len ? "..." : "", is_string ? "" : "'");
}

/* A lower-case keyword is an identifier to the grammar; say so. */
static const char *s_hint(const s_parser_t *p)
{
    const s_token_t *t = &p->tok;
    if (t->kind != T_IDENT)
        return "";
    for (size_t k = 0; k < sizeof s_keywords / sizeof s_keywords[0]; k++) {
        const char *kw = s_keywords[k].text;
        if (s_keywords[k].kind == T_BOOL || strlen(kw) != t->len)
            continue;
        size_t i = 0;
        while (i < t->len && s_upper(p->src[t->pos + i]) == kw[i])
            i++;
        if (i == t->len)
            return " (keywords are upper-case)";
    }
    return "";
}

static int s_fail_expected(s_parser_t *p, const char *what)
{
    char found[96];
    s_describe(p, found, sizeof found);
    return s_fail(p, p->tok.pos, "expected %s but found %s%s", what, found, s_hint(p));
}

/* ---- lexer ---- */

/* Bytes of whitespace (the WS rule, Unicode spaces included) at s, or 0. */
static size_t s_ws_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r'))
        return 1;
    if (u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0))
        return 2;
    if (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) /* U+1680 */
        return 3;
    if (u[0] == 0xe2 && u[1] == 0x80 && /* U+2000-200A, 2028, 2029, 202F */
        ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf))
        return 3;
    if (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) /* U+205F */
        return 3;
    if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80) /* U+3000 */
        return 3;
    return 0;
}

/* Skips whitespace and both kinds of comment. An unterminated block comment
 * would lex as '/' '*', which nothing accepts, so it is an error here. */
static int s_skip(s_parser_t *p, size_t *pos)
{
    const char *s = p->src;
    for (;;) {
        size_t w = s_ws_len(s + *pos);
        if (w) {
            *pos += w;
        } else if (s[*pos] == '/' && s[*pos + 1] == '*') {
            const char *end = strstr(s + *pos + 2, "*/");
            if (!end)
                return s_fail(p, *pos, "unterminated comment: '/*' without '*/'");
            *pos = (size_t)(end - s) + 2;
        } else if (s[*pos] == '/' && s[*pos + 1] == '/') {
            while (s[*pos] && s[*pos] != '\n' && s[*pos] != '\r')
                (*pos)++;
        } else {
            return 0;
        }
    }
}

/* '0' | [1-9][0-9]* at s: its length, or 0. */
static size_t s_int_len(const char *s)
{
    if (s[0] == '0')
        return 1;
    size_t n = 0;
    if (s[0] >= '1' && s[0] <= '9')
        while (s_is_digit(s[n]))
            n++;
    return n;
}

/* [0-9]* '.' [0-9]+ at s: its length, or 0. */
static size_t s_float_len(const char *s)
{
    size_t n = 0;
    while (s_is_digit(s[n]))
        n++;
    if (s[n] != '.' || !s_is_digit(s[n + 1]))
        return 0;
    n++;
    while (s_is_digit(s[n]))
        n++;
    return n;
}

/* At a sign, a digit or '.': the longest of int, float, or the bare sign/dot. */
static void s_lex_number(s_parser_t *p, size_t pos)
{
    char c = p->src[pos];
    size_t sign = c == '+' || c == '-';
    size_t il = s_int_len(p->src + pos + sign), fl = s_float_len(p->src + pos + sign);
    int neg = c == '-';
    if (fl > il)
        p->tok = (s_token_t){neg ? T_FLOAT_NEG : T_FLOAT_POS, pos, sign + fl};
    else if (il > 0)
        p->tok = (s_token_t){neg ? T_INT_NEG : T_INT_POS, pos, sign + il};
    else
        p->tok = (s_token_t){c == '+' ? T_PLUS : c == '-' ? T_HYPHEN : T_DOT, pos, 1};
}

static int s_lex_string(s_parser_t *p, size_t pos)
{
    const char *s = p->src;
    size_t i = pos + 1;
    for (;;) {
        if (s[i] == '\0')
            return s_fail(p, pos, "unterminated string literal");
        if (s[i] == '\'')
            break;
        if (s[i] == '\\') {
            if (s[i + 1] == '\0')
                return s_fail(p, pos, "unterminated string literal");
            if (s[i + 1] != '\'' && s[i + 1] != '\\') {
                char one[8];
                s_char_desc(s[i + 1], one);
                return s_fail(p, i,
                              "invalid escape '\\%s' in string literal (only \\' and \\\\ are "
                              "allowed)",
                              one);
            }
            i++;
        }
        i++;
    }
    p->tok = (s_token_t){T_STRING, pos, i + 1 - pos};
    return 0;
}

/* h'..': pairs of hex digits. */
static int s_lex_hex(s_parser_t *p, size_t pos)
{
    const char *s = p->src;
    size_t i = pos + 2;
    while (s_is_hex(s[i]))
        i++;
    if (s[i] == '\0')
        return s_fail(p, pos, "unterminated hex literal");
    if (s[i] != '\'') {
        char one[8];
        s_char_desc(s[i], one);
        return s_fail(p, i, "invalid hex literal: '%s' is not a hex digit", one);
    }
    if ((i - pos - 2) % 2 != 0)
        return s_fail(p, pos, "invalid hex literal: odd number of hex digits");
    p->tok = (s_token_t){T_HEX, pos, i + 1 - pos};
    return 0;
}

/* b'..': base64 in whole quads, '=' padding only at the end, never empty. */
static int s_lex_binary(s_parser_t *p, size_t pos)
{
    const char *s = p->src;
    size_t i = pos + 2, pad = 0;
    while (s_is_b64(s[i]))
        i++;
    size_t n = i - pos - 2;
    while (s[i] == '=' && pad < 2)
        i++, pad++;
    if (s[i] == '\0')
        return s_fail(p, pos, "unterminated binary literal");
    if (s[i] != '\'') {
        char one[8];
        s_char_desc(s[i], one);
        if (pad || s[i] == '=')
            return s_fail(p, i, "invalid binary literal: '%s' after '=' padding", one);
        return s_fail(p, i, "invalid binary literal: '%s' is not a base64 character", one);
    }
    int ok = (n % 4 == 0 && pad == 0 && n > 0) || (n % 4 == 3 && pad == 1) ||
             (n % 4 == 2 && pad == 2);
    if (!ok)
        return s_fail(p, pos,
                      "invalid binary literal: base64 must come in groups of 4 characters, "
                      "'=' padded");
    p->tok = (s_token_t){T_BINARY, pos, i + 1 - pos};
    return 0;
}

/* Two digits at s with a value in [lo, hi]. */
static int s_two(const char *s, int lo, int hi)
{
    if (!s_is_digit(s[0]) || !s_is_digit(s[1]))
        return 0;
    int v = (s[0] - '0') * 10 + (s[1] - '0');
    return v >= lo && v <= hi;
}

/* The fields of TimestampLiteral in order: what the grammar allows at each
 * offset from the first digit. A range hi of 0 means a literal separator. */
static const struct {
    size_t off;
    char sep;
    int lo, hi;
    const char *what;
} s_ts_fields[] = {
    {4, '-', 0, 0, "'-' after the year"},   {5, 0, 1, 12, "a month 01-12"},
    {7, '-', 0, 0, "'-' after the month"},  {8, 0, 1, 31, "a day 01-31"},
    {10, 'T', 0, 0, "'T' after the date"},  {11, 0, 0, 23, "an hour 00-23"},
    {13, ':', 0, 0, "':' after the hour"},  {14, 0, 0, 59, "a minute 00-59"},
    {16, ':', 0, 0, "':' after the minute"}, {17, 0, 0, 60, "a second 00-60"},
};

/* t'YYYY-MM-DDTHH:MM:SS[.s+]Z' with the grammar's ranges. Days are checked
 * against 31, not the month, exactly as the grammar does. */
static int s_lex_timestamp(s_parser_t *p, size_t pos)
{
    const char *s = p->src, *d = s + pos + 2;
    size_t base = pos + 2;
    for (size_t i = 0; i < 4; i++)
        if (!s_is_digit(d[i]))
            return s_fail(p, base + i, "invalid timestamp: expected a 4-digit year");
    for (size_t f = 0; f < sizeof s_ts_fields / sizeof s_ts_fields[0]; f++) {
        size_t off = s_ts_fields[f].off;
        int ok = s_ts_fields[f].sep ? d[off] == s_ts_fields[f].sep
                                    : s_two(d + off, s_ts_fields[f].lo, s_ts_fields[f].hi);
        if (!ok)
            return s_fail(p, base + off, "invalid timestamp: expected %s", s_ts_fields[f].what);
    }
    size_t i = 19;
    if (d[i] == '.') {
        if (!s_is_digit(d[i + 1]))
            return s_fail(p, base + i + 1, "invalid timestamp: expected digits after '.'");
        i++;
        while (s_is_digit(d[i]))
            i++;
    }
    if (d[i] != 'Z')
        return s_fail(p, base + i, "invalid timestamp: expected 'Z' (times are UTC)");
    if (d[i + 1] != '\'')
        return s_fail(p, base + i + 1, "invalid timestamp: expected ' after 'Z'");
    p->tok = (s_token_t){T_TIMESTAMP, pos, i + 4};
    return 0;
}

/* Identifiers, keywords, booleans and the h/b/t-prefixed literals. */
static int s_lex_word(s_parser_t *p, size_t pos)
{
    const char *s = p->src;
    if (s[pos + 1] == '\'') {
        if (s[pos] == 'h')
            return s_lex_hex(p, pos);
        if (s[pos] == 'b')
            return s_lex_binary(p, pos);
        if (s[pos] == 't')
            return s_lex_timestamp(p, pos);
    }
    size_t i = pos + 1;
    int hyphen = 0;
    while (s_is_ident(s[i]) || s[i] == '-') {
        hyphen |= s[i] == '-';
        i++;
    }
    p->tok = (s_token_t){hyphen ? T_IDENT_HYPHEN : T_IDENT, pos, i - pos};
    if (hyphen)
        return 0; /* longer than any keyword match, so an identifier */
    for (size_t k = 0; k < sizeof s_keywords / sizeof s_keywords[0]; k++)
        if (strlen(s_keywords[k].text) == i - pos &&
            memcmp(s_keywords[k].text, s + pos, i - pos) == 0)
            p->tok.kind = s_keywords[k].kind;
    return 0;
}

/* Operators whose longest match needs a second character. */
static void s_lex_operator(s_parser_t *p, size_t pos)
{
    char c = p->src[pos], n = p->src[pos + 1];
    s_token_t t = {T_INVALID, pos, 1};
    if (c == '=')
        t = (s_token_t){T_EQ, pos, n == '=' ? 2 : 1};
    else if (c == '!' && n == '=')
        t = (s_token_t){T_NEQ, pos, 2};
    else if (c == '<')
        t = n == '=' ? (s_token_t){T_LE, pos, 2}
                     : n == '>' ? (s_token_t){T_NEQ, pos, 2} : (s_token_t){T_LT, pos, 1};
    else if (c == '>')
        t = n == '=' ? (s_token_t){T_GE, pos, 2} : (s_token_t){T_GT, pos, 1};
    p->tok = t;
}

static s_kind_t s_single(char c)
{
    switch (c) {
    case ':': return T_COLON;
    case ',': return T_COMMA;
    case '(': return T_LPAREN;
    case ')': return T_RPAREN;
    case '[': return T_LBRACK;
    case ']': return T_RBRACK;
    case '^': return T_POWER;
    case '/': return T_DIVIDE;
    case '*': return T_ASTERISK;
    default: return T_INVALID;
    }
}

/* Lexes the token after the current one into p->tok. */
static int s_advance(s_parser_t *p)
{
    size_t pos = p->tok.pos + p->tok.len;
    if (s_skip(p, &pos) != 0)
        return -1;
    char c = p->src[pos];
    if (c == '\0') {
        p->tok = (s_token_t){T_EOF, pos, 0};
        return 0;
    }
    if (c == '\'')
        return s_lex_string(p, pos);
    if (s_is_alpha_(c))
        return s_lex_word(p, pos);
    if (s_is_digit(c) || c == '+' || c == '-' || c == '.') {
        s_lex_number(p, pos);
        return 0;
    }
    if (strchr("=!<>", c)) {
        s_lex_operator(p, pos);
        return 0;
    }
    p->tok = (s_token_t){s_single(c), pos, s_utf8_len((unsigned char)c)};
    return 0;
}

/* ---- input checks ---- */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int s_check_utf8(s_parser_t *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p->src;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2
                            : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        int ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = (u[i + k] & 0xc0) == 0x80;
        if (ok && n == 3)
            ok = !(c == 0xe0 && u[i + 1] < 0xa0) && !(c == 0xed && u[i + 1] >= 0xa0);
        if (ok && n == 4)
            ok = !(c == 0xf0 && u[i + 1] < 0x90) && !(c == 0xf4 && u[i + 1] >= 0x90);
        if (!ok)
            return s_fail(p, i, "invalid UTF-8 byte 0x%02x", c);
        i += n;
    }
    return 0;
}

/* ---- extraction ---- */

/* Whether a path step (identifier or quoted name) names exactly name. */
static int s_step_is(const s_parser_t *p, const s_token_t *t, const char *name)
{
    const char *s = p->src + t->pos;
    if (t->kind == T_IDENT)
        return strlen(name) == t->len && memcmp(s, name, t->len) == 0;
    size_t i = 1, end = t->len - 1;
    for (; i < end && *name; name++, i++) {
        if (s[i] == '\\')
            i++;
        if (s[i] != *name)
            return 0;
    }
    return i == end && *name == '\0';
}

/* The moux type a path maps onto; -1 if none. */
static int s_path_kind(const s_parser_t *p, const s_path_t *path, ind_type_t *kind)
{
    if (path->indexed)
        return -1;
    for (size_t m = 0; m < sizeof s_maps / sizeof s_maps[0]; m++) {
        size_t want = s_maps[m].key ? 2 : 1;
        const char *type = s_maps[m].type;
        if (path->nsteps != want || strlen(type) != path->type.len ||
            memcmp(type, p->src + path->type.pos, path->type.len) != 0)
            continue;
        if (!s_step_is(p, &path->steps[0], s_maps[m].prop))
            continue;
        if (s_maps[m].key && !s_step_is(p, &path->steps[1], s_maps[m].key))
            continue;
        *kind = s_maps[m].kind;
        return 0;
    }
    return -1;
}

/* Appends the string literal t, unescaped, as an observable of kind. */
static int s_push(s_parser_t *p, ind_type_t kind, const s_token_t *t)
{
    stix_pattern_result_t *out = p->out;
    if (out->observable_count == p->obs_cap) {
        size_t cap = p->obs_cap ? p->obs_cap * 2 : 8;
        stix_observable_t *grown = realloc(out->observables, cap * sizeof *grown);
        if (!grown)
            return s_fail(p, t->pos, "out of memory");
        out->observables = grown;
        p->obs_cap = cap;
    }
    char *value = malloc(t->len - 1);
    if (!value)
        return s_fail(p, t->pos, "out of memory");
    size_t n = 0;
    for (size_t i = t->pos + 1; i < t->pos + t->len - 1; i++) {
        if (p->src[i] == '\\')
            i++;
        value[n++] = p->src[i];
    }
    value[n] = '\0';
    out->observables[out->observable_count++] =
        (stix_observable_t){kind, ind_type_name(kind), value, t->pos};
    return 0;
}

/* ---- parser ---- */

static int s_expect(s_parser_t *p, s_kind_t kind, const char *what)
{
    if (p->tok.kind != kind)
        return s_fail_expected(p, what);
    return s_advance(p);
}

/* Every '(' and '[' group goes through here: it is what bounds the stack. */
static int s_enter(s_parser_t *p)
{
    if (++p->depth > STIX_PATTERN_MAX_DEPTH)
        return s_fail(p, p->tok.pos, "nested deeper than %d levels of '(' and '['",
                      STIX_PATTERN_MAX_DEPTH);
    return s_advance(p);
}

static int s_is_literal(s_kind_t k, int bool_ok)
{
    return (k >= T_INT_POS && k <= T_TIMESTAMP && k != T_BOOL) || (bool_ok && k == T_BOOL);
}

/* Records a property step (identifier or quoted name) and moves past it. */
static int s_step(s_parser_t *p, s_path_t *path, const char *what)
{
    if (p->tok.kind != T_IDENT && p->tok.kind != T_STRING)
        return s_fail_expected(p, what);
    if (path->nsteps < S_PATH_STEPS)
        path->steps[path->nsteps] = p->tok;
    path->nsteps++;
    return s_advance(p);
}

/* '[' (IntPosLiteral|IntNegLiteral|'*') ']' */
static int s_index(s_parser_t *p, s_path_t *path)
{
    path->indexed = 1;
    if (s_advance(p))
        return -1;
    if (p->tok.kind != T_INT_POS && p->tok.kind != T_INT_NEG && p->tok.kind != T_ASTERISK)
        return s_fail_expected(p, "a list index (an integer or '*')");
    if (s_advance(p))
        return -1;
    return s_expect(p, T_RBRACK, "']'");
}

/* objectType ':' firstPathComponent objectPathComponent? */
static int s_path(s_parser_t *p, s_path_t *path)
{
    memset(path, 0, sizeof *path);
    if (p->tok.kind != T_IDENT && p->tok.kind != T_IDENT_HYPHEN)
        return s_fail_expected(p, "an object type");
    path->type = p->tok;
    if (s_advance(p) || s_expect(p, T_COLON, "':' after the object type") ||
        s_step(p, path, "a property name (letters, digits and '_', or quoted)"))
        return -1;
    for (;;) {
        int rc;
        if (p->tok.kind == T_DOT)
            rc = s_advance(p) || s_step(p, path, "a property name after '.'");
        else if (p->tok.kind == T_LBRACK)
            rc = s_index(p, path);
        else
            return 0;
        if (rc)
            return -1;
    }
}

/* '(' ')' | '(' primitiveLiteral (',' primitiveLiteral)* ')' */
static int s_set(s_parser_t *p, int extract, ind_type_t kind)
{
    if (p->tok.kind != T_LPAREN)
        return s_fail_expected(p, "'(' starting a set such as ('a', 'b')");
    if (s_advance(p))
        return -1;
    if (p->tok.kind == T_RPAREN)
        return s_advance(p);
    for (;;) {
        if (!s_is_literal(p->tok.kind, 1))
            return s_fail_expected(p, "a literal in the set");
        if (extract && p->tok.kind == T_STRING && s_push(p, kind, &p->tok))
            return -1;
        if (s_advance(p))
            return -1;
        if (p->tok.kind == T_RPAREN)
            return s_advance(p);
        if (p->tok.kind != T_COMMA)
            return s_fail_expected(p, "',' or ')' in the set");
        if (s_advance(p))
            return -1;
    }
}

/* The right-hand side of a comparison after its operator; extraction only
 * for a positive '=' or IN on a mapped path. */
static int s_operand(s_parser_t *p, s_kind_t op, int extract, ind_type_t kind)
{
    switch (op) {
    case T_EQ:
    case T_NEQ:
        if (!s_is_literal(p->tok.kind, 1))
            return s_fail_expected(p, "a literal");
        if (extract && op == T_EQ && p->tok.kind == T_STRING && s_push(p, kind, &p->tok))
            return -1;
        return s_advance(p);
    case T_LT:
    case T_LE:
    case T_GT:
    case T_GE:
        if (!s_is_literal(p->tok.kind, 0))
            return s_fail_expected(p, "a number, string, timestamp, hex or binary literal");
        return s_advance(p);
    case T_IN:
        return s_set(p, extract, kind);
    default: /* LIKE, MATCHES, ISSUBSET, ISSUPERSET */
        return s_expect(p, T_STRING, "a string literal");
    }
}

/* objectPath NOT? operator operand */
static int s_comparison(s_parser_t *p)
{
    s_path_t path;
    if (s_path(p, &path))
        return -1;
    int negated = p->tok.kind == T_NOT;
    if (negated && s_advance(p))
        return -1;
    s_kind_t op = p->tok.kind;
    if (!(op >= T_EQ && op <= T_GE) && op != T_IN && op != T_LIKE && op != T_MATCHES &&
        op != T_ISSUBSET && op != T_ISSUPERSET)
        return s_fail_expected(p, negated ? "a comparison operator"
                                          : "a comparison operator (=, !=, <, <=, >, >=, IN, "
                                            "LIKE, MATCHES, ISSUBSET, ISSUPERSET) or NOT");
    ind_type_t kind = IND_TYPE_COUNT;
    int extract = !negated && (op == T_EQ || op == T_IN) && s_path_kind(p, &path, &kind) == 0;
    p->out->comparison_count++;
    p->out->unindexed_count += !extract;
    if (s_advance(p))
        return -1;
    return s_operand(p, op, extract, kind);
}

static int s_cmp_or(s_parser_t *p);

/* propTest: a comparison, NOT? EXISTS path, or a parenthesised group. */
static int s_prop(s_parser_t *p)
{
    s_path_t path;
    switch (p->tok.kind) {
    case T_LPAREN:
        if (s_enter(p) || s_cmp_or(p) || s_expect(p, T_RPAREN, "AND, OR or ')'"))
            return -1;
        p->depth--;
        return 0;
    case T_NOT:
        if (s_advance(p))
            return -1;
        if (p->tok.kind != T_EXISTS)
            return s_fail_expected(p, "EXISTS (a negated comparison is written "
                                      "'type:path NOT = value')");
        /* fall through */
    case T_EXISTS:
        p->out->comparison_count++;
        p->out->unindexed_count++;
        return s_advance(p) || s_path(p, &path) ? -1 : 0;
    case T_IDENT:
    case T_IDENT_HYPHEN:
        return s_comparison(p);
    default:
        return s_fail_expected(p, "a comparison (type:path operator value), '(', NOT or "
                                  "EXISTS");
    }
}

static int s_cmp_and(s_parser_t *p)
{
    if (s_prop(p))
        return -1;
    while (p->tok.kind == T_AND)
        if (s_advance(p) || s_prop(p))
            return -1;
    return 0;
}

static int s_cmp_or(s_parser_t *p)
{
    if (s_cmp_and(p))
        return -1;
    while (p->tok.kind == T_OR)
        if (s_advance(p) || s_cmp_and(p))
            return -1;
    return 0;
}

/* Whether a number literal is zero, whatever its spelling (0, +0, 0.0, .000). */
static int s_is_zero(const s_parser_t *p, const s_token_t *t)
{
    for (size_t i = 0; i < t->len; i++)
        if (s_is_digit(p->src[t->pos + i]) && p->src[t->pos + i] != '0')
            return 0;
    return 1;
}

/* WITHIN (IntPosLiteral|FloatPosLiteral) SECONDS */
static int s_within(s_parser_t *p)
{
    if (s_advance(p))
        return -1;
    if (p->tok.kind != T_INT_POS && p->tok.kind != T_FLOAT_POS)
        return s_fail_expected(p, "a positive number of seconds after WITHIN");
    if (s_is_zero(p, &p->tok))
        return s_fail(p, p->tok.pos, "WITHIN needs a number of seconds greater than 0");
    if (s_advance(p))
        return -1;
    return s_expect(p, T_SECONDS, "SECONDS");
}

/* REPEATS IntPosLiteral TIMES */
static int s_repeats(s_parser_t *p)
{
    if (s_advance(p))
        return -1;
    if (p->tok.kind != T_INT_POS)
        return s_fail_expected(p, "a positive integer after REPEATS");
    if (s_is_zero(p, &p->tok))
        return s_fail(p, p->tok.pos, "REPEATS needs a count of at least 1");
    if (s_advance(p))
        return -1;
    return s_expect(p, T_TIMES, "TIMES");
}

/* Orders two timestamp literals: the fixed-width part compares as text, the
 * fractions digit by digit with missing digits as zeros. */
static int s_ts_cmp(const s_parser_t *p, const s_token_t *a, const s_token_t *b)
{
    const char *x = p->src + a->pos + 2, *y = p->src + b->pos + 2;
    int c = memcmp(x, y, 19);
    if (c)
        return c;
    x += 19 + (x[19] == '.');
    y += 19 + (y[19] == '.');
    while (s_is_digit(*x) || s_is_digit(*y)) {
        char dx = s_is_digit(*x) ? *x++ : '0', dy = s_is_digit(*y) ? *y++ : '0';
        if (dx != dy)
            return dx < dy ? -1 : 1;
    }
    return 0;
}

/* START TimestampLiteral STOP TimestampLiteral */
static int s_start_stop(s_parser_t *p)
{
    if (s_advance(p))
        return -1;
    if (p->tok.kind != T_TIMESTAMP)
        return s_fail_expected(p, "a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after START");
    s_token_t start = p->tok;
    if (s_advance(p) || s_expect(p, T_STOP, "STOP after START t'...'"))
        return -1;
    if (p->tok.kind != T_TIMESTAMP)
        return s_fail_expected(p, "a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after STOP");
    if (s_ts_cmp(p, &p->tok, &start) <= 0)
        return s_fail(p, p->tok.pos, "the STOP timestamp must be later than START");
    return s_advance(p);
}

/* Any number of qualifiers, each binding to the observation expression
 * before it. On a bracketed one no kind may repeat (the OASIS validator's
 * rule); on a parenthesised group the grammar alone applies. */
static int s_qualifiers(s_parser_t *p, int simple)
{
    static const char *names[] = {"WITHIN", "REPEATS", "START/STOP"};
    unsigned seen = 0;
    for (;;) {
        s_kind_t k = p->tok.kind;
        int which = k == T_WITHIN ? 0 : k == T_REPEATS ? 1 : k == T_START ? 2 : -1;
        if (which < 0)
            return 0;
        if (simple && (seen & (1u << which)))
            return s_fail(p, p->tok.pos, "%s given twice for one observation expression",
                          names[which]);
        seen |= 1u << which;
        int rc = which == 0 ? s_within(p) : which == 1 ? s_repeats(p) : s_start_stop(p);
        if (rc)
            return -1;
        p->out->qualifier_count++;
    }
}

static int s_obs_followedby(s_parser_t *p);

/* '[' comparisonExpression ']' or '(' observationExpressions ')', then
 * qualifiers. */
static int s_observation(s_parser_t *p)
{
    int simple = p->tok.kind == T_LBRACK;
    if (simple) {
        if (s_enter(p) || s_cmp_or(p) || s_expect(p, T_RBRACK, "AND, OR or ']'"))
            return -1;
        p->out->observation_count++;
    } else if (p->tok.kind == T_LPAREN) {
        if (s_enter(p) || s_obs_followedby(p) ||
            s_expect(p, T_RPAREN, "AND, OR, FOLLOWEDBY, a qualifier or ')'"))
            return -1;
    } else {
        return s_fail_expected(p, "'[' or '('");
    }
    p->depth--;
    return s_qualifiers(p, simple);
}

/* AND binds tighter than OR, OR tighter than FOLLOWEDBY; all left
 * associative, which for a validator only fixes the order of extraction. */
static int s_obs_and(s_parser_t *p)
{
    if (s_observation(p))
        return -1;
    while (p->tok.kind == T_AND)
        if (s_advance(p) || s_observation(p))
            return -1;
    return 0;
}

static int s_obs_or(s_parser_t *p)
{
    if (s_obs_and(p))
        return -1;
    while (p->tok.kind == T_OR)
        if (s_advance(p) || s_obs_and(p))
            return -1;
    return 0;
}

static int s_obs_followedby(s_parser_t *p)
{
    if (s_obs_or(p))
        return -1;
    while (p->tok.kind == T_FOLLOWEDBY)
        if (s_advance(p) || s_obs_or(p))
            return -1;
    return 0;
}

/* pattern: observationExpressions EOF */
static int s_pattern(s_parser_t *p)
{
    size_t len = strnlen(p->src, STIX_PATTERN_MAX_LEN + 1);
    if (len > STIX_PATTERN_MAX_LEN)
        return s_fail(p, STIX_PATTERN_MAX_LEN, "pattern longer than %d bytes",
                      STIX_PATTERN_MAX_LEN);
    if (s_check_utf8(p, len))
        return -1;
    p->tok = (s_token_t){T_EOF, 0, 0};
    if (s_advance(p))
        return -1;
    if (p->tok.kind == T_EOF)
        return s_fail(p, p->tok.pos, "empty pattern: expected '[' or '('");
    if (s_obs_followedby(p))
        return -1;
    if (p->tok.kind != T_EOF)
        return s_fail_expected(p, "AND, OR, FOLLOWEDBY, a qualifier or end of pattern");
    return 0;
}

void stix_pattern_result_free(stix_pattern_result_t *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->observable_count; i++)
        free(out->observables[i].value);
    free(out->observables);
    out->observables = NULL;
    out->observable_count = 0;
}

int stix_pattern_check(const char *pattern, stix_pattern_result_t *out)
{
    stix_pattern_result_t scratch;
    stix_pattern_result_t *res = out ? out : &scratch;
    memset(res, 0, sizeof *res);
    s_parser_t p = {.src = pattern, .out = res};
    int rc = pattern ? s_pattern(&p) : s_fail(&p, 0, "no pattern");
    if (rc != 0) {
        size_t pos = res->error_pos;
        char error[STIX_PATTERN_ERROR_MAX];
        memcpy(error, res->error, sizeof error);
        stix_pattern_result_free(res);
        memset(res, 0, sizeof *res);
        res->error_pos = pos;
        memcpy(res->error, error, sizeof error);
    } else {
        res->valid = 1;
    }
    if (!out)
        stix_pattern_result_free(&scratch);
    return rc == 0 ? 0 : -1;
}
