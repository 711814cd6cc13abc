/* Certificates, revocation lists and the KeyUpdate frames that carry them.
 * The first input byte picks a mode:
 *
 *   0  the rest is a serialised NodeCert, verified against a root generated
 *      at start-up (it refuses unless the fuzzer forged a root signature,
 *      so this drives every refusal path); a certificate the root did sign
 *      (mode 2 below makes them) always verifies.
 *   1  the rest is a serialised RevocationList, verified the same way.
 *   2  the rest seeds a certificate: fields from the input, signed by the
 *      root, then one byte flipped at a position from the input: the
 *      unflipped one must verify and give back its fields; a flipped one
 *      must not verify (or, if the flip lands where it changes nothing the
 *      signature covers, must give back the same fields).
 *   3  the rest is a serialised Frame decoded under the daemon's budget;
 *      a KeyUpdate's parts (certificate, revocation list, MOU termination
 *      notice) are re-serialised and verified, as keyupdate.c and
 *      agreement.c do. The budget must be given back in full.
 *   4  the rest is a serialised MouNotice, parsed and verified against the
 *      root (refused unless the fuzzer forged a signature).
 *   5  the rest seeds a termination notice signed by the root, then one
 *      byte flipped: the unflipped one verifies with its fields; a flipped
 *      one verifies only if nothing signed changed.
 *   6  the rest is a serialised SignedCheckpoint, parsed and verified
 *      against a node key generated at start-up, and countersigned when it
 *      verifies (as a witness does).
 *   7  the rest seeds an audit checkpoint signed by that key, then one byte
 *      flipped, as in mode 5.
 * In mode 3, a CheckpointOffer's checkpoint is verified the same way and its
 * consistency proof checked against sizes and roots from the input, as
 * inbound.c does (a proof from the wire never verifies by accident). */
#include "cert.h"
#include "fuzz_common.h"
#include "checkpoint.h"
#include "merkle.h"
#include "moux.pb-c.h"
#include "mounotice.h"
#include "pbpack.h"
#include "pbbudget.h"
#include "revocation.h"

static rootkey_t *s_root;
static unsigned char s_node_pk[32], s_node_sk[64]; /* a node's signing key */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sodium_init();
    s_root = rootkey_generate();
    if (!s_root)
        abort();
    crypto_sign_keypair(s_node_pk, s_node_sk);
    return 0;
}

static void s_verify_cert(const uint8_t *data, size_t size)
{
    cert_t c;
    const char *why = NULL;
    if (cert_verify(data, size, s_root->pk, &c, &why) == 0) {
        FUZZ_CHECK(why == NULL && c.serial >= 1 && c.not_after_ms > c.not_before_ms);
        FUZZ_CHECK(strlen(c.agency) >= 1 && strlen(c.agency) <= CERT_AGENCY_MAX);
        cert_check_time(&c, 0, &why);
        FUZZ_CHECK(why != NULL); /* nothing is valid at the epoch's first ms */
    } else {
        FUZZ_CHECK(why != NULL);
    }
}

static void s_verify_revs(const uint8_t *data, size_t size)
{
    revlist_t l;
    const char *why = NULL;
    unsigned char kid[KEYID_BYTES] = {0};
    if (revlist_verify(data, size, s_root->pk, &l, &why) == 0) {
        FUZZ_CHECK(l.n_serials <= REVLIST_MAX_ENTRIES && l.n_key_ids <= REVLIST_MAX_ENTRIES);
        for (size_t i = 0; i < l.n_serials; i++)
            FUZZ_CHECK(revlist_covers(&l, l.serials[i], kid));
        revlist_free(&l);
    } else {
        FUZZ_CHECK(why != NULL);
    }
}

/* A certificate made from input bytes, signed by the root, then tampered. */
static void s_roundtrip(const uint8_t *data, size_t size)
{
    cert_t c;
    memset(&c, 0, sizeof c);
    size_t alen = 1 + fuzz_take(&data, &size, 1) % CERT_AGENCY_MAX;
    for (size_t i = 0; i < alen; i++)
        c.agency[i] = (char)('a' + fuzz_take(&data, &size, 1) % 26);
    memcpy(c.endpoint, "tcp://127.0.0.1:7000", 21);
    for (int i = 0; i < 32; i++) {
        c.sign_pk[i] = (unsigned char)fuzz_take(&data, &size, 1);
        c.enc_pk[i] = (unsigned char)fuzz_take(&data, &size, 1);
        c.curve_pk[i] = (unsigned char)fuzz_take(&data, &size, 1);
    }
    c.serial = 1 + fuzz_take(&data, &size, 4);
    c.not_before_ms = fuzz_take(&data, &size, 5);
    c.not_after_ms = c.not_before_ms + 1 + fuzz_take(&data, &size, 4);
    size_t pos = (size_t)fuzz_take(&data, &size, 2);
    uint8_t mask = (uint8_t)fuzz_take(&data, &size, 1);
    uint8_t *raw = NULL;
    size_t len = 0;
    FUZZ_CHECK(cert_issue(&c, s_root, &raw, &len) == 0);
    cert_t back;
    const char *why = NULL;
    FUZZ_CHECK(cert_verify(raw, len, s_root->pk, &back, &why) == 0);
    FUZZ_CHECK(strcmp(back.agency, c.agency) == 0 && back.serial == c.serial &&
               memcmp(back.sign_pk, c.sign_pk, 32) == 0 && back.not_after_ms == c.not_after_ms);
    if (mask) {
        raw[pos % len] ^= mask;
        cert_t t;
        if (cert_verify(raw, len, s_root->pk, &t, &why) == 0) /* only if nothing signed changed */
            FUZZ_CHECK(memcmp(&t, &back, sizeof t) == 0);
    }
    free(raw);
}

static void s_verify_notice(const uint8_t *data, size_t size)
{
    mou_notice_t n, p;
    const char *why = NULL;
    if (mou_notice_verify(data, size, s_root->pk, &n, &why) == 0) {
        FUZZ_CHECK(why == NULL || why[0]);
        FUZZ_CHECK(mou_notice_parse(data, size, &p, &why) == 0 && memcmp(&n, &p, sizeof n) == 0);
        FUZZ_CHECK(agency_id_valid(n.agency) && n.mou_id[0]);
    } else {
        FUZZ_CHECK(why != NULL);
    }
}

/* A notice made from input bytes, signed by the root, then tampered. */
static void s_notice_roundtrip(const uint8_t *data, size_t size)
{
    mou_notice_t n, back;
    memset(&n, 0, sizeof n);
    size_t alen = 1 + fuzz_take(&data, &size, 1) % AGENCY_MAX;
    for (size_t i = 0; i < alen; i++)
        n.agency[i] = (char)('a' + fuzz_take(&data, &size, 1) % 26);
    size_t rlen = fuzz_take(&data, &size, 1) % (MOU_NOTICE_REASON_MAX + 1);
    for (size_t i = 0; i < rlen; i++)
        n.reason[i] = (char)(0x20 + fuzz_take(&data, &size, 1) % 95);
    memcpy(n.mou_id, "a--b-1", 7);
    for (int i = 0; i < MOU_HASH_BYTES; i++)
        n.mou_hash[i] = (unsigned char)fuzz_take(&data, &size, 1);
    n.effective_ms = fuzz_take(&data, &size, 6);
    size_t pos = (size_t)fuzz_take(&data, &size, 2);
    uint8_t mask = (uint8_t)fuzz_take(&data, &size, 1);
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    FUZZ_CHECK(mou_notice_sign(&n, s_root, &raw, &len, &why) == 0);
    FUZZ_CHECK(mou_notice_verify(raw, len, s_root->pk, &back, &why) == 0);
    FUZZ_CHECK(strcmp(back.agency, n.agency) == 0 && strcmp(back.reason, n.reason) == 0 &&
               back.effective_ms == n.effective_ms &&
               memcmp(back.mou_hash, n.mou_hash, MOU_HASH_BYTES) == 0);
    if (mask) {
        raw[pos % len] ^= mask;
        mou_notice_t t;
        if (mou_notice_verify(raw, len, s_root->pk, &t, &why) == 0)
            FUZZ_CHECK(memcmp(&t, &back, sizeof t) == 0);
    }
    free(raw);
}

/* A signed part of a frame, re-serialised and checked as the daemon does. */
static void s_repacked(const ProtobufCMessage *m, void (*check)(const uint8_t *, size_t))
{
    size_t len = 0;
    uint8_t *buf = pb_pack(m, &len);
    FUZZ_CHECK(buf != NULL);
    check(buf, len);
    free(buf);
}

static void s_verify_checkpoint(const uint8_t *data, size_t size)
{
    checkpoint_t c, p;
    const char *why = NULL;
    uint8_t sig[64];
    if (checkpoint_verify(data, size, s_node_pk, &c, &why) == 0) {
        FUZZ_CHECK(checkpoint_parse(data, size, &p, &why) == 0 && memcmp(&c, &p, sizeof c) == 0);
        FUZZ_CHECK(checkpoint_countersign(data, size, s_node_sk, sig) == 0 &&
                   checkpoint_countersig_verify(data, size, s_node_pk, sig) == 0);
    } else {
        FUZZ_CHECK(why != NULL);
    }
}

/* A checkpoint made from input bytes, signed by the node key, then tampered. */
static void s_checkpoint_roundtrip(const uint8_t *data, size_t size)
{
    checkpoint_t c, back;
    memset(&c, 0, sizeof c);
    size_t alen = 1 + fuzz_take(&data, &size, 1) % AGENCY_MAX;
    for (size_t i = 0; i < alen; i++)
        c.log[i] = (char)('a' + fuzz_take(&data, &size, 1) % 26);
    c.size = fuzz_take(&data, &size, 8);
    for (int i = 0; i < 32; i++)
        c.root[i] = (uint8_t)fuzz_take(&data, &size, 1);
    c.timestamp_ms = fuzz_take(&data, &size, 6);
    size_t pos = (size_t)fuzz_take(&data, &size, 2);
    uint8_t mask = (uint8_t)fuzz_take(&data, &size, 1), *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    FUZZ_CHECK(checkpoint_sign(&c, s_node_pk, s_node_sk, &raw, &len) == 0);
    FUZZ_CHECK(checkpoint_verify(raw, len, s_node_pk, &back, &why) == 0);
    FUZZ_CHECK(strcmp(back.log, c.log) == 0 && back.size == c.size &&
               memcmp(back.root, c.root, 32) == 0 && back.timestamp_ms == c.timestamp_ms);
    if (mask) {
        raw[pos % len] ^= mask;
        checkpoint_t t;
        if (checkpoint_verify(raw, len, s_node_pk, &t, &why) == 0)
            FUZZ_CHECK(memcmp(&t, &back, sizeof t) == 0);
    }
    free(raw);
}

/* A CheckpointOffer as the witness sees it. */
static void s_offer(const Moux__CheckpointOffer *o)
{
    if (o->checkpoint)
        s_repacked(&o->checkpoint->base, s_verify_checkpoint);
    if (o->n_consistency == 0 || o->n_consistency > MERKLE_MAX_CONSISTENCY_HASHES)
        return;
    uint8_t (*proof)[32] = calloc(o->n_consistency, sizeof *proof), r1[32] = {0}, r2[32] = {1};
    FUZZ_CHECK(proof != NULL);
    for (size_t i = 0; i < o->n_consistency; i++)
        if (o->consistency[i].len == 32)
            memcpy(proof[i], o->consistency[i].data, 32);
    uint64_t s1 = o->from_size ? o->from_size : 1;
    /* Roots the proof was not made for: it must not verify. */
    FUZZ_CHECK(merkle_verify_consistency(s1, s1 + o->n_consistency, r1, r2,
                                         (const uint8_t(*)[32])proof, o->n_consistency) != 0 ||
               s1 + o->n_consistency == s1);
    free(proof);
}

static void s_frame(const uint8_t *data, size_t size)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Frame *f = moux__frame__unpack(&pb.allocator, size, data);
    if (f && f->kind_case == MOUX__FRAME__KIND_CHECKPOINT_OFFER)
        s_offer(f->checkpoint_offer);
    if (f && f->kind_case == MOUX__FRAME__KIND_KEY_UPDATE) {
        const Moux__KeyUpdate *ku = f->key_update;
        if (ku->cert)
            s_repacked(&ku->cert->base, s_verify_cert);
        if (ku->revocations)
            s_repacked(&ku->revocations->base, s_verify_revs);
        if (ku->mou_notice)
            s_repacked(&ku->mou_notice->base, s_verify_notice);
    }
    if (f)
        moux__frame__free_unpacked(f, &pb.allocator);
    FUZZ_CHECK(pb.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 8;
    data++, size--;
    if (mode == 0)
        s_verify_cert(data, size);
    else if (mode == 1)
        s_verify_revs(data, size);
    else if (mode == 2)
        s_roundtrip(data, size);
    else if (mode == 3)
        s_frame(data, size);
    else if (mode == 4)
        s_verify_notice(data, size);
    else if (mode == 5)
        s_notice_roundtrip(data, size);
    else if (mode == 6)
        s_verify_checkpoint(data, size);
    else
        s_checkpoint_roundtrip(data, size);
    return 0;
}
