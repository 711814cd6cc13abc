#!/usr/bin/env bash
# Batches are cut by bytes as well as by count: a backlog of long values
# reaches a partner that accepts only the smallest allowed message size
# (1 MiB), instead of stalling the link on a frame it must drop.
source "$(dirname "$0")/lib.sh"

"$MOUX" init -d "$WORK/us.cisa" --agency us.cisa --listen tcp://127.0.0.1:0 >/dev/null
printf 'max_message_bytes = 1048576\nbatch_max_items = 1024\n' >> "$WORK/us.cisa/moux.conf"
"$MOUX" init -d "$WORK/vn.ais" --agency vn.ais --listen tcp://127.0.0.1:0 >/dev/null
printf 'batch_max_items = 1024\n' >> "$WORK/vn.ais/moux.conf"
"$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
"$CLUSTER" stop "$WORK" us.cisa

# 1500 URLs of about 1900 bytes: 1024 of them would make a 3 MB batch.
N=1500
pad=$(head -c 1850 /dev/zero | tr '\0' 'a')
for i in $(seq 1 $N); do printf 'url,https://example.net/%d/%s\n' "$i" "$pad"; done > "$WORK/long.csv"
"$MOUX" publish -d "$WORK/vn.ais" --file "$WORK/long.csv" >/dev/null
"$CLUSTER" start "$WORK" us.cisa

stored() { sqlite3 "$WORK/us.cisa/store.db" "select count(*) from indicator"; }
wait_for 60 "all $N long URLs at us.cisa" '[ "$(stored)" = $N ]'
biggest=$(sqlite3 "$WORK/us.cisa/store.db" "select max(length(payload)) from inbound")
[ "$biggest" -le 1048576 ] || fail "a batch payload of $biggest bytes exceeds 1 MiB"
batches=$(sqlite3 "$WORK/us.cisa/store.db" "select count(*) from inbound")
! grep -q "LINK-DOWN" "$WORK/vn.ais/mouxd.log" || [ "$(grep -c LINK-DOWN "$WORK/vn.ais/mouxd.log")" -le 1 ] \
    || fail "the link dropped repeatedly (oversized frames?)"
note "ok: $N items in $batches batches, largest payload $biggest bytes"
