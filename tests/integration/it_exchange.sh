#!/usr/bin/env bash
# Three agencies: an indicator published at one is stored at the other two
# within two seconds with origin and from right, and the sender's status
# shows the receipts. Every type of the node core is carried.
source "$(dirname "$0")/lib.sh"

"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null

# Conditions polled by wait_for, evaluated afresh on every poll.
first_arrived() { [ "$(count_where "$WORK/$1" '.value=="192.0.2.10" and .origin=="vn.ais" and .from=="vn.ais" and .tlp=="green"')" = 1 ]; }
receipts_in() { "$MOUX" status -d "$WORK/vn.ais" --json |
    jq -e '[.partners[] | select(.link=="up" and .outbox==0 and .last_receipt!=null)] | length == 2'; }
feed_arrived() { [ "$(count_where "$WORK/$1" '.from=="us.cisa"')" = 7 ]; }
new_version_arrived() { [ "$(count_where "$WORK/us.cisa" '.value=="192.0.2.10" and .tlp=="amber"')" = 1 ]; }

start=$(date +%s%N)
"$MOUX" publish -d "$WORK/vn.ais" --type ipv4-addr --value 192.0.2.10 --tlp green >/dev/null
for a in us.cisa vn.ncsc; do
    wait_for 2 "192.0.2.10 at $a" "first_arrived $a"
done
note "arrived at both partners in $(( ($(date +%s%N) - start) / 1000000 )) ms"

# The sender's status shows both receipts and empty outboxes.
wait_for 2 "receipts at vn.ais" receipts_in

# Every indicator type, from another agency, normalised on the way in.
cat > "$WORK/feed.csv" <<'CSV'
ipv6-addr,2001:DB8:0:0::1
domain-name,Bad.Example.COM.
url,HTTPS://Bad.Example.com/x?y=1
email-addr,phish@Example.ORG
file:md5,D41D8CD98F00B204E9800998ECF8427E
file:sha1,da39a3ee5e6b4b0d3255bfef95601890afd80709
file:sha256,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
CSV
"$MOUX" publish -d "$WORK/us.cisa" --file "$WORK/feed.csv" >/dev/null
for a in vn.ais vn.ncsc; do
    wait_for 5 "feed at $a" "feed_arrived $a"
done
for v in 2001:db8::1 bad.example.com https://bad.example.com/x?y=1 phish@example.org \
         d41d8cd98f00b204e9800998ecf8427e; do
    [ "$(count_where "$WORK/vn.ncsc" ".value==\"$v\" and .origin==\"us.cisa\"")" = 1 ] \
        || fail "normalised $v not found at vn.ncsc"
done

# The local copy is "from" null; lookups by value normalise the query too.
[ "$("$MOUX" query -d "$WORK/us.cisa" --type domain-name --value BAD.example.com --json |
     jq -r '.from')" = null ] || fail "local item should have from=null"

# Publishing the same thing again changes nothing; a new TLP is a new version.
out=$("$MOUX" publish -d "$WORK/vn.ais" --type ipv4-addr --value 192.0.2.10 --tlp green)
case "$out" in *unchanged) ;; *) fail "republish should be unchanged: $out" ;; esac
"$MOUX" publish -d "$WORK/vn.ais" --type ipv4-addr --value 192.0.2.10 --tlp amber >/dev/null
wait_for 3 "new version at us.cisa" new_version_arrived
[ "$(count_where "$WORK/us.cisa" '.value=="192.0.2.10"')" = 1 ] || fail "version stored twice"

# Labels travel with the item; a change of labels is a new version.
"$MOUX" publish -d "$WORK/vn.ais" --type domain-name --value labelled.example.org --tlp green \
    --label network-defense --label incident-response >/dev/null
labelled() { "$MOUX" query -d "$WORK/us.cisa" --type domain-name --value labelled.example.org --json |
    jq -e '.labels == ["network-defense","incident-response"]'; }
wait_for 5 "labels at us.cisa" labelled
out=$("$MOUX" publish -d "$WORK/vn.ais" --type domain-name --value labelled.example.org --tlp green \
    --label network-defense --label incident-response)
case "$out" in *unchanged) ;; *) fail "same labels should be unchanged: $out" ;; esac
out=$("$MOUX" publish -d "$WORK/vn.ais" --type domain-name --value labelled.example.org --tlp green \
    --label network-defense)
case "$out" in *updated) ;; *) fail "other labels should be a new version: $out" ;; esac
if "$MOUX" publish -d "$WORK/vn.ais" --type domain-name --value x.example.org --label 'a,b' 2>/dev/null; then
    fail "a label with a comma was accepted"
fi

# The receiver kept each batch's signed plaintext; the sender kept receipts.
[ "$(sqlite3 "$WORK/us.cisa/store.db" 'select count(*) from inbound where length(signature)=64')" -ge 2 ] \
    || fail "receiver did not keep signed batches"
[ "$(sqlite3 "$WORK/vn.ais/store.db" 'select count(*) from receipt')" -ge 4 ] \
    || fail "sender did not keep receipts"
note "ok"
