/* The node configuration file, DIR/moux.conf: "key = value" lines, '#'
 * comments. Table-driven: every key has a type, a default and bounds, and
 * every error names the file and line. */
#ifndef MOUX_CONFIG_H
#define MOUX_CONFIG_H

#include <stddef.h>

#define AGENCY_MAX 64
#define ENDPOINT_MAX 256
#define PATH_MAX_MOUX 4096

typedef struct {
    char dir[PATH_MAX_MOUX];        /* node directory (not in the file) */
    char agency[AGENCY_MAX + 1];
    char listen[ENDPOINT_MAX];      /* where the ROUTER binds */
    char endpoint[ENDPOINT_MAX];    /* what partners connect to; default: listen */
    long max_message_bytes;         /* ZMQ_MAXMSGSIZE on every socket */
    long clock_skew_seconds;        /* timestamp window for incoming batches */
    long batch_max_items;           /* items per outgoing batch */
    long max_inflight_batches;      /* unreceipted batches per partner */
    long retry_initial_ms;          /* first retransmission delay */
    long retry_max_ms;              /* retransmission backoff ceiling */
    long heartbeat_ms;              /* ZMTP heartbeat interval */
    long rotation_overlap_seconds;  /* old keys stay valid this long after a rotation */
    long rotation_ack_ms;           /* how long a rotation waits for partners' acks */
    long retention_check_seconds;   /* how often received items past retention are purged */
    long checkpoint_interval_seconds; /* how often the audit log is checkpointed */
    long audit_log;                 /* 1: every event is logged (0: only to measure its cost) */
    char log_level[16];             /* error, warn, info, debug */
    char stix_default_tlp[16];      /* TLP of a STIX indicator without a TLP marking */
} config_t;

/* Fills *cfg with defaults, then reads DIR/moux.conf. Returns 0, or -1 with
 * a message naming file and line in err. */
int config_load(const char *dir, config_t *cfg, char *err, size_t errlen);
/* Writes a new DIR/moux.conf (0600, never overwriting). */
int config_write_new(const config_t *cfg, char *err, size_t errlen);

/* Agency ids: 1-64 of [a-z0-9.-], starting with a letter or digit; "local"
 * is reserved (it means "published here" in queries). */
int agency_id_valid(const char *id);
/* tcp://HOST:PORT with a decimal port 1-65535 (ipc:// is refused). */
int endpoint_valid(const char *endpoint);

/* "DIR/name" into out; -1 if it does not fit. */
int node_path(const char *dir, const char *name, char *out, size_t cap);

#endif
