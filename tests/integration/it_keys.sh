#!/usr/bin/env bash
# Keys under traffic: indicators flow continuously from vn.ais to us.cisa
# while vn.ais rotates its keys; every one arrives exactly once and none is
# refused. The root key is offline all along (the nodes never need it).
# Then vn.ais revokes its old key: us.cisa refuses a batch signed by it
# (injected by this test) and a connection made with it, and says why.
source "$(dirname "$0")/lib.sh"
HOSTILE=$MOUX_BIN/mouxhostile
A=$WORK/vn.ais B=$WORK/us.cisa

"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null

# The agency root goes offline: the running nodes must not need it.
mv "$WORK/vn.ais.root" "$WORK/offline-vn.ais.root"

# Continuous traffic: N items in chunks, bounded in count and time.
N=3000 CHUNK=100
publisher() {
    local i c
    for c in $(seq 0 $((N / CHUNK - 1))); do
        for i in $(seq 1 $CHUNK); do printf 'domain-name,h%d.rotation.example\n' $((c * CHUNK + i)); done \
            > "$WORK/chunk.csv"
        "$MOUX" publish -d "$A" --file "$WORK/chunk.csv" >/dev/null 2>&1 || return 1
        sleep 0.05
    done
}
publisher & pub=$!

# Rotate in the middle of it (the root key is brought out for this only).
rotated_stored() { [ "$(count_where "$B" '.from=="vn.ais"')" -ge 500 ]; }
wait_for 30 "traffic under way" rotated_stored
mv "$WORK/offline-vn.ais.root" "$WORK/vn.ais.root"
"$MOUX" keys rotate -d "$A" --root "$WORK/vn.ais.root" >/dev/null
mv "$WORK/vn.ais.root" "$WORK/offline-vn.ais.root"
installed() { grep -q "KEYS-ROTATED" "$A/mouxd.log"; }
wait_for 30 "rotation installed" installed
wait $pub || fail "publishing failed during the rotation"

all_there() { [ "$(count_where "$B" '.from=="vn.ais"')" = $N ]; }
wait_for 60 "all $N items at us.cisa" all_there
dupes=$(sqlite3 "$B/store.db" "select count(*) - count(distinct value) from indicator")
refused=$(sqlite3 "$B/store.db" "select count(*) from event where kind in ('batch-refused','item-refused')")
[ "$dupes" = 0 ] || fail "$dupes duplicates at us.cisa"
[ "$refused" = 0 ] || fail "$refused refusals at us.cisa during the rotation"
[ "$("$MOUX" keys show -d "$A" --json | jq '.certificate.serial')" = 2 ] || fail "vn.ais is not on serial 2"
[ "$(sqlite3 "$B/store.db" "select count(*) from partner_key where serial in (1,2)")" = 2 ] \
    || fail "us.cisa does not keep both of vn.ais's keys"
note "rotation: $N items, each once, none refused; us.cisa keeps serial 1 with its retirement time"

# A batch sealed with vn.ais's previous key set (serial 1, in its overlap),
# as one sent just before the rotation and read just after: taken. The
# transport key is the current one (the old one is no longer connected);
# the MOU is vn.ais's, from a copy of its store.
node_copy "$A" "$WORK/forger"
cp "$A"/retired/1/keys/{sign,enc}.{pub,sec} "$WORK/forger/keys/"
seq=$(( $(sqlite3 "$A/store.db" "select tx_seq_reserved from partner") + 1 ))
out=$("$HOSTILE" --timeout-ms 20000 --as "$WORK/forger" --to "$B" --seq "$seq" --value 198.51.100.98 valid)
jq -e '.receipt == true and .status == "ok"' <<<"$out" >/dev/null \
    || fail "a batch under vn.ais's previous keys, in the overlap, was not taken: $out"
[ "$(count_where "$B" '.value=="198.51.100.98"')" = 1 ] || fail "the previous keys' item not stored"
note "a batch under the previous keys during the overlap: taken"

# A batch from us.cisa encrypted to vn.ais's previous encryption key (sealed
# just before us.cisa learnt of the rotation): vn.ais opens it with that key
# during the overlap. (it_keys_retired refuses one after the overlap.)
# As with the forger, us.cisa is a copy (its daemon runs); the sequence is
# far above its own, and us.cisa sends vn.ais no batch afterwards.
seen_before_rotation "$A" "$A/retired/1" "$WORK/vn.ais-before"
node_copy "$B" "$WORK/us.cisa-copy"
out=$("$HOSTILE" --timeout-ms 20000 --as "$WORK/us.cisa-copy" --to "$WORK/vn.ais-before" \
    --seq 800000 --value 198.51.100.97 valid)
jq -e '.receipt == true and .status == "ok"' <<<"$out" >/dev/null \
    || fail "a batch to vn.ais's previous encryption key, in the overlap, was not taken: $out"
[ "$(count_where "$A" '.value=="198.51.100.97"')" = 1 ] || fail "the item to the previous key not stored"
note "a batch to our previous encryption key during the overlap: taken"

# A node restarts without its root key at hand. Its previous keys were
# made long before the rotation (their files say so): the overlap still
# runs from the rotation, so they are kept for partners that missed it.
"$CLUSTER" stop "$WORK" vn.ais
touch -d '30 days ago' "$A"/retired/1/keys/*
"$CLUSTER" start "$WORK" vn.ais
! grep -q "KEYS-OVERLAP-END" "$A/mouxd.log" || fail "the overlap ended at the restart"
[ -e "$A/retired/1/keys/sign.sec" ] || fail "the previous secret keys were deleted at the restart"
note "vn.ais restarted with its root key offline; the previous keys' overlap goes on"

# Emergency revocation of the old key. Revoking the one vn.ais speaks with
# now (serial 2) is refused without --force, and nothing is signed.
mv "$WORK/offline-vn.ais.root" "$WORK/vn.ais.root"
if "$MOUX" keys revoke -d "$A" --root "$WORK/vn.ais.root" --serial 2 >/dev/null \
    2>"$WORK/revoke-current.err"; then
    fail "revoking the certificate vn.ais speaks with was not refused"
fi
grep -q "refusing to revoke the key $A speaks with now (certificate serial 2" \
    "$WORK/revoke-current.err" || fail "unexpected refusal: $(cat "$WORK/revoke-current.err")"
[ ! -e "$A/keys/revocations.list" ] || fail "a revocation list was written for the current key"
note "revoking the current key refused: $(head -c 120 "$WORK/revoke-current.err")..."
"$MOUX" keys revoke -d "$A" --root "$WORK/vn.ais.root" --serial 1 >/dev/null
revoked() { [ "$(sqlite3 "$B/store.db" "select revoked_ms > 0 from partner_key where serial = 1")" = 1 ]; }
wait_for 10 "us.cisa holds the revocation" revoked
grep -q "REVOCATION-RECEIVED: partner vn.ais" "$B/mouxd.log" || fail "revocation not logged at us.cisa"
"$MOUX" status -d "$B" --json | jq -e '.partners[0].revoked_certificates == 1 and .partners[0].revocation_list == 1' \
    >/dev/null || fail "us.cisa's status does not show the revocation"

# A batch signed with the revoked key, over a transport key that is still
# good: refused, with the reason in the receipt, the log and the events.
out=$("$HOSTILE" --timeout-ms 20000 --as "$WORK/forger" --to "$B" --seq 900000 --value 198.51.100.99 valid)
jq -e '.receipt == true and .status == "refused" and .reason == "revoked-key"' <<<"$out" >/dev/null \
    || fail "batch signed with the revoked key not refused as revoked-key: $out"
[ "$(count_where "$B" '.value=="198.51.100.99"')" = 0 ] || fail "revoked key's item stored"
[ "$(sqlite3 "$B/store.db" "select count(*) from event where reason='revoked-key'")" -ge 1 ] \
    || fail "refusal not recorded"

# The whole old key set, transport key included: ZAP refuses the connection.
mkdir -p "$WORK/old/keys"
cp "$A/moux.conf" "$WORK/old/"
cp "$A"/retired/1/keys/*.{pub,sec} "$WORK/old/keys/"
out=$("$HOSTILE" --as "$WORK/old" --to "$B" --seq 900001 valid)
jq -e '.receipt == false' <<<"$out" >/dev/null || fail "revoked transport key got an answer: $out"
grep -q "ZAP-DENIED" "$B/mouxd.log" || fail "ZAP did not refuse the revoked transport key"

# An older revocation list replayed over a newer one is refused: list 2 is
# issued, then list 1 is put back and announced again.
cp "$A/keys/revocations.list" "$WORK/list1"
"$MOUX" keys revoke -d "$A" --root "$WORK/vn.ais.root" --serial 77 >/dev/null
list2() { [ "$(sqlite3 "$B/store.db" "select rev_number from partner")" = 2 ]; }
wait_for 10 "us.cisa holds list 2" list2
cp "$A/keys/revocations.list" "$WORK/list2"
cp "$WORK/list1" "$A/keys/revocations.list"
"$CLUSTER" stop "$WORK" vn.ais && "$CLUSTER" start "$WORK" vn.ais # announces list 1
replay_refused() { [ "$(sqlite3 "$B/store.db" "select count(*) from event where reason='revocation-list-older'")" -ge 1 ]; }
wait_for 15 "the replayed list 1 to be refused" replay_refused
[ "$(sqlite3 "$B/store.db" "select rev_number from partner")" = 2 ] || fail "list 1 replaced list 2"
note "an older revocation list replayed over a newer one: refused (revocation-list-older)"

# A renewal announced with that older list: us.cisa refuses the list but
# takes the certificate, and vn.ais records that it holds it.
"$MOUX" keys certify -d "$A" --root "$WORK/vn.ais.root" >/dev/null
renewed=$("$MOUX" keys show -d "$A" --json | jq '.certificate.serial')
holds() { "$MOUX" status -d "$A" --json | jq -e ".partners[0].holds_our_serial == $renewed"; }
wait_for 15 "vn.ais to record that us.cisa holds serial $renewed (list refused)" holds
cp "$WORK/list2" "$A/keys/revocations.list"
note "a renewal whose list is refused: the certificate counts as held (serial $renewed)"

# Traffic with the current key still flows.
"$MOUX" publish -d "$A" --type ipv4-addr --value 203.0.113.250 >/dev/null
after() { [ "$(count_where "$B" '.value=="203.0.113.250"')" = 1 ]; }
wait_for 10 "traffic after the revocation" after
note "revocation: old key refused (batch and connection), current key flows"

# A certificate that ends: the node stops sending and says why; renewed, it
# resumes (the partner admits the expired key's connection, so the renewal
# can reach it over the link, but takes no batch signed under it).
until=$(date -u -d "+10 seconds" +%Y-%m-%dT%H:%M:%SZ)
"$MOUX" keys certify -d "$A" --root "$WORK/vn.ais.root" --until "$until" >/dev/null
expired() { "$MOUX" status -d "$A" --json | jq -e '.warnings | map(test("expired")) | any'; }
wait_for 30 "vn.ais's certificate to expire" expired
"$MOUX" publish -d "$A" --type ipv4-addr --value 203.0.113.251 >/dev/null
held() { "$MOUX" status -d "$A" --json |
    jq -e '.partners[0].outbox == 1 and (.partners[0].last_error | test("not sending: our certificate"))'; }
wait_for 10 "vn.ais to hold the item back, saying why" held
[ "$(count_where "$B" '.value=="203.0.113.251"')" = 0 ] || fail "sent with an expired certificate"
grep -q "CERT-INVALID" "$A/mouxd.log" || fail "the refusal to send is not logged"
"$MOUX" keys certify -d "$A" --root "$WORK/vn.ais.root" >/dev/null
resumed() { [ "$(count_where "$B" '.value=="203.0.113.251"')" = 1 ]; }
wait_for 15 "delivery after the renewal" resumed
expired_refusals=$(sqlite3 "$B/store.db" "select count(*) from event where reason='certificate-expired'")
[ "$expired_refusals" = 0 ] || fail "us.cisa refused $expired_refusals batch(es) as certificate-expired after the renewal"
note "expiry: nothing sent under an expired certificate; renewed, delivery resumed"

# A compromised current key is revoked at once with --force: the node's own
# list then covers the certificate it speaks with (moux keys show says so).
serial=$("$MOUX" keys show -d "$A" --json | jq '.certificate.serial')
"$MOUX" keys revoke -d "$A" --root "$WORK/vn.ais.root" --serial "$serial" --force >/dev/null \
    || fail "keys revoke --force of the current certificate failed"
"$MOUX" keys show -d "$A" --json 2>/dev/null | jq -e '.revoked == true' >/dev/null \
    || fail "moux keys show does not report the current certificate revoked"
note "--force revoked the current certificate (serial $serial)"
