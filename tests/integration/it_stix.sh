#!/usr/bin/env bash
# STIX 2.1 in and out (docs/STIX.md), with real daemons: every example
# bundle in ../shared/stix/examples/ imports; imported indicators are found
# by value and reach partners with their STIX id; the exports validate
# against the OASIS schemas (offline) and give back every property; a bad
# object is refused with its id and reason while the rest imports;
# versioning and revocation, including the same id imported at two
# agencies in different versions.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"
STIX=$ROOT/../shared/stix
[ -d "$STIX/examples" ] && [ -d "$STIX/schemas" ] || skip "$STIX (examples, schemas) not found"

# A python3 with jsonschema (Debian: python3-jsonschema, deploy/install-deps).
py=""
find_validator() {
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null && "$p" -c 'import jsonschema' 2>/dev/null; then py=$p; return 0; fi
    done
    return 1
}
find_validator || { "$ROOT/deploy/install-deps" >&2 || true; find_validator; } ||
    skip "no JSON-schema validator: python3-jsonschema cannot be installed here"
validate() { "$py" "$ROOT/tests/integration/stix_validate.py" "$STIX/schemas" "$@"; }

"$CLUSTER" up "$WORK" a.example b.example c.example >/dev/null
A=$WORK/a.example B=$WORK/b.example C=$WORK/c.example

# ---- every example bundle imports ----
for f in "$STIX"/examples/*.json; do
    out=$("$MOUX" publish -d "$A" --stix "$f") || fail "import of $(basename "$f") failed: $out"
    n=$(jq '[.objects[] | select(.type=="indicator")] | length' "$f")
    echo "$out" | grep -q ": $n indicators: $n imported, 0 updated, 0 ignored, 0 refused" ||
        fail "$(basename "$f"): unexpected summary: $out"
done
note "every example bundle imported"
ids=$(jq -r '.objects[] | select(.type=="indicator") | .id' "$STIX"/examples/*.json | sort)
[ "$("$MOUX" query -d "$A" --json | jq -r .id | sort)" = "$ids" ] || fail "imported ids differ"

# Found by the value of their observables; shared ones reach the partners.
[ "$("$MOUX" query -d "$A" --type ipv4-addr --value 10.0.0.0 --json | wc -l)" = 3 ] ||
    fail "query by value does not find the three 10.0.0.0 indicators"
sha=ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c
[ "$("$MOUX" query -d "$A" --type sha256 --value "${sha^^}" --json | jq -r .id)" = \
  indicator--a932fcc6-e032-476c-826f-cb970a5a1ade ] || fail "query by sha256 value"
shared() { [ "$(count_where "$1" '.origin=="a.example"')" = 4 ]; }
wait_for 10 "the 4 shareable indicators at b" "shared $B"
wait_for 10 "the 4 shareable indicators at c" "shared $C"
[ "$("$MOUX" query -d "$C" --type sha256 --value $sha --json | jq -r '.id + " " + .from')" = \
  "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade a.example" ] ||
    fail "c does not hold the imported sha256 with its STIX id"
# The two email-message patterns are kept at a only.
[ "$(count_where "$A" '.type=="stix-pattern"')" = 2 ] || fail "local-only indicators"
[ "$(count_where "$B" '.type=="stix-pattern"')" = 0 ] || fail "a local-only indicator left a"

# ---- export: valid against the OASIS schemas; round trip ----
"$MOUX" export -d "$A" --stix --out "$WORK/a.json"
"$MOUX" export -d "$B" --stix --out "$WORK/b.json"
validate "$WORK/a.json" "$WORK/b.json" || fail "an export does not validate against the schemas"
validate "$STIX"/examples/*.json >/dev/null || fail "the validator refuses the OASIS examples"
# Every property of every imported indicator comes back; the TLP the node
# applied (the default amber, no marking in the examples) is added.
amber=marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421
jq -S -c '.objects[] | select(.type=="indicator")' "$STIX"/examples/*.json | sort > "$WORK/in.jsonl"
jq -S -c --arg m $amber '.objects[] | select(.type=="indicator")
       | if .object_marking_refs == [$m] then del(.object_marking_refs) else . end' \
    "$WORK/a.json" | sort > "$WORK/out.jsonl"
diff "$WORK/in.jsonl" "$WORK/out.jsonl" >&2 || fail "round trip changed an indicator"
# The creator's Identity comes back; b names a.example's, a is not anonymised.
[ "$(jq '[.objects[] | select(.id=="identity--f690c992-8e7d-4b9a-9303-3312616c0220")] | length' "$WORK/a.json")" = 1 ] ||
    fail "the imported Identity is not exported"
[ "$(jq -r '.objects[] | select(.type=="identity") | .name' "$WORK/b.json")" = a.example ] ||
    fail "b's export has no Identity for origin a.example"
[ "$(jq '[.objects[] | select(.type=="marking-definition")] | length' "$WORK/b.json")" = 1 ] ||
    fail "b's export lacks the TLP:AMBER marking definition"
# Filters: --tlp below amber finds nothing; --from local at b nothing.
[ "$("$MOUX" export -d "$A" --stix --tlp green | jq '.objects | length')" = 0 ] || fail "--tlp"
[ "$("$MOUX" export -d "$B" --stix --from a.example | jq '[.objects[] | select(.type=="indicator")] | length')" = 4 ] ||
    fail "--from a.example"

# ---- a bad object is refused with its id and reason; the rest imports ----
obj() { # ID MODIFIED PATTERN [EXTRA-JSON]
    jq -n -c --arg id "$1" --arg m "$2" --arg p "$3" --argjson x "${4:-{\}}" '{type: "indicator",
        spec_version: "2.1", id: $id, created: "2024-01-01T00:00:00.000Z", modified: $m,
        pattern: $p, pattern_type: "stix", valid_from: "2024-01-01T00:00:00Z",
        name: "moux test"} + $x'
}
bundle() { jq -n -c --slurpfile o /dev/stdin '{type: "bundle", id: "bundle--0b9b4a3e-9cfb-4b8e-a6b2-5d1d1d2f2a31", objects: $o}'; }
X=indicator--6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b
BAD=indicator--00000000-1111-4222-8333-444444444444
green='{"object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}'
{ obj $BAD 2024-01-01T00:00:00.000Z "[ipv4-addr:value = '192.0.2.1'"
  obj $X 2024-02-01T00:00:00.000Z "[domain-name:value = 'x.example.org'] AND [ipv4-addr:value = '192.0.2.77']" "$green"
} | bundle > "$WORK/v1.json"
if "$MOUX" publish -d "$A" --stix "$WORK/v1.json" >"$WORK/out" 2>"$WORK/err"; then
    fail "a bundle with a refused object should exit 1"
fi
grep -q "$BAD: refused: invalid pattern: at 30: expected" "$WORK/err" || fail "refusal not named: $(cat "$WORK/err")"
grep -q "2 indicators: 1 imported, 0 updated, 0 ignored, 1 refused" "$WORK/out" || fail "summary: $(cat "$WORK/out")"
[ "$(sqlite3 "$A/store.db" "select count(*) from event where kind='publish-refused' and detail like '%$BAD%' and reason like 'invalid pattern%'")" = 1 ] ||
    fail "the refusal is not in the event table"

# ---- versions: the same id at two agencies ----
# X (modified Feb) came from a; c holds a's version. b then imports X with a
# later modified: it is b's own indicator now, but every partner already
# holds X from elsewhere and refuses b's version as id-conflict.
xat() { "$MOUX" query -d "$1" --json | jq -r --arg id $X 'select(.id==$id) | .modified + " " + (.from // "local") + " " + .tlp'; }
wait_for 10 "X at c from a" '[ "$(xat $C)" = "2024-02-01T00:00:00.000Z a.example green" ]'
wait_for 10 "X at b from a" '[ "$(xat $B)" = "2024-02-01T00:00:00.000Z a.example green" ]'
obj $X 2024-03-01T00:00:00.000Z "[domain-name:value = 'x.example.org']" | bundle > "$WORK/vb.json"
out=$("$MOUX" publish -d "$B" --stix "$WORK/vb.json" 2>&1) && fail "b versioned an id it received from a: $out"
echo "$out" | grep -q "$X: refused by the node: id-conflict" || fail "b: $out"
# A fresh id imported at a and at b in different versions, each before it
# heard of the other's: each keeps its own, refuses the other's (id-conflict);
# c, down meanwhile, stores the first version to arrive and refuses the other.
E=indicator--8b1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b
obj $E 2024-02-01T00:00:00.000Z "[ipv4-addr:value = '198.51.100.30']" "$green" | bundle > "$WORK/ea.json"
obj $E 2024-06-01T00:00:00.000Z "[ipv4-addr:value = '198.51.100.30']" "$green" | bundle > "$WORK/eb.json"
run_alone() { # start a stopped node without waiting for its links
    local node=$1
    "$MOUX_BIN/mouxd" -d "$node" >>"$node/mouxd.log" 2>&1 </dev/null &
    echo $! > "$node/mouxd.pid"
    wait_for 10 "$node answering" '[ -S "$node/control.sock" ] && "$MOUX" status -d "$node" --json | jq -e .started'
}
"$CLUSTER" stop "$WORK" b.example
"$CLUSTER" stop "$WORK" c.example
"$MOUX" publish -d "$A" --stix "$WORK/ea.json" >/dev/null
"$CLUSTER" stop "$WORK" a.example
run_alone "$B"
"$MOUX" publish -d "$B" --stix "$WORK/eb.json" >/dev/null
run_alone "$A"
"$CLUSTER" start "$WORK" c.example >/dev/null
eat() { "$MOUX" query -d "$1" --json | jq -r --arg id $E 'select(.id==$id) | .modified + " " + (.from // "local")'; }
[ "$(eat $A)" = "2024-02-01T00:00:00.000Z local" ] || fail "a should hold its own version of E: $(eat $A)"
[ "$(eat $B)" = "2024-06-01T00:00:00.000Z local" ] || fail "b should hold its own version of E: $(eat $B)"
idc() { sqlite3 "$1/store.db" "select count(*) from event where kind='item-refused' and partner='$2' and indicator_id='$E' and reason='id-conflict'"; }
wait_for 20 "a refuses b's E" '[ "$(idc $A b.example)" -ge 1 ]'
wait_for 20 "b refuses a's E" '[ "$(idc $B a.example)" -ge 1 ]'
wait_for 20 "E at c" '[ -n "$(eat $C)" ]'
wait_for 20 "c refuses the other version of E" \
    '[ $(( $(idc $C a.example) + $(idc $C b.example) )) -ge 1 ]'
first=$(eat $C | cut -d' ' -f2)
other=$([ "$first" = a.example ] && echo b.example || echo a.example)
[ "$(idc $C "$other")" -ge 1 ] && [ "$(idc $C "$first")" = 0 ] ||
    fail "c: E from $first stored, the version from $other should be refused id-conflict"
[ "$(eat $A)" = "2024-02-01T00:00:00.000Z local" ] && [ "$(eat $B)" = "2024-06-01T00:00:00.000Z local" ] ||
    fail "a or b gave up its own version of E"
note "E: a holds 2024-02, b holds 2024-06, c holds $(eat $C); c refused $other's (id-conflict)"

# ---- versioning at one node, and revocation ----
v() { obj $X "$1" "[domain-name:value = 'x.example.org'] AND [ipv4-addr:value = '192.0.2.77']" "$2" | bundle > "$WORK/v.json"
      "$MOUX" publish -d "$A" --stix "$WORK/v.json" 2>&1 || true; }
out=$(v 2024-01-15T00:00:00.000Z "$green");  echo "$out" | grep -q "0 imported, 0 updated, 1 ignored, 0 refused" || fail "older: $out"
echo "$out" | grep -q "ignored: older than the version held" || fail "older reason: $out"
out=$(v 2024-02-01T00:00:00.000Z "$green");  echo "$out" | grep -q "1 ignored" || fail "same version: $out"
out=$(v 2024-02-01T00:00:00.000Z '{"object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"], "confidence": 99}')
echo "$out" | grep -q "$X: refused by the node: same modified as the version held but different content" ||
    fail "equal modified, other content: $out"
out=$(v 2024-02-01T00:00:00.0001Z "$green"); echo "$out" | grep -q "1 updated" || fail "sub-ms later: $out"
out=$(v 2024-04-01T00:00:00.000Z '{"object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"], "revoked": true}')
echo "$out" | grep -q "1 updated" || fail "revocation: $out"
xrevoked() { [ "$(count_where "$C" ".id==\"$X\" and .revoked and .modified==\"2024-04-01T00:00:00.000Z\"")" = 1 ]; }
wait_for 10 "X revoked at c" xrevoked
out=$(v 2024-05-01T00:00:00.000Z "$green"); echo "$out" | grep -q "ignored: the version held is revoked" || fail "after revocation: $out"
"$MOUX" export -d "$A" --stix | jq -e --arg id $X '.objects[] | select(.id==$id) | .revoked == true and .modified == "2024-04-01T00:00:00.000Z"' >/dev/null ||
    fail "export of the revoked version"
"$MOUX" export -d "$A" --stix --out "$WORK/a2.json"
"$MOUX" export -d "$C" --stix --out "$WORK/c2.json"
validate "$WORK/a2.json" "$WORK/c2.json" >/dev/null || fail "final exports do not validate"
note "versions, revocation and two-source conflicts as specified; exports valid"
