#!/usr/bin/env bash
# The MOU engine end to end, with real daemons: a three-agency cluster
# (vn.ais, us.cisa, vn.ncsc) on loopback.
#   1. activation is refused, with the reason, for an MOU with one
#      signature, a forged or edited signature, a byte changed after
#      signing, an expired MOU and one not yet effective;
#   2. two nodes holding different (validly signed) MOUs exchange nothing
#      (mou-mismatch) until both hold the same one;
#   3. a root-signed termination at one node reaches the other, and nothing
#      flows either way afterwards;
#   4. an MOU that expires while the nodes run stops the flow (checked
#      around part 5, while its clock runs out);
#   5. a partner that ignores the agreement (mouxhostile, impersonating a
#      stopped vn.ncsc) is refused item by item with the MOU's reasons, and
#      a batch under another MOU hash is refused whole;
#   6. retention: items received under an MOU with retention-days 30 are
#      purged as of 31 days from now, exactly those.
source "$(dirname "$0")/lib.sh"

HOSTILE=$MOUX_BIN/mouxhostile
[ -x "$HOSTILE" ] || fail "$HOSTILE is not built"
command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"

"$CLUSTER" up "$WORK" vn.ais us.cisa vn.ncsc >/dev/null
A=$WORK/vn.ais B=$WORK/us.cisa C=$WORK/vn.ncsc
T=$WORK/t
mkdir -p "$T"
MESH_AB=$WORK/mou/vn.ais--us.cisa.mou MESH_AC=$WORK/mou/vn.ais--vn.ncsc.mou
note "cluster up: vn.ais, us.cisa, vn.ncsc, each pair under its generated mesh MOU"

# ---- helpers -------------------------------------------------------------

# Checks that are not needed by later parts record their failure here and
# the test fails at the end, so that one wrong message does not hide the
# rest.
late_fail=()

# derive SRC ID [EFFECTIVE [EXPIRES]]: the header of the mesh MOU SRC (its
# parties and root fingerprints) with a new id and, if given, new dates.
derive_header() {
    local src=$1 id=$2 eff=${3:-} exp=${4:-}
    sed -n '1,/^$/p' "$src" | sed -e '/^$/d' -e "s/^id: .*/id: $id/" \
        ${eff:+-e "s/^effective: .*/effective: $eff/"} ${exp:+-e "s/^expires: .*/expires: $exp/"}
}
# derive SRC ID [EFFECTIVE [EXPIRES]]: the whole mesh MOU with that header.
derive() {
    derive_header "$@"
    sed -n '/^$/,$p' "$1"
}
# section NAME [KEY: VALUE]...: a direction section; the mesh values
# (everything up to AMBER, 365 days) for the keys not given.
section() {
    local name=$1 k line; shift
    printf '\n[%s]\n' "$name"
    for k in types max-tlp onward anonymise retention-days min-confidence purposes daily-limit \
             receipts; do
        line=
        for kv in "$@"; do [ "${kv%%: *}" = "$k" ] && line=$kv; done
        if [ -z "$line" ]; then
            case $k in
            types) line="types: all" ;; max-tlp) line="max-tlp: amber" ;;
            onward) line="onward: none" ;; anonymise) line="anonymise: no" ;;
            retention-days) line="retention-days: 365" ;; min-confidence) line="min-confidence: 0" ;;
            receipts) line="receipts: required" ;;
            esac
        fi
        [ -z "$line" ] || echo "$line"
    done
}
sign_as() { "$MOUX" mou sign "$1" --root "$WORK/$2.root" --force >/dev/null 2>&1 || fail "$2 cannot sign $1"; }
mou_hash() { "$MOUX" mou hash "$1"; }

# refused_activation FILE EXPECTED: `moux mou activate -d vn.ais FILE` fails
# (exit 1) with exactly EXPECTED on stderr, and changes nothing.
refused_activation() {
    local file=$1 want=$2 err rc=0; shift 2
    err=$("$MOUX" mou activate -d "$A" "$file" "$@" 2>&1 >/dev/null) || rc=$?
    [ $rc -eq 1 ] || fail "activating $file: exit $rc, not 1 ($err)"
    [ "$err" = "$want" ] || fail "activating $file: wrong reason
  got:  $err
  want: $want"
}

# status_of DIR PEER: that partner's entry in `moux status --json`.
status_of() { "$MOUX" status -d "$1" --json | jq -c --arg p "$2" '.partners[] | select(.agency == $p)'; }
blocked_is() { [ "$(status_of "$1" "$2" | jq -r '.mou.blocked // "null"')" = "$3" ]; }
outbox_of() { status_of "$1" "$2" | jq .outbox; }
has_value() { [ "$(count_where "$1" ".value == \"$2\"")" -eq 1 ]; }
# never_arrives SECONDS DIR VALUE...: none of the values shows up at DIR
# within SECONDS (a bounded watch for something that must not happen).
never_arrives() {
    local secs=$1 dir=$2 v end; shift 2
    end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
    while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
        for v in "$@"; do has_value "$dir" "$v" && fail "$v reached $(basename "$dir")"; done
        sleep 0.2
    done
}
publish() { "$MOUX" publish -d "$1" --type ipv4-addr --value "$2" --tlp green >/dev/null; }
event_count() { # DIR KIND PARTNER [REASON [DETAIL]]
    sqlite3 "$1/store.db" "select count(*) from event where kind = '$2' and partner = '$3'
        ${4:+and reason = '$4'} ${5:+and detail = '$5'}"
}
# kept_or_recorded DIR PEER VALUE REASON: an item published at DIR that may
# not go to PEER is either still queued for it or recorded as refused
# (outbound-refused, REASON): never dropped silently.
kept_or_recorded() {
    local n
    n=$(sqlite3 "$1/store.db" "select (select count(*) from outbox o join indicator i on i.rid = o.rid
            join partner p on p.pid = o.pid where i.value = '$3' and p.agency = '$2')
        + (select count(*) from event e join indicator i on i.id = e.indicator_id
            where e.kind = 'outbound-refused' and e.partner = '$2' and i.value = '$3'
            and e.reason = '$4')")
    [ "$n" -ge 1 ] || fail "$(basename "$1"): $3 for $2 neither queued nor recorded as refused ($4)"
}
fmt_ms() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000Z; }

# ---- 1. activation refused -------------------------------------------------

# Each candidate is the mesh MOU of vn.ais and us.cisa under a new id, so it
# would replace the mesh MOU if it were (wrongly) activated.
mkmou() { derive "$MESH_AB" "vn.ais--us.cisa-$1" "${@:2}" > "$T/$1.mou"; echo "$T/$1.mou"; }
nact="is not activated"

f=$(mkmou one-sig); sign_as "$f" vn.ais
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-one-sig $nact: party-b us.cisa: no signature file — $f.us.cisa.sig"
# The same, naming only vn.ais's signature file with --sig.
only=$T/only-ais.sig; cp "$f.vn.ais.sig" "$only"
err=$("$MOUX" mou activate -d "$A" "$f" --sig "$only" 2>&1 >/dev/null) && fail "activated with one --sig"
[[ $err == "moux: $f: MOU vn.ais--us.cisa-one-sig $nact: party-b us.cisa: no signature"* ]] ||
    late_fail+=("activate --sig with only party-a's file: reason for party-b missing: \"$err\"")

# A sig line edited: one base64 symbol of us.cisa's signature changed.
f=$(mkmou edited-sig); sign_as "$f" vn.ais; sign_as "$f" us.cisa
awk '{ s = $5; c = substr(s, 11, 1) == "A" ? "B" : "A"; $5 = substr(s, 1, 10) c substr(s, 12); print }' \
    "$f.us.cisa.sig" > "$T/x" && mv "$T/x" "$f.us.cisa.sig"
does_not_verify="the signature does not verify: the MOU was changed after us.cisa signed it, or the signature is of another MOU"
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-edited-sig $nact: party-b us.cisa: $does_not_verify — $f.us.cisa.sig"

# us.cisa's genuine signature, but of another MOU (the mesh one).
f=$(mkmou other-sig); sign_as "$f" vn.ais; cp "$MESH_AB.us.cisa.sig" "$f.us.cisa.sig"
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-other-sig $nact: party-b us.cisa: $does_not_verify — $f.us.cisa.sig"

# A third root X: an MOU naming X's fingerprint for us.cisa and signed by X
# verifies on its own, but X is not the root vn.ais pinned for us.cisa.
"$MOUX" keys root-gen --out "$T/x.root" --no-passphrase >/dev/null 2>&1 || fail "root-gen"
xfp=$("$MOUX" keys root-pub "$T/x.root" --json | jq -r .fingerprint)
xpub=$("$MOUX" keys root-pub "$T/x.root" --json | jq -r .public)
cfp=$(sed -nE 's/^party-b: us\.cisa root-fingerprint //p' "$MESH_AB")
f=$T/forged.mou
derive "$MESH_AB" vn.ais--us.cisa-forged | sed -E "s/^(party-b: us\.cisa root-fingerprint ).*/\1$xfp/" > "$f"
sign_as "$f" vn.ais
"$MOUX" mou sign "$f" --root "$T/x.root" --force >/dev/null 2>&1 || fail "X cannot sign the forged MOU"
"$MOUX" mou verify "$f" >/dev/null || fail "the forged MOU's signatures do not even verify on their own"
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-forged $nact: party-b us.cisa: us.cisa's root in this MOU (fingerprint $xfp) is not the root this node has pinned for us.cisa (fingerprint $cfp) — $f.us.cisa.sig"
# A sig line for us.cisa carrying X's public key instead of us.cisa's.
f=$(mkmou swapped-key); sign_as "$f" vn.ais; sign_as "$f" us.cisa
awk -v k="$xpub" '{ $4 = k; print }' "$f.us.cisa.sig" > "$T/x" && mv "$T/x" "$f.us.cisa.sig"
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-swapped-key $nact: party-b us.cisa: signed by a root with fingerprint $xfp, but the MOU states $cfp for party-b us.cisa — $f.us.cisa.sig"

# One byte changed after both signed (min-confidence 0 -> 1, same length).
f=$(mkmou changed); sign_as "$f" vn.ais; sign_as "$f" us.cisa
sed -i '0,/^min-confidence: 0$/s//min-confidence: 1/' "$f"
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-changed $nact: party-a vn.ais: the signature does not verify: the MOU was changed after vn.ais signed it, or the signature is of another MOU — $f.vn.ais.sig"

# Validly signed by both, but outside the validity window.
f=$(mkmou expired 2025-01-01 2025-06-30T12:00:00Z); sign_as "$f" vn.ais; sign_as "$f" us.cisa
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-expired $nact: it is expired (expires 2025-06-30T12:00:00.000Z)"
eff=$(date -u -d '+30 days' +%F)
f=$(mkmou not-yet "$eff"); sign_as "$f" vn.ais; sign_as "$f" us.cisa
refused_activation "$f" "moux: $f: MOU vn.ais--us.cisa-not-yet $nact: it is not yet effective (effective ${eff}T00:00:00.000Z)"

[ "$("$MOUX" mou list -d "$A" --json | jq -r 'select(.state == "active") | .id' | sort | paste -sd' ')" \
    = "vn.ais--us.cisa-cluster vn.ais--vn.ncsc-cluster" ] || fail "a refused activation changed vn.ais's MOUs"
[ "$(sqlite3 "$A/store.db" "select count(*) from event where kind = 'mou-activated'")" -eq 2 ] ||
    fail "refused activations were recorded as activations"
note "1. activation refused with the reason: one signature, an edited signature, another MOU's signature," \
    "a third root (named in the MOU, or swapped into the sig line), a byte changed after signing," \
    "expired, not yet effective; the mesh MOUs stay active"

# ---- 2. mismatch -----------------------------------------------------------

mm1=$(mkmou mm1) mm2=$(mkmou mm2)
for f in "$mm1" "$mm2"; do sign_as "$f" vn.ais; sign_as "$f" us.cisa; done
"$MOUX" mou activate -d "$A" "$mm1" >/dev/null || fail "vn.ais cannot activate mm1"
"$MOUX" mou activate -d "$B" "$mm2" >/dev/null || fail "us.cisa cannot activate mm2"
h1=$(mou_hash "$mm1" | cut -c1-16) h2=$(mou_hash "$mm2" | cut -c1-16)
want_a="mou-mismatch: we hold MOU vn.ais--us.cisa-mm1 (hash $h1...), the partner another (hash $h2...)"
# shellcheck disable=SC2034 # read by the wait_for condition below
want_b="mou-mismatch: we hold MOU vn.ais--us.cisa-mm2 (hash $h2...), the partner another (hash $h1...)"
wait_for 10 "vn.ais's status to report the mismatch" 'blocked_is "$A" us.cisa "$want_a"'
wait_for 10 "us.cisa's status to report the mismatch" 'blocked_is "$B" vn.ais "$want_b"'
publish "$A" 198.51.100.21
publish "$B" 198.51.100.22
never_arrives 2 "$B" 198.51.100.21
never_arrives 1 "$A" 198.51.100.22
[ "$(outbox_of "$A" us.cisa)" -ge 1 ] || fail "mismatch: vn.ais dropped the held item from its outbox"
blocked_is "$A" us.cisa "$want_a" || fail "vn.ais: blocked changed to: $(status_of "$A" us.cisa)"
"$MOUX" mou activate -d "$B" "$mm1" >/dev/null || fail "us.cisa cannot activate mm1"
wait_for 15 "vn.ais's held item to reach us.cisa" 'has_value "$B" 198.51.100.21'
wait_for 15 "us.cisa's held item to reach vn.ais" 'has_value "$A" 198.51.100.22'
wait_for 5 "vn.ais: nothing blocked" 'blocked_is "$A" us.cisa null'
wait_for 5 "us.cisa: nothing blocked" 'blocked_is "$B" vn.ais null'
note "2. vn.ais under mm1, us.cisa under mm2: status \"$want_a\"; nothing flowed either way;" \
    "once both held mm1 the held items went"

# ---- 3. termination ----------------------------------------------------------

mm1_id=vn.ais--us.cisa-mm1 why="test: vn.ais ends mm1"
out=$("$MOUX" mou terminate -d "$A" "$mm1_id" --root "$WORK/vn.ais.root" --reason "$why" 2>&1) ||
    fail "terminate at vn.ais: $out"
terminated() {
    "$MOUX" mou list -d "$1" --json | jq -se --arg id "$mm1_id" --arg why "$why" 'map(select(.id == $id))
        | length == 1 and (.[0] | .state == "terminated" and .terminated_by == "vn.ais" and .reason == $why)' >/dev/null
}
terminated "$A" || fail "vn.ais does not list mm1 as terminated by itself"
wait_for 10 "us.cisa to record vn.ais's termination" 'terminated "$B"'
[ "$(event_count "$B" mou-terminated vn.ais "$why" "$mm1_id")" -eq 1 ] ||
    fail "us.cisa: no mou-terminated event for mm1"
want="no MOU with this partner: MOU $mm1_id terminated by vn.ais: $why"
wait_for 5 "vn.ais's status: terminated" 'blocked_is "$A" us.cisa "$want"'
wait_for 5 "us.cisa's status: terminated" 'blocked_is "$B" vn.ais "$want"'
err=$("$MOUX" mou terminate -d "$B" "$mm1_id" --root "$WORK/us.cisa.root" 2>&1) &&
    fail "us.cisa terminated an MOU that is already terminated"
[ "$err" = "moux: $B: MOU $mm1_id is terminated, not active: nothing to terminate" ] ||
    fail "second termination: wrong reason: $err"
publish "$A" 198.51.100.31
publish "$B" 198.51.100.32
never_arrives 2 "$B" 198.51.100.31
never_arrives 1 "$A" 198.51.100.32
kept_or_recorded "$A" us.cisa 198.51.100.31 no-mou
kept_or_recorded "$B" vn.ais 198.51.100.32 no-mou
note "3. vn.ais terminated mm1; us.cisa lists it terminated by vn.ais; nothing flows either way;" \
    "status: \"$want\""

# ---- 4a. an MOU about to expire: it flows while in force ------------------

exp_s=$(( $(date +%s) + 20 ))
exp_mou=$T/exp.mou exp_id=vn.ais--us.cisa-exp
derive "$MESH_AB" "$exp_id" "$(date -u -d yesterday +%F)" "$(date -u -d "@$exp_s" +%FT%TZ)" > "$exp_mou"
"$CLUSTER" mou "$WORK" "$exp_mou" >/dev/null || fail "the expiring MOU was not activated"
publish "$A" 198.51.100.41
wait_for 10 "198.51.100.41 to reach us.cisa under the expiring MOU" 'has_value "$B" 198.51.100.41'
[ "$(date +%s)" -lt $exp_s ] || fail "the setup took too long: the MOU expired before the check"
[ "$(status_of "$A" us.cisa | jq .mou.days_to_expiry)" -eq 0 ] || fail "days_to_expiry is not 0"
note "4a. MOU $exp_id (expires $(fmt_ms $exp_s)) activated: 198.51.100.41 flowed while in force"

# ---- 5. a partner ignoring the agreement ----------------------------------

"$CLUSTER" stop "$WORK" vn.ncsc
# Every MOU of vn.ais and vn.ncsc below: party-a vn.ais, party-b vn.ncsc, so
# [b-to-a] is what vn.ncsc may send vn.ais.
strict=$T/strict.mou
{ derive_header "$MESH_AC" vn.ais--vn.ncsc-strict; section a-to-b
  section b-to-a "types: ipv4-addr" "max-tlp: green" "anonymise: yes" "min-confidence: 60" \
      "purposes: network-defense"; } > "$strict"
limited=$T/limited.mou
{ derive_header "$MESH_AC" vn.ais--vn.ncsc-limited; section a-to-b; section b-to-a "daily-limit: 2"; } > "$limited"
oneway=$T/oneway.mou
{ derive_header "$MESH_AC" vn.ais--vn.ncsc-oneway; section a-to-b; } > "$oneway"
for f in "$strict" "$limited" "$oneway"; do "$MOUX" mou check "$f" >/dev/null || fail "$f: $("$MOUX" mou check "$f" 2>&1)"; done

ATTACKER=$C # the node directory mouxhostile impersonates (its daemon stopped)
attack() {
    "$HOSTILE" --as "$ATTACKER" --to "$A" --timeout-ms 10000 "$@" valid 2>>"$WORK/hostile.log" ||
        fail "mouxhostile did not run (see hostile.log)"
}
stored_id() { "$MOUX" query -d "$A" --json | jq -r --arg id "$1" 'select(.id == $id) | .id' | wc -l; }
item_events() {
    sqlite3 "$A/store.db" "select count(*) from event where kind = 'item-refused'
        and partner = 'vn.ncsc' and indicator_id = '$1' and reason = '$2'"
}
# item VERDICT WHAT [OPTIONS...]: one item; VERDICT "accepted", "duplicate" or
# the reason. ITEM_ID is then the item's id.
item() {
    local verdict=$1 what=$2 out id; shift 2
    out=$(attack "$@")
    id=$(jq -r .item.id <<<"$out")
    ITEM_ID=$id
    if [ "$verdict" = accepted ] || [ "$verdict" = duplicate ]; then
        jq -e --arg s "$verdict" '.verified and .status == "ok" and .results[0].status == $s' \
            <<<"$out" >/dev/null || fail "$what: not $verdict: $out"
        [ "$(stored_id "$id")" -eq 1 ] || fail "$what: $verdict but not stored"
    else
        jq -e --arg r "$verdict" '.verified and .status == "ok" and (.results | length) == 1
            and .results[0].status == "rejected" and .results[0].reason == $r' <<<"$out" >/dev/null ||
            fail "$what: not rejected \"$verdict\": $out"
        [ "$(stored_id "$id")" -eq 0 ] || fail "$what: rejected \"$verdict\" but stored"
        wait_for 5 "the $verdict event for $what" '[ "$(item_events "$id" "$verdict")" -eq 1 ]'
    fi
}
# batch_refused REASON WHAT [OPTIONS...]: the whole batch refused.
batch_refused() {
    local reason=$1 what=$2 out id before; shift 2
    local as; as=$(basename "$ATTACKER")
    before=$(event_count "$A" batch-refused "$as" "$reason")
    out=$(attack "$@")
    jq -e --arg r "$reason" '.verified and .status == "refused" and .reason == $r' <<<"$out" >/dev/null ||
        fail "$what: batch not refused \"$reason\": $out"
    id=$(jq -r .item.id <<<"$out")
    [ "$(stored_id "$id")" -eq 0 ] || fail "$what: item of a refused batch stored"
    wait_for 5 "the batch-refused $reason event for $what" \
        '[ "$(event_count "$A" batch-refused "$as" "$reason")" -eq $((before + 1)) ]'
}
# Conforming to the strict direction unless an option says otherwise.
ok=(--type ipv4-addr --tlp green --confidence 80 --labels network-defense --origin "")

"$CLUSTER" mou "$WORK" "$strict" >/dev/null || fail "the strict MOU was not activated"
item accepted "a conforming item" "${ok[@]}" --value 192.0.2.1
item type-not-allowed "a domain-name" "${ok[@]}" --type domain-name --value strict.example
item tlp-not-allowed "an AMBER item" "${ok[@]}" --value 192.0.2.2 --tlp amber
item confidence-too-low "confidence 59" "${ok[@]}" --value 192.0.2.3 --confidence 59
item accepted "confidence 60" "${ok[@]}" --value 192.0.2.4 --confidence 60
item purpose-missing "another purpose" "${ok[@]}" --value 192.0.2.5 --labels incident-response
item purpose-missing "no label" --type ipv4-addr --tlp green --confidence 80 --origin "" --value 192.0.2.6
item not-anonymised "an item naming its origin" "${ok[@]}" --value 192.0.2.7 --origin vn.ncsc
batch_refused mou-mismatch "a batch naming no MOU" "${ok[@]}" --value 192.0.2.8 --mou-hash none
batch_refused mou-mismatch "a batch naming another MOU" "${ok[@]}" --value 192.0.2.9 \
    --mou-hash "$(mou_hash "$limited")"
counts=$("$MOUX" mou show -d "$A" vn.ais--vn.ncsc-strict --json | jq -c '.counts.in')
jq -e '.allowed == 2 and ."type-not-allowed" == 1 and ."tlp-not-allowed" == 1
    and ."confidence-too-low" == 1 and ."purpose-missing" == 2 and ."not-anonymised" == 1' \
    <<<"$counts" >/dev/null || late_fail+=("strict MOU: decision counts at vn.ais are $counts")
note "5. strict MOU (ipv4-addr, GREEN, confidence >= 60, purpose network-defense, anonymised):" \
    "rejected type-not-allowed, tlp-not-allowed, confidence-too-low, purpose-missing (x2)," \
    "not-anonymised; conforming items (confidence 80, 60) stored; batches naming no MOU or another" \
    "refused whole (mou-mismatch); counts $counts"

# The daily limit counts per UTC day: keep the four items on one day.
left=$(( 86400 - $(date -u +%s) % 86400 ))
[ $left -gt 30 ] || { note "waiting ${left}s for 00:00Z"; sleep $((left + 1)); }
"$CLUSTER" mou "$WORK" "$limited" >/dev/null || fail "the limited MOU was not activated"
item loop "hops naming vn.ais" --value 192.0.2.11 --origin us.cisa --hops us.cisa,vn.ais
item loop "vn.ais as origin" --value 192.0.2.12 --origin vn.ais --hops vn.ais
item origin-mismatch "a third agency's origin without hops" --value 192.0.2.13 --origin us.cisa
item accepted "daily item 1" --value 192.0.2.14
daily1=$ITEM_ID
daily1_ms=$(sqlite3 "$A/store.db" "select modified_ms from indicator where id = '$daily1'")
item accepted "daily item 2 (relayed from us.cisa)" --value 192.0.2.15 --origin us.cisa --hops us.cisa
item daily-limit "daily item 3" --value 192.0.2.16
item daily-limit "daily item 4" --value 192.0.2.17 --confidence 100
# Sent again (as after a lost receipt), a version vn.ais holds is still a
# duplicate once the limit is reached; a newer version of it counts, and waits.
item duplicate "daily item 1 sent again" --value 192.0.2.14 --id "$daily1" --modified-ms "$daily1_ms"
out=$(attack --value 192.0.2.14 --confidence 90 --id "$daily1" --modified-ms $((daily1_ms + 1)))
jq -e '.verified and .status == "ok" and .results[0].status == "rejected"
    and .results[0].reason == "daily-limit"' <<<"$out" >/dev/null ||
    fail "a newer version of daily item 1: not rejected daily-limit: $out"
[ "$(sqlite3 "$A/store.db" "select modified_ms from indicator where id = '$daily1'")" = "$daily1_ms" ] ||
    fail "daily item 1: the version refused daily-limit replaced the held one"
wait_for 5 "the daily-limit event for daily item 1's newer version" \
    '[ "$(item_events "$daily1" daily-limit)" -eq 1 ]'
note "5. limited MOU (daily-limit 2): loop (vn.ais in hops, vn.ais as origin), origin-mismatch" \
    "(us.cisa as origin, no hops); two items accepted, the third and fourth refused daily-limit;" \
    "item 1 sent again answered duplicate, a newer version of it refused daily-limit"

"$CLUSTER" mou "$WORK" "$oneway" >/dev/null || fail "the one-way MOU was not activated"
item direction-not-agreed "vn.ncsc to vn.ais under a one-way MOU" --value 192.0.2.21
batch_refused mou-mismatch "a batch under the superseded limited MOU" --value 192.0.2.22 \
    --mou-hash "$(mou_hash "$limited")"
"$MOUX" mou terminate -d "$A" vn.ais--vn.ncsc-oneway --root "$WORK/vn.ais.root" \
    --reason "test: vn.ais ends oneway" >/dev/null || fail "vn.ais cannot terminate the one-way MOU"
batch_refused no-mou "a batch under the MOU vn.ais terminated" --value 192.0.2.23
note "5. one-way MOU (vn.ais to vn.ncsc only): an item from vn.ncsc rejected direction-not-agreed;" \
    "a batch still naming the superseded MOU refused mou-mismatch; once vn.ais terminated it" \
    "(vn.ncsc stopped, never told), a batch under it refused no-mou"
kill -0 "$(cat "$A/mouxd.pid")" 2>/dev/null || fail "vn.ais died under the hostile partner"

# ---- 4b. the MOU expired while both ran -----------------------------------

exp_text=$(fmt_ms $exp_s)
wait_for 30 "the MOU's expiry" '[ "$(date +%s)" -ge $exp_s ]'
want="MOU $exp_id is expired (expires $exp_text)"
wait_for 5 "vn.ais's status: expired" 'blocked_is "$A" us.cisa "$want"'
wait_for 5 "us.cisa's status: expired" 'blocked_is "$B" vn.ais "$want"'
wait_for 10 "a mou-expired event at vn.ais" '[ "$(event_count "$A" mou-expired us.cisa "" "$exp_id")" -ge 1 ]'
wait_for 10 "a mou-expired event at us.cisa" '[ "$(event_count "$B" mou-expired vn.ais "" "$exp_id")" -ge 1 ]'
publish "$A" 198.51.100.42
publish "$B" 198.51.100.43
never_arrives 2 "$B" 198.51.100.42
never_arrives 1 "$A" 198.51.100.43
kept_or_recorded "$A" us.cisa 198.51.100.42 mou-not-in-force
kept_or_recorded "$B" vn.ais 198.51.100.43 mou-not-in-force
# us.cisa ignoring the expiry: a batch under the expired MOU is refused.
"$CLUSTER" stop "$WORK" us.cisa
ATTACKER=$B
batch_refused mou-not-in-force "a batch under the expired MOU" --value 198.51.100.44
ATTACKER=$C # us.cisa starts again with vn.ncsc (part 6): a node waits for all its links
note "4b. after $exp_text nothing flows; status: \"$want\"; mou-expired recorded at both nodes;" \
    "a batch us.cisa (impersonated) sent under it anyway refused mou-not-in-force"

# ---- 6. retention ------------------------------------------------------------

ret=$T/retention.mou ret_id=vn.ais--vn.ncsc-retention
{ derive_header "$MESH_AC" "$ret_id"; section a-to-b; section b-to-a "retention-days: 30"; } > "$ret"
"$CLUSTER" mou "$WORK" "$ret" >/dev/null || fail "the retention MOU was not activated"
"$CLUSTER" start "$WORK" us.cisa & starting=$!
"$CLUSTER" start "$WORK" vn.ncsc
wait $starting || fail "us.cisa did not start again"
for v in 203.0.113.61 203.0.113.62 203.0.113.63; do publish "$C" $v; done
publish "$A" 203.0.113.71
from_ncsc() { [ "$(count_where "$A" '.from == "vn.ncsc" and (.value | startswith("203.0.113.6"))')" -eq 3 ]; }
wait_for 15 "vn.ncsc's three items to reach vn.ais" from_ncsc
ids() { "$MOUX" query -d "$1" --json | jq -r .id | sort; }
ret_ids=$("$MOUX" query -d "$A" --json | jq -r 'select(.from == "vn.ncsc" and (.value | startswith("203.0.113.6"))) | .id' | sort)
# What vn.ais and us.cisa queued for vn.ncsc while it was stopped goes now.
wait_for 15 "vn.ais's outbox for vn.ncsc to drain" '[ "$(outbox_of "$A" vn.ncsc)" -eq 0 ]'
wait_for 15 "us.cisa's outbox for vn.ncsc to drain" '[ "$(outbox_of "$B" vn.ncsc)" -eq 0 ]'
before=$(ids "$A")
c_before=$(ids "$C")
out=$("$MOUX" mou purge -d "$A" --at +29d) || fail "purge +29d: $out"
[ "$out" = "0 item(s) held past their MOU's retention purged" ] || fail "purge +29d: $out"
[ "$(ids "$A")" = "$before" ] || fail "purge as of +29d deleted items"
# in_batches DIR VALUE: how many stored batches (table inbound) still hold VALUE.
in_batches() { sqlite3 "$1/store.db" "select count(*) from inbound where instr(payload, cast('$2' as blob)) > 0"; }
[ "$(in_batches "$A" 203.0.113.61)" -ge 1 ] || fail "vn.ais's stored batches do not hold 203.0.113.61"
out=$("$MOUX" mou purge -d "$A" --at +31d) || fail "purge +31d: $out"
[ "$out" = "3 item(s) held past their MOU's retention purged" ] || fail "purge +31d: $out"
for v in 203.0.113.61 203.0.113.62 203.0.113.63; do
    [ "$(in_batches "$A" $v)" = 0 ] || fail "purge +31d left $v in a stored batch"
done
# Nor anywhere in the store's files: the pages the purge freed are zeroed,
# and the WAL, which held copies of the pages as they were, is emptied.
for f in store.db store.db-wal; do
    [ ! -e "$A/$f" ] || ! grep -qa '203\.0\.113\.6[123]' "$A/$f" ||
        fail "purge +31d left a purged value in $f"
done
[ "$(sqlite3 "$A/store.db" "select count(*) from inbound where length(payload) > 0")" -ge 1 ] ||
    fail "purge +31d emptied batches received under other MOUs"
[ "$(ids "$A")" = "$(comm -23 <(echo "$before") <(echo "$ret_ids"))" ] ||
    fail "purge +31d did not delete exactly the three items received under $ret_id"
for v in 203.0.113.71 198.51.100.21 198.51.100.22 192.0.2.1; do
    has_value "$A" $v || fail "purge +31d deleted $v"
done
[ "$(sqlite3 "$A/store.db" "select id from purged order by id")" = "$ret_ids" ] ||
    fail "the purged table does not list exactly the purged items"
[ "$(sqlite3 "$A/store.db" "select distinct mou_id || ' ' || from_agency from purged")" = "$ret_id vn.ncsc" ] ||
    fail "the purged table names the wrong MOU or partner"
! sqlite3 "$A/store.db" ".dump purged" | grep -q '203\.0\.113\.6' || fail "the purged table keeps the values"
[ "$(event_count "$A" retention-purge vn.ncsc retention-days "mou=$ret_id retention-days=30 purged=3")" -eq 1 ] ||
    fail "no retention-purge event naming $ret_id: $(sqlite3 "$A/store.db" "select * from event where kind = 'retention-purge'")"
out=$("$MOUX" mou purge -d "$C" --at +31d) || fail "purge at vn.ncsc: $out"
[ "$out" = "0 item(s) held past their MOU's retention purged" ] || fail "vn.ncsc purged: $out"
[ "$(ids "$C")" = "$c_before" ] || fail "vn.ncsc's purge deleted items"
note "6. retention-days 30: purge as of +29d deleted nothing; as of +31d exactly vn.ncsc's three items" \
    "(ids in table purged, no values; their batches' payloads emptied; event retention-purge" \
    "mou=$ret_id); local and longer-kept items stay"

# ---- late checks -------------------------------------------------------------

# An expiry is recorded once: vn.ais ran on throughout; after the expiry it
# only reloaded its partners when the retention MOU with vn.ncsc (part 6)
# was activated.
k=$(event_count "$A" mou-expired us.cisa "" "$exp_id")
[ "$k" -eq 1 ] || late_fail+=("vn.ais: $k mou-expired events for $exp_id, not 1 (one per partner reload)")

if [ ${#late_fail[@]} -gt 0 ]; then
    for m in "${late_fail[@]}"; do echo "FAIL $TEST_NAME: $m" >&2; done
    exit 1
fi
note "PASS"
