/* STIX 2.1 import and export (docs/STIX.md): an Indicator object mapped
 * onto the node's indicator fields, TLP marking definitions (2.0 and 1.0)
 * onto its TLP levels, STIX timestamps, and the objects an export writes
 * (indicators from stored rows, Identity objects for origins, the TLP 2.0
 * marking definitions). Shared by the CLI (to refuse early, naming the
 * object), the daemon (which checks again) and the tests. */
#ifndef MOUX_STIX_H
#define MOUX_STIX_H

#include "indicator.h"
#include "moux.pb-c.h"
#include "tlp.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The type recorded for an indicator whose pattern names no observable the
 * node can index and share ((type, value) of docs/PROTOCOL.md 9.2): it is
 * kept, found by id and exported, but never queued for partners. */
#define STIX_LOCAL_TYPE "stix-pattern"

#define STIX_WHY_MAX 320 /* room for a refusal reason, NUL included */

/* The TLP 2.0 marking-definition id of a level. */
const char *stix_tlp2_id(tlp_t level);
/* The level of a standard TLP marking-definition id (TLP 2.0: CLEAR, GREEN,
 * AMBER, AMBER+STRICT, RED; TLP 1.0: WHITE -> clear, GREEN, AMBER, RED).
 * 0 and *out, or -1 for any other id. */
int stix_tlp_of_marking(const char *id, tlp_t *out);
/* The TLP level a bundle's own marking-definition object states (TLP 1.0
 * form: definition_type "tlp", definition.tlp; TLP 2.0 form: the
 * extension's "tlp_2_0"); 0 and *out, or -1 when it is not a TLP marking. */
int stix_tlp_of_definition(const json_t *md, tlp_t *out);
/* The marking-definition object of a TLP 2.0 level, as OASIS publishes it. */
json_t *stix_tlp2_definition(tlp_t level);
/* The TLP 1.0 marking-definition object with this id (STIX 2.1 7.2.1.4), or
 * NULL for any other id. */
json_t *stix_tlp1_definition(const char *id);

/* A STIX timestamp, YYYY-MM-DDTHH:MM:SS[.fraction]Z: 0 and nanoseconds since
 * 1970 (fraction digits past the ninth are ignored), or -1. *frac: number of
 * fraction digits (may be NULL). */
int stix_time_parse(const char *text, uint64_t *ns, int *frac);

/* One Indicator object mapped onto the node's fields. */
typedef struct {
    Moux__Indicator ind;        /* id, type, value, pattern, tlp, confidence,
                                   created/modified/valid_from/valid_until_ms,
                                   revoked, labels; strings point into the
                                   object or into this struct */
    char value[IND_VALUE_MAX + 1];
    uint64_t modified_ns;       /* the exact `modified` (versions compare on it) */
    int local_only;             /* type STIX_LOCAL_TYPE: kept, never shared */
    int tlp_defaulted;          /* no TLP marking: the node's default applies */
    char *labels_store[IND_LABELS_MAX];
} stix_item_t;

/* Maps obj (an Indicator) into *out. markings: the bundle's own TLP marking
 * definitions ({"marking-definition--...": "amber", ...}; may be NULL);
 * default_tlp applies when the object carries no TLP marking. 0, or -1 with
 * the reason in why (STIX_WHY_MAX). out stays valid while obj lives; free
 * it with stix_item_free. */
int stix_indicator_map(const json_t *obj, const json_t *markings, tlp_t default_tlp,
                       stix_item_t *out, char *why, size_t cap);
void stix_item_free(stix_item_t *it);

/* ---- export ---- */
/* A stored indicator as a STIX Indicator. stix: the object kept at import
 * (JSON text) or NULL for an item published as (type, value) or received
 * from a partner, which is built from the fields. The node's state wins
 * where it moved on (withdrawn here: revoked with the later `modified`); an
 * object without a TLP marking gets the TLP 2.0 marking of its level. */
typedef struct {
    const char *id, *type, *value, *pattern, *origin; /* origin NULL: anonymised */
    const char *labels;                                /* comma-joined */
    const char *stix;
    tlp_t tlp;
    int confidence, revoked;
    uint64_t created_ms, modified_ms, valid_from_ms, valid_until_ms;
} stix_row_t;
json_t *stix_indicator_export(const stix_row_t *r);
/* The Identity object moux writes for an agency (a stable id derived from
 * the agency id, so every node names it alike). */
json_t *stix_agency_identity(const char *agency);
void stix_agency_identity_id(const char *agency, char out[64]);
/* A random "bundle--UUID". */
void stix_bundle_id(char out[64]);

#endif
