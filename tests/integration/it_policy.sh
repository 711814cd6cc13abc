#!/usr/bin/env bash
# The MOU holds until an item leaves, not only when it is queued: a newer
# version at a TLP the partner may not receive does not go (nor does the
# older version it replaced), and a narrower MOU activated while items wait
# keeps those items home. The outbox then drains: nothing
# loops. Inbound, an item claiming another agency as its origin is refused.
source "$(dirname "$0")/lib.sh"
A=$WORK/vn.ais B=$WORK/us.cisa

"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
"$CLUSTER" stop "$WORK" us.cisa

"$MOUX" publish -d "$A" --type ipv4-addr --value 198.51.100.7 --tlp amber >/dev/null
"$MOUX" publish -d "$A" --type ipv4-addr --value 198.51.100.7 --tlp red >/dev/null
"$MOUX" publish -d "$A" --type domain-name --value queued.example.net --tlp green >/dev/null
"$MOUX" publish -d "$A" --type ipv4-addr --value 198.51.100.8 --tlp green >/dev/null
# A new MOU, signed and activated by both: us.cisa may now receive IP
# addresses only, up to GREEN.
narrow=$WORK/mou/narrow.mou
sed 's/^id: .*/id: vn.ais--us.cisa-narrow/' "$WORK/mou/vn.ais--us.cisa.mou" |
    awk '/^\[a-to-b\]/ { s = 1 } /^\[b-to-a\]/ { s = 0 }
         s && /^types: / { $0 = "types: ipv4-addr, ipv6-addr" }
         s && /^max-tlp: / { $0 = "max-tlp: green" } { print }' > "$narrow"
"$CLUSTER" mou "$WORK" "$narrow" >/dev/null || fail "the narrowed MOU was not activated"
"$CLUSTER" start "$WORK" us.cisa

outbox() { "$MOUX" status -d "$A" --json | jq '.partners[0].outbox'; }
wait_for 15 "the outbox to drain" '[ "$(outbox)" = 0 ]'
arrived() { [ "$(count_where "$B" '.value=="198.51.100.8"')" = 1 ]; }
wait_for 10 "the allowed item" arrived
[ "$(count_where "$B" '.value=="198.51.100.7"')" = 0 ] || fail "the RED version (or its AMBER predecessor) leaked"
[ "$(count_where "$B" '.value=="queued.example.net"')" = 0 ] || fail "a domain went after the allowance was tightened"
refused=$(sqlite3 "$A/store.db" "select count(*) from event where kind='outbound-refused'")
[ "$refused" -ge 2 ] || fail "refusals not recorded ($refused)"
sleep 1
batches=$(sqlite3 "$B/store.db" "select count(*) from inbound")
[ "$batches" -le 3 ] || fail "$batches batches for one item: the sender loops"
note "outbound: RED version and tightened type kept home and recorded; $batches batch(es) sent"

# Inbound: a partner may not name a third agency as an item's origin.
"$CLUSTER" stop "$WORK" us.cisa
out=$("$MOUX_BIN/mouxhostile" --timeout-ms 15000 --as "$B" --to "$A" --seq 800000 --origin vn.ncsc \
      --value 198.51.100.44 valid)
jq -e '.receipt == true and .results[0].status == "rejected" and .results[0].reason == "origin-mismatch"' \
    <<<"$out" >/dev/null || fail "an item with another agency's origin was not refused: $out"
[ "$(count_where "$A" '.value=="198.51.100.44"')" = 0 ] || fail "spoofed-origin item stored"
note "inbound: an item claiming another agency's origin refused (origin-mismatch)"
