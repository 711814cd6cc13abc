#!/usr/bin/env bash
# A slow but honest partner does not make the sender resend. A batch waits
# for its receipt at most the retry delay, counted from when it became the
# oldest in flight: a partner answers its batches in order, so with many in
# flight the last one waits behind all the others. vn.ais (retry delay 2 s,
# batches of 10, a window of 8) sends 80 items; mouxreceiver, in us.cisa's
# place, answers each batch 400 ms after the one before. The last answer
# comes ~3.2 s after its batch left, yet no batch waited more than ~400 ms
# at the head of the window: no BATCH-TIMEOUT, every item receipted. The
# control: answers 3 s apart, longer than the delay, do time out. At the
# end the real us.cisa takes what is left.
source "$(dirname "$0")/lib.sh"

impostor_pair $'retry_initial_ms = 2000\nretry_max_ms = 4000\nbatch_max_items = 10\nmax_inflight_batches = 8'
timeouts() { grep -c "BATCH-TIMEOUT: partner us.cisa" "$S/mouxd.log" || true; }

for i in $(seq 1 80); do printf 'ipv4-addr,198.51.100.%d\n' "$i"; done > "$WORK/items.csv"
"$MOUX" publish -d "$S" --file "$WORK/items.csv" >/dev/null
[ "$(queued)" -eq 80 ] || fail "expected 80 queued items, found $(queued)"

out=$("$RECEIVER" --as "$WORK/us.cisa" --from "$S" --timeout-ms 30000 --hold-ms 400 --batches 8 \
    slow 2>>"$WORK/receiver.log") || fail "mouxreceiver slow: no batches (see receiver.log)"
jq -e '.answered == 8 and .items == 80' <<<"$out" >/dev/null || fail "slow partner: $out"
wait_for 5 "every item receipted" '[ "$(queued)" -eq 0 ]'
[ "$(timeouts)" -eq 0 ] || fail "a batch timed out behind the others: $(grep BATCH-TIMEOUT "$S/mouxd.log")"
note "8 batches answered 400 ms apart with a 2 s retry delay: all receipted, no timeout"

# The control: a partner slower than the retry delay is timed out.
for i in $(seq 1 20); do printf 'ipv4-addr,198.51.100.%d\n' "$((100 + i))"; done > "$WORK/more.csv"
"$MOUX" publish -d "$S" --file "$WORK/more.csv" >/dev/null
out=$("$RECEIVER" --as "$WORK/us.cisa" --from "$S" --timeout-ms 30000 --hold-ms 3000 --batches 2 \
    slow 2>>"$WORK/receiver.log") || fail "mouxreceiver slow (control): no batches (see receiver.log)"
wait_for 10 "BATCH-TIMEOUT for answers 3 s apart" '[ "$(timeouts)" -ge 1 ]'
note "answers 3 s apart: timed out ($(timeouts) BATCH-TIMEOUT line(s)), as it must"

"$CLUSTER" start "$WORK" us.cisa >/dev/null
wait_for 20 "vn.ais's outbox empties to the real us.cisa" '[ "$(queued)" -eq 0 ]'
note "the real partner took what the slow one left ($(sqlite3 "$WORK/us.cisa/store.db" \
    "select count(*) from indicator") item(s))"
