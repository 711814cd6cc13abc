/* STIX 2.1 patterns: the specification's examples parse, malformed patterns
 * are refused at the right byte, hostile depth and length are refused
 * cleanly, observables come out as the node indexes them, and every pattern
 * moux writes reads back as the (type, value) it was written from. The
 * `moux pattern check` command is exercised here too: its source is
 * compiled into this test, since the CLI is an executable, not a library. */
#include "indicator.h"
#include "stix_pattern.h"
#include "test.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLES "../shared/stix/pattern-spec-examples.txt"
#define EXAMPLES_MIN 23

/* ---- helpers ---- */

/* Parses and frees; returns what stix_pattern_check returned. */
static int check(const char *pattern)
{
    stix_pattern_result_t r;
    int rc = stix_pattern_check(pattern, &r);
    if (rc != 0)
        fprintf(stderr, "    refused: %s\n      %s\n", pattern, r.error);
    stix_pattern_result_free(&r);
    return rc;
}

/* head, then n copies of unit, then tail; caller frees. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

/* Checks the observables of a valid pattern against want, a NULL-terminated
 * list of type, value pairs. */
static void expect_observables(const char *pattern, const char *const *want)
{
    stix_pattern_result_t r;
    CHECK(stix_pattern_check(pattern, &r) == 0);
    size_t n = 0;
    while (want[2 * n])
        n++;
    if (r.observable_count != n)
        fprintf(stderr, "    %s: %zu observable(s), want %zu (%s)\n", pattern,
                r.observable_count, n, r.error);
    CHECK(r.observable_count == n);
    for (size_t i = 0; i < n && i < r.observable_count; i++) {
        CHECK_STR(r.observables[i].type, want[2 * i]);
        CHECK_STR(r.observables[i].value, want[2 * i + 1]);
        CHECK_STR(ind_type_name(r.observables[i].kind), want[2 * i]);
    }
    stix_pattern_result_free(&r);
}

/* ---- the specification's examples ---- */

/* Reads the examples file: one pattern a line, blank lines ignored. Returns
 * the number read into lines (each malloc'd), or -1 if the file is missing. */
static int read_examples(char **lines, int cap)
{
    FILE *f = fopen(EXAMPLES, "r");
    if (!f)
        return -1;
    int n = 0;
    char *line = NULL;
    size_t sz = 0;
    ssize_t len;
    while ((len = getline(&line, &sz, f)) != -1) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len)
            continue;
        if (n < cap)
            lines[n] = strdup(line);
        n++;
    }
    free(line);
    fclose(f);
    return n < cap ? n : cap;
}

static void test_spec_examples(void)
{
    char *lines[64];
    int n = read_examples(lines, 64);
    if (n < 0)
        fprintf(stderr, "    cannot open %s (cwd must be the repository root)\n", EXAMPLES);
    CHECK(n >= EXAMPLES_MIN);
    int parsed = 0;
    for (int i = 0; i < n; i++) {
        if (check(lines[i]) == 0)
            parsed++;
        else
            fprintf(stderr, "    example %d refused\n", i + 1);
    }
    CHECK(parsed == n);
    printf("     %d of %d example patterns parsed\n", parsed, n);

    /* A few examples whose shape we know: counts and what is extracted. */
    if (n >= EXAMPLES_MIN) {
        stix_pattern_result_t r;
        CHECK(stix_pattern_check(lines[4], &r) == 0); /* (.. FOLLOWEDBY ..) WITHIN */
        CHECK(r.observation_count == 2 && r.comparison_count == 2 && r.qualifier_count == 1);
        stix_pattern_result_free(&r);
        CHECK(stix_pattern_check(lines[5], &r) == 0); /* three users */
        CHECK(r.observation_count == 3 && r.comparison_count == 9 && r.qualifier_count == 0);
        stix_pattern_result_free(&r);
        CHECK(stix_pattern_check(lines[11], &r) == 0); /* REPEATS .. WITHIN */
        CHECK(r.observation_count == 1 && r.comparison_count == 2 && r.qualifier_count == 2);
        CHECK(r.observable_count == 0);
        stix_pattern_result_free(&r);

        static const char *const ex4[] = {
            "file:sha256", "bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c",
            "file:md5",    "cead3f77f6cda6ec00f57d76c9a6879f",
            "file:sha256", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f",
            NULL};
        expect_observables(lines[3], ex4);
        static const char *const ex13[] = {"domain-name", "www.5z8.info", NULL};
        expect_observables(lines[12], ex13);
        static const char *const ex14[] = {"url", "http://example.com/foo", "url",
                                           "http://example.com/bar", NULL};
        expect_observables(lines[13], ex14);
    }
    for (int i = 0; i < n; i++)
        free(lines[i]);
}

/* ---- refusals ---- */

static const struct {
    const char *pattern;
    size_t pos;
    const char *says; /* a part of the message */
} s_invalid[] = {
    /* empty */
    {"", 0, "empty pattern"},
    {"   ", 3, "empty pattern"},
    {"/* only a comment */", 20, "empty pattern"},
    /* brackets and parentheses */
    {"file:name = 'x'", 0, "expected '[' or '(' but found 'file'"},
    {"[file:name = 'x'", 16, "expected AND, OR or ']' but found end of pattern"},
    {"[file:name = 'x']]", 17, "but found ']'"},
    {"([file:name = 'x']", 18, "or ')' but found end of pattern"},
    {"[file:name = 'x'])", 17, "end of pattern but found ')'"},
    {"[(file:name = 'x']", 17, "expected AND, OR or ')' but found ']'"},
    {"[]", 1, "expected a comparison"},
    {"()", 1, "expected '[' or '('"},
    {"[a:b = 1] AND", 13, "expected '[' or '(' but found end of pattern"},
    /* missing or unknown operators */
    {"[file:name 'x']", 11, "expected a comparison operator"},
    {"[file:name = 'x'] [file:size = 1]", 18, "expected AND, OR, FOLLOWEDBY"},
    {"[file:name = 'x' file:size = 1]", 17, "expected AND, OR or ']'"},
    {"[file:name = ]", 13, "expected a literal but found ']'"},
    {"[file:name =? 'x']", 12, "expected a literal but found '?'"},
    {"[file:name === 'x']", 13, "expected a literal but found '='"},
    {"[file:name ~= 'x']", 11, "expected a comparison operator"},
    {"[file:name CONTAINS 'x']", 11, "but found 'CONTAINS'"},
    {"[NOT a:b = 1]", 5, "expected EXISTS"},
    {"[a:b NOT NOT = 1]", 9, "expected a comparison operator but found 'NOT'"},
    /* object paths */
    {"[file.name = 'x']", 5, "expected ':' after the object type but found '.'"},
    {"[a:b-c = 1]", 3, "expected a property name"},
    {"[a:LAST = 1]", 3, "expected a property name"},
    {"[a:b[x] = 1]", 5, "expected a list index"},
    {"[a:b[01] = 1]", 6, "expected ']' but found '1'"},
    {"[a:b[0 AND c:d = 1]", 7, "expected ']' but found 'AND'"},
    /* operands */
    {"[a:b = 007]", 8, "but found '0'"}, /* lexes as 0, 0, 7 */
    {"[a:b IN 'x']", 8, "expected '(' starting a set"},
    {"[a:b IN ('x' 'y')]", 13, "expected ',' or ')'"},
    {"[a:b IN ('x',)]", 13, "expected a literal in the set"},
    {"[a:b LIKE 5]", 10, "expected a string literal"},
    {"[a:b > true]", 7, "expected a number, string"},
    {"[a:b MATCHES /x/]", 13, "expected a string literal but found '/'"},
    /* qualifiers */
    {"[a:b = 1] WITHIN -5 SECONDS", 17, "positive number of seconds"},
    {"[a:b = 1] WITHIN 0 SECONDS", 17, "greater than 0"},
    {"[a:b = 1] WITHIN 0.0 SECONDS", 17, "greater than 0"},
    {"[a:b = 1] WITHIN 5 MINUTES", 19, "expected SECONDS but found 'MINUTES'"},
    {"[a:b = 1] WITHIN SECONDS", 17, "positive number of seconds"},
    {"[a:b = 1] REPEATS 0 TIMES", 18, "at least 1"},
    {"[a:b = 1] REPEATS 2.5 TIMES", 18, "positive integer"},
    {"[a:b = 1] REPEATS 2", 19, "expected TIMES but found end of pattern"},
    {"[a:b = 1] START t'2020-01-01T00:00:00Z'", 39, "expected STOP"},
    {"[a:b = 1] STOP t'2020-01-01T00:00:00Z'", 10, "but found 'STOP'"},
    {"[a:b = 1] START '2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'", 16,
     "expected a timestamp"},
    {"[a:b = 1] START t'2020-01-02T00:00:00Z' STOP t'2020-01-01T00:00:00Z'", 45,
     "later than START"},
    {"[a:b = 1] START t'2020-01-01T00:00:00.5Z' STOP t'2020-01-01T00:00:00.50Z'", 47,
     "later than START"},
    {"[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", 27, "WITHIN given twice"},
    {"[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES", 43,
     "REPEATS given twice"},
    /* string literals */
    {"[a:b = 'abc]", 7, "unterminated string literal"},
    {"[a:b = 'abc\\']", 7, "unterminated string literal"},
    {"[a:b = 'a\\nb']", 9, "invalid escape '\\n'"},
    {"[a:b = \"x\"]", 7, "expected a literal but found '\"'"},
    /* timestamps */
    {"[file:created = t'2020-13-01T00:00:00Z']", 23, "month 01-12"},
    {"[file:created = t'2020-00-01T00:00:00Z']", 23, "month 01-12"},
    {"[file:created = t'2020-01-32T00:00:00Z']", 26, "day 01-31"},
    {"[file:created = t'2020-02-30T24:00:00Z']", 29, "hour 00-23"},
    {"[file:created = t'2020-01-01T00:60:00Z']", 32, "minute 00-59"},
    {"[file:created = t'2020-01-01T00:00:61Z']", 35, "second 00-60"},
    {"[file:created = t'2020-01-01 00:00:00Z']", 28, "'T' after the date"},
    {"[file:created = t'2020-01-01T00:00:00']", 37, "expected 'Z'"},
    {"[file:created = t'2020-01-01T00:00:00.Z']", 38, "digits after '.'"},
    {"[file:created = t'2020-01-01T00:00:00+01:00']", 37, "expected 'Z'"},
    {"[file:created = t'20-01-01T00:00:00Z']", 20, "4-digit year"},
    /* hex and binary */
    {"[a:b = h'zz']", 9, "'z' is not a hex digit"},
    {"[a:b = h'abc']", 7, "odd number of hex digits"},
    {"[a:b = h'ab]", 11, "']' is not a hex digit"},
    {"[a:b = b'@@']", 9, "'@' is not a base64 character"},
    {"[a:b = b'abc']", 7, "groups of 4"},
    {"[a:b = b'']", 7, "groups of 4"},
    {"[a:b = b'ab=c']", 12, "after '=' padding"},
    /* keywords are upper-case */
    {"[a:b = 1] and [c:d = 2]", 10, "(keywords are upper-case)"},
    {"[a:b = 1 or c:d = 2]", 9, "(keywords are upper-case)"},
    {"[a:b = 1] followedby [c:d = 2]", 10, "(keywords are upper-case)"},
    {"[a:b in ('x')]", 5, "(keywords are upper-case)"},
    {"[a:b = TRUE]", 7, "expected a literal but found 'TRUE'"},
    /* trailing garbage, comments, encoding */
    {"[a:b = 'x'] x", 12, "end of pattern but found 'x'"},
    {"[a:b = 'x'];", 11, "end of pattern but found ';'"},
    {"[a:b = 1] /* open", 10, "unterminated comment"},
    {"[a:b = '\xff']", 8, "invalid UTF-8"},
    {"[a:b = '\xc0\xaf']", 8, "invalid UTF-8"},       /* overlong '/' */
    {"[a:b = '\xed\xa0\x80']", 8, "invalid UTF-8"},   /* a surrogate */
    {"[a:b = 1] \xe2\x80\x8b AND [c:d = 2]", 10, "but found '\xe2\x80\x8b'"}, /* ZWSP is not WS */
};

static void test_invalid(void)
{
    size_t n = sizeof s_invalid / sizeof s_invalid[0], refused = 0;
    CHECK(n >= 30);
    for (size_t i = 0; i < n; i++) {
        stix_pattern_result_t r;
        int rc = stix_pattern_check(s_invalid[i].pattern, &r);
        int ok = rc == -1 && !r.valid && r.error_pos == s_invalid[i].pos &&
                 strstr(r.error, s_invalid[i].says) != NULL && r.observable_count == 0 &&
                 r.observables == NULL && r.comparison_count == 0;
        if (!ok)
            fprintf(stderr, "    %s\n      want at %zu \"%s\"; got rc %d: %s\n",
                    s_invalid[i].pattern, s_invalid[i].pos, s_invalid[i].says, rc, r.error);
        CHECK(ok);
        refused += ok;
        stix_pattern_result_free(&r);
    }
    printf("     %zu of %zu invalid patterns refused where expected\n", refused, n);
    /* No result to fill: validation only. */
    CHECK(stix_pattern_check("[a:b = ", NULL) == -1);
    CHECK(stix_pattern_check("[a:b = 1]", NULL) == 0);
    stix_pattern_result_t r;
    CHECK(stix_pattern_check(NULL, &r) == -1);
    stix_pattern_result_free(&r);
}

/* ---- the corners of the grammar that must be accepted ---- */

static void test_valid_corners(void)
{
    static const char *const ok[] = {
        "[a:b == 1]", "[a:b <> 1]", "[a:b != 1]", "[a:b<=1 AND a:c>=2 AND a:d<3 AND a:e>4]",
        "[a:b IN ()]", "[a:b IN ('x', 1, -2, 3.5, true, h'00', b'AAAA', t'2020-01-01T00:00:00Z')]",
        "[a:b = h'']", "[a:b = h'DEADbeef']", "[a:b = b'AAAA']", "[a:b = b'AAA=']",
        "[a:b = b'AA==']", "[a:b = b'dGhpcyBpcyBhIHRlc3Q=']",
        "[a:b = t'2016-12-31T23:59:60.123456Z']",
        "[a:b = t'2020-02-30T00:00:00Z']", /* the grammar checks ranges, not calendars */
        "[NOT EXISTS a:b]", "[EXISTS a:'b'.c[*]]",
        "[a:b[-1].c[+2][*].'d e' = -.5]", "[a:b = +7 AND a:c = -0 AND a:d = 00.5]",
        "[a:b = true AND a:c != false]", "[a:b = 'it\\'s' AND a:c = 'back\\\\slash']",
        "[a:b = '']", "[a:b = 'multi\nline']",
        "  /* c */ [a:b = 1] // tail", "[a:b /* in */ = // line\n 1]",
        "[a:b=1]AND[c:d=2]OR[e:f=3]FOLLOWEDBY[g:h=4]",
        "( [(network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0) ])",
        "([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS", /* accepted by the OASIS validator too */
        "([a:b = 1] REPEATS 2 TIMES) REPEATS 2 TIMES",
        "[a:b = 1] WITHIN .5 SECONDS", "[a:b = 1] WITHIN +1 SECONDS",
        "[a:b = 1] WITHIN 5SECONDS", /* IntPosLiteral then a keyword: no space needed */
        "[a:b = 1] REPEATS 1 TIMES WITHIN 1.5 SECONDS START t'2016-06-01T01:30:00.123Z' STOP "
        "t'2016-06-01T01:30:00.1231Z'",
        "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T01:30:00.001Z' OR [c:d = 2] "
        "START t'2016-06-01T03:55:00Z' STOP t'2016-06-01T04:30:24.743Z'",
        "[x-usb-device:a_b = 1]", "[_a:_b = 1]", "[a-:b = 1]",
        "[a:b\xc2\xa0=\xe3\x80\x80" "1]", /* NBSP and ideographic space are whitespace */
        "[a:b = 'ünïcödé ✓']", "[a:b\t=\r\n1]\v\f",
        "[a:b LIKE 'x%' AND a:c MATCHES '^x$' AND a:d ISSUBSET '10.0.0.0/8' AND a:e "
        "ISSUPERSET '10.0.0.1/32' AND a:f NOT LIKE 'y']",
        "[a:b = 1 OR (a:c = 2 AND (a:d = 3 OR a:e = 4))]",
        "([a:b = 1] AND ([c:d = 2] OR [e:f = 3])) FOLLOWEDBY [g:h = 4] WITHIN 9 SECONDS",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK(check(ok[i]) == 0);
}

/* ---- limits ---- */

static void test_limits(void)
{
    stix_pattern_result_t r;
    /* 10000 '[': the second one is already not a comparison. */
    char *s = repeat("", "[", 10000, "");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == 1);
    stix_pattern_result_free(&r);
    free(s);
    /* 10000 '(': refused at the 65th, long before the stack is in danger. */
    s = repeat("", "(", 10000, "");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == STIX_PATTERN_MAX_DEPTH);
    CHECK(strstr(r.error, "nested deeper than 64") != NULL);
    stix_pattern_result_free(&r);
    free(s);
    /* Inside an observation the comparison groups count as well. */
    s = repeat("[", "(", 10000, "");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == STIX_PATTERN_MAX_DEPTH);
    stix_pattern_result_free(&r);
    free(s);
    /* Exactly the limit: 63 '(' and the '[' make 64 groups. */
    char *head = repeat("", "(", STIX_PATTERN_MAX_DEPTH - 1, "[a:b = 1]");
    s = repeat(head, ")", STIX_PATTERN_MAX_DEPTH - 1, "");
    CHECK(check(s) == 0);
    free(s);
    free(head);
    head = repeat("", "(", STIX_PATTERN_MAX_DEPTH, "[a:b = 1]");
    s = repeat(head, ")", STIX_PATTERN_MAX_DEPTH, "");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == STIX_PATTERN_MAX_DEPTH);
    stix_pattern_result_free(&r);
    free(s);
    free(head);
    /* Length: a pattern of exactly the limit parses; one byte more does not. */
    size_t pad = STIX_PATTERN_MAX_LEN - strlen("[a:b = '']");
    s = repeat("[a:b = '", "x", pad, "']");
    CHECK(strlen(s) == STIX_PATTERN_MAX_LEN && check(s) == 0);
    free(s);
    s = repeat("[a:b = '", "x", pad + 1, "']");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == STIX_PATTERN_MAX_LEN);
    CHECK(strstr(r.error, "longer than 65536 bytes") != NULL);
    stix_pattern_result_free(&r);
    free(s);
    /* Many comparisons in one flat observation: no recursion, all counted. */
    s = repeat("[a:b = 1", " OR ipv4-addr:value = '192.0.2.1'", 1500, "]");
    CHECK(stix_pattern_check(s, &r) == 0 && r.comparison_count == 1501 &&
          r.observable_count == 1500);
    stix_pattern_result_free(&r);
    free(s);
    /* A message quoting a long token is cut, and stays valid UTF-8. */
    s = repeat("[a:b = 1] '", "é", 100, "'");
    CHECK(stix_pattern_check(s, &r) == -1 && r.error_pos == 10);
    CHECK(strstr(r.error, "...") != NULL && strlen(r.error) < STIX_PATTERN_ERROR_MAX);
    stix_pattern_result_free(&r);
    free(s);
    /* Whatever the cut, with 2-, 3- and 4-byte characters: JSON takes it. */
    static const char *const wide[] = {"é", "€", "𝄞"};
    for (size_t w = 0; w < 3; w++) {
        for (size_t k = 1; k < 60; k++) {
            s = repeat("[a:b = 1] '", wide[w], k, "'");
            CHECK(stix_pattern_check(s, &r) == -1);
            json_t *j = json_string(r.error);
            CHECK(j != NULL);
            json_decref(j);
            stix_pattern_result_free(&r);
            free(s);
        }
    }
}

/* ---- extraction ---- */

static void test_extract_hashes(void)
{
    static const char *const want[] = {
        "file:sha256", "A", "file:sha256", "B", "file:sha1", "C",
        "file:sha1",   "D", "file:md5",    "E", "file:md5",  "F", NULL};
    expect_observables("[file:hashes.'SHA-256' = 'A' OR file:hashes.SHA256 = 'B' OR "
                       "file:hashes.'SHA-1' = 'C' OR file:hashes.SHA1 = 'D' OR "
                       "file:hashes.MD5 = 'E' OR file:hashes.'MD5' = 'F']",
                       want);
    /* Whitespace and comments inside the path, a quoted property, '=='. */
    static const char *const spaced[] = {"file:sha256", "x", "ipv4-addr", "1.1.1.1", NULL};
    expect_observables("[file : hashes /* k */ . 'SHA-256' == 'x' AND ipv4-addr:'value' = "
                       "'1.1.1.1']",
                       spaced);
}

static void test_extract_sets_and_negation(void)
{
    static const char *const set[] = {"ipv4-addr", "192.0.2.1", "ipv4-addr", "192.0.2.2",
                                      NULL};
    expect_observables("[ipv4-addr:value IN ('192.0.2.1', 7, '192.0.2.2', true)]", set);
    static const char *const pos[] = {"domain-name", "b.example", NULL};
    expect_observables("[domain-name:value NOT = 'a.example' AND domain-name:value = "
                       "'b.example' AND domain-name:value NOT IN ('c.example') AND "
                       "domain-name:value != 'd.example' AND domain-name:value NOT != "
                       "'e.example' AND domain-name:value LIKE 'f.%']",
                       pos);
}

static void test_extract_nested(void)
{
    static const char *const want[] = {
        "url",       "http://x.example/", "email-addr",  "a@b.example",
        "ipv6-addr", "2001:db8::1",       "domain-name", "q.example",
        "file:md5",  "abc",               NULL};
    expect_observables("([url:value = 'http://x.example/' OR (email-addr:value = 'a@b.example' "
                       "AND ipv6-addr:value = '2001:db8::1')] FOLLOWEDBY [domain-name:value = "
                       "'q.example']) WITHIN 60 SECONDS OR [file:hashes.MD5 = 'abc']",
                       want);
}

static void test_extract_unmapped(void)
{
    static const char *const none[] = {NULL};
    expect_observables("[file:hashes.md5 = 'x' OR file:hashes.'SHA-512' = 'y' OR "
                       "ipv4-addr:value[0] = 'z' OR ipv4-addr:value.x = 'w' OR "
                       "ipv4-addr:resolves_to_refs[*].value = 'v' OR ipv4-addr:value = 5 OR "
                       "ipv4-addr:value LIKE '1.%' OR IPV4-ADDR:value = 'u' OR "
                       "network-traffic:dst_ref.value = 't' OR file:hashes = 's' OR "
                       "file:hashes.MD5.x = 'r' OR EXISTS ipv4-addr:value]",
                       none);
}

static void test_extract_unescape_and_positions(void)
{
    static const char *const want[] = {"url", "http://x/it's\\", NULL};
    expect_observables("[url:value = 'http://x/it\\'s\\\\']", want);

    stix_pattern_result_t r;
    CHECK(stix_pattern_check("[ipv4-addr:value = '192.0.2.1'] AND [url:value IN ('u')]",
                             &r) == 0);
    CHECK(r.observable_count == 2);
    if (r.observable_count == 2) {
        CHECK(r.observables[0].pos == 19 && r.observables[0].kind == IND_IPV4);
        CHECK(r.observables[1].pos == 51 && r.observables[1].kind == IND_URL);
    }
    CHECK(r.valid && r.error[0] == '\0');
    stix_pattern_result_free(&r);
    stix_pattern_result_free(&r); /* twice is harmless */
    CHECK(r.observables == NULL && r.observable_count == 0);

    /* Observables found before an error are dropped with the pattern. */
    CHECK(stix_pattern_check("[ipv4-addr:value = '192.0.2.1' AND", &r) == -1);
    CHECK(r.observable_count == 0 && r.observables == NULL);
    stix_pattern_result_free(&r);
}

/* ---- the patterns moux writes ---- */

static void test_ind_pattern_roundtrip(void)
{
    static const struct {
        ind_type_t type;
        const char *value;
    } samples[] = {
        {IND_IPV4, "192.0.2.1"},
        {IND_IPV4, "198.51.100.0/24"},
        {IND_IPV6, "2001:DB8::1"},
        {IND_DOMAIN, "Bad.Example"},
        {IND_URL, "http://example.com/it's"},
        {IND_URL, "http://example.com/a\\b?q=1&r='2'"},
        {IND_EMAIL, "o'brien@example.com"},
        {IND_MD5, "CEAD3F77F6CDA6EC00F57D76C9A6879F"},
        {IND_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {IND_SHA256, "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"},
    };
    int seen[IND_TYPE_COUNT] = {0};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1];
        const char *why = NULL;
        CHECK(ind_normalise(samples[i].type, samples[i].value, norm, sizeof norm, &why) == 0);
        CHECK(ind_pattern(samples[i].type, norm, pattern, sizeof pattern) == 0);
        stix_pattern_result_t r;
        CHECK(stix_pattern_check(pattern, &r) == 0);
        CHECK(r.observable_count == 1 && r.observation_count == 1 && r.comparison_count == 1);
        if (r.observable_count == 1) {
            CHECK(r.observables[0].kind == samples[i].type);
            CHECK_STR(r.observables[0].type, ind_type_name(samples[i].type));
            CHECK_STR(r.observables[0].value, norm);
        } else {
            fprintf(stderr, "    %s: %s\n", pattern, r.error);
        }
        stix_pattern_result_free(&r);
        seen[samples[i].type] = 1;
    }
    for (int t = 0; t < IND_TYPE_COUNT; t++)
        CHECK(seen[t]);
}

/* ---- moux pattern check ---- */

/* The CLI's shared helpers live in main.c; this test needs only cli_fail. */
#include "../../node/moux/cmd_pattern.c"

static char s_fail_msg[512];
int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_fail_msg, sizeof s_fail_msg, fmt, ap);
    va_end(ap);
    return 1;
}

/* Runs cmd_pattern with stdout captured into out; returns its exit status. */
static int run(char *out, size_t cap, int argc, char **argv)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), STDOUT_FILENO);
    s_fail_msg[0] = '\0';
    opterr = 0; /* getopt's own complaints would only clutter the log */
    int rc = cmd_pattern(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, cap - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

static void test_cmd_text(void)
{
    char out[4096];
    char *valid[] = {"pattern", "check", ("[ipv4-addr:value = '192.0.2.1' AND a:b = 'x\ny'] OR "
                                          "[url:value = 'http://x/\ty']")};
    CHECK(run(out, sizeof out, 3, valid) == 0);
    CHECK_STR(out, "valid\nipv4-addr\t192.0.2.1\nurl\thttp://x/\\x09y\n");

    char *invalid[] = {"pattern", "check", "[a:b[0 AND c:d = 1]"};
    CHECK(run(out, sizeof out, 3, invalid) == 1);
    CHECK_STR(out, "invalid: at 7: expected ']' but found 'AND'\n"
                   "  [a:b[0 AND c:d = 1]\n"
                   "         ^\n");
    /* The caret counts characters, and shows the line the error is on. */
    char *second[] = {"pattern", "check", "[a:b = 'é'\n AND c:d = é]"};
    CHECK(run(out, sizeof out, 3, second) == 1);
    CHECK_STR(out, "invalid: at 23: expected a literal but found 'é'\n"
                   "   AND c:d = é]\n"
                   "             ^\n");
}

static void test_cmd_json(void)
{
    char out[4096];
    char *valid[] = {"pattern", "--json", "check",
                     "[file:hashes.'SHA-256' = 'aa' OR file:hashes.MD5 = 'bb'] WITHIN 5 SECONDS"};
    CHECK(run(out, sizeof out, 4, valid) == 0);
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    CHECK(o != NULL);
    CHECK(json_is_true(json_object_get(o, "valid")));
    json_t *obs = json_object_get(o, "observables");
    CHECK(json_array_size(obs) == 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(obs, 0), "type")), "file:sha256");
    CHECK_STR(json_string_value(json_object_get(json_array_get(obs, 0), "value")), "aa");
    CHECK_STR(json_string_value(json_object_get(json_array_get(obs, 1), "type")), "file:md5");
    CHECK(json_integer_value(json_object_get(o, "observation_expressions")) == 1);
    CHECK(json_integer_value(json_object_get(o, "comparisons")) == 2);
    CHECK(json_integer_value(json_object_get(o, "qualifiers")) == 1);
    json_decref(o);

    char *invalid[] = {"pattern", "check", "[a:b = 1] REPEATS 0 TIMES", "--json"};
    CHECK(run(out, sizeof out, 4, invalid) == 1);
    CHECK_STR(out, "{\"valid\":false,\"position\":18,\"error\":\"at 18: REPEATS needs a count "
                   "of at least 1\"}\n");
    /* Even an error quoting broken-off multibyte text is valid JSON. */
    char *utf8[] = {"pattern", "check", "--json",
                    "[a:b = 1] 'ééééééééééééééééééééééééééééééééééééééééééé'"};
    CHECK(run(out, sizeof out, 4, utf8) == 1);
    o = json_loads(out, 0, &jerr);
    CHECK(o != NULL && json_integer_value(json_object_get(o, "position")) == 10);
    json_decref(o);
}

static void test_cmd_usage(void)
{
    char out[4096];
    char *none[] = {"pattern"};
    CHECK(run(out, sizeof out, 1, none) == 2 && strstr(s_fail_msg, "usage:") != NULL);
    char *no_pattern[] = {"pattern", "check"};
    CHECK(run(out, sizeof out, 2, no_pattern) == 2);
    char *other[] = {"pattern", "parse", "[a:b = 1]"};
    CHECK(run(out, sizeof out, 3, other) == 2);
    char *extra[] = {"pattern", "check", "[a:b = 1]", "[c:d = 2]"};
    CHECK(run(out, sizeof out, 4, extra) == 2);
    char *option[] = {"pattern", "--jsn", "check", "[a:b = 1]"};
    CHECK(run(out, sizeof out, 4, option) == 2);
    CHECK(out[0] == '\0'); /* usage goes to stderr only */
}

int main(void)
{
    RUN(test_spec_examples);
    RUN(test_invalid);
    RUN(test_valid_corners);
    RUN(test_limits);
    RUN(test_extract_hashes);
    RUN(test_extract_sets_and_negation);
    RUN(test_extract_nested);
    RUN(test_extract_unmapped);
    RUN(test_extract_unescape_and_positions);
    RUN(test_ind_pattern_roundtrip);
    RUN(test_cmd_text);
    RUN(test_cmd_json);
    RUN(test_cmd_usage);
    return TEST_DONE();
}
