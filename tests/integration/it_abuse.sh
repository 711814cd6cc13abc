#!/usr/bin/env bash
# A partner that keeps sending what must be refused is throttled: its frames
# are dropped unread for a while, and status and log say so. Other partners
# are served meanwhile.
source "$(dirname "$0")/lib.sh"
A=$WORK/vn.ais
"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null
"$CLUSTER" stop "$WORK" us.cisa
for i in $(seq 1 60); do
    "$MOUX_BIN/mouxhostile" --timeout-ms 100 --as "$WORK/us.cisa" --to "$A" garbage >/dev/null || true
done
throttled() { "$MOUX" status -d "$A" --json | jq -e '.partners[] | select(.agency=="us.cisa") | .throttled_s > 0'; }
wait_for 10 "us.cisa to be throttled" throttled
grep -q "PARTNER-THROTTLED: partner us.cisa" "$A/mouxd.log" || fail "throttling not logged"
out=$("$MOUX_BIN/mouxhostile" --timeout-ms 2000 --as "$WORK/us.cisa" --to "$A" --seq 700000 valid)
jq -e '.receipt == false' <<<"$out" >/dev/null || fail "a throttled partner was still served: $out"
"$MOUX" publish -d "$WORK/vn.ncsc" --type ipv4-addr --value 192.0.2.201 >/dev/null
other() { [ "$(count_where "$A" '.value=="192.0.2.201"')" = 1 ]; }
wait_for 10 "another partner's item" other
note "abusive partner throttled (frames dropped, status and log), others served"
