#!/usr/bin/env bash
# Power failures, not only kills: a kill -9 leaves every write the daemon
# made in the kernel's page cache, a power failure loses what was not yet
# synced. The node whose power fails runs with libmouxpowercut.so
# preloaded, which keeps an undo journal of every write to its store.db and
# store.db-wal since their last fsync, and kills the daemon at the sync the
# test points it at; powercut_apply then undoes the journals, and the store
# is what the disk held. Both sides of the durability promise are checked
# against that store, before the node restarts:
#
#   receiver cut: every receipt the sender holds is for a batch the
#     receiver still holds (a receipt is sent only after the batch's
#     commit has synced);
#   sender cut: every item and every withdrawal the CLI was told was done
#     is still there, and the receiver holds no item and no withdrawal from
#     the sender that the sender lost (a batch goes out only after the
#     commit that queued it has synced; otherwise a lost item, published
#     again under a new id, would leave the partner an item its publisher
#     can never update or withdraw).
#
# The cuts alternate receiver / sender, 0-80 ms into a publish (every
# fourth, the sender's second, into a withdrawal), each at the next sync of
# the store's WAL that has writes to lose; every fourth from the first hits
# the receiver's checkpoint instead, at the sync of store.db after pages
# were copied into it (the first cut releases the most chunks: enough WAL
# for a checkpoint). Syncs of the cut node's
# store are slowed (FT_SYNC_DELAY_MS), a slow disk: batches sent too early
# would reach the partner before the cut. Then the node restarts,
# everything is delivered exactly once, and the audit logs verify.
#
#   FT_N=20000            indicators (a multiple of 1000)
#   FT_CUTS=4             power cuts (at least 2)
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
J=$WORK/journal
SHIM=$MOUX_BIN/libmouxpowercut.so
APPLY=$MOUX_BIN/powercut_apply
[ -f "$SHIM" ] && [ -x "$APPLY" ] || fail "$SHIM or $APPLY not built"
[ $((N % CHUNK)) -eq 0 ] || fail "FT_N must be a multiple of $CHUNK"
[ "$CUTS" -ge 2 ] || fail "FT_CUTS must be at least 2 (one at each side)"
t0=$(date +%s)
ft_seed

"$CLUSTER" up "$WORK" $S $R >/dev/null
awk -v n="$N" 'BEGIN {
    for (i = 1; i <= n; i++)
        if (i % 2) printf "ipv4-addr,10.%d.%d.%d,green\n", int(i / 65536), int(i / 256) % 256, i % 256
        else printf "domain-name,h%d.cut.example,green\n", i
}' > "$WORK/feed.csv"
expected_set "$WORK/feed.csv" "$WORK/expected"
[ "$(wc -l < "$WORK/expected")" -eq "$N" ] || fail "feed does not hold $N distinct values"
split -l $CHUNK -d -a 3 "$WORK/feed.csv" "$WORK/chunk."
CHUNKS=$(( N / CHUNK ))
mkdir "$WORK/acked.d" # type|value of every item the CLI was told was stored
: > "$WORK/withdrawn" # type|value of every item it was told was withdrawn
echo 0 > "$WORK/cuts"
mkdir -p "$J"

# stop_clean NODE: a clean stop, so that nothing written before the shim
# is loaded can still be unsynced (deploy/cluster kills after 10 s).
stop_clean() {
    local out; out=$("$CLUSTER" stop "$WORK" "$1" 2>&1)
    [[ "$out" != *"no clean stop"* ]] || fail "$1 did not stop cleanly: $out"
}

# start_tracked NODE_DIR: starts its daemon with the shim preloaded, as
# deploy/cluster starts one, and waits for its links.
start_tracked() {
    ( # a subshell, as deploy/cluster does: no job-control line at the kill
        env LD_PRELOAD="$SHIM" MOUX_POWERCUT_NODE="$1" MOUX_POWERCUT_DIR="$J" \
            MOUX_POWERCUT_SYNC_DELAY_MS="$DELAY" \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
            "$MOUX_BIN/mouxd" -d "$1" >>"$1/mouxd.log" 2>&1 </dev/null &
        echo $! > "$1/mouxd.pid"
    )
    "$MOUX" wait -d "$1" --timeout 30 >/dev/null || fail "$1: links not up"
}

# The publisher: one chunk after another, a few released at each cut and
# the last ones after the last cut; a chunk whose publish failed (its node
# lost power) goes again. A chunk is acknowledged when its publish exits 0:
# the node answered that its items are stored. After each chunk, the first
# item of the chunk before is withdrawn, acknowledged likewise (or found
# withdrawn after an attempt the node died answering).
publisher() {
    local c f deadline=$(( $(date +%s) + 240 )) i=0 prev=""
    for c in "$WORK"/chunk.*; do
        while [ "$(cat "$WORK/cuts")" -lt $(( i * (CUTS + 2) / CHUNKS )) ]; do
            [ "$(date +%s)" -lt "$deadline" ] || { echo "publisher: cut never came" >&2; exit 1; }
            sleep 0.05
        done
        f=$(publish_retrying "$SD" "$c" "$deadline" "$WORK/publish.log") \
            || { echo "publisher: $c never published ($f failed attempts)" >&2; exit 1; }
        # One file per chunk, moved in whole: never read half written.
        awk -F, '{ print $1 "|" $2 }' "$c" > "$WORK/acked.tmp" && mv "$WORK/acked.tmp" "$WORK/acked.d/${c##*.}"
        if [ -n "$prev" ]; then
            IFS=, read -r wt wv _ < "$prev"
            f=$(cli_retrying "$SD" "$deadline" "$WORK/publish.log" withdrawing "withdrawn_at_sender $wv" \
                withdraw -d "$SD" --type "$wt" --value "$wv") \
                || { echo "publisher: $wv never withdrawn ($f failed attempts)" >&2; exit 1; }
            echo "$wt|$wv" >> "$WORK/withdrawn"
        fi
        prev=$c
        i=$((i + 1))
    done
}
withdrawn_at_sender() {
    [ "$(sq "$SD/store.db" "select revoked from indicator where from_pid is null and value = '$1'")" = 1 ]
}
release() { echo "$1" > "$WORK/cuts.new" && mv "$WORK/cuts.new" "$WORK/cuts"; }

# Acknowledged items the sender does not hold; acknowledged withdrawals it
# does not hold.
lost_acked() {
    sq "$SD/store.db" "select type || '|' || value from indicator where from_pid is null" \
        | LC_ALL=C sort > "$WORK/held"
    { cat "$WORK"/acked.d/* 2>/dev/null || true; } | LC_ALL=C sort -u \
        | LC_ALL=C comm -23 - "$WORK/held" | wc -l
}
lost_withdrawn() {
    sq "$SD/store.db" "select type || '|' || value from indicator where from_pid is null
        and revoked = 1" | LC_ALL=C sort > "$WORK/held"
    LC_ALL=C sort -u "$WORK/withdrawn" | LC_ALL=C comm -23 - "$WORK/held" | wc -l
}

# Withdrawals the receiver holds that the sender lost: items revoked at the
# receiver whose copy at the sender is not.
withdrawals_lost_at_sender() {
    sqlite3 -readonly -cmd '.timeout 5000' "$RD/store.db" "attach '$SD/store.db' as s;
        select count(*) from main.indicator i join s.indicator j on j.id = i.id
        where i.revoked = 1 and j.revoked = 0"
}

# What a cut aimed at, counted in the victim's store: a batch being stored
# (the receiver's stored batches: a batch of items sent again is one too),
# a publish or a withdrawal being committed (the sender's items and
# withdrawals). Read before the cut is applied (the store as the page cache
# holds it) and after.
aimed() {
    if [ "$1" = "$R" ]; then sq "$RD/store.db" 'select count(*) from inbound'
    else echo "$(local_count "$SD")/$(sq "$SD/store.db" 'select count(*) from indicator where revoked = 1')"
    fi
}

done_cuts=0
hits_r=0    # receiver WAL cuts that took a stored batch away
hits_s=0    # sender cuts that took a publish or a withdrawal away
pub=
for k in $(seq 1 "$CUTS"); do
    if [ $((k % 2)) -eq 1 ]; then victim=$R; vd=$RD; else victim=$S; vd=$SD; fi
    file=store.db-wal
    [ "$k" -ne 1 ] || file=store.db # the receiver's checkpoint: the first cut has the most WAL
    stop_clean $victim
    start_tracked "$vd"
    [ -n "$pub" ] || { publisher & pub=$!; FT_PIDS+=("$pub"); }
    release "$k"
    # Into a publish (0-80 ms); the fourth cut (the sender's second) as a
    # withdrawal starts.
    mark=publishing
    [ $((k % 4)) -ne 0 ] || mark=withdrawing
    for _ in $(seq 200); do [ -e "$WORK/$mark" ] && break; sleep 0.01; done
    [ $mark = withdrawing ] || sleep_ms "$(rand_ms 0 80)"
    kill -0 "$pub" 2>/dev/null || { wait "$pub" || true; fail "the publisher ended before cut $k"; }
    pid=$(cat "$vd/mouxd.pid")
    touch "$J/cut.$file" # the power fails at the next sync of it with writes to lose
    for _ in $(seq 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    ! kill -0 "$pid" 2>/dev/null || fail "cut $k: $victim never synced $file in 10 s"
    [ -e "$J/fired.$file" ] || fail "cut $k: $victim died, but not of the cut: $(tail -n 3 "$vd/mouxd.log")"
    "$CLUSTER" stop "$WORK" $victim --kill # tidies up after it
    before="outbox $(outbox_count "$SD"), received $(from_count "$RD" $S)"
    aim_before=$(aimed $victim)
    cut=$("$APPLY" "$J" "$vd") || fail "powercut_apply failed"
    aim_after=$(aimed $victim)
    note "cut $k/$CUTS: $victim at a sync of $file ($before; aimed at $aim_before -> $aim_after); $cut"
    writes=$(echo "$cut" | { grep -oE " $file [0-9]+ writes" || true; } | grep -oE '[0-9]+' || echo 0)
    [ "$writes" -gt 0 ] || fail "cut $k undid no write to $file: it tested nothing"
    check=$(sq "$vd/store.db" 'pragma integrity_check' 2>&1 | head -3) || true
    [ "$check" = ok ] || fail "$victim's store after the cut: $check"
    if [ $victim = $R ]; then
        u=$(unbacked_receipts "$SD" $S "$RD" $R)
        [ "$u" -eq 0 ] || fail "$S holds $u receipts for batches $R lost in the power cut"
        [ $file = store.db ] || [ "$aim_before" -le "$aim_after" ] || hits_r=$((hits_r + 1))
    else
        l=$(lost_acked); o=$(orphans "$SD" "$S" "$RD")
        lw=$(lost_withdrawn); w=$(withdrawals_lost_at_sender)
        [ "$l" -eq 0 ] || fail "$l items the CLI was told were stored are gone from $S after the cut"
        [ "$o" -eq 0 ] || fail "$R holds $o items from $S whose ids $S lost in the power cut"
        [ "$lw" -eq 0 ] || fail "$lw withdrawals the CLI was told were done are gone from $S"
        [ "$w" -eq 0 ] || fail "$R holds $w withdrawals $S lost in the power cut"
        [ "$aim_before" = "$aim_after" ] || hits_s=$((hits_s + 1))
    fi
    "$CLUSTER" start "$WORK" $victim # power back: it recovers the store as the disk left it
    done_cuts=$((done_cuts + 1))
done
[ "$done_cuts" -eq "$CUTS" ] || fail "only $done_cuts of $CUTS cuts done"
# A cut that lands at a sync with nothing of its aim pending (the sender's
# once-a-second sync of its receipts, say) still checks what it checks,
# but at least one cut on each side must have taken its aim away.
[ "$hits_r" -ge 1 ] || fail "no receiver cut took a stored batch away"
[ "$hits_s" -ge 1 ] || fail "no sender cut took a publish or a withdrawal away"
release $((CUTS + 1))

rc=0; wait "$pub" || rc=$?
[ $rc -eq 0 ] || { tail -n 20 "$WORK/publish.log" >&2; fail "the publisher failed (exit $rc)"; }
wait_delivered 120 "$SD" $S "$RD" "$N"

ok=0
check_exactly_once "$RD" $S "$WORK/expected" || ok=1
LOCAL=$(local_count "$SD")
UNBACKED=$(unbacked_receipts "$SD" $S "$RD" $R)
ORPHANS=$(orphans "$SD" "$S" "$RD")
WITHDRAWN=$(wc -l < "$WORK/withdrawn")
REVOKED_S=$(sq "$SD/store.db" 'select count(*) from indicator where revoked = 1')
REVOKED_R=$(sq "$RD/store.db" 'select count(*) from indicator where revoked = 1')
echo "SUMMARY $TEST_NAME: sent=$N cuts=$CUTS receiver_cuts_on_aim=$hits_r sender_cuts_on_aim=$hits_s sync_delay_ms=$DELAY received=$RECEIVED distinct=$DISTINCT duplicates=$DUPLICATES missing=$MISSING extra=$EXTRA sender_local=$LOCAL withdrawn=$WITHDRAWN revoked_at_sender=$REVOKED_S revoked_at_receiver=$REVOKED_R unbacked_receipts=$UNBACKED orphans=$ORPHANS seed=$FT_SEED elapsed=$(elapsed_since "$t0")s"
[ $ok -eq 0 ] || fail "the receiver does not hold exactly the $N published values"
[ "$LOCAL" -eq "$N" ] || fail "$S holds $LOCAL local indicators, expected $N"
[ "$UNBACKED" -eq 0 ] || fail "$S holds $UNBACKED receipts for batches $R does not hold"
[ "$ORPHANS" -eq 0 ] || fail "$R holds $ORPHANS items whose ids $S does not hold"
[ "$WITHDRAWN" -eq $((CHUNKS - 1)) ] && [ "$REVOKED_S" -eq "$WITHDRAWN" ] &&
    [ "$REVOKED_R" -eq "$WITHDRAWN" ] ||
    fail "withdrawn $WITHDRAWN, revoked at $S $REVOKED_S, at $R $REVOKED_R (expected $((CHUNKS - 1)) each)"
for d in "$SD" "$RD"; do
    "$MOUX" audit verify -d "$d" >/dev/null 2>&1 || fail "$d: audit log does not verify after the cuts"
done
! grep -q START-FAILED "$SD/mouxd.log" "$RD/mouxd.log" || fail "a restart failed (START-FAILED)"
note "PASS"
