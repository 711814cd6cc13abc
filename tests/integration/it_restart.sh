#!/usr/bin/env bash
# kill -9 the receiving node while items are queued for it, restart it: every
# item arrives, none twice. Then kill -9 the sender mid-stream and restart it.
source "$(dirname "$0")/lib.sh"

"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
N=3000
for i in $(seq 1 $N); do
    printf 'ipv4-addr,10.%d.%d.%d,green\n' $((i / 65536)) $((i / 256 % 256)) $((i % 256))
done > "$WORK/feed.csv"

"$CLUSTER" stop "$WORK" us.cisa --kill
"$MOUX" publish -d "$WORK/vn.ais" --file "$WORK/feed.csv" >/dev/null
outbox() { "$MOUX" status -d "$WORK/vn.ais" --json | jq '.partners[0].outbox'; }
stored() { sqlite3 "$WORK/us.cisa/store.db" "select count(*) from indicator"; }
stored_domains() { sqlite3 "$WORK/us.cisa/store.db" "select count(*) from indicator where type='domain-name'"; }
[ "$(outbox)" = $N ] || fail "expected $N queued, outbox is $(outbox)"
note "$N items queued for a dead partner"

# Restart the receiver and kill it again as soon as it has started storing.
"$CLUSTER" start "$WORK" us.cisa
wait_for 20 "first items at us.cisa" '[ "$(stored)" -gt 0 ]'
"$CLUSTER" stop "$WORK" us.cisa --kill
# A crash leaves control.sock behind; status must still say "not running", at once.
"$MOUX" status -d "$WORK/us.cisa" --json | jq -e '.running == false' >/dev/null \
    || fail "status of a crashed node should say not running"
note "receiver killed with $(sqlite3 "$WORK/us.cisa/store.db" 'select count(*) from indicator') stored"
"$CLUSTER" start "$WORK" us.cisa

wait_for 60 "all $N items at us.cisa" '[ "$(stored)" = $N ]'
wait_for 30 "outbox drained" '[ "$(outbox)" = 0 ]'
[ "$(sqlite3 "$WORK/us.cisa/store.db" 'select count(distinct value) from indicator')" = $N ] \
    || fail "duplicates stored"

# The sender dies between sending and recording receipts: nothing lost.
for i in $(seq 1 $N); do printf 'domain-name,host%d.example.net,green\n' "$i"; done > "$WORK/feed2.csv"
"$MOUX" publish -d "$WORK/vn.ais" --file "$WORK/feed2.csv" >/dev/null
"$CLUSTER" stop "$WORK" vn.ais --kill
"$CLUSTER" start "$WORK" vn.ais
wait_for 60 "all domains at us.cisa" '[ "$(stored_domains)" = $N ]'
wait_for 30 "outbox drained after sender restart" '[ "$(outbox)" = 0 ]'
[ "$(sqlite3 "$WORK/us.cisa/store.db" 'select count(*) from indicator')" = $((2 * N)) ] \
    || fail "expected exactly $((2 * N)) items at us.cisa"
note "ok: $((2 * N)) items, each once"
