#!/usr/bin/env bash
# A capture of the loopback traffic between two nodes holds no indicator
# value in clear, neither in batches nor in receipts.
source "$(dirname "$0")/lib.sh"

command -v tcpdump >/dev/null || skip "tcpdump is not installed"
"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
ports=$(for a in vn.ais us.cisa; do sed -n 's/^listen = tcp:\/\/127.0.0.1://p' "$WORK/$a/moux.conf"; done)
filter=$(printf 'tcp port %s or ' $ports); filter=${filter% or }

pcap=$WORK/lo.pcap
tcpdump -i lo --immediate-mode -U -s 0 -w "$pcap" "$filter" 2>"$WORK/tcpdump.log" &
tpid=$!
# Bounded wait for tcpdump to start, or skip if this machine forbids capture.
for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break
    kill -0 $tpid 2>/dev/null || skip "cannot capture on lo: $(cat "$WORK/tcpdump.log")"; sleep 0.05; done

marker=moux-capture-$RANDOM$RANDOM
"$MOUX" publish -d "$WORK/vn.ais" --type domain-name --value "$marker.example.net" --tlp amber >/dev/null
"$MOUX" publish -d "$WORK/vn.ais" --type url --value "https://$marker.example.org/login" >/dev/null
"$MOUX" publish -d "$WORK/us.cisa" --type email-addr --value "$marker@example.com" >/dev/null
delivered() { [ "$(count_where "$WORK/$1" ".from==\"$2\"")" = "$3" ]; }
wait_for 5 "items delivered" "delivered us.cisa vn.ais 2"
wait_for 5 "item delivered back" "delivered vn.ais us.cisa 1"
sleep 0.3 # let tcpdump flush the last packets (-U writes per packet)
kill $tpid; wait $tpid 2>/dev/null || true

bytes=$(stat -c %s "$pcap")
[ "$bytes" -gt 2000 ] || fail "capture too small ($bytes bytes): nothing was captured"
# The marker in clear would appear as ASCII; also check the indicator type
# names and the pattern prefix, which travel only inside the ciphertext.
for needle in "$marker" "domain-name" "email-addr" "[url:value"; do
    if grep -aqF -- "$needle" "$pcap"; then fail "\"$needle\" visible in clear in the capture"; fi
done
note "ok: $bytes bytes captured, no indicator value or type in clear"
