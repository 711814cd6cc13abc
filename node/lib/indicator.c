#include "indicator.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)

static const char *s_names[IND_TYPE_COUNT] = {
    "ipv4-addr", "ipv6-addr", "domain-name", "url",
    "email-addr", "file:md5", "file:sha1", "file:sha256"};

/* Short names people type on the command line; matched case-insensitively. */
static const struct {
    const char *name;
    ind_type_t type;
} s_aliases[] = {
    {"ipv4", IND_IPV4},     {"ipv6", IND_IPV6},    {"domain", IND_DOMAIN},
    {"email", IND_EMAIL},   {"md5", IND_MD5},      {"sha1", IND_SHA1},
    {"sha-1", IND_SHA1},    {"sha256", IND_SHA256}, {"sha-256", IND_SHA256},
};

/* STIX object paths; SHA names need quoting because of the hyphen. */
static const char *s_paths[IND_TYPE_COUNT] = {
    "ipv4-addr:value", "ipv6-addr:value", "domain-name:value", "url:value",
    "email-addr:value", "file:hashes.MD5", "file:hashes.'SHA-1'",
    "file:hashes.'SHA-256'"};

/* Bounded output: writes stop (and 'over' is set) rather than truncate
 * silently, and the text so far is always NUL terminated. */
struct s_buf {
    char *p;
    size_t cap;
    size_t len;
    int over;
};

/* ASCII-only classifiers: the C ones depend on locale and want unsigned char. */
static char s_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }
static int s_is_digit(char c) { return c >= '0' && c <= '9'; }
static int s_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int s_is_hex(char c) { return s_is_digit(c) || (s_lower(c) >= 'a' && s_lower(c) <= 'f'); }
static int s_is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static void s_buf_init(struct s_buf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->over = 0;
    p[0] = '\0';
}

static void s_put(struct s_buf *b, const char *src, size_t n)
{
    if (b->over || n >= b->cap - b->len) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void s_puts(struct s_buf *b, const char *src) { s_put(b, src, strlen(src)); }

static void s_put_lower(struct s_buf *b, const char *src, size_t n)
{
    size_t start = b->len;
    s_put(b, src, n);
    if (!b->over)
        for (size_t i = start; i < b->len; i++)
            b->p[i] = s_lower(b->p[i]);
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static int s_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t extra;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return 0;
        }
        if (n - i <= extra || u[i + 1] < lo || u[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= extra; k++)
            if (u[i + k] < 0x80 || u[i + k] > 0xbf)
                return 0;
        i += extra + 1;
    }
    return 1;
}

/* Decimal prefix length: digits only, no leading zeros, at most max. */
static int s_prefix(const char *s, size_t n, unsigned max)
{
    unsigned v = 0;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!s_is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= max ? 0 : -1;
}

/* Canonical dotted quad for s[0..n); no prefix allowed here. Leading zeros are
 * refused outright because some parsers read them as octal. */
static int s_ipv4_addr(const char *s, size_t n, char out[INET_ADDRSTRLEN], const char **why)
{
    char tmp[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n == 0 || n >= sizeof tmp) {
        *why = "not an IPv4 address";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int octet_start = i == 0 || s[i - 1] == '.';
        if (octet_start && s[i] == '0' && i + 1 < n && s_is_digit(s[i + 1])) {
            *why = "IPv4 octet has a leading zero";
            return -1;
        }
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, &a) != 1 || !inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN)) {
        *why = "not an IPv4 address";
        return -1;
    }
    return 0;
}

/* Canonical RFC 5952 text (lowercase, longest zero run compressed). */
static int s_ipv6_addr(const char *s, size_t n, char out[INET6_ADDRSTRLEN], const char **why)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n == 0 || n >= sizeof tmp) {
        *why = "not an IPv6 address";
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, &a) != 1 || !inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN)) {
        *why = "not an IPv6 address";
        return -1;
    }
    return 0;
}

static int s_ipv4(const char *s, size_t n, struct s_buf *b, const char **why)
{
    char addr[INET_ADDRSTRLEN];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (s_ipv4_addr(s, alen, addr, why) != 0)
        return -1;
    if (slash && s_prefix(slash + 1, n - alen - 1, 32) != 0) {
        *why = "IPv4 prefix length must be 0-32";
        return -1;
    }
    s_puts(b, addr);
    if (slash)
        s_put(b, slash, n - alen);
    return 0;
}

static int s_ipv6(const char *s, size_t n, struct s_buf *b, const char **why)
{
    char addr[INET6_ADDRSTRLEN];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (s_ipv6_addr(s, alen, addr, why) != 0)
        return -1;
    if (slash && s_prefix(slash + 1, n - alen - 1, 128) != 0) {
        *why = "IPv6 prefix length must be 0-128";
        return -1;
    }
    s_puts(b, addr);
    if (slash)
        s_put(b, slash, n - alen);
    return 0;
}

static int s_label_char(char c)
{
    return s_is_alpha(c) || s_is_digit(c) || c == '-' || c == '_';
}

/* Checks one label s[0..n); the last label also must not be all digits, or
 * "1.2.3.4" would pass as a domain. */
static int s_label(const char *s, size_t n, int last, const char **why)
{
    int digits = 1;
    if (n == 0) {
        *why = "domain has an empty label";
        return -1;
    }
    if (n > 63) {
        *why = "domain label longer than 63 characters";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_label_char(s[i])) {
            *why = "domain contains a character other than a-z, 0-9, '-' or '_'";
            return -1;
        }
        digits = digits && s_is_digit(s[i]);
    }
    if (s[0] == '-' || s[n - 1] == '-') {
        *why = "domain label starts or ends with a hyphen";
        return -1;
    }
    if (last && digits) {
        *why = "domain looks like an IP address";
        return -1;
    }
    return 0;
}

/* Lowercase with one trailing dot dropped, so "Example.COM." and
 * "example.com" are the same indicator. */
static int s_domain(const char *s, size_t n, struct s_buf *b, const char **why)
{
    size_t labels = 0, start = 0;
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0) {
        *why = "domain is empty";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            *why = "domain must be ASCII (use punycode xn-- labels)";
            return -1;
        }
    }
    if (n > 253) {
        *why = "domain is longer than 253 characters";
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (s_label(s + start, i - start, i == n, why) != 0)
            return -1;
        labels++;
        start = i + 1;
    }
    if (labels < 2) {
        *why = "domain needs at least two labels";
        return -1;
    }
    s_put_lower(b, s, n);
    return 0;
}

/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int s_scheme_char(char c, int first)
{
    return s_is_alpha(c) || (!first && (s_is_digit(c) || c == '+' || c == '-' || c == '.'));
}

static int s_url_scheme(const char *s, size_t n, size_t *len, struct s_buf *b, const char **why)
{
    static const char *ok[] = {"http", "https", "ftp", "ftps"};
    size_t i = 0;
    while (i < n && s_scheme_char(s[i], i == 0))
        i++;
    if (i == 0 || i == n || s[i] != ':') {
        *why = "url has no scheme";
        return -1;
    }
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        if (strlen(ok[k]) == i && strncasecmp(s, ok[k], i) == 0) {
            if (n - i < 3 || s[i + 1] != '/' || s[i + 2] != '/') {
                *why = "url scheme must be followed by ://";
                return -1;
            }
            s_put_lower(b, s, i);
            s_puts(b, "://");
            *len = i + 3;
            return 0;
        }
    }
    *why = "url scheme must be http, https, ftp or ftps";
    return -1;
}

static int s_url_port(const char *s, size_t n, struct s_buf *b, const char **why)
{
    unsigned v = 0;
    int ok = n >= 1 && n <= 5 && s[0] != '0';
    for (size_t i = 0; ok && i < n; i++) {
        ok = s_is_digit(s[i]);
        if (ok)
            v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (!ok || v > 65535) {
        *why = "url port must be 1-65535";
        return -1;
    }
    s_put(b, ":", 1);
    s_put(b, s, n);
    return 0;
}

/* host[:port] where host is a domain, a dotted quad or a bracketed IPv6. */
static int s_url_hostport(const char *s, size_t n, struct s_buf *b, const char **why)
{
    char addr[INET6_ADDRSTRLEN];
    size_t hlen;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb) {
            *why = "url IPv6 host has no closing ]";
            return -1;
        }
        hlen = (size_t)(rb - s) + 1;
        if (s_ipv6_addr(s + 1, hlen - 2, addr, why) != 0)
            return -1;
        if (hlen < n && s[hlen] != ':') {
            *why = "url has text after the IPv6 host";
            return -1;
        }
        s_put(b, "[", 1);
        s_puts(b, addr);
        s_put(b, "]", 1);
    } else {
        const char *colon = memchr(s, ':', n);
        size_t i = 0;
        hlen = colon ? (size_t)(colon - s) : n;
        if (hlen == 0) {
            *why = "url has no host";
            return -1;
        }
        while (i < hlen && (s_is_digit(s[i]) || s[i] == '.'))
            i++;
        if (i == hlen) {
            /* All digits and dots: an address, never a domain. */
            if (s_ipv4_addr(s, hlen, addr, why) != 0)
                return -1;
            s_puts(b, addr);
        } else if (s_domain(s, hlen, b, why) != 0) {
            return -1;
        }
    }
    if (hlen < n)
        return s_url_port(s + hlen + 1, n - hlen - 1, b, why);
    return 0;
}

/* Scheme and host are case-insensitive and so lowercased; userinfo, path,
 * query and fragment may be case-sensitive and are kept byte for byte. */
static int s_url(const char *s, size_t n, struct s_buf *b, const char **why)
{
    size_t i, end, at;
    if (memchr(s, ' ', n)) {
        *why = "url contains a space";
        return -1;
    }
    if (!s_utf8_valid(s, n)) {
        *why = "url is not valid UTF-8";
        return -1;
    }
    if (s_url_scheme(s, n, &i, b, why) != 0)
        return -1;
    /* Browsers end the authority at '\' too for these schemes, so the host we
     * record is the one a browser would contact. */
    end = i;
    while (end < n && !strchr("/?#\\", s[end]))
        end++;
    at = end;
    while (at > i && s[at - 1] != '@')
        at--;
    if (at > i)
        s_put(b, s + i, at - i); /* userinfo and its '@', as given */
    else
        at = i;
    if (s_url_hostport(s + at, end - at, b, why) != 0)
        return -1;
    s_put(b, s + end, n - end);
    return 0;
}

static int s_email_local_char(char c)
{
    return c > ' ' && c < 0x7f && !strchr("<>(),;:\\\"[]", c);
}

static int s_email(const char *s, size_t n, struct s_buf *b, const char **why)
{
    const char *at = memchr(s, '@', n);
    size_t llen;
    if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1)) {
        *why = "email address must contain exactly one @";
        return -1;
    }
    llen = (size_t)(at - s);
    if (llen == 0 || llen > 64) {
        *why = "email local part must be 1-64 bytes";
        return -1;
    }
    for (size_t i = 0; i < llen; i++) {
        if (!s_email_local_char(s[i])) {
            *why = "email local part contains an invalid character";
            return -1;
        }
        if (s[i] == '.' && (i == 0 || i + 1 == llen || s[i + 1] == '.')) {
            *why = "email local part has a leading, trailing or double dot";
            return -1;
        }
    }
    s_put(b, s, llen + 1);
    return s_domain(at + 1, n - llen - 1, b, why);
}

static int s_hash(const char *s, size_t n, size_t digits, struct s_buf *b)
{
    if (n != digits)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!s_is_hex(s[i]))
            return -1;
    s_put_lower(b, s, n);
    return 0;
}

static int s_md5(const char *s, size_t n, struct s_buf *b, const char **why)
{
    if (s_hash(s, n, 32, b) == 0)
        return 0;
    *why = "MD5 hash must be 32 hex digits";
    return -1;
}

static int s_sha1(const char *s, size_t n, struct s_buf *b, const char **why)
{
    if (s_hash(s, n, 40, b) == 0)
        return 0;
    *why = "SHA-1 hash must be 40 hex digits";
    return -1;
}

static int s_sha256(const char *s, size_t n, struct s_buf *b, const char **why)
{
    if (s_hash(s, n, 64, b) == 0)
        return 0;
    *why = "SHA-256 hash must be 64 hex digits";
    return -1;
}

typedef int (*s_normaliser)(const char *s, size_t n, struct s_buf *b, const char **why);

static const s_normaliser s_normalisers[IND_TYPE_COUNT] = {
    s_ipv4, s_ipv6, s_domain, s_url, s_email, s_md5, s_sha1, s_sha256};

/* Trims surrounding whitespace and applies the checks common to all types. */
static int s_trim_check(const char *value, const char **s, size_t *n, const char **why)
{
    size_t len = value ? strlen(value) : 0;
    while (len > 0 && s_is_space(*value)) {
        value++;
        len--;
    }
    while (len > 0 && s_is_space(value[len - 1]))
        len--;
    if (len == 0) {
        *why = "value is empty";
        return -1;
    }
    if (len > IND_VALUE_MAX) {
        *why = "value is longer than " S_XSTR(IND_VALUE_MAX) " bytes";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            *why = "value contains a control character";
            return -1;
        }
    }
    *s = value;
    *n = len;
    return 0;
}

const char *ind_type_name(ind_type_t type)
{
    return (unsigned)type < IND_TYPE_COUNT ? s_names[type] : "invalid";
}

int ind_type_parse(const char *name, ind_type_t *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < IND_TYPE_COUNT; i++)
        if (strcmp(name, s_names[i]) == 0) {
            *out = (ind_type_t)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof s_aliases / sizeof s_aliases[0]; i++)
        if (strcasecmp(name, s_aliases[i].name) == 0) {
            *out = s_aliases[i].type;
            return 0;
        }
    return -1;
}

int ind_normalise(ind_type_t type, const char *value, char *out, size_t cap,
                  const char **why)
{
    /* Normalising can lengthen a value slightly (IPv6 literals in URLs), so
     * build into a full-size buffer and re-check the limit. */
    char buf[IND_VALUE_MAX + 1];
    struct s_buf b;
    const char *unused, *s;
    size_t n;
    if (!why)
        why = &unused;
    if ((unsigned)type >= IND_TYPE_COUNT) {
        *why = "unknown indicator type";
        return -1;
    }
    if (s_trim_check(value, &s, &n, why) != 0)
        return -1;
    s_buf_init(&b, buf, sizeof buf);
    if (s_normalisers[type](s, n, &b, why) != 0)
        return -1;
    if (b.over) {
        *why = "value is longer than " S_XSTR(IND_VALUE_MAX) " bytes";
        return -1;
    }
    if (!out || b.len >= cap) {
        *why = "value too long";
        return -1;
    }
    memcpy(out, buf, b.len + 1);
    return 0;
}

int ind_pattern(ind_type_t type, const char *value, char *out, size_t cap)
{
    struct s_buf b;
    if ((unsigned)type >= IND_TYPE_COUNT || !value || !out || cap == 0)
        return -1;
    s_buf_init(&b, out, cap);
    s_put(&b, "[", 1);
    s_puts(&b, s_paths[type]);
    s_puts(&b, " = '");
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '\'')
            s_put(&b, "\\", 1);
        s_put(&b, p, 1);
    }
    s_puts(&b, "']");
    if (b.over) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int ind_id_valid(const char *id)
{
    static const char prefix[] = "indicator--";
    const size_t plen = sizeof prefix - 1;
    if (!id || strlen(id) != IND_ID_LEN || strncmp(id, prefix, plen) != 0)
        return 0;
    for (size_t i = 0; i < IND_ID_LEN - plen; i++) {
        char c = id[plen + i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !(s_is_digit(c) || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

int ind_label_valid(const char *label)
{
    size_t n = label ? strlen(label) : 0;
    if (n == 0 || n > IND_LABEL_MAX || label[0] == ' ' || label[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (label[i] < 0x20 || label[i] > 0x7e || label[i] == ',')
            return 0;
    return 1;
}
