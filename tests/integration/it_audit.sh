#!/usr/bin/env bash
# The audit log with real daemons (docs/AUDIT.md):
#  (a) after an exchange `moux audit verify` is intact at both nodes;
#  (b) with a node stopped, one row of its audit table edited, deleted or
#      reordered with sqlite3: verify exits 1 and names the entry;
#  (c) an inclusion proof checks VALID with nothing but the proof file and
#      the agency's root fingerprint (node directory moved away, another
#      working directory, empty environment), and is refused with another
#      agency's fingerprint or when the file is tampered with;
#  (d) a.example's checkpoint is witnessed by b.example; a.example's
#      database is then rewritten consistently (entry and leaf) while it is
#      stopped; its next checkpoint is inconsistent with the witnessed one:
#      b.example reports it, and a.example's own verify names the range.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
command -v python3 >/dev/null || skip "python3 not installed"

A=a.example B=b.example
DA=$WORK/$A DB=$WORK/$B
"$CLUSTER" up "$WORK" $A $B >/dev/null
FP_A=$("$MOUX" bundle -d "$DA" --fingerprint)
FP_B=$("$MOUX" bundle -d "$DB" --fingerprint)

q() { sqlite3 "$1/store.db" "$2"; }
log_size() { q "$1" 'select count(*) from audit'; }
cp_size() { q "$1" 'select coalesce(max(size), 0) from checkpoint'; }
outbox() { "$MOUX" status -d "${1:-$DA}" --json | jq '.partners[0].outbox'; }
shares() { q "${1:-$DA}" "select count(*) from audit where kind='share'"; }
# a's newest checkpoint is countersigned by b, and b holds it as witnessed.
witnessed() {
    local s; s=$(cp_size "$DA")
    [ "$s" -gt 0 ] &&
    [ "$(q "$DA" "select coalesce(max(size), 0) from countersig where partner='$B'")" = "$s" ] &&
    [ "$(q "$DB" "select size from witnessed where partner='$A'")" = "$s" ]
}
# verify DIR: runs moux audit verify, keeping its output in $WORK/verify.out
# and its exit code in $vrc.
verify() { vrc=0; "$MOUX" audit verify -d "$1" > "$WORK/verify.out" 2>&1 || vrc=$?; }

# ---- (a) an exchange; both logs intact ----
for i in 1 2 3 4 5; do
    "$MOUX" publish -d "$DA" --type ipv4-addr --value "192.0.2.$i" --tlp green >/dev/null
    # One batch (one share entry at a, one receipt entry at b) each.
    wait_for 5 "share $i at $A" '[ "$(shares)" -ge '"$i"' ]'
done
"$MOUX" publish -d "$DB" --type domain-name --value bad.example.org --tlp amber >/dev/null
wait_for 5 "item at $A" '[ "$(count_where "$DA" ".value==\"bad.example.org\"")" = 1 ]'
# Both receipts applied: nothing more is appended until the next action.
wait_for 5 "share at $B" '[ "$(shares "$DB")" = 1 ]'
wait_for 5 "outboxes empty" '[ "$(outbox)" = 0 ] && [ "$(outbox "$DB")" = 0 ]'
for d in "$DA" "$DB"; do
    "$MOUX" audit checkpoint -d "$d" | grep -q 'checkpoint of the audit log at size' \
        || fail "$d: moux audit checkpoint"
    [ "$(cp_size "$d")" = "$(log_size "$d")" ] || fail "$d: the checkpoint does not cover the log"
done
wait_for 5 "$A's checkpoint witnessed by $B" witnessed
for d in "$DA" "$DB"; do
    verify "$d"
    [ $vrc = 0 ] && grep -q "$(log_size "$d") entries, .* signed checkpoint(s): intact" \
        "$WORK/verify.out" || { cat "$WORK/verify.out" >&2; fail "$d: not intact (exit $vrc)"; }
    "$MOUX" audit verify -d "$d" --json |
        jq -e --argjson n "$(log_size "$d")" '.intact == true and .entries == $n and
            .problems == [] and .checkpoints >= 1' >/dev/null || fail "$d: verify --json"
done
# The receipt entry at b is the one b's receipt named: a's share entry says so.
[ "$(q "$DB" "select count(*) from audit where kind='receipt' and partner='$A'")" -ge 5 ] \
    || fail "$B: receipt entries"
pe=$(q "$DA" "select json_extract(detail, '$.partner_entry') from audit where kind='share' limit 1")
[ "$(q "$DB" "select kind from audit where idx = $pe - 1")" = receipt ] \
    || fail "$A's share entry names entry $((pe - 1)) of $B's log, not a receipt"
note "(a) both logs intact: $A $(log_size "$DA") entries, $B $(log_size "$DB") entries"

# ---- (b) one row altered at a stopped node: verify names it ----
"$CLUSTER" stop "$WORK" $B
q "$DB" 'pragma wal_checkpoint(truncate)' >/dev/null
cp "$DB/store.db" "$WORK/b-store.db.bak"
restore_b() { cp "$WORK/b-store.db.bak" "$DB/store.db"; rm -f "$DB/store.db-wal" "$DB/store.db-shm"; }
N=2 # an entry in the middle of b's log
[ "$(log_size "$DB")" -gt $((N + 2)) ] || fail "$B's log is too short"
# expect_named WHAT PATTERN: verify exits 1 and names entry N with PATTERN.
expect_named() {
    verify "$DB"
    [ $vrc = 1 ] || { cat "$WORK/verify.out" >&2; fail "$1: verify exited $vrc, not 1"; }
    grep -qE "^  entry $N: $2" "$WORK/verify.out" \
        || { cat "$WORK/verify.out" >&2; fail "$1: verify did not name entry $N"; }
    grep -q 'PROBLEM(S): the log was altered' "$WORK/verify.out" || fail "$1: no summary"
    { "$MOUX" audit verify -d "$DB" --json || true; } |
        jq -e --argjson n $N '.intact == false and any(.problems[]; .entry == $n)' >/dev/null \
        || fail "$1: verify --json does not name entry $N"
}
q "$DB" "update audit set partner = 'evil.example' where idx = $N"
expect_named "a column edited" 'its columns were changed'
restore_b
q "$DB" "delete from audit where idx = $N"
expect_named "a row deleted" "missing: deleted \(entries $N to $N are gone\)"
restore_b
q "$DB" "update audit set idx = -1 where idx = $N; update audit set idx = $N where idx = $((N + 1));
         update audit set idx = $((N + 1)) where idx = -1"
expect_named "two rows reordered" 'it names another index'
grep -qE "^  entry $((N + 1)): it names another index" "$WORK/verify.out" \
    || fail "reordered: entry $((N + 1)) not named"
restore_b
verify "$DB"
[ $vrc = 0 ] || fail "$B: not intact after restoring the backup"
"$CLUSTER" start "$WORK" $B
note "(b) edited, deleted and reordered rows each named by verify"

# ---- (c) an inclusion proof checked with the fingerprint alone ----
P=$(q "$DA" "select min(idx) from audit where kind='share'")
entry_p=$(q "$DA" "select cast(entry as text) from audit where idx = $P")
"$MOUX" audit prove -d "$DA" "$P" --out "$WORK/proof.json" | grep -q "inclusion proof of entry $P" \
    || fail "moux audit prove"
jq -e --argjson p "$P" --arg e "$entry_p" '.format == "moux-audit-proof 1" and
    .agency == "a.example" and .index == $p and .entry == $e and (.inclusion | length) >= 1' \
    "$WORK/proof.json" >/dev/null || fail "proof file fields"
"$CLUSTER" stop "$WORK" $A
mv "$DA" "$WORK/moved-away"
mkdir -p "$WORK/auditor/home"
cp "$WORK/proof.json" "$WORK/auditor/"
# check ARGS...: moux audit check in the auditor's directory, empty environment.
check() { (cd "$WORK/auditor" && env -i HOME="$WORK/auditor/home" PATH=/usr/bin:/bin "$MOUX" audit check "$@"); }
out=$(check proof.json --root-fp "$FP_A") || fail "valid proof refused: $out"
case "$out" in "VALID: entry $P is in the audit log of $A "*) ;; *) fail "check said: $out" ;; esac
check proof.json --root-fp "$FP_A" --json |
    jq -e --argjson p "$P" --arg e "$entry_p" '.valid == true and .agency == "a.example" and
        .index == $p and .entry == $e' >/dev/null || fail "check --json"
# Another agency's fingerprint.
if out=$(check proof.json --root-fp "$FP_B" 2>&1); then fail "accepted with $B's fingerprint"; fi
case "$out" in *INVALID*"not the root with this fingerprint"*) ;; *) fail "wrong fp: $out" ;; esac
# The entry changed (what was shared), a path hash changed, another index.
jq '.entry |= sub("\"accepted\":1"; "\"accepted\":0")' "$WORK/auditor/proof.json" \
    > "$WORK/auditor/entry.json"
cmp -s "$WORK/auditor/proof.json" "$WORK/auditor/entry.json" && fail "entry not tampered"
jq '.inclusion[0] |= (if startswith("A") then "B" else "A" end) + .[1:]' \
    "$WORK/auditor/proof.json" > "$WORK/auditor/path.json"
jq '.index += 1' "$WORK/auditor/proof.json" > "$WORK/auditor/index.json"
for t in entry path index; do
    if out=$(check "$t.json" --root-fp "$FP_A" 2>&1); then fail "tampered $t accepted: $out"; fi
    case "$out" in *"INVALID: entry "*" is not in the log of size "*) ;;
        *) fail "tampered $t: $out" ;; esac
done
# A byte of the checkpoint's signature flipped.
python3 - "$WORK/auditor/proof.json" "$WORK/auditor/cp.json" <<'PY'
import base64, json, sys
p = json.load(open(sys.argv[1]))
cp = bytearray(base64.b64decode(p["checkpoint"]))
cp[-1] ^= 1
p["checkpoint"] = base64.b64encode(bytes(cp)).decode()
json.dump(p, open(sys.argv[2], "w"))
PY
if out=$(check cp.json --root-fp "$FP_A" 2>&1); then fail "tampered checkpoint accepted"; fi
case "$out" in *"INVALID: the checkpoint is not signed by the certified key"*) ;;
    *) fail "tampered checkpoint: $out" ;; esac
mv "$WORK/moved-away" "$DA"
"$CLUSTER" start "$WORK" $A
note "(c) proof of entry $P VALID with the file and $A's fingerprint only; refused otherwise"

# ---- (d) a rewritten log is caught by its witness ----
"$MOUX" audit checkpoint -d "$DA" >/dev/null
wait_for 10 "$A's newest checkpoint witnessed by $B" witnessed
S1=$(cp_size "$DA")
"$CLUSTER" stop "$WORK" $A
[ "$(log_size "$DA")" = "$S1" ] || note "$A's log grew to $(log_size "$DA") after checkpoint $S1"
T=$P # the share entry proved above: the attacker erases what was shared
[ "$T" -lt "$S1" ] || fail "entry $T is not under the witnessed checkpoint $S1"
# As an attacker with database access: entry, leaf and columns all agree.
python3 - "$DA/store.db" "$T" <<'PY'
import hashlib, json, sqlite3, sys
db, idx = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
(raw,) = db.execute("select entry from audit where idx = ?", (idx,)).fetchone()
e = json.loads(bytes(raw))
e["detail"]["accepted"] = 0
e["detail"]["items"] = {}
text = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
leaf = hashlib.sha256(b"\x00" + text).digest()
detail = json.dumps(e["detail"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
db.execute("update audit set entry = ?, leaf = ?, detail = ? where idx = ?",
           (text, leaf, detail, idx))
db.commit()
PY
"$CLUSTER" start "$WORK" $A
"$MOUX" publish -d "$DA" --type ipv4-addr --value 198.51.100.7 --tlp green >/dev/null
wait_for 5 "$A's log grew past $S1" '[ "$(log_size "$DA")" -gt "$S1" ]'
"$MOUX" audit checkpoint -d "$DA" >/dev/null
b_alarm() {
    "$MOUX" status -d "$DB" --json | jq -e --arg a $A '
        any(.warnings[]; test("inconsistent")) and
        any(.partners[]; .agency == $a and .witness.inconsistent_checkpoint != null)'
}
wait_for 10 "$B's status warning about $A's checkpoint" b_alarm
"$MOUX" status -d "$DB" --json | jq -r '.warnings[]' | grep -q "partner $A signed an audit checkpoint inconsistent" \
    || fail "$B: warning text"
[ "$(q "$DB" "select count(*) from event where kind='checkpoint-inconsistent' and partner='$A'
      and reason='inconsistent-checkpoint' and detail like 'held size $S1 root %'
      and detail like '%; offered checkpoint %'")" -ge 1 ] \
    || fail "$B: no checkpoint-inconsistent event with the offered checkpoint as evidence"
[ "$(q "$DB" "select size from witnessed where partner='$A'")" = "$S1" ] \
    || fail "$B no longer holds the checkpoint of size $S1 it witnessed"
[ "$(q "$DA" "select coalesce(max(size), 0) from countersig where partner='$B'")" = "$S1" ] \
    || fail "$B countersigned a checkpoint after the rewrite"
told() { [ "$(q "$DA" "select count(*) from event where kind = 'checkpoint-refused-by-partner'
                         and partner = '$B' and reason = 'inconsistent-checkpoint'")" -ge 1 ]; }
wait_for 5 "$A told of the refusal" told
# The warning lives in memory; restarted, the witness holds the checkpoint
# it witnessed and raises it again at the partner's next offer.
"$CLUSTER" stop "$WORK" $B
"$CLUSTER" start "$WORK" $B
wait_for 10 "$B's warning again after a restart" b_alarm
# The witness's own log records it and stays intact.
verify "$DB"
[ $vrc = 0 ] || { cat "$WORK/verify.out" >&2; fail "$B's log not intact"; }
[ "$(q "$DB" "select count(*) from audit where kind='checkpoint-inconsistent'")" -ge 1 ] \
    || fail "$B: no checkpoint-inconsistent audit entry"
# a's own verify: the checkpoint of size S1, signed before the rewrite, no
# longer matches; the range it names contains the rewritten entry.
verify "$DA"
[ $vrc = 1 ] || { cat "$WORK/verify.out" >&2; fail "$A: verify exited $vrc after the rewrite"; }
line=$(grep -E "^  entry [0-9]+: checkpoint of size $S1: the log's root differs: an entry from [0-9]+ to [0-9]+ " \
    "$WORK/verify.out") || { cat "$WORK/verify.out" >&2; fail "$A: no range named"; }
read -r lo hi < <(sed -E 's/.* from ([0-9]+) to ([0-9]+) .*/\1 \2/' <<<"$line")
[ "$lo" -le "$T" ] && [ "$T" -le "$hi" ] || fail "$A: range $lo..$hi does not contain entry $T"
# Entry, leaf and columns agree: no row problem, only the signed root.
grep -qE "^  entry [0-9]+: (it|missing|out of order)" "$WORK/verify.out" \
    && { cat "$WORK/verify.out" >&2; fail "$A: a consistent rewrite flagged as a row problem"; }
note "(d) $B caught $A's rewritten log (entry $T, witnessed size $S1); $A's verify names entries $lo to $hi"
note "ok"
