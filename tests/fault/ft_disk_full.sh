#!/usr/bin/env bash
# The receiving node's disk fills up while it receives. Its directory is a
# small tmpfs this test mounts; a filler file leaves it a few hundred KiB,
# then the sender publishes far more than that. The receiver must refuse
# what it cannot store WITHOUT receipting it (STORE-FAILED in its log; the
# sender keeps the items queued), keep running and answering, and once the
# filler is deleted take everything, each item exactly once. Skipped (77)
# where the test may not mount a filesystem. Midway, the receiver is also
# killed (-9) and restarted while its disk is still full.
#
#   FT_N=10000        indicators published
#   FT_FS_MB=24       size of the receiver's filesystem
#   FT_FREE_KB=640    what the filler leaves free
#   FT_HOLD_S=10      how long the disk stays full once the receiver fails
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/faultlib.sh"

N=${FT_N:-10000}
FS_MB=${FT_FS_MB:-24}
FREE_KB=${FT_FREE_KB:-640}
HOLD_S=${FT_HOLD_S:-10}
FIRST=500   # published and delivered before the disk fills
S=vn.ais
R=us.cisa
SD=$WORK/$S
RD=$WORK/$R
RLOG=$WORK/$R.log   # the receiver's log, kept off its full disk
t0=$(date +%s)

mkdir -m 0700 "$RD"
err=$(mount -t tmpfs -o "size=${FS_MB}m,mode=0700" tmpfs "$RD" 2>&1) \
    || skip "cannot mount a tmpfs for the receiver's node directory (mount: $err)"
fs_teardown() {
    "$CLUSTER" down "$WORK" >/dev/null 2>&1 || true # the daemons hold files on it
    if [ "$FT_RC" -ne 0 ] && [ "$FT_RC" -ne 77 ] && [ -f "$RLOG" ]; then
        echo "== $RLOG" >&2; tail -n 30 "$RLOG" >&2
        df -k "$RD" >&2 || true
    fi
    umount "$RD" 2>/dev/null || umount -l "$RD" || echo "cannot unmount $RD" >&2
}
FT_HOOKS+=("fs_teardown")
note "$R's node directory is a ${FS_MB} MiB tmpfs"

"$CLUSTER" up "$WORK" $S $R >/dev/null
# The sender retries at most every 5 s (default 60 s), to keep the test short.
"$CLUSTER" stop "$WORK" $S
echo "retry_max_ms = 5000" >> "$SD/moux.conf"
"$CLUSTER" start "$WORK" $S
# The receiver's log goes through a symlink to a file off its filesystem:
# on a full disk it would lose the very lines this test looks for.
"$CLUSTER" stop "$WORK" $R
mv "$RD/mouxd.log" "$RLOG"
ln -s "$RLOG" "$RD/mouxd.log"
"$CLUSTER" start "$WORK" $R
rpid=$(cat "$RD/mouxd.pid")

awk -v n="$N" 'BEGIN {
    for (i = 1; i <= n; i++)
        if (i % 2)
            printf "ipv4-addr,10.%d.%d.%d,green\n", int(i / 65536), int(i / 256) % 256, i % 256
        else
            printf "domain-name,h%d.full.example,green\n", i
}' > "$WORK/feed.csv"
expected_set "$WORK/feed.csv" "$WORK/expected"
head -n $FIRST "$WORK/feed.csv" > "$WORK/first.csv"
tail -n +$((FIRST + 1)) "$WORK/feed.csv" > "$WORK/rest.csv"

"$MOUX" publish -d "$SD" --file "$WORK/first.csv" >/dev/null 2>&1 || fail "first publish failed"
first_in() { [ "$(from_count "$RD" $S)" -eq $FIRST ] && [ "$(outbox_count "$SD")" -eq 0 ]; }
wait_for 30 "the first $FIRST items at $R" 'first_in'

# Fill the disk, leaving FREE_KB.
avail_kb() { df -k --output=avail "$RD" | tail -n 1 | tr -d ' '; }
fill_kb=$(( $(avail_kb) - FREE_KB ))
[ "$fill_kb" -gt 0 ] || fail "the tmpfs has less than ${FREE_KB} KiB free already"
dd if=/dev/zero of="$RD/filler" bs=1k count="$fill_kb" status=none
note "$R delivered $FIRST items; disk filled ($fill_kb KiB filler, $(avail_kb) KiB left)"

# Publish the rest: far more than fits.
"$MOUX" publish -d "$SD" --file "$WORK/rest.csv" >/dev/null 2>&1 || fail "publish failed"
store_failed() { grep -c STORE-FAILED "$RLOG" || true; }
wait_for 60 "STORE-FAILED in $R's log" '[ "$(store_failed)" -gt 0 ]'
note "$R reports STORE-FAILED; keeping its disk full for ${HOLD_S}s"

# While full: the receiver runs and answers; no item is receipted without
# being stored (what the sender still holds plus what the receiver stored
# covers everything: outbox read first, it only shrinks after a store), and
# the sender holds no receipt for a batch the receiver has not stored.
for _ in $(seq "$HOLD_S"); do
    kill -0 "$rpid" 2>/dev/null || fail "$R died on a full disk"
    "$MOUX" status -d "$RD" --json | jq -e .running >/dev/null || fail "$R stopped answering"
    ob=$(outbox_count "$SD"); st=$(from_count "$RD" $S)
    [ $((ob + st)) -ge "$N" ] || fail "items receipted but not stored: outbox $ob + stored $st < $N"
    rc_s=$(sq "$SD/store.db" 'select count(*) from receipt'); in_r=$(sq "$RD/store.db" 'select count(*) from inbound')
    [ "$rc_s" -le "$in_r" ] || fail "$S holds $rc_s receipts from $R, which stored only $in_r batches"
    sleep 1
done
ob_full=$(outbox_count "$SD"); st_full=$(from_count "$RD" $S)
[ "$ob_full" -gt 0 ] || fail "$S's outbox emptied although $R's disk is full"
fails_full=$(store_failed)
[ "$fails_full" -ge 2 ] || fail "the sender did not retry while the disk was full ($fails_full STORE-FAILED)"
note "after ${HOLD_S}s full: $R stored $st_full of $N, $ob_full still queued at $S, $fails_full STORE-FAILED, $R running"

# A crash on the full disk: kill -9 the receiver and start it again while
# the disk is still full. It must start (WAL recovery needs no new space),
# answer, and go on refusing without receipting.
kill -0 "$rpid" 2>/dev/null || fail "$R died on a full disk"
"$CLUSTER" stop "$WORK" $R --kill
"$CLUSTER" start "$WORK" $R || fail "$R did not start again on its full disk"
rpid=$(cat "$RD/mouxd.pid")
fails_before=$(store_failed)
more_failures() { [ "$(store_failed)" -gt "$fails_before" ]; }
wait_for 30 "STORE-FAILED again after the restart on a full disk" 'more_failures'
ob=$(outbox_count "$SD"); st=$(from_count "$RD" $S)
if [ "$ob" -eq 0 ] || [ $((ob + st)) -lt "$N" ]; then fail "after the restart: outbox $ob, stored $st of $N"; fi
note "$R killed (-9) and restarted on its full disk: running, still refusing, $ob still queued"

# Space returns.
rm -f "$RD/filler"
space_at=$(date +%s)
note "filler deleted ($(avail_kb) KiB free)"
wait_delivered 120 "$SD" $S "$RD" "$N"
recovered_s=$(( $(date +%s) - space_at ))

ok=0
check_exactly_once "$RD" $S "$WORK/expected" || ok=1
OUTBOX=$(outbox_count "$SD")
RECEIPTS=$(sq "$SD/store.db" 'select count(*) from receipt')
INBOUND=$(sq "$RD/store.db" 'select count(*) from inbound')
UNBACKED=$(unbacked_receipts "$SD" $S "$RD" $R)
INTEGRITY=$(sq "$RD/store.db" 'pragma integrity_check')
TIMEOUTS=$(grep -c BATCH-TIMEOUT "$SD/mouxd.log" || true)
STARTS=$(grep -c ' STARTED:' "$RLOG" || true)
echo "SUMMARY $TEST_NAME: sent=$N fs=${FS_MB}MiB free_when_full=${FREE_KB}KiB stored_while_full=$st_full store_failed=$(store_failed) kills=1 batch_timeouts=$TIMEOUTS receipts=$RECEIPTS stored_batches=$INBOUND unbacked_receipts=$UNBACKED received=$RECEIVED duplicates=$DUPLICATES missing=$MISSING extra=$EXTRA outbox=$OUTBOX integrity=$INTEGRITY recovered_in=${recovered_s}s elapsed=$(elapsed_since "$t0")s"
kill -0 "$rpid" 2>/dev/null || fail "$R is not running after the disk recovered"
[ "$(cat "$RD/mouxd.pid")" = "$rpid" ] || fail "$R was restarted behind the test's back"
[ "$STARTS" -eq 3 ] || fail "$R started $STARTS times (expected 3: cluster up, with its log moved, after the kill)"
[ $ok -eq 0 ] || fail "$R does not hold exactly the $N published values"
[ "$OUTBOX" -eq 0 ] || fail "$OUTBOX items left in $S's outbox"
[ "$RECEIPTS" -le "$INBOUND" ] || fail "$S holds more receipts ($RECEIPTS) than $R stored batches ($INBOUND)"
[ "$UNBACKED" -eq 0 ] || fail "$S holds $UNBACKED receipts for batches $R never stored"
[ "$INTEGRITY" = ok ] || fail "$R's store fails integrity_check: $INTEGRITY"
note "PASS"
