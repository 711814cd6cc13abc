# Shared by the integration tests: sourced, never run.
# Gives each test its own directory, tears every daemon down in a trap, and
# fails the test if any daemon's log shows a sanitizer report.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MOUX_BIN=${MOUX_BIN:-$ROOT/build/bin}
MOUX=$MOUX_BIN/moux
CLUSTER=$ROOT/deploy/cluster
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/moux-$TEST_NAME.XXXXXX")

fail() { echo "FAIL $TEST_NAME: $*" >&2; exit 1; }
skip() { echo "SKIP $TEST_NAME: $*" >&2; exit 77; }
note() { echo "[$TEST_NAME] $*"; }

s_sanitizer_check() {
    local bad=0 f
    for f in "$WORK"/*/mouxd.log "$WORK"/*.log; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$f"; then
            echo "sanitizer report in $f:" >&2; grep -A20 -E 'Sanitizer|runtime error' "$f" | head -40 >&2
            bad=1
        fi
    done
    return $bad
}

s_cleanup() {
    local rc=$?
    "$CLUSTER" down "$WORK" >/dev/null 2>&1 || true
    s_sanitizer_check || rc=1
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "--- daemon logs ($WORK) ---" >&2
        for f in "$WORK"/*/mouxd.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }; done
    fi
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
    exit $rc
}
trap s_cleanup EXIT

# wait_for SECONDS DESCRIPTION 'CONDITION': polls (every 50 ms) until the
# shell condition succeeds; fails the test after SECONDS. The condition is
# one string, evaluated afresh on every poll: single-quote it so that any
# $(...) inside runs each time, not once at the call.
wait_for() {
    [ $# -eq 3 ] || fail "wait_for takes SECONDS DESCRIPTION 'CONDITION'"
    local secs=$1 what=$2 cond=$3
    local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    until eval "$cond" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.05
    done
}

# count_where DIR JQ-FILTER: number of stored indicators matching a jq filter.
count_where() {
    "$MOUX" query -d "$1" --json | jq -c "select($2)" | wc -l
}

# impostor_pair 'CONFIG LINES': vn.ais (its moux.conf extended with the
# lines) and us.cisa up, then us.cisa's daemon stopped, for mouxreceiver to
# answer in its place ($RECEIVER); S is vn.ais's directory, and queued
# (defined here, for the tests that call this) counts what vn.ais holds for
# us.cisa.
impostor_pair() {
    RECEIVER=$MOUX_BIN/mouxreceiver
    [ -x "$RECEIVER" ] || fail "$RECEIVER is not built"
    command -v jq >/dev/null || skip "jq is not installed"
    command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"
    local a
    for a in vn.ais us.cisa; do
        "$MOUX" init -d "$WORK/$a" --agency $a --listen tcp://127.0.0.1:0 >/dev/null
    done
    printf '%s\n' "$1" >> "$WORK/vn.ais/moux.conf"
    "$CLUSTER" up "$WORK" vn.ais us.cisa >/dev/null
    "$CLUSTER" stop "$WORK" us.cisa
    S=$WORK/vn.ais
    queued() { sqlite3 "$S/store.db" "select count(*) from outbox o join partner p on p.pid = o.pid where p.agency = 'us.cisa'"; }
}

# seen_before_rotation NODE SET OUT: NODE as a partner that missed its last
# rotation still sees it, for mouxhostile --to OUT: the encryption key of
# the retired key set SET, with the current signing and transport keys (the
# node answers with those, and the old transport connection is gone).
seen_before_rotation() {
    mkdir -p "$3/keys"
    cp "$1/moux.conf" "$3/"
    cp "$1"/keys/{sign,curve}.pub "$3/keys/"
    cp "$2/keys/enc.pub" "$3/keys/"
}

# node_copy NODE OUT: NODE's configuration, keys and a consistent copy of its
# store, for mouxhostile --as OUT while NODE's own daemon runs.
node_copy() {
    mkdir -p "$2/keys"
    cp "$1/moux.conf" "$2/"
    cp "$1"/keys/*.{pub,sec} "$2/keys/"
    sqlite3 "$1/store.db" ".backup '$2/store.db'"
}
