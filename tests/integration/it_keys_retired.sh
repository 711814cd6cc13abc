#!/usr/bin/env bash
# Retired key sets: when the overlap ends, the previous secret keys are
# deleted wherever the rotation put them (retired/<serial>.<n> when an
# earlier key set, under an earlier root, already used that serial), and a
# restart during the overlap finds them there and still ends it on time.
# An older retired set that still holds secrets (a crash between a rotation
# and its wipe) loses them at the next start, even when its directory is the
# newest (a node directory copied without its times): the previous set is the
# one retired last on record, not the newest directory. A rotation that would retire
# keys a partner still needs is refused. A batch signed with a retired key
# after the partner's overlap (a thief's copy of it) is refused retired-key.
source "$(dirname "$0")/lib.sh"
HOSTILE=$MOUX_BIN/mouxhostile
A=$WORK/vn.ais B=$WORK/us.cisa
for n in "$A vn.ais" "$B us.cisa"; do
    set -- $n
    "$MOUX" init -d "$1" --agency "$2" --listen tcp://127.0.0.1:0 >/dev/null
    printf 'rotation_overlap_seconds = 10\n' >> "$1/moux.conf"
done
"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null

# rotate SERIAL: retire the key set certified by SERIAL; waits until installed.
rotate() {
    local before; before=$(grep -c "KEYS-ROTATED" "$A/mouxd.log" || true)
    "$MOUX" keys rotate -d "$A" --root "$WORK/vn.ais.root" >/dev/null
    installed() { [ "$(grep -c "KEYS-ROTATED" "$A/mouxd.log")" -gt "$before" ]; }
    wait_for 30 "the rotation from serial $1 to be installed" installed
}
# overlap_ended DIR: DIR's secret halves are gone, its public ones kept.
overlap_ended() {
    [ ! -e "$1/keys/sign.sec" ] && [ ! -e "$1/keys/enc.sec" ] && [ ! -e "$1/keys/curve.sec" ] &&
        [ -e "$1/keys/sign.pub" ] && [ -e "$1/keys/node.cert" ]
}
delivered() { [ "$(count_where "$B" ".value==\"$1\"")" = 1 ]; }

# Serial 1 is taken in retired/ already: the first rotation retires to 1.1.
mkdir -p "$A/retired/1" "$WORK/serial1-keys"
cp "$A/keys/"{sign,enc}.{pub,sec} "$WORK/serial1-keys/" # a copy of serial 1's keys, kept
rotate 1
[ -e "$A/retired/1.1/keys/sign.sec" ] || fail "serial 1's keys are not in retired/1.1"
"$MOUX" publish -d "$A" --type ipv4-addr --value 203.0.113.1 >/dev/null
wait_for 10 "delivery after the first rotation" 'delivered 203.0.113.1'
wait_for 30 "the overlap of retired/1.1 to end" 'overlap_ended "$A/retired/1.1"'
note "overlap over: retired/1.1's secret keys deleted, its public keys kept"

# A batch from us.cisa still encrypted to the retired encryption key (sealed
# before it learnt of the rotation, arriving after the overlap): refused,
# the reason in the signed receipt and the events; nothing stored.
seen_before_rotation "$A" "$A/retired/1.1" "$WORK/vn.ais-before"
node_copy "$B" "$WORK/us.cisa-copy" # us.cisa's daemon runs
out=$("$HOSTILE" --timeout-ms 20000 --as "$WORK/us.cisa-copy" --to "$WORK/vn.ais-before" \
    --seq 800000 --value 198.51.100.97 valid)
jq -e '.receipt == true and .status == "refused" and .reason == "wrong-recipient-key"' \
    <<<"$out" >/dev/null || fail "a batch to the retired encryption key was not refused: $out"
[ "$(count_where "$A" '.value=="198.51.100.97"')" = 0 ] || fail "the item to the retired key was stored"
[ "$(sqlite3 "$A/store.db" "select count(*) from event where partner = 'us.cisa' and
    reason = 'wrong-recipient-key'")" = 1 ] || fail "the refusal is not in vn.ais's events"
note "after the overlap, a batch to the retired encryption key: refused (wrong-recipient-key)"

# The thief's batch, signed with serial 1's key once us.cisa's overlap for it
# is over, over vn.ais's current transport key: refused retired-key.
node_copy "$A" "$WORK/thief"
cp "$WORK/serial1-keys/"* "$WORK/thief/keys/"
retired_at_b() {
    [ "$(sqlite3 "$B/store.db" "select count(*) from partner_key where serial = 1 and
        retire_after_ms between 1 and $(date +%s%3N)")" = 1 ]
}
wait_for 15 "us.cisa to retire vn.ais's serial 1" retired_at_b
out=$("$HOSTILE" --timeout-ms 20000 --as "$WORK/thief" --to "$B" --seq 900000 \
    --value 198.51.100.96 valid)
jq -e '.receipt == true and .status == "refused" and .reason == "retired-key"' <<<"$out" \
    >/dev/null || fail "a batch signed with the retired key was not refused: $out"
[ "$(count_where "$B" '.value=="198.51.100.96"')" = 0 ] || fail "the retired key's item was stored"
[ "$(sqlite3 "$B/store.db" "select count(*) from event where partner = 'vn.ais' and
    reason = 'retired-key'")" = 1 ] || fail "the refusal is not in us.cisa's events"
note "after us.cisa's overlap, a batch signed with vn.ais's retired key: refused (retired-key)"

# The second rotation retires to 2.1 as well; vn.ais restarts mid-overlap.
mkdir -p "$A/retired/2"
asked_at=$(date +%s) # the overlap cannot end before this + 10 s
rotate 2
[ -e "$A/retired/2.1/keys/sign.sec" ] || fail "serial 2's keys are not in retired/2.1"
"$CLUSTER" stop "$WORK" vn.ais
# Stale sets: serial 1's certificate (its overlap long over) with secret keys
# that were never deleted (0.1), or only in part (0.2: enc.sec left).
for s in 0.1 0.2; do mkdir -p "$A/retired/$s/keys"; cp -a "$A/retired/1.1/keys/." "$A/retired/$s/keys/"; done
cp -a "$A/retired/2.1/keys/"*.sec "$A/retired/0.1/keys/"
cp -a "$A/retired/2.1/keys/enc.sec" "$A/retired/0.2/keys/"
touch "$A/retired/0.1" "$A/retired/0.2" # newer than 2.1; retired before it, on record
# 2.1 itself: its retirement not on record (a crash before the store took
# it), and one of its secret keys spoilt, so that it cannot be loaded.
sqlite3 "$A/store.db" "update own_key set retired_ms = 0 where serial = 2"
printf 'spoilt\n' > "$A/retired/2.1/keys/curve.sec"
"$CLUSTER" start "$WORK" vn.ais
[ -e "$A/retired/2.1/keys/sign.sec" ] || fail "the restart ended the overlap early"
grep -q "KEYS-PREVIOUS: $A/retired/2.1/keys.*; its secret keys are deleted when its overlap ends" \
    "$A/mouxd.log" || fail "no KEYS-PREVIOUS line for the unloadable retired/2.1"
[ "$(sqlite3 "$A/store.db" "select retired_ms > 0 from own_key where serial = 2")" = 1 ] \
    || fail "the start did not record 2.1's retirement from its directory's time"
for s in 0.1 0.2; do
    overlap_ended "$A/retired/$s" || fail "the start left the stale retired/$s's secret keys"
    grep -q "KEYS-STALE: $A/retired/$s: retired key set (serial 1) past its overlap" \
        "$A/mouxd.log" || fail "no KEYS-STALE line for retired/$s"
done
wait_for 30 "the overlap of retired/2.1 to end after the restart" 'overlap_ended "$A/retired/2.1"'
[ $(( $(date +%s) - asked_at )) -ge 10 ] || fail "the overlap ended before its 10 s"
"$MOUX" publish -d "$A" --type ipv4-addr --value 203.0.113.2 >/dev/null
wait_for 10 "delivery after the second rotation" 'delivered 203.0.113.2'
note "restart mid-overlap: retired/2.1 found (its retirement recorded again; its keys" \
    "unloadable), its secrets deleted when the overlap ended; the stale retired/0.1's and" \
    "0.2's at the start"

# Rotating again while a partner knows only the previous keys would retire
# them: refused, naming the partner, until it holds the current ones.
"$CLUSTER" stop "$WORK" us.cisa
rotate 3 # installed at once: no partner connected to acknowledge
if "$MOUX" keys rotate -d "$A" --root "$WORK/vn.ais.root" >/dev/null 2>"$WORK/rotate.err"; then
    fail "a rotation while us.cisa knows only the previous keys was not refused"
fi
grep -q "refusing to rotate: us.cisa (holds serial 3) has not acknowledged our current keys (serial 4)" \
    "$WORK/rotate.err" || fail "unexpected refusal: $(cat "$WORK/rotate.err")"
[ ! -e "$A/next" ] || fail "a refused rotation left keys in next/"
"$CLUSTER" start "$WORK" us.cisa
caught_up() { "$MOUX" status -d "$A" --json | jq -e '.partners[0].holds_our_serial == 4'; }
wait_for 15 "us.cisa to learn serial 4 over the link (previous keys)" caught_up
rotate 4
"$MOUX" publish -d "$A" --type ipv4-addr --value 203.0.113.3 >/dev/null
wait_for 10 "delivery after the third rotation" 'delivered 203.0.113.3'
note "rotation refused while us.cisa knew only the previous keys: $(head -c 90 "$WORK/rotate.err")..."
