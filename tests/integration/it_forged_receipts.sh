#!/usr/bin/env bash
# Forged receipts against a live sender. A two-agency cluster runs on
# loopback; us.cisa's daemon is stopped and mouxreceiver, holding us.cisa's
# node directory, takes its place: it answers vn.ais's batches with receipts
# signed by us.cisa's key but naming another sequence, another batch hash,
# the wrong agencies, other item versions, an unknown signing key, a broken
# signature, or replaying a good one, and countersigns vn.ais's checkpoint
# with a key that is not us.cisa's. vn.ais must refuse each
# (RECEIPT-REFUSED, with the reason, and a receipt-refused event) and keep
# the items queued until a valid receipt takes them; at the end the real
# us.cisa gets what is published next.
source "$(dirname "$0")/lib.sh"

# Retransmission soon after a refused receipt, so each mode gets a batch
# within seconds (the MOU and keys are the cluster's defaults).
impostor_pair $'retry_initial_ms = 300\nretry_max_ms = 1000'
note "vn.ais up; us.cisa stopped; mouxreceiver answers in its place"

refusals() { grep -c -- "RECEIPT-REFUSED: partner us.cisa: $1" "$S/mouxd.log" || true; }
events() { sqlite3 "$S/store.db" "select count(*) from event where kind = 'receipt-refused' and partner = 'us.cisa' and reason like '$1%'"; }

# forged MODE REASON: the receipt is refused with REASON, the items stay.
forged() {
    local mode=$1 reason=$2 before out
    before=$(refusals "$reason")
    out=$("$RECEIVER" --as "$WORK/us.cisa" --from "$S" --timeout-ms 20000 "$mode" \
        2>>"$WORK/receiver.log") || fail "mouxreceiver $mode got no batch (see receiver.log)"
    jq -e '.items >= 1' <<<"$out" >/dev/null || fail "$mode: $out"
    wait_for 5 "RECEIPT-REFUSED ($reason) after $mode" "[ \$(refusals '$reason') -gt $before ]"
    wait_for 5 "a receipt-refused event ($reason)" "[ \$(events '$reason') -ge 1 ]"
    [ "$(queued)" -ge 1 ] || fail "$mode: the items left the outbox on a forged receipt"
    note "$mode: refused ($reason), recorded; $(queued) item(s) still queued"
}

"$MOUX" publish -d "$S" --type ipv4-addr --value 203.0.113.7 --tlp green >/dev/null
"$MOUX" publish -d "$S" --type domain-name --value forged.example --tlp green >/dev/null
[ "$(queued)" -eq 2 ] || fail "expected 2 queued items, found $(queued)"

forged other-sequence "receipt names another sequence than the batch we sent"
forged other-hash "receipt hash is not the hash of the batch we sent"
forged other-agency "receipt names the wrong agencies"
forged results-mismatch "receipt results do not match the items of the batch"
forged flip-signature "receipt signature does not verify"
forged unknown-key "unknown-sender-key"

# A good receipt takes the items; the same receipt again is a replay.
before=$(refusals "receipt for no batch we sent recently")
out=$("$RECEIVER" --as "$WORK/us.cisa" --from "$S" --timeout-ms 20000 replay 2>>"$WORK/receiver.log") \
    || fail "mouxreceiver replay got no batch (see receiver.log)"
wait_for 5 "the outbox empties on the valid receipt" '[ "$(queued)" -eq 0 ]'
wait_for 5 "the replayed receipt refused" \
    "[ \$(refusals 'receipt for no batch we sent recently') -gt $before ]"
wait_for 5 "the replay recorded" "[ \$(events 'receipt for no batch we sent recently') -ge 1 ]"
note "replay: the first receipt applied ($(jq -c . <<<"$out")), the second refused"

# A checkpoint countersigned by a key that is not us.cisa's: refused and
# recorded, and no countersignature is kept from it.
"$MOUX" publish -d "$S" --type ipv4-addr --value 203.0.113.9 --tlp green >/dev/null
countersigs() { sqlite3 "$S/store.db" "select count(*) from countersig where partner = 'us.cisa'"; }
kept=$(countersigs)
out=$("$RECEIVER" --as "$WORK/us.cisa" --from "$S" --timeout-ms 20000 forged-countersignature \
    2>>"$WORK/receiver.log") || fail "mouxreceiver forged-countersignature got no batch (see receiver.log)"
jq -e '.offers >= 1' <<<"$out" >/dev/null || fail "no checkpoint offer came: $out"
wait_for 5 "CHECKPOINT-ACK-REFUSED" 'grep -q "CHECKPOINT-ACK-REFUSED: partner us.cisa" "$S/mouxd.log"'
[ "$(sqlite3 "$S/store.db" "select count(*) from event where kind = 'checkpoint-ack-refused' and partner = 'us.cisa'")" -ge 1 ] \
    || fail "the refused countersignature is not recorded"
[ "$(countersigs)" = "$kept" ] || fail "a forged countersignature was kept"
note "forged countersignature: refused, recorded, not kept"

# The real us.cisa holds everything the forgeries did not take.
"$MOUX" publish -d "$S" --type ipv4-addr --value 203.0.113.8 --tlp green >/dev/null
"$CLUSTER" start "$WORK" us.cisa >/dev/null
wait_for 20 "the real us.cisa stores the new item" \
    "[ \$(sqlite3 '$WORK/us.cisa/store.db' \"select count(*) from indicator where value = '203.0.113.8'\") -eq 1 ]"
wait_for 10 "vn.ais's outbox empties" '[ "$(queued)" -eq 0 ]'
note "the real partner took over; nothing left queued"
