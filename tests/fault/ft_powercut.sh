#!/usr/bin/env bash
# Power failures, not only kills: a kill -9 leaves every write the daemon
# made in the kernel's page cache, a power failure loses what was not yet
# synced. The daemon runs with libmouxpowercut.so preloaded, which keeps an
# undo journal of every write to its store.db and store.db-wal since their
# last fsync; after kill -9, powercut_apply undoes those writes, and the
# store is what the disk held. Both sides of the durability promise are
# checked against that store, before the node restarts:
#
#   receiver cut: every receipt the sender holds is for a batch the
#     receiver still holds (a receipt is sent only after the batch's
#     commit has synced);
#   sender cut: every item the CLI was told was stored is still there, and
#     the receiver holds no item from the sender that the sender lost (a
#     batch goes out only after the publish commit has synced; otherwise
#     a lost item, published again under a new id, would leave the partner
#     an item its publisher can never update or withdraw).
#
# Syncs of the cut node's store are slowed (FT_SYNC_DELAY_MS), so every
# window between a write and its sync is wide and the cut lands in some.
# Then the node restarts, everything is delivered exactly once, and the
# audit logs verify.
#
#   FT_N=20000            indicators (a multiple of 1000)
#   FT_CUTS=4             power cuts, alternating receiver / sender
#   FT_SYNC_DELAY_MS=15   added before each sync of the cut node's store
#   FT_SEED=...           the random schedule to replay (printed at the start)
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/faultlib.sh"

N=${FT_N:-20000}
CUTS=${FT_CUTS:-4}
DELAY=${FT_SYNC_DELAY_MS:-15}
CHUNK=1000
S=vn.ais    # sender
R=us.cisa   # receiver
SD=$WORK/$S
RD=$WORK/$R
SHIM=$MOUX_BIN/libmouxpowercut.so
APPLY=$MOUX_BIN/powercut_apply
[ -f "$SHIM" ] && [ -x "$APPLY" ] || fail "$SHIM or $APPLY not built"
[ $((N % CHUNK)) -eq 0 ] || fail "FT_N must be a multiple of $CHUNK"
t0=$(date +%s)
ft_seed

"$CLUSTER" up "$WORK" $S $R >/dev/null
awk -v n="$N" 'BEGIN {
    for (i = 1; i <= n; i++)
        if (i % 2) printf "ipv4-addr,10.%d.%d.%d,green\n", int(i / 65536), int(i / 256) % 256, i % 256
        else printf "domain-name,h%d.cut.example,green\n", i
}' > "$WORK/feed.csv"
expected_set "$WORK/feed.csv" "$WORK/expected"
split -l $CHUNK -d -a 3 "$WORK/feed.csv" "$WORK/chunk."
: > "$WORK/acked"     # type|value of every item the CLI was told was stored
echo 0 > "$WORK/cuts"

# start_tracked NODE_DIR: starts its daemon with the shim preloaded and
# waits for its links.
start_tracked() {
    mkdir -p "$WORK/journal"
    ( # a subshell, as deploy/cluster does: no job-control line at the kill
        env LD_PRELOAD="$SHIM" MOUX_POWERCUT_NODE="$1" MOUX_POWERCUT_DIR="$WORK/journal" \
            MOUX_POWERCUT_SYNC_DELAY_MS="$DELAY" \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
            "$MOUX_BIN/mouxd" -d "$1" >>"$1/mouxd.log" 2>&1 </dev/null &
        echo $! > "$1/mouxd.pid"
    )
    "$MOUX" wait -d "$1" --timeout 30 >/dev/null || fail "$1: links not up after a restart"
}

# The publisher: one chunk after another; a chunk whose publish failed
# (its node lost power) goes again. A chunk is acknowledged when its
# publish exits 0: the node answered that its items are stored.
publisher() {
    local c f deadline=$(( $(date +%s) + 240 )) i=0
    for c in "$WORK"/chunk.*; do
        # Spread the chunks over the cuts, some after the last one.
        while [ "$(cat "$WORK/cuts")" -lt $(( i * (CUTS + 1) / (N / CHUNK) )) ]; do
            [ "$(date +%s)" -lt "$deadline" ] || { echo "publisher: cut never came" >&2; exit 1; }
            sleep 0.05
        done
        f=$(publish_retrying "$SD" "$c" "$deadline" "$WORK/publish.log") \
            || { echo "publisher: $c never published ($f failed attempts)" >&2; exit 1; }
        awk -F, '{ print $1 "|" $2 }' "$c" >> "$WORK/acked"
        i=$((i + 1))
    done
}

# Items of the receiver's from the sender whose ids the sender does not hold.
orphans() {
    sqlite3 -readonly -cmd '.timeout 5000' "$RD/store.db" "attach '$SD/store.db' as s;
        select count(*) from main.indicator i join main.partner p on p.pid = i.from_pid
        and p.agency = '$S' where not exists (select 1 from s.indicator j where j.id = i.id)"
}

# Acknowledged items the sender does not hold.
lost_acked() {
    sq "$SD/store.db" "select type || '|' || value from indicator where from_pid is null" \
        | LC_ALL=C sort > "$WORK/held"
    LC_ALL=C sort -u "$WORK/acked" | LC_ALL=C comm -23 - "$WORK/held" | wc -l
}

# Every cut is followed by an integrity check of the store as the disk left it.
integrity() { sq "$1/store.db" 'pragma integrity_check' | head -3; }

undone=0
for k in $(seq 1 "$CUTS"); do
    if [ $((k % 2)) -eq 1 ]; then victim=$R; vd=$RD; else victim=$S; vd=$SD; fi
    "$CLUSTER" stop "$WORK" $victim
    start_tracked "$vd"
    [ "$k" -gt 1 ] || { publisher & pub=$!; FT_PIDS+=("$pub"); }
    echo "$k" > "$WORK/cuts.new" && mv "$WORK/cuts.new" "$WORK/cuts" # lets the publisher on
    # While batches flow (0-80 ms into a publish), at the next moment the
    # victim waits for its WAL to sync: then the power fails.
    for _ in $(seq 200); do [ -e "$WORK/publishing" ] && break; sleep 0.05; done
    sleep_ms "$(rand_ms 0 80)"
    for _ in $(seq 1000); do [ -e "$WORK/journal/store.db-wal.syncing" ] && break; sleep 0.002; done
    kill -KILL "$(cat "$vd/mouxd.pid")"
    kill -0 "$pub" 2>/dev/null || break # it failed: reported below
    "$CLUSTER" stop "$WORK" $victim --kill # tidies up after it
    before="outbox $(outbox_count "$SD"), received $(from_count "$RD" $S)"
    cut=$("$APPLY" "$WORK/journal" "$vd") || fail "powercut_apply failed"
    writes=$(echo "$cut" | grep -oE '[0-9]+ writes' | awk '{ n += $1 } END { print n + 0 }')
    undone=$((undone + writes))
    note "cut $k/$CUTS: $victim ($before); $cut"
    [ "$(integrity "$vd")" = ok ] || fail "$victim's store after the cut: $(integrity "$vd")"
    if [ $victim = $R ]; then
        u=$(unbacked_receipts "$SD" $S "$RD" $R)
        [ "$u" -eq 0 ] || fail "$S holds $u receipts for batches $R lost in the power cut"
    else
        o=$(orphans); l=$(lost_acked)
        [ "$l" -eq 0 ] || fail "$l items the CLI was told were stored are gone from $S after the cut"
        [ "$o" -eq 0 ] || fail "$R holds $o items from $S whose ids $S lost in the power cut"
    fi
    "$CLUSTER" start "$WORK" $victim # power back: it recovers the store as the disk left it
done
echo "$((CUTS + 1))" > "$WORK/cuts.new" && mv "$WORK/cuts.new" "$WORK/cuts"

rc=0; wait "$pub" || rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$WORK/publish.log" >&2; fail "the publisher failed (exit $rc)"; }
[ "$undone" -gt 0 ] || fail "no cut undid a write: the cuts did not test durability"
all_received() { [ "$(from_count "$RD" $S)" -ge "$N" ] && [ "$(outbox_count "$SD")" -eq 0 ]; }
wait_for 120 "all $N items at $R and $S's outbox empty" 'all_received'
sleep 1 # anything still in flight would show up as a duplicate now

ok=0
check_exactly_once "$RD" $S "$WORK/expected" || ok=1
LOCAL=$(local_count "$SD")
UNBACKED=$(unbacked_receipts "$SD" $S "$RD" $R)
ORPHANS=$(orphans)
echo "SUMMARY $TEST_NAME: sent=$N cuts=$CUTS sync_delay_ms=$DELAY undone_writes=$undone received=$RECEIVED distinct=$DISTINCT duplicates=$DUPLICATES missing=$MISSING extra=$EXTRA sender_local=$LOCAL unbacked_receipts=$UNBACKED orphans=$ORPHANS seed=$FT_SEED elapsed=$(elapsed_since "$t0")s"
[ $ok -eq 0 ] || fail "the receiver does not hold exactly the $N published values"
[ "$LOCAL" -eq "$N" ] || fail "$S holds $LOCAL local indicators, expected $N"
[ "$UNBACKED" -eq 0 ] || fail "$S holds $UNBACKED receipts for batches $R does not hold"
[ "$ORPHANS" -eq 0 ] || fail "$R holds $ORPHANS items whose ids $S does not hold"
for d in "$SD" "$RD"; do
    "$MOUX" audit verify -d "$d" >/dev/null 2>&1 || fail "$d: audit log does not verify after the cuts"
done
! grep -q START-FAILED "$SD/mouxd.log" "$RD/mouxd.log" || fail "a restart failed (START-FAILED)"
note "PASS"
