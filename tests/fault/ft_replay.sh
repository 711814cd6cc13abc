#!/usr/bin/env bash
# Replayed and misdelivered batches against a live node. Three agencies on
# loopback; us.cisa exchanges with vn.ais for real, then its daemon is
# stopped and mouxhostile, holding us.cisa's node directory, sends vn.ais:
#   replay        a batch, then the identical bytes again: the second gets
#                 the receipt stored for the first, byte for byte, and the
#                 batch and its item are stored once;
#   other-agency  a proper batch sealed for vn.ncsc, delivered to vn.ais:
#                 refused "wrong-recipient" in a signed receipt, nothing
#                 stored, the refusal recorded.
# vn.ais keeps running throughout, and the real us.cisa, started again,
# still delivers. (it_refusals.sh covers the other hostile modes.)
#
#   FT_REPLAYS=3   replay rounds
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/faultlib.sh"

HOSTILE=$MOUX_BIN/mouxhostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"
REPLAYS=${FT_REPLAYS:-3}
T=$WORK/vn.ais
t0=$(date +%s)

"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null
# A real exchange first: the hostile batches continue us.cisa's sequence.
for i in 1 2 3; do printf 'ipv4-addr,198.51.100.%d,green\n' "$i"; done > "$WORK/real.csv"
"$MOUX" publish -d "$WORK/us.cisa" --file "$WORK/real.csv" >/dev/null 2>&1 || fail "publish at us.cisa failed"
real_in() { [ "$(from_count "$T" us.cisa)" -eq 3 ] && [ "$(outbox_count "$WORK/us.cisa")" -eq 0 ]; }
wait_for 20 "us.cisa's 3 items at vn.ais" 'real_in'
"$CLUSTER" stop "$WORK" us.cisa
tpid=$(cat "$T/mouxd.pid")
note "cluster up; 3 items exchanged; us.cisa stopped, its keys used by mouxhostile"

attack() {
    local mode=$1; shift
    "$HOSTILE" --as "$WORK/us.cisa" --to "$T" --other "$WORK/vn.ncsc" --timeout-ms 15000 \
        "$@" "$mode" 2>>"$WORK/hostile.log" || fail "mouxhostile $mode did not run (see hostile.log)"
}
expect() { jq -e "$2" <<<"$1" >/dev/null || fail "$3: got $1"; }
alive() {
    kill -0 "$tpid" 2>/dev/null || fail "vn.ais died after $1"
    "$MOUX" status -d "$T" --json | jq -e .running >/dev/null || fail "vn.ais not answering after $1"
}
stored_id() { sq "$T/store.db" "select count(*) from indicator where id = '$1'"; }
inbound_msg() { sq "$T/store.db" "select count(*) from inbound where lower(hex(message_id)) = lower('$1')"; }
dup_lines() { grep -c "BATCH-DUPLICATE: partner us.cisa: seq $1 " "$T/mouxd.log" || true; }
events() { sq "$T/store.db" "select count(*) from event where kind = '$1' and reason = '$2'"; }

# 1. Replays.
replayed=0
msgs=()
for r in $(seq 1 "$REPLAYS"); do
    v=203.0.113.$((10 + r))
    out=$(attack replay --value "$v" --tlp green)
    expect "$out" '.first.receipt and .first.verified and .first.status == "ok"
        and .first.results[0].status == "accepted"' "replay $r: first delivery"
    expect "$out" '.receipt and .verified and .status == "ok" and .identical
        and .message_id == .first.message_id and .sequence == .first.sequence' \
        "replay $r: the replay must get the stored receipt, byte for byte"
    id=$(jq -r .item.id <<<"$out"); msg=$(jq -r .message_id <<<"$out"); seq=$(jq -r .sequence <<<"$out")
    [ "$(stored_id "$id")" -eq 1 ] || fail "replay $r: item $id stored $(stored_id "$id") times"
    [ "$(sq "$T/store.db" "select count(*) from indicator where value = '$v'")" -eq 1 ] \
        || fail "replay $r: value $v stored more than once"
    [ "$(inbound_msg "$msg")" -eq 1 ] || fail "replay $r: batch $msg held $(inbound_msg "$msg") times"
    [ "$(dup_lines "$seq")" -eq 1 ] || fail "replay $r: BATCH-DUPLICATE for seq $seq logged $(dup_lines "$seq") times"
    alive "replay $r"
    replayed=$((replayed + 1))
    msgs+=("$msg")
    note "replay $r: seq $seq accepted, its replay answered with the identical stored receipt; stored once"
done

# What was stored for them survives a crash of the target, once each.
"$CLUSTER" stop "$WORK" vn.ais --kill
start_only "$T" # its partner us.cisa is down: no waiting for that link
tpid=$(cat "$T/mouxd.pid")
for msg in "${msgs[@]}"; do
    [ "$(inbound_msg "$msg")" -eq 1 ] || fail "after kill -9: batch $msg held $(inbound_msg "$msg") times"
done
note "vn.ais killed (-9) and restarted: the $REPLAYS replayed batches are still held once each"

# 2. A batch recorded for another agency, delivered here.
before=$(events batch-refused wrong-recipient)
ncsc_before=$(from_count "$WORK/vn.ncsc" us.cisa)
out=$(attack other-agency --value 203.0.113.99 --tlp green)
expect "$out" '.header_recipient == "vn.ncsc" and .receipt and .verified and .status == "refused"
    and .reason == "wrong-recipient"' "other-agency"
id=$(jq -r .item.id <<<"$out")
[ "$(stored_id "$id")" -eq 0 ] || fail "other-agency: the item was stored at vn.ais"
[ "$(sq "$T/store.db" "select count(*) from indicator where value = '203.0.113.99'")" -eq 0 ] \
    || fail "other-agency: its value was stored at vn.ais"
refusal_recorded() { [ "$(events batch-refused wrong-recipient)" -eq $((before + 1)) ]; }
wait_for 5 "the wrong-recipient refusal in vn.ais's event table" 'refusal_recorded'
[ "$(from_count "$WORK/vn.ncsc" us.cisa)" -eq "$ncsc_before" ] || fail "vn.ncsc received something"
alive other-agency
note "other-agency: batch for vn.ncsc refused \"wrong-recipient\" in a signed receipt; recorded; nothing stored"

# 3. The real us.cisa comes back after the impersonation and still delivers.
"$CLUSTER" start "$WORK" us.cisa
"$MOUX" publish -d "$WORK/us.cisa" --type ipv4-addr --value 198.51.100.200 --tlp green >/dev/null
back() { [ "$(sq "$T/store.db" "select count(*) from indicator where value = '198.51.100.200'")" -eq 1 ]; }
wait_for 20 "us.cisa's new item at vn.ais" 'back'
drained() { [ "$(outbox_count "$WORK/us.cisa")" -eq 0 ]; }
wait_for 20 "us.cisa's outbox to drain" 'drained'
alive "the real partner's return"
! grep -q "sequence-replayed" "$WORK/us.cisa/mouxd.log" || fail "us.cisa reused a sequence number mouxhostile took"

SENT=$(( 3 + REPLAYS + 1 + 1 ))
RECEIVED=$(from_count "$T" us.cisa)
EXPECT=$(( 3 + REPLAYS + 1 ))
DUPLICATES=$(sq "$T/store.db" "select count(*) - count(distinct type || '|' || value) from indicator where from_pid is not null")
echo "SUMMARY $TEST_NAME: sent=$SENT items (3 for real, $REPLAYS in batches sent twice, 1 for another agency, 1 after) kills=1 replays_answered_from_store=$replayed refused_wrong_recipient=1 received=$RECEIVED expected=$EXPECT duplicates=$DUPLICATES missing=$(( EXPECT - RECEIVED > 0 ? EXPECT - RECEIVED : 0 )) elapsed=$(elapsed_since "$t0")s"
[ "$RECEIVED" -eq "$EXPECT" ] || fail "vn.ais holds $RECEIVED items from us.cisa, expected $EXPECT"
[ "$DUPLICATES" -eq 0 ] || fail "$DUPLICATES values stored twice"
note "PASS"
