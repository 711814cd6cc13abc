/* The MOU document: strict parser, hash, signatures, direction queries.
 * docs/MOU.md is the format reference; every rule below is stated there. */
#include "mou.h"
#include "ctxsig.h"
#include "keyfile.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mou {
    char id[MOU_ID_MAX + 1];
    char title[MOU_TITLE_MAX + 1];
    char agency[2][AGENCY_MAX + 1];
    unsigned char fp[2][FP_BYTES];
    char fp_text[2][FP_STRLEN];
    uint64_t effective_ms, expires_ms;
    mou_dir_t dir[2];
    int has_dir[2];
    unsigned char hash[MOU_HASH_BYTES];
    char hash_hex[MOU_HASH_HEX];
};

/* ---- the parser ---- */

#define SEC_HEADER (-1)

typedef struct s_parser s_parser_t;
typedef int (*s_handler_t)(s_parser_t *p, const char *key, const char *value);

typedef struct {
    const char *key;
    s_handler_t fn;
    int required;
} s_key_t;

struct s_parser {
    const char *source;
    char *err;
    size_t errlen;
    mou_t *m;
    unsigned line;
    int section;                 /* SEC_HEADER, MOU_A_TO_B or MOU_B_TO_A */
    int saw_key;                 /* any key line yet (the first must be moux-mou) */
    unsigned header_seen[8];     /* line of each header key, 0: not yet */
    unsigned dir_seen[2][12];    /* line of each direction key */
    unsigned section_line[2];    /* line of each section header, 0: absent */
};

static int s_fail(s_parser_t *p, unsigned line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(s_parser_t *p, unsigned line, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field)
        snprintf(p->err, p->errlen, "%s:%u: %s: %s", p->source, line, field, msg);
    else
        snprintf(p->err, p->errlen, "%s:%u: %s", p->source, line, msg);
    return -1;
}

/* Shortens a value for quoting in an error. */
static const char *s_q(const char *value, char buf[80])
{
    size_t n = strlen(value);
    if (n < 72)
        return value;
    memcpy(buf, value, 64);
    memcpy(buf + 64, "...", 4);
    return buf;
}

/* A whole number without sign, spaces or leading zeros, in [lo, hi]. */
static int s_uint(s_parser_t *p, const char *key, const char *v, uint64_t lo, uint64_t hi,
                  uint64_t *out)
{
    char qb[80];
    size_t n = strlen(v);
    int ok = n > 0 && n <= 19 && (v[0] != '0' || n == 1);
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= '0' && v[i] <= '9';
    uint64_t x = ok ? strtoull(v, NULL, 10) : 0;
    if (!ok || x < lo || x > hi)
        return s_fail(p, p->line, key, "\"%s\" is not a whole number from %" PRIu64 " to %" PRIu64
                      " (digits only, no leading zeros)", s_q(v, qb), lo, hi);
    *out = x;
    return 0;
}

/* "YYYY-MM-DD" (00:00:00Z that day) or "YYYY-MM-DDTHH:MM:SSZ", UTC. */
static int s_time(s_parser_t *p, const char *key, const char *v, uint64_t *out)
{
    static const char *shape_d = "dddd-dd-dd", *shape_t = "dddd-dd-ddTdd:dd:ddZ";
    char qb[80];
    size_t n = strlen(v);
    const char *shape = n == strlen(shape_d) ? shape_d : n == strlen(shape_t) ? shape_t : NULL;
    int ok = shape != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = shape[i] == 'd' ? (v[i] >= '0' && v[i] <= '9') : v[i] == shape[i];
    if (!ok)
        return s_fail(p, p->line, key, "\"%s\" is not a UTC date YYYY-MM-DD or time "
                      "YYYY-MM-DDTHH:MM:SSZ", s_q(v, qb));
    /* parse_time_ms takes :60 and normalises it away; one spelling only. */
    if ((shape == shape_t && (v[17] > '5')) || parse_time_ms(v, out) != 0)
        return s_fail(p, p->line, key, "\"%s\" is not a valid date and time", v);
    return 0;
}

/* Splits a comma list: entries trimmed of spaces, none empty, none twice,
 * each at most cap-1 bytes, at most max of them. */
static int s_list(s_parser_t *p, const char *key, const char *v, char *items, size_t cap,
                  size_t max, size_t *n)
{
    char qb[80];
    *n = 0;
    const char *s = v;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        while (s < end && *s == ' ')
            s++;
        const char *e = end;
        while (e > s && e[-1] == ' ')
            e--;
        size_t len = (size_t)(e - s);
        if (len == 0)
            return s_fail(p, p->line, key, "empty entry in the list \"%s\"", s_q(v, qb));
        if (*n == max)
            return s_fail(p, p->line, key, "more than %zu entries", max);
        if (len >= cap)
            return s_fail(p, p->line, key, "entry \"%.*s...\" is longer than %zu bytes", 32,
                          s, cap - 1);
        char *item = items + *n * cap;
        memcpy(item, s, len);
        item[len] = '\0';
        if (memchr(item, ' ', len))
            return s_fail(p, p->line, key, "\"%s\" is not one entry (separate entries with "
                          "commas)", s_q(item, qb));
        for (size_t i = 0; i < *n; i++)
            if (strcmp(items + i * cap, item) == 0)
                return s_fail(p, p->line, key, "\"%s\" is listed twice", item);
        (*n)++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

/* ---- header keys ---- */

static int h_version(s_parser_t *p, const char *key, const char *v)
{
    if (strcmp(v, "1") == 0)
        return 0;
    int digits = v[0] != '\0';
    for (const char *c = v; *c; c++)
        digits = digits && isdigit((unsigned char)*c);
    char qb[80];
    if (digits)
        return s_fail(p, p->line, key, "format version %s is not supported (this moux reads "
                      "version 1)", s_q(v, qb));
    return s_fail(p, p->line, key, "\"%s\" is not a format version (write \"moux-mou: 1\")",
                  s_q(v, qb));
}

static int h_id(s_parser_t *p, const char *key, const char *v)
{
    size_t n = strlen(v);
    int ok = n >= 1 && n <= MOU_ID_MAX && (islower((unsigned char)v[0]) ||
                                           isdigit((unsigned char)v[0]));
    for (size_t i = 0; ok && i < n; i++)
        ok = islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '.' ||
             v[i] == '-' || v[i] == '_';
    char qb[80];
    if (!ok)
        return s_fail(p, p->line, key, "\"%s\" is not an MOU id (1-%d of a-z 0-9 . - _, "
                      "starting with a letter or digit)", s_q(v, qb), MOU_ID_MAX);
    memcpy(p->m->id, v, n + 1);
    return 0;
}

static int h_title(s_parser_t *p, const char *key, const char *v)
{
    if (strlen(v) > MOU_TITLE_MAX)
        return s_fail(p, p->line, key, "longer than %d bytes", MOU_TITLE_MAX);
    str_copy(p->m->title, sizeof p->m->title, v);
    return 0;
}

static int h_party(s_parser_t *p, const char *key, const char *v)
{
    static const char *form = "AGENCY root-fingerprint XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX";
    int i = strcmp(key, "party-a") == 0 ? 0 : 1;
    char agency[AGENCY_MAX + 2], word[32], fptext[128], qb[80];
    const char *s1 = strchr(v, ' ');
    const char *s2 = s1 ? strchr(s1 + 1, ' ') : NULL;
    if (!s1 || !s2 || strchr(s2 + 1, ' ') || s1 == v || s2 == s1 + 1 || !s2[1] ||
        (size_t)(s1 - v) > AGENCY_MAX || (size_t)(s2 - s1 - 1) >= sizeof word ||
        strlen(s2 + 1) >= sizeof fptext)
        return s_fail(p, p->line, key, "\"%s\" is not \"%s\"", s_q(v, qb), form);
    memcpy(agency, v, (size_t)(s1 - v));
    agency[s1 - v] = '\0';
    memcpy(word, s1 + 1, (size_t)(s2 - s1 - 1));
    word[s2 - s1 - 1] = '\0';
    strcpy(fptext, s2 + 1);
    if (!agency_id_valid(agency))
        return s_fail(p, p->line, key, "\"%s\" is not an agency id (1-%d of a-z 0-9 . -, "
                      "starting with a letter or digit; not \"local\")", agency, AGENCY_MAX);
    if (strcmp(word, "root-fingerprint") != 0)
        return s_fail(p, p->line, key, "expected \"root-fingerprint\" after the agency id, "
                      "found \"%s\" (%s)", word, form);
    unsigned char fp[FP_BYTES];
    char canon[FP_STRLEN];
    if (fingerprint_parse(fptext, fp) != 0)
        return s_fail(p, p->line, key, "\"%s\" is not a root fingerprint (32 symbols of "
                      "A-Z 2-7 in eight groups of four, as \"moux keys root-pub\" prints it)",
                      fptext);
    fingerprint_format(fp, canon);
    if (strcmp(canon, fptext) != 0)
        return s_fail(p, p->line, key, "write the fingerprint as %s (upper case, eight "
                      "groups of four)", canon);
    strcpy(p->m->agency[i], agency);
    memcpy(p->m->fp[i], fp, FP_BYTES);
    strcpy(p->m->fp_text[i], canon);
    return 0;
}

static int h_effective(s_parser_t *p, const char *key, const char *v)
{
    return s_time(p, key, v, &p->m->effective_ms);
}

static int h_expires(s_parser_t *p, const char *key, const char *v)
{
    return s_time(p, key, v, &p->m->expires_ms);
}

enum { H_VERSION, H_ID, H_TITLE, H_PARTY_A, H_PARTY_B, H_EFFECTIVE, H_EXPIRES, H_COUNT };

static const s_key_t s_header_keys[H_COUNT] = {
    [H_VERSION] = {"moux-mou", h_version, 1},  [H_ID] = {"id", h_id, 1},
    [H_TITLE] = {"title", h_title, 1},         [H_PARTY_A] = {"party-a", h_party, 1},
    [H_PARTY_B] = {"party-b", h_party, 1},     [H_EFFECTIVE] = {"effective", h_effective, 1},
    [H_EXPIRES] = {"expires", h_expires, 1},
};

/* ---- direction keys ---- */

static mou_dir_t *s_dir(s_parser_t *p)
{
    return &p->m->dir[p->section];
}

static int d_types(s_parser_t *p, const char *key, const char *v)
{
    char items[2 * IND_TYPE_COUNT][32];
    size_t n = 0;
    if (s_list(p, key, v, items[0], sizeof items[0], 2 * IND_TYPE_COUNT, &n) != 0)
        return -1;
    uint32_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        ind_type_t t;
        if (strcmp(items[i], "all") == 0) {
            if (n != 1)
                return s_fail(p, p->line, key, "\"all\" stands alone (it means every type)");
            mask = MOU_ALL_TYPES;
        } else if (ind_type_parse(items[i], &t) != 0) {
            return s_fail(p, p->line, key, "\"%s\" is not an indicator type (all, or a list "
                          "of ipv4-addr, ipv6-addr, domain-name, url, email-addr, file:md5, "
                          "file:sha1, file:sha256)", items[i]);
        } else if (strcmp(items[i], ind_type_name(t)) != 0) {
            return s_fail(p, p->line, key, "write \"%s\" as \"%s\"", items[i],
                          ind_type_name(t));
        } else if (mask & (1u << t)) {
            return s_fail(p, p->line, key, "\"%s\" is listed twice", items[i]);
        } else {
            mask |= 1u << t;
        }
    }
    s_dir(p)->types = mask;
    return 0;
}

static int d_max_tlp(s_parser_t *p, const char *key, const char *v)
{
    char qb[80];
    for (int t = 0; t < TLP_COUNT; t++)
        if (strcmp(v, tlp_name((tlp_t)t)) == 0) {
            s_dir(p)->max_tlp = (tlp_t)t;
            return 0;
        }
    return s_fail(p, p->line, key, "\"%s\" is not a TLP 2.0 level (clear, green, amber, "
                  "amber+strict, red; lower case)", s_q(v, qb));
}

static int d_onward(s_parser_t *p, const char *key, const char *v)
{
    mou_dir_t *d = s_dir(p);
    char qb[80];
    if (strcmp(v, "none") == 0) {
        d->onward = MOU_ONWARD_NONE;
        return 0;
    }
    if (strcmp(v, "tlp") == 0) {
        d->onward = MOU_ONWARD_TLP;
        return 0;
    }
    if (strncmp(v, "agencies ", 9) != 0)
        return s_fail(p, p->line, key, "\"%s\" is not none, tlp or \"agencies ID, ID, ...\"",
                      s_q(v, qb));
    if (s_list(p, key, v + 9, d->onward_agencies[0], sizeof d->onward_agencies[0],
               MOU_MAX_ONWARD, &d->n_onward) != 0)
        return -1;
    for (size_t i = 0; i < d->n_onward; i++) {
        const char *a = d->onward_agencies[i];
        if (!agency_id_valid(a))
            return s_fail(p, p->line, key, "\"%s\" is not an agency id (1-%d of a-z 0-9 . -, "
                          "starting with a letter or digit)", a, AGENCY_MAX);
        if (strcmp(a, p->m->agency[0]) == 0 || strcmp(a, p->m->agency[1]) == 0)
            return s_fail(p, p->line, key, "%s is a party to this MOU, not an onward "
                          "recipient", a);
    }
    d->onward = MOU_ONWARD_AGENCIES;
    return 0;
}

static int d_anonymise(s_parser_t *p, const char *key, const char *v)
{
    char qb[80];
    if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
        return s_fail(p, p->line, key, "\"%s\" is not yes or no", s_q(v, qb));
    s_dir(p)->anonymise = v[0] == 'y';
    return 0;
}

static int d_retention(s_parser_t *p, const char *key, const char *v)
{
    uint64_t x;
    if (s_uint(p, key, v, 1, MOU_RETENTION_MAX, &x) != 0)
        return -1;
    s_dir(p)->retention_days = (uint32_t)x;
    return 0;
}

static int d_min_confidence(s_parser_t *p, const char *key, const char *v)
{
    uint64_t x;
    if (s_uint(p, key, v, 0, 100, &x) != 0)
        return -1;
    s_dir(p)->min_confidence = (uint32_t)x;
    return 0;
}

static int d_purposes(s_parser_t *p, const char *key, const char *v)
{
    mou_dir_t *d = s_dir(p);
    if (s_list(p, key, v, d->purposes[0], sizeof d->purposes[0], MOU_MAX_PURPOSES,
               &d->n_purposes) != 0)
        return -1;
    for (size_t i = 0; i < d->n_purposes; i++) {
        const char *l = d->purposes[i];
        int ok = islower((unsigned char)l[0]) || isdigit((unsigned char)l[0]);
        for (const char *c = l; ok && *c; c++)
            ok = islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' ||
                 *c == '.' || *c == '_' || *c == ':';
        if (!ok)
            return s_fail(p, p->line, key, "\"%s\" is not a purpose label (1-%d of a-z 0-9 - "
                          ". _ :, starting with a letter or digit)", l, MOU_LABEL_MAX);
    }
    return 0;
}

static int d_daily_limit(s_parser_t *p, const char *key, const char *v)
{
    return s_uint(p, key, v, 1, MOU_DAILY_LIMIT_MAX, &s_dir(p)->daily_limit);
}

static int d_receipts(s_parser_t *p, const char *key, const char *v)
{
    char qb[80];
    if (strcmp(v, "required") != 0 && strcmp(v, "optional") != 0)
        return s_fail(p, p->line, key, "\"%s\" is not required or optional", s_q(v, qb));
    s_dir(p)->receipts_required = v[0] == 'r';
    return 0;
}

enum {
    D_TYPES, D_MAX_TLP, D_ONWARD, D_ANONYMISE, D_RETENTION, D_MIN_CONFIDENCE, D_PURPOSES,
    D_DAILY_LIMIT, D_RECEIPTS, D_COUNT
};

static const s_key_t s_dir_keys[D_COUNT] = {
    [D_TYPES] = {"types", d_types, 1},
    [D_MAX_TLP] = {"max-tlp", d_max_tlp, 1},
    [D_ONWARD] = {"onward", d_onward, 1},
    [D_ANONYMISE] = {"anonymise", d_anonymise, 1},
    [D_RETENTION] = {"retention-days", d_retention, 1},
    [D_MIN_CONFIDENCE] = {"min-confidence", d_min_confidence, 1},
    [D_PURPOSES] = {"purposes", d_purposes, 0},
    [D_DAILY_LIMIT] = {"daily-limit", d_daily_limit, 0},
    [D_RECEIPTS] = {"receipts", d_receipts, 1},
};

static const char *s_section_name[2] = {"[a-to-b]", "[b-to-a]"};

static int s_find(const s_key_t *table, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].key, key) == 0)
            return i;
    return -1;
}

/* The header is complete: required keys, and the rules across keys. line:
 * where the header ended (a section header, or the last line). */
static int s_header_done(s_parser_t *p, unsigned line)
{
    mou_t *m = p->m;
    for (int i = 0; i < H_COUNT; i++)
        if (s_header_keys[i].required && !p->header_seen[i])
            return s_fail(p, line, s_header_keys[i].key, "missing (a required key, before "
                          "the first section)");
    if (strcmp(m->agency[0], m->agency[1]) == 0)
        return s_fail(p, p->header_seen[H_PARTY_B], "party-b", "%s is also party-a (the "
                      "parties must be two different agencies)", m->agency[1]);
    if (memcmp(m->fp[0], m->fp[1], FP_BYTES) == 0)
        return s_fail(p, p->header_seen[H_PARTY_B], "party-b", "states the same root "
                      "fingerprint as party-a (one root cannot be two agencies)");
    if (m->expires_ms <= m->effective_ms) {
        char a[32], b[32];
        format_time_ms(m->effective_ms, a);
        format_time_ms(m->expires_ms, b);
        return s_fail(p, p->header_seen[H_EXPIRES], "expires", "%s is not after effective "
                      "%s (line %u)", b, a, p->header_seen[H_EFFECTIVE]);
    }
    return 0;
}

/* The current direction section is complete. */
static int s_section_done(s_parser_t *p)
{
    int s = p->section;
    unsigned *seen = p->dir_seen[s];
    int any = 0;
    for (int i = 0; i < D_COUNT; i++)
        any |= seen[i] != 0;
    if (!any)
        return s_fail(p, p->section_line[s], s_section_name[s], "empty direction (remove the "
                      "section for a one-way agreement)");
    for (int i = 0; i < D_COUNT; i++)
        if (s_dir_keys[i].required && !seen[i])
            return s_fail(p, p->section_line[s], s_section_name[s], "missing required key "
                          "\"%s\"", s_dir_keys[i].key);
    mou_dir_t *d = &p->m->dir[s];
    d->line = p->section_line[s];
    strcpy(d->from, p->m->agency[s == MOU_A_TO_B ? 0 : 1]);
    strcpy(d->to, p->m->agency[s == MOU_A_TO_B ? 1 : 0]);
    p->m->has_dir[s] = 1;
    return 0;
}

static int s_section(s_parser_t *p, const char *text)
{
    int s = strcmp(text, "[a-to-b]") == 0 ? MOU_A_TO_B
            : strcmp(text, "[b-to-a]") == 0 ? MOU_B_TO_A : -1;
    char qb[80];
    if (s < 0)
        return s_fail(p, p->line, NULL, "unknown section \"%s\" (sections: [a-to-b], [b-to-a])",
                      s_q(text, qb));
    if (!p->saw_key)
        return s_fail(p, p->line, NULL, "not a moux MOU: the first line that is not a comment "
                      "must be \"moux-mou: 1\"");
    if (p->section_line[s])
        return s_fail(p, p->line, s_section_name[s], "duplicate section (first at line %u)",
                      p->section_line[s]);
    if (p->section == SEC_HEADER ? s_header_done(p, p->line) : s_section_done(p))
        return -1;
    p->section = s;
    p->section_line[s] = p->line;
    return 0;
}

static int s_key_line(s_parser_t *p, char *text)
{
    char qb[80];
    char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : 0;
    int ok = klen > 0;
    for (size_t i = 0; ok && i < klen; i++)
        ok = islower((unsigned char)text[i]) || isdigit((unsigned char)text[i]) || text[i] == '-';
    if (!ok)
        return s_fail(p, p->line, NULL, "\"%s\" is not \"key: value\", a [section], a "
                      "comment or a blank line", s_q(text, qb));
    *colon = '\0';
    const char *key = text, *value = colon + 1;
    if (!p->saw_key && strcmp(key, "moux-mou") != 0)
        return s_fail(p, p->line, NULL, "not a moux MOU: the first line that is not a comment "
                      "must be \"moux-mou: 1\"");
    p->saw_key = 1;
    const s_key_t *table = p->section == SEC_HEADER ? s_header_keys : s_dir_keys;
    int ntable = p->section == SEC_HEADER ? H_COUNT : D_COUNT;
    unsigned *seen = p->section == SEC_HEADER ? p->header_seen : p->dir_seen[p->section];
    int k = s_find(table, ntable, key);
    if (k < 0) {
        if (p->section == SEC_HEADER && s_find(s_dir_keys, D_COUNT, key) >= 0)
            return s_fail(p, p->line, key, "belongs in a direction section ([a-to-b] or "
                          "[b-to-a]), not before them");
        if (p->section != SEC_HEADER && s_find(s_header_keys, H_COUNT, key) >= 0)
            return s_fail(p, p->line, key, "belongs before the first section, not in %s",
                          s_section_name[p->section]);
        return s_fail(p, p->line, key, "unknown key%s%s", p->section == SEC_HEADER ? "" : " in ",
                      p->section == SEC_HEADER ? "" : s_section_name[p->section]);
    }
    if (seen[k])
        return s_fail(p, p->line, key, "duplicate key (first at line %u)", seen[k]);
    if (value[0] == '\0')
        return s_fail(p, p->line, key, "no value (write \"%s: VALUE\"; leave an optional key "
                      "out instead)", key);
    if (value[0] != ' ')
        return s_fail(p, p->line, key, "expected one space after the ':'");
    value++;
    if (value[0] == ' ')
        return s_fail(p, p->line, key, "more than one space after the ':'");
    const char *lt = strchr(value, '<');
    if (lt || strchr(value, '>')) {
        char ph[80];
        const char *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt && gt - lt < 72)
            snprintf(ph, sizeof ph, "%.*s", (int)(gt - lt + 1), lt);
        else
            str_copy(ph, sizeof ph, s_q(value, qb));
        return s_fail(p, p->line, key, "template placeholder \"%s\" not filled in", ph);
    }
    seen[k] = p->line;
    return table[k].fn(p, key, value);
}

static int s_line(s_parser_t *p, char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\r')
            return s_fail(p, p->line, NULL, "carriage return (CR): MOU files have LF line ends "
                          "only");
        if (c == '\t')
            return s_fail(p, p->line, NULL, "TAB character at column %zu (use spaces)", i + 1);
        if (c < 0x20 || c > 0x7e)
            return s_fail(p, p->line, NULL, "byte 0x%02x at column %zu is not printable ASCII",
                          c, i + 1);
    }
    if (n == 0 || text[0] == '#')
        return 0;
    if (text[0] == ' ')
        return s_fail(p, p->line, NULL, "line starts with a space (keys, sections and comments "
                      "start in column 1)");
    if (text[n - 1] == ' ')
        return s_fail(p, p->line, NULL, "trailing space");
    if (text[0] == '[')
        return s_section(p, text);
    return s_key_line(p, text);
}

int mou_parse(const char *text, size_t len, const char *source, mou_t **out, char *err,
              size_t errlen)
{
    static char s_dummy[1];
    s_parser_t p = {0};
    p.source = source ? source : "MOU";
    p.err = err ? err : s_dummy;
    p.errlen = err ? errlen : sizeof s_dummy;
    p.section = SEC_HEADER;
    *out = NULL;
    if (len > MOU_MAX_BYTES)
        return s_fail(&p, 1, NULL, "larger than %d bytes", MOU_MAX_BYTES);
    if (len == 0)
        return s_fail(&p, 1, NULL, "empty file (an MOU starts with \"moux-mou: 1\")");
    if (!(p.m = calloc(1, sizeof *p.m))) {
        snprintf(p.err, p.errlen, "%s: out of memory", p.source);
        return -1;
    }
    char *buf = malloc(MOU_LINE_MAX + 1);
    int rc = buf ? 0 : -1;
    if (!buf)
        snprintf(p.err, p.errlen, "%s: out of memory", p.source);
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        p.line++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        if (n > MOU_LINE_MAX) {
            rc = s_fail(&p, p.line, NULL, "line longer than %d bytes", MOU_LINE_MAX);
            break;
        }
        memcpy(buf, start, n);
        buf[n] = '\0';
        rc = s_line(&p, buf, n);
        if (rc == 0 && !nl)
            rc = s_fail(&p, p.line, NULL, "the last line does not end with a newline");
        pos += n + 1;
    }
    free(buf);
    if (rc == 0 && !p.saw_key)
        rc = s_fail(&p, p.line, NULL, "not a moux MOU: no \"moux-mou: 1\" line (only comments "
                    "and blank lines)");
    if (rc == 0)
        rc = p.section == SEC_HEADER ? s_header_done(&p, p.line) : s_section_done(&p);
    if (rc == 0 && !p.m->has_dir[0] && !p.m->has_dir[1])
        rc = s_fail(&p, p.line, NULL, "no direction: an MOU needs [a-to-b], [b-to-a] or both");
    if (rc != 0) {
        free(p.m);
        return -1;
    }
    mou_hash(text, len, p.m->hash);
    hex_encode(p.m->hash, MOU_HASH_BYTES, p.m->hash_hex);
    *out = p.m;
    return 0;
}

int mou_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > MOU_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, MOU_MAX_BYTES);
        close(fd);
        return -1;
    }
    char *buf = malloc(MOU_MAX_BYTES + 2);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, MOU_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > MOU_MAX_BYTES) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, MOU_MAX_BYTES);
            free(buf);
            close(fd);
            return -1;
        }
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

int mou_load(const char *path, mou_t **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    *out = NULL;
    if (mou_read_file(path, &text, &len, err, errlen) != 0)
        return -1;
    int rc = mou_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

void mou_destroy(mou_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

/* ---- accessors ---- */

const char *mou_id(const mou_t *self)
{
    return self->id;
}

const char *mou_title(const mou_t *self)
{
    return self->title;
}

const char *mou_party(const mou_t *self, int i)
{
    return i == 0 || i == 1 ? self->agency[i] : NULL;
}

const unsigned char *mou_party_fp(const mou_t *self, int i)
{
    return i == 0 || i == 1 ? self->fp[i] : NULL;
}

const char *mou_party_fp_text(const mou_t *self, int i)
{
    return i == 0 || i == 1 ? self->fp_text[i] : NULL;
}

int mou_party_index(const mou_t *self, const char *agency)
{
    if (!agency)
        return -1;
    for (int i = 0; i < 2; i++)
        if (strcmp(self->agency[i], agency) == 0)
            return i;
    return -1;
}

const char *mou_peer_of(const mou_t *self, const char *agency)
{
    int i = mou_party_index(self, agency);
    return i < 0 ? NULL : self->agency[1 - i];
}

uint64_t mou_effective_ms(const mou_t *self)
{
    return self->effective_ms;
}

uint64_t mou_expires_ms(const mou_t *self)
{
    return self->expires_ms;
}

int mou_valid_at(const mou_t *self, uint64_t now, char *why, size_t whylen)
{
    char t[32];
    if (now < self->effective_ms) {
        format_time_ms(self->effective_ms, t);
        if (why)
            snprintf(why, whylen, "not yet effective (effective %s)", t);
        return 0;
    }
    if (now >= self->expires_ms) {
        format_time_ms(self->expires_ms, t);
        if (why)
            snprintf(why, whylen, "expired (expires %s)", t);
        return 0;
    }
    if (why && whylen)
        why[0] = '\0';
    return 1;
}

void mou_hash(const char *text, size_t len, unsigned char out[MOU_HASH_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)text, len);
}

const unsigned char *mou_hash_bytes(const mou_t *self)
{
    return self->hash;
}

const char *mou_hash_hex(const mou_t *self)
{
    return self->hash_hex;
}

/* ---- directions ---- */

const mou_dir_t *mou_dir(const mou_t *self, int index)
{
    if (index != MOU_A_TO_B && index != MOU_B_TO_A)
        return NULL;
    return self->has_dir[index] ? &self->dir[index] : NULL;
}

const mou_dir_t *mou_direction(const mou_t *self, const char *from, const char *to)
{
    if (!from || !to)
        return NULL;
    if (strcmp(from, self->agency[0]) == 0 && strcmp(to, self->agency[1]) == 0)
        return mou_dir(self, MOU_A_TO_B);
    if (strcmp(from, self->agency[1]) == 0 && strcmp(to, self->agency[0]) == 0)
        return mou_dir(self, MOU_B_TO_A);
    return NULL;
}

mou_item_t mou_dir_check_item(const mou_dir_t *d, ind_type_t type, tlp_t tlp,
                              uint32_t confidence, const char *const *labels, size_t n_labels)
{
    if ((unsigned)type >= IND_TYPE_COUNT || !(d->types & (1u << type)))
        return MOU_ITEM_TYPE;
    if ((int)tlp < 0 || (int)tlp > (int)d->max_tlp)
        return MOU_ITEM_TLP;
    if (confidence < d->min_confidence)
        return MOU_ITEM_CONFIDENCE;
    if (d->n_purposes == 0)
        return MOU_ITEM_OK;
    for (size_t i = 0; i < n_labels; i++)
        for (size_t j = 0; labels && labels[i] && j < d->n_purposes; j++)
            if (strcmp(labels[i], d->purposes[j]) == 0)
                return MOU_ITEM_OK;
    return MOU_ITEM_PURPOSE;
}

const char *mou_item_field(mou_item_t verdict)
{
    switch (verdict) {
    case MOU_ITEM_TYPE: return "types";
    case MOU_ITEM_TLP: return "max-tlp";
    case MOU_ITEM_CONFIDENCE: return "min-confidence";
    case MOU_ITEM_PURPOSE: return "purposes";
    default: return "";
    }
}

int mou_dir_onward_allowed(const mou_dir_t *d, const char *agency)
{
    switch (d->onward) {
    case MOU_ONWARD_TLP: return 1;
    case MOU_ONWARD_AGENCIES:
        for (size_t i = 0; agency && i < d->n_onward; i++)
            if (strcmp(d->onward_agencies[i], agency) == 0)
                return 1;
        return 0;
    default: return 0;
    }
}

const char *mou_onward_name(mou_onward_t onward)
{
    switch (onward) {
    case MOU_ONWARD_TLP: return "tlp";
    case MOU_ONWARD_AGENCIES: return "agencies";
    default: return "none";
    }
}

void mou_types_format(uint32_t types, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    if ((types & MOU_ALL_TYPES) == MOU_ALL_TYPES) {
        str_copy(out, cap, "all");
        return;
    }
    size_t used = 0;
    for (int t = 0; t < IND_TYPE_COUNT; t++)
        if (types & (1u << t)) {
            int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
                             ind_type_name((ind_type_t)t));
            if (n < 0 || (size_t)n >= cap - used)
                return;
            used += (size_t)n;
        }
}

static json_t *s_dir_json(const mou_dir_t *d)
{
    json_t *types = json_array(), *onward = json_array(), *purposes = json_array();
    json_t *o = json_object();
    if (!types || !onward || !purposes || !o)
        goto fail;
    for (int t = 0; t < IND_TYPE_COUNT; t++)
        if (d->types & (1u << t))
            json_array_append_new(types, json_string(ind_type_name((ind_type_t)t)));
    for (size_t i = 0; i < d->n_onward; i++)
        json_array_append_new(onward, json_string(d->onward_agencies[i]));
    for (size_t i = 0; i < d->n_purposes; i++)
        json_array_append_new(purposes, json_string(d->purposes[i]));
    json_object_set_new(o, "from", json_string(d->from));
    json_object_set_new(o, "to", json_string(d->to));
    json_object_set_new(o, "types", types);
    json_object_set_new(o, "all_types", json_boolean((d->types & MOU_ALL_TYPES) == MOU_ALL_TYPES));
    json_object_set_new(o, "max_tlp", json_string(tlp_name(d->max_tlp)));
    json_object_set_new(o, "onward", json_string(mou_onward_name(d->onward)));
    json_object_set_new(o, "onward_agencies", onward);
    json_object_set_new(o, "anonymise", json_boolean(d->anonymise));
    json_object_set_new(o, "retention_days", json_integer(d->retention_days));
    json_object_set_new(o, "min_confidence", json_integer(d->min_confidence));
    json_object_set_new(o, "purposes", purposes);
    json_object_set_new(o, "daily_limit", json_integer((json_int_t)d->daily_limit));
    json_object_set_new(o, "receipts", json_string(d->receipts_required ? "required"
                                                                        : "optional"));
    return o;
fail:
    json_decref(types);
    json_decref(onward);
    json_decref(purposes);
    json_decref(o);
    return NULL;
}

json_t *mou_to_json(const mou_t *self, uint64_t now)
{
    char eff[32], exp[32], why[128];
    format_time_ms(self->effective_ms, eff);
    format_time_ms(self->expires_ms, exp);
    int in_force = mou_valid_at(self, now, why, sizeof why);
    json_t *parties = json_array(), *dirs = json_array();
    json_t *o = json_object();
    if (!parties || !dirs || !o) {
        json_decref(parties);
        json_decref(dirs);
        json_decref(o);
        return NULL;
    }
    for (int i = 0; i < 2; i++)
        json_array_append_new(parties, json_pack("{s:s, s:s, s:s}", "party", i ? "b" : "a",
                                                 "agency", self->agency[i], "fingerprint",
                                                 self->fp_text[i]));
    for (int i = 0; i < 2; i++)
        if (self->has_dir[i]) {
            json_t *d = s_dir_json(&self->dir[i]);
            if (d)
                json_object_set_new(d, "section", json_string(s_section_name[i]));
            json_array_append_new(dirs, d);
        }
    json_object_set_new(o, "format", json_integer(MOU_VERSION));
    json_object_set_new(o, "id", json_string(self->id));
    json_object_set_new(o, "title", json_string(self->title));
    json_object_set_new(o, "hash", json_string(self->hash_hex));
    json_object_set_new(o, "parties", parties);
    json_object_set_new(o, "effective", json_string(eff));
    json_object_set_new(o, "expires", json_string(exp));
    json_object_set_new(o, "effective_ms", json_integer((json_int_t)self->effective_ms));
    json_object_set_new(o, "expires_ms", json_integer((json_int_t)self->expires_ms));
    json_object_set_new(o, "in_force", json_boolean(in_force));
    if (!in_force)
        json_object_set_new(o, "not_in_force", json_string(why));
    json_object_set_new(o, "directions", dirs);
    return o;
}

/* ---- signatures ---- */

static void s_root_fp(const unsigned char pk[32], unsigned char fp[FP_BYTES],
                      char text[FP_STRLEN])
{
    root_fingerprint(pk, fp);
    fingerprint_format(fp, text);
}

int mou_sign(const mou_t *self, const rootkey_t *root, const char *agency,
             const char *root_name, char *line, size_t cap, int *party, char *err,
             size_t errlen)
{
    const char *name = root_name ? root_name : "the root key";
    unsigned char fp[FP_BYTES];
    char fps[FP_STRLEN];
    s_root_fp(root->pk, fp, fps);
    int i = -1;
    if (party)
        *party = -1;
    if (agency) {
        i = mou_party_index(self, agency);
        if (i < 0) {
            snprintf(err, errlen, "%s is not a party to MOU %s (party-a %s, party-b %s)", agency,
                     self->id, self->agency[0], self->agency[1]);
            return -1;
        }
        if (memcmp(fp, self->fp[i], FP_BYTES) != 0) {
            snprintf(err, errlen, "%s is not party-%c %s's root (fingerprint %s, the MOU says %s)",
                     name, 'a' + i, self->agency[i], fps, self->fp_text[i]);
            return -1;
        }
    } else {
        for (int k = 0; k < 2 && i < 0; k++)
            if (memcmp(fp, self->fp[k], FP_BYTES) == 0)
                i = k;
        if (i < 0) {
            snprintf(err, errlen, "%s is not the root of either party (fingerprint %s; the MOU "
                     "says party-a %s %s, party-b %s %s)", name, fps, self->agency[0],
                     self->fp_text[0], self->agency[1], self->fp_text[1]);
            return -1;
        }
    }
    uint8_t sig[64];
    if (ctxsig_sign(MOU_SIG_CONTEXT, self->hash, MOU_HASH_BYTES, root->sk, sig) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char pkb[64], sigb[128];
    b64_encode(root->pk, 32, pkb, sizeof pkb);
    b64_encode(sig, sizeof sig, sigb, sizeof sigb);
    int n = snprintf(line, cap, "%s %d %s %s %s\n", MOU_SIG_LABEL, MOU_VERSION,
                     self->agency[i], pkb, sigb);
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "signature line does not fit");
        return -1;
    }
    if (party)
        *party = i;
    return 0;
}

int mou_sig_parse(const char *line, size_t len, char agency[AGENCY_MAX + 1],
                  unsigned char pk[32], unsigned char sig[64], char *why, size_t whylen)
{
    static const char *form = "\"" MOU_SIG_LABEL " 1 AGENCY ROOT-PUBLIC-KEY SIGNATURE\"";
    char buf[MOU_SIG_LINE_MAX + 1];
    if (len < 2 || len > MOU_SIG_LINE_MAX || line[len - 1] != '\n') {
        snprintf(why, whylen, "not one line %s ending in a newline", form);
        return -1;
    }
    memcpy(buf, line, len - 1);
    buf[len - 1] = '\0';
    for (size_t i = 0; i + 1 < len; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e) {
            snprintf(why, whylen, "not one line %s (byte 0x%02x at column %zu)", form,
                     (unsigned char)line[i], i + 1);
            return -1;
        }
    char *tok[6], *save = NULL;
    int n = 0;
    /* Exactly single spaces: no token may be empty. */
    if (buf[0] == ' ' || strstr(buf, "  ") || buf[len - 2] == ' ') {
        snprintf(why, whylen, "not %s (single spaces only)", form);
        return -1;
    }
    for (char *t = strtok_r(buf, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    if (n != 5 || strcmp(tok[0], MOU_SIG_LABEL) != 0) {
        snprintf(why, whylen, "not %s", form);
        return -1;
    }
    if (strcmp(tok[1], "1") != 0) {
        snprintf(why, whylen, "signature format version \"%.16s\" is not supported (this moux "
                 "reads 1)", tok[1]);
        return -1;
    }
    if (!agency_id_valid(tok[2])) {
        snprintf(why, whylen, "\"%.64s\" is not an agency id", tok[2]);
        return -1;
    }
    if (b64_decode_exact(tok[3], pk, 32) != 0) {
        snprintf(why, whylen, "the root public key is not base64 of 32 bytes");
        return -1;
    }
    if (b64_decode_exact(tok[4], sig, 64) != 0) {
        snprintf(why, whylen, "the signature is not base64 of 64 bytes");
        return -1;
    }
    strcpy(agency, tok[2]);
    return 0;
}

int mou_verify_sig(const mou_t *self, const char *line, size_t len,
                   const unsigned char *const *pinned, int *party, char *why, size_t whylen)
{
    char agency[AGENCY_MAX + 1];
    unsigned char pk[32], sig[64], fp[FP_BYTES];
    char fps[FP_STRLEN];
    if (party)
        *party = -1;
    if (mou_sig_parse(line, len, agency, pk, sig, why, whylen) != 0)
        return -1;
    int i = mou_party_index(self, agency);
    if (i < 0) {
        snprintf(why, whylen, "signed as %s, which is not a party to MOU %s (party-a %s, party-b "
                 "%s)", agency, self->id, self->agency[0], self->agency[1]);
        return -1;
    }
    if (party)
        *party = i;
    s_root_fp(pk, fp, fps);
    if (memcmp(fp, self->fp[i], FP_BYTES) != 0) {
        snprintf(why, whylen, "signed by a root with fingerprint %s, but the MOU states %s for "
                 "party-%c %s", fps, self->fp_text[i], 'a' + i, agency);
        return -1;
    }
    if (ctxsig_verify(MOU_SIG_CONTEXT, self->hash, MOU_HASH_BYTES, pk, sig) != 0) {
        snprintf(why, whylen, "the signature does not verify: the MOU was changed after %s "
                 "signed it, or the signature is of another MOU", agency);
        return -1;
    }
    if (pinned && pinned[i] && sodium_memcmp(pinned[i], pk, 32) != 0) {
        unsigned char pfp[FP_BYTES];
        char pfps[FP_STRLEN];
        s_root_fp(pinned[i], pfp, pfps);
        snprintf(why, whylen, "%s's root in this MOU (fingerprint %s) is not the root this node "
                 "has pinned for %s (fingerprint %s)", agency, fps, agency, pfps);
        return -1;
    }
    return 0;
}

int mou_sig_read(const char *path, char *line, size_t cap, size_t *len, char *err,
                 size_t errlen)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int missing = errno == ENOENT;
        snprintf(err, errlen, "%s: %s", path, missing ? "no such file" : strerror(errno));
        return missing ? 1 : -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    char buf[MOU_SIG_LINE_MAX + 2];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0 || (got += (size_t)r) >= sizeof buf - 1)
            break;
    }
    close(fd);
    if (got > MOU_SIG_LINE_MAX || got + 1 > cap) {
        snprintf(err, errlen, "%s: longer than a signature line (%d bytes)", path,
                 MOU_SIG_LINE_MAX);
        return -1;
    }
    memcpy(line, buf, got);
    line[got] = '\0';
    *len = got;
    return 0;
}

int mou_sig_path(const char *mou_path, const char *agency, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.%s.sig", mou_path, agency);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int mou_node_pins(const char *dir, const mou_t *self, unsigned char pk[2][32], int pinned[2],
                  char own[AGENCY_MAX + 1], char *err, size_t errlen)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    pinned[0] = pinned[1] = 0;
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (config_load(dir, cfg, err, errlen) != 0) {
        free(cfg);
        return -1;
    }
    if (own)
        strcpy(own, cfg->agency);
    int me = mou_party_index(self, cfg->agency);
    free(cfg);
    if (me >= 0) {
        char path[PATH_MAX_MOUX];
        if (snprintf(path, sizeof path, "%s/keys/root.pub", dir) >= (int)sizeof path) {
            snprintf(err, errlen, "%s: path too long", dir);
            return -1;
        }
        key_err_t ke = keyfile_read_public(path, "moux-root-public", pk[me], 32);
        if (ke == KEY_OK)
            pinned[me] = 1;
        else if (!(ke == KEY_ERR_IO && errno == ENOENT)) {
            snprintf(err, errlen, "%s: %s", path, key_strerror(ke));
            return -1;
        }
    }
    store_t *st = store_open(dir, STORE_RO, err, errlen);
    if (!st)
        return -1;
    partner_t *ps = NULL;
    size_t n = 0;
    if (store_partners(st, &ps, &n) != 0) {
        snprintf(err, errlen, "%s: reading partners: %s", dir, store_errmsg(st));
        store_destroy(&st);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        int i = mou_party_index(self, ps[k].agency);
        if (i >= 0 && i != me) {
            memcpy(pk[i], ps[k].root_pk, 32);
            pinned[i] = 1;
        }
    }
    free(ps);
    store_destroy(&st);
    return 0;
}
