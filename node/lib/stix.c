#include "stix.h"
#include "stix_pattern.h"
#include "util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLP 2.0 (the OASIS TLP 2.0 extension, FIRST TLP 2.0), by level. */
static const char *s_tlp2[] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", /* TLP:CLEAR */
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", /* TLP:GREEN */
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", /* TLP:AMBER */
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", /* TLP:AMBER+STRICT */
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", /* TLP:RED */
};
static const char *s_tlp2_names[] = {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT",
                                     "TLP:RED"};
static const char *s_tlp2_ext = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/* TLP 1.0 (STIX 2.1 section 7.2.1.4). */
static const struct {
    const char *id;
    tlp_t level;
} s_tlp1[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP_CLEAR}, /* WHITE */
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP_GREEN},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP_AMBER},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP_RED},
};

const char *stix_tlp2_id(tlp_t level)
{
    return (unsigned)level <= TLP_RED ? s_tlp2[level] : s_tlp2[TLP_RED];
}

int stix_tlp_of_marking(const char *id, tlp_t *out)
{
    if (!id)
        return -1;
    for (int i = 0; i <= TLP_RED; i++)
        if (strcmp(id, s_tlp2[i]) == 0) {
            *out = (tlp_t)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof s_tlp1 / sizeof s_tlp1[0]; i++)
        if (strcmp(id, s_tlp1[i].id) == 0) {
            *out = s_tlp1[i].level;
            return 0;
        }
    return -1;
}

int stix_tlp_of_definition(const json_t *md, tlp_t *out)
{
    const char *level = NULL;
    const char *dt = json_string_value(json_object_get(md, "definition_type"));
    if (dt && strcmp(dt, "tlp") == 0)
        level = json_string_value(json_object_get(json_object_get(md, "definition"), "tlp"));
    json_t *ext = json_object_get(json_object_get(md, "extensions"), s_tlp2_ext);
    if (!level && ext)
        level = json_string_value(json_object_get(ext, "tlp_2_0"));
    if (!level)
        return -1;
    if (strcmp(level, "white") == 0) {
        *out = TLP_CLEAR;
        return 0;
    }
    return tlp_parse(level, out);
}

json_t *stix_tlp2_definition(tlp_t level)
{
    if ((unsigned)level > TLP_RED)
        level = TLP_RED;
    json_t *ext = json_pack("{s:{s:s, s:s}}", s_tlp2_ext, "extension_type", "property-extension",
                            "tlp_2_0", tlp_name(level));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "type", "marking-definition",
                     "spec_version", "2.1", "id", s_tlp2[level], "created",
                     "2022-10-01T00:00:00.000Z", "name", s_tlp2_names[level], "extensions", ext);
}

json_t *stix_tlp1_definition(const char *id)
{
    static const char *names[] = {"white", "green", "amber", "red"};
    for (size_t i = 0; id && i < sizeof s_tlp1 / sizeof s_tlp1[0]; i++)
        if (strcmp(id, s_tlp1[i].id) == 0) {
            char name[16] = "TLP:";
            for (size_t j = 0; names[i][j]; j++)
                name[4 + j] = (char)(names[i][j] - 'a' + 'A');
            return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "type",
                             "marking-definition", "spec_version", "2.1", "id", id, "created",
                             "2017-01-20T00:00:00.000Z", "definition_type", "tlp", "name", name,
                             "definition", "tlp", names[i]);
        }
    return NULL;
}

/* ---- timestamps ---- */

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t s_days(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int stix_time_parse(const char *t, uint64_t *ns, int *frac)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, s;
    if (!t || strlen(t) < 20 || s_digits(t, 4, &y) || t[4] != '-' || s_digits(t + 5, 2, &mo) ||
        t[7] != '-' || s_digits(t + 8, 2, &d) || t[10] != 'T' || s_digits(t + 11, 2, &h) ||
        t[13] != ':' || s_digits(t + 14, 2, &mi) || t[16] != ':' || s_digits(t + 17, 2, &s))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        s > 60)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    const char *p = t + 19;
    uint64_t nanos = 0;
    int n = 0;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 9)
                nanos = nanos * 10 + (uint64_t)(*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (int i = n; i < 9; i++)
            nanos *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return -1;
    int64_t secs = s_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (secs < 0 || (uint64_t)secs > UINT64_MAX / 1000000000u - 1)
        return -1;
    *ns = (uint64_t)secs * 1000000000u + nanos;
    if (frac)
        *frac = n;
    return 0;
}

/* ---- import ---- */

static int s_why(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_why(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* An optional property of the given JSON type (0), absent (0), or wrong. */
static int s_opt(const json_t *obj, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (type == JSON_TRUE)
        return json_is_boolean(v) ? 0 : -1;
    return json_typeof(v) == type ? 0 : -1;
}

/* An optional array of non-empty strings with at least one element. */
static int s_opt_strings(const json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key), *v;
    size_t i;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) == 0)
        return -1;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return -1;
    return 0;
}

/* A STIX timestamp property; millis: created and modified must have at
 * least millisecond precision (STIX 2.1 3.2). */
static int s_time(const json_t *obj, const char *key, int required, int millis, uint64_t *ns,
                  int *present, char *why, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    int frac = 0;
    *present = v != NULL;
    if (!v)
        return required ? s_why(why, cap, "missing \"%s\"", key) : 0;
    if (!json_is_string(v) || stix_time_parse(json_string_value(v), ns, &frac) != 0)
        return s_why(why, cap, "\"%s\" is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)", key);
    if (millis && frac < 3)
        return s_why(why, cap, "\"%s\" must be precise to the millisecond (at least 3 fraction "
                               "digits)", key);
    return 0;
}

/* The indexable observable: the first (type, value) of the pattern whose
 * value is valid for its type, normalised. 1 found, 0 none. */
static int s_observable(const stix_pattern_result_t *res, stix_item_t *out)
{
    for (size_t i = 0; i < res->observable_count; i++) {
        const char *why = NULL;
        if (ind_normalise(res->observables[i].kind, res->observables[i].value, out->value,
                          sizeof out->value, &why) == 0) {
            out->ind.type = (char *)ind_type_name(res->observables[i].kind);
            out->ind.value = out->value;
            return 1;
        }
    }
    return 0;
}

int stix_indicator_map(const json_t *obj, const json_t *markings, tlp_t default_tlp,
                       stix_item_t *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    moux__indicator__init(&out->ind);
    out->ind.labels = out->labels_store;
    const char *type = json_string_value(json_object_get(obj, "type"));
    const char *id = json_string_value(json_object_get(obj, "id"));
    const char *spec = json_string_value(json_object_get(obj, "spec_version"));
    if (!json_is_object(obj) || !type || strcmp(type, "indicator") != 0)
        return s_why(why, cap, "not an indicator object");
    if (!ind_id_valid(id))
        return s_why(why, cap, "\"id\" must be \"indicator--\" and a UUID in lowercase hex");
    out->ind.id = (char *)id;
    if (!spec || strcmp(spec, "2.1") != 0)
        return s_why(why, cap, "\"spec_version\" must be \"2.1\"");
    uint64_t created = 0, modified = 0, vfrom = 0, vuntil = 0;
    int has_created, has_modified, has_from, has_until;
    if (s_time(obj, "created", 1, 1, &created, &has_created, why, cap) ||
        s_time(obj, "modified", 1, 1, &modified, &has_modified, why, cap) ||
        s_time(obj, "valid_from", 1, 0, &vfrom, &has_from, why, cap) ||
        s_time(obj, "valid_until", 0, 0, &vuntil, &has_until, why, cap))
        return -1;
    if (modified < created)
        return s_why(why, cap, "\"modified\" is earlier than \"created\"");
    if (has_until && vuntil <= vfrom)
        return s_why(why, cap, "\"valid_until\" must be later than \"valid_from\"");
    out->modified_ns = modified;
    out->ind.created_ms = created / 1000000u;
    out->ind.modified_ms = modified / 1000000u;
    out->ind.valid_from_ms = vfrom / 1000000u;
    out->ind.valid_until_ms = has_until ? (vuntil + 999999u) / 1000000u : 0;

    const char *ptype = json_string_value(json_object_get(obj, "pattern_type"));
    const char *pattern = json_string_value(json_object_get(obj, "pattern"));
    if (!ptype)
        return s_why(why, cap, "missing \"pattern_type\"");
    if (strcmp(ptype, "stix") != 0)
        return s_why(why, cap, "\"pattern_type\" \"%.40s\": moux takes STIX patterns only", ptype);
    if (!pattern)
        return s_why(why, cap, "missing \"pattern\"");
    if (s_opt(obj, "pattern_version", JSON_STRING) != 0)
        return s_why(why, cap, "\"pattern_version\" must be a string");
    if (strlen(pattern) > IND_PATTERN_MAX)
        return s_why(why, cap, "\"pattern\" is longer than %d bytes (the wire limit)",
                     IND_PATTERN_MAX);
    stix_pattern_result_t res;
    if (stix_pattern_check(pattern, &res) != 0) {
        s_why(why, cap, "invalid pattern: %s", res.error);
        stix_pattern_result_free(&res);
        return -1;
    }
    out->ind.pattern = (char *)pattern;
    if (!s_observable(&res, out)) {
        out->local_only = 1;
        out->ind.type = (char *)STIX_LOCAL_TYPE;
        out->ind.value = (char *)pattern;
    }
    stix_pattern_result_free(&res);

    json_t *conf = json_object_get(obj, "confidence");
    if (conf && (!json_is_integer(conf) || json_integer_value(conf) < 0 ||
                 json_integer_value(conf) > 100))
        return s_why(why, cap, "\"confidence\" must be an integer from 0 to 100");
    out->ind.confidence = conf ? (uint32_t)json_integer_value(conf) : 50;
    if (s_opt(obj, "revoked", JSON_TRUE) != 0)
        return s_why(why, cap, "\"revoked\" must be true or false");
    out->ind.revoked = json_is_true(json_object_get(obj, "revoked"));
    static const char *strs[] = {"name", "description", "created_by_ref"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (s_opt(obj, strs[i], JSON_STRING) != 0)
            return s_why(why, cap, "\"%s\" must be a string", strs[i]);
    const char *creator = json_string_value(json_object_get(obj, "created_by_ref"));
    if (creator && strncmp(creator, "identity--", 10) != 0)
        return s_why(why, cap, "\"created_by_ref\" must name an identity");
    static const char *lists[] = {"labels", "indicator_types", "object_marking_refs"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (s_opt_strings(obj, lists[i]) != 0)
            return s_why(why, cap, "\"%s\" must be a non-empty list of strings", lists[i]);
    json_t *kcp = json_object_get(obj, "kill_chain_phases"), *v;
    size_t i;
    if (kcp && (!json_is_array(kcp) || json_array_size(kcp) == 0))
        return s_why(why, cap, "\"kill_chain_phases\" must be a non-empty list");
    json_array_foreach(kcp, i, v) {
        if (!json_is_string(json_object_get(v, "kill_chain_name")) ||
            !json_is_string(json_object_get(v, "phase_name")))
            return s_why(why, cap, "kill_chain_phases[%zu] needs \"kill_chain_name\" and "
                                   "\"phase_name\"", i);
    }
    json_t *ext = json_object_get(obj, "external_references");
    if (ext && (!json_is_array(ext) || json_array_size(ext) == 0))
        return s_why(why, cap, "\"external_references\" must be a non-empty list");
    json_array_foreach(ext, i, v) {
        if (!json_is_string(json_object_get(v, "source_name")))
            return s_why(why, cap, "external_references[%zu] needs \"source_name\"", i);
    }

    /* TLP: the most restrictive TLP marking the object carries. */
    int have = 0;
    tlp_t level = TLP_CLEAR;
    json_array_foreach(json_object_get(obj, "object_marking_refs"), i, v) {
        tlp_t t;
        const char *ref = json_string_value(v);
        const char *named = json_string_value(json_object_get(markings, ref));
        if (stix_tlp_of_marking(ref, &t) == 0 || (named && tlp_parse(named, &t) == 0)) {
            if (!have || t > level)
                level = t;
            have = 1;
        }
    }
    out->tlp_defaulted = !have;
    out->ind.tlp = (Moux__Tlp)(have ? level : default_tlp);

    /* Labels the node can carry (docs/PROTOCOL.md 9.1) become its labels;
     * all of them stay in the kept object. */
    json_array_foreach(json_object_get(obj, "labels"), i, v) {
        const char *l = json_string_value(v);
        if (out->ind.n_labels < IND_LABELS_MAX && ind_label_valid(l)) {
            int dup = 0;
            for (size_t j = 0; j < out->ind.n_labels; j++)
                dup |= strcmp(out->labels_store[j], l) == 0;
            if (!dup)
                out->labels_store[out->ind.n_labels++] = (char *)l;
        }
    }
    return 0;
}

void stix_item_free(stix_item_t *it)
{
    (void)it; /* nothing owned yet: strings point into the object */
}

/* ---- export ---- */

json_t *stix_indicator_export(const stix_row_t *r)
{
    char created[32], modified[32], vfrom[32], vuntil[32];
    json_t *o = NULL;
    if (r->stix) {
        o = json_loads(r->stix, 0, NULL);
        if (!o)
            return NULL;
        uint64_t held = 0;
        const char *m = json_string_value(json_object_get(o, "modified"));
        if (r->revoked && !json_is_true(json_object_get(o, "revoked"))) {
            json_object_set_new(o, "revoked", json_true());
            if (!m || stix_time_parse(m, &held, NULL) != 0 || held / 1000000u < r->modified_ms) {
                format_time_ms(r->modified_ms, modified);
                json_object_set_new(o, "modified", json_string(modified));
            }
        }
    } else {
        format_time_ms(r->created_ms, created);
        format_time_ms(r->modified_ms, modified);
        format_time_ms(r->valid_from_ms, vfrom);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "type", "indicator",
                      "spec_version", "2.1", "id", r->id, "created", created, "modified",
                      modified, "pattern", r->pattern, "pattern_type", "stix",
                      "pattern_version", "2.1", "valid_from", vfrom, "confidence",
                      r->confidence);
        if (!o)
            return NULL;
        if (r->valid_until_ms > r->valid_from_ms) {
            format_time_ms(r->valid_until_ms, vuntil);
            json_object_set_new(o, "valid_until", json_string(vuntil));
        }
        if (r->labels && *r->labels) {
            json_t *labels = json_array();
            char *copy = strdup(r->labels), *save = NULL;
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
                 t = strtok_r(NULL, ",", &save))
                json_array_append_new(labels, json_string(t));
            free(copy);
            json_object_set_new(o, "labels", labels);
        }
        if (r->revoked)
            json_object_set_new(o, "revoked", json_true());
        if (r->origin) {
            char ident[64];
            stix_agency_identity_id(r->origin, ident);
            json_object_set_new(o, "created_by_ref", json_string(ident));
        }
    }
    /* The TLP the node applies is always stated. */
    json_t *refs = json_object_get(o, "object_marking_refs"), *v;
    size_t i;
    int has_tlp = 0;
    json_array_foreach(refs, i, v) {
        tlp_t t;
        has_tlp |= stix_tlp_of_marking(json_string_value(v), &t) == 0;
    }
    if (!has_tlp) {
        if (!json_is_array(refs)) {
            refs = json_array();
            json_object_set_new(o, "object_marking_refs", refs);
        }
        json_array_append_new(refs, json_string(stix_tlp2_id(r->tlp)));
    }
    return o;
}

void stix_agency_identity_id(const char *agency, char out[64])
{
    static const char dom[] = "moux/stix-identity/1";
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)dom, sizeof dom);
    crypto_generichash_update(&st, (const unsigned char *)agency, strlen(agency));
    crypto_generichash_final(&st, h, sizeof h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x40); /* version 4 layout */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char hex[33];
    hex_encode(h, sizeof h, hex);
    snprintf(out, 64, "identity--%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

json_t *stix_agency_identity(const char *agency)
{
    char id[64];
    stix_agency_identity_id(agency, id);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "identity",
                     "spec_version", "2.1", "id", id, "created", "2020-01-01T00:00:00.000Z",
                     "modified", "2020-01-01T00:00:00.000Z", "name", agency, "identity_class",
                     "organization", "description", "a moux agency (its agency id)");
}

void stix_bundle_id(char out[64])
{
    char uuid[37];
    uuid4(uuid);
    snprintf(out, 64, "bundle--%s", uuid);
}
