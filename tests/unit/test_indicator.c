#include "indicator.h"
#include "test.h"

#include <stdlib.h>

/* Normalised form of value, or NULL if refused. */
static const char *norm(ind_type_t type, const char *value)
{
    static char out[IND_VALUE_MAX + 1];
    const char *why = NULL;
    return ind_normalise(type, value, out, sizeof out, &why) == 0 ? out : NULL;
}

/* The refusal reason, or "accepted" if value passed. */
static const char *why_of(ind_type_t type, const char *value)
{
    char out[IND_VALUE_MAX + 1];
    const char *why = NULL;
    return ind_normalise(type, value, out, sizeof out, &why) == 0 ? "accepted" : why;
}

/* A string of n copies of c followed by tail; caller frees. */
static char *repeat(char c, size_t n, const char *tail)
{
    size_t tlen = strlen(tail);
    char *s = malloc(n + tlen + 1);
    memset(s, c, n);
    memcpy(s + n, tail, tlen + 1);
    return s;
}

static void test_type_names(void)
{
    ind_type_t t = IND_TYPE_COUNT;
    for (int i = 0; i < IND_TYPE_COUNT; i++) {
        CHECK(ind_type_parse(ind_type_name((ind_type_t)i), &t) == 0);
        CHECK(t == (ind_type_t)i);
    }
    CHECK_STR(ind_type_name(IND_IPV4), "ipv4-addr");
    CHECK_STR(ind_type_name(IND_IPV6), "ipv6-addr");
    CHECK_STR(ind_type_name(IND_DOMAIN), "domain-name");
    CHECK_STR(ind_type_name(IND_URL), "url");
    CHECK_STR(ind_type_name(IND_EMAIL), "email-addr");
    CHECK_STR(ind_type_name(IND_MD5), "file:md5");
    CHECK_STR(ind_type_name(IND_SHA1), "file:sha1");
    CHECK_STR(ind_type_name(IND_SHA256), "file:sha256");
    CHECK_STR(ind_type_name(IND_TYPE_COUNT), "invalid");

    CHECK(ind_type_parse("MD5", &t) == 0 && t == IND_MD5);
    CHECK(ind_type_parse("sha1", &t) == 0 && t == IND_SHA1);
    CHECK(ind_type_parse("sha256", &t) == 0 && t == IND_SHA256);
    CHECK(ind_type_parse("SHA-256", &t) == 0 && t == IND_SHA256);
    CHECK(ind_type_parse("Domain", &t) == 0 && t == IND_DOMAIN);
    CHECK(ind_type_parse("ipv4", &t) == 0 && t == IND_IPV4);
    CHECK(ind_type_parse("IPv6", &t) == 0 && t == IND_IPV6);
    CHECK(ind_type_parse("email", &t) == 0 && t == IND_EMAIL);

    /* Canonical names are case-sensitive. */
    CHECK(ind_type_parse("IPV4-ADDR", &t) == -1);
    CHECK(ind_type_parse("URL", &t) == -1);
    CHECK(ind_type_parse("", &t) == -1);
    CHECK(ind_type_parse("hostname", &t) == -1);
    CHECK(ind_type_parse(NULL, &t) == -1);
}

static void test_ipv4_good(void)
{
    CHECK_STR(norm(IND_IPV4, "1.2.3.4"), "1.2.3.4");
    CHECK_STR(norm(IND_IPV4, "  192.168.0.1\n"), "192.168.0.1");
    CHECK_STR(norm(IND_IPV4, "0.0.0.0"), "0.0.0.0");
    CHECK_STR(norm(IND_IPV4, "255.255.255.255"), "255.255.255.255");
    CHECK_STR(norm(IND_IPV4, "10.0.0.0/8"), "10.0.0.0/8");
    CHECK_STR(norm(IND_IPV4, "0.0.0.0/0"), "0.0.0.0/0");
    CHECK_STR(norm(IND_IPV4, "1.2.3.4/32"), "1.2.3.4/32");
    CHECK_STR(norm(IND_IPV4, "10.0.0.1/8"), "10.0.0.1/8"); /* host bits kept */
}

static void test_ipv4_bad(void)
{
    CHECK_STR(why_of(IND_IPV4, "1.2.3"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "256.1.1.1"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4.5"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.a"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "1..3.4"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "0x1.2.3.4"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4 "), "accepted"); /* trailing space trimmed */
    CHECK_STR(why_of(IND_IPV4, "1.2.3. 4"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "::1"), "not an IPv4 address");
    CHECK_STR(why_of(IND_IPV4, "01.2.3.4"), "IPv4 octet has a leading zero");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.04"), "IPv4 octet has a leading zero");
    CHECK_STR(why_of(IND_IPV4, "1.2.00.4"), "IPv4 octet has a leading zero");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/33"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/08"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/-1"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/1000"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4/8/8"), "IPv4 prefix length must be 0-32");
    CHECK_STR(why_of(IND_IPV4, "/8"), "not an IPv4 address");
}

static void test_ipv6(void)
{
    CHECK_STR(norm(IND_IPV6, "::1"), "::1");
    CHECK_STR(norm(IND_IPV6, "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    CHECK_STR(norm(IND_IPV6, "2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");
    CHECK_STR(norm(IND_IPV6, "2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    CHECK_STR(norm(IND_IPV6, "FE80::/10"), "fe80::/10");
    CHECK_STR(norm(IND_IPV6, "::/0"), "::/0");
    CHECK_STR(norm(IND_IPV6, "2001:db8::/128"), "2001:db8::/128");
    CHECK_STR(norm(IND_IPV6, "::ffff:1.2.3.4"), "::ffff:1.2.3.4");

    CHECK_STR(why_of(IND_IPV6, "1.2.3.4"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "2001:db8:::1"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "2001:db8::1::2"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "12345::1"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "g::1"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "1:2:3:4:5:6:7:8:9"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "[::1]"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "fe80::1%eth0"), "not an IPv6 address");
    CHECK_STR(why_of(IND_IPV6, "::1/129"), "IPv6 prefix length must be 0-128");
    CHECK_STR(why_of(IND_IPV6, "::1/"), "IPv6 prefix length must be 0-128");
    CHECK_STR(why_of(IND_IPV6, "::1/064"), "IPv6 prefix length must be 0-128");
}

static void test_domain_good(void)
{
    CHECK_STR(norm(IND_DOMAIN, "Example.COM"), "example.com");
    CHECK_STR(norm(IND_DOMAIN, "example.com."), "example.com");
    CHECK_STR(norm(IND_DOMAIN, " a-b.c_d.example.org "), "a-b.c_d.example.org");
    CHECK_STR(norm(IND_DOMAIN, "xn--bcher-kva.example"), "xn--bcher-kva.example");
    CHECK_STR(norm(IND_DOMAIN, "1.2.3.example"), "1.2.3.example");
    CHECK_STR(norm(IND_DOMAIN, "x.y2"), "x.y2");

    char *label63 = repeat('a', 63, ".com");
    CHECK_STR(norm(IND_DOMAIN, label63), label63);
    free(label63);

    /* Labels of 63, 63, 63 and 61 plus three dots: 253, the longest allowed. */
    char max[300];
    size_t len = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = i == 3 ? 61 : 63;
        memset(max + len, i == 3 ? 'b' : 'a', n);
        len += n;
        if (i < 3)
            max[len++] = '.';
    }
    max[len] = '\0';
    CHECK(len == 253);
    CHECK_STR(norm(IND_DOMAIN, max), max);
    max[len] = '.'; /* a trailing dot does not count */
    max[len + 1] = '\0';
    CHECK(norm(IND_DOMAIN, max) != NULL);
}

static void test_domain_bad(void)
{
    CHECK_STR(why_of(IND_DOMAIN, "localhost"), "domain needs at least two labels");
    CHECK_STR(why_of(IND_DOMAIN, "1.2.3.4"), "domain looks like an IP address");
    CHECK_STR(why_of(IND_DOMAIN, "example.123"), "domain looks like an IP address");
    CHECK_STR(why_of(IND_DOMAIN, "a..com"), "domain has an empty label");
    CHECK_STR(why_of(IND_DOMAIN, ".example.com"), "domain has an empty label");
    CHECK_STR(why_of(IND_DOMAIN, "example.com.."), "domain has an empty label");
    CHECK_STR(why_of(IND_DOMAIN, "."), "domain is empty");
    CHECK_STR(why_of(IND_DOMAIN, "-bad.com"), "domain label starts or ends with a hyphen");
    CHECK_STR(why_of(IND_DOMAIN, "bad-.com"), "domain label starts or ends with a hyphen");
    CHECK_STR(why_of(IND_DOMAIN, "exa mple.com"),
              "domain contains a character other than a-z, 0-9, '-' or '_'");
    CHECK_STR(why_of(IND_DOMAIN, "example.com/x"),
              "domain contains a character other than a-z, 0-9, '-' or '_'");
    CHECK_STR(why_of(IND_DOMAIN, "b\xc3\xbc" "cher.example"),
              "domain must be ASCII (use punycode xn-- labels)");

    char *label64 = repeat('a', 64, ".com");
    CHECK_STR(why_of(IND_DOMAIN, label64), "domain label longer than 63 characters");
    free(label64);

    /* 254 characters in labels of legal length. */
    char long_name[300];
    size_t len = 0;
    while (len < 254) {
        long_name[len] = (len % 10 == 9) ? '.' : 'a';
        len++;
    }
    long_name[len] = '\0';
    CHECK_STR(why_of(IND_DOMAIN, long_name), "domain is longer than 253 characters");
}

static void test_url_good(void)
{
    CHECK_STR(norm(IND_URL, "http://example.com"), "http://example.com");
    CHECK_STR(norm(IND_URL, "HTTPS://WWW.Example.COM/Path/To?Q=Yes#Frag"),
              "https://www.example.com/Path/To?Q=Yes#Frag");
    CHECK_STR(norm(IND_URL, "ftp://files.example.org:21/pub/"), "ftp://files.example.org:21/pub/");
    CHECK_STR(norm(IND_URL, "FtPs://example.org/"), "ftps://example.org/");
    CHECK_STR(norm(IND_URL, "http://1.2.3.4:8080/x"), "http://1.2.3.4:8080/x");
    CHECK_STR(norm(IND_URL, "http://[2001:DB8::0:1]:443/a"), "http://[2001:db8::1]:443/a");
    CHECK_STR(norm(IND_URL, "http://[::1]"), "http://[::1]");
    CHECK_STR(norm(IND_URL, "http://User:Pa%40ss@Evil.Example/"),
              "http://User:Pa%40ss@evil.example/");
    CHECK_STR(norm(IND_URL, "http://example.com:65535"), "http://example.com:65535");
    CHECK_STR(norm(IND_URL, "http://example.com./a"), "http://example.com/a");
    CHECK_STR(norm(IND_URL, "http://example.com?q=1"), "http://example.com?q=1");
    CHECK_STR(norm(IND_URL, "http://example.com/caf\xc3\xa9?x=\xe2\x82\xac"),
              "http://example.com/caf\xc3\xa9?x=\xe2\x82\xac");
    /* '\' ends the authority as in browsers, so the host is evil.example. */
    CHECK_STR(norm(IND_URL, "http://Evil.Example\\@good.example/"),
              "http://evil.example\\@good.example/");
    CHECK_STR(norm(IND_URL, "  http://example.com/a'b  "), "http://example.com/a'b");
}

static void test_url_bad(void)
{
    CHECK_STR(why_of(IND_URL, "example.com/path"), "url has no scheme");
    CHECK_STR(why_of(IND_URL, "://example.com"), "url has no scheme");
    CHECK_STR(why_of(IND_URL, "javascript:alert(1)"), "url scheme must be http, https, ftp or ftps");
    CHECK_STR(why_of(IND_URL, "hxxp://example.com"), "url scheme must be http, https, ftp or ftps");
    CHECK_STR(why_of(IND_URL, "file:///etc/passwd"), "url scheme must be http, https, ftp or ftps");
    CHECK_STR(why_of(IND_URL, "http:example.com"), "url scheme must be followed by ://");
    CHECK_STR(why_of(IND_URL, "http:/example.com"), "url scheme must be followed by ://");
    CHECK_STR(why_of(IND_URL, "http://example.com/a b"), "url contains a space");
    CHECK_STR(why_of(IND_URL, "http://example.com/a\tb"), "value contains a control character");
    CHECK_STR(why_of(IND_URL, "http://example.com:0/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:70000/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:65536/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:80a/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:080/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://example.com:-1/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://"), "url has no host");
    CHECK_STR(why_of(IND_URL, "http:///path"), "url has no host");
    CHECK_STR(why_of(IND_URL, "http://user@/x"), "url has no host");
    CHECK_STR(why_of(IND_URL, "http://:80/"), "url has no host");
    CHECK_STR(why_of(IND_URL, "http://localhost/"), "domain needs at least two labels");
    CHECK_STR(why_of(IND_URL, "http://-x.com/"), "domain label starts or ends with a hyphen");
    CHECK_STR(why_of(IND_URL, "http://256.1.1.1/"), "not an IPv4 address");
    CHECK_STR(why_of(IND_URL, "http://01.2.3.4/"), "IPv4 octet has a leading zero");
    CHECK_STR(why_of(IND_URL, "http://0x7f.1/"), "domain looks like an IP address");
    CHECK_STR(why_of(IND_URL, "http://[::1/"), "url IPv6 host has no closing ]");
    CHECK_STR(why_of(IND_URL, "http://[::g]/"), "not an IPv6 address");
    CHECK_STR(why_of(IND_URL, "http://[::1]x/"), "url has text after the IPv6 host");
    CHECK_STR(why_of(IND_URL, "http://[::1]:0/"), "url port must be 1-65535");
    CHECK_STR(why_of(IND_URL, "http://b\xc3\xbc" "cher.example/"),
              "domain must be ASCII (use punycode xn-- labels)");
    CHECK_STR(why_of(IND_URL, "http://example.com/\xff"), "url is not valid UTF-8");
    CHECK_STR(why_of(IND_URL, "http://example.com/\xc0\xaf"), "url is not valid UTF-8");
    CHECK_STR(why_of(IND_URL, "http://example.com/\xed\xa0\x80"), "url is not valid UTF-8");
    CHECK_STR(why_of(IND_URL, "http://example.com/\xe2\x82"), "url is not valid UTF-8");
    CHECK_STR(why_of(IND_URL, "http://example.com/\xf4\x90\x80\x80"), "url is not valid UTF-8");
}

static void test_email(void)
{
    CHECK_STR(norm(IND_EMAIL, "Alice.Smith+tag@Example.COM"), "Alice.Smith+tag@example.com");
    CHECK_STR(norm(IND_EMAIL, "a@b.co"), "a@b.co");
    CHECK_STR(norm(IND_EMAIL, "x!#$%&'*/=?^_`{|}~-@example.org."),
              "x!#$%&'*/=?^_`{|}~-@example.org");

    char *local64 = repeat('l', 64, "@example.com");
    CHECK_STR(norm(IND_EMAIL, local64), local64);
    free(local64);
    char *local65 = repeat('l', 65, "@example.com");
    CHECK_STR(why_of(IND_EMAIL, local65), "email local part must be 1-64 bytes");
    free(local65);

    CHECK_STR(why_of(IND_EMAIL, "alice.example.com"), "email address must contain exactly one @");
    CHECK_STR(why_of(IND_EMAIL, "a@b@example.com"), "email address must contain exactly one @");
    CHECK_STR(why_of(IND_EMAIL, "@example.com"), "email local part must be 1-64 bytes");
    CHECK_STR(why_of(IND_EMAIL, "alice@"), "domain is empty");
    CHECK_STR(why_of(IND_EMAIL, "alice@localhost"), "domain needs at least two labels");
    CHECK_STR(why_of(IND_EMAIL, "alice@1.2.3.4"), "domain looks like an IP address");
    CHECK_STR(why_of(IND_EMAIL, "alice@[1.2.3.4]"),
              "domain contains a character other than a-z, 0-9, '-' or '_'");
    CHECK_STR(why_of(IND_EMAIL, "al ice@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, "<alice>@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, "\"a\"@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, "a,b@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, "a\\b@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, "j\xc3\xb6rg@example.com"), "email local part contains an invalid character");
    CHECK_STR(why_of(IND_EMAIL, ".alice@example.com"),
              "email local part has a leading, trailing or double dot");
    CHECK_STR(why_of(IND_EMAIL, "alice.@example.com"),
              "email local part has a leading, trailing or double dot");
    CHECK_STR(why_of(IND_EMAIL, "al..ice@example.com"),
              "email local part has a leading, trailing or double dot");
}

static void test_hashes(void)
{
    CHECK_STR(norm(IND_MD5, "D41D8CD98F00B204E9800998ECF8427E"), "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(norm(IND_SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
              "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK_STR(norm(IND_SHA256, " E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 "),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    CHECK_STR(why_of(IND_MD5, "d41d8cd98f00b204e9800998ecf8427"), "MD5 hash must be 32 hex digits");
    CHECK_STR(why_of(IND_MD5, "d41d8cd98f00b204e9800998ecf8427e0"), "MD5 hash must be 32 hex digits");
    CHECK_STR(why_of(IND_MD5, "g41d8cd98f00b204e9800998ecf8427e"), "MD5 hash must be 32 hex digits");
    CHECK_STR(why_of(IND_MD5, "d41d8cd98f00b204 e9800998ecf8427e"), "MD5 hash must be 32 hex digits");
    CHECK_STR(why_of(IND_SHA1, "d41d8cd98f00b204e9800998ecf8427e"), "SHA-1 hash must be 40 hex digits");
    CHECK_STR(why_of(IND_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd8070z"),
              "SHA-1 hash must be 40 hex digits");
    CHECK_STR(why_of(IND_SHA256, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
              "SHA-256 hash must be 64 hex digits");
    CHECK_STR(why_of(IND_SHA256, "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"),
              "SHA-256 hash must be 64 hex digits");
}

static void test_common_refusals(void)
{
    for (int t = 0; t < IND_TYPE_COUNT; t++) {
        CHECK_STR(why_of((ind_type_t)t, ""), "value is empty");
        CHECK_STR(why_of((ind_type_t)t, " \t\r\n "), "value is empty");
        CHECK_STR(why_of((ind_type_t)t, NULL), "value is empty");
    }
    CHECK_STR(why_of(IND_DOMAIN, "exam\x01ple.com"), "value contains a control character");
    CHECK_STR(why_of(IND_DOMAIN, "example.com\x7f"), "value contains a control character");
    CHECK_STR(why_of(IND_IPV4, "1.2.3.4\x1b"), "value contains a control character");
    CHECK_STR(why_of(IND_EMAIL, "a\tb@example.com"), "value contains a control character");
    CHECK_STR(why_of(IND_TYPE_COUNT, "1.2.3.4"), "unknown indicator type");

    /* 2048 bytes is allowed, 2049 is not, and the limit counts after trimming. */
    char *url = repeat('a', IND_VALUE_MAX - strlen("http://example.com/"), "");
    char *full = malloc(IND_VALUE_MAX + 8);
    snprintf(full, IND_VALUE_MAX + 8, "http://example.com/%s", url);
    CHECK(strlen(full) == IND_VALUE_MAX);
    CHECK_STR(norm(IND_URL, full), full);
    snprintf(full, IND_VALUE_MAX + 8, " http://example.com/%s ", url);
    CHECK(norm(IND_URL, full) != NULL);
    snprintf(full, IND_VALUE_MAX + 8, "http://example.com/%sa", url);
    CHECK_STR(why_of(IND_URL, full), "value is longer than 2048 bytes");
    free(url);
    free(full);

    /* An IPv6 host can lengthen when normalised; the limit still holds. */
    char *tail = repeat('a', IND_VALUE_MAX - strlen("http://[::ffff:0:0]/"), "");
    char grown[IND_VALUE_MAX + 1];
    snprintf(grown, sizeof grown, "http://[::ffff:0:0]/%s", tail);
    CHECK(strlen(grown) == IND_VALUE_MAX);
    CHECK_STR(why_of(IND_URL, grown), "value is longer than 2048 bytes");
    free(tail);
}

static void test_out_capacity(void)
{
    char out[8];
    const char *why = NULL;
    CHECK(ind_normalise(IND_IPV4, "1.2.3.4", out, sizeof out, &why) == 0);
    CHECK_STR(out, "1.2.3.4");
    CHECK(ind_normalise(IND_IPV4, "1.2.3.4", out, 7, &why) == -1);
    CHECK_STR(why, "value too long");
    CHECK(ind_normalise(IND_IPV4, "1.2.3.4", out, 0, &why) == -1);
    CHECK_STR(why, "value too long");
    CHECK(ind_normalise(IND_IPV4, "1.2.3.4", NULL, 0, &why) == -1);
    CHECK(ind_normalise(IND_IPV4, "1.2.3", out, sizeof out, NULL) == -1);
}

static void test_patterns(void)
{
    char out[IND_PATTERN_MAX];
    CHECK(ind_pattern(IND_IPV4, "1.2.3.4", out, sizeof out) == 0);
    CHECK_STR(out, "[ipv4-addr:value = '1.2.3.4']");
    CHECK(ind_pattern(IND_IPV6, "2001:db8::/32", out, sizeof out) == 0);
    CHECK_STR(out, "[ipv6-addr:value = '2001:db8::/32']");
    CHECK(ind_pattern(IND_DOMAIN, "example.com", out, sizeof out) == 0);
    CHECK_STR(out, "[domain-name:value = 'example.com']");
    CHECK(ind_pattern(IND_URL, "http://example.com/it's\\here", out, sizeof out) == 0);
    CHECK_STR(out, "[url:value = 'http://example.com/it\\'s\\\\here']");
    CHECK(ind_pattern(IND_EMAIL, "o'brien@example.com", out, sizeof out) == 0);
    CHECK_STR(out, "[email-addr:value = 'o\\'brien@example.com']");
    CHECK(ind_pattern(IND_MD5, "d41d8cd98f00b204e9800998ecf8427e", out, sizeof out) == 0);
    CHECK_STR(out, "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']");
    CHECK(ind_pattern(IND_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", out, sizeof out) == 0);
    CHECK_STR(out, "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']");
    CHECK(ind_pattern(IND_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                      out, sizeof out) == 0);
    CHECK_STR(out, "[file:hashes.'SHA-256' = "
                   "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']");

    /* Exact fit, one byte short, and the worst case still fits IND_PATTERN_MAX. */
    const char *want = "[ipv4-addr:value = '1.2.3.4']";
    CHECK(ind_pattern(IND_IPV4, "1.2.3.4", out, strlen(want) + 1) == 0);
    CHECK_STR(out, want);
    CHECK(ind_pattern(IND_IPV4, "1.2.3.4", out, strlen(want)) == -1);
    CHECK(ind_pattern(IND_IPV4, "1.2.3.4", out, 0) == -1);
    CHECK(ind_pattern(IND_TYPE_COUNT, "1.2.3.4", out, sizeof out) == -1);
    CHECK(ind_pattern(IND_URL, NULL, out, sizeof out) == -1);
    char *quotes = repeat('\'', IND_VALUE_MAX, "");
    CHECK(ind_pattern(IND_URL, quotes, out, sizeof out) == 0);
    CHECK(strlen(out) == strlen("[url:value = '']") + 2 * IND_VALUE_MAX);
    free(quotes);
}

static void test_ids(void)
{
    CHECK(ind_id_valid("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
    CHECK(ind_id_valid("indicator--00000000-0000-0000-0000-000000000000"));
    CHECK(ind_id_valid("indicator--8e2e2d2b-17d4-1cbf-c38f-98ee46b3cd3f")); /* any version */
    CHECK(!ind_id_valid("indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F"));
    CHECK(!ind_id_valid("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
    CHECK(!ind_id_valid("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
    CHECK(!ind_id_valid("indicator--8e2e2d2b17d4-4cbf-938f-98ee46b3cd3f0"));
    CHECK(!ind_id_valid("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3"));
    CHECK(!ind_id_valid("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f0"));
    CHECK(!ind_id_valid("indicator--8e2e2d2g-17d4-4cbf-938f-98ee46b3cd3f"));
    CHECK(!ind_id_valid("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f "));
    CHECK(!ind_id_valid("indicator--{8e2e2d2-17d4-4cbf-938f-98ee46b3cd3f"));
    CHECK(!ind_id_valid(""));
    CHECK(!ind_id_valid(NULL));
}

int main(void)
{
    RUN(test_type_names);
    RUN(test_ipv4_good);
    RUN(test_ipv4_bad);
    RUN(test_ipv6);
    RUN(test_domain_good);
    RUN(test_domain_bad);
    RUN(test_url_good);
    RUN(test_url_bad);
    RUN(test_email);
    RUN(test_hashes);
    RUN(test_common_refusals);
    RUN(test_out_capacity);
    RUN(test_patterns);
    RUN(test_ids);
    return TEST_DONE();
}
