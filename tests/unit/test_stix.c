/* STIX 2.1 import and export (docs/STIX.md): an Indicator maps onto the
 * node's fields and TLP levels; a bad object is refused with the reason;
 * versions by id (later replaces, older ignored, equal modified with other
 * content reported, revocation final, an id held from a partner not ours);
 * import then export gives back every property; the wire check accepts any
 * valid pattern that names the item's (type, value) (PROTOCOL.md 6.1 1a). */
#include "itemcheck.h"
#include "reason.h"
#include "stix.h"
#include "store.h"
#include "test.h"
#include "util.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char *s_base =
    "{\"type\": \"indicator\", \"spec_version\": \"2.1\","
    " \"id\": \"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
    " \"created_by_ref\": \"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff\","
    " \"created\": \"2016-04-06T20:03:48.000Z\", \"modified\": \"2016-04-06T20:03:48.123456Z\","
    " \"indicator_types\": [\"malicious-activity\"], \"name\": \"Poison Ivy C2\","
    " \"description\": \"C2 of a <RAT>, \\\"quoted\\\"\","
    " \"pattern\": \"[domain-name:value = 'Evil.Example.COM' OR ipv4-addr:value = '198.51.100.7']\","
    " \"pattern_type\": \"stix\", \"pattern_version\": \"2.1\","
    " \"valid_from\": \"2016-01-01T00:00:00Z\", \"valid_until\": \"2027-01-01T00:00:00.5Z\","
    " \"confidence\": 85, \"labels\": [\"network-defense\", \"has,comma\", \"network-defense\"],"
    " \"kill_chain_phases\": [{\"kill_chain_name\": \"lockheed-martin-cyber-kill-chain\","
    "   \"phase_name\": \"command-and-control\"}],"
    " \"external_references\": [{\"source_name\": \"capec\", \"external_id\": \"CAPEC-163\"}],"
    " \"object_marking_refs\": [\"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da\"],"
    " \"x_custom\": {\"kept\": [1, 2.5, null, true]}}";

static json_t *base(void)
{
    json_t *o = json_loads(s_base, 0, NULL);
    CHECK(o != NULL);
    return o;
}

/* An empty directory of its own under the test's private one. */
static const char *fresh_dir(char *buf, size_t cap, const char *name)
{
    tmp_path(buf, cap, name);
    rm_rf(buf);
    CHECK(mkdir(buf, 0700) == 0);
    return buf;
}

static void test_time(void)
{
    uint64_t ns = 0;
    int frac = 0;
    CHECK(stix_time_parse("1970-01-01T00:00:00Z", &ns, &frac) == 0 && ns == 0 && frac == 0);
    CHECK(stix_time_parse("2016-04-06T20:03:48.123456Z", &ns, &frac) == 0 && frac == 6);
    CHECK(ns == 1459973028123456000ull);
    CHECK(stix_time_parse("2024-02-29T23:59:60.1234567891Z", &ns, &frac) == 0 && frac == 10);
    CHECK(ns % 1000000000u == 123456789u);
    CHECK(stix_time_parse("2023-02-29T00:00:00Z", &ns, NULL) == -1);
    CHECK(stix_time_parse("2016-04-06 20:03:48Z", &ns, NULL) == -1);
    CHECK(stix_time_parse("2016-04-06T20:03:48.Z", &ns, NULL) == -1);
    CHECK(stix_time_parse("2016-04-06T20:03:48+01:00", &ns, NULL) == -1);
    CHECK(stix_time_parse("2016-13-06T20:03:48Z", &ns, NULL) == -1);
    CHECK(stix_time_parse(NULL, &ns, NULL) == -1);
}

static void test_map_fields(void)
{
    json_t *o = base();
    stix_item_t it;
    char why[STIX_WHY_MAX] = "";
    CHECK(stix_indicator_map(o, NULL, TLP_RED, &it, why, sizeof why) == 0);
    CHECK_STR(it.ind.id, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
    /* The first observable the node can index, normalised. */
    CHECK_STR(it.ind.type, "domain-name");
    CHECK_STR(it.ind.value, "evil.example.com");
    CHECK(!it.local_only);
    CHECK(it.ind.tlp == (Moux__Tlp)TLP_GREEN && !it.tlp_defaulted); /* TLP 1.0 GREEN */
    CHECK(it.ind.confidence == 85 && !it.ind.revoked);
    CHECK(it.ind.created_ms == 1459973028000ull && it.ind.modified_ms == 1459973028123ull);
    CHECK(it.modified_ns == 1459973028123456000ull);
    CHECK(it.ind.valid_from_ms == 1451606400000ull);
    CHECK(it.ind.valid_until_ms == 1798761600500ull);
    /* Labels the wire can carry, once each; the comma one stays in the object. */
    CHECK(it.ind.n_labels == 1 && strcmp(it.ind.labels[0], "network-defense") == 0);
    /* The wire check accepts what the import produced. */
    ind_type_t t;
    CHECK(ind_type_parse(it.ind.type, &t) == 0 && item_pattern_names(it.ind.pattern, t, it.ind.value));
    stix_item_free(&it);

    /* No confidence: 50; no TLP marking: the default given. */
    json_object_del(o, "confidence");
    json_object_del(o, "object_marking_refs");
    CHECK(stix_indicator_map(o, NULL, TLP_AMBER_STRICT, &it, why, sizeof why) == 0);
    CHECK(it.ind.confidence == 50 && it.tlp_defaulted && it.ind.tlp == (Moux__Tlp)TLP_AMBER_STRICT);

    /* A pattern with no observable the node shares: kept here only. */
    json_object_set_new(o, "pattern", json_string("[email-message:subject MATCHES '^Invoice']"));
    CHECK(stix_indicator_map(o, NULL, TLP_AMBER, &it, why, sizeof why) == 0);
    CHECK(it.local_only && strcmp(it.ind.type, STIX_LOCAL_TYPE) == 0);
    /* An observable whose literal is not a valid value is skipped. */
    json_object_set_new(o, "pattern", json_string("[ipv4-addr:value = '999.1.1.1'] OR "
                                                  "[url:value = 'HTTP://X.Example.org/a']"));
    CHECK(stix_indicator_map(o, NULL, TLP_AMBER, &it, why, sizeof why) == 0);
    CHECK_STR(it.ind.type, "url");
    CHECK_STR(it.ind.value, "http://x.example.org/a");
    json_decref(o);
}

static void test_map_tlp(void)
{
    static const struct {
        const char *id;
        tlp_t want;
    } ids[] = {
        {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", TLP_CLEAR},
        {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", TLP_GREEN},
        {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", TLP_AMBER},
        {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", TLP_AMBER_STRICT},
        {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", TLP_RED},
        {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", TLP_CLEAR}, /* WHITE */
        {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", TLP_GREEN},
        {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", TLP_AMBER},
        {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP_RED},
    };
    json_t *o = base();
    stix_item_t it;
    char why[STIX_WHY_MAX];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        json_object_set_new(o, "object_marking_refs", json_pack("[s]", ids[i].id));
        CHECK(stix_indicator_map(o, NULL, TLP_RED, &it, why, sizeof why) == 0);
        CHECK(it.ind.tlp == (Moux__Tlp)ids[i].want && !it.tlp_defaulted);
        if (i < 5) /* TLP 2.0 ids round trip */
            CHECK_STR(stix_tlp2_id(ids[i].want), ids[i].id);
    }
    /* Several: the most restrictive; unknown markings do not count. */
    json_object_set_new(o, "object_marking_refs",
                        json_pack("[s, s, s]", ids[1].id, ids[7].id,
                                  "marking-definition--1d6c6b48-1fd2-4e4b-8f63-9e2e2f2a3b4c"));
    CHECK(stix_indicator_map(o, NULL, TLP_CLEAR, &it, why, sizeof why) == 0);
    CHECK(it.ind.tlp == (Moux__Tlp)TLP_AMBER);
    /* A bundle's own TLP marking definition (TLP 1.0 form, own id). */
    json_t *md = json_loads("{\"type\": \"marking-definition\", \"definition_type\": \"tlp\","
                            " \"definition\": {\"tlp\": \"red\"}}", 0, NULL);
    tlp_t t;
    CHECK(stix_tlp_of_definition(md, &t) == 0 && t == TLP_RED);
    json_decref(md);
    json_t *own = json_pack("{s:s}", "marking-definition--1d6c6b48-1fd2-4e4b-8f63-9e2e2f2a3b4c",
                            "red");
    CHECK(stix_indicator_map(o, own, TLP_CLEAR, &it, why, sizeof why) == 0);
    CHECK(it.ind.tlp == (Moux__Tlp)TLP_RED);
    json_decref(own);
    /* The TLP 2.0 definitions written on export name their level. */
    json_t *d2 = stix_tlp2_definition(TLP_AMBER_STRICT);
    CHECK(stix_tlp_of_definition(d2, &t) == 0 && t == TLP_AMBER_STRICT);
    json_decref(d2);
    json_decref(o);
}

/* Each bad object is refused with a reason naming what is wrong. */
static void test_refusals(void)
{
    static const struct {
        const char *key, *value; /* JSON to set, or NULL value to delete the key */
        const char *says;
    } bad[] = {
        {"id", "\"indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f\"", "lowercase"},
        {"id", "\"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\"", "\"id\""},
        {"spec_version", "\"2.0\"", "spec_version"},
        {"spec_version", NULL, "spec_version"},
        {"created", NULL, "missing \"created\""},
        {"created", "\"2016-04-06T20:03:48Z\"", "millisecond"},
        {"modified", "\"2016-04-06T20:03:47.999Z\"", "earlier than \"created\""},
        {"modified", "\"yesterday\"", "not a STIX timestamp"},
        {"valid_from", NULL, "missing \"valid_from\""},
        {"valid_until", "\"2015-01-01T00:00:00Z\"", "later than \"valid_from\""},
        {"pattern_type", "\"snort\"", "STIX patterns only"},
        {"pattern_type", NULL, "pattern_type"},
        {"pattern", NULL, "missing \"pattern\""},
        {"pattern", "\"[ipv4-addr:value = '1.2.3.4'\"", "invalid pattern: at 28"},
        {"pattern", "\"[ipv4-addr:value = '1.2.3.4'] WITHIN 0 SECONDS\"", "invalid pattern"},
        {"pattern", "\"[ipv4-addr:value ~= '1.2.3.4']\"", "invalid pattern"},
        {"pattern", "\"[file:size = 12.]\"", "invalid pattern"},
        {"confidence", "101", "confidence"},
        {"confidence", "\"high\"", "confidence"},
        {"revoked", "\"yes\"", "revoked"},
        {"labels", "[]", "labels"},
        {"labels", "[1]", "labels"},
        {"name", "7", "\"name\""},
        {"created_by_ref", "\"organization--1\"", "created_by_ref"},
        {"kill_chain_phases", "[{\"phase_name\": \"x\"}]", "kill_chain_phases[0]"},
        {"external_references", "[{\"url\": \"https://x\"}]", "external_references[0]"},
        {"object_marking_refs", "\"marking\"", "object_marking_refs"},
        {"type", "\"malware\"", "not an indicator"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = base();
        if (bad[i].value)
            json_object_set_new(o, bad[i].key, json_loads(bad[i].value, JSON_DECODE_ANY, NULL));
        else
            json_object_del(o, bad[i].key);
        stix_item_t it;
        char why[STIX_WHY_MAX] = "";
        int rc = stix_indicator_map(o, NULL, TLP_AMBER, &it, why, sizeof why);
        if (rc != -1 || !strstr(why, bad[i].says))
            fprintf(stderr, "    %s = %s: rc %d, \"%s\" (want \"%s\")\n", bad[i].key,
                    bad[i].value ? bad[i].value : "(deleted)", rc, why, bad[i].says);
        CHECK(rc == -1 && strstr(why, bad[i].says) != NULL);
        json_decref(o);
    }
    /* Longer than the wire carries. */
    json_t *o = base();
    char *p = malloc(IND_PATTERN_MAX + 64);
    strcpy(p, "[domain-name:value = '");
    size_t n = strlen(p);
    memset(p + n, 'a', IND_PATTERN_MAX);
    strcpy(p + n + IND_PATTERN_MAX, ".example']");
    json_object_set_new(o, "pattern", json_string(p));
    free(p);
    stix_item_t it;
    char why[STIX_WHY_MAX] = "";
    CHECK(stix_indicator_map(o, NULL, TLP_AMBER, &it, why, sizeof why) == -1);
    CHECK(strstr(why, "wire limit") != NULL);
    json_decref(o);
}

/* Maps o and puts it; returns the store's verdict (-1 on failure). */
static int put(store_t *st, json_t *o)
{
    stix_item_t it;
    char why[STIX_WHY_MAX];
    if (stix_indicator_map(o, NULL, TLP_AMBER, &it, why, sizeof why) != 0) {
        fprintf(stderr, "    map: %s\n", why);
        return -1;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    int64_t rid = 0;
    store_stix_t res;
    int rc = store_put_stix(st, "a.example", &it.ind, text, it.modified_ns, &rid, &res);
    free(text);
    return rc == 0 ? (int)res : -1;
}

typedef struct {
    int n;
    char *stix, *value, *type;
    int revoked, tlp;
    uint64_t modified_ms;
} one_t;

static int s_collect(const store_row_t *r, void *arg)
{
    one_t *o = arg;
    o->n++;
    free(o->stix);
    free(o->value);
    free(o->type);
    o->stix = r->stix ? strdup(r->stix) : NULL;
    o->value = strdup(r->value);
    o->type = strdup(r->type);
    o->revoked = r->revoked;
    o->tlp = (int)r->tlp;
    o->modified_ms = r->modified_ms;
    return 0;
}

static one_t get(store_t *st, const char *id)
{
    one_t o = {0};
    store_filter_t f = {.id = id};
    CHECK(store_query(st, &f, s_collect, &o) == 0);
    return o;
}

static void one_free(one_t *o)
{
    free(o->stix);
    free(o->value);
    free(o->type);
}

static void test_versioning(void)
{
    char dir[256], err[512];
    fresh_dir(dir, sizeof dir, "versions");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    const char *id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    json_t *o = base();
    CHECK(put(st, o) == STORE_STIX_NEW);
    CHECK(put(st, o) == STORE_STIX_UNCHANGED);
    /* Same modified, other content: reported, the held version stays. */
    json_object_set_new(o, "name", json_string("changed"));
    CHECK(put(st, o) == STORE_STIX_SAME_MODIFIED);
    one_t h = get(st, id);
    CHECK(h.n == 1 && h.stix && strstr(h.stix, "Poison Ivy C2") != NULL);
    one_free(&h);
    /* A microsecond later is a later version (sub-millisecond precision). */
    json_object_set_new(o, "modified", json_string("2016-04-06T20:03:48.123457Z"));
    CHECK(put(st, o) == STORE_STIX_UPDATED);
    h = get(st, id);
    CHECK(h.n == 1 && strstr(h.stix, "changed") != NULL);
    one_free(&h);
    /* An older one is ignored. */
    json_object_set_new(o, "modified", json_string("2016-04-06T20:03:48.123Z"));
    json_object_set_new(o, "name", json_string("older"));
    CHECK(put(st, o) == STORE_STIX_OLDER);
    /* A later version may change the observable and the TLP. */
    json_object_set_new(o, "modified", json_string("2017-01-01T00:00:00.000Z"));
    json_object_set_new(o, "pattern", json_string("[ipv4-addr:value = '203.0.113.9']"));
    json_object_set_new(o, "object_marking_refs",
                        json_pack("[s]", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"));
    CHECK(put(st, o) == STORE_STIX_UPDATED);
    h = get(st, id);
    CHECK(h.n == 1 && strcmp(h.type, "ipv4-addr") == 0 && strcmp(h.value, "203.0.113.9") == 0 &&
          h.tlp == TLP_RED);
    one_free(&h);
    /* Revoked: final. */
    json_object_set_new(o, "modified", json_string("2018-01-01T00:00:00.000Z"));
    json_object_set_new(o, "revoked", json_true());
    CHECK(put(st, o) == STORE_STIX_UPDATED);
    json_object_set_new(o, "modified", json_string("2019-01-01T00:00:00.000Z"));
    json_object_set_new(o, "revoked", json_false());
    CHECK(put(st, o) == STORE_STIX_REVOKED);
    h = get(st, id);
    CHECK(h.n == 1 && h.revoked && strstr(h.stix, "2018-01-01") != NULL);
    one_free(&h);

    /* An id this node holds from a partner is that partner's to version. */
    sqlite3 *db = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/store.db", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO partner(agency, endpoint, sign_pk, enc_pk, curve_pk, root_pk,"
                       " fingerprint, cert_serial, cert_not_after_ms, added_ms) VALUES('b.example',"
                       " 'tcp://127.0.0.1:1', x'00', x'00', x'00', x'00', 'X', 1, 0, 0);"
                       "INSERT INTO indicator(id, type, value, pattern, tlp, confidence, created_ms,"
                       " modified_ms, valid_from_ms, valid_until_ms, origin, from_pid, received_ms)"
                       " VALUES('indicator--11111111-2222-4333-8444-555555555555', 'ipv4-addr',"
                       " '192.0.2.1', '[ipv4-addr:value = ''192.0.2.1'']', 1, 50, 1, 1, 1, 0,"
                       " 'b.example', 1, 1);",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    json_t *p = base();
    json_object_set_new(p, "id", json_string("indicator--11111111-2222-4333-8444-555555555555"));
    CHECK(put(st, p) == STORE_STIX_FROM_PARTNER);
    json_decref(p);
    /* A plain publish of the same (type, value) never touches a STIX item. */
    json_t *q = base();
    json_object_set_new(q, "id", json_string("indicator--22222222-2222-4333-8444-555555555555"));
    CHECK(put(st, q) == STORE_STIX_NEW);
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.type = "domain-name";
    ind.value = "evil.example.com";
    ind.pattern = "[domain-name:value = 'evil.example.com']";
    ind.tlp = MOUX__TLP__TLP_GREEN;
    ind.confidence = 50;
    int64_t rid;
    store_put_t res;
    CHECK(store_put_local(st, "a.example", &ind, &rid, &res) == 0 && res == STORE_NEW);
    h = get(st, "indicator--22222222-2222-4333-8444-555555555555");
    CHECK(h.n == 1 && h.stix != NULL);
    one_free(&h);
    json_decref(q);
    json_decref(o);
    store_destroy(&st);
}

static int s_export_all(const store_row_t *r, void *arg)
{
    json_t *out = arg;
    stix_row_t sr = {.id = r->id, .type = r->type, .value = r->value, .pattern = r->pattern,
                     .origin = r->origin, .labels = r->labels, .stix = r->stix, .tlp = r->tlp,
                     .confidence = r->confidence, .revoked = r->revoked,
                     .created_ms = r->created_ms, .modified_ms = r->modified_ms,
                     .valid_from_ms = r->valid_from_ms, .valid_until_ms = r->valid_until_ms};
    json_array_append_new(out, stix_indicator_export(&sr));
    return 0;
}

static void test_round_trip(void)
{
    char dir[256], err[512];
    fresh_dir(dir, sizeof dir, "roundtrip");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    json_t *o = base();
    CHECK(put(st, o) == STORE_STIX_NEW);
    /* Without a TLP marking: the applied TLP is stated on the way out. */
    json_t *u = base();
    json_object_set_new(u, "id", json_string("indicator--33333333-2222-4333-8444-555555555555"));
    json_object_del(u, "object_marking_refs");
    CHECK(put(st, u) == STORE_STIX_NEW);
    json_t *out = json_array();
    store_filter_t all = {.from = "local"};
    CHECK(store_query(st, &all, s_export_all, out) == 0);
    CHECK(json_array_size(out) == 2);
    /* Every property, exactly: timestamps to the microsecond, unknown ones too. */
    CHECK(json_equal(json_array_get(out, 0), o));
    json_t *back = json_array_get(out, 1);
    json_t *refs = json_object_get(back, "object_marking_refs");
    CHECK(json_array_size(refs) == 1 &&
          strcmp(json_string_value(json_array_get(refs, 0)), stix_tlp2_id(TLP_AMBER)) == 0);
    json_object_del(back, "object_marking_refs");
    CHECK(json_equal(back, u));
    CHECK_STR(json_string_value(json_object_get(back, "modified")), "2016-04-06T20:03:48.123456Z");

    /* Withdrawn here: exported revoked, with the node's later modified. */
    Moux__Indicator *w = NULL;
    int64_t rid;
    CHECK(store_withdraw_local(st, "indicator--33333333-2222-4333-8444-555555555555", NULL, NULL,
                               &w, &rid) == 1);
    store_indicator_free(w);
    json_array_clear(out);
    CHECK(store_query(st, &all, s_export_all, out) == 0);
    back = json_array_get(out, 1);
    CHECK(json_is_true(json_object_get(back, "revoked")));
    CHECK(strcmp(json_string_value(json_object_get(back, "modified")), "2020-01-01") > 0);

    /* A plain item: built from the fields, its origin's Identity named. */
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.type = "url";
    ind.value = "http://e.com/it's";
    ind.pattern = "[url:value = 'http://e.com/it\\'s']";
    ind.tlp = MOUX__TLP__TLP_AMBER_STRICT;
    ind.confidence = 70;
    char *labels[] = {"incident-response"};
    ind.labels = labels;
    ind.n_labels = 1;
    store_put_t res;
    CHECK(store_put_local(st, "a.example", &ind, &rid, &res) == 0);
    json_array_clear(out);
    CHECK(store_query(st, &all, s_export_all, out) == 0);
    json_t *plain = json_array_get(out, 2);
    char ident[64];
    stix_agency_identity_id("a.example", ident);
    CHECK_STR(json_string_value(json_object_get(plain, "created_by_ref")), ident);
    CHECK_STR(json_string_value(json_object_get(plain, "pattern")), ind.pattern);
    CHECK_STR(json_string_value(json_object_get(plain, "pattern_type")), "stix");
    CHECK(json_integer_value(json_object_get(plain, "confidence")) == 70);
    CHECK_STR(json_string_value(json_array_get(json_object_get(plain, "labels"), 0)),
              "incident-response");
    CHECK_STR(json_string_value(json_array_get(json_object_get(plain, "object_marking_refs"), 0)),
              stix_tlp2_id(TLP_AMBER_STRICT));
    /* The identity id is stable and well formed; anonymised items name none. */
    char again[64];
    stix_agency_identity_id("a.example", again);
    CHECK_STR(ident, again);
    CHECK(strlen(ident) == 46 && ident[24] == '4' && strchr("89ab", ident[29]) != NULL);
    stix_row_t anon = {.id = "indicator--44444444-2222-4333-8444-555555555555",
                       .pattern = "[ipv4-addr:value = '192.0.2.1']", .origin = NULL,
                       .tlp = TLP_GREEN, .confidence = 1, .created_ms = 1, .modified_ms = 2};
    json_t *a = stix_indicator_export(&anon);
    CHECK(a && !json_object_get(a, "created_by_ref"));
    json_decref(a);
    json_decref(out);
    json_decref(o);
    json_decref(u);
    store_destroy(&st);
}

/* docs/PROTOCOL.md 6.1 row 1a, relaxed: any valid pattern naming (type, value). */
static void test_wire_pattern(void)
{
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    ind.type = "domain-name";
    ind.value = "evil.example.com";
    ind.tlp = MOUX__TLP__TLP_GREEN;
    ind.origin = "";
    static const struct {
        const char *pattern;
        const char *want; /* NULL: accepted */
    } cases[] = {
        {"[domain-name:value = 'evil.example.com']", NULL},
        {"[domain-name:value = 'Evil.Example.COM.']", NULL}, /* normalises to the value */
        {"[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'evil.example.com'] "
         "WITHIN 600 SECONDS", NULL},
        {"[domain-name:value IN ('a.example', 'evil.example.com')]", NULL},
        {"[domain-name:value = 'other.example.com']", REASON_INVALID_ITEM},
        {"[domain-name:value != 'evil.example.com']", REASON_INVALID_ITEM}, /* not positive */
        {"[url:value = 'evil.example.com']", REASON_INVALID_ITEM},          /* other type */
        {"[domain-name:value = 'evil.example.com'", REASON_INVALID_ITEM},   /* invalid */
        {"", REASON_INVALID_ITEM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ind.pattern = (char *)cases[i].pattern;
        const char *got = item_check_shape(&ind);
        if (!(got == cases[i].want || (got && cases[i].want && strcmp(got, cases[i].want) == 0)))
            fprintf(stderr, "    %s: got %s\n", cases[i].pattern, got ? got : "accepted");
        CHECK(got == cases[i].want || (got && cases[i].want && strcmp(got, cases[i].want) == 0));
    }
}

int main(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-stix.XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    RUN(test_time);
    RUN(test_map_fields);
    RUN(test_map_tlp);
    RUN(test_refusals);
    RUN(test_versioning);
    RUN(test_round_trip);
    RUN(test_wire_pattern);
    rm_rf(s_tmp);
    return TEST_DONE();
}
