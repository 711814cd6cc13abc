# shellcheck shell=bash
# Shared by the fault-injection tests (tests/fault/ft_*.sh): sourced after
# tests/integration/lib.sh, never run. Reading stores, exactly-once checks,
# bounded random pauses and a publisher that survives its node being killed.

# Background helpers (their pids in FT_PIDS) are stopped and FT_HOOKS (shell
# commands) run before lib.sh's cleanup stops the daemons, whatever the
# exit status, which is kept.
FT_PIDS=()
FT_HOOKS=()
FT_RC=0     # the exit status, for the hooks
# ft_kill_tree PID: stops a helper and everything it started (a command
# substitution inside it would otherwise run on to its own deadline).
ft_kill_tree() {
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do ft_kill_tree "$c"; done
    kill "$1" 2>/dev/null || true
}
ft_exit() {
    local rc=$? p h
    # shellcheck disable=SC2034 # read by the hooks
    FT_RC=$rc
    for p in "${FT_PIDS[@]}"; do { ft_kill_tree "$p"; wait "$p"; } 2>/dev/null || true; done
    if p=$(cat "$WORK/cli.pid" 2>/dev/null); then kill "$p" 2>/dev/null || true; fi
    for h in "${FT_HOOKS[@]}"; do eval "$h" || true; done
    set +e # or the next line would end the shell before lib.sh's cleanup
    (exit $rc) # s_cleanup takes the exit status from $?
    s_cleanup
}
trap ft_exit EXIT

command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"

# sq DB SQL: one read-only query. Read-only, so that closing our connection
# never checkpoints or removes the WAL of a store whose daemon was killed:
# the restarted daemon must recover it itself.
sq() { sqlite3 -readonly -cmd '.timeout 5000' "$1" "$2"; }

# outbox_count NODE_DIR: items queued for any partner and not yet receipted.
outbox_count() { sq "$1/store.db" 'select count(*) from outbox'; }

# from_count NODE_DIR AGENCY: indicators stored as received from AGENCY.
from_count() {
    sq "$1/store.db" "select count(*) from indicator where from_pid =
        (select pid from partner where agency = '$2')"
}

# local_count NODE_DIR: indicators published by the node itself.
local_count() { sq "$1/store.db" 'select count(*) from indicator where from_pid is null'; }

# ft_seed: a seed for $RANDOM, from $FT_SEED (to replay a run) or the clock.
ft_seed() {
    FT_SEED=${FT_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
    RANDOM=$FT_SEED
    note "random seed $FT_SEED (FT_SEED=$FT_SEED to run the same schedule again)"
}

# rand_ms MIN MAX: a number of milliseconds in [MIN, MAX] from $RANDOM.
rand_ms() { echo $(( $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1) )); }

# sleep_ms MS
sleep_ms() { sleep "$(printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )))"; }

# elapsed_since START_S: seconds since START_S (date +%s).
elapsed_since() { echo $(( $(date +%s) - $1 )); }

# expected_set CSV OUT: the sorted "type|value" lines a feed file publishes
# (the feeds of these tests hold values already in normalised form).
expected_set() { awk -F, '!/^#/ && NF { print $1 "|" $2 }' "$1" | LC_ALL=C sort > "$2"; }

# check_exactly_once NODE_DIR FROM_AGENCY EXPECTED_SORTED: compares what the
# node stored as received from FROM_AGENCY with the expected set. Sets
# RECEIVED (rows), DISTINCT (distinct type|value), DUPLICATES (rows beyond
# the first of a value, plus ids held twice), MISSING and EXTRA (values
# expected and not held, held and not expected). Returns 0 if they match
# exactly; writes samples of any difference to stderr.
check_exactly_once() {
    local node=$1 from=$2 expected=$3 got
    got=$(mktemp "$WORK/got.XXXXXX")
    sq "$node/store.db" "select type || '|' || value from indicator where from_pid =
        (select pid from partner where agency = '$from')" | LC_ALL=C sort > "$got"
    RECEIVED=$(wc -l < "$got")
    DISTINCT=$(uniq < "$got" | wc -l)
    local ids; ids=$(sq "$node/store.db" "select count(distinct id) from indicator where from_pid =
        (select pid from partner where agency = '$from')")
    DUPLICATES=$(( RECEIVED - DISTINCT + RECEIVED - ids ))
    MISSING=$(uniq < "$got" | LC_ALL=C comm -23 "$expected" - | wc -l)
    EXTRA=$(uniq < "$got" | LC_ALL=C comm -13 "$expected" - | wc -l)
    if [ "$DUPLICATES" -ne 0 ]; then
        echo "values stored more than once (first 5):" >&2; uniq -d "$got" | head -5 >&2
    fi
    if [ "$MISSING" -ne 0 ]; then
        echo "values missing (first 5):" >&2
        uniq < "$got" | LC_ALL=C comm -23 "$expected" - | head -5 >&2
    fi
    if [ "$EXTRA" -ne 0 ]; then
        echo "values not published (first 5):" >&2
        uniq < "$got" | LC_ALL=C comm -13 "$expected" - | head -5 >&2
    fi
    [ "$DUPLICATES" -eq 0 ] && [ "$MISSING" -eq 0 ] && [ "$EXTRA" -eq 0 ] &&
        [ "$RECEIVED" -eq "$(wc -l < "$expected")" ]
}

# unbacked_receipts SENDER_DIR SENDER RECEIVER_DIR RECEIVER: receipts the
# sender holds from the receiver for batches the receiver has not stored
# (it must commit a batch before it receipts it): 0 when all is well.
unbacked_receipts() {
    sqlite3 -readonly -cmd '.timeout 5000' "$3/store.db" "attach '$1/store.db' as s;
        select count(*) from s.receipt r join s.partner p on p.pid = r.pid and p.agency = '$4'
        where not exists (select 1 from main.inbound i join main.partner q on q.pid = i.pid
                          and q.agency = '$2' where i.message_id = r.message_id)"
}

# wait_delivered SECONDS SENDER_DIR SENDER RECEIVER_DIR N: until the
# receiver holds N items from the sender and the sender's outbox is empty;
# then a second more, so that anything still in flight would show up as a
# duplicate.
wait_delivered() {
    wait_for "$1" "all $5 items at $(basename "$4") and $3's outbox empty" \
        "[ \"\$(from_count '$4' '$3')\" -ge $5 ] && [ \"\$(outbox_count '$2')\" -eq 0 ]"
    sleep 1
}

# orphans SENDER_DIR SENDER RECEIVER_DIR: items the receiver holds from the
# sender under ids the sender does not hold (which it could never update or
# withdraw): 0 when all is well.
orphans() {
    sqlite3 -readonly -cmd '.timeout 5000' "$3/store.db" "attach '$1/store.db' as s;
        select count(*) from main.indicator i join main.partner p on p.pid = i.from_pid
        and p.agency = '$2' where not exists (select 1 from s.indicator j where j.id = i.id)"
}

# daemon_pid NODE_DIR: the pid of its running mouxd, or nothing.
daemon_pid() {
    local pid
    pid=$(cat "$1/mouxd.pid" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# cli_retrying NODE_DIR DEADLINE_S LOG MARK DONE MOUX_ARGS...: runs
# `moux MOUX_ARGS...` against NODE_DIR, and again whenever the attempt fails
# (the node is down, or was killed while it handled the request) until it
# succeeds or the deadline (date +%s) passes. While an attempt runs,
# $WORK/MARK exists. DONE, unless empty, is a command telling whether a
# failed attempt's work was done after all (the node committed it and died
# before answering, and doing it again is refused); it is asked once the
# node answers again, so that it reads the store the restart recovered,
# never the one a dead node left before its power cut was applied. A CLI whose node died
# under it would wait for its answer for two minutes: it is stopped as soon
# as that daemon's pid is gone. Prints the number of failed attempts;
# returns 1 if the request never went through.
cli_retrying() {
    local node=$1 deadline=$2 log=$3 mark=$4 done=$5 fails=0 pid cli rc
    shift 5
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if ! pid=$(daemon_pid "$node") || ! ctl_up "$node"; then
            sleep 0.1
            continue
        fi
        if [ $fails -gt 0 ] && [ -n "$done" ] && $done; then
            echo "$fails"
            return 0
        fi
        touch "$WORK/$mark"
        "$MOUX" "$@" >>"$log" 2>&1 &
        cli=$!
        echo "$cli" > "$WORK/cli.pid"
        while kill -0 "$cli" 2>/dev/null; do
            if ! kill -0 "$pid" 2>/dev/null; then
                sleep 0.3 # its answer may be on the way
                kill "$cli" 2>/dev/null || true
                break
            fi
            sleep 0.05
        done
        rc=0; wait "$cli" || rc=$?
        rm -f "$WORK/$mark"
        if [ "$rc" -eq 0 ]; then
            echo "$fails"
            return 0
        fi
        fails=$((fails + 1))
        echo "attempt $fails of moux $* failed (exit $rc)" >>"$log"
        sleep 0.2
    done
    echo "$fails"
    return 1
}

# publish_retrying NODE_DIR FILE DEADLINE_S LOG: publishes FILE with
# cli_retrying ($WORK/publishing marks an attempt). Republishing the same
# (type, value, tlp) is "unchanged": it creates nothing.
publish_retrying() {
    cli_retrying "$1" "$3" "$4" publishing "" publish -d "$1" --file "$2"
}

# ctl_up NODE_DIR: the node answers on its control socket.
ctl_up() { "$MOUX" status -d "$1" --json 2>/dev/null | jq -e '.running == true' >/dev/null; }

# start_only NODE_DIR: starts its mouxd as deploy/cluster does (same log and
# pid files) but waits only until it answers, not for its links: for a node
# whose partner is down.
start_only() {
    "$MOUX_BIN/mouxd" -d "$1" >>"$1/mouxd.log" 2>&1 </dev/null &
    echo $! > "$1/mouxd.pid"
    wait_for 15 "$1 to answer on its control socket" "ctl_up '$1'"
}
