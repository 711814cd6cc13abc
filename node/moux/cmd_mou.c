/* moux mou: the MOU as a document (docs/MOU.md): a commented template,
 * strict checking with a readable summary, the MOU hash, detached
 * signatures by the parties' agency roots, and their verification. */
#include "cli.h"
#include "mou.h"
#include "rootkey.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define EXAMPLE_FP_PREFIX "EXAM-PLE"

static const char *s_use_new = "usage: moux mou new [--a AGENCY] [--a-fp FINGERPRINT] "
                               "[--b AGENCY] [--b-fp FINGERPRINT] [--id ID] > FILE";
static const char *s_use_check = "usage: moux mou check FILE [--json]";
static const char *s_use_show = "usage: moux mou show FILE [--json]";
static const char *s_use_hash = "usage: moux mou hash FILE";
static const char *s_use_sign = "usage: moux mou sign FILE --root ROOTKEY [--passphrase-file F] "
                                "[--agency AGENCY] [--out SIGFILE] [--force]";
static const char *s_use_verify = "usage: moux mou verify FILE [--sig SIGFILE]... [-d DIR] "
                                  "[--json]";

static int s_usage(const char *usage)
{
    cli_fail("%s", usage);
    return 2;
}

static int s_usage_all(void)
{
    fprintf(stderr, "%s\n%s\n%s\n%s\n%s\n%s\n", s_use_new, s_use_check, s_use_show, s_use_hash,
            s_use_sign, s_use_verify);
    fprintf(stderr, "usage: moux mou activate -d DIR FILE [--sig SIGFILE]...\n"
                    "usage: moux mou list -d DIR [--json]\n"
                    "usage: moux mou show -d DIR ID [--json]\n"
                    "usage: moux mou terminate -d DIR ID --root ROOTKEY [--passphrase-file F] "
                    "[--reason TEXT]\n"
                    "usage: moux mou purge -d DIR [--at TIME]\n");
    return 2;
}

static void s_print_json(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        printf("%s\n", text);
    else
        cli_fail("out of memory");
    free(text);
}

/* Reads and parses FILE; the text is kept for callers that need the bytes. */
static mou_t *s_load(const char *path)
{
    char err[1024];
    mou_t *m = NULL;
    if (mou_load(path, &m, err, sizeof err) != 0) {
        cli_fail("%s", err);
        return NULL;
    }
    return m;
}

/* ---- new ---- */

static void s_date(uint64_t ms, char out[16])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static void s_template_dir(const char *from, const char *to, int section)
{
    printf("# What %s sends to %s.\n", from, to);
    printf("[%s]\n", section == MOU_A_TO_B ? "a-to-b" : "b-to-a");
    printf("# Indicator types that may flow: all, or a comma list of ipv4-addr,\n"
           "# ipv6-addr, domain-name, url, email-addr, file:md5, file:sha1, file:sha256.\n"
           "types: all\n"
           "# Highest TLP 2.0 level that may flow: clear, green, amber, amber+strict, red.\n"
           "max-tlp: green\n"
           "# Onward sharing by %s: none (never), tlp (as TLP 2.0 allows), or\n"
           "# agencies ID, ID (only to these agencies, and only as TLP 2.0 allows).\n"
           "onward: none\n"
           "# yes: %s removes the origin agency before sending.\n"
           "anonymise: no\n"
           "# Days %s may keep a received item (1-%d).\n"
           "retention-days: 365\n"
           "# Lowest confidence (0-100) an item must have.\n"
           "min-confidence: 0\n"
           "# Optional: purpose labels; an item must carry at least one of them.\n"
           "# purposes: network-defense, incident-response\n"
           "# Optional: at most this many items per UTC day in this direction.\n"
           "# daily-limit: 100000\n"
           "# required: %s must return a signed receipt for every batch; or optional.\n"
           "receipts: required\n",
           to, from, to, MOU_RETENTION_MAX, to);
}

static int s_new(int argc, char **argv)
{
    static const struct option opts[] = {{"a", required_argument, 0, 'a'},
                                         {"a-fp", required_argument, 0, 'A'},
                                         {"b", required_argument, 0, 'b'},
                                         {"b-fp", required_argument, 0, 'B'},
                                         {"id", required_argument, 0, 'i'},
                                         {0, 0, 0, 0}};
    const char *agency[2] = {NULL, NULL}, *fp_in[2] = {NULL, NULL}, *id = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency[0] = optarg; break;
        case 'A': fp_in[0] = optarg; break;
        case 'b': agency[1] = optarg; break;
        case 'B': fp_in[1] = optarg; break;
        case 'i': id = optarg; break;
        default: return s_usage(s_use_new);
        }
    }
    if (optind != argc)
        return s_usage(s_use_new);
    char fps[2][FP_STRLEN], year[8];
    const char *who[2] = {"<agency-a>", "<agency-b>"};
    const char *fp_text[2] = {"<ROOT-FINGERPRINT-OF-AGENCY-A>", "<ROOT-FINGERPRINT-OF-AGENCY-B>"};
    for (int i = 0; i < 2; i++) {
        if (agency[i]) {
            if (!agency_id_valid(agency[i]))
                return cli_fail("--%c: \"%s\" is not an agency id (1-%d of a-z 0-9 . -)",
                                'a' + i, agency[i], AGENCY_MAX);
            who[i] = agency[i];
        }
        if (fp_in[i]) {
            unsigned char fp[FP_BYTES];
            if (fingerprint_parse(fp_in[i], fp) != 0)
                return cli_fail("--%c-fp: \"%s\" is not a root fingerprint (32 symbols of "
                                "A-Z 2-7)", 'a' + i, fp_in[i]);
            fingerprint_format(fp, fps[i]);
            fp_text[i] = fps[i];
        }
    }
    if (agency[0] && agency[1] && strcmp(agency[0], agency[1]) == 0)
        return cli_fail("--a and --b name the same agency %s", agency[0]);
    uint64_t now = now_ms();
    char eff[16], exp[16], idbuf[MOU_ID_MAX + 64];
    s_date(now, eff);
    /* A year on: the same date next year (29 February becomes 1 March). */
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_year += 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    s_date((uint64_t)timegm(&tm) * 1000u, exp);
    snprintf(year, sizeof year, "%.4s", eff);
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "%s--%s-%s-01", who[0], who[1], year);
        id = idbuf;
    }
    printf("# moux MOU: what may flow between two agencies' nodes, and what the\n"
           "# recipient may do with it. Reference: docs/MOU.md, man 5 moux-mou.\n"
           "#\n"
           "# 1. Fill in every <placeholder> and adjust the values.\n"
           "# 2. moux mou check FILE       (must pass; it prints a summary)\n"
           "# 3. Each party signs the SAME bytes with its agency root key:\n"
           "#      moux mou sign FILE --root ROOTKEY     (writes FILE.AGENCY.sig)\n"
           "#    and sends the .sig file to the other party. Any later change to\n"
           "#    this file, even a comment, voids both signatures.\n"
           "# 4. moux mou verify FILE -d DIR  (both signatures, against pinned roots)\n"
           "#\n"
           "# Lines are \"key: value\", \"[section]\", comments starting with '#' in\n"
           "# column 1, or blank. A value runs to the end of its line: no comments\n"
           "# after a value. ASCII only, LF line ends, no trailing spaces.\n"
           "\n"
           "moux-mou: 1\n"
           "# A unique id for this agreement: a-z 0-9 . - _\n"
           "id: %s\n"
           "title: <what this agreement is, in one line>\n"
           "\n"
           "# The parties: agency id and agency root fingerprint (\"moux keys\n"
           "# root-pub ROOTKEY\" prints it). Confirm each fingerprint by phone.\n"
           "party-a: %s root-fingerprint %s\n"
           "party-b: %s root-fingerprint %s\n"
           "\n"
           "# In force from effective (inclusive) until expires (exclusive), UTC:\n"
           "# YYYY-MM-DD (00:00:00Z that day) or YYYY-MM-DDTHH:MM:SSZ.\n"
           "effective: %s\n"
           "expires: %s\n"
           "\n"
           "# One section per direction. Remove a whole section for a one-way\n"
           "# agreement; at least one must remain.\n"
           "\n",
           id, who[0], fp_text[0], who[1], fp_text[1], eff, exp);
    s_template_dir(who[0], who[1], MOU_A_TO_B);
    printf("\n");
    s_template_dir(who[1], who[0], MOU_B_TO_A);
    return fflush(stdout) == 0 ? 0 : cli_fail("writing the template: %s", strerror(errno));
}

/* ---- check, show, hash ---- */

static void s_print_dir(const mou_t *m, int index)
{
    const mou_dir_t *d = mou_dir(m, index);
    const char *from = mou_party(m, index == MOU_A_TO_B ? 0 : 1);
    const char *to = mou_party(m, index == MOU_A_TO_B ? 1 : 0);
    const char *section = index == MOU_A_TO_B ? "a-to-b" : "b-to-a";
    if (!d) {
        printf("\n  %s -> %s: nothing may flow (no [%s] section: one-way agreement)\n", from, to,
               section);
        return;
    }
    char types[256];
    mou_types_format(d->types, types, sizeof types);
    printf("\n  %s -> %s  ([%s], line %u)\n", from, to, section, d->line);
    printf("    types           %s\n", types);
    printf("    max-tlp         %s\n", tlp_name(d->max_tlp));
    if (d->onward == MOU_ONWARD_NONE) {
        printf("    onward          none: %s never passes items on\n", to);
    } else if (d->onward == MOU_ONWARD_TLP) {
        printf("    onward          tlp: %s may pass items on as TLP 2.0 allows\n", to);
    } else {
        printf("    onward          only to");
        for (size_t i = 0; i < d->n_onward; i++)
            printf("%s %s", i ? "," : "", d->onward_agencies[i]);
        printf(", and only as TLP 2.0 allows\n");
    }
    printf("    anonymise       %s\n", d->anonymise ? "yes: the origin is removed before sending"
                                                    : "no");
    printf("    retention-days  %u\n", d->retention_days);
    printf("    min-confidence  %u\n", d->min_confidence);
    if (d->n_purposes) {
        printf("    purposes        at least one of");
        for (size_t i = 0; i < d->n_purposes; i++)
            printf("%s %s", i ? "," : "", d->purposes[i]);
        printf("\n");
    } else {
        printf("    purposes        any (no label required)\n");
    }
    if (d->daily_limit)
        printf("    daily-limit     %llu items per UTC day\n",
               (unsigned long long)d->daily_limit);
    else
        printf("    daily-limit     none\n");
    printf("    receipts        %s\n", d->receipts_required ? "required" : "optional");
}

static void s_print_summary(const char *path, const mou_t *m)
{
    char eff[32], exp[32], why[128];
    format_time_ms(mou_effective_ms(m), eff);
    format_time_ms(mou_expires_ms(m), exp);
    int in_force = mou_valid_at(m, now_ms(), why, sizeof why);
    printf("%s: a valid MOU (format %d)\n", path, MOU_VERSION);
    printf("  id         %s\n", mou_id(m));
    printf("  title      %s\n", mou_title(m));
    for (int i = 0; i < 2; i++)
        printf("  party-%c    %s, root fingerprint %s\n", 'a' + i, mou_party(m, i),
               mou_party_fp_text(m, i));
    printf("  effective  %s\n", eff);
    printf("  expires    %s\n", exp);
    printf("  now        %s\n", in_force ? "in force" : why);
    printf("  hash       %s\n", mou_hash_hex(m));
    s_print_dir(m, MOU_A_TO_B);
    s_print_dir(m, MOU_B_TO_A);
    int blank = 0;
    for (int i = 0; i < 2; i++)
        if (strncmp(mou_party_fp_text(m, i), EXAMPLE_FP_PREFIX, strlen(EXAMPLE_FP_PREFIX)) == 0)
            printf("%snote: party-%c's root fingerprint is an example placeholder: write %s's "
                   "real root fingerprint before signing\n", blank++ ? "" : "\n", 'a' + i,
                   mou_party(m, i));
}

static int s_check(int argc, char **argv, const char *usage)
{
    const char *file = NULL;
    int as_json = 0;
    if (cli_file_json_args(argc, argv, &file, &as_json) != 0)
        return s_usage(usage);
    mou_t *m = s_load(file);
    if (!m)
        return 1;
    int rc = 0;
    if (as_json) {
        json_t *o = mou_to_json(m, now_ms());
        if (o)
            json_object_set_new(o, "file", json_string(argv[optind]));
        s_print_json(o);
        rc = o ? 0 : 1;
        json_decref(o);
    } else {
        s_print_summary(argv[optind], m);
    }
    mou_destroy(&m);
    return rc;
}

static int s_check_cmd(int argc, char **argv)
{
    return s_check(argc, argv, s_use_check);
}

/* show FILE, or show -d DIR ID: an MOU a node holds. */
static int s_show(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "-d") == 0 || strncmp(argv[i], "--dir", 5) == 0)
            return cmd_mou_show_active(argc, argv);
    return s_check(argc, argv, s_use_show);
}

static int s_hash(int argc, char **argv)
{
    if (argc != 3 || argv[2][0] == '-')
        return s_usage(s_use_hash);
    mou_t *m = s_load(argv[2]);
    if (!m)
        return 1;
    printf("%s\n", mou_hash_hex(m));
    mou_destroy(&m);
    return 0;
}

/* ---- sign ---- */

/* Writes a new signature file, or replaces one (force) atomically. */
static int s_write_sig(const char *path, const char *line, int force)
{
    char tmp[PATH_MAX_MOUX + 8];
    const char *target = path;
    if (force) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
            return cli_fail("%s: path too long", path);
        unlink(tmp);
        target = tmp;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return cli_fail("%s: %s", target, strerror(errno));
    size_t len = strlen(line);
    ssize_t n = write(fd, line, len);
    int ok = n == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && force && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        int e = errno;
        unlink(target);
        return cli_fail("%s: %s", path, strerror(e));
    }
    return 0;
}

static int s_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"root", required_argument, 0, 'r'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"agency", required_argument, 0, 'a'},
                                         {"out", required_argument, 0, 'o'},
                                         {"force", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    const char *root_file = NULL, *pass_file = NULL, *agency = NULL, *out = NULL;
    int force = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': root_file = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'a': agency = optarg; break;
        case 'o': out = optarg; break;
        case 'F': force = 1; break;
        default: return s_usage(s_use_sign);
        }
    }
    if (!root_file || optind != argc - 1)
        return s_usage(s_use_sign);
    const char *file = argv[optind];
    mou_t *m = s_load(file);
    if (!m)
        return 1;
    int rc = 1, party = -1;
    rootkey_t *root = NULL;
    char err[1024], line[MOU_SIG_LINE_MAX + 1], path[PATH_MAX_MOUX], exp[32];
    if (agency && mou_party_index(m, agency) < 0) {
        cli_fail("--agency %s is not a party to MOU %s (party-a %s, party-b %s)", agency,
                 mou_id(m), mou_party(m, 0), mou_party(m, 1));
        goto out;
    }
    /* Fail on the fingerprint before asking for a passphrase. */
    unsigned char pk[32], fp[FP_BYTES];
    if (rootkey_read_public(root_file, pk, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    root_fingerprint(pk, fp);
    int match = -1;
    for (int i = 0; i < 2; i++)
        if (memcmp(fp, mou_party_fp(m, i), FP_BYTES) == 0 &&
            (!agency || strcmp(agency, mou_party(m, i)) == 0))
            match = i;
    if (match < 0) {
        /* mou_sign words the refusal; the secret key is not needed for it. */
        rootkey_t probe = {0};
        memcpy(probe.pk, pk, sizeof pk);
        if (mou_sign(m, &probe, agency, root_file, line, sizeof line, NULL, err, sizeof err) != 0)
            cli_fail("%s", err);
        goto out;
    }
    if (!(root = cli_open_root(root_file, pass_file)))
        goto out;
    if (mou_sign(m, root, agency, root_file, line, sizeof line, &party, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    if (!out) {
        if (mou_sig_path(file, mou_party(m, party), path, sizeof path) != 0) {
            cli_fail("%s: path too long", file);
            goto out;
        }
        out = path;
    }
    char old[MOU_SIG_LINE_MAX + 1];
    size_t oldlen = 0;
    int have = mou_sig_read(out, old, sizeof old, &oldlen, err, sizeof err);
    if (have == 0 && strcmp(old, line) == 0) {
        printf("%s already holds this signature: %s signed this MOU (hash %s)\n", out,
               mou_party(m, party), mou_hash_hex(m));
        rc = 0;
        goto out;
    }
    if (have != 1 && !force) {
        cli_fail("%s exists and is not this signature (another version of the MOU?); --force "
                 "replaces it", out);
        goto out;
    }
    if (s_write_sig(out, line, have != 1) != 0)
        goto out;
    format_time_ms(mou_expires_ms(m), exp);
    printf("signed MOU %s as party-%c %s (root fingerprint %s)\n  MOU hash  %s\n"
           "  signature %s\nsend %s with the MOU to %s; each node needs both signatures\n",
           mou_id(m), 'a' + party, mou_party(m, party), mou_party_fp_text(m, party),
           mou_hash_hex(m), out, out, mou_party(m, 1 - party));
    if (mou_expires_ms(m) <= now_ms())
        fprintf(stderr, "moux: warning: this MOU expired at %s; it can never be activated\n",
                exp);
    rc = 0;
out:
    rootkey_destroy(&root);
    mou_destroy(&m);
    return rc;
}

/* ---- verify ---- */

static int s_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"sig", required_argument, 0, 's'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *sigs[CLI_MOU_MAX_SIGS], *dir = NULL;
    size_t n_sigs = 0;
    int as_json = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (n_sigs == CLI_MOU_MAX_SIGS)
                return cli_fail("at most %d --sig files", CLI_MOU_MAX_SIGS);
            sigs[n_sigs++] = optarg;
            break;
        case 'd': dir = optarg; break;
        case 'j': as_json = 1; break;
        default: return s_usage(s_use_verify);
        }
    }
    if (optind != argc - 1)
        return s_usage(s_use_verify);
    const char *file = argv[optind];
    mou_t *m = s_load(file);
    if (!m)
        return 1;
    int rc = 1, pinned[2] = {0, 0};
    char own[AGENCY_MAX + 1] = "";
    cli_sig_state_t st[2];
    if (cli_mou_sigs(m, file, sigs, n_sigs, dir, st, pinned, own) != 0)
        goto out;
    int both = st[0].valid && st[1].valid;
    char in_force_why[128];
    int in_force = mou_valid_at(m, now_ms(), in_force_why, sizeof in_force_why);
    if (as_json) {
        json_t *parties = json_array();
        for (int i = 0; i < 2; i++) {
            const char *state = st[i].valid      ? "valid"
                                : st[i].unpinned ? "unpinned"
                                : st[i].present  ? "invalid"
                                                 : "missing";
            json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "party", i ? "b" : "a",
                                  "agency", mou_party(m, i), "fingerprint",
                                  mou_party_fp_text(m, i), "signature", state, "file",
                                  st[i].file, "pinned", dir ? pinned[i] : 0);
            if (p && !st[i].valid)
                json_object_set_new(p, "why", json_string(st[i].why));
            json_array_append_new(parties, p);
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:b}", "file", file, "id", mou_id(m),
                              "hash", mou_hash_hex(m), "valid", both, "parties", parties,
                              "in_force", in_force);
        s_print_json(o);
        json_decref(o);
    } else {
        printf("MOU %s (hash %s)\n", mou_id(m), mou_hash_hex(m));
        for (int i = 0; i < 2; i++) {
            printf("  party-%c %s: ", 'a' + i, mou_party(m, i));
            if (st[i].valid)
                printf("valid signature (%s; root fingerprint %s%s)\n", st[i].file,
                       mou_party_fp_text(m, i),
                       dir ? "; the root this node has pinned" : "");
            else if (st[i].unpinned)
                printf("NOT ACCEPTED (%s): %s\n", st[i].file, st[i].why);
            else if (st[i].present)
                printf("INVALID signature (%s): %s\n", st[i].file, st[i].why);
            else
                printf("no signature (%s)\n", st[i].file ? st[i].file : "no --sig file names "
                       "this party");
        }
        if (!in_force)
            printf("  note: not in force now: %s\n", in_force_why);
        if (dir && own[0] && mou_party_index(m, own) < 0)
            printf("  note: node %s (%s) is not a party to this MOU\n", dir, own);
        printf("%s\n", both ? "signed by both parties" :
               (st[0].valid || st[1].valid) ? "NOT signed by both parties (one valid signature)"
                                            : "NOT signed by both parties (no valid signature)");
    }
    rc = both ? 0 : 1;
out:
    mou_destroy(&m);
    return rc;
}

/* ---- dispatch ---- */

static const cli_sub_t s_subs[] = {
    {"new", s_new},   {"check", s_check_cmd}, {"show", s_show},
    {"hash", s_hash}, {"sign", s_sign},       {"verify", s_verify},
    {"activate", cmd_mou_activate}, {"list", cmd_mou_list},
    {"terminate", cmd_mou_terminate}, {"purge", cmd_mou_purge},
};

int cmd_mou(int argc, char **argv)
{
    return cli_dispatch("mou", s_subs, sizeof s_subs / sizeof s_subs[0], argc, argv,
                        s_usage_all);
}
