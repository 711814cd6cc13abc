#!/usr/bin/env bash
# Catch-up: a partner that was down gets its backlog in order, while what is
# published meanwhile does not wait for the whole backlog; status shows the
# backlog draining with a rate; memory stays bounded (peak RSS reported).
source "$(dirname "$0")/lib.sh"
A=$WORK/vn.ais B=$WORK/us.cisa
# Small batches and a short window make the catch-up last seconds, not a
# fraction of one, so the fresh item below is surely published during it.
"$MOUX" init -d "$A" --agency vn.ais --listen tcp://127.0.0.1:0 >/dev/null
printf 'batch_max_items = 100\nmax_inflight_batches = 2\n' >> "$A/moux.conf"
"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
"$CLUSTER" stop "$WORK" us.cisa

N=50000
for i in $(seq 1 $N); do printf 'ipv4-addr,10.%d.%d.%d\n' $((i / 65536 + 100)) $((i / 256 % 256)) $((i % 256)); done \
    > "$WORK/backlog.csv"
"$MOUX" publish -d "$A" --file "$WORK/backlog.csv" >/dev/null 2>&1
note "$N items queued for a partner that is down"

"$CLUSTER" start "$WORK" us.cisa
"$MOUX" wait -d "$A" --timeout 30 >/dev/null # our link to it is up: the catch-up has begun
"$MOUX" publish -d "$A" --type domain-name --value fresh.catchup.example --tlp green >/dev/null
fresh() { [ "$(count_where "$B" '.value=="fresh.catchup.example"')" = 1 ]; }
wait_for 60 "the fresh item" fresh
# Judged by the order us.cisa stored things in (its row ids), once all is
# in, so a fast drain cannot race the check.
backlog_before() {
    sqlite3 "$B/store.db" "select count(*) from indicator where type='ipv4-addr' and rid <
        (select rid from indicator where value='fresh.catchup.example')"
}

saw_rate=0
rate_seen() { "$MOUX" status -d "$A" --json | jq -e '.partners[0].rate_per_s > 0' && saw_rate=1; }
all_in() { [ "$(sqlite3 "$B/store.db" "select count(*) from indicator where type='ipv4-addr'")" = $N ]; }
drained() { rate_seen >/dev/null 2>&1 || true; all_in; }
wait_for 120 "the backlog to drain" drained
backlog_then=$(backlog_before)
[ "$backlog_then" -lt $N ] || fail "the fresh item waited for the whole backlog"
note "the fresh item arrived with $backlog_then of $N backlog items delivered"
[ "$(sqlite3 "$B/store.db" "select count(distinct value) from indicator")" = $((N + 1)) ] \
    || fail "duplicates or gaps at us.cisa"
peak() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$(cat "$1/mouxd.pid")/status"; }
pa=$(peak "$A") pb=$(peak "$B")
note "backlog drained; status showed a rate: $([ $saw_rate = 1 ] && echo yes || echo 'not sampled'); peak RSS vn.ais ${pa} MB, us.cisa ${pb} MB"
# Under AddressSanitizer, RSS includes its shadow memory and quarantine:
# the bound is checked in plain builds only.
if grep -q __asan_init "$MOUX_BIN/mouxd"; then
    note "(AddressSanitizer build: memory figures include its overhead; bound not checked)"
else
    [ "$pa" -lt 256 ] && [ "$pb" -lt 256 ] || fail "memory not bounded: ${pa} / ${pb} MB"
fi
