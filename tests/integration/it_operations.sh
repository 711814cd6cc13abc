#!/usr/bin/env bash
# The operator's side: file permissions, bundle checks, clear errors, one
# daemon per node, clean SIGTERM, SIGHUP reload.
source "$(dirname "$0")/lib.sh"
MOUXD=$MOUX_BIN/mouxd

expect_fail() { # expect_fail PATTERN COMMAND...: must fail and say PATTERN
    local pat=$1; shift; local out
    if out=$("$@" 2>&1); then fail "should have failed: $*"; fi
    grep -qE -- "$pat" <<<"$out" || fail "error for '$*' should match /$pat/, got: $out"
}

# Agency roots (unsealed: test only; real roots are sealed and kept offline).
"$MOUX" keys root-gen --out "$WORK/a.root" --no-passphrase >/dev/null 2>&1
"$MOUX" keys root-gen --out "$WORK/b.root" --no-passphrase >/dev/null 2>&1
[ "$(stat -c %a "$WORK/a.root")" = 600 ] || fail "root key file not 0600"
expect_fail "exists" "$MOUX" keys root-gen --out "$WORK/a.root" --no-passphrase
"$MOUX" init -d "$WORK/a" --agency vn.ais --listen tcp://127.0.0.1:0 --root "$WORK/a.root" >/dev/null
"$MOUX" init -d "$WORK/b" --agency us.cisa --listen tcp://127.0.0.1:0 >/dev/null
# An uncertified node does not run, and says what to do.
expect_fail "not certified\\? run: moux keys certify" "$MOUX_BIN/mouxd" -d "$WORK/b"
"$MOUX" keys certify -d "$WORK/b" --root "$WORK/b.root" >/dev/null
# Certifying with another agency's root is refused, and costs nothing.
expect_fail "holds another root key" "$MOUX" keys certify -d "$WORK/b" --root "$WORK/a.root"
"$MOUX" keys certify -d "$WORK/b" --root "$WORK/b.root" >/dev/null
"$MOUX" keys show -d "$WORK/b" --json | jq -e '.certificate.serial == 2' >/dev/null \
    || fail "re-certification should have issued serial 2"
[ "$(stat -c %a "$WORK/a")" = 700 ] || fail "node directory not 0700"
for f in sign enc curve; do
    [ "$(stat -c %a "$WORK/a/keys/$f.sec")" = 600 ] || fail "$f.sec not 0600"
done
[ "$(stat -c %a "$WORK/a/moux.conf")" = 600 ] || fail "moux.conf not 0600"
expect_fail "already a node directory" "$MOUX" init -d "$WORK/a" --agency vn.ais --listen tcp://127.0.0.1:0
expect_fail "agency" "$MOUX" init -d "$WORK/c" --agency "Bad Agency" --listen tcp://127.0.0.1:0

"$MOUX" bundle -d "$WORK/a" > "$WORK/a.bundle"
"$MOUX" bundle -d "$WORK/b" > "$WORK/b.bundle"
fa=$("$MOUX" bundle -d "$WORK/a" --fingerprint)
fb=$("$MOUX" bundle -d "$WORK/b" --fingerprint)

# A wrong fingerprint, a tampered bundle, another root's bundle, our own
# bundle: refused, saying why.
expect_fail "root fingerprint mismatch" "$MOUX" peer add -d "$WORK/a" "$WORK/b.bundle" --fingerprint "$fa"
sed 's/^endpoint tcp:\/\/127.0.0.1:/endpoint tcp:\/\/127.0.0.2:/' "$WORK/b.bundle" > "$WORK/evil.bundle"
expect_fail "evil.bundle:7: certificate: certificate names another endpoint" \
    "$MOUX" peer add -d "$WORK/a" "$WORK/evil.bundle"
sed "s|^root-key .*|root-key $(sed -n 's/^public //p' "$WORK/a.root")|" "$WORK/b.bundle" > "$WORK/forged.bundle"
expect_fail "forged.bundle:7: certificate: wrong-root" "$MOUX" peer add -d "$WORK/a" "$WORK/forged.bundle"
expect_fail "own bundle" "$MOUX" peer add -d "$WORK/a" "$WORK/a.bundle"
"$MOUX" peer add -d "$WORK/a" "$WORK/b.bundle" --fingerprint "$fb" >/dev/null
expect_fail "already a partner" "$MOUX" peer add -d "$WORK/a" "$WORK/b.bundle" --fingerprint "$fb"
# Re-pinning a partner to another root takes the out-of-band fingerprint.
"$MOUX" init -d "$WORK/b2" --agency us.cisa --listen tcp://127.0.0.1:0 --root "$WORK/a.root" >/dev/null
"$MOUX" bundle -d "$WORK/b2" > "$WORK/b2.bundle"
expect_fail "pinned to root .* needs --fingerprint" "$MOUX" peer add -d "$WORK/a" "$WORK/b2.bundle" --force
"$MOUX" peer list -d "$WORK/a" --json | jq -e --arg fp "$fb" 'select(.agency=="us.cisa" and .fingerprint==$fp)' >/dev/null \
    || fail "peer list does not show us.cisa"

# Publishing needs the running node, and says so.
expect_fail "not running" "$MOUX" publish -d "$WORK/a" --type ipv4-addr --value 192.0.2.1

# A secret key readable by others stops the daemon from starting.
chmod 0644 "$WORK/a/keys/sign.sec"
expect_fail "sign.sec: secret key file is accessible by group or others" "$MOUXD" -d "$WORK/a"
chmod 0600 "$WORK/a/keys/sign.sec"

# One daemon per node directory.
"$MOUXD" -d "$WORK/a" 2>"$WORK/a/mouxd.log" & apid=$!
echo $apid > "$WORK/a/mouxd.pid"
wait_for 5 "daemon a up" \
    '"$MOUX" status -d "$WORK/a" --json'
expect_fail "another mouxd \\(pid $apid\\) is running" "$MOUXD" -d "$WORK/a"

# Bad publish input is refused by line number; the good lines still go in.
printf 'ipv4-addr,192.0.2.1\nipv4-addr,192.0.2.300\nfile:md5,abc\nnot-a-type,x\nurl,"unterminated\ndomain-name,ok.example.com,amber\n' > "$WORK/bad.csv"
out=$("$MOUX" publish -d "$WORK/a" --file "$WORK/bad.csv" 2>&1) && fail "publish with bad lines should exit 1"
for want in "bad.csv:2: ipv4-addr" "bad.csv:3: file:md5" "bad.csv:4: not-a-type" "bad.csv:5: unterminated" \
            "published 2: 2 new, 0 updated, 0 unchanged, 4 refused"; do
    grep -qF -- "$want" <<<"$out" || fail "publish output lacks '$want': $out"
done
[ "$(sqlite3 "$WORK/a/store.db" "select count(*) from event where kind='publish-refused' and detail like '%bad.csv:_'")" = 4 ] \
    || fail "refused publish lines not recorded in the node's event table"
expect_fail "confidence" "$MOUX" publish -d "$WORK/a" --type ipv4-addr --value 192.0.2.2 --confidence 101
# A file's publish gets a summary answer from the node (counts, and only the
# items not stored new): the same lines again are unchanged, a new TLP is an
# update, a new line is new.
printf 'ipv4-addr,192.0.2.1
domain-name,ok.example.com,green
ipv4-addr,192.0.2.3
' > "$WORK/again.csv"
out=$("$MOUX" publish -d "$WORK/a" --file "$WORK/again.csv" 2>&1) || fail "republish failed: $out"
grep -qF "published 3: 1 new, 1 updated, 1 unchanged, 0 refused" <<<"$out" \
    || fail "summary counts wrong: $out"

# Items in a binary second frame (a protobuf Batch, as moux publish sends
# them) are checked like JSON ones; what the node assigns may not be set;
# malformed or misplaced frames are refused by name.
CTL=$MOUX_BIN/mouxctl
ctl_expect() { # ctl_expect JQ_TEST WHAT ARGS...: the answer must pass JQ_TEST
    local test=$1 what=$2 out; shift 2
    out=$("$CTL" "$WORK/a" "$@") || fail "$what: no answer"
    jq -e "$test" <<<"$out" >/dev/null || fail "$what: unexpected answer: $out"
}
ctl_expect '(.results | map(.status)) == ["new", "refused", "refused", "refused"]
            and (.results[1].reason | test("node.s to set"))
            and (.results[2].reason == "unknown TLP")
            and (.results[3].reason | test("not an IPv4 address"))' "binary publish" \
    '{"cmd":"publish"}' --items-pb '[{"type":"ipv4-addr","value":"198.51.100.7","tlp":1,"confidence":80,"labels":["pb"]},
        {"type":"ipv4-addr","value":"198.51.100.8","id":"indicator--00000000-0000-4000-8000-000000000001"},
        {"type":"ipv4-addr","value":"198.51.100.9","tlp":9},
        {"type":"ipv4-addr","value":"198.51.100.300"}]'
[ "$(sqlite3 "$WORK/a/store.db" "select tlp || ',' || confidence || ',' || labels from indicator where value='198.51.100.7'")" = "1,80,pb" ] \
    || fail "binary-published item not stored with its TLP, confidence and label"
# JSON items (what scripts send): the defaults are TLP amber and confidence
# 50; a bad type is named before a bad TLP.
ctl_expect '(.results | map(.status)) == ["new", "refused", "refused"]
            and (.results[1].reason == "unknown TLP")
            and (.results[2].reason == "unknown indicator type")' "JSON publish" \
    '{"cmd":"publish","items":[{"type":"domain-name","value":"json.example","labels":["js"]},
        {"type":"ipv4-addr","value":"198.51.100.20","tlp":"purple"},
        {"type":"nope","value":"x","tlp":"purple"}]}'
[ "$(sqlite3 "$WORK/a/store.db" "select tlp || ',' || confidence || ',' || labels from indicator where value='json.example'")" = "2,50,js" ] \
    || fail "JSON-published item not stored with the default TLP and confidence and its label"
ctl_expect '.ok == false and (.error | test("not a protobuf Batch"))' "malformed protobuf frame" \
    '{"cmd":"publish"}' --body-hex ffffffff0f
ctl_expect '.ok == false and (.error | test("not both"))' "items twice" \
    '{"cmd":"publish","items":[]}' --items-pb '[]'
ctl_expect '.ok == false and (.error | test("takes no second frame"))' "second frame on status" \
    '{"cmd":"status"}' --body-hex 00
ctl_expect '.ok == false and (.error | test("at most two frames"))' "three frames" \
    '{"cmd":"publish"}' --items-pb '[]' --extra-frame

# A refused 20 MiB request (too many items) leaves the daemon at about its
# size before: the parse's memory goes back to the system. Not under
# AddressSanitizer, whose allocator keeps freed memory on purpose.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$apid/status"; }
awk 'BEGIN { printf "{\"cmd\":\"publish\",\"items\":["; pad = sprintf("%900s", ""); gsub(/ /, "x", pad)
             for (i = 0; i < 20000; i++) printf "%s{\"type\":\"domain-name\",\"value\":\"h%d.%s.example\"}", i ? "," : "", i, pad
             print "]}" }' > "$WORK/huge.json"
before=$(rss_kb)
ctl_expect '.ok == false and (.error | test("too many items"))' "20 MiB request" @"$WORK/huge.json"
asan=$(nm -D "$MOUXD" 2>/dev/null | grep -c __asan_init || true) # no grep -q: pipefail and SIGPIPE
if [ "$asan" = 0 ]; then
    settled() { [ "$(rss_kb)" -le $(( before + 8192 )) ]; }
    wait_for 5 "the daemon back near its size before a refused 20 MiB request ($before kB)" settled
fi
# Publish requests refused whole are recorded (the malformed frame, the
# items given twice, the 20 MiB one); misshapen requests are logged.
[ "$(sqlite3 "$WORK/a/store.db" "select count(*) from event where kind='publish-refused' and detail='request'")" = 3 ] \
    || fail "publish requests refused whole not recorded as events"
[ "$(grep -c "CTL-REFUSED" "$WORK/a/mouxd.log")" = 2 ] || fail "misshapen control requests not logged"

# The partner and an MOU with it, added while the node runs, are picked up
# (control "reload"); SIGHUP too. What was published before the MOU stays
# home: nothing flows without one. What is published under it goes.
"$CLUSTER" pair "$WORK" a b >/dev/null || fail "pairing a and b under an MOU failed"
"$MOUXD" -d "$WORK/b" 2>"$WORK/b/mouxd.log" & bpid=$!
echo $bpid > "$WORK/b/mouxd.pid"
wait_for 10 "links up" \
    '"$MOUX" wait -d "$WORK/a" --timeout 1'
"$MOUX" publish -d "$WORK/a" --type ipv4-addr --value 192.0.2.10 >/dev/null
"$MOUX" publish -d "$WORK/a" --type domain-name --value under-mou.example.com >/dev/null
delivered() { [ "$(count_where "$WORK/b" '.from=="vn.ais"')" = 2 ]; }
wait_for 5 "items published under the MOU delivered" delivered
[ "$(count_where "$WORK/b" '.value=="192.0.2.1"')" = 0 ] || fail "an item published before the MOU went"
kill -HUP $apid
wait_for 5 "SIGHUP reload logged" \
    'grep -q "SIGHUP" "$WORK/a/mouxd.log"'
wait_for 10 "links up after reload" \
    '"$MOUX" wait -d "$WORK/a" --timeout 1'

# SIGTERM stops cleanly: exit 0, control socket removed.
kill -TERM $apid
wait $apid || fail "mouxd exited non-zero on SIGTERM"
grep -q "STOPPED: clean shutdown" "$WORK/a/mouxd.log" || fail "no clean shutdown logged"
[ ! -e "$WORK/a/control.sock" ] || fail "control socket left behind"
"$MOUX" status -d "$WORK/a" --json | jq -e '.running == false and .partners[0].link == "down"' >/dev/null \
    || fail "status of a stopped node should say not running"
note "ok"
