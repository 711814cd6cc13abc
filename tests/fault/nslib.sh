# shellcheck shell=bash
# Shared by the network fault tests: sourced after faultlib.sh, never run.
# Two nodes, each in a network namespace this test creates, joined by one
# veth pair: NODE_A (vn.ais) at 10.200.0.1 in $NS_A, NODE_B (us.cisa) at
# 10.200.0.2 in $NS_B, a /30 between them. Nothing outside these two
# namespaces is touched: the veth pair is created inside $NS_A with its peer
# end moved straight into $NS_B, and the namespaces are deleted at exit
# (after their daemons are stopped), whatever the outcome. The moux CLI runs
# outside: it reaches each daemon over the ipc control socket in its node
# directory, which a network namespace does not hide.

command -v ip >/dev/null || skip "iproute2 (ip) is not installed"

NS_A=moux-ft-$$-a
NS_B=moux-ft-$$-b
IF_A=veth-a
IF_B=veth-b
IP_A=10.200.0.1
IP_B=10.200.0.2
PORT=7101
A=vn.ais
B=us.cisa
AD=$WORK/$A
BD=$WORK/$B
NS_MADE=()

ns_teardown() {
    "$CLUSTER" down "$WORK" >/dev/null 2>&1 || true # daemons first
    local ns p
    for ns in "${NS_MADE[@]}"; do
        # Only processes this test started can be in its namespaces.
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || echo "cannot delete network namespace $ns" >&2
    done
}
FT_HOOKS+=("ns_teardown")

# ns_setup: the namespaces, the veth pair and the addresses; exit 77 if this
# machine does not let us create them.
ns_setup() {
    local err
    err=$(ip netns add "$NS_A" 2>&1) || skip "cannot create a network namespace (ip netns add: $err)"
    NS_MADE+=("$NS_A")
    err=$(ip netns add "$NS_B" 2>&1) || skip "cannot create a second network namespace ($err)"
    NS_MADE+=("$NS_B")
    err=$(ip -n "$NS_A" link add "$IF_A" type veth peer name "$IF_B" netns "$NS_B" 2>&1) \
        || skip "cannot create a veth pair inside a namespace ($err)"
    ip -n "$NS_A" addr add "$IP_A/30" dev "$IF_A"
    ip -n "$NS_B" addr add "$IP_B/30" dev "$IF_B"
    local ns
    for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_A" link set "$IF_A" up
    ip -n "$NS_B" link set "$IF_B" up
    wait_for 10 "the veth link to come up" 'veth_up'
}

# veth_up: both ends have carrier.
veth_up() {
    ip -n "$NS_A" link show "$IF_A" | grep -q LOWER_UP &&
        ip -n "$NS_B" link show "$IF_B" | grep -q LOWER_UP
}

# ns_start DIR NS: runs mouxd for DIR inside NS, as deploy/cluster would.
# (ip netns exec execs the daemon: $! is the daemon's pid.)
ns_start() {
    local dir=$1 ns=$2
    ip netns exec "$ns" "$MOUX_BIN/mouxd" -d "$dir" >>"$dir/mouxd.log" 2>&1 </dev/null &
    echo $! > "$dir/mouxd.pid"
}

# ns_nodes: keys, nodes and the bundle exchange done by hand as
# deploy/cluster does it (root key, init --root, bundle), the two paired by
# deploy/cluster under a generated, signed MOU, then both daemons, each
# in its namespace, and a bounded wait for both links.
ns_nodes() {
    local a ip
    for a in $A $B; do
        [ $a = $A ] && ip=$IP_A || ip=$IP_B
        "$MOUX" keys root-gen --out "$WORK/$a.root" --no-passphrase >/dev/null 2>&1 \
            || fail "$a: cannot create a root key"
        "$MOUX" init -d "$WORK/$a" --agency $a --listen "tcp://$ip:$PORT" \
            --root "$WORK/$a.root" >/dev/null || fail "$a: moux init failed"
        "$MOUX" bundle -d "$WORK/$a" > "$WORK/$a.bundle"
    done
    "$CLUSTER" pair "$WORK" $A $B || fail "pairing $A and $B under an MOU failed"
    ns_start "$AD" "$NS_A"
    ns_start "$BD" "$NS_B"
    "$MOUX" wait -d "$AD" --timeout 30 >/dev/null || fail "$A: link to $B not up"
    "$MOUX" wait -d "$BD" --timeout 30 >/dev/null || fail "$B: link to $A not up"
    # The daemons really live in the namespaces.
    ip netns pids "$NS_A" | grep -qx "$(cat "$AD/mouxd.pid")" || fail "$A's mouxd is not in $NS_A"
    ip netns pids "$NS_B" | grep -qx "$(cat "$BD/mouxd.pid")" || fail "$B's mouxd is not in $NS_B"
}

# links_up: both nodes report their link to the other up.
links_up() {
    "$MOUX" status -d "$AD" --json | jq -e '.partners[0].link == "up"' >/dev/null &&
        "$MOUX" status -d "$BD" --json | jq -e '.partners[0].link == "up"' >/dev/null
}

# The steady stream: both nodes publish (A IPv4 addresses, B domain names)
# $STREAM_ITEMS items every $STREAM_PAUSE seconds until $WORK/stream.stop
# exists; each published file is appended to $WORK/sent.DIR. A publish that
# fails fails the test: the network faults never touch the control socket.
STREAM_ITEMS=${STREAM_ITEMS:-50}
STREAM_PAUSE=${STREAM_PAUSE:-0.2}
streamer() {
    local dir=$1 kind=$2 i=0 f=$WORK/stream.$2.csv deadline=$(( $(date +%s) + 300 ))
    : > "$WORK/sent.$kind"
    until [ -e "$WORK/stream.stop" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "streamer $kind: no stop after 300 s" >&2; exit 1; }
        awk -v from=$((i * STREAM_ITEMS)) -v n="$STREAM_ITEMS" -v kind="$kind" 'BEGIN {
            for (j = from + 1; j <= from + n; j++)
                if (kind == "ipv4")
                    printf "ipv4-addr,10.%d.%d.%d,green\n", int(j / 65536) % 256, int(j / 256) % 256, j % 256
                else
                    printf "domain-name,n%d.stream.example,green\n", j
        }' > "$f"
        "$MOUX" publish -d "$dir" --file "$f" >>"$WORK/stream.$kind.log" 2>&1 \
            || { echo "streamer $kind: publish failed (see stream.$kind.log)" >&2; exit 1; }
        cat "$f" >> "$WORK/sent.$kind"
        i=$((i + 1))
        sleep "$STREAM_PAUSE"
    done
}

STREAMERS=()
stream_start() {
    rm -f "$WORK/stream.stop"
    streamer "$AD" ipv4 & STREAMERS+=($!); FT_PIDS+=($!)
    streamer "$BD" domain & STREAMERS+=($!); FT_PIDS+=($!)
}

# stream_stop: stops both streamers after their current publish; fails if
# either failed.
stream_stop() {
    touch "$WORK/stream.stop"
    local p rc
    for p in "${STREAMERS[@]}"; do
        rc=0; wait "$p" || rc=$?
        [ $rc -eq 0 ] || fail "a streamer failed (exit $rc)"
    done
    STREAMERS=()
}

# in_flight_done: everything each side published is stored at the other and
# both outboxes are empty.
in_flight_done() {
    [ "$(from_count "$BD" $A)" -ge "$(wc -l < "$WORK/sent.ipv4")" ] &&
        [ "$(from_count "$AD" $B)" -ge "$(wc -l < "$WORK/sent.domain")" ] &&
        [ "$(outbox_count "$AD")" -eq 0 ] && [ "$(outbox_count "$BD")" -eq 0 ]
}

# verify_both: exactly once in both directions. Sets SENT_AB, SENT_BA and
# RECEIVED/DUPLICATES/MISSING/EXTRA sums over both directions, and UNBACKED
# (receipts held for batches the other side never stored); returns 1 on any
# difference.
verify_both() {
    local ok=0
    expected_set "$WORK/sent.ipv4" "$WORK/expected.ab"
    expected_set "$WORK/sent.domain" "$WORK/expected.ba"
    SENT_AB=$(wc -l < "$WORK/sent.ipv4")
    SENT_BA=$(wc -l < "$WORK/sent.domain")
    [ "$(wc -l < "$WORK/expected.ab")" -eq "$SENT_AB" ] || fail "$A's stream repeated a value"
    [ "$(wc -l < "$WORK/expected.ba")" -eq "$SENT_BA" ] || fail "$B's stream repeated a value"
    check_exactly_once "$BD" $A "$WORK/expected.ab" || ok=1
    local r=$RECEIVED d=$DUPLICATES m=$MISSING x=$EXTRA
    check_exactly_once "$AD" $B "$WORK/expected.ba" || ok=1
    RECEIVED=$((RECEIVED + r)); DUPLICATES=$((DUPLICATES + d))
    MISSING=$((MISSING + m)); EXTRA=$((EXTRA + x))
    UNBACKED=$(( $(unbacked_receipts "$AD" $A "$BD" $B) + $(unbacked_receipts "$BD" $B "$AD" $A) ))
    [ "$UNBACKED" -eq 0 ] || { echo "$UNBACKED receipts for batches never stored" >&2; ok=1; }
    return $ok
}
