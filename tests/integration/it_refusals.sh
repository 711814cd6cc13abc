#!/usr/bin/env bash
# Hostile input against a live node. A three-agency cluster runs on
# loopback; us.cisa's daemon is stopped and mouxhostile, holding us.cisa's
# node directory, attacks vn.ais with crafted frames. Every refusal must be
# visible (a signed receipt naming the reason, a row in the event table, or
# a log line), nothing refused may be stored, and vn.ais must keep running
# and serving: at the end the real us.cisa is started again and a normal
# publish still reaches vn.ais.
source "$(dirname "$0")/lib.sh"

HOSTILE=$MOUX_BIN/mouxhostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"
command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"

"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null
"$CLUSTER" stop "$WORK" us.cisa
T=$WORK/vn.ais
note "cluster up; us.cisa stopped; attacking vn.ais with us.cisa's keys"

# attack MODE [OPTIONS...]: runs mouxhostile, prints its JSON line.
attack() {
    local mode=$1; shift
    "$HOSTILE" --as "$WORK/us.cisa" --to "$T" --other "$WORK/vn.ncsc" --timeout-ms 15000 \
        "$@" "$mode" 2>>"$WORK/hostile.log" || fail "mouxhostile $mode did not run (see hostile.log)"
}

# expect JSON FILTER WHAT: the answer must satisfy the jq filter.
expect() {
    jq -e "$2" <<<"$1" >/dev/null || fail "$3: got $1"
}

alive() {
    local pid; pid=$(cat "$T/mouxd.pid")
    kill -0 "$pid" 2>/dev/null || fail "vn.ais died after $1"
    "$MOUX" status -d "$T" --json | jq -e .running >/dev/null || fail "vn.ais not answering after $1"
}

events() { sqlite3 "$T/store.db" "select count(*) from event where kind='$1' and reason='$2'"; }
events_are() { [ "$(events "$1" "$2")" -eq "$3" ]; }
log_count() { grep -c -- "$1" "$T/mouxd.log" || true; }
log_count_is() { [ "$(log_count "$1")" -ge "$2" ]; }
stored() { "$MOUX" query -d "$T" --json | jq -r --arg id "$1" 'select(.id == $id) | .id' | wc -l; }
item_id() { jq -r .item.id <<<"$1"; }

# refused MODE REASON [OPTIONS...]: a whole batch refused, in a verified
# receipt, recorded once in the event table, its item not stored.
refused() {
    local mode=$1 reason=$2; shift 2
    local before out; before=$(events batch-refused "$reason")
    out=$(attack "$mode" "$@")
    expect "$out" ".handshake == \"ok\" and .receipt and .verified and .status == \"refused\"
        and .reason == \"$reason\"" "$mode"
    wait_for 5 "event $reason after $mode" "events_are batch-refused $reason $((before + 1))"
    if jq -e .item <<<"$out" >/dev/null; then
        [ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "$mode: refused item was stored"
    fi
    alive "$mode"
    note "$mode: refused \"$reason\" in a signed receipt; event recorded; nothing stored; node up"
}

# unanswered MODE REASON: refused without a receipt (nothing in it can be
# trusted to answer), recorded once in the event table; the node runs on.
unanswered() {
    local before out; before=$(events batch-refused "$2")
    out=$(attack "$1" --timeout-ms 1500)
    expect "$out" '.handshake == "ok" and (.receipt | not)' "$1"
    wait_for 5 "$2 event after $1" "events_are batch-refused $2 $((before + 1))"
    alive "$1"
    note "$1: no receipt; recorded as $2; node up"
}

# 1. The baseline: the impersonation itself is sound.
out=$(attack valid)
expect "$out" '.status == "ok" and .verified and .results[0].status == "accepted"' valid
[ "$(stored "$(item_id "$out")")" -eq 1 ] || fail "valid: item not stored"
note "valid: accepted and stored (seq $(jq .sequence <<<"$out"))"

# 2. Tampering, misdirection, staleness, a broken payload.
refused flip-signature bad-signature
refused flip-ciphertext bad-ciphertext
refused flip-header bad-ciphertext
refused wrong-recipient wrong-recipient
refused other-agency wrong-recipient
refused stale stale-timestamp
refused malformed-payload malformed-payload
refused nul-string malformed-payload   # a value holding a NUL byte (PROTOCOL.md 4)
refused sender-mismatch sender-mismatch # the header names vn.ncsc as its sender
refused count-mismatch item-count-mismatch
refused too-many-items too-many-items  # 1025 items

# 3. Replay of the identical bytes: the same receipt again, stored once.
out=$(attack replay)
expect "$out" '.first.status == "ok" and .first.results[0].status == "accepted" and .status == "ok"
    and .identical and .message_id == .first.message_id' replay
[ "$(stored "$(item_id "$out")")" -eq 1 ] || fail "replay: item not stored exactly once"
seq=$(jq .sequence <<<"$out")
[ "$(sqlite3 "$T/store.db" "select count(*) from inbound where seq = $seq")" -eq 1 ] \
    || fail "replay: batch seq $seq not held exactly once"
log_count_is "BATCH-DUPLICATE: partner us.cisa: seq $seq" 1 || fail "replay: not logged"
alive replay
note "replay: byte-identical receipt returned twice; item and batch stored once"

# 4. A different batch under a used sequence number.
before=$(events batch-refused sequence-replayed)
out=$(attack seq-replay)
expect "$out" '.first.status == "ok" and .status == "refused" and .reason == "sequence-replayed"
    and .sequence == .first.sequence' seq-replay
[ "$(stored "$(jq -r .first.item.id <<<"$out")")" -eq 1 ] || fail "seq-replay: first not stored"
[ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "seq-replay: second batch's item stored"
wait_for 5 "sequence-replayed event" "events_are batch-refused sequence-replayed $((before + 1))"
alive seq-replay
note "seq-replay: first batch accepted, second refused \"sequence-replayed\""

# 5. Bytes that are no frame at all, a header that does not parse, or one of
# another protocol version: no receipt (PROTOCOL.md 6, steps 2-4), recorded.
unanswered garbage malformed-frame
unanswered malformed-header malformed-header
unanswered bad-version unsupported-version

# A checkpoint of us.cisa's audit log whose signature does not verify: not
# countersigned, the refusal in the acknowledgement, logged and recorded.
before=$(events checkpoint-refused bad-checkpoint)
out=$(attack bad-checkpoint)
expect "$out" '.checkpoint_ack and .refused == "bad-checkpoint" and (.countersigned | not)' \
    bad-checkpoint
wait_for 5 "checkpoint-refused event" "events_are checkpoint-refused bad-checkpoint $((before + 1))"
log_count_is "CHECKPOINT-NOT-WITNESSED: partner us.cisa: bad-checkpoint" 1 \
    || fail "bad-checkpoint: not logged"
alive bad-checkpoint
note "bad-checkpoint: not countersigned; refused \"bad-checkpoint\" in the acknowledgement; recorded"

# 6. A frame over max_message_bytes: ZeroMQ drops the connection.
out=$(attack oversized --timeout-ms 1500)
expect "$out" '(.receipt | not) and .disconnected' oversized
alive oversized
note "oversized: $(jq .sent_bytes <<<"$out") bytes; connection dropped, no receipt; node up"

# 7. Items the policy refuses inside an accepted batch.
before=$(events item-refused tlp-not-allowed)
out=$(attack valid --tlp red --value 198.51.100.66)
expect "$out" '.status == "ok" and .results[0].status == "rejected"
    and .results[0].reason == "tlp-not-allowed"' "red item"
[ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "red item: stored"
wait_for 5 "tlp-not-allowed event" "events_are item-refused tlp-not-allowed $((before + 1))"
note "TLP:RED item: batch ok, item rejected \"tlp-not-allowed\", not stored"

out=$(attack valid --value 999.1.1.1)
expect "$out" '.status == "ok" and .results[0].reason == "invalid-value"' "invalid value"
[ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "invalid value: stored"
note "invalid ipv4 value: item rejected \"invalid-value\", not stored"

out=$(attack valid --value 198.51.100.68 --hops 'not an agency')
expect "$out" '.status == "ok" and .results[0].reason == "invalid-item"' "invalid hop"
[ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "invalid hop: stored"
note "a hop that is no agency id: item rejected \"invalid-item\", not stored"

# 8. A CURVE key no partner holds: ZAP refuses the handshake.
denied=$(log_count ZAP-DENIED)
out=$(attack unknown-key)
expect "$out" '.handshake == "refused" and (.receipt | not)' unknown-key
wait_for 5 "ZAP-DENIED in vn.ais's log" "log_count_is ZAP-DENIED $((denied + 1))"
alive unknown-key
note "unknown CURVE key: handshake refused (ZAP $(jq .zap_status <<<"$out")); ZAP-DENIED logged"

refused_in=$("$MOUX" status -d "$T" --json | jq '.partners[] | select(.agency == "us.cisa") | .refused_in')
note "vn.ais status counts $refused_in refused batches from us.cisa"

# 9. A new MOU narrows what us.cisa may send to IP addresses; both nodes
# activate it and the running one reloads. It must keep every partner, and
# now refuse a domain-name while still taking ipv4.
reloads=$(log_count "PARTNERS:")
narrow=$WORK/mou/narrow.mou
sed 's/^id: .*/id: vn.ais--us.cisa-narrow/' "$WORK/mou/vn.ais--us.cisa.mou" |
    awk '/^\[b-to-a\]/ { s = 1 } s && /^types: / { $0 = "types: ipv4-addr" } { print }' > "$narrow"
"$CLUSTER" mou "$WORK" "$narrow" >/dev/null || fail "the narrowed MOU was not activated"
wait_for 5 "vn.ais to reload its partners" "log_count_is PARTNERS: $((reloads + 1))"
if grep -q LINK-OPEN "$T/mouxd.log"; then
    grep LINK-OPEN "$T/mouxd.log" >&2
    fail "vn.ais dropped partners on reload: link_new could not reopen a link (node/mouxd/link.c" \
        "binds its monitor to inproc://monitor-<pid>, which the closed link may still hold)"
fi
partners_after_reload() {
    "$MOUX" status -d "$T" --json | jq -e '[.partners[].agency] == ["us.cisa", "vn.ncsc"]
        and (.partners[] | select(.agency == "us.cisa") | .mou.id) == "vn.ais--us.cisa-narrow"'
}
wait_for 5 "vn.ais to hold both partners after the reload" 'partners_after_reload'
before=$(events item-refused type-not-allowed)
out=$(attack valid --type domain-name --value evil.example)
expect "$out" '.status == "ok" and .results[0].status == "rejected"
    and .results[0].reason == "type-not-allowed"' "domain-name after narrowing"
[ "$(stored "$(item_id "$out")")" -eq 0 ] || fail "type-not-allowed item stored"
wait_for 5 "type-not-allowed event" "events_are item-refused type-not-allowed $((before + 1))"
out=$(attack valid --value 198.51.100.77)
expect "$out" '.status == "ok" and .results[0].status == "accepted"' "ipv4 after narrowing"
note "under an MOU narrowed to ipv4-addr: domain-name rejected \"type-not-allowed\"; ipv4 accepted"

# 10. The real us.cisa comes back and a normal publish still gets through.
"$CLUSTER" start "$WORK" us.cisa
"$MOUX" publish -d "$WORK/us.cisa" --type ipv4-addr --value 203.0.113.77 --tlp green >/dev/null
from_cisa() {
    [ "$(count_where "$T" '.value == "203.0.113.77" and .from == "us.cisa"')" -eq 1 ]
}
wait_for 15 "us.cisa's publish to reach vn.ais" 'from_cisa'
alive "the real partner's return"
note "us.cisa restarted; its published 203.0.113.77 reached vn.ais"
note "PASS"
