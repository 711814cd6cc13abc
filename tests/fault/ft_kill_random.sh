#!/usr/bin/env bash
# kill -9 the sender and the receiver at random moments while 100,000
# indicators flow between two agencies; some of the sender's kills land
# while a publish is being handled, and that chunk is published again. In
# the end the receiver holds exactly the published set, each value once, and
# the sender's outbox is empty.
#
#   FT_N=100000      indicators (a multiple of 5000)
#   FT_KILLS=10      kills, alternating receiver / sender
#   FT_GAP_MS="200 2000"  receiver kills come this many ms after the last
#                         restart (at random, bounds included)
#   FT_SEED=...      the random schedule to replay (printed at the start)
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/faultlib.sh"

N=${FT_N:-100000}
KILLS=${FT_KILLS:-10}
read -r GAP_MIN GAP_MAX <<<"${FT_GAP_MS:-200 2000}"
CHUNK=5000
S=vn.ais    # sender
R=us.cisa   # receiver
SD=$WORK/$S
RD=$WORK/$R
[ $((N % CHUNK)) -eq 0 ] || fail "FT_N must be a multiple of $CHUNK"
t0=$(date +%s)
ft_seed

"$CLUSTER" up "$WORK" $S $R >/dev/null

# 60% IPv4 addresses 10.x.y.z, the rest domain names; all TLP:GREEN.
awk -v n="$N" 'BEGIN {
    for (i = 1; i <= n; i++)
        if (i <= n * 6 / 10)
            printf "ipv4-addr,10.%d.%d.%d,green\n", int(i / 65536), int(i / 256) % 256, i % 256
        else
            printf "domain-name,h%d.kill.example,green\n", i
}' > "$WORK/feed.csv"
expected_set "$WORK/feed.csv" "$WORK/expected"
[ "$(wc -l < "$WORK/expected")" -eq "$N" ] || fail "feed does not hold $N distinct values"
split -l $CHUNK -d -a 3 "$WORK/feed.csv" "$WORK/chunk."
CHUNKS=$(( N / CHUNK ))
echo 0 > "$WORK/kills"
note "$N indicators in $CHUNKS chunks; $KILLS kills to come"

# The publisher: chunk i goes out once at least i*(KILLS+1)/CHUNKS kills
# have happened, so that items are flowing between all the kills and some
# are still to be published after the last one. A chunk whose publish fails
# (its node was killed) is published again, whole.
publisher() {
    local i=0 c f deadline=$(( $(date +%s) + 240 ))
    for c in "$WORK"/chunk.*; do
        local gate=$(( i * (KILLS + 1) / CHUNKS ))
        while [ "$(cat "$WORK/kills")" -lt "$gate" ]; do
            [ "$(date +%s)" -lt "$deadline" ] || { echo "publisher: gate $gate never opened" >&2; exit 1; }
            sleep 0.05
        done
        f=$(publish_retrying "$SD" "$c" "$deadline" "$WORK/publish.log") \
            || { echo "publisher: $c never published ($f failed attempts)" >&2; exit 1; }
        [ "$f" -eq 0 ] || echo "$(basename "$c") $f" >> "$WORK/republished"
        i=$((i + 1))
    done
}
publisher &
pub=$!
FT_PIDS+=("$pub")

# The killer: receiver kills at a random 0.2-2 s (FT_GAP_MS) after the last restart;
# sender kills 0-40 ms after a publish has started (or, if none starts
# within 10 s, at that point), so that they interrupt publishes: a
# 5,000-item publish takes well under 250 ms now. Whether one was in
# progress is read just before the kill; the counts for the note after it.
during_publish=0
for k in $(seq 1 "$KILLS"); do
    if [ $((k % 2)) -eq 1 ]; then
        victim=$R
        sleep_ms "$(rand_ms "$GAP_MIN" "$GAP_MAX")"
    else
        victim=$S
        for _ in $(seq 200); do [ -e "$WORK/publishing" ] && break; sleep 0.05; done
        sleep_ms "$(rand_ms 0 40)"
    fi
    kill -0 "$pub" 2>/dev/null || break # it failed: reported below
    publishing=0
    [ -e "$WORK/publishing" ] && publishing=1
    "$CLUSTER" stop "$WORK" $victim --kill
    state="then: outbox $(outbox_count "$SD"), received $(from_count "$RD" $S)"
    if [ $publishing -eq 1 ]; then
        state="$state; a publish was in progress"
        [ $victim = $R ] || during_publish=$((during_publish + 1))
    fi
    note "kill $k/$KILLS: $victim ($state)"
    "$CLUSTER" start "$WORK" $victim
    echo "$k" > "$WORK/kills.new" && mv "$WORK/kills.new" "$WORK/kills" # read by the publisher
done

rc=0; wait "$pub" || rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$WORK/publish.log" >&2; fail "the publisher failed (exit $rc)"; }
[ "$(cat "$WORK/kills")" -eq "$KILLS" ] || fail "only $(cat "$WORK/kills") of $KILLS kills done"
[ "$during_publish" -ge 1 ] || fail "no sender kill landed during a publish"
republished=$(awk '{ n++ } END { print n + 0 }' "$WORK/republished" 2>/dev/null || echo 0)
# A publish interrupted after its commit finds its items "unchanged" again.
unchanged=$(awk '/^published/ { gsub(",", ""); u += $7 } END { print u + 0 }' "$WORK/publish.log")
note "all $CHUNKS chunks published ($republished published again after a failed attempt; $unchanged items found already stored)"

wait_delivered 180 "$SD" $S "$RD" "$N"

ok=0
check_exactly_once "$RD" $S "$WORK/expected" || ok=1
OUTBOX=$(outbox_count "$SD")
LOCAL=$(local_count "$SD")
WIRE_DUP=$(sq "$SD/store.db" 'select coalesce(sum(duplicate), 0) from receipt')
RECEIPTS=$(sq "$SD/store.db" 'select count(*) from receipt')
UNBACKED=$(unbacked_receipts "$SD" $S "$RD" $R)
STARTS_S=$(grep -c ' STARTED:' "$SD/mouxd.log" || true)
STARTS_R=$(grep -c ' STARTED:' "$RD/mouxd.log" || true)
echo "SUMMARY $TEST_NAME: sent=$N kills=$KILLS (receiver $(( (KILLS + 1) / 2 )), sender $(( KILLS / 2 )), $during_publish during a publish) republished_chunks=$republished unchanged_on_republish=$unchanged received=$RECEIVED distinct=$DISTINCT duplicates=$DUPLICATES missing=$MISSING extra=$EXTRA outbox=$OUTBOX sender_local=$LOCAL redelivered_on_wire=$WIRE_DUP receipts=$RECEIPTS unbacked_receipts=$UNBACKED seed=$FT_SEED elapsed=$(elapsed_since "$t0")s"
[ $ok -eq 0 ] || fail "the receiver does not hold exactly the $N published values"
[ "$OUTBOX" -eq 0 ] || fail "$OUTBOX items left in $S's outbox"
[ "$UNBACKED" -eq 0 ] || fail "$S holds $UNBACKED receipts for batches $R never stored"
[ "$LOCAL" -eq "$N" ] || fail "$S holds $LOCAL local indicators, expected $N (republishing duplicated?)"
[ "$STARTS_S" -eq $(( KILLS / 2 + 1 )) ] || fail "$S started $STARTS_S times, expected $(( KILLS / 2 + 1 ))"
[ "$STARTS_R" -eq $(( (KILLS + 1) / 2 + 1 )) ] || fail "$R started $STARTS_R times"
! grep -q START-FAILED "$SD/mouxd.log" "$RD/mouxd.log" || fail "a restart failed (START-FAILED)"
note "PASS"
