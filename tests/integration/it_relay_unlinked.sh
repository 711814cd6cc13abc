#!/usr/bin/env bash
# An item relayed through the alliance coordinator is judged, when it leaves,
# by the MOU with the member it came from. That member's link may be down for
# a reason of ours (daemon.c keeps a partner whose link cannot be built and
# retries it); its MOU is still in the store, and it still decides: the item
# goes on, as the MOU allows, and is not dropped onward-not-allowed.
#
# vn.evn-cert publishes a GREEN item; vn.vncert stores it and queues it for
# vn.sbv-cert, which is stopped. vn.vncert is restarted with vn.evn-cert's
# encryption key spoilt in its store (as a damaged row would be), so that its
# link to vn.evn-cert cannot be built; then vn.sbv-cert comes back.
source "$(dirname "$0")/lib.sh"

EX=$ROOT/deploy/examples
"$CLUSTER" up "$WORK" --mou "$EX/vn.vncert--vn.evn-cert.mou" --mou "$EX/vn.vncert--vn.sbv-cert.mou" \
    vn.vncert vn.evn-cert vn.sbv-cert >/dev/null
HUB=$WORK/vn.vncert EVN=$WORK/vn.evn-cert SBV=$WORK/vn.sbv-cert
VALUE=203.0.113.61

holds() { sqlite3 "$1/store.db" "select count(*) from indicator where value = '$VALUE'"; }
queued_for_sbv() {
    sqlite3 "$HUB/store.db" "select count(*) from outbox o join partner p on p.pid = o.pid
        join indicator i on i.rid = o.rid where p.agency = 'vn.sbv-cert' and i.value = '$VALUE'"
}

"$CLUSTER" stop "$WORK" vn.sbv-cert
"$MOUX" publish -d "$EVN" --type ipv4-addr --value $VALUE --tlp green --confidence 50 >/dev/null
wait_for 15 "vn.vncert to hold vn.evn-cert's item" '[ "$(holds "$HUB")" = 1 ]'
wait_for 15 "vn.vncert to queue it for vn.sbv-cert" '[ "$(queued_for_sbv)" = 1 ]'

"$CLUSTER" stop "$WORK" vn.vncert
sqlite3 "$HUB/store.db" "update partner set enc_pk = zeroblob(32) where agency = 'vn.evn-cert'"
# Started as deploy/cluster starts a node, without waiting for every link to
# come up: the one to vn.evn-cert never will.
"$MOUX_BIN/mouxd" -d "$HUB" >>"$HUB/mouxd.log" 2>&1 </dev/null &
echo $! > "$HUB/mouxd.pid"
wait_for 15 "vn.vncert to fail vn.evn-cert's link" \
    'grep -q "LINK-KEYS: partner vn.evn-cert: cannot derive batch keys" "$HUB/mouxd.log"'
note "vn.vncert restarted without a link to vn.evn-cert (its encryption key spoilt)"

"$CLUSTER" start "$WORK" vn.sbv-cert
wait_for 20 "vn.sbv-cert to receive the relayed item" '[ "$(holds "$SBV")" = 1 ]'
wait_for 10 "vn.vncert's outbox for vn.sbv-cert to drain" '[ "$(queued_for_sbv)" = 0 ]'
[ "$(sqlite3 "$SBV/store.db" "select coalesce(origin, 'anonymised') from indicator where value = '$VALUE'")" = anonymised ] ||
    fail "vn.sbv-cert holds the item with its origin: the MOU says to anonymise"
refused=$(sqlite3 "$HUB/store.db" "select count(*) from event where kind = 'outbound-refused'")
[ "$refused" = 0 ] || fail "vn.vncert refused $refused item(s): $(sqlite3 "$HUB/store.db" \
    "select partner, reason from event where kind = 'outbound-refused'")"
note "the item went on to vn.sbv-cert under vn.evn-cert's MOU (read from the store), anonymised," \
    "none refused"
