/* Indicator types, value validation and normalisation, and the STIX 2.1
 * pattern for a (type, value). One normalised form per value so lookups and
 * de-duplication compare like with like. */
#ifndef MOUX_INDICATOR_H
#define MOUX_INDICATOR_H

#include <stddef.h>

typedef enum {
    IND_IPV4 = 0,   /* "ipv4-addr": dotted quad, optional /prefix (0-32) */
    IND_IPV6,       /* "ipv6-addr": RFC 5952 text, optional /prefix (0-128) */
    IND_DOMAIN,     /* "domain-name" */
    IND_URL,        /* "url" */
    IND_EMAIL,      /* "email-addr" */
    IND_MD5,        /* "file:md5" */
    IND_SHA1,       /* "file:sha1" */
    IND_SHA256,     /* "file:sha256" */
    IND_TYPE_COUNT
} ind_type_t;

#define IND_VALUE_MAX 2048         /* longest normalised value, bytes */
#define IND_PATTERN_MAX 4200       /* longest pattern ind_pattern writes */
#define IND_ID_LEN 47              /* "indicator--" + 36-char UUID */

const char *ind_type_name(ind_type_t type);
/* Returns 0 and writes *out for a known type name, -1 otherwise. */
int ind_type_parse(const char *name, ind_type_t *out);

/* Validates value as type and writes its normalised form into out (NUL
 * terminated, at most cap bytes). Returns 0 on success; on failure returns -1
 * and points *why at a static, human-readable reason. */
int ind_normalise(ind_type_t type, const char *value, char *out, size_t cap,
                  const char **why);

/* The STIX 2.1 pattern for a normalised (type, value), quotes and
 * backslashes escaped. Returns 0, or -1 if it does not fit in cap. */
int ind_pattern(ind_type_t type, const char *value, char *out, size_t cap);

/* True for "indicator--" followed by a lowercase RFC 4122 UUID. */
int ind_id_valid(const char *id);

#define IND_LABELS_MAX 16 /* labels per indicator */
#define IND_LABEL_MAX 64  /* bytes per label */
/* A label (STIX "labels"; MOU purposes match them): 1-64 bytes of printable
 * ASCII, no comma, no leading or trailing space. */
int ind_label_valid(const char *label);

#endif
